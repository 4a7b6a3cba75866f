package reconcile

import (
	"strings"
	"testing"
	"time"

	"github.com/sequencer-dev/sequencer/ocs"
	"github.com/sequencer-dev/sequencer/specs"
)

// Hand-made transcripts for the DST invariant checker: each breaks one
// invariant, so a harness whose checker asserts nothing cannot pass.

var dstT0 = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

func at(d time.Duration) time.Time { return dstT0.Add(d) }

// dstCase is one sequence "s" with one item on campaign group 1001/2001,
// given from the start, with counters.
func dstCase(it specs.Item) (*dstTruth, groupKey) {
	k := groupKey{1001, 2001}
	it.CampaignDBID, it.GroupDBID = k.campaign, k.group
	s := seq("s", it)
	return &dstTruth{
		Daemon: 310, Counters: true, Slack: 0,
		Items:      map[groupKey]*dstItem{k: {Seq: s, Item: it}},
		Given:      []dstGiven{{At: dstT0, Groups: map[groupKey]bool{k: true}}},
		Boundaries: map[string][]time.Time{"s": {dstT0}},
		End:        at(6 * time.Hour), LastFault: dstT0,
	}, k
}

func (tr *dstTruth) req(d time.Duration, origin int32, t ocs.MessageType, k groupKey) {
	tr.Requests = append(tr.Requests, dstReq{At: at(d), Origin: origin, Type: t, Key: k})
}

func (tr *dstTruth) state(d time.Duration, k groupKey, st ocs.GroupCampStatus, dials, left int32) {
	tr.States = append(tr.States, dstState{At: at(d), Key: k, Status: st,
		Stats: ocs.Stats{Dials: dials, Contacts: dials * 3 / 10, RecordsLeft: left}})
}

// loadStart is the daemon loading and starting k at d.
func (tr *dstTruth) loadStart(d time.Duration, origin int32, k groupKey, left int32) {
	tr.req(d, origin, ocs.ReqLoadCampaign, k)
	tr.state(d, k, ocs.StatusInActive, 0, left)
	tr.req(d, origin, ocs.ReqStartDialing, k)
	tr.state(d, k, ocs.StatusRunning, 0, left)
}

func wantViolation(t *testing.T, got []string, prefix, fragment string) {
	t.Helper()
	for _, v := range got {
		if strings.HasPrefix(v, prefix) && strings.Contains(v, fragment) {
			return
		}
	}
	t.Errorf("want a %s violation mentioning %q, got %q", prefix, fragment, got)
}

func wantNone(t *testing.T, got []string) {
	t.Helper()
	if len(got) > 0 {
		t.Errorf("want no violation, got %q", got)
	}
}

func autoItem() specs.Item {
	return specs.Item{Name: "drain", DialMode: ocs.DialModeProgress, AutoCompletion: true}
}

// depleteAt is auto-completion: stopped, then unloaded, by OCS.
func (tr *dstTruth) depleteAt(d time.Duration, k groupKey, dials int32) {
	tr.state(d, k, ocs.StatusInActive, dials, 0)
	tr.state(d, k, ocs.StatusNotLoaded, dials, 0)
}

func TestTheDSTCheckerPassesACleanRunOfEveryKind(t *testing.T) {
	tr, k := dstCase(autoItem())
	tr.loadStart(0, 310, k, 100)
	tr.depleteAt(20*time.Second, k, 100)
	tr.Final = []SequenceStatus{{Name: "s", Phase: PhaseCompleted}}
	wantNone(t, checkDST(tr))
}

func TestTheDSTCheckerReportsAnItemStartedAgainAfterItsListRanDry(t *testing.T) {
	tr, k := dstCase(autoItem())
	tr.loadStart(0, 310, k, 100)
	tr.depleteAt(20*time.Second, k, 100)
	tr.loadStart(25*time.Second, 310, k, 0) // the stale "Running" won
	tr.depleteAt(25*time.Second, k, 0)
	wantViolation(t, checkDST(tr), "I1:", "started the item again 1 time")
}

