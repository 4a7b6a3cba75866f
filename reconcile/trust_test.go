package reconcile

import (
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sequencer-dev/sequencer/ocs"
	"github.com/sequencer-dev/sequencer/ocs/ocssim"
	"github.com/sequencer-dev/sequencer/specs"
	"github.com/sequencer-dev/sequencer/store"
)

// Regression tests for what an OCS that follows only the seed may do, each
// failing on the daemon as it was before the trust fixes.

func count(transcript, what string) int { return strings.Count(transcript, what) }

func cond(st SequenceStatus, typ string) *Condition {
	for i := range st.Conditions {
		if st.Conditions[i].Type == typ && st.Conditions[i].Status {
			return &st.Conditions[i]
		}
	}
	return nil
}

// historyOf lists the messages of a sequence's history events of a kind
// (item-end, halt…), oldest first.
func historyOf(t *testing.T, st interface {
	History(seq string, since, until time.Time, limit int) ([]store.Event, error)
}, name, kind string) []string {
	t.Helper()
	evs, err := st.History(name, time.Time{}, time.Time{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range evs {
		if e.Kind == kind {
			out = append(out, e.Message)
		}
	}
	return out
}

func TestAStaleRunningAnswerBehindAnAutoCompletionNeverRestartsTheDepletedItem(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t)
		a := item("drain", 105, ocs.DialModePredict)
		a.AutoCompletion = true
		b := item("next", 106, ocs.DialModeProgress)
		b.StopAt.Time = after(time.Hour)
		h.apply(seq("demo", a, b))
		h.wait(time.Minute)
		h.ocs.mu.Lock()
		h.ocs.staleOnPoll[groupKey{105, 732}] = true
		h.ocs.mu.Unlock()
		h.wait(10 * time.Minute)
		tr := h.ocs.text()
		if n := count(tr, "CM_ReqStartDialing 105/732"); n != 1 {
			t.Errorf("item drain started %d times, want once:\n%s", n, tr)
		}
		if ends := historyOf(t, h.st, "demo", "item-end"); len(ends) == 0 || !strings.Contains(ends[0], "depleted") {
			t.Errorf("item ends %q, want drain ended as depleted", ends)
		}
	})
}

func TestAnOCSRestartAnnouncedOnlyByTheLinkReloadsTheItemWithinSeconds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t)
		a := item("fresh-leads", 101, ocs.DialModeProgress)
		a.StopAt.Time = after(2 * time.Hour) // no count stop: polled only every resync
		h.apply(seq("nightly", a))
		h.wait(10 * time.Minute)
		h.ocs.dial(101, 732, 40, 10)
		h.wait(40 * time.Second) // one status poll sees the counts
		h.ocs.bounce(true)
		h.wait(2 * time.Second)
		tr := h.ocs.text()
		if n := count(tr, "CM_ReqLoadCampaign 101/732"); n != 2 {
			t.Fatalf("loads %d within 2 s of the reconnect, want the item loaded again:\n%s", n, tr)
		}
		if n := count(tr, "CM_ReqStartDialing 101/732"); n != 2 {
			t.Errorf("starts %d, want the reloaded item dialing again", n)
		}
		h.wait(3 * time.Hour)
		if ends := historyOf(t, h.st, "nightly", "item-end"); len(ends) != 1 || !strings.Contains(ends[0], "40 dials, 10 contacts") {
			t.Errorf("item ends %q, want one end with the counts from before the restart carried", ends)
		}
	})
}

