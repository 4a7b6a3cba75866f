package reconcile

import (
	"errors"
	"path/filepath"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sequencer-dev/sequencer/ocs"
	"github.com/sequencer-dev/sequencer/store"
)

// The DST wire and store wrappers are test machinery, but a wrapper that
// silently does nothing would make every seed pass: these pin them down.

func dstDeliveryOrder(t *testing.T, overtake bool) []ocs.MessageType {
	var got []ocs.MessageType
	synctest.Test(t, func(t *testing.T) {
		w := &dstWire{cfg: dstWireConfig{AnswerDelay: time.Second, LateShare: 1, Overtake: overtake},
			rng: newDSTRand(1), wake: make(chan struct{}, 1)}
		answer := ocs.NewAnswer(ocs.NewGetCampaignStatus(ocs.Target{CampaignDBID: 1, GroupDBID: 2}).WithReference(7), ocs.EvCampaignStatus)
		w.push(answer) // late by up to a second
		w.push(ocs.NewNotice(ocs.EvDialingStopped, ocs.Target{CampaignDBID: 1, GroupDBID: 2}, ocs.StatusInActive))
		for range 2 {
			f, ok := w.next()
			if !ok {
				t.Fatal("wire closed")
			}
			got = append(got, f.m.Type)
		}
	})
	return got
}

func TestTheDSTWireLetsAnEventOvertakeALateAnswerOnlyWhenTheSeedSaysSo(t *testing.T) {
	if got := dstDeliveryOrder(t, true); got[0] != ocs.EvDialingStopped {
		t.Errorf("overtaking wire delivered %v, want the event first", got)
	}
	if got := dstDeliveryOrder(t, false); got[0] != ocs.EvCampaignStatus {
		t.Errorf("in-order wire delivered %v, want the answer first", got)
	}
}

func TestTheDSTStoreArmedDiesRightAfterWritingAnIntent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sequencer.db")
	raw, err := store.Open(path, store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	crashed := 0
	s := &dstStore{Store: raw, armed: true, onCrash: func() { crashed++ }}
	in := store.Intent{ID: "run/0/0/load", Sequence: "s", Action: "load", Created: dstT0}
	if _, _, err := s.BeginIntent(in); !errors.Is(err, errDSTCrashed) {
		t.Fatalf("armed BeginIntent: %v, want the crash", err)
	}
	if crashed != 1 {
		t.Errorf("onCrash ran %d times", crashed)
	}
	if open, _ := raw.OpenIntents(); len(open) != 1 || open[0].ID != in.ID {
		t.Errorf("the intent did not reach the file before the crash: %+v", open)
	}
	if err := s.PutProgress(store.Progress{Sequence: "s"}); !errors.Is(err, errDSTCrashed) {
		t.Errorf("a dead store wrote progress: %v", err)
	}
	if _, ok, _ := raw.Progress("s"); ok {
		t.Error("progress reached the file after the crash")
	}
}

func TestTheDSTStoreArmedDiesRightAfterACommitThatJournalsARequest(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sequencer.db")
	raw, err := store.Open(path, store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	crashed := 0
	s := &dstStore{Store: raw, armed: true, onCrash: func() { crashed++ }}
	// A commit with progress alone is no request: the store lives on.
	if err := s.Commit(&store.Batch{Progress: []store.Progress{{Sequence: "s"}}}); err != nil {
		t.Fatalf("commit of progress alone: %v", err)
	}
	in := store.Intent{ID: "run/0/0/load", Sequence: "s", Action: "load", Created: dstT0}
	if err := s.Commit(&store.Batch{Begin: []store.Intent{in}}); !errors.Is(err, errDSTCrashed) {
		t.Fatalf("armed commit: %v, want the crash", err)
	}
	if crashed != 1 {
		t.Errorf("onCrash ran %d times", crashed)
	}
	if open, _ := raw.OpenIntents(); len(open) != 1 || open[0].ID != in.ID {
		t.Errorf("the intent did not reach the file before the crash: %+v", open)
	}
	if err := s.Commit(&store.Batch{Progress: []store.Progress{{Sequence: "t"}}}); !errors.Is(err, errDSTCrashed) {
		t.Errorf("a dead store committed: %v", err)
	}
}
