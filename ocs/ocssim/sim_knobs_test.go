package ocssim

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sequencer-dev/sequencer/ocs"
	"github.com/sequencer-dev/sequencer/ocs/bridge"
)

// wire is one raw connection to a simulator: it sees answers and events
// in the order they arrive, which the bridge client hides.
type wire struct {
	t    *testing.T
	c    *bridge.Conn
	t0   time.Time
	ref  int32
	mu   sync.Mutex
	got  []stamped
	done chan struct{}
}

// newWire must be called inside a synctest bubble.
func newWire(t *testing.T, s *Sim) *wire {
	a, b := net.Pipe()
	go s.Serve(b)
	w := &wire{t: t, c: bridge.NewConn(a), t0: time.Now(), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		for {
			m, err := w.c.Receive()
			if err != nil {
				return
			}
			w.mu.Lock()
			w.got = append(w.got, stamped{time.Since(w.t0), m})
			w.mu.Unlock()
		}
	}()
	t.Cleanup(func() { w.c.Close(); s.Close(); <-w.done })
	return w
}

func (w *wire) send(m ocs.Message) {
	w.ref++
	if err := w.c.Send(m.WithReference(w.ref)); err != nil {
		w.t.Fatalf("send %s: %v", m.Type, err)
	}
	synctest.Wait()
}

// log is what arrived, one line each: time, type, "answer" or "event",
// campaign group and status when the message has one.
func (w *wire) log() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []string
	for _, e := range w.got {
		kind := "event"
		if e.m.Has&ocs.AttrReferenceID != 0 {
			kind = fmt.Sprintf("answer#%d", e.m.ReferenceID)
		}
		line := fmt.Sprintf("+%s %s %s %d/%d", e.at, kind, e.m.Type, e.m.CampaignDBID, e.m.GroupDBID)
		if e.m.Has&ocs.AttrGroupCampStatus != 0 {
			line += " " + e.m.GroupCampStatus.String()
		}
		out = append(out, line)
	}
	return out
}

func (w *wire) want(want ...string) {
	w.t.Helper()
	if got := w.log(); !slices.Equal(got, want) {
		w.t.Errorf("on the wire:\n\t%s\nwant:\n\t%s", strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
	}
}

// script is a fixed run with every knob on; it returns what the client saw.
func script(t *testing.T, seed uint64) string {
	var out string
	synctest.Test(t, func(t *testing.T) {
		s := New(withRecords(101, 732, 20), WithRand(rand.New(rand.NewPCG(seed, seed))),
			WithAnswerDelay(0, 2*time.Second), WithEventsBeforeAnswer(0.5), WithStatusEvents(StatusEventsRandom))
		w := newWire(t, s)
		auto := true
		for _, cg := range [][2]int32{{101, 732}, {102, 732}, {103, 732}} {
			w.send(ocs.NewLoad(tg(cg[0], cg[1]), progressive, &auto))
			w.send(ocs.NewStartDialing(tg(cg[0], cg[1]), progressive, &auto))
		}
		time.Sleep(3 * time.Second)
		w.send(ocs.NewStopDialing(tg(102, 732)))
		w.send(ocs.NewUnload(tg(102, 732)))
		time.Sleep(5 * time.Second)
		synctest.Wait()
		out = strings.Join(w.log(), "\n")
	})
	return out
}

func TestOneSeedReplaysTheSameRunAndAnotherSeedDoesNot(t *testing.T) {
	first, again, other := script(t, 7), script(t, 7), script(t, 8)
	if first != again {
		t.Errorf("seed 7 twice:\n%s\n---\n%s", first, again)
	}
	if first == other {
		t.Errorf("seeds 7 and 8 gave the same run:\n%s", first)
	}
}

func TestEachAnswerIsDelayedByADrawFromTheRange(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, Default(), WithAnswerDelay(time.Second, 3*time.Second))
		seen := map[time.Duration]bool{}
		for range 8 {
			start := r.since()
			if _, err := r.do(ocs.NewGetCampaignStatus(tg(101, 732))); err != nil {
				t.Fatal(err)
			}
			took := r.since() - start
			if took < time.Second || took > 3*time.Second {
				t.Errorf("an answer took %s, want 1-3 s", took)
			}
			seen[took] = true
		}
		if len(seen) < 2 {
			t.Errorf("every answer took the same time: %v", seen)
		}
	})
}

func TestLateAnswersToOneConnectionKeepTheOrderOfTheirRequests(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWire(t, New(Default(), WithAnswerDelay(0, 2*time.Second)))
		for range 10 {
			w.send(ocs.NewGetCampaignStatus(tg(101, 732)))
		}
		time.Sleep(3 * time.Second)
		synctest.Wait()
		w.mu.Lock()
		defer w.mu.Unlock()
		var refs []int32
		late := false
		for _, e := range w.got {
			refs = append(refs, e.m.ReferenceID)
			late = late || e.at > 0
		}
		if !slices.IsSorted(refs) || len(refs) != 10 {
			t.Errorf("answers arrived as %v, want 1 to 10 in order", refs)
		}
		if !late {
			t.Error("no answer was late")
		}
	})
}

