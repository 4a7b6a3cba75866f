package reconcile

import (
	"context"
	"crypto/sha256"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	goldenfile "github.com/sequencer-dev/sequencer/internal/golden"
	"github.com/sequencer-dev/sequencer/ocs"
	"github.com/sequencer-dev/sequencer/specs"
	"github.com/sequencer-dev/sequencer/store"
)

// harness runs the loop against a fake OCS and a real store inside a
// synctest bubble.
type harness struct {
	t      *testing.T
	ocs    *fakeOCS
	dbPath string
	st     *store.Store
	rec    *Reconciler
	snaps  chan specs.Snapshot
	cancel context.CancelFunc
	done   chan error
	last   specs.Snapshot
	tweak  []func(*Config)
}

func newHarness(t *testing.T, tweak ...func(*Config)) *harness {
	t.Helper()
	h := &harness{t: t, ocs: newFakeOCS(), dbPath: filepath.Join(t.TempDir(), "sequencer.db"), tweak: tweak}
	h.start()
	t.Cleanup(h.stop)
	return h
}

func (h *harness) start() {
	st, err := store.Open(h.dbPath, store.Options{NoSync: true})
	if err != nil {
		h.t.Fatal(err)
	}
	h.st = st
	cfg := Config{Link: h.ocs, Store: st, PollInterval: 5 * time.Second, RequestTimeout: 10 * time.Second}
	for _, f := range h.tweak {
		f(&cfg)
	}
	h.rec = New(cfg)
	h.snaps = make(chan specs.Snapshot, 1)
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel, h.done = cancel, make(chan error, 1)
	go func() { h.done <- h.rec.Run(ctx, h.snaps) }()
	if h.last.Sequences != nil {
		h.snaps <- h.last
	}
}

// stop ends the loop cleanly (as SIGTERM does) and closes the store.
func (h *harness) stop() {
	if h.cancel == nil {
		return
	}
	h.cancel()
	if err := <-h.done; err != nil {
		h.t.Errorf("loop: %v", err)
	}
	h.st.Close()
	h.cancel = nil
}

// restart stops the daemon and starts a new one on the same store.
func (h *harness) restart() {
	h.stop()
	h.start()
}

func (h *harness) apply(seqs ...*specs.Sequence) {
	snap := specs.Snapshot{Sequences: map[string]*specs.Sequence{}, Files: map[string]string{}}
	for _, s := range seqs {
		snap.Sequences[s.Name] = s
		snap.Files[s.Name] = s.Name + ".yaml"
	}
	h.last = snap
	h.snaps <- snap
}

// wait lets simulated time pass with every goroutine settled.
func (h *harness) wait(d time.Duration) {
	time.Sleep(d)
	synctest.Wait()
}

func (h *harness) status(name string) SequenceStatus {
	st, _ := h.rec.Sequence(name)
	return st
}

func golden(t *testing.T, name, got string) { goldenfile.Check(t, name, got) }

// seq builds a validated-looking spec: UTC, immediate start unless set.
func seq(name string, items ...specs.Item) *specs.Sequence {
	s := &specs.Sequence{Name: name, TimeZone: "UTC", Location: time.UTC, Engine: specs.EngineSequencer,
		OnDelete: specs.OnDeleteStop, Items: items, Generation: 1}
	return rehash(s)
}

func rehash(s *specs.Sequence) *specs.Sequence {
	h := sha256.Sum256([]byte(fmt.Sprintf("%v|%v|%v|%v|%+v|%+v", s.Items, s.Start, s.Window, s.Suspend, s.OnDelete, s.Engine)))
	s.Hash = fmt.Sprintf("%x", h[:8])
	return s
}

func item(name string, campaign int32, mode ocs.DialMode) specs.Item {
	it := specs.Item{Name: name, CampaignDBID: campaign, GroupDBID: 732, DialMode: mode}
	if mode.IsPredictive() {
		it.Optimize = specs.Optimize{By: ocs.OptimizeOverdialRate, Goal: 3}
	}
	return it
}

func after(d time.Duration) specs.StopTime { return specs.StopTime{Kind: specs.StopAfter, After: d} }

