package reconcile

import (
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sequencer-dev/sequencer/internal/chunked"
	"github.com/sequencer-dev/sequencer/store"
)

// recorder writes history and observed group status off the loop
// goroutine: the loop only appends to memory, and one writer drains
// whatever piled up into a single store call, so a burst of thousands of
// status events costs a few transactions, not thousands of fsyncs. Group
// status coalesces per campaign group (only the latest matters).
type recorder struct {
	st   Store
	log  *slog.Logger
	mu   sync.Mutex
	evs  chunked.List[store.Event] // in chunks: a burst adds tens of thousands while the recorder waits
	grp  map[groupKey]store.GroupStatus
	poke chan struct{}
	done chan struct{}
	// only, when set, keeps the events of these kinds and drops the rest
	// (a projection reads back only what a plan shows).
	only map[string]bool
	// dropped counts events given up on: a failed write keeps them for the
	// next flush, up to maxPending, and drops the oldest beyond that.
	dropped func(n int)
	// busy: the loop has answers due or a commit in flight (run);
	// since: when the oldest entry not yet written was queued.
	busy  atomic.Bool
	since time.Time
	// writing: a flush has taken entries and not yet written them.
	writing bool
}

// maxPending bounds the history held in memory while the store refuses
// writes (a full disk): enough for hours of one busy night.
const maxPending = 10000

func newRecorder(st Store, log *slog.Logger) *recorder {
	return &recorder{st: st, log: log, grp: map[groupKey]store.GroupStatus{}, poke: make(chan struct{}, 1), done: make(chan struct{})}
}

func (w *recorder) event(ev store.Event) {
	if w.only != nil && !w.only[ev.Kind] {
		return
	}
	w.mu.Lock()
	w.queued()
	w.evs.Add(ev)
	w.mu.Unlock()
	w.wake()
}

// queued notes, under mu, the time of the first entry since the last
// write.
func (w *recorder) queued() {
	if w.since.IsZero() {
		w.since = time.Now()
	}
}

func (w *recorder) group(gs store.GroupStatus) {
	w.mu.Lock()
	w.queued()
	w.grp[groupKey{gs.CampaignDBID, gs.GroupDBID}] = gs
	w.mu.Unlock()
	w.wake()
}

func (w *recorder) wake() {
	select {
	case w.poke <- struct{}{}:
	default:
	}
}

// recordGap is the least time between the end of one write and the start
// of the next. bbolt has one writer: during a burst the recorder would
// otherwise write (and fsync) back to back, and every commit that an OCS
// request waits for would queue behind it. History is read by people;
// a quarter of a second is nothing to them.
const recordGap = 250 * time.Millisecond

// recordHold is the longest the recorder yields to the loop: while the
// loop has answers due or a commit in flight (busy), history waits, up to
// this long after its oldest unwritten entry. In a burst the loop's
// commits are what requests wait for, and they wait for any other writer.
const recordHold = 2 * time.Second

// recordRecheck is how often a recorder that yields looks again.
const recordRecheck = 50 * time.Millisecond

// run drains until stop is closed, then flushes once more. A write that
// follows another within recordGap waits out the rest of it, and one made
// while the loop is busy waits up to recordHold, gathering what comes
// meanwhile; a lone event in a quiet loop is written at once.
func (w *recorder) run(stop <-chan struct{}) {
	defer close(w.done)
	var last time.Time
	for {
		select {
		case <-w.poke:
		case <-stop:
			w.flush()
			return
		}
		for wait := recordGap - time.Since(last); ; wait = recordRecheck {
			if wait > 0 {
				t := time.NewTimer(wait)
				select {
				case <-t.C:
				case <-stop:
					t.Stop()
					w.flush()
					return
				}
			}
			if !w.busy.Load() || time.Since(w.pendingSince()) >= recordHold {
				break
			}
		}
		w.flush()
		last = time.Now()
	}
}

// pendingSince is when the oldest entry not yet written was queued.
func (w *recorder) pendingSince() time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.since
}

// idle reports that nothing is queued and no write is under way.
func (w *recorder) idle() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.since.IsZero() && !w.writing
}

func (w *recorder) flush() {
	w.mu.Lock()
	taken := w.evs
	w.evs, w.since, w.writing = chunked.List[store.Event]{}, time.Time{}, true
	defer func() {
		w.mu.Lock()
		w.writing = false
		w.mu.Unlock()
	}()
	var gs []store.GroupStatus
	if len(w.grp) > 0 {
		gs = make([]store.GroupStatus, 0, len(w.grp))
		for _, g := range w.grp {
			gs = append(gs, g)
		}
		clear(w.grp)
	}
	w.mu.Unlock()
	if taken.Len() > 0 {
		evs := taken.All()
		if err := w.st.Append(evs...); err != nil {
			w.mu.Lock()
			w.queued()
			kept := append(evs, w.evs.All()...)
			n := 0
			if over := len(kept) - maxPending; over > 0 {
				n = over
				kept = kept[over:]
			}
			w.evs = chunked.List[store.Event]{}
			for _, ev := range kept {
				w.evs.Add(ev)
			}
			w.mu.Unlock()
			w.log.Error("write history; keeping the events for the next write", "events", len(evs), "dropped", n, "err", err)
			if n > 0 && w.dropped != nil {
				w.dropped(n)
			}
		}
	}
	if len(gs) > 0 {
		if err := w.st.PutGroupStatus(gs...); err != nil {
			w.log.Error("write group status", "groups", len(gs), "err", err)
		}
	}
}
