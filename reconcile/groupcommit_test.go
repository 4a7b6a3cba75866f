package reconcile

import (
	"context"
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

// burstConfig is a simulator with n campaign groups (campaign 1000+i on
// group 5000), each with a list that lasts.
func burstConfig(n int) ocssim.Config {
	cfg := ocssim.Config{AppDBID: 120, Groups: []ocssim.Group{{DBID: 5000, Name: "g"}},
		Rates: ocssim.Default().Rates, ContactRate: 0.3}
	for i := range n {
		id := int32(1000 + i)
		cfg.Campaigns = append(cfg.Campaigns, ocssim.Campaign{DBID: id, Name: fmt.Sprint("c", id)})
		cfg.CampaignGroups = append(cfg.CampaignGroups, ocssim.CampaignGroup{CampaignDBID: id, GroupDBID: 5000, Records: 1 << 20})
	}
	return cfg
}

// burstSpecs are n one-shot sequences, all due at the same instant.
func burstSpecs(n int, at time.Time) specs.Snapshot {
	snap := specs.Snapshot{Sequences: map[string]*specs.Sequence{}}
	for i := range n {
		it := item("only", int32(1000+i), ocs.DialModeProgress)
		it.GroupDBID = 5000
		it.StopAt.Time = after(time.Hour)
		s := seq(fmt.Sprintf("burst-%04d", i), it)
		s.Start.At = at
		snap.Sequences[s.Name] = rehash(s)
	}
	return snap
}

// journalWatch is the daemon's bbolt store, counting commits, with a
// record of every intent that has reached the file.
type journalWatch struct {
	*store.Store
	mu      sync.Mutex
	commits int
	durable map[string]bool // intents' encoded requests, once committed
	dead    bool
	onKill  func()
	// atCommit, when set, sees each batch as its commit begins;
	// killWhen, when set, each committed batch: true kills the daemon
	// right after that commit.
	atCommit func(b *store.Batch)
	killWhen func(w *journalWatch, b *store.Batch) bool
}

func (w *journalWatch) Commit(b *store.Batch) error {
	w.mu.Lock()
	if w.dead {
		w.mu.Unlock()
		return errDSTCrashed
	}
	if w.atCommit != nil {
		w.atCommit(b)
	}
	w.mu.Unlock()
	if err := w.Store.Commit(b); err != nil {
		return err
	}
	w.mu.Lock()
	w.commits++
	for _, in := range b.Begin {
		w.durable[in.Request] = true
	}
	die := w.killWhen != nil && w.killWhen(w, b)
	if die {
		w.dead = true
	}
	w.mu.Unlock()
	if die {
		w.onKill()
		return errDSTCrashed
	}
	return nil
}

// killNow kills the daemon between two commits, as a crash would: no
// commit succeeds after it, and its link to OCS is gone.
func (w *journalWatch) killNow() {
	w.mu.Lock()
	w.dead = true
	w.mu.Unlock()
	w.onKill()
}

func (w *journalWatch) PutProgress(p store.Progress) error {
	panic("the loop writes progress only through Commit")
}

func (w *journalWatch) BeginIntent(in store.Intent) (store.Intent, bool, error) {
	panic("the loop journals only through Commit")
}

// journaledLink is the bridge, checking that every request that changes
// OCS state leaves only after its intent reached the store.
type journaledLink struct {
	*bridge.Client
	w       *journalWatch
	mu      sync.Mutex
	unjourn []string
	stopped atomic.Int64 // StopDialing answers received
}

func (l *journaledLink) check(req ocs.Message) {
	switch req.Type {
	case ocs.ReqLoadCampaign, ocs.ReqStartDialing, ocs.ReqStopDialing, ocs.ReqUnloadCampaign, ocs.ReqSetDialingMode:
	default:
		return
	}
	l.w.mu.Lock()
	ok := l.w.durable[req.Encode().String()]
	l.w.mu.Unlock()
	if !ok {
		l.mu.Lock()
		l.unjourn = append(l.unjourn, fmt.Sprintf("%s %d", req.Type, req.CampaignDBID))
		l.mu.Unlock()
	}
}

func (l *journaledLink) SendAsync(reqs []ocs.Message, timeout time.Duration, done func(int, ocs.Message, error)) {
	for _, req := range reqs {
		l.check(req)
	}
	l.Client.SendAsync(reqs, timeout, func(i int, ans ocs.Message, err error) {
		if reqs[i].Type == ocs.ReqStopDialing && err == nil {
			l.stopped.Add(1)
		}
		done(i, ans, err)
	})
}

func (l *journaledLink) Request(ctx context.Context, req ocs.Message) (ocs.Message, error) {
	l.check(req)
	return l.Client.Request(ctx, req)
}

type burstRig struct {
	sim  *ocssim.Sim
	path string
	n    int
}

// newBurstRig is a simulator with n campaign groups and a database path,
// for daemon lives that share them.
func newBurstRig(t *testing.T, n int) *burstRig {
	rig := &burstRig{sim: ocssim.New(burstConfig(n)), path: filepath.Join(t.TempDir(), "sequencer.db"), n: n}
	t.Cleanup(func() { rig.sim.Close() })
	return rig
}

// daemon starts one daemon life on the rig's store, to die at stop or
// when the journalWatch's killWhen says so.
func (b *burstRig) daemon(t *testing.T) (*journalWatch, *journaledLink, func()) {
	raw, err := store.Open(b.path, store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	client := bridge.New(func(ctx context.Context) (net.Conn, error) {
		a, c := net.Pipe()
		go b.sim.Serve(c)
		return a, nil
	}, bridge.Options{Counters: true, BackoffMin: time.Second})
	w := &journalWatch{Store: raw, durable: map[string]bool{}}
	link := &journaledLink{Client: client, w: w}
	w.onKill = func() { client.Close() }
	r := New(Config{Link: link, Store: w})
	ctx, cancel := context.WithCancel(context.Background())
	snaps := make(chan specs.Snapshot, 1)
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx, snaps) }()
	snaps <- burstSpecs(b.n, burstAt)
	stop := func() {
		cancel()
		<-done
		client.Close()
		raw.Close()
	}
	return w, link, stop
}

