package reconcile

import (
	"context"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sequencer-dev/sequencer/ocs"
	"github.com/sequencer-dev/sequencer/ocs/bridge"
	"github.com/sequencer-dev/sequencer/ocs/ocssim"
	"github.com/sequencer-dev/sequencer/specs"
	"github.com/sequencer-dev/sequencer/store"
)

// simHarness runs the loop against the simulator over net.Pipe with the
// real bridge client: the path `sequencer run` takes by default.
type simHarness struct {
	sim    *ocssim.Sim
	link   *bridge.Client
	st     *store.Store
	rec    *Reconciler
	snaps  chan specs.Snapshot
	cancel context.CancelFunc
	done   chan error
	path   string
	t      *testing.T
}

func newSimHarness(t *testing.T, cfg ocssim.Config) *simHarness {
	h := &simHarness{sim: ocssim.New(cfg), path: filepath.Join(t.TempDir(), "sequencer.db"), t: t}
	h.start()
	t.Cleanup(func() { h.stop(); h.sim.Close() })
	return h
}

func (h *simHarness) start() {
	h.link = bridge.New(func(ctx context.Context) (net.Conn, error) {
		a, b := net.Pipe()
		go h.sim.Serve(b)
		return a, nil
	}, bridge.Options{Counters: true, BackoffMin: time.Second})
	st, err := store.Open(h.path, store.Options{NoSync: true})
	if err != nil {
		h.t.Fatal(err)
	}
	h.st = st
	h.rec = New(Config{Link: h.link, Store: st})
	h.snaps = make(chan specs.Snapshot, 1)
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel, h.done = cancel, make(chan error, 1)
	go func() { h.done <- h.rec.Run(ctx, h.snaps) }()
}

func (h *simHarness) stop() {
	if h.cancel == nil {
		return
	}
	h.cancel()
	<-h.done
	h.link.Close()
	h.st.Close()
	h.cancel = nil
}

func (h *simHarness) apply(seqs ...*specs.Sequence) {
	snap := specs.Snapshot{Sequences: map[string]*specs.Sequence{}}
	for _, s := range seqs {
		snap.Sequences[s.Name] = s
	}
	h.snaps <- snap
}

func TestAgainstTheSimulatorANightlyRunStopsEachItemByItsOwnCondition(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newSimHarness(t, ocssim.Default())
		fresh := item("fresh-leads", 101, ocs.DialModePredict) // 10 dials/s, 30 % contacts
		fresh.StopAt.Contacts = 150
		retries := item("retries", 102, ocs.DialModeProgress) // 5 dials/s
		retries.StopAt.Dials = 200
		retries.SleepBeforeNextStart = 10 * time.Minute
		callbacks := item("callbacks", 103, ocs.DialModePreview) // 1 dial/s
		callbacks.StopAt.Time = after(5 * time.Minute)
		h.apply(seq("nightly", fresh, retries, callbacks))
		time.Sleep(8 * time.Hour)
		synctest.Wait()
		golden(t, "sim-nightly", h.sim.TranscriptText(false))
		p, _, _ := h.st.Progress("nightly")
		if len(p.Completed) != 1 || len(p.Completed[0].Items) != 3 {
			t.Fatalf("completed runs: %+v", p.Completed)
		}
		items := p.Completed[0].Items
		// Polls follow the dial rate: an item overshoots by at most
		// max(2 % of its limit, 3 attempts).
		if c := items[0].Contacts; c < 150 || c > 150+3 {
			t.Errorf("fresh-leads stopped at %d contacts, want 150..153", c)
		}
		if d := items[1].Dials; d < 200 || d > 200+4 {
			t.Errorf("retries stopped at %d dials, want 200..204", d)
		}
		// The item ends when OCS has unloaded it: 5 minutes of dialing,
		// then the simulator's 2 s drain of calls still in progress.
		if got := items[2].Ended.Sub(items[2].Started); got < 5*time.Minute || got > 5*time.Minute+3*time.Second {
			t.Errorf("callbacks ran %s, want 5m plus the drain", got)
		}
	})
}

func TestAgainstTheSimulatorAutoCompletionEndsADepletedItem(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newSimHarness(t, ocssim.Default())
		drain := specs.Item{Name: "drain", CampaignDBID: 105, GroupDBID: 733, DialMode: ocs.DialModePredict, AutoCompletion: true}
		h.apply(seq("demo", drain))
		time.Sleep(time.Minute)
		synctest.Wait()
		golden(t, "sim-auto-completion", h.sim.TranscriptText(false))
		p, _, _ := h.st.Progress("demo")
		if len(p.Completed) != 1 || p.Completed[0].Items[0].Reason != "calling list depleted (auto-completion)" {
			t.Fatalf("completed: %+v", p.Completed)
		}
		if st, _ := h.sim.Stats(105, 733); st != ocs.StatusNotLoaded {
			t.Errorf("group left %s", st)
		}
	})
}

func TestAgainstTheSimulatorAnOCSRestartMidRunIsRecoveredInBothEngines(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := ocssim.Default()
		for i := range cfg.CampaignGroups {
			cfg.CampaignGroups[i].Records = 100000 // no list runs dry in this test
		}
		h := newSimHarness(t, cfg)
		a := item("fresh-leads", 101, ocs.DialModePredict)
		a.StopAt.Time = after(20 * time.Minute)
		orchestrated := seq("orchestrated", a)
		b := specs.Item{Name: "follow-up", CampaignDBID: 106, GroupDBID: 733, DialMode: ocs.DialModeProgress}
		b.StopAt.Time = after(10 * time.Minute)
		c := specs.Item{Name: "warm-up", CampaignDBID: 104, GroupDBID: 733, DialMode: ocs.DialModeProgress, SleepBeforeNextStart: time.Minute}
		c.StopAt.Dials = 101 // ends off the 5 s poll grid, so the transcript is deterministic
		delegated := seq("delegated", b, c)
		delegated.Engine = specs.EngineOCS
		h.apply(orchestrated, rehash(delegated))
		time.Sleep(2 * time.Minute)
		synctest.Wait()
		h.sim.Restart()
		time.Sleep(time.Hour)
		synctest.Wait()
		golden(t, "sim-ocs-restart", h.sim.TranscriptText(false))
		for _, name := range []string{"orchestrated", "delegated"} {
			p, _, _ := h.st.Progress(name)
			if p.Run != nil || len(p.Completed) != 1 {
				t.Errorf("%s: run %+v completed %d", name, p.Run, len(p.Completed))
			}
		}
	})
}

func TestAnOCSThatDisregardsTheDaemonIsReportedWithTheConnectionsTabHint(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := ocssim.Default()
		cfg.Connections = []int32{311} // the daemon is 310: OCS ignores it silently
		h := newSimHarness(t, cfg)
		h.apply(seq("nightly", item("fresh-leads", 101, ocs.DialModeProgress)))
		time.Sleep(time.Minute)
		synctest.Wait()
		st, ok := h.rec.Sequence("nightly")
		if !ok {
			t.Fatal("no status")
		}
		want := "no answer from OCS 120 within 5s: is application 310 on its Connections tab?"
		found := false
		for _, c := range st.Conditions {
			if c.Type == CondStalled && c.Status && strings.Contains(c.Message, want) {
				found = true
			}
		}
		if !found {
			t.Errorf("conditions %+v lack %q", st.Conditions, want)
		}
		for _, r := range h.sim.Transcript() {
			if !r.Disregarded {
				t.Errorf("the simulator processed %s from an origin not on its Connections tab", r.Msg.Type)
			}
		}
	})
}
