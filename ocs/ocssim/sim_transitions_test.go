package ocssim

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sequencer-dev/sequencer/ocs"
	"github.com/sequencer-dev/sequencer/ocs/bridge"
)

// rig is a simulator and one client inside a synctest bubble. It keeps
// every answer the client got and every unsolicited event, stamped with
// the simulated time since the simulator started, so that a test can
// assert on them and a golden file can show them beside the transcript.
type rig struct {
	t  *testing.T
	s  *Sim
	c  *bridge.Client
	t0 time.Time

	answers strings.Builder // written only by the test goroutine
	replies []ocs.Message   // the same answers, whole

	mu     sync.Mutex
	events []stamped
	done   chan struct{}
}

type stamped struct {
	at time.Duration
	m  ocs.Message
}

// newRig must be called inside a synctest bubble. The client is connected
// when it returns, without the simulated clock having moved.
func newRig(t *testing.T, cfg Config, opts ...Option) *rig {
	t.Helper()
	s := New(cfg, opts...)
	r := &rig{t: t, s: s, t0: time.Now(), c: pipeClient(s), done: make(chan struct{})}
	go func() {
		defer close(r.done)
		for m := range r.c.Events() {
			if m.IsLinkNotice() {
				continue // the client's own, not the simulator's
			}
			r.mu.Lock()
			r.events = append(r.events, stamped{time.Since(r.t0), m})
			r.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		r.c.Close()
		r.s.Close()
		<-r.done
	})
	synctest.Wait()
	if !r.c.Up() {
		t.Fatal("the client did not connect to the simulator")
	}
	return r
}

// since is the simulated time since the simulator started.
func (r *rig) since() time.Duration { return time.Since(r.t0) }

// sleep advances the simulated clock and lets every timer it fires settle.
func (r *rig) sleep(d time.Duration) {
	time.Sleep(d)
	synctest.Wait()
}

// do sends m, logs the answer, and waits until the events it caused have
// reached the recorder.
func (r *rig) do(m ocs.Message) (ocs.Message, error) {
	r.t.Helper()
	ans, err := r.c.Request(context.Background(), m)
	if ans.Type != 0 {
		r.replies = append(r.replies, ans)
		render(&r.answers, r.since(), ans)
	} else {
		fmt.Fprintf(&r.answers, "+%s %s failed: %v\n", r.since(), m.Type, err)
	}
	synctest.Wait()
	return ans, err
}

// ok sends m and fails the test unless OCS answers it with an answer of
// type want carrying status st.
func (r *rig) ok(m ocs.Message, want ocs.MessageType, st ocs.GroupCampStatus) ocs.Message {
	r.t.Helper()
	ans, err := r.do(m)
	if err != nil {
		r.t.Fatalf("%s: %v", m.Type, err)
	}
	if ans.Type != want || ans.Has&ocs.AttrGroupCampStatus == 0 || ans.GroupCampStatus != st {
		r.t.Fatalf("%s: answered %s %s, want %s %s", m.Type, ans.Type, ans.GroupCampStatus, want, st)
	}
	return ans
}

// fails sends m and fails the test unless OCS answers CM_EvError code.
func (r *rig) fails(m ocs.Message, want ocs.ErrorCode) {
	r.t.Helper()
	ans, err := r.do(m)
	var oe *ocs.OCSError
	if !errors.As(err, &oe) || oe.Code != want || ans.Type != ocs.EvError {
		r.t.Fatalf("%s: %s %v, want CM_EvError %d %s", m.Type, ans.Type, err, int(want), want)
	}
}

// status asks OCS for a campaign group's status and returns it with the
// counters the answer carries.
func (r *rig) status(c, g int32) (ocs.GroupCampStatus, ocs.Stats) {
	r.t.Helper()
	ans, err := r.do(ocs.NewGetCampaignStatus(tg(c, g)))
	if err != nil {
		r.t.Fatalf("status of %d/%d: %v", c, g, err)
	}
	st, has := ans.Stats()
	if !has {
		r.t.Fatalf("status of %d/%d carries no counters", c, g)
	}
	return ans.GroupCampStatus, st
}

// eventLog summarizes the unsolicited events so far, one per line:
// "+<time> <type> <campaign>/<group> [<status>] [<dial mode>]".
func (r *rig) eventLog() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, e := range r.events {
		line := fmt.Sprintf("+%s %s %d/%d", e.at, e.m.Type, e.m.CampaignDBID, e.m.GroupDBID)
		if e.m.Has&ocs.AttrGroupCampStatus != 0 {
			line += " " + e.m.GroupCampStatus.String()
		}
		if e.m.Has&ocs.AttrDialMode != 0 {
			line += " " + e.m.DialMode.Short()
		}
		out = append(out, line)
	}
	return out
}

