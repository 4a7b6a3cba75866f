package ocshttp

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/sequencer-dev/sequencer/ocs"
)

func TestTheStateKeyIsReadInEverySpellingOCSMightUse(t *testing.T) {
	for in, want := range map[string]ocs.GroupCampStatus{
		`5`: ocs.StatusRunning, `"Running"`: ocs.StatusRunning, `"CM_GCS_Running"`: ocs.StatusRunning,
		`"CampaignRunning"`: ocs.StatusRunning, `"CampaignActive"`: ocs.StatusActive,
		`"CampaignUnloaded"`: ocs.StatusNotLoaded, `"WaitingUnload"`: ocs.StatusWaitingUnload,
		`5.0`: ocs.StatusRunning, `"5"`: ocs.StatusRunning, `"3"`: ocs.StatusInActive,
		`"CampaignLoaded"`: ocs.StatusInActive, `"CampaignStopped"`: ocs.StatusInActive,
		`"CampaignStarted"`: ocs.StatusRunning, `"CM_EvCampaignUnloaded"`: ocs.StatusNotLoaded,
		`"CM_EvDialingStopped"`: ocs.StatusInActive, `"CampaignInactive"`: ocs.StatusInActive,
		`"CampaignUnloadInProgress"`: ocs.StatusUnloadInProgress,
	} {
		var s Status
		if err := json.Unmarshal([]byte(in), &s); err != nil || ocs.GroupCampStatus(s) != want {
			t.Errorf("%s: got %v %v, want %v", in, ocs.GroupCampStatus(s), err, want)
		}
	}
	for _, bad := range []string{`9`, `"Dancing"`, `true`, `5.5`, `"CampaignModeChanged"`, `{}`} {
		var s Status
		if err := json.Unmarshal([]byte(bad), &s); err == nil {
			t.Errorf("%s was accepted as a status", bad)
		}
	}
}

func TestEveryCampaignGroupRequestHasAnActionAndBack(t *testing.T) {
	for _, typ := range []ocs.MessageType{ocs.ReqLoadCampaign, ocs.ReqStartDialing, ocs.ReqStopDialing,
		ocs.ReqSetDialingMode, ocs.ReqUnloadCampaign, ocs.ReqForceUnloadCampaign, ocs.ReqGetCampaignStatus} {
		a, ok := Action(typ)
		if !ok {
			t.Errorf("%s has no req action", typ)
			continue
		}
		if back, ok := RequestOf(a); !ok || back != typ {
			t.Errorf("%s → %s → %s", typ, a, back)
		}
	}
	if _, ok := Action(ocs.ReqDoNotCall); ok {
		t.Error("DoNotCall is not a campaign-group action")
	}
}

func TestTheRequestBodyCarriesOnlyDocumentedKeys(t *testing.T) {
	on := true
	m := ocs.NewStartDialing(ocs.Target{CampaignDBID: 101, GroupDBID: 732},
		ocs.Pacing{DialMode: ocs.DialModePredict, OptimizeBy: ocs.OptimizeBusyFactor, OptimizeGoal: 80}, &on)
	b, _ := json.Marshal(BodyOf(m))
	want := `{"GSW_DIAL_MODE":1,"GSW_OPTIMIZE_BY":1,"GSW_OPTIMIZE_GOAL":80,"GSW_AUTO_COMPLETION":1}`
	if string(b) != want {
		t.Errorf("body %s, want %s", b, want)
	}
	back, skipped, err := DecodeBody(b)
	if err != nil || skipped != nil {
		t.Fatalf("decode %s: %v %v", b, skipped, err)
	}
	if got := back.Apply(ocs.Message{}); got.DialMode != ocs.DialModePredict || got.OptimizeGoal != 80 || !got.AutoCompletion {
		t.Errorf("round trip: %+v", got)
	}
}