func TestAGroupLoadedByHandBeforeTheDaemonStartsIsNeverTouched(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t)
		h.ocs.mu.Lock()
		op := h.ocs.group(groupKey{611, 912})
		op.status, op.mode = ocs.StatusRunning, ocs.DialModePredict // an operator's campaign in OCM
		h.ocs.mu.Unlock()
		a := specs.Item{Name: "fresh-leads", CampaignDBID: 611, GroupDBID: 912, DialMode: ocs.DialModeProgress}
		a.StopAt.Time = after(30 * time.Minute)
		h.apply(seq("nightly", a))
		h.wait(2 * time.Hour)
		tr := h.ocs.text()
		for _, req := range []string{"CM_ReqStartDialing", "CM_ReqStopDialing", "CM_ReqUnloadCampaign", "CM_ReqSetDialingMode"} {
			if strings.Contains(tr, req) {
				t.Errorf("the daemon sent %s to a group it did not load:\n%s", req, tr)
			}
		}
		st := h.status("nightly")
		c := cond(st, CondConflict)
		if c == nil || c.Message != "campaign group 611@912 is loaded outside the sequencer; waiting" {
			t.Errorf("conflict condition %+v", c)
		}
		// The operator unloads it: the item runs, once.
		h.ocs.mu.Lock()
		op.status = ocs.StatusNotLoaded
		h.ocs.mu.Unlock()
		h.wait(2 * time.Hour)
		tr = h.ocs.text()
		if n := count(tr, "CM_ReqStartDialing 611/912"); n != 1 {
			t.Errorf("started %d times once the group was free, want once:\n%s", n, tr)
		}
		if st := h.status("nightly"); st.Phase != PhaseCompleted || cond(st, CondConflict) != nil {
			t.Errorf("phase %s conditions %+v, want Completed without a conflict", st.Phase, st.Conditions)
		}
	})
}

func TestAnItemThatOnlyCountsCanEndDoesNotStartOnALinkWithoutCounters(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t)
		h.ocs.counters = false
		only := item("warm-up", 101, ocs.DialModeProgress)
		only.StopAt.Contacts = 30
		both := item("retries", 102, ocs.DialModeProgress)
		both.StopAt.Dials = 300
		both.StopAt.Time = after(time.Hour)
		both.GroupDBID = 733
		h.apply(seq("counts", only), seq("timed", both))
		h.wait(10 * time.Minute)
		tr := h.ocs.text()
		if strings.Contains(tr, "101/732") {
			t.Errorf("an item only counts can end was sent to OCS:\n%s", tr)
		}
		c := cond(h.status("counts"), CondCountersUnavailable)
		if c == nil || c.Reason != "CountStopsOnly" || !strings.Contains(c.Message, "add stopAt.time") {
			t.Errorf("condition %+v, want CountStopsOnly with the fix", c)
		}
		if !strings.Contains(tr, "CM_ReqStartDialing 102/733") {
			t.Errorf("the item with a time stop did not run:\n%s", tr)
		}
		if c := cond(h.status("timed"), CondCountersUnavailable); c == nil || c.Reason != "CountStopsIgnored" {
			t.Errorf("condition %+v, want the CountStopsIgnored warning", c)
		}
		h.wait(2 * time.Hour)
		if st := h.status("timed"); st.Phase != PhaseCompleted {
			t.Errorf("timed: phase %s, want Completed by its time stop", st.Phase)
		}
	})
}

func TestAnAutoCompletionWhoseEventsWereLostEndsTheItemAfterOneReload(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t)
		h.ocs.counters = false
		h.ocs.silentAuto = true
		a := item("drain", 105, ocs.DialModeProgress)
		a.AutoCompletion = true
		h.apply(seq("demo", a))
		h.wait(time.Minute)
		h.ocs.mu.Lock()
		g := h.ocs.group(groupKey{105, 732})
		g.status, g.stats.RecordsLeft, g.empty = ocs.StatusNotLoaded, 0, true // auto-completed; events lost
		h.ocs.mu.Unlock()
		h.wait(30 * time.Minute)
		tr := h.ocs.text()
		if n := count(tr, "CM_ReqLoadCampaign 105/732"); n != 2 {
			t.Errorf("loads %d, want the first and one reload:\n%s", n, tr)
		}
		if st := h.status("demo"); st.Phase != PhaseCompleted {
			t.Errorf("phase %s, want Completed", st.Phase)
		}
		if ends := historyOf(t, h.st, "demo", "item-end"); len(ends) != 1 || !strings.Contains(ends[0], "depleted") {
			t.Errorf("item ends %q, want one, depleted", ends)
		}
	})
}

