package ocs

import (
	"fmt"
	"strconv"
	"strings"
)

// MessageType is GSW_CM_MessageType.
type MessageType int32

// Message types of the seed's "Data Enumeration Values for GSW_CM_MessageType".
// Values marked "not applicable" in the seed are kept so that logs of a real
// CommDN decode to names, but the daemon never sends them.
const (
	MsgCfgNone               MessageType = 0
	MsgCfgUnknown            MessageType = 1
	MsgCfgError              MessageType = 2
	MsgCfgClientRegister     MessageType = 3
	MsgCfgDisconnected       MessageType = 4
	MsgUnknownMessage        MessageType = 5
	ReqRegisterClient        MessageType = 6
	ReqLoadCampaign          MessageType = 7
	ReqUnloadCampaign        MessageType = 8
	ReqStartDialing          MessageType = 9
	ReqStopDialing           MessageType = 10
	ReqSetDialingMode        MessageType = 11
	ReqGetCampaignStatus     MessageType = 12
	ReqCampaignRegistered    MessageType = 13
	ReqCampaignUnregistered  MessageType = 14
	EvServerConnected        MessageType = 15
	EvServerDisconnected     MessageType = 16
	EvClientDisconnected     MessageType = 17
	EvClientRegistered       MessageType = 18
	EvCampaignLoaded         MessageType = 19
	EvCampaignUnloaded       MessageType = 20
	EvDialingStarted         MessageType = 21
	EvDialingStopped         MessageType = 22
	EvDialingModeChanged     MessageType = 23
	EvCampaignStatus         MessageType = 24
	EvCampaignRegistered     MessageType = 25
	EvCampaignUnregistered   MessageType = 26
	EvError                  MessageType = 27
	ReqCommDNGetCampaignData MessageType = 28
	ReqForceUnloadCampaign   MessageType = 29
	ReqCancelRecord          MessageType = 30
	EvRecordCanceled         MessageType = 31
	ReqDoNotCall             MessageType = 32
	EvDoNotCallProcessed     MessageType = 33
	maxMessageType                       = EvDoNotCallProcessed
)

var messageTypeNames = [...]string{
	"MSGCFG_NONE", "MSGCFG_UNKNOWN", "MSGCFG_ERROR", "MSGCFG_CLIENTREGISTER",
	"MSGCFG_DISCONNECTED", "CM_UnknownMessage", "CM_ReqRegisterClient",
	"CM_ReqLoadCampaign", "CM_ReqUnloadCampaign", "CM_ReqStartDialing",
	"CM_ReqStopDialing", "CM_ReqSetDialingMode", "CM_ReqGetCampaignStatus",
	"CM_ReqCampaignRegistered", "CM_ReqCampaignUnregistered",
	"CM_EvServerConnected", "CM_EvServerDisconnected", "CM_EvClientDisconnected",
	"CM_EvClientRegistered", "CM_EvCampaignLoaded", "CM_EvCampaignUnloaded",
	"CM_EvDialingStarted", "CM_EvDialingStopped", "CM_EvDialingModeChanged",
	"CM_EvCampaignStatus", "CM_EvCampaignRegistered", "CM_EvCampaignUnregistered",
	"CM_EvError", "GSW_CM_ReqCommDNGetCampaignData", "CM_ReqForceUnloadCampaign",
	"CM_ReqCancelRecord", "CM_EvRecordCanceled", "CM_ReqDoNotCall",
	"CM_EvDoNotCallProcessed",
}

func (m MessageType) String() string {
	if m >= 0 && m <= maxMessageType {
		return messageTypeNames[m]
	}
	switch m {
	case LinkUp:
		return "LinkUp"
	case LinkDown:
		return "LinkDown"
	}
	return "MessageType(" + strconv.Itoa(int(m)) + ")"
}

// IsRequest reports whether m is a request the daemon may send.
func (m MessageType) IsRequest() bool {
	switch m {
	case ReqLoadCampaign, ReqUnloadCampaign, ReqStartDialing, ReqStopDialing,
		ReqSetDialingMode, ReqGetCampaignStatus, ReqForceUnloadCampaign,
		ReqCancelRecord, ReqDoNotCall:
		return true
	}
	return false
}

// Answer is the event OCS sends back for a successful request m
// (EvError is always possible too). It is MsgCfgNone for non-requests.
func (m MessageType) Answer() MessageType {
	switch m {
	case ReqLoadCampaign:
		return EvCampaignLoaded
	case ReqUnloadCampaign, ReqForceUnloadCampaign:
		return EvCampaignUnloaded
	case ReqStartDialing:
		return EvDialingStarted
	case ReqStopDialing:
		return EvDialingStopped
	case ReqSetDialingMode:
		return EvDialingModeChanged
	case ReqGetCampaignStatus:
		return EvCampaignStatus
	case ReqCancelRecord:
		return EvRecordCanceled
	case ReqDoNotCall:
		return EvDoNotCallProcessed
	}
	return MsgCfgNone
}