func TestTheDSTCheckerAllowsOneRecheckWhenTheLinkWasDownAsTheListRanDry(t *testing.T) {
	tr, k := dstCase(autoItem())
	tr.loadStart(0, 310, k, 100)
	tr.Outages = []dstSpan{{From: at(19 * time.Second), To: at(22 * time.Second)}}
	tr.depleteAt(20*time.Second, k, 100)
	tr.loadStart(25*time.Second, 310, k, 0)
	tr.depleteAt(25*time.Second, k, 0)
	wantNone(t, checkDST(tr))
}

func TestTheDSTCheckerReportsRequestsForAGroupNoSpecGives(t *testing.T) {
	tr, k := dstCase(autoItem())
	other := groupKey{1002, 2001}
	tr.loadStart(0, 310, other, 100)
	wantViolation(t, checkDST(tr), "I2:", "CM_ReqLoadCampaign for campaign group 1002/2001, which no current spec gives")
	tr.Requests = nil
	tr.States = nil
	tr.req(time.Minute, 310, ocs.ReqUnloadCampaign, other)
	wantViolation(t, checkDST(tr), "I2:", "no spec ever gave it")
	_ = k
}

func TestTheDSTCheckerReportsTheDaemonTakingOverAGroupAnOperatorLoaded(t *testing.T) {
	tr, k := dstCase(autoItem())
	tr.loadStart(0, 311, k, 100)                                  // the operator in OCM
	tr.req(time.Minute, 310, ocs.ReqLoadCampaign, k)              // error 5
	tr.req(time.Minute, 310, ocs.ReqStartDialing, k)              // error 7
	tr.req(2*time.Minute, 310, ocs.ReqStopDialing, k)             // stops the operator's campaign
	tr.state(2*time.Minute, k, ocs.StatusInActive, 600, 40)       //
	tr.req(2*time.Minute, 310, ocs.ReqUnloadCampaign, k)          //
	tr.state(2*time.Minute, k, ocs.StatusNotLoaded, 600, 40)      //
	tr.req(3*time.Minute, 310, ocs.ReqLoadCampaign, k)            // its own, later: fine
	tr.state(3*time.Minute, k, ocs.StatusInActive, 0, 40)         //
	tr.req(3*time.Minute, 310, ocs.ReqStartDialing, k)            //
	tr.state(3*time.Minute, k, ocs.StatusRunning, 0, 40)          //
	tr.req(3*time.Minute+time.Second, 310, ocs.ReqStopDialing, k) //
	got := checkDST(tr)
	wantViolation(t, got, "I2:", "00:01:00.000 the daemon sent CM_ReqStartDialing for campaign group 1001/2001, loaded by application 311")
	wantViolation(t, got, "I2:", "00:02:00.000 the daemon sent CM_ReqStopDialing")
	for _, v := range got {
		if strings.Contains(v, "00:03:01") {
			t.Errorf("the daemon's own group was reported: %s", v)
		}
	}
}

func TestTheDSTCheckerReportsDialingPastTheStopTime(t *testing.T) {
	it := specs.Item{Name: "timed", DialMode: ocs.DialModeProgress}
	it.StopAt.Time = after(10 * time.Minute)
	tr, k := dstCase(it)
	tr.loadStart(0, 310, k, 10000)
	tr.req(10*time.Minute+5*time.Second, 310, ocs.ReqStopDialing, k)
	tr.state(10*time.Minute+5*time.Second, k, ocs.StatusInActive, 3000, 7000)
	wantViolation(t, checkDST(tr), "I3:", "stop time was 00:10:00.000 but it was still dialing")

	// Down at the stop time: as soon as the link is back is in time.
	tr.Outages = []dstSpan{{From: at(9 * time.Minute), To: at(10*time.Minute + time.Second)}}
	wantNone(t, checkDST(tr))
}