func TestANightlyThreeItemSequenceEndsItsItemsByContactsDialsAndTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t)
		fresh := item("fresh-leads", 101, ocs.DialModePredict)
		fresh.StopAt.Contacts = 500
		retries := item("retries", 102, ocs.DialModeProgress)
		retries.StopAt.Dials = 300
		retries.SleepBeforeNextStart = 10 * time.Minute
		callbacks := item("callbacks", 103, ocs.DialModePreview)
		callbacks.StopAt.Time = after(90 * time.Minute)
		callbacks.SleepBeforeNextStart = 5 * time.Minute
		h.apply(seq("nightly", fresh, retries, callbacks))

		h.wait(20 * time.Minute)
		h.ocs.dial(101, 732, 1600, 499)
		h.wait(time.Minute)
		if got := h.status("nightly").Item; got != "fresh-leads" {
			t.Fatalf("499 contacts stopped the item: now on %q", got)
		}
		h.ocs.dial(101, 732, 10, 1)
		h.wait(time.Minute)
		if got := h.status("nightly"); got.Item != "retries" || got.Phase != PhaseSleeping {
			t.Fatalf("after 500 contacts: item %q phase %s, want retries sleeping", got.Item, got.Phase)
		}
		h.wait(30 * time.Minute)
		h.ocs.dial(102, 732, 300, 40)
		h.wait(3 * time.Hour)
		st := h.status("nightly")
		if st.Phase != PhaseCompleted || st.Run != "" {
			t.Errorf("after the last item: phase %s run %q, want Completed", st.Phase, st.Run)
		}
		golden(t, "nightly-three-items", h.ocs.text())
		ends := historyOf(t, h.st, "nightly", "item-end")
		want := []string{
			"item fresh-leads ended: 500 contacts reached (1610 dials, 500 contacts; overshoot 0 contacts)",
			"item retries ended: 300 dials reached (300 dials, 40 contacts; overshoot 0 dials)",
			"item callbacks ended: stop time +1h30m0s reached (0 dials, 0 contacts)",
		}
		if strings.Join(ends, "\n") != strings.Join(want, "\n") {
			t.Errorf("history item ends:\n%s\nwant\n%s", strings.Join(ends, "\n"), strings.Join(want, "\n"))
		}
	})
}

func TestADepletedListWithAutoCompletionEndsTheItemWithoutStopOrUnload(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t)
		a := item("drain", 105, ocs.DialModePredict)
		a.AutoCompletion = true
		b := item("next", 106, ocs.DialModeProgress)
		b.StopAt.Time = after(time.Minute)
		h.apply(seq("demo", a, b))
		h.wait(10 * time.Minute)
		h.ocs.deplete(105, 732)
		h.wait(5 * time.Minute)
		golden(t, "depletion-auto-completion", h.ocs.text())
		if st := h.status("demo"); st.Phase != PhaseCompleted {
			t.Errorf("phase %s, want Completed", st.Phase)
		}
	})
}

func TestACallingWindowPausesTheItemAndResumesItAtTheNextOpening(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t)
		it := item("fresh-leads", 101, ocs.DialModePredict)
		it.StopAt.Contacts = 500
		s := seq("windowed", it)
		s.Window = &specs.Window{From: specs.TimeOfDay{Hour: 8}, To: specs.TimeOfDay{Hour: 9}}
		h.apply(rehash(s))
		h.wait(8*time.Hour + 30*time.Minute) // bubble starts at midnight UTC
		if st := h.status("windowed"); st.Phase != PhaseRunning {
			t.Fatalf("08:30: phase %s, want Running", st.Phase)
		}
		h.wait(time.Hour)
		if st := h.status("windowed"); st.Phase != PhasePaused {
			t.Fatalf("09:30: phase %s, want Paused", st.Phase)
		}
		h.wait(23 * time.Hour) // next day 08:30
		h.ocs.dial(101, 732, 900, 500)
		h.wait(time.Minute)
		golden(t, "window-pause-resume", h.ocs.text())
		if st := h.status("windowed"); st.Phase != PhaseCompleted {
			t.Errorf("phase %s, want Completed", st.Phase)
		}
	})
}

