package ocshttp

// This file is the one place that holds what we assume about OCS's HTTP
// interface and its campaign-group state POSTs; the client and the
// simulator's HTTP front (ocs/ocssim/http.go) both use these definitions
// and nothing else. Genesys documents the URI grammar
// (/campaigngroups/<DBID>?req=<Action>), the state POSTs (a JSON body,
// their name keys, GSW_DIAL_MODE/OPTIMIZE_* and, from 8.1.517.04, the
// GSW_STAT_* statistics) and GSW_AUTO_COMPLETION over HTTP. The request
// method and content type, the action names, the answer and error bodies,
// the status codes, and the DBID and state keys are NOT public
// (docs/protocol.md, "Assumed and unverified"). Every guess below is
// marked [unverified]; confirm them on a lab OCS and change them here only.
// testdata/captures holds requests and state POSTs written by hand from the
// public documentation, which the tests replay against both sides.
//
// Decoding is lenient, as the public notes advise: numbers as JSON
// integers, floats with an integral value or strings; the state in any
// spelling OCS is known to print; unknown keys ignored. A value that cannot
// be read is skipped and reported, never fatal to the rest of the body.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/sequencer-dev/sequencer/ocs"
)

const (
	// Method of campaign-group requests [unverified] and of the state POSTs
	// (documented).
	Method = http.MethodPost
	// ContentType of request bodies, answers and state POSTs. [unverified]
	// for requests and answers; the state POSTs are documented as JSON.
	ContentType = "application/json"
	// CampaignGroups is the documented resource type of campaign groups.
	CampaignGroups = "/campaigngroups/"
	// ActionParam is the documented query parameter naming the action.
	ActionParam = "req"
	// Route is the http.ServeMux pattern of a campaign-group request, the
	// DBID in {dbid}.
	Route = Method + " " + CampaignGroups + "{dbid}"
)

// Keys of the JSON bodies.
const (
	// Request body and state POST keys. Documented on state POSTs; that
	// requests take the same names is [unverified].
	KeyDialMode     = "GSW_DIAL_MODE"
	KeyOptimizeBy   = "GSW_OPTIMIZE_BY"
	KeyOptimizeGoal = "GSW_OPTIMIZE_GOAL"
	// KeyAutoCompletion is documented as valid over HTTP on LoadCampaign,
	// StartDialing and SetDialingMode.
	KeyAutoCompletion = "GSW_AUTO_COMPLETION"

	// State POST names (documented, 8.1.512.02).
	KeyTenantName        = "GSW_TENANT_NAME"
	KeyCampaignGroupName = "GSW_CAMPAIGN_GROUP_NAME"
	KeyCampaignName      = "GSW_CAMPAIGN_NAME"
	KeyGroupName         = "GSW_GROUP_NAME"

	// [unverified] the DBID keys and the state key: the documented table
	// is cut off before them.
	KeyCampaignGroupDBID = "GSW_CAMPAIGN_GROUP_DBID"
	KeyCampaignDBID      = "GSW_CAMPAIGN_DBID"
	KeyGroupDBID         = "GSW_GROUP_DBID"
	KeyStatus            = "GSW_CAMPAIGN_GROUP_STATUS"

	// Statistics (documented, 8.1.517.04): fractions and seconds, each
	// "non-negative numeric or null".
	KeyBusyFactor     = "GSW_STAT_BUSY_FACTOR"
	KeyHitRatio       = "GSW_STAT_HIT_RATIO"
	KeyOverdialRate   = "GSW_STAT_OVERDIAL_RATE"
	KeyTimeToComplete = "GSW_STAT_TIME_TO_COMPLETE"

	// Dial counters: invented here (ocs.StatDials…), sent only by the
	// simulator's full profile and links that declare Counters.
	KeyDials       = ocs.StatDials
	KeyContacts    = ocs.StatContacts
	KeyRecordsLeft = ocs.StatRecordsLeft

	// [unverified] the error keys of an answer.
	KeyError        = "GSW_ERROR"
	KeyErrorMessage = "GSW_ERROR_MESSAGE"
)

// Invented are the body keys made up here (docs/protocol-keys.md): a real
// OCS never sends them, and neither does the simulator's seed profile.
var Invented = []string{KeyDials, KeyContacts, KeyRecordsLeft}

// Path is the resource of one campaign group.
func Path(cgDBID int32) string { return CampaignGroups + strconv.Itoa(int(cgDBID)) }

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

// ProxyDown reports whether an answer's HTTP status without an OCS error in
// its body means that OCS's HTTP proxy, not OCS, answered: it restarts
// with OCS, so the link counts as down. [unverified]
func ProxyDown(status int) bool { return status >= 500 }

// Succeeded reports whether an answer's HTTP status means the request was
// carried out (absent an OCS error in the body). [unverified]
func Succeeded(status int) bool { return status >= 200 && status < 300 }

