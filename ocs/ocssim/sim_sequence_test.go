package ocssim

import (
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sequencer-dev/sequencer/ocs"
)

// seqStatus asks OCS for the status of the sequence on group g and returns
// the sequence's status with each item's.
func (r *rig) seqStatus(g int32, sched ocs.Schedule) (ocs.GroupCampStatus, []ocs.GroupCampStatus) {
	r.t.Helper()
	ans, err := r.do(ocs.NewGetCampaignStatus(tg(0, g)).WithSchedule(sched))
	if err != nil {
		r.t.Fatalf("status of the sequence on %d: %v", g, err)
	}
	got, ok, err := ans.Schedule()
	if !ok || err != nil {
		r.t.Fatalf("the sequence status carries no schedule (%v, %v)", ok, err)
	}
	var items []ocs.GroupCampStatus
	for i, it := range got.Items {
		if !it.HasStatus {
			r.t.Fatalf("scheduleItem-%d has no status", i+1)
		}
		items = append(items, it.Status)
	}
	return ans.GroupCampStatus, items
}

func (r *rig) wantSeq(when string, g int32, sched ocs.Schedule, st ocs.GroupCampStatus, items ...ocs.GroupCampStatus) {
	r.t.Helper()
	gotSt, gotItems := r.seqStatus(g, sched)
	if gotSt != st || !slices.Equal(gotItems, items) {
		r.t.Errorf("%s: sequence %s items %v, want %s items %v", when, gotSt, gotItems, st, items)
	}
}

const (
	notLoaded = ocs.StatusNotLoaded
	running   = ocs.StatusRunning
)

// TestEachSequenceItemEndsByItsOwnStopCondition runs an OCS-side sequence
// of three items on group 732, each with one condition that is reached
// first and others that are not:
//
//	item 1: 101 preview (1/s) from 0:00 until stopAtTime 0:05; 900 dials and 500 contacts are not reached
//	item 2: 102 predictive (10/s) after 1 min of sleep until 60 contacts (200 dials, 20 s); 1 h and 5000 dials are not reached
//	item 3: 103 progressive (5/s) after 2 min of sleep until 100 dials (20 s); 1 h and 1000 contacts are not reached
//
// so the sequence ends at 5:00 + 1:00 + 0:20 + 2:00 + 0:20 = 8:40.
func TestEachSequenceItemEndsByItsOwnStopCondition(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, Default())
		t0 := time.Now()
		at := func(d time.Duration) int64 { return ocs.EncodeTime(t0.Add(d)) }
		sched := ocs.Schedule{
			Description: "three stop conditions",
			Items: []ocs.ScheduleItem{
				{CampaignDBID: 101, DialMode: ocs.DialModePreview,
					StopAtTime: at(5 * time.Minute), StopAtDials: 900, StopAtContacts: 500},
				{CampaignDBID: 102, DialMode: ocs.DialModePredict, OptMethod: ocs.OptimizeBusyFactor, OptMethodValue: 80,
					SleepBeforeNextStart: 1, StopAtContacts: 60, StopAtTime: at(time.Hour), StopAtDials: 5000},
				{CampaignDBID: 103, DialMode: ocs.DialModeProgress,
					SleepBeforeNextStart: 2, StopAtDials: 100, StopAtTime: at(time.Hour), StopAtContacts: 1000},
			},
		}
		seq := tg(0, 732)
		r.ok(ocs.NewLoad(seq, preview, nil).WithSchedule(sched), ocs.EvCampaignLoaded, ocs.StatusInActive)
		// An item's group belongs to the sequence: direct requests are refused.
		r.fails(ocs.NewLoad(tg(102, 732), progressive, nil), ocs.ErrPartOfSequence)
		r.ok(ocs.NewStartDialing(seq, preview, nil).WithSchedule(sched), ocs.EvDialingStarted, ocs.StatusRunning)

		r.sleep(time.Minute)
		r.wantSeq("1 min in", 732, sched, running, running, notLoaded, notLoaded)
		r.sleep(4*time.Minute + 30*time.Second) // 5:30, sleeping before item 2
		r.wantSeq("5:30", 732, sched, running, notLoaded, notLoaded, notLoaded)
		st, stats := r.status(101, 732)
		if st != notLoaded {
			t.Errorf("item 1's group after its end: %s", st)
		}
		wantStats(t, "item 1, 5 min at 1/s", stats, ocs.Stats{Dials: 300, Contacts: 90, RecordsLeft: 700})
		r.sleep(40 * time.Second) // 6:10
		r.wantSeq("6:10", 732, sched, running, notLoaded, running, notLoaded)
		r.sleep(50 * time.Second) // 7:00
		r.wantSeq("7:00", 732, sched, running, notLoaded, notLoaded, notLoaded)
		_, stats = r.status(102, 732)
		wantStats(t, "item 2, until 60 contacts", stats, ocs.Stats{Dials: 200, Contacts: 60, RecordsLeft: 800})
		r.sleep(90 * time.Second) // 8:30
		r.wantSeq("8:30", 732, sched, running, notLoaded, notLoaded, running)
		r.sleep(30 * time.Second) // 9:00
		r.wantSeq("9:00, done", 732, sched, ocs.StatusInActive, notLoaded, notLoaded, notLoaded)
		_, stats = r.status(103, 732)
		wantStats(t, "item 3, until 100 dials", stats, ocs.Stats{Dials: 100, Contacts: 30, RecordsLeft: 900})

		// Each item ran from its start to exactly when its own condition
		// was reached.
		r.wantEvents(
			"+0s CM_EvCampaignStatus 101/732 CM_GCS_InActive preview",
			"+0s CM_EvCampaignStatus 101/732 CM_GCS_Running preview",
			"+5m0s CM_EvDialingStopped 101/732 CM_GCS_InActive",
			"+5m0s CM_EvCampaignStatus 101/732 CM_GCS_InActive preview",
			"+5m0s CM_EvCampaignUnloaded 101/732 CM_GCS_NotLoaded",
			"+5m0s CM_EvCampaignStatus 101/732 CM_GCS_NotLoaded progressive",
			"+6m0s CM_EvCampaignStatus 102/732 CM_GCS_InActive predictive",
			"+6m0s CM_EvCampaignStatus 102/732 CM_GCS_Running predictive",
			"+6m20s CM_EvDialingStopped 102/732 CM_GCS_InActive",
			"+6m20s CM_EvCampaignStatus 102/732 CM_GCS_InActive predictive",
			"+6m20s CM_EvCampaignUnloaded 102/732 CM_GCS_NotLoaded",
			"+6m20s CM_EvCampaignStatus 102/732 CM_GCS_NotLoaded progressive",
			"+8m20s CM_EvCampaignStatus 103/732 CM_GCS_InActive progressive",
			"+8m20s CM_EvCampaignStatus 103/732 CM_GCS_Running progressive",
			"+8m40s CM_EvDialingStopped 103/732 CM_GCS_InActive",
			"+8m40s CM_EvCampaignStatus 103/732 CM_GCS_InActive progressive",
			"+8m40s CM_EvCampaignUnloaded 103/732 CM_GCS_NotLoaded",
			"+8m40s CM_EvCampaignStatus 103/732 CM_GCS_NotLoaded progressive",
		)
		if got := r.since(); got != 9*time.Minute {
			t.Errorf("simulated time %s, want 9m0s", got)
		}

		// Unloading the finished sequence gives its groups back.
		r.ok(ocs.NewUnload(seq).WithSchedule(sched), ocs.EvCampaignUnloaded, ocs.StatusInActive)
		r.fails(ocs.NewGetCampaignStatus(seq).WithSchedule(sched), ocs.ErrCampaignScheduleNotFound)
		r.ok(ocs.NewLoad(tg(102, 732), progressive, nil), ocs.EvCampaignLoaded, ocs.StatusInActive)
		r.golden("sequence-three-stop-conditions", true)
	})
}

