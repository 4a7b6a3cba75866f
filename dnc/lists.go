package dnc

import (
	"container/heap"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sequencer-dev/sequencer/ocs"
	"github.com/sequencer-dev/sequencer/specs"
	"github.com/sequencer-dev/sequencer/store"
)

// Store is what the lists keep in the progress database.
type Store interface {
	DNCEntries() (map[string]store.DNCEntry, error)
	PutDNCEntries([]store.DNCEntry) error
}

// Sender sends one Do-Not-Call request; *Client is one.
type Sender interface {
	DoNotCall(ctx context.Context, target int32, r ocs.Record) ([]Outcome, error)
}

// Config of Lists. Zero values take the defaults in brackets.
type Config struct {
	Sender     Sender
	Store      Store
	Logger     *slog.Logger
	Workers    int           // requests in flight [32]
	BackoffMin time.Duration // first retry of an unanswered entry [1s]
	BackoffMax time.Duration // [5m]
	FlushEvery time.Duration // outcomes are written in batches this often [200ms]
}

// ListStatus is what `sequencer status` and the API show of one list.
type ListStatus struct {
	Name      string   `json:"name"`
	Target    int32    `json:"targetAppDBID"`
	Entries   int      `json:"entries"`
	Processed int      `json:"processed"`
	Pending   int      `json:"pending"`
	Failed    int      `json:"failed"`
	Removed   int      `json:"removed"`
	Problems  []string `json:"problems,omitempty"` // failed and retrying entries, first few
	Note      string   `json:"note,omitempty"`
}

// Lists applies the DoNotCallList specs: every entry is submitted once, its
// outcome kept in the store, so neither a restart nor an edit submits an
// entry again; unanswered entries are retried with capped backoff, refused
// ones are reported and not retried. An entry removed from a spec stays in
// OCS (the CommDN API cannot undo a Do-Not-Call): it is reported as such.
//
// A crash between a request and the batched write of its outcome submits
// that entry once more after the restart; OCS's DNC tables are sets, so
// that repeat changes nothing.
type Lists struct {
	cfg       Config
	log       *slog.Logger
	published atomic.Pointer[[]ListStatus]

	// Owned by Run.
	entries  map[string]*store.DNCEntry
	lists    map[string]*specs.DoNotCallList
	ready    []string
	queued   map[string]bool // in ready
	inFlight map[string]bool
	armed    time.Time // when the retry timer fires; zero: not armed
	dirty    map[string]bool
	// due holds the pending entries waiting for their NextTry, soonest
	// first, so that promote looks only at those that are due; scheduled
	// is the instant of each one's live heap item (older items are stale).
	due       dueHeap
	scheduled map[string]time.Time
	// tallies are the per-list counts publish shows, kept up to date at
	// each change of an entry, so that publish does not walk them all.
	tallies map[string]*tally
}