func TestWhileTheLinkIsDownNothingIsSentAndTheLoopDoesNotSpin(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t)
		a := item("fresh-leads", 101, ocs.DialModeProgress)
		a.StopAt.Contacts = 500
		h.apply(seq("nightly", a))
		h.wait(time.Minute)
		h.ocs.setDown(true)
		h.wait(time.Second)
		before := h.ocs.requestCount()
		h.wait(10 * time.Minute)
		if n := h.ocs.requestCount() - before; n > 0 {
			t.Errorf("%d requests while the link was down, want none", n)
		}
		if c := cond(h.status("nightly"), CondStalled); c == nil || c.Reason != "LinkDown" {
			t.Errorf("condition %+v, want Stalled LinkDown", c)
		}
		h.ocs.setDown(false)
		h.wait(time.Second)
		if h.ocs.requestCount() == before {
			t.Error("nothing re-read once the link was back")
		}
	})
}

// failingStore fails every durable write while full is set, as a full
// disk does; reads go through.
type failingStore struct {
	Store
	full atomic.Bool
}

var errDiskFull = errors.New("write sequencer.db: no space left on device")

func (f *failingStore) PutProgress(p store.Progress) error {
	if f.full.Load() {
		return errDiskFull
	}
	return f.Store.PutProgress(p)
}

func (f *failingStore) BeginIntent(in store.Intent) (store.Intent, bool, error) {
	if f.full.Load() {
		return store.Intent{}, false, errDiskFull
	}
	return f.Store.BeginIntent(in)
}

func (f *failingStore) Commit(b *store.Batch) error {
	if f.full.Load() {
		return errDiskFull
	}
	return commitTo(f.Store, b)
}

func (f *failingStore) SettleIntent(id string, st store.IntentState, outcome string, at time.Time) error {
	if f.full.Load() {
		return errDiskFull
	}
	return f.Store.SettleIntent(id, st, outcome, at)
}

func (f *failingStore) PutHalt(h *store.Halt) error {
	if f.full.Load() {
		return errDiskFull
	}
	return f.Store.PutHalt(h)
}

func (f *failingStore) Append(evs ...store.Event) error {
	if f.full.Load() {
		return errDiskFull
	}
	return f.Store.Append(evs...)
}

func TestAFullDiskNeverKeepsOCSDialingPastTheStop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fs := &failingStore{}
		h := newHarness(t, func(c *Config) { fs.Store = c.Store; c.Store = fs })
		a := item("warm-up", 101, ocs.DialModeProgress)
		a.StopAt.Contacts = 30
		b := item("next", 102, ocs.DialModeProgress)
		b.StopAt.Time = after(time.Hour)
		h.apply(seq("demo", a, b))
		h.wait(time.Minute)
		fs.full.Store(true)
		h.ocs.dial(101, 732, 100, 30)
		h.wait(time.Minute)
		tr := h.ocs.text()
		if !strings.Contains(tr, "CM_ReqStopDialing 101/732") || !strings.Contains(tr, "CM_ReqUnloadCampaign 101/732") {
			t.Fatalf("with the disk full the stop was not sent:\n%s", tr)
		}
		if strings.Contains(tr, "102/732") {
			t.Errorf("the next item started without its journal:\n%s", tr)
		}
		if err := h.rec.StoreError(); err == nil || !errors.Is(err, errDiskFull) {
			t.Errorf("StoreError %v, want the disk-full error (readiness)", err)
		}
		fs.full.Store(false)
		h.wait(2 * time.Minute)
		if !strings.Contains(h.ocs.text(), "CM_ReqStartDialing 102/732") {
			t.Errorf("once the disk had room the run did not go on:\n%s", h.ocs.text())
		}
		if err := h.rec.StoreError(); err != nil {
			t.Errorf("StoreError %v after the disk had room again", err)
		}
		p, _, _ := h.st.Progress("demo")
		if p.Run == nil || p.Run.ItemName != "next" {
			t.Errorf("stored progress %+v, want the write retried up to item next", p.Run)
		}
		if ends := historyOf(t, h.st, "demo", "item-end"); len(ends) != 1 {
			t.Errorf("history item ends %q: the history written during the full disk was lost", ends)
		}
	})
}

