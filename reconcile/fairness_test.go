package reconcile

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sequencer-dev/sequencer/ocs"
	"github.com/sequencer-dev/sequencer/ocs/bridge"
	"github.com/sequencer-dev/sequencer/ocs/ocssim"
	"github.com/sequencer-dev/sequencer/specs"
	"github.com/sequencer-dev/sequencer/store"
)

// lateMetrics records what the loop measures.
type lateMetrics struct {
	noMetrics
	mu          sync.Mutex
	start, stop []time.Duration
	passes      atomic.Int64
}

func (m *lateMetrics) StartLateness(d time.Duration) {
	m.mu.Lock()
	m.start = append(m.start, d)
	m.mu.Unlock()
}
func (m *lateMetrics) StopLateness(d time.Duration) {
	m.mu.Lock()
	m.stop = append(m.stop, d)
	m.mu.Unlock()
}
func (m *lateMetrics) Pass(string, time.Duration) { m.passes.Add(1) }

func (m *lateMetrics) got() (start, stop []time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]time.Duration(nil), m.start...), append([]time.Duration(nil), m.stop...)
}

// gatedRig runs the loop against the simulator over a link whose dial can
// be refused, as when OCS is unreachable.
type gatedRig struct {
	sim    *ocssim.Sim
	down   atomic.Bool
	st     *store.Store
	m      *lateMetrics
	r      *Reconciler
	snaps  chan specs.Snapshot
	cancel context.CancelFunc
	done   chan error
	link   *bridge.Client
}

// newGatedRig starts the rig; prep, when set, prepares the store and
// returns what the loop writes to (the store itself or a wrapper).
func newGatedRig(t *testing.T, cfg ocssim.Config, prep func(st *store.Store) Store) *gatedRig {
	g := &gatedRig{sim: ocssim.New(cfg), m: &lateMetrics{}}
	st, err := store.Open(filepath.Join(t.TempDir(), "sequencer.db"), store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	var loopStore Store = st
	if prep != nil {
		loopStore = prep(st)
	}
	g.st = st
	g.link = bridge.New(func(ctx context.Context) (net.Conn, error) {
		if g.down.Load() {
			return nil, errors.New("connection refused")
		}
		a, b := net.Pipe()
		go g.sim.Serve(b)
		return a, nil
	}, bridge.Options{Counters: true, BackoffMin: time.Second, BackoffMax: time.Second})
	g.r = New(Config{Link: g.link, Store: loopStore, Metrics: g.m})
	g.snaps = make(chan specs.Snapshot, 1)
	ctx, cancel := context.WithCancel(context.Background())
	g.cancel, g.done = cancel, make(chan error, 1)
	go func() { g.done <- g.r.Run(ctx, g.snaps) }()
	t.Cleanup(func() {
		g.cancel()
		<-g.done
		g.link.Close()
		g.st.Close()
		g.sim.Close()
	})
	return g
}

// outage takes OCS away from the instant from, for d: connections are
// refused and the current one is dropped.
func (g *gatedRig) outage(from time.Time, d time.Duration) {
	time.Sleep(time.Until(from))
	g.down.Store(true)
	g.sim.Disconnect()
	time.Sleep(d)
	g.down.Store(false)
}

// oneShot is sequence "evening": one item on campaign 1000, group 5000,
// starting at t0.
func oneShot(t0 time.Time, stop specs.StopAt) specs.Snapshot {
	it := item("only", 1000, ocs.DialModeProgress)
	it.GroupDBID = 5000
	it.StopAt = stop
	s := seq("evening", it)
	s.Start.At = t0
	return specs.Snapshot{Sequences: map[string]*specs.Sequence{s.Name: rehash(s)}}
}

func TestABurstAfterARestartLeavesInTheOrderItFellDueThenByName(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		t0 := time.Date(2026, 12, 2, 18, 0, 0, 0, time.UTC)
		time.Sleep(time.Until(t0.Add(10 * time.Second)))
		// Six one-shots due a second apart from 18:00, named so that their
		// names run against their due order; the daemon comes back at
		// 18:00:10 and finds them all due.
		const n = 6
		snap := specs.Snapshot{Sequences: map[string]*specs.Sequence{}}
		var progress []store.Progress
		for i := range n {
			it := item("only", int32(1000+i), ocs.DialModeProgress)
			it.GroupDBID = 5000
			s := seq(fmt.Sprintf("z-%d", n-i), it)
			s.Start = specs.Start{At: t0.Add(time.Duration(i) * time.Second), StartingDeadline: time.Hour}
			snap.Sequences[s.Name] = rehash(s)
			progress = append(progress, store.Progress{Sequence: s.Name, SpecHash: s.Hash, Generation: 1, LastScheduled: t0.Add(-time.Hour)})
		}
		g := newGatedRig(t, burstConfig(n), func(st *store.Store) Store {
			for _, p := range progress {
				st.PutProgress(p)
			}
			return st
		})
		synctest.Wait() // connected
		g.snaps <- snap
		time.Sleep(5 * time.Second)
		synctest.Wait()
		var order []int32
		seen := map[int32]bool{}
		for _, rec := range g.sim.Transcript() {
			if c := rec.Msg.CampaignDBID; !seen[c] {
				seen[c] = true
				order = append(order, c)
			}
		}
		want := []int32{1000, 1001, 1002, 1003, 1004, 1005}
		if fmt.Sprint(order) != fmt.Sprint(want) {
			t.Errorf("first requests reached OCS for campaigns %v, want the order they fell due %v", order, want)
		}
	})
}

