package reconcile

import (
	"errors"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sequencer-dev/sequencer/ocs"
	"github.com/sequencer-dev/sequencer/store"
)

// fencedStore refuses every write once deposed is set, as the etcd store
// does for a daemon whose leadership lapsed.
type fencedStore struct {
	Store
	deposed atomic.Bool
}

// Fencing: like etcd, this store fences a deposed leader's writes.
func (f *fencedStore) Fencing() bool { return true }

func (f *fencedStore) refuse() error {
	if f.deposed.Load() {
		return store.ErrFenced
	}
	return nil
}

func (f *fencedStore) PutProgress(p store.Progress) error {
	if err := f.refuse(); err != nil {
		return err
	}
	return f.Store.PutProgress(p)
}

func (f *fencedStore) Commit(b *store.Batch) error {
	if err := f.refuse(); err != nil {
		return err
	}
	return commitTo(f.Store, b)
}

func (f *fencedStore) BeginIntent(in store.Intent) (store.Intent, bool, error) {
	if err := f.refuse(); err != nil {
		return store.Intent{}, false, err
	}
	return f.Store.BeginIntent(in)
}

func TestADeposedLeaderSendsNothingNotEvenAStopAndStepsDown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fs := &fencedStore{}
		h := newHarness(t, func(c *Config) { fs.Store = c.Store; c.Store = fs })
		a := item("fresh-leads", 101, ocs.DialModeProgress)
		a.StopAt.Time = after(10 * time.Minute)
		h.apply(seq("east", a))
		h.wait(time.Minute)
		fs.deposed.Store(true)
		before := h.ocs.text()
		h.wait(20 * time.Minute) // past the stop time
		if got := h.ocs.text(); got != before {
			t.Errorf("a deposed leader sent requests:\n%s", got[len(before):])
		}
		select {
		case err := <-h.done:
			if !errors.Is(err, store.ErrFenced) {
				t.Errorf("loop ended with %v, want store.ErrFenced", err)
			}
			h.done <- nil // for the harness's stop
		default:
			t.Error("the loop kept running after it was fenced")
		}
	})
}