func (r *rig) lastEvent() ocs.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.events) == 0 {
		r.t.Fatal("no unsolicited event")
	}
	return r.events[len(r.events)-1].m
}

func (r *rig) wantEvents(want ...string) {
	r.t.Helper()
	if got := r.eventLog(); !slices.Equal(got, want) {
		r.t.Errorf("unsolicited events:\n\t%s\nwant:\n\t%s", strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
	}
}

// golden compares the requests OCS received, the answers and the events
// with testdata/<name>.golden. Everything in it is simulated time, so it
// is the same on every run.
func (r *rig) golden(name string, includeStatus bool) {
	r.t.Helper()
	var b strings.Builder
	b.WriteString("== requests OCS received\n")
	b.WriteString(r.s.TranscriptText(includeStatus))
	b.WriteString("== answers the client got\n")
	b.WriteString(r.answers.String())
	b.WriteString("== unsolicited events the client got\n")
	r.mu.Lock()
	for _, e := range r.events {
		render(&b, e.at, e.m)
	}
	r.mu.Unlock()
	checkGolden(r.t, name, b.String())
}

// render writes m the way TranscriptText does, without the reference id.
func render(b *strings.Builder, at time.Duration, m ocs.Message) {
	m.Has &^= ocs.AttrReferenceID
	fmt.Fprintf(b, "+%s %s\n", at.Round(time.Millisecond), m.Type)
	for _, line := range strings.Split(strings.TrimRight(m.Encode().String(), "\n"), "\n") {
		b.WriteString("\t" + line + "\n")
	}
}

func wantStats(t *testing.T, what string, got, want ocs.Stats) {
	t.Helper()
	if got != want {
		t.Errorf("%s: counters %+v, want %+v", what, got, want)
	}
}

var (
	predictive  = ocs.Pacing{DialMode: ocs.DialModePredict, OptimizeBy: ocs.OptimizeBusyFactor, OptimizeGoal: 80}
	progressive = ocs.Pacing{DialMode: ocs.DialModeProgress}
	preview     = ocs.Pacing{DialMode: ocs.DialModePreview}
)

// withRecords is Default with campaign group c/g holding n records.
func withRecords(c, g int32, n int64) Config {
	cfg := Default()
	for i, cg := range cfg.CampaignGroups {
		if cg.CampaignDBID == c && cg.GroupDBID == g {
			cfg.CampaignGroups[i].Records = n
		}
	}
	return cfg
}

func TestLoadTakesANotLoadedGroupToInActive(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, Default())
		if st, _ := r.status(101, 732); st != ocs.StatusNotLoaded {
			t.Fatalf("a fresh OCS has 101/732 %s", st)
		}
		ans := r.ok(ocs.NewLoad(tg(101, 732), progressive, nil), ocs.EvCampaignLoaded, ocs.StatusInActive)
		if ans.Pacing() != progressive {
			t.Errorf("load answer pacing %+v, want %+v", ans.Pacing(), progressive)
		}
		st, stats := r.status(101, 732)
		if st != ocs.StatusInActive {
			t.Errorf("after the load: %s", st)
		}
		wantStats(t, "loaded, not dialing", stats, ocs.Stats{Dials: 0, Contacts: 0, RecordsLeft: 1000})
		r.wantEvents("+0s CM_EvCampaignStatus 101/732 CM_GCS_InActive progressive")
		r.golden("load", true)
	})
}

func TestStartTakesAnInActiveGroupToRunning(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, Default())
		r.ok(ocs.NewLoad(tg(101, 732), progressive, nil), ocs.EvCampaignLoaded, ocs.StatusInActive)
		r.ok(ocs.NewStartDialing(tg(101, 732), progressive, nil), ocs.EvDialingStarted, ocs.StatusRunning)
		r.sleep(10 * time.Second)
		st, stats := r.status(101, 732)
		if st != ocs.StatusRunning {
			t.Errorf("10 s after the start: %s", st)
		}
		// Progressive dials 5 a second; 30% of dials become contacts.
		wantStats(t, "10 s progressive", stats, ocs.Stats{Dials: 50, Contacts: 15, RecordsLeft: 950})
		r.wantEvents(
			"+0s CM_EvCampaignStatus 101/732 CM_GCS_InActive progressive",
			"+0s CM_EvCampaignStatus 101/732 CM_GCS_Running progressive",
		)
		r.golden("start", true)
	})
}