// NewLists returns Lists; Run starts them.
func NewLists(cfg Config) *Lists {
	if cfg.Workers <= 0 {
		cfg.Workers = 32
	}
	if cfg.BackoffMin <= 0 {
		cfg.BackoffMin = time.Second
	}
	if cfg.BackoffMax <= 0 {
		cfg.BackoffMax = 5 * time.Minute
	}
	if cfg.FlushEvery <= 0 {
		cfg.FlushEvery = 200 * time.Millisecond
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	l := &Lists{cfg: cfg, log: cfg.Logger, entries: map[string]*store.DNCEntry{}, lists: map[string]*specs.DoNotCallList{},
		inFlight: map[string]bool{}, dirty: map[string]bool{}, queued: map[string]bool{},
		scheduled: map[string]time.Time{}, tallies: map[string]*tally{}}
	empty := []ListStatus{}
	l.published.Store(&empty)
	return l
}

// Status is the last published status of every list, by name.
func (l *Lists) Status() []ListStatus { return *l.published.Load() }

// Key identifies an entry across edits.
func Key(target int32, phone, customer string) string {
	return fmt.Sprintf("%d\x00%s\x00%s", target, phone, customer)
}

type job struct {
	key   string
	entry store.DNCEntry
}

type result struct {
	key      string
	outcomes []Outcome
	err      error
}

// Run applies snapshots until ctx ends or snaps closes, then waits for the
// requests in flight and writes their outcomes.
func (l *Lists) Run(ctx context.Context, snaps <-chan specs.Snapshot) error {
	stored, err := l.cfg.Store.DNCEntries()
	if err != nil {
		return fmt.Errorf("dnc: read entries: %w", err)
	}
	for k, e := range stored {
		l.entries[k] = &e
		l.count(&e, 1)
		// At start-up every pending entry is a candidate: the first
		// promote queues those due.
		l.schedule(k)
	}
	work := make(chan job)
	results := make(chan result, l.cfg.Workers)
	var wg sync.WaitGroup
	wctx, stopWorkers := context.WithCancel(context.WithoutCancel(ctx))
	for range l.cfg.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range work {
				os, err := l.cfg.Sender.DoNotCall(wctx, j.entry.Target, ocs.Record{Phone: j.entry.Phone, CustomerID: j.entry.CustomerID})
				results <- result{j.key, os, err}
			}
		}()
	}
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	arm := func(at time.Time) {
		if at.IsZero() || (!l.armed.IsZero() && !at.Before(l.armed)) {
			return
		}
		l.armed = at
		timer.Reset(time.Until(at))
	}
	flush := time.NewTicker(l.cfg.FlushEvery)
	defer flush.Stop()
	var published time.Time
	defer func() {
		close(work)
		go func() { wg.Wait(); close(results) }()
		// Requests in flight finish (each bounded by the link's window).
		for r := range results {
			l.settle(r, time.Now())
		}
		stopWorkers()
		l.flush()
	}()
	for {
		var out chan job
		var next job
		if len(l.ready) > 0 {
			k := l.ready[0]
			out, next = work, job{key: k, entry: *l.entries[k]}
		}
		select {
		case <-ctx.Done():
			return nil
		case snap, ok := <-snaps:
			if !ok {
				return nil
			}
			l.apply(snap, time.Now())
			arm(l.promote(time.Now())) // after a restart: the pending entries
			l.publish()
		case out <- next:
			l.ready = l.ready[1:]
			delete(l.queued, next.key)
			l.inFlight[next.key] = true
		case r := <-results:
			arm(l.settle(r, time.Now()))
			if len(l.dirty) >= 5000 {
				l.flush()
			}
		case <-flush.C:
			if len(l.dirty) > 0 {
				l.flush()
				// The status walks every entry: at most once a second
				// while work goes on, and at once when it is done.
				if idle := len(l.ready) == 0 && len(l.inFlight) == 0; idle || time.Since(published) >= time.Second {
					l.publish()
					published = time.Now()
				}
			}
		case <-timer.C:
			l.armed = time.Time{}
			arm(l.promote(time.Now()))
		}
	}
}

// apply turns a snapshot into entries: new ones become pending, known ones
// keep their outcome, and entries gone from every list are marked removed.
func (l *Lists) apply(snap specs.Snapshot, now time.Time) {
	l.lists = snap.DNCLists
	want := map[string]bool{}
	for _, name := range sortedKeys(snap.DNCLists) {
		dl := snap.DNCLists[name]
		for _, e := range dl.Entries {
			k := Key(dl.TargetAppDBID, e.Phone, e.CustomerID)
			if want[k] {
				continue // the same entry in two lists: the first list owns it
			}
			want[k] = true
			cur, ok := l.entries[k]
			if !ok {
				l.entries[k] = &store.DNCEntry{Key: k, List: name, Target: dl.TargetAppDBID, Phone: e.Phone,
					CustomerID: e.CustomerID, State: store.DNCPending}
				l.count(l.entries[k], 1)
				l.enqueue(k)
				l.dirty[k] = true
				continue
			}
			if cur.List != name || cur.Removed != nil {
				l.count(cur, -1)
				cur.List, cur.Removed = name, nil
				l.count(cur, 1)
				l.dirty[k] = true
			}
			if cur.State == store.DNCPending && !l.inFlight[k] {
				if cur.NextTry.After(now) {
					l.schedule(k) // back in a list: its retry may have been dropped
				} else {
					l.enqueue(k)
				}
			}
		}
	}
	for k, e := range l.entries {
		if !want[k] && e.Removed == nil {
			t := now
			l.count(e, -1)
			e.Removed = &t
			l.count(e, 1)
			l.dirty[k] = true
			l.log.Info("entry removed from its DoNotCallList; OCS keeps it (a Do-Not-Call cannot be undone over the CommDN)",
				"list", e.List, "phone", e.Phone, "customer_id", e.CustomerID, "state", e.State)
		}
	}
	l.ready = slices.DeleteFunc(l.ready, func(k string) bool {
		gone := l.entries[k].Removed != nil
		if gone {
			delete(l.queued, k)
		}
		return gone
	})
}

