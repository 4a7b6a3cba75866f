package ocs

import (
	"errors"
	"fmt"
)

// Keys of the CommDN user data (seed: "User Event Attributes for User Data").
const (
	KeyMessageType     = "GSW_CM_MessageType"
	KeyReferenceID     = "GSW_CM_AttrReferenceID"
	KeyOriginAppID     = "GSW_CM_AttrOriginAppID"
	KeyTargetAppID     = "GSW_CM_AttrTargetAppID"
	KeyCampaignID      = "GSW_CM_AttrCampaignID"
	KeyGroupID         = "GSW_CM_AttrGroupID"
	KeyDialMode        = "GSW_CM_AttrDialMode"
	KeyOptimizeBy      = "GSW_CM_AttrOptimizeBy"
	KeyOptimizeGoal    = "GSW_CM_AttrOptimizeGoal"
	KeyGroupCampStatus = "GSW_CM_AttrGroupCampStatus"
	KeyError           = "GSW_CM_AttrError"
	KeyErrorMessage    = "GSW_CM_AttrErrorMessage"
	KeyProperties      = "GSW_CM_AttrProperties"
	KeyAutoCompletion  = "GSW_AUTO_COMPLETION"

	// Keys inside GSW_CM_AttrProperties.
	PropCampaignSchedule = "campaign_schedule"
	PropCancelRecord     = "cancel_record"
	PropDoNotCall        = "do_not_call"
	PropDialingPriority  = "dialing_priority"
	// PropStatistics carries dial counters in CM_EvCampaignStatus. It is not
	// in the seed: the CommDN status carries no counters, so only links that
	// declare Capabilities.Counters (the simulator, a sidecar that reads
	// Stat Server) fill it. Keys are StatDials, StatContacts, StatRecordsLeft.
	PropStatistics  = "statistics"
	StatDials       = "GSW_STAT_DIALS"
	StatContacts    = "GSW_STAT_CONTACTS"
	StatRecordsLeft = "GSW_STAT_RECORDS_LEFT"

	// Keys of cancel_record / do_not_call.
	KeyPhone        = "GSW_PHONE"
	KeyCustomerID   = "GSW_CUSTOMER_ID"
	KeyCampaignName = "GSW_CAMPAIGN_NAME"
	KeyChainAttr    = "GSW_CHAIN_ATTR"
	KeyMessage      = "GSW_MESSAGE"
)

// Attr is a bit set of the top-level attributes present in a Message, so
// that a zero value (CampaignDBID 0 addresses a sequence) is told apart from
// an absent one.
type Attr uint32

const (
	AttrReferenceID Attr = 1 << iota
	AttrOriginApp
	AttrTargetApp
	AttrCampaign
	AttrGroup
	AttrDialMode
	AttrOptimizeBy
	AttrOptimizeGoal
	AttrGroupCampStatus
	AttrError
	AttrErrorMessage
	AttrProperties
	AttrAutoCompletion
)

// Message is one CommDN user-data payload: a request, an answer or an
// unsolicited event. Has records which attributes are present; the
// constructors and DecodeMessage keep it right.
type Message struct {
	Type            MessageType
	Has             Attr
	ReferenceID     int32
	OriginAppDBID   int32
	TargetAppDBID   int32
	CampaignDBID    int32
	GroupDBID       int32
	DialMode        DialMode
	OptimizeBy      OptimizeMethod
	OptimizeGoal    int32
	GroupCampStatus GroupCampStatus
	Error           ErrorCode
	ErrorMessage    string
	AutoCompletion  bool
	Properties      TKVList

	// Recv is the link's receive stamp: 1, 2, 3… in the order the link
	// read messages from OCS, answers and unsolicited events alike. It is
	// not on the wire. An answer travels to the loop by another path than
	// the events that followed it, so the loop compares stamps to drop an
	// observation older than one it already applied. 0: not received.
	Recv uint64
	// After is set on an answer: 1 + the stamp the link had reached when
	// the request left. Anything stamped from After on was received while
	// the request was in flight, so OCS may have sent it after computing
	// this answer: the answer is no newer than it. 0: not an answer.
	After uint64
	// Rates are the statistics OCS documents for its HTTP interface; a
	// CommDN message never carries them (see Rates), so only the HTTP
	// link fills them. Not on the CommDN wire.
	Rates Rates
}