func TestARunningGroupSwitchesBetweenPredictiveAndProgressiveLive(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, Default())
		r.ok(ocs.NewLoad(tg(101, 732), predictive, nil), ocs.EvCampaignLoaded, ocs.StatusInActive)
		r.ok(ocs.NewStartDialing(tg(101, 732), predictive, nil), ocs.EvDialingStarted, ocs.StatusRunning)
		r.sleep(4 * time.Second)
		ans := r.ok(ocs.NewSetDialingMode(tg(101, 732), progressive, nil), ocs.EvDialingModeChanged, ocs.StatusRunning)
		if ans.DialMode != ocs.DialModeProgress {
			t.Errorf("mode change answer says %s", ans.DialMode)
		}
		r.sleep(4 * time.Second)
		ans = r.ok(ocs.NewSetDialingMode(tg(101, 732), predictive, nil), ocs.EvDialingModeChanged, ocs.StatusRunning)
		if ans.Pacing() != predictive {
			t.Errorf("mode change answer pacing %+v, want %+v", ans.Pacing(), predictive)
		}
		r.sleep(4 * time.Second)
		st, stats := r.status(101, 732)
		if st != ocs.StatusRunning {
			t.Errorf("after two live switches: %s", st)
		}
		// 4 s at 10/s, 4 s at 5/s, 4 s at 10/s: the switch keeps the count.
		wantStats(t, "predictive, progressive, predictive", stats, ocs.Stats{Dials: 100, Contacts: 30, RecordsLeft: 900})
		r.wantEvents(
			"+0s CM_EvCampaignStatus 101/732 CM_GCS_InActive predictive",
			"+0s CM_EvCampaignStatus 101/732 CM_GCS_Running predictive",
			"+4s CM_EvCampaignStatus 101/732 CM_GCS_Running progressive",
			"+8s CM_EvCampaignStatus 101/732 CM_GCS_Running predictive",
		)
		r.golden("live-switch", true)
	})
}

func TestARunningGroupCannotSwitchLiveFromProgressiveToPreview(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, Default())
		r.ok(ocs.NewLoad(tg(101, 732), progressive, nil), ocs.EvCampaignLoaded, ocs.StatusInActive)
		r.ok(ocs.NewStartDialing(tg(101, 732), progressive, nil), ocs.EvDialingStarted, ocs.StatusRunning)
		r.sleep(2 * time.Second)
		r.fails(ocs.NewSetDialingMode(tg(101, 732), preview, nil), ocs.ErrInvalidCampaignMode)
		r.sleep(2 * time.Second)
		st, stats := r.status(101, 732)
		if st != ocs.StatusRunning {
			t.Errorf("after the refused switch: %s", st)
		}
		// Still progressive: 4 s at 5/s, not 2 s at 5/s then 2 s at 1/s.
		wantStats(t, "refused switch", stats, ocs.Stats{Dials: 20, Contacts: 6, RecordsLeft: 980})
		r.wantEvents(
			"+0s CM_EvCampaignStatus 101/732 CM_GCS_InActive progressive",
			"+0s CM_EvCampaignStatus 101/732 CM_GCS_Running progressive",
		)
		r.golden("switch-to-preview-refused", true)
	})
}

func TestStopTakesARunningGroupBackToInActive(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, Default())
		r.ok(ocs.NewLoad(tg(101, 732), progressive, nil), ocs.EvCampaignLoaded, ocs.StatusInActive)
		r.ok(ocs.NewStartDialing(tg(101, 732), progressive, nil), ocs.EvDialingStarted, ocs.StatusRunning)
		r.sleep(6 * time.Second)
		ans := r.ok(ocs.NewStopDialing(tg(101, 732)), ocs.EvDialingStopped, ocs.StatusInActive)
		if st, _ := ans.Stats(); st.Dials != 30 {
			t.Errorf("stop answer counters %+v, want 30 dials", st)
		}
		r.sleep(10 * time.Second)
		st, stats := r.status(101, 732)
		if st != ocs.StatusInActive {
			t.Errorf("10 s after the stop: %s", st)
		}
		wantStats(t, "stopped after 6 s", stats, ocs.Stats{Dials: 30, Contacts: 9, RecordsLeft: 970})
		r.wantEvents(
			"+0s CM_EvCampaignStatus 101/732 CM_GCS_InActive progressive",
			"+0s CM_EvCampaignStatus 101/732 CM_GCS_Running progressive",
			"+6s CM_EvCampaignStatus 101/732 CM_GCS_InActive progressive",
		)
		r.golden("stop", true)
	})
}