var burstAt = time.Date(2026, 12, 2, 18, 0, 0, 0, time.UTC)

const burstN = 300

func TestABurstOfSequencesDueTogetherIsJournaledInAFewCommitsAndEachRequestLeavesAfterItsOwn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		time.Sleep(time.Until(burstAt.Add(-time.Minute)))
		rig := newBurstRig(t, burstN)
		w, link, stop := rig.daemon(t)
		time.Sleep(time.Until(burstAt.Add(30 * time.Second)))
		synctest.Wait()
		stop()

		starts := map[int32]int{}
		for _, rec := range rig.sim.Transcript() {
			if rec.Msg.Type == ocs.ReqStartDialing {
				starts[rec.Msg.CampaignDBID]++
			}
		}
		if len(starts) != burstN {
			t.Fatalf("%d of %d sequences started", len(starts), burstN)
		}
		if len(link.unjourn) > 0 {
			t.Errorf("%d requests left before their intent was committed, e.g. %s", len(link.unjourn), link.unjourn[0])
		}
		// Each sequence journals a Load and a Start and settles both, with
		// its progress each time: one commit per write would be over
		// 1,200. Answers that arrive together share their turn's commit.
		if w.commits > burstN/5 {
			t.Errorf("%d commits for a burst of %d sequences; want them shared (at most %d)", w.commits, burstN, burstN/5)
		}
		t.Logf("%d sequences started with %d commits", burstN, w.commits)
	})
}

func TestADaemonKilledInTheMiddleOfA1000SequenceBurstStartsEachItemExactlyOnceAfterItsRestart(t *testing.T) {
	// Die right after the commit that journals the burst's first
	// requests: some of them leave, none of the later ones.
	killedInABurst(t, func(_ *burstRig, w *journalWatch) {
		w.mu.Lock()
		w.killWhen = func(w *journalWatch, _ *store.Batch) bool { return w.commits == 4 }
		w.mu.Unlock()
		time.Sleep(time.Until(burstAt.Add(2 * time.Second)))
		synctest.Wait()
	})
}