func TestStartLatenessRunsUntilTheRunsFirstRequestLeftNotUntilTheRunWasDecided(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		t0 := time.Date(2026, 12, 2, 18, 0, 0, 0, time.UTC)
		time.Sleep(time.Until(t0.Add(-time.Minute)))
		g := newGatedRig(t, burstConfig(1), nil)
		synctest.Wait()
		g.snaps <- oneShot(t0, specs.StopAt{})
		// OCS goes away just before the start and is back 4 s after it:
		// the run starts on time, its first request leaves 4 s late.
		g.outage(t0.Add(-2*time.Second), 6*time.Second)
		time.Sleep(10 * time.Second)
		synctest.Wait()
		start, _ := g.m.got()
		if len(start) != 1 {
			t.Fatalf("start lateness observed %d times, want once: %v", len(start), start)
		}
		if start[0] < 4*time.Second || start[0] > 6*time.Second {
			t.Errorf("start lateness %s, want the 4-5 s until the first request could leave", start[0])
		}
	})
}

func TestStopLatenessRunsFromTheStopTimeUntilStopDialingLeft(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		t0 := time.Date(2026, 12, 2, 18, 0, 0, 0, time.UTC)
		time.Sleep(time.Until(t0.Add(-time.Minute)))
		g := newGatedRig(t, burstConfig(1), nil)
		synctest.Wait()
		g.snaps <- oneShot(t0, specs.StopAt{Time: after(10 * time.Minute)})
		time.Sleep(time.Until(t0.Add(5 * time.Minute)))
		synctest.Wait()
		if !g.sim.Dialing(1000, 5000) {
			t.Fatal("the item is not dialing")
		}
		// The link is down from just before the stop time until 3 s after.
		g.outage(t0.Add(10*time.Minute-time.Second), 4*time.Second)
		time.Sleep(10 * time.Second)
		synctest.Wait()
		_, stop := g.m.got()
		if len(stop) != 1 {
			t.Fatalf("stop lateness observed %d times, want once: %v", len(stop), stop)
		}
		if stop[0] < 3*time.Second || stop[0] > 5*time.Second {
			t.Errorf("stop lateness %s, want the 3-4 s until StopDialing could leave", stop[0])
		}
	})
}

func TestASequenceWaitingForItsNextStartIsNotLookedAtEveryResync(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := newGatedRig(t, burstConfig(1), nil)
		synctest.Wait()
		g.snaps <- oneShot(time.Now().Add(7*24*time.Hour), specs.StopAt{})
		synctest.Wait()
		before := g.m.passes.Load()
		time.Sleep(2 * time.Hour)
		synctest.Wait()
		// Every 30 s would be 240 passes; the idle net is 15 minutes.
		if got := g.m.passes.Load() - before; got > 10 {
			t.Errorf("%d passes over an idle sequence in 2 hours, want at most 10", got)
		}
		if len(g.sim.Transcript()) != 0 {
			t.Errorf("an idle sequence sent %d requests", len(g.sim.Transcript()))
		}
	})
}