// Body is the JSON object of a request: documented keys only
// (GSW_DIAL_MODE, GSW_OPTIMIZE_BY, GSW_OPTIMIZE_GOAL, GSW_AUTO_COMPLETION).
type Body struct {
	DialMode       *int32
	OptimizeBy     *int32
	OptimizeGoal   *int32
	AutoCompletion *int32
}

// MarshalJSON writes the present keys in a fixed order.
func (b Body) MarshalJSON() ([]byte, error) {
	var o object
	o.int(KeyDialMode, b.DialMode)
	o.int(KeyOptimizeBy, b.OptimizeBy)
	o.int(KeyOptimizeGoal, b.OptimizeGoal)
	o.int(KeyAutoCompletion, b.AutoCompletion)
	return o.bytes(), nil
}

// DecodeBody reads a request body leniently. An empty body is an empty
// request; only a body that is not a JSON object is an error. skipped names
// each known key whose value could not be read.
func DecodeBody(raw []byte) (b Body, skipped []string, err error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return Body{}, nil, nil
	}
	fields, err := objectOf(raw)
	if err != nil {
		return Body{}, nil, err
	}
	r := reader{fields: fields}
	b.DialMode = r.int(KeyDialMode)
	b.OptimizeBy = r.int(KeyOptimizeBy)
	b.OptimizeGoal = r.int(KeyOptimizeGoal)
	b.AutoCompletion = r.int(KeyAutoCompletion)
	return b, r.skipped, nil
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
// campaign-group state POST. Nil pointers are absent keys.
type State struct {
	TenantName        string
	CampaignGroupName string
	CampaignName      string
	GroupName         string
	CampaignGroupDBID int32
	CampaignDBID      int32
	GroupDBID         int32
	Status            *Status
	DialMode          *int32
	OptimizeBy        *int32
	OptimizeGoal      *int32
	BusyFactor        *float64
	HitRatio          *float64
	OverdialRate      *float64
	TimeToComplete    *float64
	Dials             *int32
	Contacts          *int32
	RecordsLeft       *int32
	Error             *int32
	ErrorMessage      string
}

// MarshalJSON writes the present keys in a fixed order.
func (st State) MarshalJSON() ([]byte, error) {
	var o object
	o.str(KeyTenantName, st.TenantName)
	o.str(KeyCampaignGroupName, st.CampaignGroupName)
	o.str(KeyCampaignName, st.CampaignName)
	o.str(KeyGroupName, st.GroupName)
	o.dbid(KeyCampaignGroupDBID, st.CampaignGroupDBID)
	o.dbid(KeyCampaignDBID, st.CampaignDBID)
	o.dbid(KeyGroupDBID, st.GroupDBID)
	if st.Status != nil {
		o.raw(KeyStatus, st.Status)
	}
	o.int(KeyDialMode, st.DialMode)
	o.int(KeyOptimizeBy, st.OptimizeBy)
	o.int(KeyOptimizeGoal, st.OptimizeGoal)
	o.float(KeyBusyFactor, st.BusyFactor)
	o.float(KeyHitRatio, st.HitRatio)
	o.float(KeyOverdialRate, st.OverdialRate)
	o.float(KeyTimeToComplete, st.TimeToComplete)
	o.int(KeyDials, st.Dials)
	o.int(KeyContacts, st.Contacts)
	o.int(KeyRecordsLeft, st.RecordsLeft)
	o.int(KeyError, st.Error)
	o.str(KeyErrorMessage, st.ErrorMessage)
	return o.bytes(), nil
}

// DecodeState reads an answer or a state POST leniently: every key it can
// read is kept, each known key whose value it cannot read is skipped and
// named in skipped ("KEY: why"), unknown keys are ignored and null is an
// absent key. Only a body that is not a JSON object is an error.
func DecodeState(raw []byte) (st State, skipped []string, err error) {
	fields, err := objectOf(raw)
	if err != nil {
		return State{}, nil, err
	}
	r := reader{fields: fields}
	st.TenantName = r.str(KeyTenantName)
	st.CampaignGroupName = r.str(KeyCampaignGroupName)
	st.CampaignName = r.str(KeyCampaignName)
	st.GroupName = r.str(KeyGroupName)
	st.CampaignGroupDBID = deref(r.int(KeyCampaignGroupDBID))
	st.CampaignDBID = deref(r.int(KeyCampaignDBID))
	st.GroupDBID = deref(r.int(KeyGroupDBID))
	if v, ok := r.get(KeyStatus); ok {
		if s, err := ParseStatus(v); err != nil {
			r.skip(KeyStatus, err)
		} else {
			st.Status = &s
		}
	}
	st.DialMode = r.int(KeyDialMode)
	st.OptimizeBy = r.int(KeyOptimizeBy)
	st.OptimizeGoal = r.int(KeyOptimizeGoal)
	st.BusyFactor = r.stat(KeyBusyFactor)
	st.HitRatio = r.stat(KeyHitRatio)
	st.OverdialRate = r.stat(KeyOverdialRate)
	st.TimeToComplete = r.stat(KeyTimeToComplete)
	st.Dials = r.int(KeyDials)
	st.Contacts = r.int(KeyContacts)
	st.RecordsLeft = r.int(KeyRecordsLeft)
	st.Error = r.int(KeyError)
	st.ErrorMessage = r.str(KeyErrorMessage)
	return st, r.skipped, nil
}