func TestTheEventsARequestCausesCanArriveBeforeItsAnswer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWire(t, New(Default(), WithEventsBeforeAnswer(1)))
		w.send(ocs.NewLoad(tg(101, 732), progressive, nil))
		w.want(
			"+0s event CM_EvCampaignStatus 101/732 CM_GCS_InActive",
			"+0s answer#1 CM_EvCampaignLoaded 101/732 CM_GCS_InActive",
		)
	})
	synctest.Test(t, func(t *testing.T) {
		w := newWire(t, New(Default()))
		w.send(ocs.NewLoad(tg(101, 732), progressive, nil))
		w.want(
			"+0s answer#1 CM_EvCampaignLoaded 101/732 CM_GCS_InActive",
			"+0s event CM_EvCampaignStatus 101/732 CM_GCS_InActive",
		)
	})
}

func TestAStaleRunningAnswerIsFollowedAtOnceByTheAutoCompletionEvents(t *testing.T) {
	for _, p := range []Profile{ProfileFull, ProfileSeed} {
		t.Run(string(p), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				// 20 records at 5 a second run dry at 4 s.
				s := New(withRecords(101, 732, 20), WithProfile(p), WithStaleStatus(2*time.Second, 1),
					WithStatusEvents(StatusEventsOnRequest))
				w := newWire(t, s)
				auto := true
				w.send(ocs.NewLoad(tg(101, 732), progressive, &auto))
				w.send(ocs.NewStartDialing(tg(101, 732), progressive, &auto))
				time.Sleep(time.Second)
				w.send(ocs.NewGetCampaignStatus(tg(101, 732))) // 3 s to go: beyond the window
				time.Sleep(time.Second)
				w.send(ocs.NewGetCampaignStatus(tg(101, 732))) // 2 s to go
				time.Sleep(5 * time.Second)
				synctest.Wait()
				status := func(st string) string {
					if p == ProfileSeed {
						return ""
					}
					return " " + st
				}
				w.want(
					"+0s answer#1 CM_EvCampaignLoaded 101/732"+status("CM_GCS_InActive"),
					"+0s answer#2 CM_EvDialingStarted 101/732"+status("CM_GCS_Running"),
					"+1s answer#3 CM_EvCampaignStatus 101/732 CM_GCS_Running",
					"+2s answer#4 CM_EvCampaignStatus 101/732 CM_GCS_Running",
					"+2s event CM_EvDialingStopped 101/732"+status("CM_GCS_InActive"),
					"+2s event CM_EvCampaignUnloaded 101/732"+status("CM_GCS_NotLoaded"),
				)
				if st, stats := s.Stats(101, 732); st != ocs.StatusNotLoaded || stats.RecordsLeft != 0 {
					t.Errorf("after the early auto-completion: %s %+v", st, stats)
				}
				want := []string{
					"101/732 CM_GCS_NotLoaded -> CM_GCS_InActive by CM_ReqLoadCampaign from 310",
					"101/732 CM_GCS_InActive -> CM_GCS_Running by CM_ReqStartDialing from 310",
					"101/732 CM_GCS_Running -> CM_GCS_InActive by auto-completion",
					"101/732 CM_GCS_InActive -> CM_GCS_NotLoaded by auto-completion",
				}
				var got []string
				for _, c := range s.GroupChanges(101, 732) {
					got = append(got, c.String())
				}
				if !slices.Equal(got, want) {
					t.Errorf("state log:\n\t%s\nwant:\n\t%s", strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
				}
			})
		})
	}
}

func TestAnOperatorInOCMActsOnAGroupUnderTheDaemon(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, Default())
		if err := r.s.LoadByHand(101, 732); err != nil {
			t.Fatal(err)
		}
		if err := r.s.StartByHand(101, 732); err != nil {
			t.Fatal(err)
		}
		if !r.s.Dialing(101, 732) {
			t.Error("started by hand but not dialing")
		}
		// The daemon's own load and start now find someone else's group.
		r.fails(ocs.NewLoad(tg(101, 732), predictive, nil), ocs.ErrCampaignAlreadyLoaded)
		r.fails(ocs.NewStartDialing(tg(101, 732), predictive, nil), ocs.ErrCampaignAlreadyStarted)
		r.sleep(time.Second)
		err := r.s.LoadByHand(101, 732)
		var oe *ocs.OCSError
		if !errors.As(err, &oe) || oe.Code != ocs.ErrCampaignAlreadyLoaded {
			t.Errorf("a second load by hand: %v", err)
		}
		if err := r.s.LoadByHand(999, 732); err == nil || err.Error() != "CM_ReqLoadCampaign by hand: campaign group 999/732 is not configured" {
			t.Errorf("a load by hand of an unknown group: %v", err)
		}
		if err := r.s.StopByHand(101, 732); err != nil {
			t.Fatal(err)
		}
		if r.s.Dialing(101, 732) {
			t.Error("stopped by hand but still dialing")
		}
		if err := r.s.UnloadByHand(101, 732); err != nil {
			t.Fatal(err)
		}
		r.sleep(3 * time.Second) // the drain
		r.wantEvents(
			"+0s CM_EvCampaignStatus 101/732 CM_GCS_InActive progressive",
			"+0s CM_EvCampaignStatus 101/732 CM_GCS_Running progressive",
			"+1s CM_EvCampaignStatus 101/732 CM_GCS_InActive progressive",
			"+1s CM_EvCampaignStatus 101/732 CM_GCS_WaitingUnload progressive",
			"+3s CM_EvCampaignStatus 101/732 CM_GCS_NotLoaded progressive",
		)
		if n := len(r.s.Transcript()); n != 2 {
			t.Errorf("the transcript holds %d requests, want only the daemon's 2", n)
		}
		checkGolden(t, "hand-actions", r.s.ChangesText())
	})
}

