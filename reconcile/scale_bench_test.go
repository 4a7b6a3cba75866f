package reconcile_test

// Scale benchmarks (issue #16), written against the package's public API
// only: reconcile.New/Run, a real store.Store on disk, and ocssim served
// over loopback TCP to the real bridge client, the path `sequencer run
// --ocs bridge://…` takes. Ground truth for "when did a request leave" is
// the simulator's transcript (the instant it received the request), not
// anything the loop reports about itself.
//
// They are slow to set up (thousands of sequences, fsync on): run them one
// at a time with -benchtime=1x, e.g.
//
//	go test ./reconcile -run '^$' -bench 'Burst10000' -benchtime=1x -timeout 60m

import (
	"cmp"
	"context"
	"crypto/sha256"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sequencer-dev/sequencer/ocs"
	"github.com/sequencer-dev/sequencer/ocs/bridge"
	"github.com/sequencer-dev/sequencer/ocs/ocssim"
	"github.com/sequencer-dev/sequencer/reconcile"
	"github.com/sequencer-dev/sequencer/specs"
	"github.com/sequencer-dev/sequencer/store"
)

var (
	// The instant everything is due must lie beyond the time the loop
	// takes to see the specs for the first time (one progress write per
	// sequence): a start found already due while the loop is still busy
	// with the snapshot measures the snapshot, not the burst. Zero: a
	// default sized for one fsync'd write per sequence.
	scaleLead = flag.Duration("scale.lead", 0, "BenchmarkBurst…: time from the snapshot to the shared start instant (0: 10s + 6ms per sequence)")
	stopLead  = flag.Duration("scale.stoplead", 0, "BenchmarkStopLateness…: time from the snapshot to the shared stop instant (0: 20s + 40ms per sequence, sized for one fsync per write)")
	scaleN    = flag.Int("scale.n", 0, "a smoke check: this many sequences instead of the 10,000 of BenchmarkBurst… and BenchmarkStopLateness…")
	idleFor   = flag.Duration("scale.idle", 31*time.Second, "BenchmarkIdleCPU…: wall time measured (longer than Resync, so one resync falls in it)")
	// go test's -cpuprofile covers the setup too, which at 10,000
	// sequences is most of the run.
	windowProfile = flag.String("scale.cpuprofile", "", "BenchmarkBurst… and BenchmarkStopLateness…: write a CPU profile of the 3 s after the due instant (from 200 ms before it) to this file")
	windowAllocs  = flag.String("scale.allocprofile", "", "as -scale.cpuprofile, for allocations: FILE.base at the start of the window and FILE at its end (go tool pprof -sample_index=alloc_space -base FILE.base FILE)")
)

// writeAllocs writes the cumulative allocation profile to path.
func writeAllocs(b *testing.B, path string) {
	f, err := os.Create(path)
	if err != nil {
		b.Error(err)
		return
	}
	defer f.Close()
	if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
		b.Error(err)
	}
}

// profileWindow profiles the process from 200 ms before due to 3 s after
// it, when -scale.cpuprofile names a file.
func profileWindow(b *testing.B, due time.Time) {
	if *windowAllocs != "" {
		var began sync.WaitGroup
		began.Add(1)
		end := sync.OnceFunc(func() { began.Wait(); writeAllocs(b, *windowAllocs) })
		time.AfterFunc(time.Until(due.Add(-200*time.Millisecond)), func() {
			writeAllocs(b, *windowAllocs+".base")
			began.Done()
			time.AfterFunc(3200*time.Millisecond, end)
		})
		b.Cleanup(end) // the run may end before the window does
	}
	if *windowProfile == "" {
		return
	}
	f, err := os.Create(*windowProfile)
	if err != nil {
		b.Fatal(err)
	}
	var once sync.Once
	stop := func() { once.Do(func() { pprof.StopCPUProfile(); f.Close() }) }
	time.AfterFunc(time.Until(due.Add(-200*time.Millisecond)), func() {
		if err := pprof.StartCPUProfile(f); err != nil {
			b.Errorf("cpu profile: %v", err)
			return
		}
		time.AfterFunc(3200*time.Millisecond, stop)
	})
	b.Cleanup(stop) // the run may end before the window does
}