// Target addresses one campaign group (or, with CampaignDBID 0 and a
// campaign_schedule, one OCS-side sequence) on one OCS.
type Target struct {
	OriginAppDBID int32
	TargetAppDBID int32
	CampaignDBID  int32
	GroupDBID     int32
}

// Pacing is the dial mode and optimization sent with Load, Start and
// SetDialingMode.
type Pacing struct {
	DialMode     DialMode
	OptimizeBy   OptimizeMethod
	OptimizeGoal int32
}

func (m Message) with(a Attr) Message { m.Has |= a; return m }

func base(t MessageType, tg Target) Message {
	return Message{
		Type: t, Has: AttrOriginApp | AttrTargetApp | AttrCampaign | AttrGroup,
		OriginAppDBID: tg.OriginAppDBID, TargetAppDBID: tg.TargetAppDBID,
		CampaignDBID: tg.CampaignDBID, GroupDBID: tg.GroupDBID,
	}
}

func paced(t MessageType, tg Target, p Pacing, auto *bool) Message {
	m := base(t, tg)
	m.Has |= AttrDialMode | AttrOptimizeBy | AttrOptimizeGoal
	m.DialMode, m.OptimizeBy, m.OptimizeGoal = p.DialMode, p.OptimizeBy, p.OptimizeGoal
	if auto != nil {
		m.Has |= AttrAutoCompletion
		m.AutoCompletion = *auto
	}
	return m
}

// NewLoad builds CM_ReqLoadCampaign. auto nil leaves GSW_AUTO_COMPLETION out.
func NewLoad(tg Target, p Pacing, auto *bool) Message { return paced(ReqLoadCampaign, tg, p, auto) }

// NewStartDialing builds CM_ReqStartDialing.
func NewStartDialing(tg Target, p Pacing, auto *bool) Message {
	return paced(ReqStartDialing, tg, p, auto)
}

// NewSetDialingMode builds CM_ReqSetDialingMode.
func NewSetDialingMode(tg Target, p Pacing, auto *bool) Message {
	return paced(ReqSetDialingMode, tg, p, auto)
}

// NewStopDialing builds CM_ReqStopDialing.
func NewStopDialing(tg Target) Message { return base(ReqStopDialing, tg) }

// NewUnload builds CM_ReqUnloadCampaign.
func NewUnload(tg Target) Message { return base(ReqUnloadCampaign, tg) }

// NewForceUnload builds CM_ReqForceUnloadCampaign.
func NewForceUnload(tg Target) Message { return base(ReqForceUnloadCampaign, tg) }

// NewGetCampaignStatus builds CM_ReqGetCampaignStatus.
func NewGetCampaignStatus(tg Target) Message { return base(ReqGetCampaignStatus, tg) }

// WithSchedule attaches a campaign_schedule in Properties (CampaignDBID
// should be 0 to address the sequence).
func (m Message) WithSchedule(s Schedule) Message {
	m.Properties = m.Properties.Set(PropCampaignSchedule, List(s.Encode()))
	return m.with(AttrProperties)
}

// Schedule returns the campaign_schedule in Properties, if any.
func (m Message) Schedule() (Schedule, bool, error) {
	v, ok := m.props().Lookup(PropCampaignSchedule)
	if !ok {
		return Schedule{}, false, nil
	}
	if v.Kind() != KindList {
		return Schedule{}, true, fmt.Errorf("%s: want list, got %s", PropCampaignSchedule, v.Kind())
	}
	s, err := DecodeSchedule(v.AsList())
	return s, true, err
}

// Stats are the dial counters a status event may carry (PropStatistics).
type Stats struct {
	Dials, Contacts, RecordsLeft int32
}

// Stats returns the counters of a status event and whether it had any.
func (m Message) Stats() (Stats, bool) {
	l, err := m.props().GetList(PropStatistics)
	if err != nil {
		return Stats{}, false
	}
	var s Stats
	s.Dials, _ = l.GetInt(StatDials)
	s.Contacts, _ = l.GetInt(StatContacts)
	s.RecordsLeft, _ = l.GetInt(StatRecordsLeft)
	return s, true
}

