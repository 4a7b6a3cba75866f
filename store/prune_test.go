package store

import (
	"fmt"
	"testing"
	"time"
)

// fillForPrune writes, at base: sequence "old" with 2,500 events older
// than the max age and 10 within it; "long" with 1,500 recent events (over
// a cap of 100); "short" with 5 recent ones; and 1,200 old settled intents
// plus one old open one.
func fillForPrune(t *testing.T, s *Store, base time.Time) {
	t.Helper()
	var evs []Event
	for i := range 2500 {
		evs = append(evs, Event{Sequence: "old", At: base.Add(-40*24*time.Hour + time.Duration(i)*time.Second), Kind: "k"})
	}
	for i := range 10 {
		evs = append(evs, Event{Sequence: "old", At: base.Add(time.Duration(i) * time.Second), Kind: "k", Message: "new"})
	}
	for i := range 1500 {
		evs = append(evs, Event{Sequence: "long", At: base.Add(time.Duration(i) * time.Second), Kind: "k", Message: fmt.Sprint(i)})
	}
	for i := range 5 {
		evs = append(evs, Event{Sequence: "short", At: base.Add(time.Duration(i) * time.Second), Kind: "k"})
	}
	if err := s.Append(evs...); err != nil {
		t.Fatal(err)
	}
	b := &Batch{}
	for i := range 1200 {
		b.Begin = append(b.Begin, Intent{ID: fmt.Sprintf("old/%04d", i), Sequence: "old"})
		b.Settle = append(b.Settle, Settlement{ID: fmt.Sprintf("old/%04d", i), State: IntentDone, At: base.Add(-40 * 24 * time.Hour)})
	}
	b.Begin = append(b.Begin, Intent{ID: "old/open", Sequence: "old"})
	if err := s.Commit(b); err != nil {
		t.Fatal(err)
	}
}

func TestPruningMoreThanOneChunkDropsExactlyWhatOneTransactionWould(t *testing.T) {
	s, _ := openTemp(t, Options{NoSync: true, HistoryMaxPerSequence: 100})
	defer s.Close()
	base := time.Date(2026, 11, 24, 23, 0, 0, 0, time.UTC)
	fillForPrune(t, s, base)
	n, err := s.Prune(base.Add(time.Hour))
	if err != nil || n != 2500+1400 {
		t.Fatalf("prune removed %d events (%v), want %d", n, err, 2500+1400)
	}
	old, _ := s.History("old", time.Time{}, time.Time{}, 0)
	if len(old) != 10 || old[0].Message != "new" {
		t.Errorf("old: %d events kept, first %+v; want the 10 recent ones", len(old), old[0])
	}
	long, _ := s.History("long", time.Time{}, time.Time{}, 0)
	if len(long) != 100 || long[0].Message != "1400" {
		t.Errorf("long: %d events kept, first %q; want the newest 100 from 1400", len(long), long[0].Message)
	}
	if short, _ := s.History("short", time.Time{}, time.Time{}, 0); len(short) != 5 {
		t.Errorf("short: %d events kept of 5", len(short))
	}
	if in, found, _ := s.Intent("old/0600"); found {
		t.Errorf("an old settled intent survived: %+v", in)
	}
	if _, found, _ := s.Intent("old/open"); !found {
		t.Error("an open intent was pruned")
	}
	if n, err := s.Prune(base.Add(time.Hour)); n != 0 || err != nil {
		t.Errorf("a second prune removed %d (%v), want 0", n, err)
	}
}

func TestAWriteCommitsBetweenTwoPruneTransactions(t *testing.T) {
	s, _ := openTemp(t, Options{NoSync: true, HistoryMaxPerSequence: 100})
	defer s.Close()
	base := time.Date(2026, 11, 24, 23, 0, 0, 0, time.UTC)
	fillForPrune(t, s, base)
	chunks := 0
	pruneHook = func() {
		chunks++
		// What the reconciler does while the prune runs: were the prune
		// one transaction, this would wait for its end (here, deadlock).
		done := make(chan error, 1)
		go func() {
			done <- s.Commit(&Batch{Progress: []Progress{{Sequence: "busy", Generation: int64(chunks)}}})
		}()
		select {
		case err := <-done:
			if err != nil {
				t.Error(err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("a commit waited 10 s for the prune")
		}
	}
	t.Cleanup(func() { pruneHook = nil })
	if _, err := s.Prune(base.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	// 3,900 events and 1,200 intents at 1,000 a transaction.
	if chunks < 6 {
		t.Errorf("%d prune transactions, want at least 6 of at most %d deletes", chunks, pruneChunk)
	}
	if p, _, _ := s.Progress("busy"); p.Generation != int64(chunks) {
		t.Errorf("generation %d after %d chunks: a write between chunks was lost", p.Generation, chunks)
	}
}