// OCS dials an item from the moment it takes the Start, and the file says
// so only once the Start's answer is in and a commit has carried it, which
// a commit that other Starts wait for does not (holdProgress). A daemon
// killed in between leaves OCS dialing items whose file says "starting";
// the restart must take them as they are. OCS answers a second late here,
// so that the kill falls in that window whatever the goroutines' order.
func TestADaemonKilledWhileItemsDialingAreNotYetInItsFileStartsEachItemExactlyOnceAfterItsRestart(t *testing.T) {
	held := killedInABurst(t, func(rig *burstRig, w *journalWatch) {
		rig.sim.DelayAnswers(time.Second)
		time.Sleep(time.Until(burstAt))
		for range 1000 {
			time.Sleep(10 * time.Millisecond)
			synctest.Wait()
			if dialingIn(rig) > 0 {
				w.killNow()
				return
			}
		}
	})
	if held == 0 {
		t.Error("the kill found no item dialing ahead of the file")
	}
}

func dialingIn(rig *burstRig) int {
	n := 0
	for i := range rig.n {
		if rig.sim.Dialing(int32(1000+i), 5000) {
			n++
		}
	}
	return n
}

// killedInABurst runs a daemon of a 1,000-sequence burst until kill has
// killed it, restarts it, and checks that every item started exactly
// once. It returns how many items OCS had dialing at the kill whose
// progress in the file did not say so, or not since when.
func killedInABurst(t *testing.T, kill func(rig *burstRig, w *journalWatch)) (held int) {
	synctest.Test(t, func(t *testing.T) {
		time.Sleep(time.Until(burstAt.Add(-time.Minute)))
		const n = 1000
		rig := newBurstRig(t, n)
		w, _, stop := rig.daemon(t)
		kill(rig, w)
		w.mu.Lock()
		dead, commits := w.dead, w.commits
		w.mu.Unlock()
		stop()
		if !dead {
			t.Fatal("the store was never killed")
		}
		held = heldAtKill(t, rig)
		before := rig.sim.Transcript()
		_, link, stop := rig.daemon(t)
		time.Sleep(time.Until(burstAt.Add(time.Minute)))
		synctest.Wait()
		stop()

		loads, starts := map[int32]int{}, map[int32]int{}
		for _, rec := range rig.sim.Transcript() {
			switch rec.Msg.Type {
			case ocs.ReqLoadCampaign:
				loads[rec.Msg.CampaignDBID]++
			case ocs.ReqStartDialing:
				starts[rec.Msg.CampaignDBID]++
			}
		}
		if len(starts) != n {
			t.Fatalf("after the restart %d of %d sequences started", len(starts), n)
		}
		for c, k := range starts {
			if k != 1 {
				t.Errorf("campaign %d: StartDialing sent %d times", c, k)
			}
			if loads[c] != 1 {
				t.Errorf("campaign %d: LoadCampaign sent %d times", c, loads[c])
			}
		}
		if len(link.unjourn) > 0 {
			t.Errorf("%d requests left before their intent was committed", len(link.unjourn))
		}
		t.Logf("killed after commit %d with %d requests sent, %d items dialing ahead of the file; %d sent in all", commits, len(before), held, len(rig.sim.Transcript()))
	})
	return held
}

// heldAtKill counts the items OCS has dialing whose progress in the
// rig's file does not say so, or not yet since when (the Start's answer).
func heldAtKill(t *testing.T, rig *burstRig) int {
	st, err := store.Open(rig.path, store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	all, err := st.AllProgress()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, p := range all {
		if p.Run != nil && (p.Run.ItemState != "dialing" || p.Run.ItemStarted.IsZero()) && rig.sim.Dialing(p.Run.CampaignDBID, p.Run.GroupDBID) {
			n++
		}
	}
	return n
}

// The journal of stops that left before it (sendEarly) is bookkeeping: it
// waits for their answers instead of taking, in the middle of a stop
// storm, the cores that the stops' delivery needs.
func TestAStopStormIsJournaledOnceItsAnswersAreIn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		time.Sleep(time.Until(burstAt.Add(-time.Minute)))
		const n = 100
		rig := newBurstRig(t, n)
		w, link, stop := rig.daemon(t)
		answered := int64(-1) // when the first stop was journaled
		w.mu.Lock()
		w.atCommit = func(b *store.Batch) {
			for _, in := range b.Begin {
				if in.Action == actStop && answered < 0 {
					answered = link.stopped.Load()
				}
			}
		}
		w.mu.Unlock()
		// burstSpecs' items stop an hour after they start.
		time.Sleep(time.Until(burstAt.Add(time.Hour + time.Minute)))
		synctest.Wait()
		stop()
		w.mu.Lock()
		defer w.mu.Unlock()
		if answered != n {
			t.Errorf("the first stop was journaled with %d of %d stops answered, want all: its commit came in the middle of the storm", answered, n)
		}
	})
}