func TestUnloadDrainsThroughWaitingUnloadBeforeNotLoaded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := Default()
		drain := time.Duration(cfg.DrainTime)
		r := newRig(t, cfg)
		r.ok(ocs.NewLoad(tg(101, 732), progressive, nil), ocs.EvCampaignLoaded, ocs.StatusInActive)
		r.ok(ocs.NewStartDialing(tg(101, 732), progressive, nil), ocs.EvDialingStarted, ocs.StatusRunning)
		r.sleep(3 * time.Second)
		r.ok(ocs.NewStopDialing(tg(101, 732)), ocs.EvDialingStopped, ocs.StatusInActive)
		// Calls dialed just before the stop are still on desktops.
		r.ok(ocs.NewUnload(tg(101, 732)), ocs.EvCampaignUnloaded, ocs.StatusWaitingUnload)
		r.sleep(drain - time.Millisecond)
		if st, _ := r.status(101, 732); st != ocs.StatusWaitingUnload {
			t.Errorf("just before the drain ends: %s", st)
		}
		r.fails(ocs.NewStartDialing(tg(101, 732), progressive, nil), ocs.ErrCampaignNotLoaded)
		r.sleep(time.Millisecond)
		st, stats := r.status(101, 732)
		if st != ocs.StatusNotLoaded {
			t.Errorf("when the drain ends: %s", st)
		}
		wantStats(t, "unloaded after 3 s", stats, ocs.Stats{Dials: 15, Contacts: 4, RecordsLeft: 985})
		r.wantEvents(
			"+0s CM_EvCampaignStatus 101/732 CM_GCS_InActive progressive",
			"+0s CM_EvCampaignStatus 101/732 CM_GCS_Running progressive",
			"+3s CM_EvCampaignStatus 101/732 CM_GCS_InActive progressive",
			"+3s CM_EvCampaignStatus 101/732 CM_GCS_WaitingUnload progressive",
			"+5s CM_EvCampaignStatus 101/732 CM_GCS_NotLoaded progressive",
		)
		r.golden("unload-drain", true)
	})
}

func TestUnloadWaitsOnlyForWhatIsLeftOfTheDrain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, Default()) // DrainTime 2 s
		// 101 stopped 1.5 s before the unload: 0.5 s of drain is left.
		r.ok(ocs.NewLoad(tg(101, 732), progressive, nil), ocs.EvCampaignLoaded, ocs.StatusInActive)
		r.ok(ocs.NewStartDialing(tg(101, 732), progressive, nil), ocs.EvDialingStarted, ocs.StatusRunning)
		r.sleep(3 * time.Second)
		r.ok(ocs.NewStopDialing(tg(101, 732)), ocs.EvDialingStopped, ocs.StatusInActive)
		r.sleep(1500 * time.Millisecond)
		r.ok(ocs.NewUnload(tg(101, 732)), ocs.EvCampaignUnloaded, ocs.StatusWaitingUnload)
		// 102 was loaded but never dialed: nothing to drain.
		r.ok(ocs.NewLoad(tg(102, 732), progressive, nil), ocs.EvCampaignLoaded, ocs.StatusInActive)
		r.ok(ocs.NewUnload(tg(102, 732)), ocs.EvCampaignUnloaded, ocs.StatusNotLoaded)
		// 103 stopped more than DrainTime before the unload.
		r.ok(ocs.NewLoad(tg(103, 732), progressive, nil), ocs.EvCampaignLoaded, ocs.StatusInActive)
		r.ok(ocs.NewStartDialing(tg(103, 732), progressive, nil), ocs.EvDialingStarted, ocs.StatusRunning)
		r.ok(ocs.NewStopDialing(tg(103, 732)), ocs.EvDialingStopped, ocs.StatusInActive)
		r.sleep(3 * time.Second)
		r.ok(ocs.NewUnload(tg(103, 732)), ocs.EvCampaignUnloaded, ocs.StatusNotLoaded)
		r.wantEvents(
			"+0s CM_EvCampaignStatus 101/732 CM_GCS_InActive progressive",
			"+0s CM_EvCampaignStatus 101/732 CM_GCS_Running progressive",
			"+3s CM_EvCampaignStatus 101/732 CM_GCS_InActive progressive",
			"+4.5s CM_EvCampaignStatus 101/732 CM_GCS_WaitingUnload progressive",
			"+4.5s CM_EvCampaignStatus 102/732 CM_GCS_InActive progressive",
			"+4.5s CM_EvCampaignStatus 102/732 CM_GCS_NotLoaded progressive",
			"+4.5s CM_EvCampaignStatus 103/732 CM_GCS_InActive progressive",
			"+4.5s CM_EvCampaignStatus 103/732 CM_GCS_Running progressive",
			"+4.5s CM_EvCampaignStatus 103/732 CM_GCS_InActive progressive",
			"+5s CM_EvCampaignStatus 101/732 CM_GCS_NotLoaded progressive",
			"+7.5s CM_EvCampaignStatus 103/732 CM_GCS_NotLoaded progressive",
		)
		r.golden("unload-partial-drain", false)
	})
}