// ParseMessageType accepts a seed name (CM_ReqLoadCampaign, with or without
// the CM_/GSW_CM_ prefix) or an integer.
func ParseMessageType(s string) (MessageType, error) {
	v, err := parseEnum(s, messageTypeNames[:], []string{"GSW_CM_", "CM_", "GSW_"})
	if err != nil {
		return 0, fmt.Errorf("message type %q: %w", s, err)
	}
	return MessageType(v), nil
}

// DialMode is GSW_CM_AttrDialMode (CfgDialMode).
type DialMode int32

const (
	DialModePredict          DialMode = 1
	DialModeProgress         DialMode = 2
	DialModePreview          DialMode = 3
	DialModeProgressAndSeize DialMode = 4
	DialModePredictAndSeize  DialMode = 5
	DialModePushPreview      DialMode = 8
	DialModeProgressGVP      DialMode = 9
	DialModePowerGVP         DialMode = 11
)

var dialModeNames = map[DialMode]string{
	DialModePredict: "CFGDMPredict", DialModeProgress: "CFGDMProgress",
	DialModePreview: "CFGDMPreview", DialModeProgressAndSeize: "CFGDMProgressAndSeize",
	DialModePredictAndSeize: "CFGDMPredictAndSeize", DialModePushPreview: "CFGDMPushPreview",
	DialModeProgressGVP: "CFGDMProgressGVP", DialModePowerGVP: "CFGDMPowerGVP",
}

// dialModeShort are the friendly names used in specs.
var dialModeShort = map[string]DialMode{
	"predictive": DialModePredict, "predict": DialModePredict,
	"progressive": DialModeProgress, "progress": DialModeProgress,
	"preview":             DialModePreview,
	"progressiveandseize": DialModeProgressAndSeize, "progressandseize": DialModeProgressAndSeize, "progressive-seize": DialModeProgressAndSeize,
	"predictiveandseize": DialModePredictAndSeize, "predictandseize": DialModePredictAndSeize, "predictive-seize": DialModePredictAndSeize,
	"pushpreview": DialModePushPreview, "push-preview": DialModePushPreview,
	"progressivegvp": DialModeProgressGVP, "progressgvp": DialModeProgressGVP, "progressive-gvp": DialModeProgressGVP,
	"powergvp": DialModePowerGVP, "power-gvp": DialModePowerGVP,
}

func (d DialMode) String() string {
	if n, ok := dialModeNames[d]; ok {
		return n
	}
	return "DialMode(" + strconv.Itoa(int(d)) + ")"
}

// Short is the spec-friendly name (predictive, progressive, …).
func (d DialMode) Short() string {
	switch d {
	case DialModePredict:
		return "predictive"
	case DialModeProgress:
		return "progressive"
	case DialModePreview:
		return "preview"
	case DialModeProgressAndSeize:
		return "progressive-seize"
	case DialModePredictAndSeize:
		return "predictive-seize"
	case DialModePushPreview:
		return "push-preview"
	case DialModeProgressGVP:
		return "progressive-gvp"
	case DialModePowerGVP:
		return "power-gvp"
	}
	return strconv.Itoa(int(d))
}

// Valid reports whether the seed defines d.
func (d DialMode) Valid() bool { _, ok := dialModeNames[d]; return ok }

// IsPreview reports whether d is a preview mode: OCS cannot switch a running
// group to or from these live, so the daemon stops and restarts instead.
func (d DialMode) IsPreview() bool { return d == DialModePreview || d == DialModePushPreview }

// LiveSwitchable reports whether a running campaign group can be re-paced
// from d to to with CM_ReqSetDialingMode (Predictive ↔ Progressive and their
// seize variants); anything else is Stop then Start.
func (d DialMode) LiveSwitchable(to DialMode) bool {
	paced := func(m DialMode) bool {
		switch m {
		case DialModePredict, DialModeProgress, DialModePredictAndSeize, DialModeProgressAndSeize:
			return true
		}
		return false
	}
	return paced(d) && paced(to)
}

// IsPredictive reports whether d paces by an optimization goal.
func (d DialMode) IsPredictive() bool {
	return d == DialModePredict || d == DialModePredictAndSeize
}