func TestAFailedJournalWriteIsRetriedAfterItsBackoffNotTheResync(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fs := &failingStore{}
		h := newHarness(t, func(c *Config) { fs.Store = c.Store; c.Store = fs })
		fs.full.Store(true)
		a := item("fresh-leads", 101, ocs.DialModeProgress)
		a.StopAt.Time = after(time.Hour)
		h.apply(seq("nightly", a))
		h.wait(100 * time.Millisecond)
		fs.full.Store(false)
		h.wait(1500 * time.Millisecond) // BackoffMin is 1 s; the resync is 30 s
		if !strings.Contains(h.ocs.text(), "CM_ReqLoadCampaign 101/732") {
			t.Errorf("the load waited past its 1 s backoff:\n%s", h.ocs.text())
		}
	})
}

func TestStatusForCampaignGroupsNoSpecNamesIsNotKept(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t)
		h.apply(seq("nightly", item("fresh-leads", 101, ocs.DialModeProgress)))
		h.wait(time.Second)
		for g := int32(1); g <= 500; g++ {
			h.ocs.events <- h.ocs.recv.Stamp(ocs.NewStatus(ocs.Target{OriginAppDBID: 120, CampaignDBID: 9000, GroupDBID: g}, ocs.StatusRunning))
		}
		h.wait(time.Second)
		for _, g := range h.rec.Groups() {
			if g.CampaignDBID == 9000 {
				t.Fatalf("kept status of group %d/%d that no spec names", g.CampaignDBID, g.GroupDBID)
			}
		}
		gs, err := h.st.GroupStatuses()
		if err != nil {
			t.Fatal(err)
		}
		for _, g := range gs {
			if g.CampaignDBID == 9000 {
				t.Fatalf("stored status of group %d/%d that no spec names", g.CampaignDBID, g.GroupDBID)
			}
		}
	})
}

// The simulator's own count of what a group dialed: records it consumed.
func simDialed(h *simHarness, campaign, group int32, records int64) int64 {
	_, st := h.sim.Stats(campaign, group)
	return records - int64(st.RecordsLeft)
}

func TestCountStopsOvershootByAtMostTwoPercentOrThreeAttempts(t *testing.T) {
	for _, tc := range []struct {
		name            string
		contacts, dials int32
		mode            ocs.DialMode
	}{
		{"nine contacts at 10 dials/s", 9, 0, ocs.DialModePredict},
		{"150 dials at 5 dials/s", 0, 150, ocs.DialModeProgress},
		{"5000 dials at 10 dials/s", 0, 5000, ocs.DialModePredict},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				cfg := ocssim.Default()
				const records = 100000
				for i := range cfg.CampaignGroups {
					cfg.CampaignGroups[i].Records = records
				}
				h := newSimHarness(t, cfg)
				it := item("counted", 101, tc.mode)
				it.StopAt.Contacts, it.StopAt.Dials = tc.contacts, tc.dials
				h.apply(seq("counts", it))
				time.Sleep(4 * time.Hour)
				synctest.Wait()
				p, _, _ := h.st.Progress("counts")
				if len(p.Completed) != 1 {
					t.Fatalf("completed %+v", p.Completed)
				}
				res := p.Completed[0].Items[0]
				bound := func(limit int32) int64 { return int64(max(float64(limit)*0.02, 3)) }
				if tc.contacts > 0 && res.Contacts-int64(tc.contacts) > bound(tc.contacts) {
					t.Errorf("stopped at %d contacts for a limit of %d (bound %d)", res.Contacts, tc.contacts, bound(tc.contacts))
				}
				if tc.dials > 0 {
					// Ground truth: what the simulator dialed, not what the daemon saw.
					if got := simDialed(h, 101, 732, records); got-int64(tc.dials) > bound(tc.dials) {
						t.Errorf("the simulator dialed %d for a limit of %d (bound %d)", got, tc.dials, bound(tc.dials))
					}
				}
				if ends := historyOf(t, h.st, "counts", "item-end"); len(ends) != 1 || !strings.Contains(ends[0], "overshoot") {
					t.Errorf("item end %q does not state the overshoot", ends)
				}
			})
		})
	}
}