func TestForceUnloadSkipsTheDrain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := Default()
		r := newRig(t, cfg)
		r.ok(ocs.NewLoad(tg(101, 732), progressive, nil), ocs.EvCampaignLoaded, ocs.StatusInActive)
		r.ok(ocs.NewStartDialing(tg(101, 732), progressive, nil), ocs.EvDialingStarted, ocs.StatusRunning)
		r.sleep(3 * time.Second)
		// Straight from Running, with calls in progress.
		ans := r.ok(ocs.NewForceUnload(tg(101, 732)), ocs.EvCampaignUnloaded, ocs.StatusNotLoaded)
		if ans.Has&ocs.AttrDialMode != 0 {
			t.Error("the answer for a NotLoaded group carries a dial mode")
		}
		wantStats(t, "force unload answer", must(ans.Stats()), ocs.Stats{Dials: 15, Contacts: 4, RecordsLeft: 985})
		// The group can be loaded again at once, and nothing comes at the
		// end of what would have been the drain.
		r.ok(ocs.NewLoad(tg(101, 732), progressive, nil), ocs.EvCampaignLoaded, ocs.StatusInActive)
		r.sleep(2 * time.Duration(cfg.DrainTime))
		if st, _ := r.status(101, 732); st != ocs.StatusInActive {
			t.Errorf("reloaded group after the would-be drain: %s", st)
		}
		r.wantEvents(
			"+0s CM_EvCampaignStatus 101/732 CM_GCS_InActive progressive",
			"+0s CM_EvCampaignStatus 101/732 CM_GCS_Running progressive",
			"+3s CM_EvCampaignStatus 101/732 CM_GCS_NotLoaded progressive",
			"+3s CM_EvCampaignStatus 101/732 CM_GCS_InActive progressive",
		)
		r.golden("force-unload", true)
	})
}

func must(s ocs.Stats, ok bool) ocs.Stats {
	if !ok {
		return ocs.Stats{Dials: -1, Contacts: -1, RecordsLeft: -1}
	}
	return s
}

func TestAutoCompletionStopsAndUnloadsTheGroupWhenItsListRunsDry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, withRecords(101, 732, 20)) // 4 s of progressive
		auto := true
		r.ok(ocs.NewLoad(tg(101, 732), progressive, &auto), ocs.EvCampaignLoaded, ocs.StatusInActive)
		r.ok(ocs.NewStartDialing(tg(101, 732), progressive, &auto), ocs.EvDialingStarted, ocs.StatusRunning)
		r.sleep(4*time.Second - time.Millisecond)
		if st, stats := r.status(101, 732); st != ocs.StatusRunning || stats.RecordsLeft != 1 {
			t.Errorf("just before depletion: %s %+v", st, stats)
		}
		r.sleep(time.Millisecond)
		r.wantEvents(
			"+0s CM_EvCampaignStatus 101/732 CM_GCS_InActive progressive",
			"+0s CM_EvCampaignStatus 101/732 CM_GCS_Running progressive",
			"+4s CM_EvDialingStopped 101/732 CM_GCS_InActive",
			"+4s CM_EvCampaignStatus 101/732 CM_GCS_InActive progressive",
			"+4s CM_EvCampaignUnloaded 101/732 CM_GCS_NotLoaded",
			"+4s CM_EvCampaignStatus 101/732 CM_GCS_NotLoaded progressive",
		)
		wantStats(t, "the unload notice", must(r.lastEvent().Stats()), ocs.Stats{Dials: 20, Contacts: 6, RecordsLeft: 0})
		st, stats := r.status(101, 732)
		if st != ocs.StatusNotLoaded {
			t.Errorf("after depletion: %s", st)
		}
		wantStats(t, "after depletion", stats, ocs.Stats{Dials: 20, Contacts: 6, RecordsLeft: 0})
		r.golden("auto-completion", true)
	})
}

