package ocshttp

// This file is the one place that holds what we assume about OCS's HTTP
// interface and its campaign-group state POSTs. Genesys documents the URI
// grammar (/campaigngroups/<DBID>?req=<Action>), POST with a JSON body of
// GSW_* keys, and the POST target options; the action names, the response
// and error bodies, and the state key are NOT public (docs/protocol.md,
// "Assumed and unverified"). Every guess below is marked [unverified];
// confirm them on a lab OCS and change them here only.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/sequencer-dev/sequencer/ocs"
)

// Path is the resource of one campaign group.
func Path(cgDBID int32) string { return "/campaigngroups/" + strconv.Itoa(int(cgDBID)) }

// actions maps requests to `req` values. [unverified] They mirror the CM
// message names; GetCampaignStatus over HTTP may not exist at all.
var actions = map[ocs.MessageType]string{
	ocs.ReqLoadCampaign:        "LoadCampaign",
	ocs.ReqStartDialing:        "StartDialing",
	ocs.ReqStopDialing:         "StopDialing",
	ocs.ReqSetDialingMode:      "SetDialingMode",
	ocs.ReqUnloadCampaign:      "UnloadCampaign",
	ocs.ReqForceUnloadCampaign: "ForceUnloadCampaign",
	ocs.ReqGetCampaignStatus:   "GetCampaignStatus",
}

// Action is the `req` value of a request type.
func Action(t ocs.MessageType) (string, bool) {
	a, ok := actions[t]
	return a, ok
}

// RequestOf is the request type of a `req` value (case-insensitive).
func RequestOf(action string) (ocs.MessageType, bool) {
	for t, a := range actions {
		if strings.EqualFold(a, action) {
			return t, true
		}
	}
	return 0, false
}

// Body is the JSON object of a request: documented keys only
// (GSW_DIAL_MODE, GSW_OPTIMIZE_BY, GSW_OPTIMIZE_GOAL, GSW_AUTO_COMPLETION).
type Body struct {
	DialMode       *int32 `json:"GSW_DIAL_MODE,omitempty"`
	OptimizeBy     *int32 `json:"GSW_OPTIMIZE_BY,omitempty"`
	OptimizeGoal   *int32 `json:"GSW_OPTIMIZE_GOAL,omitempty"`
	AutoCompletion *int32 `json:"GSW_AUTO_COMPLETION,omitempty"`
}

// BodyOf is the request body of m.
func BodyOf(m ocs.Message) Body {
	var b Body
	if m.Has&ocs.AttrDialMode != 0 {
		b.DialMode = ptr(int32(m.DialMode))
		b.OptimizeBy = ptr(int32(m.OptimizeBy))
		b.OptimizeGoal = ptr(m.OptimizeGoal)
	}
	if m.Has&ocs.AttrAutoCompletion != 0 {
		b.AutoCompletion = ptr(int32(0))
		if m.AutoCompletion {
			*b.AutoCompletion = 1
		}
	}
	return b
}

// Apply copies the body into a request message.
func (b Body) Apply(m ocs.Message) ocs.Message {
	m = withPacing(m, b.DialMode, b.OptimizeBy, b.OptimizeGoal)
	if b.AutoCompletion != nil {
		m.Has |= ocs.AttrAutoCompletion
		m.AutoCompletion = *b.AutoCompletion == 1
	}
	return m
}

// State is both the success answer of a request and the body of a
// campaign-group state POST. The documented POST keys are the names,
// GSW_DIAL_MODE/OPTIMIZE_*, and GSW_STAT_* from 8.1.517.04. [unverified]
// the DBID keys, GSW_CAMPAIGN_GROUP_STATUS, the dial counters and
// GSW_ERROR/GSW_ERROR_MESSAGE. Unknown keys are ignored.
type State struct {
	TenantName        string  `json:"GSW_TENANT_NAME,omitempty"`
	CampaignGroupName string  `json:"GSW_CAMPAIGN_GROUP_NAME,omitempty"`
	CampaignName      string  `json:"GSW_CAMPAIGN_NAME,omitempty"`
	GroupName         string  `json:"GSW_GROUP_NAME,omitempty"`
	CampaignGroupDBID int32   `json:"GSW_CAMPAIGN_GROUP_DBID,omitempty"`
	CampaignDBID      int32   `json:"GSW_CAMPAIGN_DBID,omitempty"`
	GroupDBID         int32   `json:"GSW_GROUP_DBID,omitempty"`
	Status            *Status `json:"GSW_CAMPAIGN_GROUP_STATUS,omitempty"`
	DialMode          *int32  `json:"GSW_DIAL_MODE,omitempty"`
	OptimizeBy        *int32  `json:"GSW_OPTIMIZE_BY,omitempty"`
	OptimizeGoal      *int32  `json:"GSW_OPTIMIZE_GOAL,omitempty"`
	Dials             *int32  `json:"GSW_STAT_DIALS,omitempty"`
	Contacts          *int32  `json:"GSW_STAT_CONTACTS,omitempty"`
	RecordsLeft       *int32  `json:"GSW_STAT_RECORDS_LEFT,omitempty"`
	Error             *int32  `json:"GSW_ERROR,omitempty"`
	ErrorMessage      string  `json:"GSW_ERROR_MESSAGE,omitempty"`
}