func TestAnOCSRestartDuringTheLastItemOfAnOCSSequenceResubmitsIt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := ocssim.Default()
		for i := range cfg.CampaignGroups {
			cfg.CampaignGroups[i].Records = 100000
		}
		h := newSimHarness(t, cfg)
		only := specs.Item{Name: "follow-up", CampaignDBID: 106, GroupDBID: 733, DialMode: ocs.DialModeProgress}
		only.StopAt.Time = after(30 * time.Minute)
		delegated := seq("delegated", only)
		delegated.Engine = specs.EngineOCS
		h.apply(rehash(delegated))
		time.Sleep(5 * time.Minute)
		synctest.Wait()
		h.sim.Restart()
		time.Sleep(10 * time.Second)
		synctest.Wait()
		p, _, _ := h.st.Progress("delegated")
		if p.Run == nil {
			t.Fatalf("the run ended when OCS restarted during its last item: completed %+v", p.Completed)
		}
		loads := 0
		for _, r := range h.sim.Transcript() {
			if r.Msg.Type == ocs.ReqLoadCampaign {
				loads++
			}
		}
		if loads != 2 {
			t.Errorf("%d loads of the OCS sequence, want the original and one resubmission", loads)
		}
		time.Sleep(time.Hour)
		synctest.Wait()
		if p, _, _ := h.st.Progress("delegated"); p.Run != nil || len(p.Completed) != 1 {
			t.Errorf("after the stop time: run %+v completed %d", p.Run, len(p.Completed))
		}
	})
}

// Found by the DST harness (seed 260): a crash while a Load is in flight,
// after an earlier Load found the group loaded by an operator, must not
// take the operator's group for ours.
func TestACrashDuringARetriedLoadNeverAdoptsTheOperatorsGroup(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t)
		h.ocs.mu.Lock()
		op := h.ocs.group(groupKey{611, 912})
		op.status, op.mode = ocs.StatusInActive, ocs.DialModePredict
		h.ocs.mu.Unlock()
		a := specs.Item{Name: "fresh-leads", CampaignDBID: 611, GroupDBID: 912, DialMode: ocs.DialModeProgress}
		a.StopAt.Time = after(2 * time.Hour)
		h.apply(seq("nightly", a))
		h.wait(time.Second) // first Load refused: loaded outside
		h.ocs.mu.Lock()
		h.ocs.dropNext[ocs.ReqLoadCampaign] = true // the retry gets no answer
		h.ocs.mu.Unlock()
		h.wait(31 * time.Second)
		h.restart() // the daemon dies with the retry's intent open
		h.wait(time.Hour)
		tr := h.ocs.text()
		if strings.Contains(tr, "CM_ReqStartDialing") || strings.Contains(tr, "CM_ReqUnloadCampaign") {
			t.Errorf("after the crash the daemon took over the operator's group:\n%s", tr)
		}
		if c := cond(h.status("nightly"), CondConflict); c == nil {
			t.Error("no Conflict condition after the restart")
		}
	})
}