// scaleResync is the daemon's default (reconcile.Config.Resync): the idle
// benchmarks use it explicitly so that what they measure includes it.
const scaleResync = 30 * time.Second

// onlyStore hides every method of the store beyond reconcile.Store, so the
// loop cannot find an optional one (group Commit) and writes each record
// on its own: the per-request-fsync baseline.
type onlyStore struct{ reconcile.Store }

// simTCP serves sim on a loopback TCP port and returns a bridge client
// connected to it.
func simTCP(b *testing.B, sim *ocssim.Sim) *bridge.Client {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go sim.Serve(c)
		}
	}()
	addr := ln.Addr().String()
	link := bridge.New(func(ctx context.Context) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "tcp", addr)
	}, bridge.Options{Counters: true})
	b.Cleanup(func() { link.Close(); ln.Close(); sim.Close() })
	return link
}

// sentLink is the bridge client, noting when each StartDialing was
// written to the socket (SendAsync returns once its requests are written):
// the daemon's side of a start, before the simulator's queue.
type sentLink struct {
	*bridge.Client
	mu     sync.Mutex
	starts []time.Time
}

func (l *sentLink) SendAsync(reqs []ocs.Message, timeout time.Duration, done func(int, ocs.Message, error)) {
	l.Client.SendAsync(reqs, timeout, done)
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, r := range reqs {
		if r.Type == ocs.ReqStartDialing {
			l.starts = append(l.starts, now)
		}
	}
}

func (l *sentLink) written() []time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.starts)
}

// simWith configures n campaign groups, campaigns 100000…100000+n-1 on
// group 732, with lists that never run dry during a benchmark.
func simWith(n int) ocssim.Config {
	cfg := ocssim.Default()
	cfg.Campaigns, cfg.CampaignGroups = nil, nil
	cfg.Groups = []ocssim.Group{{DBID: 732, Name: "Collections Team"}}
	for i := range n {
		c := campaignOf(i)
		cfg.Campaigns = append(cfg.Campaigns, ocssim.Campaign{DBID: c, Name: fmt.Sprintf("C%d", c)})
		cfg.CampaignGroups = append(cfg.CampaignGroups, ocssim.CampaignGroup{CampaignDBID: c, GroupDBID: 732, Records: 10_000_000})
	}
	return cfg
}

func campaignOf(i int) int32 { return int32(100000 + i) }

// oneItem is a sequence named s<i> with one progressive item on its own
// campaign group.
func oneItem(i int, start specs.Start, stop specs.StopAt) *specs.Sequence {
	it := specs.Item{Name: "only", CampaignDBID: campaignOf(i), GroupDBID: 732, DialMode: ocs.DialModeProgress, StopAt: stop}
	s := &specs.Sequence{Name: fmt.Sprintf("s%06d", i), TimeZone: "UTC", Location: time.UTC, Engine: specs.EngineSequencer,
		OnDelete: specs.OnDeleteStop, Items: []specs.Item{it}, Start: start, Generation: 1}
	h := sha256.Sum256(fmt.Appendf(nil, "%+v|%+v|%+v", s.Items, s.Start, s.Engine))
	s.Hash = fmt.Sprintf("%x", h[:8])
	return s
}

func snapshotOf(n int, f func(i int) *specs.Sequence) specs.Snapshot {
	snap := specs.Snapshot{Sequences: make(map[string]*specs.Sequence, n)}
	for i := range n {
		s := f(i)
		snap.Sequences[s.Name] = s
	}
	return snap
}

// runLoop runs a reconciler on st and link until the benchmark ends.
func runLoop(b *testing.B, st reconcile.Store, link ocs.Link, resync time.Duration) (*reconcile.Reconciler, chan specs.Snapshot) {
	return runLoopWith(b, reconcile.Config{Link: link, Store: st, Resync: resync})
}

func runLoopWith(b *testing.B, cfg reconcile.Config) (*reconcile.Reconciler, chan specs.Snapshot) {
	rec := reconcile.New(cfg)
	snaps := make(chan specs.Snapshot, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- rec.Run(ctx, snaps) }()
	b.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			b.Errorf("loop: %v", err)
		}
	})
	return rec, snaps
}

func openStore(b *testing.B, noSync bool) *store.Store {
	st, err := store.Open(filepath.Join(b.TempDir(), "sequencer.db"), store.Options{NoSync: noSync})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	return st
}