func (l *Lists) enqueue(k string) {
	if !l.queued[k] {
		l.queued[k] = true
		l.ready = append(l.ready, k)
	}
}

// settle records one answer and returns when to retry it (zero: no retry).
func (l *Lists) settle(r result, now time.Time) (retry time.Time) {
	delete(l.inFlight, r.key)
	e := l.entries[r.key]
	l.count(e, -1)
	defer l.count(e, 1)
	e.Attempts++
	e.Outcomes = e.Outcomes[:0]
	for _, o := range r.outcomes {
		e.Outcomes = append(e.Outcomes, o.String())
	}
	switch {
	case r.err != nil && permanent(r.err):
		e.State, e.LastError = store.DNCFailed, r.err.Error()
	case r.err != nil || OnlySilence(r.outcomes):
		if r.err != nil {
			e.LastError = r.err.Error()
		} else {
			e.LastError = "not every OCS answered: " + strings.Join(e.Outcomes, "; ")
		}
		e.NextTry = now.Add(backoff(l.cfg.BackoffMin, l.cfg.BackoffMax, e.Attempts))
		l.log.Warn("DNC entry not processed; will retry", "list", e.List, "phone", e.Phone, "customer_id", e.CustomerID,
			"attempt", e.Attempts, "retry_at", e.NextTry, "err", e.LastError)
		retry = e.NextTry
		l.schedule(r.key)
	case Failed(r.outcomes):
		e.State, e.LastError = store.DNCFailed, "refused by OCS"
		l.log.Error("DNC entry refused by OCS", "list", e.List, "phone", e.Phone, "customer_id", e.CustomerID, "outcomes", e.Outcomes)
	default:
		e.State, e.LastError, e.NextTry, e.Processed = store.DNCProcessed, "", time.Time{}, now
	}
	l.dirty[r.key] = true
	return retry
}

func backoff(lo, hi time.Duration, attempts int) time.Duration {
	d := lo
	for i := 1; i < attempts && d < hi; i++ {
		d *= 2
	}
	return min(d, hi)
}

// promote queues the pending entries that are due (at start-up, every
// pending one) and returns when the next retry is due (zero: none). It
// looks only at the entries due, and at stale heap items.
func (l *Lists) promote(now time.Time) (next time.Time) {
	for len(l.due) > 0 {
		top := l.due[0]
		live := l.scheduled[top.key] == top.at
		if live && top.at.After(now) && l.waiting(top.key) {
			return top.at
		}
		heap.Pop(&l.due)
		if !live {
			continue // rescheduled since: a later item stands for it
		}
		delete(l.scheduled, top.key)
		if l.waiting(top.key) {
			l.enqueue(top.key)
		}
	}
	return time.Time{}
}

// waiting reports whether k is a pending entry that nothing else will
// send: not removed, in flight or queued.
func (l *Lists) waiting(k string) bool {
	e := l.entries[k]
	return e != nil && e.State == store.DNCPending && e.Removed == nil && !l.inFlight[k] && !l.queued[k]
}

// schedule puts k's NextTry on the heap unless it is there already.
func (l *Lists) schedule(k string) {
	e := l.entries[k]
	if e.State != store.DNCPending {
		return
	}
	if at, ok := l.scheduled[k]; ok && at.Equal(e.NextTry) {
		return
	}
	l.scheduled[k] = e.NextTry
	heap.Push(&l.due, dueItem{e.NextTry, k})
}

type dueItem struct {
	at  time.Time
	key string
}

