package reconcile

import (
	"log/slog"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sequencer-dev/sequencer/store"
)

// BenchmarkRecorderStatusIngest drives the daemon's own recorder: the
// loop's side calls r.rec.group for each observed campaign-group status,
// the recorder's goroutine drains whatever piled up into one
// PutGroupStatus per flush, on a bbolt store with fsync on. The clock runs
// from the first observation until the recorder has flushed the last one
// (its stop). "distinct" gives every observation its own group, so nothing
// coalesces; "4-per-group" observes 5,000 groups 4 times each, as polls
// do, and only the latest of each is written. Baseline in the same run:
// the same 20,000 distinct observations handed to PutGroupStatus in
// hand-built calls of 1,000 (the store's side alone; package store alone
// may open bbolt, and compares with raw bbolt in its own benchmark).
func BenchmarkRecorderStatusIngest(b *testing.B) {
	const events = 20000
	for _, tc := range []struct {
		name   string
		groups int
	}{{"recorder-distinct-groups", events}, {"recorder-4-per-group", 5000}} {
		b.Run(tc.name, func(b *testing.B) {
			st, err := store.Open(filepath.Join(b.TempDir(), "r.db"), store.Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			cs := &countingStore{Store: st}
			for b.Loop() {
				rec := newRecorder(cs, slog.New(slog.DiscardHandler))
				stop := make(chan struct{})
				go rec.run(stop)
				for i := range events {
					rec.group(store.GroupStatus{CampaignDBID: int32(i % tc.groups), GroupDBID: 7, Status: 5, Dials: int64(i), At: time.Unix(int64(i), 0)})
				}
				close(stop)
				<-rec.done
			}
			b.ReportMetric(float64(events)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
			b.ReportMetric(float64(cs.puts.Load())/float64(b.N), "writes/op")
			all, err := st.GroupStatuses()
			if err != nil || len(all) != tc.groups {
				b.Fatalf("%d group statuses stored, want %d (%v)", len(all), tc.groups, err)
			}
			for _, g := range all {
				if want := int64(events - tc.groups + int(g.CampaignDBID)); g.Dials != want {
					b.Fatalf("group %d: dials %d, want the latest observation's %d", g.CampaignDBID, g.Dials, want)
				}
			}
		})
	}
	b.Run("store-1000-per-call-baseline", func(b *testing.B) {
		st, err := store.Open(filepath.Join(b.TempDir(), "r.db"), store.Options{})
		if err != nil {
			b.Fatal(err)
		}
		defer st.Close()
		batch := make([]store.GroupStatus, 1000)
		for b.Loop() {
			for start := 0; start < events; start += 1000 {
				for i := range batch {
					batch[i] = store.GroupStatus{CampaignDBID: int32(start + i), GroupDBID: 7, Status: 5, Dials: int64(start + i)}
				}
				if err := st.PutGroupStatus(batch...); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.ReportMetric(float64(events)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
	})
}

// countingStore counts the recorder's writes.
type countingStore struct {
	*store.Store
	puts atomic.Int64
}

func (c *countingStore) PutGroupStatus(gs ...store.GroupStatus) error {
	c.puts.Add(1)
	return c.Store.PutGroupStatus(gs...)
}
