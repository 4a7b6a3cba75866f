package reconcile

import (
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sequencer-dev/sequencer/ocs"
	"github.com/sequencer-dev/sequencer/ocs/ocssim"
	"github.com/sequencer-dev/sequencer/specs"
)

// The bubble's clock starts at 2000-01-01 00:00 UTC; New York sprang
// forward on 2000-04-02 (02:00 → 03:00) and fell back on 2000-10-29
// (02:00 → 01:00).
func TestADSTNightRunsAGapStartAtTheGapsEndAndARepeatedHourStartOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// Ten months of simulated time: wake hourly when idle instead of
		// every minute (the rule "cap each sleep" is about the wall clock).
		h := newHarness(t, func(c *Config) { c.MaxSleep, c.Resync = time.Hour, time.Hour })
		ny, _ := time.LoadLocation("America/New_York")
		it := item("nightly", 101, ocs.DialModeProgress)
		it.StopAt.Time = after(10 * time.Minute)
		gap := seq("gap", it)
		gap.Location, gap.TimeZone = ny, "America/New_York"
		gap.Start = specs.Start{Schedule: "30 2 2 4 *"} // 02:30 on April 2: inside the gap
		it2 := item("nightly", 102, ocs.DialModeProgress)
		it2.StopAt.Time = after(10 * time.Minute)
		rep := seq("repeat", it2)
		rep.Location, rep.TimeZone = ny, "America/New_York"
		rep.Start = specs.Start{Schedule: "30 1 29 10 *"} // 01:30 on October 29: the repeated hour
		h.apply(rehash(gap), rehash(rep))
		time.Sleep(time.Until(time.Date(2000, 11, 1, 0, 0, 0, 0, time.UTC)))
		synctest.Wait()
		p, _, _ := h.st.Progress("gap")
		if len(p.FiredStarts) != 1 || !p.FiredStarts[0].Equal(time.Date(2000, 4, 2, 7, 0, 0, 0, time.UTC)) {
			t.Errorf("gap starts %v, want one at 03:00 EDT (07:00Z)", p.FiredStarts)
		}
		p, _, _ = h.st.Progress("repeat")
		if len(p.FiredStarts) != 1 || !p.FiredStarts[0].Equal(time.Date(2000, 10, 29, 5, 30, 0, 0, time.UTC)) {
			t.Errorf("repeated-hour starts %v, want one at 01:30 EDT (05:30Z)", p.FiredStarts)
		}
		golden(t, "dst-night", h.ocs.text())
	})
}

func TestAGroupStuckInWaitingUnloadIsForceUnloadedAfterTheTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := ocssim.Default()
		cfg.DrainTime = ocssim.Duration(time.Hour) // calls that never finish
		h := newSimHarness(t, cfg)
		a := item("fresh-leads", 101, ocs.DialModePredict)
		a.StopAt.Time = after(time.Minute)
		h.apply(seq("nightly", a))
		time.Sleep(10 * time.Minute)
		synctest.Wait()
		text := h.sim.TranscriptText(false)
		if !strings.Contains(text, "CM_ReqForceUnloadCampaign") {
			t.Fatalf("no force unload:\n%s", text)
		}
		if st, _ := h.sim.Stats(101, 732); st != ocs.StatusNotLoaded {
			t.Errorf("group left %s", st)
		}
		evs, _ := h.st.History("nightly", time.Time{}, time.Time{}, 0)
		found := false
		for _, e := range evs {
			found = found || strings.Contains(e.Message, "forcing the unload")
		}
		if !found {
			t.Error("the forced unload is not recorded in history")
		}
		golden(t, "sim-force-unload", text)
	})
}

func TestTheNewcomerDemoRunsBothItemsWithinAMinuteOnTheDefaults(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		snap := specs.LoadDir("../examples/demo.yaml")
		if specs.HasErrors(snap.Problems) || snap.Sequences["demo"] == nil {
			t.Fatalf("demo.yaml: %v", snap.Problems)
		}
		h := newSimHarness(t, ocssim.Default())
		h.apply(snap.Sequences["demo"])
		time.Sleep(time.Minute)
		synctest.Wait()
		p, _, _ := h.st.Progress("demo")
		if len(p.Completed) != 1 || len(p.Completed[0].Items) != 2 {
			t.Fatalf("after a minute: %+v", p)
		}
		if r := p.Completed[0].Items[1].Reason; r != "calling list depleted (auto-completion)" {
			t.Errorf("drain ended by %q", r)
		}
	})
}

func TestAnswersLaterThanTheTimeoutSlowTheRunButNeverRepeatALoadOrStart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newSimHarness(t, ocssim.Default())
		// Answers later than the 5 s request timeout: every request first
		// times out, then the loop reads the status and carries on. (Not
		// 7 s: a late answer would then arrive at the very instant of the
		// second retry, and which the loop sees first is a coin toss.)
		h.sim.DelayAnswers(7*time.Second + 300*time.Millisecond)
		a := item("fresh-leads", 101, ocs.DialModeProgress)
		a.StopAt.Time = after(time.Minute)
		b := item("retries", 102, ocs.DialModeProgress)
		b.StopAt.Time = after(time.Minute)
		h.apply(seq("nightly", a, b))
		time.Sleep(10 * time.Minute)
		synctest.Wait()
		p, _, _ := h.st.Progress("nightly")
		if len(p.Completed) != 1 || len(p.Completed[0].Items) != 2 {
			t.Fatalf("run did not complete: %+v", p)
		}
		count := map[string]int{}
		for _, r := range h.sim.Transcript() {
			if r.Msg.Type == ocs.ReqLoadCampaign || r.Msg.Type == ocs.ReqStartDialing {
				count[r.Msg.Type.String()+"/"+string(rune('0'+r.Msg.CampaignDBID-100))]++
			}
		}
		for k, n := range count {
			if n != 1 {
				t.Errorf("%s sent %d times", k, n)
			}
		}
		golden(t, "sim-delayed-answers", h.sim.TranscriptText(false))
	})
}