// TestAnEightHourSequenceRunsInsideASynctestBubble polls an OCS-side
// sequence every 15 simulated minutes, as the daemon would, from start to
// end; the fake clock makes the eight hours take no real time.
func TestAnEightHourSequenceRunsInsideASynctestBubble(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := withRecords(101, 732, 1_000_000)
		for i := range cfg.CampaignGroups {
			if cfg.CampaignGroups[i].CampaignDBID == 102 {
				cfg.CampaignGroups[i].Records = 1_000_000
			}
		}
		r := newRig(t, cfg)
		t0 := time.Now()
		sched := ocs.Schedule{Description: "a working day", Items: []ocs.ScheduleItem{
			{CampaignDBID: 101, DialMode: ocs.DialModeProgress, StopAtTime: ocs.EncodeTime(t0.Add(4 * time.Hour))},
			{CampaignDBID: 102, DialMode: ocs.DialModePredict, SleepBeforeNextStart: 60, StopAtTime: ocs.EncodeTime(t0.Add(8 * time.Hour))},
		}}
		seq := tg(0, 732)
		r.ok(ocs.NewLoad(seq, progressive, nil).WithSchedule(sched), ocs.EvCampaignLoaded, ocs.StatusInActive)
		r.ok(ocs.NewStartDialing(seq, progressive, nil).WithSchedule(sched), ocs.EvDialingStarted, ocs.StatusRunning)
		polls := 0
		for {
			r.sleep(15 * time.Minute)
			polls++
			st, _ := r.seqStatus(732, sched)
			if st != ocs.StatusRunning {
				break
			}
			if polls > 100 {
				t.Fatalf("still running after %s", r.since())
			}
		}
		if elapsed := time.Since(t0); elapsed < 8*time.Hour {
			t.Errorf("the simulated clock advanced %s, want at least 8h", elapsed)
		}
		if polls != 32 {
			t.Errorf("%d polls of 15 min, want 32 (the sequence ends at 8h)", polls)
		}
		r.wantEvents(
			"+0s CM_EvCampaignStatus 101/732 CM_GCS_InActive progressive",
			"+0s CM_EvCampaignStatus 101/732 CM_GCS_Running progressive",
			"+4h0m0s CM_EvDialingStopped 101/732 CM_GCS_InActive",
			"+4h0m0s CM_EvCampaignStatus 101/732 CM_GCS_InActive progressive",
			"+4h0m0s CM_EvCampaignUnloaded 101/732 CM_GCS_NotLoaded",
			"+4h0m0s CM_EvCampaignStatus 101/732 CM_GCS_NotLoaded progressive",
			"+5h0m0s CM_EvCampaignStatus 102/732 CM_GCS_InActive predictive",
			"+5h0m0s CM_EvCampaignStatus 102/732 CM_GCS_Running predictive",
			"+8h0m0s CM_EvDialingStopped 102/732 CM_GCS_InActive",
			"+8h0m0s CM_EvCampaignStatus 102/732 CM_GCS_InActive predictive",
			"+8h0m0s CM_EvCampaignUnloaded 102/732 CM_GCS_NotLoaded",
			"+8h0m0s CM_EvCampaignStatus 102/732 CM_GCS_NotLoaded progressive",
		)
		_, s1 := r.status(101, 732)
		_, s2 := r.status(102, 732)
		wantStats(t, "101, 4 h at 5/s", s1, ocs.Stats{Dials: 72000, Contacts: 21600, RecordsLeft: 928000})
		wantStats(t, "102, 3 h at 10/s", s2, ocs.Stats{Dials: 108000, Contacts: 32400, RecordsLeft: 892000})
	})
}