func TestDialingIsFalseForARunningGroupWhoseListIsEmpty(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, withRecords(101, 732, 20))
		r.ok(ocs.NewLoad(tg(101, 732), progressive, nil), ocs.EvCampaignLoaded, ocs.StatusInActive)
		if r.s.Dialing(101, 732) {
			t.Error("loaded, not started, yet dialing")
		}
		r.ok(ocs.NewStartDialing(tg(101, 732), progressive, nil), ocs.EvDialingStarted, ocs.StatusRunning)
		r.sleep(4*time.Second - time.Millisecond)
		if !r.s.Dialing(101, 732) {
			t.Error("one record left, yet not dialing")
		}
		r.sleep(time.Millisecond)
		if st, _ := r.s.Stats(101, 732); st != ocs.StatusRunning || r.s.Dialing(101, 732) {
			t.Errorf("depleted without auto-completion: %s, dialing %v", st, r.s.Dialing(101, 732))
		}
		if r.s.Dialing(999, 732) {
			t.Error("an unknown group is dialing")
		}
	})
}

func TestRestartForgetsEverythingAndNothingInFlightReachesTheNextConnection(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, withRecords(101, 732, 20))
		auto := true
		r.ok(ocs.NewLoad(tg(101, 732), predictive, &auto), ocs.EvCampaignLoaded, ocs.StatusInActive)
		r.ok(ocs.NewStartDialing(tg(101, 732), predictive, &auto), ocs.EvDialingStarted, ocs.StatusRunning)
		sched := ocs.Schedule{Items: []ocs.ScheduleItem{{CampaignDBID: 104, DialMode: ocs.DialModeProgress}}}
		r.ok(ocs.NewLoad(tg(0, 733), progressive, nil).WithSchedule(sched), ocs.EvCampaignLoaded, ocs.StatusInActive)
		// An answer and an event are in flight when OCS restarts.
		r.s.DelayAnswers(time.Second)
		r.s.DelayStatusEvents(time.Second)
		go func() { time.Sleep(500 * time.Millisecond); r.s.Restart() }()
		_, err := r.c.Request(context.Background(), ocs.NewStopDialing(tg(101, 732)))
		if !errors.Is(err, ocs.ErrDisconnected) {
			t.Errorf("a request in flight across the restart: %v, want disconnected", err)
		}
		r.s.DelayAnswers(0)
		r.s.DelayStatusEvents(0)
		r.sleep(5 * time.Second)
		if !r.c.Up() {
			t.Fatal("the client did not reconnect")
		}
		// The stop's status event, due at 1 s, went with the connection.
		r.wantEvents(
			"+0s CM_EvCampaignStatus 101/732 CM_GCS_InActive predictive",
			"+0s CM_EvCampaignStatus 101/732 CM_GCS_Running predictive",
		)
		// Only a status request reveals the restart.
		ans := r.ok(ocs.NewGetCampaignStatus(tg(101, 732)), ocs.EvCampaignStatus, ocs.StatusNotLoaded)
		if ans.Pacing() != progressive {
			t.Errorf("after the restart the group reports %+v, want its configured pacing", ans.Pacing())
		}
		r.fails(ocs.NewGetCampaignStatus(tg(0, 733)).WithSchedule(sched), ocs.ErrCampaignScheduleNotFound)
		// A load after the restart starts from nothing: no dials, no
		// auto-completion unless asked for again.
		r.ok(ocs.NewLoad(tg(101, 732), predictive, nil), ocs.EvCampaignLoaded, ocs.StatusInActive)
		r.ok(ocs.NewStartDialing(tg(101, 732), predictive, nil), ocs.EvDialingStarted, ocs.StatusRunning)
		if _, st := r.status(101, 732); st.Dials != 0 {
			t.Errorf("the new load counts %d dials from before the restart", st.Dials)
		}
		r.sleep(10 * time.Second)
		if st, _ := r.s.Stats(101, 732); st != ocs.StatusRunning {
			t.Errorf("a group loaded without auto-completion after a restart: %s", st)
		}
		var restarts []string
		for _, c := range r.s.Changes() {
			if c.Cause == CauseRestart {
				restarts = append(restarts, c.String())
			}
		}
		// The stop was applied at once; only its answer and event were late.
		want := []string{"101/732 CM_GCS_InActive -> CM_GCS_NotLoaded by restart"}
		if !slices.Equal(restarts, want) {
			t.Errorf("restart changes %v, want %v", restarts, want)
		}
	})
}
