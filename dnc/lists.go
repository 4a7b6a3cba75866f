package dnc

import (
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
		inFlight: map[string]bool{}, dirty: map[string]bool{}, queued: map[string]bool{}}
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
				l.enqueue(k)
				l.dirty[k] = true
				continue
			}
			if cur.List != name || cur.Removed != nil {
				cur.List, cur.Removed = name, nil
				l.dirty[k] = true
			}
			if cur.State == store.DNCPending && !l.inFlight[k] && !cur.NextTry.After(now) {
				l.enqueue(k)
			}
		}
	}
	for k, e := range l.entries {
		if !want[k] && e.Removed == nil {
			t := now
			e.Removed = &t
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
// pending one) and returns when the next retry is due (zero: none).
func (l *Lists) promote(now time.Time) (next time.Time) {
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

func (l *Lists) publish() {
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