// Rates are the campaign-group statistics OCS's HTTP state POSTs carry
// from OCS 8.1.517.04 (GSW_STAT_BUSY_FACTOR, GSW_STAT_HIT_RATIO,
// GSW_STAT_OVERDIAL_RATE, GSW_STAT_TIME_TO_COMPLETE): fractions (0.85 is
// 85 %) and seconds, each "non-negative numeric or null". The seed's
// CommDN status has no statistics and a TKVList holds no fractions, so the
// CommDN codec has no key for them. Has says which values OCS sent.
type Rates struct {
	Has            RateAttr
	BusyFactor     float64 // share of agent time busy with calls
	HitRatio       float64 // share of dials that reached a person
	OverdialRate   float64 // share of answered calls abandoned for want of an agent
	TimeToComplete float64 // seconds OCS expects the group to need to finish its lists
}

// RateAttr is a bit set of the Rates present.
type RateAttr uint8

const (
	RateBusyFactor RateAttr = 1 << iota
	RateHitRatio
	RateOverdialRate
	RateTimeToComplete
)

// WithRates attaches the HTTP statistics to a message.
func (m Message) WithRates(r Rates) Message { m.Rates = r; return m }

// WithStats attaches counters to a status event.
func (m Message) WithStats(s Stats) Message {
	l := TKVList{}.AddInt(StatDials, s.Dials).AddInt(StatContacts, s.Contacts).AddInt(StatRecordsLeft, s.RecordsLeft)
	m.Properties = m.Properties.Set(PropStatistics, List(l))
	return m.with(AttrProperties)
}

// Target returns the addressing attributes of m.
func (m Message) Target() Target {
	return Target{m.OriginAppDBID, m.TargetAppDBID, m.CampaignDBID, m.GroupDBID}
}

// Pacing returns the dial mode and optimization of m.
func (m Message) Pacing() Pacing { return Pacing{m.DialMode, m.OptimizeBy, m.OptimizeGoal} }

// Encode renders m as a TKVList in the canonical key order: message type,
// reference id, origin, target, campaign, group, pacing, status, error,
// auto-completion, properties.
func (m Message) Encode() TKVList { return m.AppendEncode(make(TKVList, 0, 14)) }

// AppendEncode is Encode appending to l: a sender that encodes message
// after message reuses one list.
func (m Message) AppendEncode(l TKVList) TKVList {
	l = l.AddInt(KeyMessageType, int32(m.Type))
	add := func(a Attr, k string, v int32) {
		if m.Has&a != 0 {
			l = l.AddInt(k, v)
		}
	}
	add(AttrReferenceID, KeyReferenceID, m.ReferenceID)
	add(AttrOriginApp, KeyOriginAppID, m.OriginAppDBID)
	add(AttrTargetApp, KeyTargetAppID, m.TargetAppDBID)
	add(AttrCampaign, KeyCampaignID, m.CampaignDBID)
	add(AttrGroup, KeyGroupID, m.GroupDBID)
	add(AttrDialMode, KeyDialMode, int32(m.DialMode))
	add(AttrOptimizeBy, KeyOptimizeBy, int32(m.OptimizeBy))
	add(AttrOptimizeGoal, KeyOptimizeGoal, m.OptimizeGoal)
	add(AttrGroupCampStatus, KeyGroupCampStatus, int32(m.GroupCampStatus))
	add(AttrError, KeyError, int32(m.Error))
	if m.Has&AttrErrorMessage != 0 {
		l = l.AddString(KeyErrorMessage, m.ErrorMessage)
	}
	if m.Has&AttrAutoCompletion != 0 {
		v := int32(0)
		if m.AutoCompletion {
			v = 1
		}
		l = l.AddInt(KeyAutoCompletion, v)
	}
	if m.Has&AttrProperties != 0 {
		l = l.AddList(KeyProperties, m.Properties)
	}
	return l
}