// hangingStore is bbolt whose commits can hang, as on a disk that stops
// answering; fences makes it a store that fences a deposed leader (etcd).
type hangingStore struct {
	*store.Store
	hang   atomic.Bool
	resume chan struct{}
	fences bool
}

func (h *hangingStore) Commit(b *store.Batch) error {
	if h.hang.Load() {
		<-h.resume
	}
	return h.Store.Commit(b)
}

func (h *hangingStore) Fencing() bool { return h.fences }

// newHangingRig is the gated rig on a store whose commits hang while
// st.hang is set; the test closes st.resume once it is done with it.
func newHangingRig(t *testing.T, cfg ocssim.Config, fences bool) (*gatedRig, *hangingStore) {
	var st *hangingStore
	g := newGatedRig(t, cfg, func(raw *store.Store) Store {
		st = &hangingStore{Store: raw, resume: make(chan struct{}), fences: fences}
		return st
	})
	return g, st
}

func stopWhileTheDiskHangs(t *testing.T, fences bool) (stops int) {
	synctest.Test(t, func(t *testing.T) {
		t0 := time.Date(2026, 12, 2, 18, 0, 0, 0, time.UTC)
		time.Sleep(time.Until(t0.Add(-time.Minute)))
		g, st := newHangingRig(t, burstConfig(1), fences)
		synctest.Wait()
		g.snaps <- oneShot(t0, specs.StopAt{Time: after(10 * time.Minute)})
		time.Sleep(time.Until(t0.Add(10*time.Minute - 3*time.Second)))
		synctest.Wait()
		if !g.sim.Dialing(1000, 5000) {
			t.Fatal("the item is not dialing")
		}
		st.hang.Store(true)
		time.Sleep(10 * time.Second)
		synctest.Wait()
		for _, rec := range g.sim.Transcript() {
			if rec.Msg.Type == ocs.ReqStopDialing {
				stops++
			}
		}
		st.hang.Store(false)
		close(st.resume) // before the rig's cleanup stops a loop that may wait in Commit
	})
	return stops
}

func TestAStopLeavesAtItsTimeEvenWhileTheDiskHangs(t *testing.T) {
	if n := stopWhileTheDiskHangs(t, false); n != 1 {
		t.Errorf("%d StopDialing sent while the commit hung, want 1: a stop must not wait on the disk", n)
	}
}

func TestWithAStoreThatFencesAStopWaitsForTheCommitThatProvesLeadership(t *testing.T) {
	if n := stopWhileTheDiskHangs(t, true); n != 0 {
		t.Errorf("%d StopDialing sent before the fenced commit, want 0: a deposed leader would stop the new leader's item", n)
	}
}

func TestAPollWhoseAnswerOCSDropsIsGivenUpWithinSecondsNotTheRequestTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		t0 := time.Date(2026, 12, 2, 18, 0, 0, 0, time.UTC)
		time.Sleep(time.Until(t0.Add(-time.Minute)))
		cfg := burstConfig(1)
		cfg.Rates = ocssim.Default().Rates
		g := newGatedRig(t, cfg, nil)
		synctest.Wait()
		// Predictive dials 10 a second; the limit is 200 dials, 20 s in.
		it := item("only", 1000, ocs.DialModePredict)
		it.GroupDBID = 5000
		it.StopAt.Dials = 200
		s := seq("evening", it)
		s.Start.At = t0
		g.snaps <- specs.Snapshot{Sequences: map[string]*specs.Sequence{s.Name: rehash(s)}}
		time.Sleep(time.Until(t0.Add(14 * time.Second)))
		synctest.Wait()
		// The next poll's answer is lost 15 s into the item.
		g.sim.DropAnswers(1)
		time.Sleep(time.Minute)
		synctest.Wait()
		_, st := g.sim.Stats(1000, 5000)
		if st.Dials > 215 {
			t.Errorf("OCS dialed %d against a limit of 200: a dropped poll answer left the item unwatched for the whole request timeout", st.Dials)
		}
	})
}