// ParseDialMode accepts the seed name (CFGDMPredict), a short name
// (predictive, progressive, preview, …, case-insensitive) or an integer.
func ParseDialMode(s string) (DialMode, error) {
	t := strings.TrimSpace(s)
	if n, err := strconv.Atoi(t); err == nil {
		if d := DialMode(n); d.Valid() {
			return d, nil
		}
		return 0, fmt.Errorf("dial mode %d is not defined by OCS (want one of %s)", n, dialModeList())
	}
	l := strings.ToLower(t)
	if d, ok := dialModeShort[l]; ok {
		return d, nil
	}
	for d, n := range dialModeNames {
		if strings.EqualFold(n, t) || strings.EqualFold(strings.TrimPrefix(n, "CFGDM"), t) {
			return d, nil
		}
	}
	return 0, fmt.Errorf("unknown dial mode %q (want one of %s)", s, dialModeList())
}

func dialModeList() string {
	return "predictive, progressive, preview, progressive-seize, predictive-seize, push-preview, progressive-gvp, power-gvp, or 1-5, 8, 9, 11"
}

// OptimizeMethod is GSW_CM_AttrOptimizeBy.
type OptimizeMethod int32

const (
	OptimizeNone         OptimizeMethod = 0
	OptimizeBusyFactor   OptimizeMethod = 1
	OptimizeOverdialRate OptimizeMethod = 2
	OptimizeWaitTime     OptimizeMethod = 3
)

func (o OptimizeMethod) String() string {
	switch o {
	case OptimizeNone:
		return "CFGOMNoOptimizationMethod"
	case OptimizeBusyFactor:
		return "CFGOMBusyFactor"
	case OptimizeOverdialRate:
		return "CFGOMOverdialRate"
	case OptimizeWaitTime:
		return "CFGOMWaitTime"
	}
	return "OptimizeMethod(" + strconv.Itoa(int(o)) + ")"
}

// Short is the spec-friendly name (busyFactor, overdialRate, waitTime).
func (o OptimizeMethod) Short() string {
	switch o {
	case OptimizeNone:
		return "none"
	case OptimizeBusyFactor:
		return "busyFactor"
	case OptimizeOverdialRate:
		return "overdialRate"
	case OptimizeWaitTime:
		return "waitTime"
	}
	return strconv.Itoa(int(o))
}

// Valid reports whether the seed defines o (0 is "no optimization").
func (o OptimizeMethod) Valid() bool { return o >= OptimizeNone && o <= OptimizeWaitTime }

// GoalRange is the inclusive range OCS accepts for a goal of this method:
// percentages 0–100 for busy factor and overdial rate; seconds for wait
// time, which the seed leaves open ("as required") — we cap it at one hour.
func (o OptimizeMethod) GoalRange() (lo, hi int) {
	if o == OptimizeWaitTime {
		return 0, 3600
	}
	return 0, 100
}

// ParseOptimizeMethod accepts a seed name, a short name or an integer.
func ParseOptimizeMethod(s string) (OptimizeMethod, error) {
	t := strings.TrimSpace(s)
	if n, err := strconv.Atoi(t); err == nil {
		if o := OptimizeMethod(n); o.Valid() {
			return o, nil
		}
		return 0, fmt.Errorf("optimization method %d is not defined by OCS (want 0-3)", n)
	}
	for o := OptimizeNone; o <= OptimizeWaitTime; o++ {
		if strings.EqualFold(t, o.String()) || strings.EqualFold(t, o.Short()) ||
			strings.EqualFold(t, strings.TrimPrefix(o.String(), "CFGOM")) {
			return o, nil
		}
	}
	return 0, fmt.Errorf("unknown optimization method %q (want busyFactor, overdialRate or waitTime)", s)
}

// GroupCampStatus is GSW_CM_AttrGroupCampStatus.
type GroupCampStatus int32

const (
	StatusNotLoaded        GroupCampStatus = 0
	StatusWaitingUnload    GroupCampStatus = 1
	StatusUnloadInProgress GroupCampStatus = 2
	StatusInActive         GroupCampStatus = 3
	StatusActive           GroupCampStatus = 4
	StatusRunning          GroupCampStatus = 5
)

var statusNames = [...]string{
	"CM_GCS_NotLoaded", "CM_GCS_WaitingUnload", "CM_GCS_UnloadInProgress",
	"CM_GCS_InActive", "CM_GCS_Active", "CM_GCS_Running",
}

func (s GroupCampStatus) String() string {
	if s >= 0 && int(s) < len(statusNames) {
		return statusNames[s]
	}
	return "GroupCampStatus(" + strconv.Itoa(int(s)) + ")"
}