// waitAll polls the published status until every one of n sequences
// satisfies ok, or fails the benchmark at deadline.
func waitAll(b *testing.B, rec *reconcile.Reconciler, n int, what string, deadline time.Time, ok func(reconcile.SequenceStatus) bool) {
	b.Helper()
	for {
		c := 0
		for _, s := range rec.Sequences() {
			if ok(s) {
				c++
			}
		}
		if c == n {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d sequences %s by %s", c, n, what, deadline.Format(time.TimeOnly))
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// firstOf returns, per campaign, the instant the simulator first received a
// request of type t, once it has one for each of n campaigns.
func firstOf(b *testing.B, sim *ocssim.Sim, t ocs.MessageType, n int, timeout time.Duration) []time.Time {
	b.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if sim.Received(t) < n { // cheap: the full scan copies the transcript
			if time.Now().After(deadline) {
				b.Fatalf("the simulator received %d %s requests, fewer than %d campaign groups, within %s", sim.Received(t), t, n, timeout)
			}
			time.Sleep(100 * time.Millisecond)
			continue
		}
		seen := map[int32]time.Time{}
		for _, r := range sim.Transcript() {
			if r.Msg.Type != t {
				continue
			}
			if _, ok := seen[r.Msg.CampaignDBID]; !ok {
				seen[r.Msg.CampaignDBID] = r.At
			}
		}
		if len(seen) >= n {
			out := make([]time.Time, 0, len(seen))
			for _, at := range seen {
				out = append(out, at)
			}
			slices.SortFunc(out, time.Time.Compare)
			return out
		}
		if time.Now().After(deadline) {
			b.Fatalf("the simulator received %s for %d of %d campaign groups within %s", t, len(seen), n, timeout)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// lateness reports each instant's delay after due, sorted.
func lateness(ats []time.Time, due time.Time) []time.Duration {
	out := make([]time.Duration, len(ats))
	for i, at := range ats {
		out[i] = at.Sub(due)
	}
	slices.Sort(out)
	return out
}

func quantile(ds []time.Duration, q float64) time.Duration { return ds[int(float64(len(ds)-1)*q)] }

// BenchmarkBurst10000SequencesDueTheSameMinute: 10,000 sequences whose
// single item starts at one instant T, real loop, bbolt with fsync, the
// simulator over loopback TCP. last-start-s is T → the last
// CM_ReqStartDialing the simulator received. group-commit hands the loop
// the store itself; per-request-fsync hides everything but
// reconcile.Store (the baseline, same run).
func BenchmarkBurst10000SequencesDueTheSameMinute(b *testing.B) {
	n := cmp.Or(*scaleN, 10000)
	for _, c := range []struct {
		name string
		wrap func(*store.Store) reconcile.Store
	}{
		{"group-commit", func(s *store.Store) reconcile.Store { return s }},
		{"per-request-fsync", func(s *store.Store) reconcile.Store { return onlyStore{s} }},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				sim := ocssim.New(simWith(n))
				link := &sentLink{Client: simTCP(b, sim)}
				st := openStore(b, false)
				m := &stopMetrics{}
				rec, snaps := runLoopWith(b, reconcile.Config{Link: link, Store: c.wrap(st), Metrics: m})
				lead := *scaleLead
				if lead == 0 {
					lead = 10*time.Second + time.Duration(n)*6*time.Millisecond
				}
				due := time.Now().Add(lead).Truncate(time.Second)
				stop := specs.StopAt{Time: specs.StopTime{Kind: specs.StopAfter, After: 10 * time.Hour}}
				snaps <- snapshotOf(n, func(i int) *specs.Sequence { return oneItem(i, specs.Start{At: due}, stop) })
				waitAll(b, rec, n, "waiting for the start", due.Add(-time.Second), func(s reconcile.SequenceStatus) bool {
					return s.Phase == reconcile.PhaseWaiting && s.NextActionAt.Equal(due)
				})
				profileWindow(b, due)
				b.StartTimer()
				starts := firstOf(b, sim, ocs.ReqStartDialing, n, time.Until(due)+20*time.Minute)
				late := lateness(starts, due)
				for _, ty := range []ocs.MessageType{ocs.ReqGetCampaignStatus, ocs.ReqLoadCampaign, ocs.ReqStartDialing} {
					l := lateness(firstOf(b, sim, ty, n, time.Minute), due)
					b.Logf("%s first %s p50 %s last %s", ty, l[0], quantile(l, 0.5), quantile(l, 1))
				}
				m.commitsAround(b, due)
				if w := lateness(link.written(), due); len(w) > 0 {
					b.ReportMetric(quantile(w, 1).Seconds(), "last-start-sent-s")
				}
				b.ReportMetric(quantile(late, 1).Seconds(), "last-start-s")
				b.ReportMetric(quantile(late, 0.5).Seconds(), "p50-start-s")
				b.ReportMetric(float64(n)/quantile(late, 1).Seconds(), "starts/s")
			}
		})
	}
}

// BenchmarkIdleLoopIteration100000 times one turn of the loop with nothing
// due: a ReconcileNow of a waiting sequence goes through the loop's command
// channel, is applied and answered inside a turn, and the next call is
// accepted only when the loop is back in its select, so ns/op is the whole
// turn. 100,000 waiting sequences next to 1 (the baseline, same run).
// The store is bbolt without fsync: an idle turn writes nothing, and a
// first sight of 100,000 sequences with fsync would take minutes.
func BenchmarkIdleLoopIteration100000(b *testing.B) {
	for _, n := range []int{1, 100000} {
		b.Run(fmt.Sprintf("sequences=%d", n), func(b *testing.B) {
			rec := idleLoop(b, n)
			ctx := context.Background()
			i := 0
			b.ResetTimer()
			for b.Loop() {
				if err := rec.ReconcileNow(ctx, fmt.Sprintf("s%06d", i%n)); err != nil {
					b.Fatal(err)
				}
				i++
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/turn")
		})
	}
}

// idleLoop runs a loop with n sequences whose next start is days ahead and
// returns once every one is published as waiting.
func idleLoop(b *testing.B, n int) *reconcile.Reconciler {
	link := simTCP(b, ocssim.New(simWith(n)))
	rec, snaps := runLoop(b, openStore(b, true), link, scaleResync)
	far := time.Now().Add(10 * 24 * time.Hour).Truncate(time.Second)
	snaps <- snapshotOf(n, func(i int) *specs.Sequence { return oneItem(i, specs.Start{At: far}, specs.StopAt{Dials: 500}) })
	waitAll(b, rec, n, "waiting", time.Now().Add(10*time.Minute), func(s reconcile.SequenceStatus) bool {
		return s.Phase == reconcile.PhaseWaiting
	})
	return rec
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		panic(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkIdleCPU100000 reports the CPU the process spends (user+sys,
// getrusage) per second of wall time while the loop holds 100,000
// sequences waiting days ahead, with the daemon's 30 s resync, over
// -scale.idle (31 s: one resync falls in it). Baseline: 0 sequences, same
// run. The simulator link is up and idle in both.
func BenchmarkIdleCPU100000(b *testing.B) {
	for _, n := range []int{0, 100000} {
		b.Run(fmt.Sprintf("sequences=%d", n), func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				if n > 0 {
					idleLoop(b, n)
				} else {
					runLoop(b, openStore(b, true), simTCP(b, ocssim.New(simWith(0))), scaleResync)
				}
				time.Sleep(time.Second) // the first sight's garbage is collected
				cpu0, wall0 := cpuTime(), time.Now()
				b.StartTimer()
				time.Sleep(*idleFor)
				cpu, wall := cpuTime()-cpu0, time.Since(wall0)
				b.ReportMetric(100*cpu.Seconds()/wall.Seconds(), "cpu-%")
			}
		})
	}
}

// BenchmarkStopLateness10000 reports how late, after one shared stop
// instant, the simulator received CM_ReqStopDialing for each of 10,000
// dialing items (p50, p99, last); baseline: 1 item, same run. The items
// start as soon as loaded, and the stop instant lies -scale.stoplead after
// the snapshot, beyond the time they all take to reach dialing. bbolt
// with fsync; the simulator over loopback TCP.
func BenchmarkStopLateness10000(b *testing.B) {
	for _, n := range []int{1, cmp.Or(*scaleN, 10000)} {
		b.Run(fmt.Sprintf("items=%d", n), func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				sim := ocssim.New(simWith(n))
				link := simTCP(b, sim)
				m := &stopMetrics{}
				rec, snaps := runLoopWith(b, reconcile.Config{Link: link, Store: openStore(b, false), Metrics: m})
				lead := *stopLead
				if lead == 0 {
					lead = 20*time.Second + time.Duration(n)*40*time.Millisecond
				}
				at := time.Now().Add(lead).Truncate(time.Second)
				stop := specs.StopAt{Time: specs.StopTime{Kind: specs.StopAbsolute, At: at}}
				snaps <- snapshotOf(n, func(i int) *specs.Sequence { return oneItem(i, specs.Start{}, stop) })
				waitAll(b, rec, n, "dialing", at.Add(-time.Second), func(s reconcile.SequenceStatus) bool {
					return s.ItemState == "dialing"
				})
				profileWindow(b, at)
				b.StartTimer()
				stops := firstOf(b, sim, ocs.ReqStopDialing, n, time.Until(at)+20*time.Minute)
				late := lateness(stops, at)
				m.commitsAround(b, at)
				b.ReportMetric(float64(quantile(late, 0.5).Microseconds())/1000, "p50-ms")
				b.ReportMetric(float64(quantile(late, 0.99).Microseconds())/1000, "p99-ms")
				b.ReportMetric(float64(quantile(late, 1).Microseconds())/1000, "last-ms")
				// The daemon's own sequencer_stop_lateness_seconds: stop
				// time → StopDialing written to the socket. The figures
				// above add the simulator's queue: it reads and answers
				// one request at a time on the same two cores.
				left := m.stops()
				b.ReportMetric(float64(quantile(left, 0.99).Microseconds())/1000, "left-p99-ms")
			}
		})
	}
}

// stopMetrics keeps the loop's stop lateness observations, and when each
// commit ended, its size and how long it took.
type stopMetrics struct {
	mu      sync.Mutex
	stop    []time.Duration
	commits []commitObs
	passes  []time.Time // when each pass ended
}

type commitObs struct {
	end  time.Time
	n    int
	took time.Duration
}

// commitsAround logs the commits that ended within 3 s after due.
func (m *stopMetrics) commitsAround(b *testing.B, due time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var line []string
	var total time.Duration
	for _, c := range m.commits {
		if c.end.Before(due.Add(-time.Second)) || c.end.After(due.Add(3*time.Second)) {
			continue
		}
		total += c.took
		line = append(line, fmt.Sprintf("%s:%d/%s", c.end.Sub(due).Round(time.Millisecond), c.n, c.took.Round(100*time.Microsecond)))
	}
	var ps []time.Duration
	for _, p := range m.passes {
		if !p.Before(due) && p.Before(due.Add(3*time.Second)) {
			ps = append(ps, p.Sub(due))
		}
	}
	if len(ps) > 0 {
		b.Logf("%d passes ended within 3 s after the instant: first %s, 512th %s, p50 %s, p99 %s, last %s", len(ps), ps[0], ps[min(511, len(ps)-1)], quantile(ps, 0.5), quantile(ps, 0.99), ps[len(ps)-1])
	}
	b.Logf("%d commits from 1 s before to 3 s after the instant, %s in all (ended at:writes/took): %v", len(line), total.Round(time.Millisecond), line)
}

func (m *stopMetrics) Pass(string, time.Duration) {
	m.mu.Lock()
	m.passes = append(m.passes, time.Now())
	m.mu.Unlock()
}
func (m *stopMetrics) Request(string, string, time.Duration) {}
func (m *stopMetrics) StartLateness(time.Duration)           {}
func (m *stopMetrics) SpecReload(bool)                       {}
func (m *stopMetrics) Commit(n int, d time.Duration, _ error) {
	m.mu.Lock()
	m.commits = append(m.commits, commitObs{time.Now(), n, d})
	m.mu.Unlock()
}
func (m *stopMetrics) StopLateness(d time.Duration) {
	m.mu.Lock()
	m.stop = append(m.stop, d)
	m.mu.Unlock()
}

func (m *stopMetrics) stops() []time.Duration {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := slices.Clone(m.stop)
	slices.Sort(out)
	return out
}
