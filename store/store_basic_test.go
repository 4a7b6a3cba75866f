package store

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func openTemp(t testing.TB, opts Options) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), FileName)
	s, err := Open(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	return s, path
}

func TestProgressIntentsAndHistorySurviveAReopen(t *testing.T) {
	s, path := openTemp(t, Options{})
	at := time.Date(2026, 11, 24, 23, 0, 0, 0, time.UTC)
	p := Progress{Sequence: "nightly", SpecHash: "h1", Generation: 2, LastScheduled: at,
		Run: &Run{ID: "nightly@2026-11-24T23:00:00Z", Item: 1, ItemName: "retries", ItemState: "dialing", Segment: 3, Carried: Counters{Dials: 7}}}
	if err := s.PutProgress(p); err != nil {
		t.Fatal(err)
	}
	if _, fresh, err := s.BeginIntent(Intent{ID: "nightly@x/1/3/start", Sequence: "nightly", Action: "start", Created: at}); err != nil || !fresh {
		t.Fatalf("begin: %v %v", fresh, err)
	}
	if err := s.Append(Event{Sequence: "nightly", At: at, Kind: "run-start", Message: "run started"}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, ok, err := s.Progress("nightly")
	if err != nil || !ok || got.Run.Segment != 3 || got.Run.Carried.Dials != 7 || !got.LastScheduled.Equal(at) {
		t.Errorf("progress after reopen: %+v %v %v", got, ok, err)
	}
	open, _ := s.OpenIntents()
	if len(open) != 1 || open[0].Action != "start" {
		t.Errorf("open intents: %+v", open)
	}
	evs, _ := s.History("nightly", time.Time{}, time.Time{}, 0)
	if len(evs) != 1 || evs[0].Message != "run started" {
		t.Errorf("history: %+v", evs)
	}
}

func TestBeginIntentIsIdempotentByID(t *testing.T) {
	s, _ := openTemp(t, Options{NoSync: true})
	defer s.Close()
	first := Intent{ID: "a/0/0/load", Action: "load", Created: time.Unix(1, 0)}
	s.BeginIntent(first)
	got, fresh, err := s.BeginIntent(Intent{ID: "a/0/0/load", Action: "other", Created: time.Unix(2, 0)})
	if err != nil || fresh || got.Action != "load" {
		t.Errorf("second begin: %+v fresh=%v err=%v", got, fresh, err)
	}
	if err := s.SettleIntent("a/0/0/load", IntentDone, "ok", time.Unix(3, 0)); err != nil {
		t.Fatal(err)
	}
	if open, _ := s.OpenIntents(); len(open) != 0 {
		t.Errorf("settled intent still open: %+v", open)
	}
	if err := s.SettleIntent("nope", IntentDone, "", time.Now()); !errors.Is(err, ErrUnknownIntent) {
		t.Errorf("settling an unknown intent: %v", err)
	}
}

func TestACorruptValueIsAnErrorNamingBucketAndKey(t *testing.T) {
	s, _ := openTemp(t, Options{NoSync: true})
	defer s.Close()
	s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketProgress).Put([]byte("broken"), []byte(`{"v":1,"data":{"sequence":`))
	})
	_, _, err := s.Progress("broken")
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), `progress "broken"`) {
		t.Errorf("truncated value: %v", err)
	}
	s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketProgress).Put([]byte("future"), []byte(`{"v":9,"data":{}}`))
	})
	if _, _, err := s.Progress("future"); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "version 9") {
		t.Errorf("unknown version: %v", err)
	}
	if err := s.Check(); err == nil || !strings.Contains(err.Error(), `"broken"`) {
		t.Errorf("Check: %v", err)
	}
}

func TestASecondOpenGetsErrLockedWithinTheTimeout(t *testing.T) {
	s, path := openTemp(t, Options{NoSync: true})
	defer s.Close()
	start := time.Now()
	_, err := Open(path, Options{LockTimeout: 200 * time.Millisecond})
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "database is locked by another process") {
		t.Fatalf("second open: %v", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Errorf("the second open hung for %s", time.Since(start))
	}
}

func TestANewerSchemaIsRefused(t *testing.T) {
	s, path := openTemp(t, Options{NoSync: true})
	s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Put(keySchema, []byte("99")) })
	s.Close()
	if _, err := Open(path, Options{}); !errors.Is(err, ErrSchemaTooNew) {
		t.Errorf("open: %v", err)
	}
}

func TestHistoryRangesLimitsAndRetention(t *testing.T) {
	s, _ := openTemp(t, Options{NoSync: true, HistoryMaxAge: 48 * time.Hour, HistoryMaxPerSequence: 5})
	defer s.Close()
	base := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < 10; i++ {
		s.Append(Event{Sequence: "a", At: base.Add(time.Duration(i) * time.Hour), Kind: "k", Message: string(rune('0' + i))})
		s.Append(Event{Sequence: "ab", At: base.Add(time.Duration(i) * time.Hour), Kind: "k", Message: "other"})
	}
	evs, _ := s.History("a", base.Add(2*time.Hour), base.Add(6*time.Hour), 0)
	if len(evs) != 4 || evs[0].Message != "2" || evs[3].Message != "5" {
		t.Errorf("range: %+v", evs)
	}
	evs, _ = s.History("a", time.Time{}, time.Time{}, 3)
	if len(evs) != 3 || evs[0].Message != "7" || evs[2].Message != "9" {
		t.Errorf("limit keeps the newest, oldest first: %+v", evs)
	}
	n, err := s.Prune(base.Add(9 * time.Hour))
	if err != nil || n != 10 {
		t.Errorf("prune by count removed %d (%v), want 5+5", n, err)
	}
	n, _ = s.Prune(base.Add(60 * time.Hour))
	if evs, _ := s.History("a", time.Time{}, time.Time{}, 0); len(evs) != 0 || n != 10 {
		t.Errorf("prune by age removed %d, left %+v", n, evs)
	}
}

func TestValuesAreCopiedOutOfTransactions(t *testing.T) {
	s, _ := openTemp(t, Options{NoSync: true})
	defer s.Close()
	s.PutProgress(Progress{Sequence: "a", FiredStarts: []time.Time{time.Unix(1, 0)}})
	p, _, _ := s.Progress("a")
	p.FiredStarts[0] = time.Unix(99, 0)
	q, _, _ := s.Progress("a")
	if !q.FiredStarts[0].Equal(time.Unix(1, 0)) {
		t.Error("a returned value aliases the stored one")
	}
}
