package ocs

import (
	"strconv"
	"strings"
	"testing"
)

// The names below are copied from the seed's enumeration tables (the
// Communication DN chapter of the OCS reference manual), with its two
// PDF-mangled error names mended.
var (
	seedMessageTypes = map[MessageType]string{
		0: "MSGCFG_NONE", 1: "MSGCFG_UNKNOWN", 2: "MSGCFG_ERROR", 3: "MSGCFG_CLIENTREGISTER",
		4: "MSGCFG_DISCONNECTED", 5: "CM_UnknownMessage", 6: "CM_ReqRegisterClient",
		7: "CM_ReqLoadCampaign", 8: "CM_ReqUnloadCampaign", 9: "CM_ReqStartDialing",
		10: "CM_ReqStopDialing", 11: "CM_ReqSetDialingMode", 12: "CM_ReqGetCampaignStatus",
		13: "CM_ReqCampaignRegistered", 14: "CM_ReqCampaignUnregistered",
		15: "CM_EvServerConnected", 16: "CM_EvServerDisconnected", 17: "CM_EvClientDisconnected",
		18: "CM_EvClientRegistered", 19: "CM_EvCampaignLoaded", 20: "CM_EvCampaignUnloaded",
		21: "CM_EvDialingStarted", 22: "CM_EvDialingStopped", 23: "CM_EvDialingModeChanged",
		24: "CM_EvCampaignStatus", 25: "CM_EvCampaignRegistered", 26: "CM_EvCampaignUnregistered",
		27: "CM_EvError", 28: "GSW_CM_ReqCommDNGetCampaignData", 29: "CM_ReqForceUnloadCampaign",
		30: "CM_ReqCancelRecord", 31: "CM_EvRecordCanceled", 32: "CM_ReqDoNotCall",
		33: "CM_EvDoNotCallProcessed",
	}
	seedErrors = map[ErrorCode]string{
		0: "CM_ERROR_NO", 1: "CM_ERROR_SERVER_CONNECTED", 2: "CM_ERROR_REGISTER_CLIENT",
		3: "CM_ERROR_CAMPAIGN_NOT_FOUND", 4: "CM_ERROR_CAMPAIGN_NOT_LOADED",
		5: "CM_ERROR_CAMPAIGN_ALREADY_LOADED", 6: "CM_ERROR_CAMPAIGN_NOT_STARTED",
		7: "CM_ERROR_CAMPAIGN_ALREADY_STARTED", 8: "CM_ERROR_GROUP_NOT_FOUND",
		9: "CM_ERROR_GROUP_CAMP_NOT_FOUND", 10: "CM_ERROR_INVALID_PARAMETER",
		11: "CM_ERROR_INVALID_CAMPAIGN_MODE", 12: "CM_ERROR_INVALID_CAMPAIGN_SCHEDULE",
		13: "CM_ERROR_CAMPAIGN_SCHEDULE_NOT_FOUND", 14: "CM_ERROR_INVALID_CAMPAIGN_SCHEDULE_MODE",
		15: "CM_ERROR_LICENSE_VIOLATION",
		// Not in the seed; seen in public SDK docs (docs/protocol.md).
		16: "CM_ERROR_WRONG_CONFIGURATION", 17: "CM_ERROR_PART_OF_SEQUENCE",
	}
	seedDialModes = map[DialMode]string{
		1: "CFGDMPredict", 2: "CFGDMProgress", 3: "CFGDMPreview", 4: "CFGDMProgressAndSeize",
		5: "CFGDMPredictAndSeize", 8: "CFGDMPushPreview", 9: "CFGDMProgressGVP", 11: "CFGDMPowerGVP",
	}
	seedOptimize = map[OptimizeMethod]string{1: "CFGOMBusyFactor", 2: "CFGOMOverdialRate", 3: "CFGOMWaitTime"}
	seedStatuses = map[GroupCampStatus]string{
		0: "CM_GCS_NotLoaded", 1: "CM_GCS_WaitingUnload", 2: "CM_GCS_UnloadInProgress",
		3: "CM_GCS_InActive", 4: "CM_GCS_Active", 5: "CM_GCS_Running",
	}
)

// checkEnum tests String and Parse of one enumeration against the seed:
// names print as the seed spells them, and Parse takes the name in any
// case, with its prefix stripped, and the integer.
func checkEnum[E ~int32](t *testing.T, seed map[E]string, prefixes []string, parse func(string) (E, error), undefined []E) {
	t.Helper()
	for v, name := range seed {
		if got := stringOf(v); got != name {
			t.Errorf("%d.String() = %q, want %q", v, got, name)
		}
		inputs := []string{name, strings.ToLower(name), " " + strconv.Itoa(int(v)) + " "}
		for _, p := range prefixes {
			if strings.HasPrefix(name, p) {
				inputs = append(inputs, strings.TrimPrefix(name, p))
			}
		}
		for _, in := range inputs {
			if got, err := parse(in); err != nil || got != v {
				t.Errorf("Parse(%q) = %v, %v; want %d", in, got, err, v)
			}
		}
	}
	for _, v := range undefined {
		if got, err := parse(strconv.Itoa(int(v))); err == nil {
			t.Errorf("Parse(%d) = %v, want an error", v, got)
		}
		if s := stringOf(v); !strings.Contains(s, "("+strconv.Itoa(int(v))+")") {
			t.Errorf("undefined %d prints as %q", v, s)
		}
	}
	for _, in := range []string{"", "nonsense", "1.5", "CM_"} {
		if got, err := parse(in); err == nil {
			t.Errorf("Parse(%q) = %v, want an error", in, got)
		}
	}
}