// Found by the DST harness (seed 42): a Load that never left (no link yet)
// proves nothing; the running group found when the link comes up is the
// operator's, and its stop time is not the daemon's business.
func TestALoadThatNeverLeftDoesNotMakeAGroupFoundRunningOurs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t)
		h.ocs.mu.Lock()
		op := h.ocs.group(groupKey{611, 912})
		op.status, op.mode = ocs.StatusRunning, ocs.DialModePredict
		h.ocs.down = true // the link has not come up yet; no notice so far
		h.ocs.mu.Unlock()
		a := specs.Item{Name: "fresh-leads", CampaignDBID: 611, GroupDBID: 912, DialMode: ocs.DialModeProgress}
		a.StopAt.Time = after(3 * time.Minute)
		h.apply(seq("nightly", a))
		h.wait(100 * time.Millisecond)
		h.ocs.setDown(false)
		h.wait(time.Hour)
		tr := h.ocs.text()
		for _, req := range []string{"CM_ReqStartDialing", "CM_ReqStopDialing", "CM_ReqUnloadCampaign"} {
			if strings.Contains(tr, req) {
				t.Errorf("the daemon sent %s to the operator's group:\n%s", req, tr)
			}
		}
	})
}

// Found by the DST harness (seeds 8, 26, 38, 44): a daemon restarted while
// OCS is unreachable gets no LinkDown notice (its link was never up), and
// every poll failing at once made it spin.
func TestALinkThatWasNeverUpDoesNotMakeTheLoopSpin(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t)
		a := item("fresh-leads", 101, ocs.DialModeProgress)
		a.StopAt.Time = after(time.Hour)
		h.apply(seq("nightly", a))
		h.wait(time.Minute)
		h.restart()
		h.ocs.mu.Lock()
		h.ocs.down = true // the new daemon's link never connects; no notice
		h.ocs.mu.Unlock()
		before := h.ocs.requestCount()
		h.wait(10 * time.Minute)
		if n := h.ocs.requestCount() - before; n > 5 {
			t.Errorf("%d requests in 10 minutes against a link that is down, want a handful", n)
		}
		h.ocs.setDown(false)
		h.wait(time.Second)
		if h.status("nightly").ItemState != "dialing" {
			t.Errorf("item state %s once the link came up", h.status("nightly").ItemState)
		}
	})
}

// Found by the DST harness (seed 529): a crash with a Load's intent open
// proves nothing about a group found dialing: a Start only ever follows a
// Load's answer, so someone else started it.
func TestAGroupFoundDialingAfterACrashDuringItsFirstLoadIsNotAdopted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fs := &failingStore{}
		h := newHarness(t, func(c *Config) { fs.Store = c.Store; c.Store = fs })
		h.ocs.mu.Lock()
		op := h.ocs.group(groupKey{611, 912})
		op.status, op.mode = ocs.StatusRunning, ocs.DialModePredict
		h.ocs.dropNext[ocs.ReqLoadCampaign] = true // the first Load gets no answer
		h.ocs.mu.Unlock()
		a := specs.Item{Name: "fresh-leads", CampaignDBID: 611, GroupDBID: 912, DialMode: ocs.DialModeProgress}
		a.StopAt.Dials = 10
		h.apply(seq("nightly", a))
		h.wait(time.Second)
		// The daemon dies with the Load's intent open: nothing it would
		// still write reaches the disk.
		fs.full.Store(true)
		h.stop()
		fs.full.Store(false)
		h.start()
		h.ocs.dial(611, 912, 500, 100)
		h.wait(time.Hour)
		tr := h.ocs.text()
		for _, req := range []string{"CM_ReqStartDialing", "CM_ReqStopDialing", "CM_ReqUnloadCampaign"} {
			if strings.Contains(tr, req) {
				t.Errorf("the daemon sent %s to the operator's group:\n%s", req, tr)
			}
		}
	})
}

// refusingStore refuses every commit and counts them; past 1,000 it
// blocks instead, so that a loop spinning on failed commits fails the
// test instead of hanging it.
type refusingStore struct {
	Store
	n     atomic.Int64
	stuck chan struct{}
}

func (f *refusingStore) Commit(*store.Batch) error {
	if f.n.Add(1) > 1000 {
		<-f.stuck
	}
	return errDiskFull
}

