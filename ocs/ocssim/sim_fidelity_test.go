package ocssim

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/sequencer-dev/sequencer/ocs"
)

func TestUndefinedDialParametersAreRefusedAsInvalidParameterWhateverTheState(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, Default())
		bad := []ocs.Pacing{
			{DialMode: 99},
			{DialMode: ocs.DialModePredict, OptimizeBy: 9, OptimizeGoal: 80},
			{DialMode: ocs.DialModePredict, OptimizeBy: ocs.OptimizeBusyFactor, OptimizeGoal: 500},
			{DialMode: ocs.DialModePredict, OptimizeBy: ocs.OptimizeOverdialRate, OptimizeGoal: -5},
		}
		for _, p := range bad {
			r.fails(ocs.NewLoad(tg(101, 732), p, nil), ocs.ErrInvalidParameter)
		}
		if st, _ := r.s.Stats(101, 732); st != ocs.StatusNotLoaded {
			t.Fatalf("a refused load left the group %s", st)
		}
		r.ok(ocs.NewLoad(tg(101, 732), progressive, nil), ocs.EvCampaignLoaded, ocs.StatusInActive)
		for _, p := range bad {
			r.fails(ocs.NewStartDialing(tg(101, 732), p, nil), ocs.ErrInvalidParameter)
		}
		r.ok(ocs.NewStartDialing(tg(101, 732), predictive, nil), ocs.EvDialingStarted, ocs.StatusRunning)
		for _, p := range bad {
			r.fails(ocs.NewSetDialingMode(tg(101, 732), p, nil), ocs.ErrInvalidParameter)
		}
		// Wait time goals are seconds: 500 is a goal, not a percentage.
		wait := ocs.Pacing{DialMode: ocs.DialModePredict, OptimizeBy: ocs.OptimizeWaitTime, OptimizeGoal: 500}
		r.ok(ocs.NewSetDialingMode(tg(101, 732), wait, nil), ocs.EvDialingModeChanged, ocs.StatusRunning)
		r.golden("invalid-parameters", false)
	})
}

func TestSetDialingModeOnAGroupThatIsNotLoadedIsRefusedAsNotLoaded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, Default())
		r.fails(ocs.NewSetDialingMode(tg(101, 732), predictive, nil), ocs.ErrCampaignNotLoaded)
		r.ok(ocs.NewLoad(tg(101, 732), progressive, nil), ocs.EvCampaignLoaded, ocs.StatusInActive)
		// Loaded but not dialing is a different answer.
		r.fails(ocs.NewSetDialingMode(tg(101, 732), predictive, nil), ocs.ErrCampaignNotStarted)
		r.ok(ocs.NewStartDialing(tg(101, 732), progressive, nil), ocs.EvDialingStarted, ocs.StatusRunning)
		r.sleep(time.Second)
		r.ok(ocs.NewStopDialing(tg(101, 732)), ocs.EvDialingStopped, ocs.StatusInActive)
		r.ok(ocs.NewUnload(tg(101, 732)), ocs.EvCampaignUnloaded, ocs.StatusWaitingUnload)
		// On its way out the group is no longer loaded.
		r.fails(ocs.NewSetDialingMode(tg(101, 732), predictive, nil), ocs.ErrCampaignNotLoaded)
		r.golden("set-mode-not-loaded", false)
	})
}

func TestTargetZeroIsAcceptedOnlyForRecordRequests(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, Default())
		all := ocs.Target{OriginAppDBID: 310, TargetAppDBID: 0, CampaignDBID: 101, GroupDBID: 732}
		for _, m := range []ocs.Message{
			ocs.NewLoad(all, progressive, nil),
			ocs.NewStartDialing(all, progressive, nil),
			ocs.NewSetDialingMode(all, progressive, nil),
			ocs.NewStopDialing(all),
			ocs.NewUnload(all),
			ocs.NewForceUnload(all),
			ocs.NewGetCampaignStatus(all),
		} {
			r.fails(m, ocs.ErrInvalidParameter)
		}
		if st, _ := r.s.Stats(101, 732); st != ocs.StatusNotLoaded {
			t.Errorf("a load to target 0 was acted on: %s", st)
		}
		if _, err := r.do(ocs.NewDoNotCall(310, 0, ocs.Record{Phone: Phone(4)})); err != nil {
			t.Errorf("DoNotCall to target 0: %v", err)
		}
		if _, err := r.do(ocs.NewCancelRecord(310, 0, ocs.Record{Phone: Phone(5)})); err != nil {
			t.Errorf("CancelRecord to target 0: %v", err)
		}
		r.wantEvents()
		r.golden("target-zero", false)
	})
}

func TestStatusCarriesTheConfiguredDialParametersWhileTheGroupIsNotLoaded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := Default()
		configured := ocs.Pacing{DialMode: ocs.DialModePredict, OptimizeBy: ocs.OptimizeBusyFactor, OptimizeGoal: 70}
		cfg.CampaignGroups[0].DialMode = configured.DialMode
		cfg.CampaignGroups[0].OptimizeBy = configured.OptimizeBy
		cfg.CampaignGroups[0].OptimizeGoal = configured.OptimizeGoal
		r := newRig(t, cfg)
		pacing := func(when string, want ocs.Pacing) {
			t.Helper()
			ans, err := r.do(ocs.NewGetCampaignStatus(tg(101, 732)))
			if err != nil {
				t.Fatalf("%s: %v", when, err)
			}
			if ans.Has&(ocs.AttrDialMode|ocs.AttrOptimizeBy|ocs.AttrOptimizeGoal) != ocs.AttrDialMode|ocs.AttrOptimizeBy|ocs.AttrOptimizeGoal {
				t.Fatalf("%s: the status answer lacks dial parameters", when)
			}
			if ans.Pacing() != want {
				t.Errorf("%s: status says %+v, want %+v", when, ans.Pacing(), want)
			}
		}
		pacing("never loaded", configured)
		r.ok(ocs.NewLoad(tg(101, 732), progressive, nil), ocs.EvCampaignLoaded, ocs.StatusInActive)
		pacing("loaded progressive", progressive)
		r.ok(ocs.NewUnload(tg(101, 732)), ocs.EvCampaignUnloaded, ocs.StatusNotLoaded)
		// The runtime parameters went with the group.
		pacing("unloaded", configured)
		if e := r.lastEvent(); e.Pacing() != configured {
			t.Errorf("the NotLoaded status event says %+v, want %+v", e.Pacing(), configured)
		}
		r.golden("configured-pacing", true)
	})
}