// DecodeMessage reads a Message from user data. Unknown keys are ignored
// (OCS adds its own); a known key of the wrong type is an error naming it.
func DecodeMessage(l TKVList) (Message, error) {
	var m Message
	t, err := l.GetInt(KeyMessageType)
	if err != nil {
		return m, fmt.Errorf("decode message: %w", err)
	}
	m.Type = MessageType(t)
	ints := []struct {
		a Attr
		k string
		p *int32
	}{
		{AttrReferenceID, KeyReferenceID, &m.ReferenceID},
		{AttrOriginApp, KeyOriginAppID, &m.OriginAppDBID},
		{AttrTargetApp, KeyTargetAppID, &m.TargetAppDBID},
		{AttrCampaign, KeyCampaignID, &m.CampaignDBID},
		{AttrGroup, KeyGroupID, &m.GroupDBID},
		{AttrDialMode, KeyDialMode, (*int32)(&m.DialMode)},
		{AttrOptimizeBy, KeyOptimizeBy, (*int32)(&m.OptimizeBy)},
		{AttrOptimizeGoal, KeyOptimizeGoal, &m.OptimizeGoal},
		{AttrGroupCampStatus, KeyGroupCampStatus, (*int32)(&m.GroupCampStatus)},
		{AttrError, KeyError, (*int32)(&m.Error)},
	}
	for _, f := range ints {
		if !l.Has(f.k) {
			continue
		}
		v, err := l.GetInt(f.k)
		if err != nil {
			return m, fmt.Errorf("decode %s: %w", m.Type, err)
		}
		*f.p = v
		m.Has |= f.a
	}
	if l.Has(KeyErrorMessage) {
		if m.ErrorMessage, err = l.GetString(KeyErrorMessage); err != nil {
			return m, fmt.Errorf("decode %s: %w", m.Type, err)
		}
		m.Has |= AttrErrorMessage
	}
	if l.Has(KeyAutoCompletion) {
		v, err := l.GetInt(KeyAutoCompletion)
		if err != nil {
			return m, fmt.Errorf("decode %s: %w", m.Type, err)
		}
		m.AutoCompletion = v != 0
		m.Has |= AttrAutoCompletion
	}
	if l.Has(KeyProperties) {
		if m.Properties, err = l.GetList(KeyProperties); err != nil {
			return m, fmt.Errorf("decode %s: %w", m.Type, err)
		}
		m.Has |= AttrProperties
	}
	return m, nil
}

// Sentinel errors of the protocol model and the links. Transient errors are
// worth retrying on the same request; permanent ones are not.
var (
	ErrInvalidRequest = errors.New("invalid request")     // caught before sending: permanent
	ErrTimeout        = errors.New("no answer from OCS")  // transient
	ErrDisconnected   = errors.New("link to OCS is down") // transient
	ErrClosed         = errors.New("link closed")         // permanent
	ErrTooLarge       = errors.New("too large")
	ErrTooDeep        = errors.New("nested too deep")
	// ErrProtocol: OCS answered a request with an event of another type
	// (an EvCampaignLoaded for a StartDialing). Nothing about the request's
	// outcome can be concluded from it; it is not success.
	ErrProtocol = errors.New("protocol error")
	// ErrNotSent comes with ErrDisconnected when the request never left
	// (no connection): OCS cannot have acted on it.
	ErrNotSent = errors.New("request not sent")
)

// OCSError is a CM_EvError answer.
type OCSError struct {
	Request MessageType
	Code    ErrorCode
	Message string
}

func (e *OCSError) Error() string {
	if e.Message != "" {
		return fmt.Sprintf("%s: OCS error %d %s: %s", e.Request, int(e.Code), e.Code, e.Message)
	}
	return fmt.Sprintf("%s: OCS error %d %s", e.Request, int(e.Code), e.Code)
}

// GoalReached reports whether the error means the request's goal already
// holds (docs/protocol.md, "Answers and idempotency"): AlreadyLoaded on Load, AlreadyStarted on Start,
// NotLoaded on Unload/ForceUnload/Stop, NotStarted on Stop.
func (e *OCSError) GoalReached() bool {
	switch e.Request {
	case ReqLoadCampaign:
		return e.Code == ErrCampaignAlreadyLoaded
	case ReqStartDialing:
		return e.Code == ErrCampaignAlreadyStarted
	case ReqStopDialing:
		return e.Code == ErrCampaignNotStarted || e.Code == ErrCampaignNotLoaded
	case ReqUnloadCampaign, ReqForceUnloadCampaign:
		return e.Code == ErrCampaignNotLoaded
	}
	return false
}

// IsTransient reports whether err is worth retrying unchanged.
func IsTransient(err error) bool {
	return errors.Is(err, ErrTimeout) || errors.Is(err, ErrDisconnected)
}
