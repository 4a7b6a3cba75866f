package dnc_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/sequencer-dev/sequencer/dnc"
	"github.com/sequencer-dev/sequencer/ocs"
	"github.com/sequencer-dev/sequencer/ocs/bridge"
	"github.com/sequencer-dev/sequencer/ocs/ocssim"
	"github.com/sequencer-dev/sequencer/specs"
	"github.com/sequencer-dev/sequencer/store"
)

const benchEntries = 100_000

func benchLink(b *testing.B) (*ocssim.Sim, *bridge.Client) {
	d := newDN(b, 1)
	return d.sims[0], d.link
}

func bigList(n int) specs.Snapshot {
	l := &specs.DoNotCallList{Name: "big", TargetAppDBID: 120, Entries: make([]specs.DNCEntry, n)}
	for i := range l.Entries {
		l.Entries[i].Phone = fmt.Sprintf("+1666%07d", i)
	}
	return specs.Snapshot{DNCLists: map[string]*specs.DoNotCallList{"big": l}}
}

// applyList runs Lists over st until every entry is settled and returns
// the time it took.
func applyList(b *testing.B, link *bridge.Client, st *store.Store, snap specs.Snapshot, want int) time.Duration {
	l := dnc.NewLists(dnc.Config{Sender: dnc.NewClient(link, 310, 5*time.Second), Store: st})
	ctx, cancel := context.WithCancel(context.Background())
	snaps := make(chan specs.Snapshot, 1)
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- l.Run(ctx, snaps) }()
	snaps <- snap
	for {
		if s := l.Status(); len(s) == 1 && s[0].Processed == want {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	took := time.Since(start)
	cancel()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	return took
}

func requests(sim *ocssim.Sim) int {
	n := 0
	for _, r := range sim.Transcript() {
		if r.Msg.Type == ocs.ReqDoNotCall {
			n++
		}
	}
	return n
}

// BenchmarkDNCList applies a DoNotCallList of 100,000 entries to the
// simulator over the bridge framing, and, in the same run, the baseline of
// sending entries one request at a time; then restarts on the same store
// and reports how many requests the restart sent (want 0). The rtt-1ms
// variants delay every answer by 1 ms, as a T-Server round trip does; that
// is where keeping requests in flight pays. The store fsyncs as the
// daemon's does: outcomes reach the disk in one transaction per flush.
func BenchmarkDNCList(b *testing.B) {
	snap := bigList(benchEntries)
	for _, rtt := range []time.Duration{0, time.Millisecond} {
		b.Run(fmt.Sprintf("list-100k/rtt-%s", rtt), func(b *testing.B) {
			for range b.N {
				sim, link := benchLink(b)
				sim.DelayAnswers(rtt)
				path := filepath.Join(b.TempDir(), "db")
				st, err := store.Open(path, store.Options{}) // fsync on, as the daemon runs
				if err != nil {
					b.Fatal(err)
				}
				took := applyList(b, link, st, snap, benchEntries)
				b.ReportMetric(float64(benchEntries)/took.Seconds(), "entries/s")
				sent := requests(sim)
				restart := applyList(b, link, st, snap, benchEntries)
				b.ReportMetric(float64(requests(sim)-sent), "resubmitted-after-restart")
				b.ReportMetric(float64(restart.Milliseconds()), "restart-ms")
				st.Close()
			}
		})
		b.Run(fmt.Sprintf("one-at-a-time-baseline/rtt-%s", rtt), func(b *testing.B) {
			n := benchEntries
			if rtt > 0 {
				n = 2000 // 100,000 round trips of 1 ms would take 100 s
			}
			for range b.N {
				sim, link := benchLink(b)
				sim.DelayAnswers(rtt)
				c := dnc.NewClient(link, 310, 5*time.Second)
				start := time.Now()
				for _, e := range snap.DNCLists["big"].Entries[:n] {
					if _, err := c.DoNotCall(context.Background(), 120, ocs.Record{Phone: e.Phone}); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(n)/time.Since(start).Seconds(), "entries/s")
			}
		})
	}
}