func TestWithoutAutoCompletionADepletedGroupKeepsRunningOnAnEmptyList(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, withRecords(101, 732, 20))
		r.ok(ocs.NewLoad(tg(101, 732), progressive, nil), ocs.EvCampaignLoaded, ocs.StatusInActive)
		r.ok(ocs.NewStartDialing(tg(101, 732), progressive, nil), ocs.EvDialingStarted, ocs.StatusRunning)
		r.sleep(10 * time.Second)
		r.wantEvents(
			"+0s CM_EvCampaignStatus 101/732 CM_GCS_InActive progressive",
			"+0s CM_EvCampaignStatus 101/732 CM_GCS_Running progressive",
			"+4s CM_EvCampaignStatus 101/732 CM_GCS_Running progressive",
		)
		st, stats := r.status(101, 732)
		if st != ocs.StatusRunning {
			t.Errorf("depleted without auto-completion: %s", st)
		}
		wantStats(t, "depleted, still running", stats, ocs.Stats{Dials: 20, Contacts: 6, RecordsLeft: 0})
		r.golden("depleted-without-auto-completion", true)
	})
}

func TestGetCampaignStatusCountsDialsAndContactsSinceTheLoadAndRecordsLeftInTheList(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, Default())
		st, stats := r.status(101, 732)
		if st != ocs.StatusNotLoaded {
			t.Errorf("before the load: %s", st)
		}
		wantStats(t, "never loaded", stats, ocs.Stats{Dials: 0, Contacts: 0, RecordsLeft: 1000})
		r.ok(ocs.NewLoad(tg(101, 732), predictive, nil), ocs.EvCampaignLoaded, ocs.StatusInActive)
		r.ok(ocs.NewStartDialing(tg(101, 732), predictive, nil), ocs.EvDialingStarted, ocs.StatusRunning)
		r.sleep(7500 * time.Millisecond)
		_, stats = r.status(101, 732)
		// 7.5 s at 10/s; contacts round down (22.5).
		wantStats(t, "7.5 s predictive", stats, ocs.Stats{Dials: 75, Contacts: 22, RecordsLeft: 925})
		r.ok(ocs.NewStopDialing(tg(101, 732)), ocs.EvDialingStopped, ocs.StatusInActive)
		r.ok(ocs.NewForceUnload(tg(101, 732)), ocs.EvCampaignUnloaded, ocs.StatusNotLoaded)
		// A new load counts from zero; the list keeps what was dialed.
		r.ok(ocs.NewLoad(tg(101, 732), progressive, nil), ocs.EvCampaignLoaded, ocs.StatusInActive)
		_, stats = r.status(101, 732)
		wantStats(t, "reloaded", stats, ocs.Stats{Dials: 0, Contacts: 0, RecordsLeft: 925})
		r.ok(ocs.NewStartDialing(tg(101, 732), progressive, nil), ocs.EvDialingStarted, ocs.StatusRunning)
		r.sleep(2 * time.Second)
		st, stats = r.status(101, 732)
		if st != ocs.StatusRunning {
			t.Errorf("after the restart: %s", st)
		}
		wantStats(t, "2 s progressive after the reload", stats, ocs.Stats{Dials: 10, Contacts: 3, RecordsLeft: 915})
		// The answer's counters are the simulator's own.
		if _, own := r.s.Stats(101, 732); own != stats {
			t.Errorf("Sim.Stats %+v, GetCampaignStatus %+v", own, stats)
		}
		r.golden("status-counters", true)
	})
}

func TestASlowStatusStreamDeliversEventsLateButAnswersOnTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, Default())
		r.s.DelayStatusEvents(3 * time.Second)
		r.ok(ocs.NewLoad(tg(101, 732), pace, nil), ocs.EvCampaignLoaded, ocs.StatusInActive)
		if got := r.since(); got != 0 {
			t.Errorf("the answer came after %s, want at once", got)
		}
		r.sleep(2 * time.Second)
		r.wantEvents()
		r.sleep(time.Second)
		r.wantEvents("+3s CM_EvCampaignStatus 101/732 CM_GCS_InActive progressive")
	})
}
