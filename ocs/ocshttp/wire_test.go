package ocshttp

import (
	"encoding/json"
	"testing"

	"github.com/sequencer-dev/sequencer/ocs"
)

func TestTheStateKeyIsReadInEverySpellingOCSMightUse(t *testing.T) {
	for in, want := range map[string]ocs.GroupCampStatus{
		`5`: ocs.StatusRunning, `"Running"`: ocs.StatusRunning, `"CM_GCS_Running"`: ocs.StatusRunning,
		`"CampaignRunning"`: ocs.StatusRunning, `"CampaignActive"`: ocs.StatusActive,
		`"CampaignUnloaded"`: ocs.StatusNotLoaded, `"WaitingUnload"`: ocs.StatusWaitingUnload,
	} {
		var s Status
		if err := json.Unmarshal([]byte(in), &s); err != nil || ocs.GroupCampStatus(s) != want {
			t.Errorf("%s: got %v %v, want %v", in, ocs.GroupCampStatus(s), err, want)
		}
	}
	for _, bad := range []string{`9`, `"Dancing"`, `true`} {
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