// Status decodes leniently: an integer, a seed name ("CM_GCS_Running",
// "Running"), or the log spelling of the draft docs ("CampaignRunning",
// "CampaignActive" — [unverified] that the POST carries it).
type Status ocs.GroupCampStatus

func (s Status) MarshalJSON() ([]byte, error) {
	return json.Marshal(strings.TrimPrefix(ocs.GroupCampStatus(s).String(), "CM_GCS_"))
}

func (s *Status) UnmarshalJSON(b []byte) error {
	var n int32
	if err := json.Unmarshal(b, &n); err == nil {
		*s = Status(n)
		if !ocs.GroupCampStatus(n).Valid() {
			return fmt.Errorf("campaign group status %d is not one OCS defines", n)
		}
		return nil
	}
	var name string
	if err := json.Unmarshal(b, &name); err != nil {
		return fmt.Errorf("campaign group status: want a name or an integer, got %s", b)
	}
	name = strings.TrimPrefix(name, "Campaign")
	if name == "Unloaded" {
		name = "NotLoaded"
	}
	v, err := ocs.ParseGroupCampStatus(name)
	if err != nil {
		return err
	}
	*s = Status(v)
	return nil
}

// StateOf renders an answer or status event.
func StateOf(m ocs.Message) State {
	st := State{CampaignDBID: m.CampaignDBID, GroupDBID: m.GroupDBID}
	if m.Has&ocs.AttrGroupCampStatus != 0 {
		s := Status(m.GroupCampStatus)
		st.Status = &s
	}
	if m.Has&ocs.AttrDialMode != 0 {
		st.DialMode = ptr(int32(m.DialMode))
		st.OptimizeBy = ptr(int32(m.OptimizeBy))
		st.OptimizeGoal = ptr(m.OptimizeGoal)
	}
	if c, ok := m.Stats(); ok {
		st.Dials, st.Contacts, st.RecordsLeft = ptr(c.Dials), ptr(c.Contacts), ptr(c.RecordsLeft)
	}
	if m.Type == ocs.EvError {
		st.Error = ptr(int32(m.Error))
		st.ErrorMessage = m.ErrorMessage
	}
	return st
}

// Message turns a state into an event of type t about the campaign group
// (campaign, group).
func (st State) Message(t ocs.MessageType, tg ocs.Target) ocs.Message {
	m := ocs.Message{Type: t, Has: ocs.AttrOriginApp | ocs.AttrTargetApp | ocs.AttrCampaign | ocs.AttrGroup,
		OriginAppDBID: tg.TargetAppDBID, TargetAppDBID: tg.OriginAppDBID,
		CampaignDBID: tg.CampaignDBID, GroupDBID: tg.GroupDBID}
	if st.Status != nil {
		m = m.WithStatus(ocs.GroupCampStatus(*st.Status))
	}
	m = withPacing(m, st.DialMode, st.OptimizeBy, st.OptimizeGoal)
	if st.Dials != nil || st.Contacts != nil || st.RecordsLeft != nil {
		m = m.WithStats(ocs.Stats{Dials: deref(st.Dials), Contacts: deref(st.Contacts), RecordsLeft: deref(st.RecordsLeft)})
	}
	return m
}

// HTTPStatus is the response status of an OCS error code. [unverified]
func HTTPStatus(code ocs.ErrorCode) int {
	switch code {
	case ocs.ErrNone:
		return http.StatusOK
	case ocs.ErrCampaignNotFound, ocs.ErrGroupNotFound, ocs.ErrGroupCampNotFound, ocs.ErrCampaignScheduleNotFound:
		return http.StatusNotFound
	case ocs.ErrInvalidParameter, ocs.ErrInvalidCampaignSchedule, ocs.ErrInvalidScheduleMode:
		return http.StatusBadRequest
	case ocs.ErrLicenseViolation:
		return http.StatusForbidden
	case ocs.ErrServerConnected, ocs.ErrRegisterClient, ocs.ErrWrongConfiguration:
		return http.StatusInternalServerError
	}
	return http.StatusConflict // not loaded, already started, mode change, part of sequence
}

// withPacing sets the pacing attributes when the dial mode is present.
func withPacing(m ocs.Message, mode, by, goal *int32) ocs.Message {
	if mode == nil {
		return m
	}
	return m.WithPacing(ocs.Pacing{DialMode: ocs.DialMode(*mode), OptimizeBy: ocs.OptimizeMethod(deref(by)), OptimizeGoal: deref(goal)})
}

func ptr[T any](v T) *T { return &v }

func deref(p *int32) int32 {
	if p == nil {
		return 0
	}
	return *p
}
