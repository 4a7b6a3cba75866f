package dnc

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/sequencer-dev/sequencer/specs"
	"github.com/sequencer-dev/sequencer/store"
)

// legacyWalkPromote and legacyWalkPublish are promote and publish as they
// were before the due heap and the tallies: each call walks every entry.
// They are kept here only as the baseline of BenchmarkPromotePublish.
func legacyWalkPromote(l *Lists, now time.Time) (next time.Time) {
	for k, e := range l.entries {
		if e.State != store.DNCPending || e.Removed != nil || l.inFlight[k] || l.queued[k] {
			continue
		}
		if e.NextTry.After(now) {
			if next.IsZero() || e.NextTry.Before(next) {
				next = e.NextTry
			}
			continue
		}
		l.enqueue(k)
	}
	return next
}

func legacyWalkPublish(l *Lists) {
	by := map[string]*ListStatus{}
	for _, name := range sortedKeys(l.lists) {
		dl := l.lists[name]
		by[name] = &ListStatus{Name: name, Target: dl.TargetAppDBID}
	}
	removedFrom := map[string]int{}
	for _, e := range l.entries {
		if e.Removed != nil {
			removedFrom[e.List]++
			continue
		}
		st := by[e.List]
		if st == nil {
			continue
		}
		st.Entries++
		switch {
		case e.State == store.DNCProcessed:
			st.Processed++
		case e.State == store.DNCFailed:
			st.Failed++
			st.Problems = append(st.Problems, fmt.Sprintf("%s: %s %v", label(e), e.LastError, e.Outcomes))
		default:
			st.Pending++
			if e.LastError != "" {
				st.Problems = append(st.Problems, fmt.Sprintf("%s: retrying after %d attempts: %s", label(e), e.Attempts, e.LastError))
			}
		}
	}
	out := make([]ListStatus, 0, len(by)+len(removedFrom))
	for _, name := range sortedKeys(l.lists) {
		st := by[name]
		sort.Strings(st.Problems)
		if len(st.Problems) > 10 {
			st.Problems = append(st.Problems[:10], fmt.Sprintf("… and %d more", len(st.Problems)-10))
		}
		if n := removedFrom[name]; n > 0 {
			st.Removed = n
		}
		out = append(out, *st)
	}
	for _, name := range sortedKeys(removedFrom) {
		if by[name] == nil {
			out = append(out, ListStatus{Name: name, Removed: removedFrom[name]})
		}
	}
	for i := range out {
		if out[i].Removed > 0 {
			out[i].Note = fmt.Sprintf("%d entries removed from the spec are still on OCS's Do-Not-Call tables: the CommDN API cannot undo a Do-Not-Call; remove them in OCS's gsw_donotcall_list", out[i].Removed)
		}
	}
	l.published.Store(&out)
}

// listsOf returns Lists holding n entries of one list, all processed but
// the last pending few, as after a day of work; nothing runs.
func listsOf(tb testing.TB, n int) (*Lists, []string) {
	l := NewLists(Config{})
	dl := &specs.DoNotCallList{Name: "big", TargetAppDBID: 120, Entries: make([]specs.DNCEntry, n)}
	for i := range dl.Entries {
		dl.Entries[i].Phone = fmt.Sprintf("+1666%07d", i)
	}
	now := time.Now()
	l.apply(specs.Snapshot{DNCLists: map[string]*specs.DoNotCallList{"big": dl}}, now)
	keys := slices.Clone(l.ready)
	for _, k := range keys[:n-100] {
		l.settle(result{key: k, outcomes: []Outcome{{OCS: 120, OK: true}}}, now)
	}
	// The last 100 stay queued, as if waiting for a worker.
	l.ready = slices.Clone(keys[n-100:])
	for _, k := range keys[:n-100] {
		delete(l.queued, k)
	}
	clear(l.dirty)
	return l, keys
}

// BenchmarkPromotePublish is one turn of the lists' loop after an answer
// in a list of 100,000 entries: settle one entry (every other turn an
// unanswered one, whose retry goes on the heap, then the same entry
// answered), promote, publish. "incremental" is the code the daemon runs;
// "legacy-walk-baseline" is the same turn with the former promote and
// publish, which walked all 100,000 entries each.
func BenchmarkPromotePublish(b *testing.B) {
	for _, tc := range []struct {
		name             string
		promote, publish func(l *Lists, now time.Time)
	}{
		{"incremental", func(l *Lists, now time.Time) { l.promote(now) }, func(l *Lists, _ time.Time) { l.publish() }},
		{"legacy-walk-baseline", func(l *Lists, now time.Time) { legacyWalkPromote(l, now) }, func(l *Lists, _ time.Time) { legacyWalkPublish(l) }},
	} {
		b.Run(tc.name+"/entries-100k", func(b *testing.B) {
			l, keys := listsOf(b, 100_000)
			now := time.Now()
			i := 0
			for b.Loop() {
				k := keys[i%1000]
				r := result{key: k, outcomes: []Outcome{{OCS: 120, OK: true}}}
				if i%2 == 0 {
					r = result{key: k, err: errors.New("timeout")}
				} else {
					k = keys[(i-1)%1000]
					r.key = k
				}
				l.inFlight[r.key] = true
				l.settle(r, now)
				tc.promote(l, now)
				tc.publish(l, now)
				i++
			}
			if st := l.Status(); len(st) != 1 || st[0].Entries != 100_000 {
				b.Fatalf("status: %+v", st)
			}
		})
	}
}

func TestPromoteAndPublishGiveWhatTheFormerWalksGave(t *testing.T) {
	l, keys := listsOf(t, 2000)
	now := time.Now()
	// Retries due at several instants, a refusal, an entry removed from
	// the spec: each of promote's and publish's cases.
	for i, k := range keys[:40] {
		l.inFlight[k] = true
		switch {
		case i%10 == 9:
			l.settle(result{key: k, outcomes: []Outcome{{OCS: 120, Code: 4, Message: "bad"}}}, now)
		default:
			l.settle(result{key: k, err: errors.New("timeout")}, now.Add(time.Duration(i%4)*time.Second))
		}
	}
	removed := now
	l.count(l.entries[keys[50]], -1)
	l.entries[keys[50]].Removed = &removed
	l.count(l.entries[keys[50]], 1)
	for _, at := range []time.Duration{0, time.Second, 2500 * time.Millisecond, time.Minute} {
		r0 := len(l.ready)
		wantNext := legacyWalkPromote(l, now.Add(at))
		wantReady := slices.Sorted(slices.Values(l.ready[r0:]))
		for _, k := range l.ready[r0:] {
			delete(l.queued, k)
		}
		l.ready = l.ready[:r0]
		gotNext := l.promote(now.Add(at))
		gotReady := slices.Sorted(slices.Values(l.ready[r0:]))
		if !gotNext.Equal(wantNext) || !slices.Equal(gotReady, wantReady) {
			t.Errorf("at +%s: promote queued %d, next %s; the walk queued %d, next %s", at, len(gotReady), gotNext, len(wantReady), wantNext)
		}
		legacyWalkPublish(l)
		want := fmt.Sprintf("%+v", l.Status())
		l.publish()
		if got := fmt.Sprintf("%+v", l.Status()); got != want {
			t.Errorf("at +%s: publish\n got %s\nwant %s", at, got, want)
		}
	}
}