type dueHeap []dueItem

func (h dueHeap) Len() int           { return len(h) }
func (h dueHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h dueHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *dueHeap) Push(x any)        { *h = append(*h, x.(dueItem)) }
func (h *dueHeap) Pop() any {
	old := *h
	it := old[len(old)-1]
	*h = old[:len(old)-1]
	return it
}

func (l *Lists) flush() {
	if len(l.dirty) == 0 {
		return
	}
	batch := make([]store.DNCEntry, 0, len(l.dirty))
	for k := range l.dirty {
		batch = append(batch, *l.entries[k])
	}
	if err := l.cfg.Store.PutDNCEntries(batch); err != nil {
		l.log.Error("store DNC outcomes; will try again", "entries", len(batch), "err", err)
		return
	}
	clear(l.dirty)
}

// tally is what publish shows of one list name, kept by count.
type tally struct {
	entries, processed, pending, failed, removed int
	problems                                     map[string]string // by entry key
	// rendered is the sorted, cut problem list, nil when problems changed
	// since: only a list whose problems changed is sorted again.
	rendered []string
	fresh    bool
}

// count adds (d = 1) or takes back (d = -1) e's share of its list's
// tally: call it with -1 before changing an entry and 1 after.
func (l *Lists) count(e *store.DNCEntry, d int) {
	t := l.tallies[e.List]
	if t == nil {
		t = &tally{problems: map[string]string{}}
		l.tallies[e.List] = t
	}
	if e.Removed != nil {
		t.removed += d
		return
	}
	t.entries += d
	problem := ""
	switch {
	case e.State == store.DNCProcessed:
		t.processed += d
	case e.State == store.DNCFailed:
		t.failed += d
		problem = fmt.Sprintf("%s: %s %v", label(e), e.LastError, e.Outcomes)
	default:
		t.pending += d
		if e.LastError != "" {
			problem = fmt.Sprintf("%s: retrying after %d attempts: %s", label(e), e.Attempts, e.LastError)
		}
	}
	if problem == "" {
		return
	}
	if d > 0 {
		t.problems[e.Key] = problem
	} else {
		delete(t.problems, e.Key)
	}
	t.fresh = false
}

// publish shows the tallies: its cost is the number of lists, plus the
// problems of those whose problems changed.
func (l *Lists) publish() {
	out := make([]ListStatus, 0, len(l.lists))
	for _, name := range sortedKeys(l.lists) {
		st := ListStatus{Name: name, Target: l.lists[name].TargetAppDBID}
		if t := l.tallies[name]; t != nil {
			st.Entries, st.Processed, st.Pending, st.Failed, st.Removed = t.entries, t.processed, t.pending, t.failed, t.removed
			st.Problems = t.render()
		}
		out = append(out, st)
	}
	var gone []string
	for name, t := range l.tallies {
		if _, listed := l.lists[name]; !listed && t.removed > 0 {
			gone = append(gone, name)
		}
	}
	sort.Strings(gone)
	for _, name := range gone {
		out = append(out, ListStatus{Name: name, Removed: l.tallies[name].removed})
	}
	for i := range out {
		if out[i].Removed > 0 {
			out[i].Note = fmt.Sprintf("%d entries removed from the spec are still on OCS's Do-Not-Call tables: the CommDN API cannot undo a Do-Not-Call; remove them in OCS's gsw_donotcall_list", out[i].Removed)
		}
	}
	l.published.Store(&out)
}

// render is the first ten problems in order, and how many more there are.
func (t *tally) render() []string {
	if t.fresh {
		return t.rendered
	}
	var ps []string
	for _, p := range t.problems {
		ps = append(ps, p)
	}
	sort.Strings(ps)
	if len(ps) > 10 {
		ps = append(ps[:10:10], fmt.Sprintf("… and %d more", len(ps)-10))
	}
	t.rendered, t.fresh = ps, true
	return ps
}

func label(e *store.DNCEntry) string {
	switch {
	case e.Phone != "" && e.CustomerID != "":
		return e.Phone + "/" + e.CustomerID
	case e.Phone != "":
		return e.Phone
	}
	return "customer " + e.CustomerID
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