func TestNumbersAreReadAsIntegersIntegralFloatsOrStringsAndUnknownKeysAreIgnored(t *testing.T) {
	st, skipped, err := DecodeState([]byte(`{"GSW_CAMPAIGN_GROUP_DBID":"5101","GSW_DIAL_MODE":2.0,
		"GSW_OPTIMIZE_BY":"1","GSW_OPTIMIZE_GOAL":" 80 ","GSW_STAT_BUSY_FACTOR":"0.85","GSW_STAT_HIT_RATIO":null,
		"GSW_STAT_OVERDIAL_RATE":0.02,"GSW_STAT_TIME_TO_COMPLETE":600,"GSW_TENANT_CCID":"x",
		"GSW_SOMETHING_NEW":{"nested":[1,2]},"GSW_CAMPAIGN_GROUP_STATUS":"CampaignRunning"}`))
	if err != nil || len(skipped) > 0 {
		t.Fatalf("decode: %v, skipped %v", err, skipped)
	}
	m := st.Message(ocs.EvCampaignStatus, ocs.Target{CampaignDBID: 101, GroupDBID: 732})
	if st.CampaignGroupDBID != 5101 || m.DialMode != ocs.DialModeProgress || m.OptimizeBy != ocs.OptimizeBusyFactor ||
		m.OptimizeGoal != 80 || m.GroupCampStatus != ocs.StatusRunning {
		t.Errorf("decoded %+v as %+v", st, m)
	}
	want := ocs.Rates{Has: ocs.RateBusyFactor | ocs.RateOverdialRate | ocs.RateTimeToComplete,
		BusyFactor: 0.85, OverdialRate: 0.02, TimeToComplete: 600}
	if m.Rates != want {
		t.Errorf("statistics %+v, want %+v (null hit ratio absent)", m.Rates, want)
	}
}

func TestAValueThatCannotBeReadIsSkippedAndNamedWhileTheRestIsKept(t *testing.T) {
	st, skipped, err := DecodeState([]byte(`{"GSW_CAMPAIGN_GROUP_DBID":5101,"GSW_CAMPAIGN_GROUP_STATUS":"Running",
		"GSW_DIAL_MODE":2.5,"GSW_STAT_HIT_RATIO":[{"list":"a","value":0.3}],"GSW_STAT_OVERDIAL_RATE":-1,
		"GSW_STAT_BUSY_FACTOR":0.7,"GSW_CAMPAIGN_GROUP_NAME":false}`))
	if err != nil {
		t.Fatal(err)
	}
	if st.CampaignGroupDBID != 5101 || st.Status == nil || ocs.GroupCampStatus(*st.Status) != ocs.StatusRunning ||
		st.DialMode != nil || st.BusyFactor == nil || *st.BusyFactor != 0.7 {
		t.Errorf("kept %+v", st)
	}
	got := strings.Join(skipped, "\n")
	for _, k := range []string{KeyCampaignGroupName, KeyDialMode, KeyHitRatio, KeyOverdialRate} {
		if !strings.Contains(got, k+": ") {
			t.Errorf("skipped does not name %s: %q", k, got)
		}
	}
	if len(skipped) != 4 {
		t.Errorf("skipped %d values, want 4: %q", len(skipped), got)
	}
}

func TestOnlyABodyThatIsNoJSONObjectFailsToDecode(t *testing.T) {
	for _, bad := range []string{``, `[]`, `"x"`, `{`, `{"a":1`} {
		if _, _, err := DecodeState([]byte(bad)); err == nil {
			t.Errorf("%q decoded", bad)
		}
	}
	if st, _, err := DecodeState([]byte(`{}`)); err != nil || st.Identified() {
		t.Errorf("{}: %v, identified %v", err, st.Identified())
	}
	if b, _, err := DecodeBody(nil); err != nil || b != (Body{}) {
		t.Errorf("an empty request body: %+v %v", b, err)
	}
}

func TestAStateRoundTripsThroughItsOwnEncoding(t *testing.T) {
	m := ocs.NewAnswer(ocs.NewGetCampaignStatus(ocs.Target{CampaignDBID: 101, GroupDBID: 732}), ocs.EvCampaignStatus).
		WithStatus(ocs.StatusRunning).WithPacing(ocs.Pacing{DialMode: ocs.DialModePredict, OptimizeBy: ocs.OptimizeOverdialRate, OptimizeGoal: 3}).
		WithStats(ocs.Stats{Dials: 7, Contacts: 2, RecordsLeft: 90}).
		WithRates(ocs.Rates{Has: ocs.RateHitRatio | ocs.RateTimeToComplete, HitRatio: 0.3, TimeToComplete: 600})
	b, _ := json.Marshal(StateOf(m))
	st, skipped, err := DecodeState(b)
	if err != nil || len(skipped) > 0 {
		t.Fatalf("%s: %v %v", b, skipped, err)
	}
	back := st.Message(ocs.EvCampaignStatus, ocs.Target{CampaignDBID: 101, GroupDBID: 732})
	stats, _ := back.Stats()
	if back.GroupCampStatus != ocs.StatusRunning || back.Pacing() != m.Pacing() || stats.Dials != 7 || back.Rates != m.Rates {
		t.Errorf("%s came back as %+v", b, back)
	}
}