func TestAStoppedSequenceResumesItsItemWithTheDialsItAlreadyMade(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, Default())
		seq := ocs.Target{OriginAppDBID: 310, TargetAppDBID: 120, CampaignDBID: 0, GroupDBID: 732}
		sched := ocs.Schedule{Items: []ocs.ScheduleItem{
			{CampaignDBID: 101, DialMode: ocs.DialModeProgress, StopAtDials: 100, SleepBeforeNextStart: 1},
			{CampaignDBID: 102, DialMode: ocs.DialModeProgress, StopAtDials: 50},
		}}
		r.ok(ocs.NewLoad(seq, ocs.Pacing{}, nil).WithSchedule(sched), ocs.EvCampaignLoaded, ocs.StatusInActive)
		r.ok(ocs.NewStartDialing(seq, ocs.Pacing{}, nil).WithSchedule(sched), ocs.EvDialingStarted, ocs.StatusRunning)
		r.sleep(time.Minute + 15*time.Second) // the 1 min sleep, then 75 dials at 5/s
		r.ok(ocs.NewStopDialing(seq).WithSchedule(sched), ocs.EvDialingStopped, ocs.StatusInActive)
		if ev := r.lastEvent(); ev.GroupCampStatus != ocs.StatusInActive || ev.CampaignDBID != 101 {
			t.Errorf("stopping the sequence sent %s for %d, want InActive for 101", ev.GroupCampStatus, ev.CampaignDBID)
		}
		r.sleep(time.Hour)
		r.ok(ocs.NewStartDialing(seq, ocs.Pacing{}, nil).WithSchedule(sched), ocs.EvDialingStarted, ocs.StatusRunning)
		r.sleep(5*time.Second + time.Millisecond) // 25 more dials, no second sleep
		_, st := r.status(101, 732)
		if st.Dials != 100 {
			t.Errorf("item 1 made %d dials across the stop, want its limit of 100", st.Dials)
		}
		if g, _ := r.status(101, 732); g != ocs.StatusNotLoaded {
			t.Errorf("item 1 is %s after reaching 100 dials, want NotLoaded", g)
		}
	})
}

func TestASecondUnloadDoesNotCutTheDrainShort(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, Default())
		r.ok(ocs.NewLoad(tg(101, 732), pace, nil), ocs.EvCampaignLoaded, ocs.StatusInActive)
		r.ok(ocs.NewStartDialing(tg(101, 732), pace, nil), ocs.EvDialingStarted, ocs.StatusRunning)
		r.sleep(time.Minute)
		r.ok(ocs.NewUnload(tg(101, 732)), ocs.EvCampaignUnloaded, ocs.StatusWaitingUnload)
		r.sleep(time.Second)
		r.ok(ocs.NewUnload(tg(101, 732)), ocs.EvCampaignUnloaded, ocs.StatusWaitingUnload)
		r.sleep(999 * time.Millisecond)
		if g, _ := r.status(101, 732); g != ocs.StatusWaitingUnload {
			t.Errorf("1.999 s into a 2 s drain: %s, want WaitingUnload", g)
		}
		r.sleep(time.Millisecond)
		if g, _ := r.status(101, 732); g != ocs.StatusNotLoaded {
			t.Errorf("after the drain: %s, want NotLoaded", g)
		}
	})
}
