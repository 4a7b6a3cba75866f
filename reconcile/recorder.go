package reconcile

import (
	"log/slog"
	"sync"

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
	evs  []store.Event
	grp  map[groupKey]store.GroupStatus
	poke chan struct{}
	done chan struct{}
	// only, when set, keeps the events of these kinds and drops the rest
	// (a projection reads back only what a plan shows).
	only map[string]bool
	// dropped counts events given up on: a failed write keeps them for the
	// next flush, up to maxPending, and drops the oldest beyond that.
	dropped func(n int)
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
	w.evs = append(w.evs, ev)
	w.mu.Unlock()
	w.wake()
}

func (w *recorder) group(gs store.GroupStatus) {
	w.mu.Lock()
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

// run drains until stop is closed, then flushes once more.
func (w *recorder) run(stop <-chan struct{}) {
	defer close(w.done)
	for {
		select {
		case <-w.poke:
			w.flush()
		case <-stop:
			w.flush()
			return
		}
	}
}

func (w *recorder) flush() {
	w.mu.Lock()
	evs := w.evs
	w.evs = nil
	var gs []store.GroupStatus
	if len(w.grp) > 0 {
		gs = make([]store.GroupStatus, 0, len(w.grp))
		for _, g := range w.grp {
			gs = append(gs, g)
		}
		clear(w.grp)
	}
	w.mu.Unlock()
	if len(evs) > 0 {
		if err := w.st.Append(evs...); err != nil {
			w.mu.Lock()
			w.evs = append(evs, w.evs...)
			n := 0
			if over := len(w.evs) - maxPending; over > 0 {
				n = over
				w.evs = append([]store.Event(nil), w.evs[over:]...)
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