func TestTheDSTCheckerReportsACountStopThatOvershoots(t *testing.T) {
	it := specs.Item{Name: "counted", DialMode: ocs.DialModeProgress}
	it.StopAt.Contacts = 9
	tr, k := dstCase(it)
	tr.loadStart(0, 310, k, 10000)
	tr.req(10*time.Second, 310, ocs.ReqStopDialing, k)
	tr.state(10*time.Second, k, ocs.StatusInActive, 50, 9950) // 15 contacts
	wantViolation(t, checkDST(tr), "I3:", "stopAt.contacts 9 overshot: OCS counted 15")

	tr.Counters = false // a link without counters cannot be held to it
	wantNone(t, checkDST(tr))
}

func TestTheDSTCheckerReportsASequenceSilentlyStuckAtTheEnd(t *testing.T) {
	tr, _ := dstCase(autoItem())
	tr.Final = []SequenceStatus{{Name: "s", Phase: PhaseRunning, Item: "drain", ItemState: stDialing}}
	wantViolation(t, checkDST(tr), "I4:", "sequence s is still Running")

	tr.Final[0].Conditions = []Condition{{Type: CondStalled, Status: true, Reason: "NoCounters"}}
	wantNone(t, checkDST(tr))
}

func TestTheDSTCheckerReportsAGroupNotDialingAgainAfterAnOCSRestart(t *testing.T) {
	it := specs.Item{Name: "timed", DialMode: ocs.DialModeProgress}
	it.StopAt.Time = after(time.Hour)
	tr, k := dstCase(it)
	tr.loadStart(0, 310, k, 100000)
	tr.state(10*time.Minute, k, ocs.StatusRunning, 3000, 97000) // sampled as OCS went down
	tr.States = append(tr.States, dstState{At: at(10 * time.Minute), Restart: true})
	tr.Outages = []dstSpan{{From: at(10 * time.Minute), To: at(10*time.Minute + time.Second)}}
	wantViolation(t, checkDST(tr), "I5:", "was not dialing again by 00:10:31.000")

	tr.loadStart(10*time.Minute+20*time.Second, 310, k, 97000)
	tr.req(time.Hour, 310, ocs.ReqStopDialing, k)
	tr.state(time.Hour, k, ocs.StatusInActive, 15000, 82000)
	wantNone(t, checkDST(tr))
}

func TestTheDSTCheckerHoldsTheDaemonToTheOCSSequenceItRunsAfterARestart(t *testing.T) {
	it := specs.Item{Name: "last", DialMode: ocs.DialModeProgress, AutoCompletion: true}
	it.StopAt.Time = after(time.Hour)
	tr, k := dstCase(it)
	tr.Items[k].Seq.Engine = specs.EngineOCS
	tr.Given = []dstGiven{{At: dstT0, Groups: map[groupKey]bool{{0, k.group}: true}}}
	tr.req(0, 310, ocs.ReqLoadCampaign, groupKey{0, k.group})
	tr.req(0, 310, ocs.ReqStartDialing, groupKey{0, k.group})
	tr.state(0, k, ocs.StatusInActive, 0, 100000) // OCS loads the item itself
	tr.state(0, k, ocs.StatusRunning, 0, 100000)
	tr.States = append(tr.States, dstState{At: at(10 * time.Minute), Restart: true})
	tr.Outages = []dstSpan{{From: at(10 * time.Minute), To: at(10*time.Minute + time.Second)}}
	got := checkDST(tr)
	wantViolation(t, got, "I5:", "s/last (campaign group 1001/2001) was not dialing again")
	for _, v := range got {
		if strings.HasPrefix(v, "I2:") || strings.HasPrefix(v, "I3:") {
			t.Errorf("an OCS-side sequence's own dialing was judged as the daemon's: %s", v)
		}
	}
}