func stringOf[E ~int32](v E) string { return any(v).(interface{ String() string }).String() }

func TestEnumerationsPrintTheSeedNamesAndParseNamesAndIntegers(t *testing.T) {
	t.Run("MessageType", func(t *testing.T) {
		checkEnum(t, seedMessageTypes, []string{"CM_", "GSW_CM_"}, ParseMessageType, []MessageType{-3, 34, 1000})
	})
	t.Run("ErrorCode", func(t *testing.T) {
		checkEnum(t, seedErrors, []string{"CM_ERROR_"}, ParseErrorCode, []ErrorCode{-1, 18})
	})
	t.Run("DialMode", func(t *testing.T) {
		checkEnum(t, seedDialModes, []string{"CFGDM"}, ParseDialMode, []DialMode{0, 6, 7, 10, 12})
	})
	t.Run("OptimizeMethod", func(t *testing.T) {
		checkEnum(t, seedOptimize, []string{"CFGOM"}, ParseOptimizeMethod, []OptimizeMethod{-1, 4})
	})
	t.Run("GroupCampStatus", func(t *testing.T) {
		checkEnum(t, seedStatuses, []string{"CM_GCS_"}, ParseGroupCampStatus, []GroupCampStatus{-1, 6})
	})
}

func TestDialModesAndOptimizeMethodsParseTheirSpecNames(t *testing.T) {
	for in, want := range map[string]DialMode{
		"predictive": DialModePredict, "Progressive": DialModeProgress, "preview": DialModePreview,
		"progressive-seize": DialModeProgressAndSeize, "predictive-seize": DialModePredictAndSeize,
		"push-preview": DialModePushPreview, "progressive-gvp": DialModeProgressGVP, "power-gvp": DialModePowerGVP,
	} {
		if got, err := ParseDialMode(in); err != nil || got != want {
			t.Errorf("ParseDialMode(%q) = %v, %v", in, got, err)
		}
		if got, _ := ParseDialMode(want.Short()); got != want {
			t.Errorf("Short %q does not parse back to %v", want.Short(), want)
		}
	}
	for _, o := range []OptimizeMethod{OptimizeNone, OptimizeBusyFactor, OptimizeOverdialRate, OptimizeWaitTime} {
		if got, err := ParseOptimizeMethod(o.Short()); err != nil || got != o {
			t.Errorf("ParseOptimizeMethod(%q) = %v, %v", o.Short(), got, err)
		}
	}
}

func TestEveryRequestHasItsSeedAnswerAndNothingElseIsARequest(t *testing.T) {
	answers := map[MessageType]MessageType{
		ReqLoadCampaign: EvCampaignLoaded, ReqUnloadCampaign: EvCampaignUnloaded,
		ReqStartDialing: EvDialingStarted, ReqStopDialing: EvDialingStopped,
		ReqSetDialingMode: EvDialingModeChanged, ReqGetCampaignStatus: EvCampaignStatus,
		ReqForceUnloadCampaign: EvCampaignUnloaded, ReqCancelRecord: EvRecordCanceled,
		ReqDoNotCall: EvDoNotCallProcessed,
	}
	for mt := MessageType(-1); mt <= maxMessageType+1; mt++ {
		want, isReq := answers[mt]
		if mt.IsRequest() != isReq || mt.Answer() != want {
			t.Errorf("%v: IsRequest %v Answer %v; want %v %v", mt, mt.IsRequest(), mt.Answer(), isReq, want)
		}
	}
}

func TestOnlyPacedModesSwitchLive(t *testing.T) {
	paced := []DialMode{DialModePredict, DialModeProgress, DialModePredictAndSeize, DialModeProgressAndSeize}
	for a := range seedDialModes {
		for b := range seedDialModes {
			want := containsMode(paced, a) && containsMode(paced, b)
			if a.LiveSwitchable(b) != want {
				t.Errorf("%v → %v: LiveSwitchable %v", a, b, !want)
			}
		}
	}
	if !DialModePreview.IsPreview() || !DialModePushPreview.IsPreview() || DialModePredict.IsPreview() {
		t.Error("IsPreview")
	}
}

func containsMode(l []DialMode, d DialMode) bool {
	for _, x := range l {
		if x == d {
			return true
		}
	}
	return false
}
