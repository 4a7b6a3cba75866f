package store

import (
	"reflect"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// A settlement in Commit of an intent Commit began takes the intent from
// memory, not from the file; what it writes must be what decoding the
// file would have given, and a record that left the file meanwhile must
// stay gone (the settlement is skipped, as for any intent not held).
func TestASettlementOfAnIntentCommitBeganWritesWhatTheFileHeld(t *testing.T) {
	s, _ := openTemp(t, Options{NoSync: true})
	defer s.Close()
	at := time.Date(2026, 12, 2, 18, 0, 0, 0, time.UTC)
	begun := Intent{ID: "nightly@x/0/0/load", Sequence: "nightly", Run: "nightly@x", Item: 2, Action: "load",
		Request: "CM_ReqLoadCampaign 101/732", Created: at}
	gone := Intent{ID: "nightly@x/0/0/start", Sequence: "nightly", Run: "nightly@x", Action: "start", Created: at}
	if err := s.Commit(&Batch{Begin: []Intent{begun, gone}}); err != nil {
		t.Fatal(err)
	}
	// Something else removes one record (a prune, an operator's repair).
	if err := s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketIntents).Delete([]byte(gone.ID)) }); err != nil {
		t.Fatal(err)
	}
	done := at.Add(time.Second)
	if err := s.Commit(&Batch{Settle: []Settlement{{ID: begun.ID, State: IntentDone, Outcome: "ok", At: done}, {ID: gone.ID, State: IntentDone, At: done}}}); err != nil {
		t.Fatal(err)
	}
	got, ok, err := s.Intent(begun.ID)
	want := begun
	want.State, want.Outcome, want.Settled = IntentDone, "ok", done
	if err != nil || !ok || !reflect.DeepEqual(got, want) {
		t.Errorf("settled intent %+v (found %v, %v), want %+v", got, ok, err, want)
	}
	if _, ok, _ := s.Intent(gone.ID); ok {
		t.Errorf("the settlement brought back intent %s, removed from the file", gone.ID)
	}
	if n := len(s.begun.m); n != 0 {
		t.Errorf("%d intents kept after their settlement", n)
	}
}