// A commit that requests wait for carries only their own sequences'
// progress: an item that went dialing meanwhile (its Start answered) is
// recorded by a later commit, within maxSettleHold, so the starts still to
// go do not wait for it.
func TestACommitThatRequestsWaitForCarriesOnlyTheirOwnSequencesProgress(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		time.Sleep(time.Until(burstAt.Add(-time.Minute)))
		rig := newBurstRig(t, burstN)
		w, _, stop := rig.daemon(t)
		defer stop()
		var mixed []string
		gating := 0
		w.mu.Lock()
		w.atCommit = func(b *store.Batch) {
			if len(b.Begin) == 0 {
				return
			}
			gating++
			own := map[string]bool{}
			for _, in := range b.Begin {
				own[in.Sequence] = true
			}
			for _, p := range b.Progress {
				if !own[p.Sequence] {
					mixed = append(mixed, p.Sequence)
				}
			}
		}
		w.mu.Unlock()
		time.Sleep(time.Until(burstAt.Add(30 * time.Second)))
		synctest.Wait()
		w.mu.Lock()
		if len(mixed) > 0 {
			t.Errorf("%d progress writes of sequences without a request rode in the %d commits that requests waited for, e.g. %s", len(mixed), gating, mixed[0])
		}
		w.mu.Unlock()
		// What was held back is written all the same.
		all, err := w.Store.AllProgress()
		if err != nil {
			t.Fatal(err)
		}
		dialing := 0
		for _, p := range all {
			if p.Run != nil && p.Run.ItemState == "dialing" && !p.Run.ItemStarted.IsZero() {
				dialing++
			}
		}
		if dialing != burstN {
			t.Errorf("the store shows %d of %d items dialing 30 s after the burst", dialing, burstN)
		}
	})
}

// commitLog is a store that notes the sequences whose requests each
// Commit journaled.
type commitLog struct {
	*MemStore
	mu      sync.Mutex
	commits [][]string
}

func (c *commitLog) Commit(b *store.Batch) error {
	var seqs []string
	for _, in := range b.Begin {
		seqs = append(seqs, in.Sequence)
	}
	c.mu.Lock()
	c.commits = append(c.commits, seqs)
	c.mu.Unlock()
	return commitTo(c.MemStore, b)
}

// When a commit ends, the requests decided while it ran are journaled at
// once, from wherever the loop learns of it (here: gathering answers),
// not at the end of the turn: in a burst the turn first applies thousands
// of answers and runs their passes, and the disk would sit idle meanwhile.
func TestTheRequestsDecidedDuringACommitAreJournaledAsSoonAsItEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := &commitLog{MemStore: NewMemStore()}
		r := New(Config{Link: newFakeOCS(), Store: st})
		r.asyncCommit = true
		now := time.Now()
		// "late" decided its Load while the commit before it ran...
		s := &seqState{name: "late", prog: store.Progress{Run: &store.Run{ID: "late@2026-12-02T18:00:00Z"}}, inflight: actLoad}
		r.seqs[s.name] = s
		r.outbox = append(r.outbox, outgoing{s: s, action: actLoad, req: ocs.NewLoad(ocs.Target{CampaignDBID: 1001, GroupDBID: 5000}, ocs.Pacing{}, nil), journal: true, now: now})
		// ...which has just ended.
		r.committing = true
		r.committed <- &commitJob{batch: &store.Batch{}}
		r.gather(nil)
		synctest.Wait()
		st.mu.Lock()
		defer st.mu.Unlock()
		if len(st.commits) != 1 || len(st.commits[0]) != 1 || st.commits[0][0] != "late" {
			t.Fatalf("commits begun while the loop gathered: %v, want one journaling late's Load", st.commits)
		}
	})
}