// Identified reports whether a state names a campaign group at all, by a
// DBID or by a name: a state POST without one cannot be about anything.
func (st State) Identified() bool {
	return st.CampaignGroupDBID != 0 || st.CampaignDBID != 0 && st.GroupDBID != 0 || st.CampaignGroupName != ""
}

// Status is a campaign-group state as the HTTP bodies carry it.
type Status ocs.GroupCampStatus

func (s Status) MarshalJSON() ([]byte, error) {
	return json.Marshal(strings.TrimPrefix(ocs.GroupCampStatus(s).String(), "CM_GCS_"))
}

func (s *Status) UnmarshalJSON(b []byte) error {
	v, err := ParseStatus(b)
	if err == nil {
		*s = v
	}
	return err
}

// eventStates are the states OCS's event names imply. The draft state-POST
// docs print a status word in the place of the notification name
// ("CampaignRunning", "CampaignActive"), and agents' desktops get
// CampaignLoaded/Started/Stopped/Unloaded: [unverified] that a state POST
// carries either, so both are read. A mode change implies no state.
var eventStates = map[string]ocs.GroupCampStatus{
	"loaded":         ocs.StatusInActive,
	"started":        ocs.StatusRunning,
	"dialingstarted": ocs.StatusRunning,
	"stopped":        ocs.StatusInActive,
	"dialingstopped": ocs.StatusInActive,
	"unloaded":       ocs.StatusNotLoaded,
}

// ParseStatus reads a campaign-group state in every spelling OCS might
// use: an integer (5, 5.0, "5"), a seed name with or without its prefix
// ("CM_GCS_Running", "Running"), the log spelling ("CampaignRunning"), or
// the name of the event that leads to it ("CampaignLoaded",
// "CampaignStopped", "CM_EvCampaignUnloaded").
func ParseStatus(raw []byte) (Status, error) {
	if n, err := integer(raw); err == nil {
		if !ocs.GroupCampStatus(n).Valid() {
			return 0, fmt.Errorf("campaign group status %d is not one OCS defines", n)
		}
		return Status(n), nil
	}
	var name string
	if err := json.Unmarshal(raw, &name); err != nil {
		return 0, fmt.Errorf("campaign group status: want a name or an integer, got %s", raw)
	}
	if v, err := ocs.ParseGroupCampStatus(name); err == nil {
		return Status(v), nil
	}
	n := strings.ToLower(strings.TrimSpace(name))
	for _, p := range []string{"gsw_cm_", "cm_", "ev", "campaign"} {
		n = strings.TrimPrefix(n, p)
	}
	if v, err := ocs.ParseGroupCampStatus(n); err == nil {
		return Status(v), nil
	}
	if v, ok := eventStates[n]; ok {
		return Status(v), nil
	}
	return 0, fmt.Errorf("campaign group status %q is no state or event OCS names", name)
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
	r := m.Rates
	st.BusyFactor = rate(r, ocs.RateBusyFactor, r.BusyFactor)
	st.HitRatio = rate(r, ocs.RateHitRatio, r.HitRatio)
	st.OverdialRate = rate(r, ocs.RateOverdialRate, r.OverdialRate)
	st.TimeToComplete = rate(r, ocs.RateTimeToComplete, r.TimeToComplete)
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
	var r ocs.Rates
	for _, v := range []struct {
		p   *float64
		bit ocs.RateAttr
		to  *float64
	}{{st.BusyFactor, ocs.RateBusyFactor, &r.BusyFactor}, {st.HitRatio, ocs.RateHitRatio, &r.HitRatio},
		{st.OverdialRate, ocs.RateOverdialRate, &r.OverdialRate}, {st.TimeToComplete, ocs.RateTimeToComplete, &r.TimeToComplete}} {
		if v.p != nil {
			r.Has |= v.bit
			*v.to = *v.p
		}
	}
	return m.WithRates(r)
}

