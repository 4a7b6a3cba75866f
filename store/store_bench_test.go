package store

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// (a) One durable progress update, next to one raw db.Update put of the
// same bytes on the same disk.
func BenchmarkStorePutProgress(b *testing.B) {
	p := Progress{Sequence: "nightly", SpecHash: "abc", Generation: 3,
		Run: &Run{ID: "nightly@2026-11-24T23:00:00Z", Item: 1, ItemName: "retries", ItemState: "dialing"}}
	b.Run("store", func(b *testing.B) {
		s, _ := openTemp(b, Options{})
		defer s.Close()
		for b.Loop() {
			if err := s.PutProgress(p); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("raw-bbolt", func(b *testing.B) {
		db, _ := bolt.Open(filepath.Join(b.TempDir(), "raw.db"), 0o600, nil)
		defer db.Close()
		db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("p")); return err })
		raw, _ := json.Marshal(p)
		for b.Loop() {
			db.Update(func(tx *bolt.Tx) error { return tx.Bucket([]byte("p")).Put([]byte("nightly"), raw) })
		}
	})
}

// (a') The writes of one loop turn: a Commit of n progress+intent pairs
// (one transaction, the fdatasyncs of one bbolt commit), reported per
// sequence, next to the same pairs written as the loop wrote them before
// Commit: PutProgress then BeginIntent, two commits per sequence.
func BenchmarkStoreCommit(b *testing.B) {
	p := Progress{Sequence: "nightly", SpecHash: "abc", Generation: 3,
		Run: &Run{ID: "nightly@2026-11-24T23:00:00Z", Item: 1, ItemName: "retries", ItemState: "dialing"}}
	pair := func(i int) (Progress, Intent) {
		q := p
		q.Sequence = fmt.Sprintf("seq-%05d", i%10000)
		return q, Intent{ID: fmt.Sprintf("%s@x/%d/start", q.Sequence, i), Sequence: q.Sequence, Action: "start", Created: time.Unix(int64(i), 0)}
	}
	for _, n := range []int{1, 100, 1000, 10000} {
		b.Run(fmt.Sprintf("commit-batch-%d", n), func(b *testing.B) {
			s, _ := openTemp(b, Options{})
			defer s.Close()
			batch, next := &Batch{}, 0
			for b.Loop() {
				batch.Reset()
				for range n {
					q, in := pair(next)
					batch.Progress, batch.Begin = append(batch.Progress, q), append(batch.Begin, in)
					next++
				}
				if err := s.Commit(batch); err != nil || !batch.Fresh[n-1] {
					b.Fatalf("commit: %v (fresh %v)", err, batch.Fresh[n-1])
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*n), "µs/seq")
		})
	}
	b.Run("baseline-put-then-begin-per-sequence", func(b *testing.B) {
		s, _ := openTemp(b, Options{})
		defer s.Close()
		next := 0
		for b.Loop() {
			q, in := pair(next)
			next++
			if err := s.PutProgress(q); err != nil {
				b.Fatal(err)
			}
			if _, fresh, err := s.BeginIntent(in); err != nil || !fresh {
				b.Fatal(err, fresh)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/seq")
	})
}

// (b) Status-event ingest: 64 goroutines calling PutGroupStatus (group
// commit), next to raw puts batched 1,000 per transaction.
func BenchmarkStoreStatusIngest(b *testing.B) {
	const events = 20000
	gs := func(i int) GroupStatus {
		return GroupStatus{CampaignDBID: int32(i % 5000), GroupDBID: 7, Status: 5, Dials: int64(i), At: time.Unix(int64(i), 0)}
	}
	for _, writers := range []int{64, 1000} {
		b.Run(fmt.Sprintf("store-group-commit-%d-writers", writers), func(b *testing.B) {
			s, _ := openTemp(b, Options{})
			defer s.Close()
			for b.Loop() {
				var wg sync.WaitGroup
				for w := 0; w < writers; w++ {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for i := w; i < events; i += writers {
							if err := s.PutGroupStatus(gs(i)); err != nil {
								b.Error(err)
								return
							}
						}
					}()
				}
				wg.Wait()
			}
			b.ReportMetric(float64(events)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
	// Hand-built calls of 1,000 observations each, the size of call the
	// reconciler's recorder makes: the store's side of that path only. The
	// recorder itself runs in reconcile's BenchmarkRecorderStatusIngest.
	b.Run("store-1000-per-call", func(b *testing.B) {
		s, _ := openTemp(b, Options{})
		defer s.Close()
		batch := make([]GroupStatus, 1000)
		for b.Loop() {
			for start := 0; start < events; start += 1000 {
				for i := range batch {
					batch[i] = gs(start + i)
				}
				if err := s.PutGroupStatus(batch...); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.ReportMetric(float64(events)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
	})
	b.Run("raw-bbolt-1000-per-tx", func(b *testing.B) {
		db, _ := bolt.Open(filepath.Join(b.TempDir(), "raw.db"), 0o600, nil)
		defer db.Close()
		db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("g")); return err })
		for b.Loop() {
			for start := 0; start < events; start += 1000 {
				db.Update(func(tx *bolt.Tx) error {
					bk := tx.Bucket([]byte("g"))
					for i := start; i < start+1000; i++ {
						raw, _ := json.Marshal(gs(i))
						bk.Put(groupKey(gs(i).CampaignDBID, 7), raw)
					}
					return nil
				})
			}
		}
		b.ReportMetric(float64(events)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
	})
}

// (c) Reopen a store holding 10,000 sequences and read all their progress.
func BenchmarkStoreReopen10000Sequences(b *testing.B) {
	path := filepath.Join(b.TempDir(), FileName)
	s, err := Open(path, Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < 10000; i++ {
		s.PutProgress(Progress{Sequence: fmt.Sprintf("seq-%05d", i), SpecHash: "h", LastScheduled: time.Unix(int64(i), 0),
			Run: &Run{ID: fmt.Sprintf("seq-%05d@x", i), ItemName: "a", ItemState: "dialing"}})
	}
	s.Close()
	for b.Loop() {
		s, err := Open(path, Options{})
		if err != nil {
			b.Fatal(err)
		}
		all, err := s.AllProgress()
		if err != nil || len(all) != 10000 {
			b.Fatalf("%d %v", len(all), err)
		}
		s.Close()
	}
}