func TestARestartMidItemNeitherRepeatsNorSkipsARequest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t)
		a := item("first", 101, ocs.DialModePredict)
		a.StopAt.Time = after(time.Hour)
		b := item("second", 102, ocs.DialModeProgress)
		b.StopAt.Time = after(time.Hour)
		h.apply(seq("nightly", a, b))
		h.wait(10 * time.Minute)
		h.restart()
		h.wait(time.Hour)
		// The start of the second item is in flight when the daemon dies.
		h.ocs.mu.Lock()
		h.ocs.dropNext[ocs.ReqStartDialing] = true
		h.ocs.mu.Unlock()
		h.wait(time.Second)
		h.restart()
		h.wait(2 * time.Hour)
		golden(t, "restart-mid-run", h.ocs.text())
		open, err := h.st.OpenIntents()
		if err != nil || len(open) != 0 {
			t.Errorf("open intents after recovery: %v %v", open, err)
		}
	})
}

func TestAnOCSRestartMidItemReloadsTheGroupAndCarriesItsCounts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t)
		a := item("fresh-leads", 101, ocs.DialModePredict)
		a.StopAt.Contacts = 500
		h.apply(seq("nightly", a))
		h.wait(10 * time.Minute)
		h.ocs.dial(101, 732, 800, 300)
		h.wait(time.Minute)
		h.ocs.restart()
		h.wait(time.Minute)
		h.ocs.dial(101, 732, 500, 200)
		h.wait(time.Minute)
		golden(t, "ocs-restart-sequencer-engine", h.ocs.text())
		if st := h.status("nightly"); st.Phase != PhaseCompleted {
			t.Errorf("phase %s, want Completed after 300+200 contacts across the restart", st.Phase)
		}
	})
}

func TestEditingTheRunningItemsDialModeSwitchesLiveOrRestartsForPreview(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t)
		a := item("fresh-leads", 101, ocs.DialModePredict)
		a.StopAt.Time = after(3 * time.Hour)
		s := seq("nightly", a)
		h.apply(s)
		h.wait(10 * time.Minute)
		s2 := *s
		s2.Items = []specs.Item{item("fresh-leads", 101, ocs.DialModeProgress)}
		s2.Items[0].StopAt.Time = after(3 * time.Hour)
		s2.Generation = 2
		h.apply(rehash(&s2))
		h.wait(10 * time.Minute)
		s3 := s2
		s3.Items = []specs.Item{item("fresh-leads", 101, ocs.DialModePreview)}
		s3.Items[0].StopAt.Time = after(3 * time.Hour)
		s3.Generation = 3
		h.apply(rehash(&s3))
		h.wait(3 * time.Hour)
		golden(t, "dial-mode-edit", h.ocs.text())
	})
}

func TestDeletingASequenceStopsAndUnloadsItsGroupUnlessOrphaned(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t)
		a := item("fresh-leads", 101, ocs.DialModePredict)
		b := item("other", 102, ocs.DialModeProgress)
		orphan := seq("orphaned", b)
		orphan.OnDelete = specs.OnDeleteOrphan
		h.apply(seq("nightly", a), rehash(orphan))
		h.wait(10 * time.Minute)
		h.apply()
		h.wait(10 * time.Minute)
		golden(t, "deletion", h.ocs.text())
		if _, ok, _ := h.st.Progress("nightly"); ok {
			t.Error("progress of a deleted sequence is still stored")
		}
		if len(h.rec.Sequences()) != 0 {
			t.Errorf("deleted sequences still listed: %v", h.rec.Sequences())
		}
	})
}

func TestSuspendStopsDialingAndResumeContinuesTheSameItem(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t)
		a := item("fresh-leads", 101, ocs.DialModePredict)
		a.StopAt.Contacts = 100
		h.apply(seq("nightly", a))
		h.wait(10 * time.Minute)
		ctx := context.Background()
		if err := h.rec.Suspend(ctx, "nightly", "ana", "list audit", time.Time{}); err != nil {
			t.Fatal(err)
		}
		h.wait(time.Minute)
		if st := h.status("nightly"); st.Phase != PhaseSuspended || !st.Suspended || st.SuspendedBy != "api:ana" {
			t.Fatalf("after suspend: %+v", st)
		}
		h.restart() // the override survives a restart
		h.wait(time.Hour)
		if st := h.status("nightly"); st.Phase != PhaseSuspended {
			t.Fatalf("after restart: phase %s, want Suspended", st.Phase)
		}
		if err := h.rec.Resume(ctx, "nightly", "ana", "done"); err != nil {
			t.Fatal(err)
		}
		h.wait(time.Minute)
		h.ocs.dial(101, 732, 300, 100)
		h.wait(time.Minute)
		golden(t, "suspend-resume", h.ocs.text())
		if err := h.rec.Suspend(ctx, "nope", "ana", "", time.Time{}); err == nil {
			t.Error("suspending an unknown sequence succeeded")
		}
	})
}

