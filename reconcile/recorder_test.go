package reconcile

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sequencer-dev/sequencer/store"
)

// appendClock is a store that notes when each history write came.
type appendClock struct {
	*MemStore
	mu     sync.Mutex
	writes []time.Time
	events int
	got    []store.Event
	full   bool // every Append fails
}

func (a *appendClock) Append(evs ...store.Event) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.full {
		return errors.New("no space left on device")
	}
	a.writes = append(a.writes, time.Now())
	a.events += len(evs)
	a.got = append(a.got, evs...)
	return nil
}

func (a *appendClock) setFull(full bool) {
	a.mu.Lock()
	a.full = full
	a.mu.Unlock()
}

func (a *appendClock) seen() ([]time.Time, int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]time.Time(nil), a.writes...), a.events
}

// startRecorder runs a recorder on a fresh appendClock until the test ends.
func startRecorder(t *testing.T) (*recorder, *appendClock) {
	st := &appendClock{MemStore: NewMemStore()}
	w := newRecorder(st, slog.New(slog.DiscardHandler))
	stop := make(chan struct{})
	go w.run(stop)
	t.Cleanup(func() { close(stop); <-w.done })
	return w, st
}

// spacedByRecordGap fails t for two writes closer than recordGap.
func spacedByRecordGap(t *testing.T, writes []time.Time) {
	t.Helper()
	for i := 1; i < len(writes); i++ {
		if d := writes[i].Sub(writes[i-1]); d < recordGap {
			t.Errorf("writes %d and %d %s apart, less than %s", i-1, i, d, recordGap)
		}
	}
}

func TestALoneHistoryEventInAQuietLoopIsWrittenAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w, st := startRecorder(t)
		t0 := time.Now()
		w.event(store.Event{Sequence: "s", Kind: "request"})
		synctest.Wait()
		if writes, _ := st.seen(); len(writes) != 1 || writes[0] != t0 {
			t.Fatalf("writes at %v, want one at once", writes)
		}
	})
}

// bbolt has one writer: history written back to back in a burst would
// make every commit an OCS request waits for queue behind it.
func TestHistoryWaitsWhileTheLoopIsBusyAndIsWrittenWhenItIsNot(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w, st := startRecorder(t)
		w.busy.Store(true)
		t0 := time.Now()
		for range 100 {
			w.event(store.Event{Sequence: "s", Kind: "request"})
			time.Sleep(5 * time.Millisecond)
		}
		if writes, _ := st.seen(); len(writes) != 0 {
			t.Fatalf("%d history writes while the loop was busy", len(writes))
		}
		w.busy.Store(false)
		time.Sleep(recordRecheck)
		synctest.Wait()
		writes, n := st.seen()
		if len(writes) != 1 || n != 100 {
			t.Fatalf("%d writes of %d events once the loop was idle, want 1 of 100", len(writes), n)
		}
		if d := writes[0].Sub(t0); d > 500*time.Millisecond+recordRecheck {
			t.Errorf("written %s after the first event", d)
		}
	})
}

func TestHistoryWaitsForABusyLoopAtMostRecordHold(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w, st := startRecorder(t)
		w.busy.Store(true) // answers due for ever (OCS never answers)
		t0 := time.Now()
		for range 500 {
			w.event(store.Event{Sequence: "s", Kind: "request"})
			time.Sleep(10 * time.Millisecond)
		}
		writes, n := st.seen()
		if len(writes) == 0 || n == 0 {
			t.Fatal("nothing written in 5 s of a busy loop")
		}
		if d := writes[0].Sub(t0); d < recordHold || d > recordHold+recordRecheck {
			t.Errorf("first write %s after the first event, want %s", d, recordHold)
		}
		spacedByRecordGap(t, writes)
	})
}

func TestHistoryFromASteadyTrickleIsWrittenAtMostOncePerRecordGap(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w, st := startRecorder(t)
		for range 100 {
			w.event(store.Event{Sequence: "s", Kind: "request"})
			time.Sleep(10 * time.Millisecond)
		}
		time.Sleep(recordGap)
		synctest.Wait()
		writes, n := st.seen()
		if n != 100 {
			t.Fatalf("%d of 100 events written", n)
		}
		if len(writes) > 10 {
			t.Errorf("100 events over 1 s in %d writes, want a few", len(writes))
		}
		spacedByRecordGap(t, writes)
	})
}

// A full disk keeps history in memory, in order, up to maxPending events;
// beyond that the oldest go, and are counted.
func TestHistoryThatAFullDiskRefusesIsKeptInOrderAndOnlyTheOldestBeyondTheBoundAreDropped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w, st := startRecorder(t)
		dropped := 0
		w.dropped = func(n int) { dropped += n }
		st.setFull(true)
		const extra = 50
		for i := range maxPending + extra {
			w.event(store.Event{Sequence: "s", Kind: "request", Message: fmt.Sprint(i)})
			if i%1000 == 0 {
				time.Sleep(time.Second) // a write is tried, and refused, now and then
			}
		}
		time.Sleep(time.Second)
		synctest.Wait()
		st.setFull(false)
		w.event(store.Event{Sequence: "s", Kind: "request", Message: "after"})
		time.Sleep(time.Second)
		synctest.Wait()
		st.mu.Lock()
		defer st.mu.Unlock()
		if len(st.got) != maxPending+1 {
			t.Fatalf("%d events written once the disk had room, want %d", len(st.got), maxPending+1)
		}
		for i, e := range st.got[:maxPending] {
			if want := fmt.Sprint(i + extra); e.Message != want {
				t.Fatalf("event %d is %q, want %q: out of order, or the wrong ones dropped", i, e.Message, want)
			}
		}
		if st.got[maxPending].Message != "after" {
			t.Errorf("the last event written is %q", st.got[maxPending].Message)
		}
		if dropped != extra {
			t.Errorf("%d events counted as dropped, want %d", dropped, extra)
		}
	})
}