// withPacing sets the pacing attributes when the dial mode is present.
func withPacing(m ocs.Message, mode, by, goal *int32) ocs.Message {
	if mode == nil {
		return m
	}
	return m.WithPacing(ocs.Pacing{DialMode: ocs.DialMode(*mode), OptimizeBy: ocs.OptimizeMethod(deref(by)), OptimizeGoal: deref(goal)})
}

func rate(r ocs.Rates, bit ocs.RateAttr, v float64) *float64 {
	if r.Has&bit == 0 {
		return nil
	}
	return &v
}

func ptr[T any](v T) *T { return &v }

func deref(p *int32) int32 {
	if p == nil {
		return 0
	}
	return *p
}

// objectOf splits a JSON object into its members; a repeated key keeps its
// first value, as OCS's own key lookups do.
func objectOf(raw []byte) (map[string]json.RawMessage, error) {
	d := json.NewDecoder(bytes.NewReader(raw))
	if t, err := d.Token(); err != nil || t != json.Delim('{') {
		return nil, fmt.Errorf("want a JSON object, got %s", snippet(raw))
	}
	out := map[string]json.RawMessage{}
	for d.More() {
		t, err := d.Token()
		if err != nil {
			return nil, fmt.Errorf("want a JSON object: %w", err)
		}
		var v json.RawMessage
		if err := d.Decode(&v); err != nil {
			return nil, fmt.Errorf("want a JSON object: %w", err)
		}
		if _, dup := out[t.(string)]; !dup {
			out[t.(string)] = v
		}
	}
	if _, err := d.Token(); err != nil {
		return nil, fmt.Errorf("want a JSON object: %w", err)
	}
	return out, nil
}

// reader takes known keys out of an object, noting what it skips.
type reader struct {
	fields  map[string]json.RawMessage
	skipped []string
}

func (r *reader) get(k string) (json.RawMessage, bool) {
	v, ok := r.fields[k]
	if !ok || string(bytes.TrimSpace(v)) == "null" {
		return nil, false
	}
	return v, true
}

func (r *reader) skip(k string, err error) {
	r.skipped = append(r.skipped, k+": "+err.Error())
	sort.Strings(r.skipped)
}

func (r *reader) int(k string) *int32 {
	v, ok := r.get(k)
	if !ok {
		return nil
	}
	n, err := integer(v)
	if err != nil {
		r.skip(k, err)
		return nil
	}
	return &n
}

// stat reads a documented statistic: a non-negative number.
func (r *reader) stat(k string) *float64 {
	v, ok := r.get(k)
	if !ok {
		return nil
	}
	f, err := number(v)
	if err == nil && f < 0 {
		err = fmt.Errorf("%v is negative", f)
	}
	if err != nil {
		r.skip(k, err)
		return nil
	}
	return &f
}

func (r *reader) str(k string) string {
	v, ok := r.get(k)
	if !ok {
		return ""
	}
	var s string
	if err := json.Unmarshal(v, &s); err == nil {
		return s
	}
	if f, err := number(v); err == nil {
		return strconv.FormatFloat(f, 'f', -1, 64) // a name that is all digits
	}
	r.skip(k, fmt.Errorf("want a string, got %s", snippet(v)))
	return ""
}

// number reads a JSON number or a string holding one.
func number(raw json.RawMessage) (float64, error) {
	var f float64
	if err := json.Unmarshal(raw, &f); err == nil {
		return f, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		if f, err := strconv.ParseFloat(strings.TrimSpace(s), 64); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
			return f, nil
		}
	}
	return 0, fmt.Errorf("want a number, got %s", snippet(raw))
}

// integer reads a number with an integral value that fits in 32 bits.
func integer(raw json.RawMessage) (int32, error) {
	f, err := number(raw)
	if err != nil {
		return 0, err
	}
	if f != math.Trunc(f) || f < math.MinInt32 || f > math.MaxInt32 {
		return 0, fmt.Errorf("want a 32-bit integer, got %s", snippet(raw))
	}
	return int32(f), nil
}

// object writes a JSON object key by key, in the order written.
type object struct{ b []byte }

func (o *object) raw(k string, v any) {
	if o.b == nil {
		o.b = []byte{'{'}
	} else {
		o.b = append(o.b, ',')
	}
	kb, _ := json.Marshal(k)
	vb, _ := json.Marshal(v)
	o.b = append(append(append(o.b, kb...), ':'), vb...)
}

func (o *object) str(k, v string) {
	if v != "" {
		o.raw(k, v)
	}
}

func (o *object) dbid(k string, v int32) {
	if v != 0 {
		o.raw(k, v)
	}
}

func (o *object) int(k string, v *int32) {
	if v != nil {
		o.raw(k, *v)
	}
}

func (o *object) float(k string, v *float64) {
	if v != nil {
		o.raw(k, *v)
	}
}

func (o *object) bytes() []byte {
	if o.b == nil {
		return []byte("{}")
	}
	return append(o.b, '}')
}