func TestADiskThatRefusesEveryWriteIsRetriedWithBackoffNotInASpin(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fs := &refusingStore{stuck: make(chan struct{})}
		defer close(fs.stuck)
		h := newHarness(t, func(c *Config) { fs.Store = c.Store; c.Store = fs })
		a := item("fresh-leads", 101, ocs.DialModeProgress)
		a.StopAt.Time = after(time.Hour)
		h.apply(seq("nightly", a))
		h.wait(2 * time.Minute)
		// Backing off from 1 s, doubling: about 8 attempts in 2 minutes.
		if n := fs.n.Load(); n > 20 {
			t.Errorf("%d commits tried in 2 minutes against a disk that refuses them all, want a backoff", n)
		}
	})
}

// A burst larger than one turn's share (maxTurnRequests) meets a disk that
// refuses the first commit: the decided requests wait for the retry after
// the backoff, and the loop waits with them instead of going round and
// round on a turn that can neither decide more nor commit. (Spinning, it
// would never let the bubble's clock move: this test would time out.)
func TestABurstThatFillsATurnWhileTheDiskRefusesWritesWaitsOutTheBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		t0 := time.Date(2026, 12, 2, 18, 0, 0, 0, time.UTC)
		time.Sleep(time.Until(t0.Add(-time.Minute)))
		const n = maxTurnRequests + 100
		var fs *refusingStore
		g := newGatedRig(t, burstConfig(n), func(raw *store.Store) Store {
			fs = &refusingStore{Store: raw, stuck: make(chan struct{})}
			return fs
		})
		defer close(fs.stuck)
		g.snaps <- burstSpecs(n, t0)
		time.Sleep(time.Until(t0.Add(2 * time.Minute)))
		synctest.Wait()
		if k := fs.n.Load(); k == 0 || k > 20 {
			t.Errorf("%d commits tried in 2 minutes against a disk that refuses them all, want a few, backing off", k)
		}
		for _, rec := range g.sim.Transcript() {
			if rec.Msg.Type == ocs.ReqLoadCampaign {
				t.Fatalf("%s left without its intent committed", rec.Msg.Type)
			}
		}
	})
}

// The progress written after a Start's answer is a write no request waits
// for, and may not reach the file before a crash; the Start's intent did,
// before the Start left. Recovery dates the item from that intent, so a
// "+90m" stop still falls 90 minutes after the item really started, not
// 90 minutes after the restart.
func TestAnItemFoundDialingAfterACrashCountsItsStopFromItsStartsIntent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t)
		a := item("evening", 101, ocs.DialModeProgress)
		a.StopAt.Time = after(90 * time.Minute)
		h.apply(seq("nightly", a))
		h.wait(time.Minute)
		p, _, _ := h.st.Progress("nightly")
		if p.Run == nil || p.Run.ItemState != stDialing {
			t.Fatalf("progress %+v, want the item dialing", p.Run)
		}
		started := p.Run.ItemStarted
		h.stop()
		// As after a crash that lost the progress of the Start's answer
		// and the settlement of its intent.
		st, err := store.Open(h.dbPath, store.Options{NoSync: true})
		if err != nil {
			t.Fatal(err)
		}
		run := *p.Run
		p.Run.ItemState, p.Run.ItemStarted = stStarting, time.Time{}
		if err := st.PutProgress(p); err != nil {
			t.Fatal(err)
		}
		if err := st.SettleIntent(intentID(&run, actStart, ocs.Message{}), store.IntentOpen, "", time.Time{}); err != nil {
			t.Fatal(err)
		}
		st.Close()
		h.wait(10 * time.Minute)
		h.start()
		h.wait(time.Minute)
		p, _, _ = h.st.Progress("nightly")
		if p.Run == nil || p.Run.ItemState != stDialing {
			t.Fatalf("after the restart: progress %+v, want the item adopted as dialing", p.Run)
		}
		if d := p.Run.ItemStarted.Sub(started); d < -time.Second || d > time.Second {
			t.Errorf("item start %s after the restart, want %s (its Start's intent), not the restart", p.Run.ItemStarted.Format(time.TimeOnly), started.Format(time.TimeOnly))
		}
	})
}