// A commit runs beside the loop, not in it: while one hangs on the disk,
// the loop goes on deciding, and a stop it decides leaves at its time.
// With the commit on the loop, the start that hung it would also hold up
// every stop due after it.
func TestAStopLeavesAtItsTimeWhileAnotherSequencesCommitHangs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		t0 := time.Date(2026, 12, 2, 18, 0, 0, 0, time.UTC)
		time.Sleep(time.Until(t0.Add(-time.Minute)))
		g, st := newHangingRig(t, burstConfig(2), false)
		synctest.Wait()
		dialing := item("only", 1000, ocs.DialModeProgress)
		dialing.GroupDBID, dialing.StopAt.Time = 5000, after(10*time.Minute)
		evening := seq("evening", dialing)
		evening.Start.At = t0
		later := item("only", 1001, ocs.DialModeProgress)
		later.GroupDBID = 5000
		late := seq("late", later)
		late.Start.At = t0.Add(10*time.Minute - 5*time.Second)
		g.snaps <- specs.Snapshot{Sequences: map[string]*specs.Sequence{evening.Name: rehash(evening), late.Name: rehash(late)}}
		time.Sleep(time.Until(t0.Add(10*time.Minute - 10*time.Second)))
		synctest.Wait()
		if !g.sim.Dialing(1000, 5000) {
			t.Fatal("evening is not dialing")
		}
		// The disk stops answering before "late" starts: its run's first
		// commit (progress and the Load's intent) hangs.
		st.hang.Store(true)
		time.Sleep(20 * time.Second)
		synctest.Wait()
		var stops, loads int
		for _, rec := range g.sim.Transcript() {
			switch {
			case rec.Msg.Type == ocs.ReqStopDialing && rec.Msg.CampaignDBID == 1000:
				stops++
			case rec.Msg.Type == ocs.ReqLoadCampaign && rec.Msg.CampaignDBID == 1001:
				loads++
			}
		}
		if stops != 1 {
			t.Errorf("evening: %d StopDialing sent while late's commit hung, want 1", stops)
		}
		if loads != 0 {
			t.Errorf("late: %d LoadCampaign sent before its intent was committed, want 0", loads)
		}
		st.hang.Store(false)
		close(st.resume)
		time.Sleep(time.Minute)
		synctest.Wait()
		if !g.sim.Dialing(1001, 5000) {
			t.Error("late is not dialing a minute after the disk came back")
		}
	})
}

// A command whose change must be durable before it answers (suspend)
// commits at once, after the commit in flight. The requests that other
// sequences decided meanwhile, waiting for the next commit, stay queued:
// that commit is not theirs.
func TestACommandCommittingWhileRequestsWaitForTheNextCommitDoesNotDropThem(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		t0 := time.Date(2026, 12, 2, 18, 0, 0, 0, time.UTC)
		time.Sleep(time.Until(t0.Add(-time.Minute)))
		g, st := newHangingRig(t, burstConfig(3), false)
		mk := func(name string, campaign int32, at time.Time) *specs.Sequence {
			it := item("only", campaign, ocs.DialModeProgress)
			it.GroupDBID = 5000
			s := seq(name, it)
			s.Start.At = at
			return rehash(s)
		}
		a, b, c := mk("a", 1000, t0), mk("b", 1001, t0.Add(10*time.Second)), mk("c", 1002, t0.Add(time.Hour))
		g.snaps <- specs.Snapshot{Sequences: map[string]*specs.Sequence{a.Name: a, b.Name: b, c.Name: c}}
		time.Sleep(30 * time.Second)
		synctest.Wait()
		st.hang.Store(true) // a's run, at t0, starts the commit that hangs
		time.Sleep(time.Until(t0.Add(15 * time.Second)))
		synctest.Wait() // b's Load is decided and waits for the next commit
		suspended := make(chan error, 1)
		go func() { suspended <- g.r.Suspend(context.Background(), "c", "ops", "test", time.Time{}) }()
		time.Sleep(time.Second)
		synctest.Wait()
		st.hang.Store(false)
		close(st.resume)
		if err := <-suspended; err != nil {
			t.Fatalf("suspend: %v", err)
		}
		time.Sleep(time.Minute)
		synctest.Wait()
		loads := map[int32]int{}
		for _, rec := range g.sim.Transcript() {
			if rec.Msg.Type == ocs.ReqLoadCampaign {
				loads[rec.Msg.CampaignDBID]++
			}
		}
		if loads[1000] != 1 || loads[1001] != 1 {
			t.Errorf("LoadCampaign sent per campaign %v, want a's (1000) and b's (1001) once each", loads)
		}
	})
}
