package reconcile

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sequencer-dev/sequencer/ocs"
	"github.com/sequencer-dev/sequencer/specs"
	"github.com/sequencer-dev/sequencer/store"
)

// notifyOCS is fakeOCS plus a hook that reports when a request of a given
// type arrives, for latency measurements in real time.
type notifyOCS struct {
	*fakeOCS
	mu    sync.Mutex
	watch map[ocs.MessageType]chan time.Time
}

func (n *notifyOCS) Request(ctx context.Context, req ocs.Message) (ocs.Message, error) {
	n.mu.Lock()
	ch := n.watch[req.Type]
	n.mu.Unlock()
	if ch != nil {
		select {
		case ch <- time.Now():
		default:
		}
	}
	return n.fakeOCS.Request(ctx, req)
}

func (n *notifyOCS) on(t ocs.MessageType) chan time.Time {
	ch := make(chan time.Time, 4096)
	n.mu.Lock()
	n.watch[t] = ch
	n.mu.Unlock()
	return ch
}

func benchLoop(b *testing.B, link ocs.Link) (*Reconciler, chan specs.Snapshot, func()) {
	st, err := store.Open(filepath.Join(b.TempDir(), "b.db"), store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	rec := New(Config{Link: link, Store: st, PollInterval: time.Hour, Resync: time.Hour})
	snaps := make(chan specs.Snapshot, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { rec.Run(ctx, snaps); close(done) }()
	return rec, snaps, func() { cancel(); <-done; st.Close() }
}

func activeSeqs(n int) map[string]*specs.Sequence {
	m := map[string]*specs.Sequence{}
	for i := 0; i < n; i++ {
		it := specs.Item{Name: "a", CampaignDBID: int32(1000 + i), GroupDBID: int32(5000 + i), DialMode: ocs.DialModePredict,
			StopAt: specs.StopAt{Time: after(10 * time.Hour)}}
		s := seq(fmt.Sprintf("s%05d", i), it)
		m[s.Name] = s
	}
	return m
}

func waitDialing(b *testing.B, rec *Reconciler, n int) {
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		c := 0
		for _, s := range rec.Sequences() {
			if s.ItemState == stDialing {
				c++
			}
		}
		if c == n {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	b.Fatalf("sequences did not all reach dialing")
}

func percentile(ds []time.Duration, p float64) time.Duration {
	slices.Sort(ds)
	i := int(float64(len(ds)-1) * p)
	return ds[i]
}

// BenchmarkSpecEditToFirstRequest measures the time from a spec snapshot
// that changes one running item's dial mode to the SetDialingMode request
// reaching OCS, with N active sequences (the baseline is N=1, same run).
func BenchmarkSpecEditToFirstRequest(b *testing.B) {
	for _, n := range []int{1, 1000} {
		b.Run(fmt.Sprintf("active=%d", n), func(b *testing.B) {
			link := &notifyOCS{fakeOCS: newFakeOCS(), watch: map[ocs.MessageType]chan time.Time{}}
			rec, snaps, stop := benchLoop(b, link)
			defer stop()
			seqs := activeSeqs(n)
			snaps <- specs.Snapshot{Sequences: seqs}
			waitDialing(b, rec, n)
			got := link.on(ocs.ReqSetDialingMode)
			var lat []time.Duration
			modes := []ocs.DialMode{ocs.DialModeProgress, ocs.DialModePredict}
			i := 0
			for b.Loop() {
				cp := map[string]*specs.Sequence{}
				for k, v := range seqs {
					cp[k] = v
				}
				target := fmt.Sprintf("s%05d", i%n)
				s := *seqs[target]
				s.Items = slices.Clone(s.Items)
				if s.Items[0].DialMode == modes[0] {
					s.Items[0].DialMode = modes[1]
				} else {
					s.Items[0].DialMode = modes[0]
				}
				s.Generation++
				cp[target] = rehash(&s)
				seqs = cp
				t0 := time.Now()
				snaps <- specs.Snapshot{Sequences: cp}
				select {
				case t1 := <-got:
					lat = append(lat, t1.Sub(t0))
				case <-time.After(10 * time.Second):
					b.Fatal("no SetDialingMode within 10 s")
				}
				i++
			}
			b.ReportMetric(float64(percentile(lat, 0.50).Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(percentile(lat, 0.99).Microseconds())/1000, "p99-ms")
		})
	}
}

// BenchmarkStopAtTimeLateness measures how late StopDialing leaves after an
// item's stop time, for 200 items stopping within two seconds; the
// baseline is a bare time.Timer set for the same instants in the same run.
func BenchmarkStopAtTimeLateness(b *testing.B) {
	const n = 200
	b.Run("loop", func(b *testing.B) {
		var lat []time.Duration
		for b.Loop() {
			link := &notifyOCS{fakeOCS: newFakeOCS(), watch: map[ocs.MessageType]chan time.Time{}}
			stopped := link.on(ocs.ReqStopDialing)
			rec, snaps, stop := benchLoop(b, link)
			seqs := map[string]*specs.Sequence{}
			start := time.Now().Add(500 * time.Millisecond)
			due := map[int32]time.Time{}
			for i := 0; i < n; i++ {
				at := start.Add(time.Duration(i) * 10 * time.Millisecond)
				it := specs.Item{Name: "a", CampaignDBID: int32(1000 + i), GroupDBID: 9, DialMode: ocs.DialModeProgress,
					StopAt: specs.StopAt{Time: specs.StopTime{Kind: specs.StopAbsolute, At: at.Add(time.Second)}}}
				s := seq(fmt.Sprintf("s%03d", i), it)
				seqs[s.Name] = s
				due[int32(1000+i)] = at.Add(time.Second)
			}
			snaps <- specs.Snapshot{Sequences: seqs}
			waitDialing(b, rec, n)
			for range n {
				<-stopped
			}
			stop()
			for _, r := range link.fakeOCS.transcript {
				if d, ok := due[r.campaign]; ok && strings.Contains(r.text, "CM_ReqStopDialing") {
					lat = append(lat, link.fakeOCS.start.Add(r.at).Sub(d))
				}
			}
			_ = rec
		}
		b.ReportMetric(float64(percentile(lat, 0.50).Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(percentile(lat, 0.99).Microseconds())/1000, "p99-ms")
	})
	b.Run("baseline-timer", func(b *testing.B) {
		var lat []time.Duration
		for b.Loop() {
			var mu sync.Mutex
			var wg sync.WaitGroup
			start := time.Now().Add(500 * time.Millisecond)
			for i := 0; i < n; i++ {
				at := start.Add(time.Duration(i)*10*time.Millisecond + time.Second)
				wg.Add(1)
				time.AfterFunc(time.Until(at), func() {
					mu.Lock()
					lat = append(lat, time.Since(at))
					mu.Unlock()
					wg.Done()
				})
			}
			wg.Wait()
		}
		b.ReportMetric(float64(percentile(lat, 0.50).Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(percentile(lat, 0.99).Microseconds())/1000, "p99-ms")
	})
}

func idleSeqs(n int) map[string]*specs.Sequence {
	m := map[string]*specs.Sequence{}
	loc, _ := time.LoadLocation("America/New_York")
	for i := 0; i < n; i++ {
		it := specs.Item{Name: "a", CampaignDBID: int32(1000 + i), GroupDBID: int32(5000 + i), DialMode: ocs.DialModePredict,
			StopAt: specs.StopAt{Contacts: 500}}
		s := seq(fmt.Sprintf("s%05d", i), it)
		s.Location, s.TimeZone = loc, "America/New_York"
		s.Start = specs.Start{Schedule: "0 18 31 12 *"} // far away: idle
		m[s.Name] = rehash(s)
	}
	return m
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// BenchmarkMemoryPerIdleSequence reports the heap the loop holds per idle
// sequence at 10,000 and 100,000 sequences, beyond the specs themselves
// (the baseline: the same specs held in a snapshot with no loop).
func BenchmarkMemoryPerIdleSequence(b *testing.B) {
	for _, n := range []int{10000, 100000} {
		b.Run(fmt.Sprintf("sequences=%d", n), func(b *testing.B) { memoryPerIdleSequence(b, n) })
	}
}

func memoryPerIdleSequence(b *testing.B, n int) {
	for b.Loop() {
		base := heapInUse()
		seqs := idleSeqs(n)
		withSpecs := heapInUse()
		link := newFakeOCS()
		rec, snaps, stop := benchLoop(b, link)
		snaps <- specs.Snapshot{Sequences: seqs}
		deadline := time.Now().Add(5 * time.Minute)
		for len(rec.Sequences()) < n && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if got := len(rec.Sequences()); got < n {
			b.Fatalf("%d of %d sequences published", got, n)
		}
		// Idle: no commit on its way and the first sight's history on
		// the disk (the recorder holds it while the loop is busy, up to
		// recordHold): what a waiting sequence costs, not that burst.
		for (rec.rec.busy.Load() || !rec.rec.idle()) && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		loaded := heapInUse()
		b.ReportMetric(float64(withSpecs-base)/float64(n), "spec-B/seq")
		b.ReportMetric(float64(loaded-withSpecs)/float64(n), "loop-B/seq")
		stop()
		runtime.KeepAlive(seqs)
	}
}

// BenchmarkResync10000Sequences reports passes per second when every one
// of 10,000 idle sequences is looked at (a resync), next to the old pure
// schedule.Evaluate (legacy_bench_test.go) of the same specs (the baseline, same run).
func BenchmarkResync10000Sequences(b *testing.B) {
	const n = 10000
	seqs := idleSeqs(n)
	b.Run("loop", func(b *testing.B) {
		st, err := store.Open(filepath.Join(b.TempDir(), "b.db"), store.Options{})
		if err != nil {
			b.Fatal(err)
		}
		defer st.Close()
		r := New(Config{Link: newFakeOCS(), Store: st})
		r.rec = newRecorder(st, r.log)
		now := time.Now()
		r.applySnapshot(specs.Snapshot{Sequences: seqs}, now)
		r.processDirty(now) // first sight writes progress once
		b.ResetTimer()
		for b.Loop() {
			for name := range r.seqs {
				r.markDirty(name)
			}
			r.processDirty(now)
		}
		b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "passes/s")
	})
	b.Run("baseline-evaluate", func(b *testing.B) {
		now := time.Now()
		list := make([]*specs.Sequence, 0, n)
		for _, s := range seqs {
			list = append(list, s)
		}
		for b.Loop() {
			for _, s := range list {
				legacyEvaluate(s, legacyProgress{LastHandled: now, Since: now}, now)
			}
		}
		b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "passes/s")
	})
}