// Valid reports whether the seed defines s.
func (s GroupCampStatus) Valid() bool { return s >= 0 && int(s) < len(statusNames) }

// Loaded reports whether the group is in OCS memory and not on its way out.
func (s GroupCampStatus) Loaded() bool {
	return s == StatusInActive || s == StatusActive || s == StatusRunning
}

// ParseGroupCampStatus accepts a seed name (with or without CM_GCS_) or an integer.
func ParseGroupCampStatus(s string) (GroupCampStatus, error) {
	v, err := parseEnum(s, statusNames[:], []string{"CM_GCS_"})
	if err != nil {
		return 0, fmt.Errorf("group campaign status %q: %w", s, err)
	}
	return GroupCampStatus(v), nil
}

// ErrorCode is GSW_CM_AttrError.
type ErrorCode int32

const (
	ErrNone                     ErrorCode = 0
	ErrServerConnected          ErrorCode = 1
	ErrRegisterClient           ErrorCode = 2
	ErrCampaignNotFound         ErrorCode = 3
	ErrCampaignNotLoaded        ErrorCode = 4
	ErrCampaignAlreadyLoaded    ErrorCode = 5
	ErrCampaignNotStarted       ErrorCode = 6
	ErrCampaignAlreadyStarted   ErrorCode = 7
	ErrGroupNotFound            ErrorCode = 8
	ErrGroupCampNotFound        ErrorCode = 9
	ErrInvalidParameter         ErrorCode = 10
	ErrInvalidCampaignMode      ErrorCode = 11
	ErrInvalidCampaignSchedule  ErrorCode = 12
	ErrCampaignScheduleNotFound ErrorCode = 13
	ErrInvalidScheduleMode      ErrorCode = 14
	ErrLicenseViolation         ErrorCode = 15
	ErrWrongConfiguration       ErrorCode = 16
	ErrPartOfSequence           ErrorCode = 17
)

var errorNames = [...]string{
	"CM_ERROR_NO", "CM_ERROR_SERVER_CONNECTED", "CM_ERROR_REGISTER_CLIENT",
	"CM_ERROR_CAMPAIGN_NOT_FOUND", "CM_ERROR_CAMPAIGN_NOT_LOADED",
	"CM_ERROR_CAMPAIGN_ALREADY_LOADED", "CM_ERROR_CAMPAIGN_NOT_STARTED",
	"CM_ERROR_CAMPAIGN_ALREADY_STARTED", "CM_ERROR_GROUP_NOT_FOUND",
	"CM_ERROR_GROUP_CAMP_NOT_FOUND", "CM_ERROR_INVALID_PARAMETER",
	"CM_ERROR_INVALID_CAMPAIGN_MODE", "CM_ERROR_INVALID_CAMPAIGN_SCHEDULE",
	"CM_ERROR_CAMPAIGN_SCHEDULE_NOT_FOUND", "CM_ERROR_INVALID_CAMPAIGN_SCHEDULE_MODE",
	"CM_ERROR_LICENSE_VIOLATION", "CM_ERROR_WRONG_CONFIGURATION",
	"CM_ERROR_PART_OF_SEQUENCE",
}

func (e ErrorCode) String() string {
	if e >= 0 && int(e) < len(errorNames) {
		return errorNames[e]
	}
	return "ErrorCode(" + strconv.Itoa(int(e)) + ")"
}

// ParseErrorCode accepts a seed name (with or without CM_ERROR_) or an integer.
func ParseErrorCode(s string) (ErrorCode, error) {
	v, err := parseEnum(s, errorNames[:], []string{"CM_ERROR_"})
	if err != nil {
		return 0, fmt.Errorf("error code %q: %w", s, err)
	}
	return ErrorCode(v), nil
}

// parseEnum resolves a dense enumeration by integer or by name, optionally
// without one of the given prefixes, case-insensitively.
func parseEnum(s string, names []string, prefixes []string) (int, error) {
	t := strings.TrimSpace(s)
	if n, err := strconv.Atoi(t); err == nil {
		if n < 0 || n >= len(names) {
			return 0, fmt.Errorf("value %d out of range 0-%d", n, len(names)-1)
		}
		return n, nil
	}
	strip := func(v string) string {
		for _, p := range prefixes {
			if len(v) >= len(p) && strings.EqualFold(v[:len(p)], p) {
				return v[len(p):]
			}
		}
		return v
	}
	for i, n := range names {
		if strings.EqualFold(n, t) || strings.EqualFold(strip(n), strip(t)) {
			return i, nil
		}
	}
	return 0, fmt.Errorf("unknown name")
}