func TestAGroupOwnedByAnOCSSequenceGivesAConflictAndNoFight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t)
		h.ocs.owned[groupKey{101, 732}] = true
		h.apply(seq("nightly", item("fresh-leads", 101, ocs.DialModePredict)))
		h.wait(time.Hour)
		golden(t, "part-of-sequence", h.ocs.text())
		st := h.status("nightly")
		var conflict *Condition
		for i := range st.Conditions {
			if st.Conditions[i].Type == CondConflict {
				conflict = &st.Conditions[i]
			}
		}
		if conflict == nil || !conflict.Status || conflict.Reason != "PartOfSequence" {
			t.Errorf("conditions %+v, want Conflict/PartOfSequence", st.Conditions)
		}
	})
}

func TestTwoSequencesSharingAGroupTakeTurns(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t)
		a := item("a", 101, ocs.DialModePredict)
		a.StopAt.Time = after(30 * time.Minute)
		b := item("b", 101, ocs.DialModeProgress)
		b.StopAt.Time = after(30 * time.Minute)
		h.apply(seq("first", a), seq("second", b))
		h.wait(5 * time.Minute)
		st := h.status("second")
		found := false
		for _, c := range st.Conditions {
			found = found || (c.Type == CondConflict && c.Status && c.Reason == "GroupInUse")
		}
		if !found {
			t.Errorf("second sequence has no GroupInUse conflict: %+v", st.Conditions)
		}
		h.wait(2 * time.Hour)
		golden(t, "shared-group", h.ocs.text())
	})
}

func TestRemovingTheCurrentItemStopsItAndContinuesWithTheNext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t)
		a := item("a", 101, ocs.DialModePredict)
		a.StopAt.Time = after(time.Hour)
		b := item("b", 102, ocs.DialModeProgress)
		b.StopAt.Time = after(time.Hour)
		s := seq("nightly", a, b)
		h.apply(s)
		h.wait(10 * time.Minute)
		s2 := *s
		s2.Items = []specs.Item{b}
		s2.Generation = 2
		h.apply(rehash(&s2))
		h.wait(2 * time.Hour)
		golden(t, "remove-current-item", h.ocs.text())
	})
}

func TestADroppedAnswerIsRetriedWithBackoffAndSucceeds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t)
		h.ocs.dropNext[ocs.ReqLoadCampaign] = true
		a := item("a", 101, ocs.DialModePredict)
		a.StopAt.Time = after(time.Hour)
		h.apply(seq("nightly", a))
		h.wait(10*time.Second + 500*time.Millisecond) // past the 10 s request timeout, before the retry
		st := h.status("nightly")
		stalled := false
		for _, c := range st.Conditions {
			stalled = stalled || (c.Type == CondStalled && c.Status)
		}
		if !stalled {
			t.Errorf("a timed-out load did not set Stalled: %+v", st.Conditions)
		}
		h.wait(2 * time.Hour)
		golden(t, "dropped-answer", h.ocs.text())
	})
}

func TestACronSequenceRunsOnlyTheLatestMissedStartWithinItsDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t)
		a := item("a", 101, ocs.DialModePredict)
		a.StopAt.Time = after(10 * time.Minute)
		s := seq("hourly", a)
		s.Start = specs.Start{Schedule: "0 * * * *", StartingDeadline: 30 * time.Minute}
		h.apply(rehash(s))
		h.wait(90 * time.Minute) // runs at 01:00
		h.stop()
		time.Sleep(4*time.Hour + 50*time.Minute) // down from 01:30 to 06:20: 02:00…06:00 missed
		h.start()
		h.wait(time.Minute)
		p, _, _ := h.st.Progress("hourly")
		if len(p.SkippedStarts) != 4 {
			t.Errorf("skipped %d starts, want 4 (02:00 to 05:00): %+v", len(p.SkippedStarts), p.SkippedStarts)
		}
		h.wait(time.Hour)
		golden(t, "missed-starts", h.ocs.text())
	})
}
