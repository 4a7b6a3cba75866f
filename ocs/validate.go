package ocs

import "fmt"

// Validate checks a request against the seed's "Communication Structure"
// table before it is sent. The error names the first missing attribute by
// its CommDN key and wraps ErrInvalidRequest.
func (m Message) Validate() error {
	if key, ok := MissingAttribute(m); ok {
		if key == "" {
			return fmt.Errorf("%s: not a request: %w", m.Type, ErrInvalidRequest)
		}
		return fmt.Errorf("%s: missing %s: %w", m.Type, key, ErrInvalidRequest)
	}
	if m.Has&AttrAutoCompletion != 0 {
		switch m.Type {
		case ReqLoadCampaign, ReqStartDialing, ReqSetDialingMode:
		default:
			return fmt.Errorf("%s: %s is allowed only on load, start and set-dialing-mode: %w", m.Type, KeyAutoCompletion, ErrInvalidRequest)
		}
	}
	if m.Has&AttrProperties != 0 {
		if _, ok, err := m.Schedule(); ok && err != nil {
			return fmt.Errorf("%s: %w: %w", m.Type, err, ErrInvalidRequest)
		}
	}
	return nil
}

// MissingAttribute returns the first mandatory attribute m lacks; ok is
// false when nothing is missing. A non-request returns ("", true).
func MissingAttribute(m Message) (key string, ok bool) {
	if !m.Type.IsRequest() {
		return "", true
	}
	if m.Has&AttrOriginApp == 0 {
		return KeyOriginAppID, true
	}
	if m.Has&AttrTargetApp == 0 {
		return KeyTargetAppID, true
	}
	switch m.Type {
	case ReqCancelRecord:
		l, err := m.Properties.GetList(PropCancelRecord)
		if err != nil {
			return KeyProperties + "." + PropCancelRecord, true
		}
		if s, err := l.GetString(KeyPhone); err != nil || s == "" {
			return KeyProperties + "." + PropCancelRecord + "." + KeyPhone, true
		}
		return "", false
	case ReqDoNotCall:
		l, err := m.Properties.GetList(PropDoNotCall)
		if err != nil {
			return KeyProperties + "." + PropDoNotCall, true
		}
		p, _ := l.GetString(KeyPhone)
		c, _ := l.GetString(KeyCustomerID)
		if p == "" && c == "" {
			return KeyProperties + "." + PropDoNotCall + "." + KeyPhone + " or " + KeyCustomerID, true
		}
		return "", false
	}
	// Campaign requests: CampaignDBID, or 0 with a campaign_schedule.
	if m.Has&AttrCampaign == 0 {
		return KeyCampaignID, true
	}
	if m.CampaignDBID == 0 && !m.Properties.Has(PropCampaignSchedule) {
		return KeyProperties + "." + PropCampaignSchedule, true
	}
	if m.Has&AttrGroup == 0 {
		return KeyGroupID, true
	}
	switch m.Type {
	case ReqLoadCampaign, ReqStartDialing, ReqSetDialingMode:
		if m.Has&AttrDialMode == 0 {
			return KeyDialMode, true
		}
		if m.Has&AttrOptimizeBy == 0 {
			return KeyOptimizeBy, true
		}
		if m.Has&AttrOptimizeGoal == 0 {
			return KeyOptimizeGoal, true
		}
	}
	return "", false
}

// NewAnswer builds the answer of type t to req: it echoes the reference id
// and the campaign group, and swaps origin and target.
func NewAnswer(req Message, t MessageType) Message {
	m := Message{Type: t, Has: AttrOriginApp | AttrTargetApp,
		OriginAppDBID: req.TargetAppDBID, TargetAppDBID: req.OriginAppDBID}
	if req.Has&AttrReferenceID != 0 {
		m.Has |= AttrReferenceID
		m.ReferenceID = req.ReferenceID
	}
	if req.Has&AttrCampaign != 0 {
		m.Has |= AttrCampaign
		m.CampaignDBID = req.CampaignDBID
	}
	if req.Has&AttrGroup != 0 {
		m.Has |= AttrGroup
		m.GroupDBID = req.GroupDBID
	}
	return m
}

// NewError builds the CM_EvError answer to req.
func NewError(req Message, code ErrorCode, text string) Message {
	m := NewAnswer(req, EvError)
	m.Has |= AttrError | AttrErrorMessage
	m.Error, m.ErrorMessage = code, text
	return m
}

// WithStatus sets GSW_CM_AttrGroupCampStatus.
func (m Message) WithStatus(s GroupCampStatus) Message {
	m.GroupCampStatus = s
	return m.with(AttrGroupCampStatus)
}

// WithPacing sets the dial mode and optimization attributes.
func (m Message) WithPacing(p Pacing) Message {
	m.DialMode, m.OptimizeBy, m.OptimizeGoal = p.DialMode, p.OptimizeBy, p.OptimizeGoal
	return m.with(AttrDialMode | AttrOptimizeBy | AttrOptimizeGoal)
}

// WithReference sets GSW_CM_AttrReferenceID.
func (m Message) WithReference(id int32) Message {
	m.ReferenceID = id
	return m.with(AttrReferenceID)
}

// AsError returns the *OCSError an EvError carries (for request type req),
// or nil.
func (m Message) AsError(req MessageType) error {
	if m.Type != EvError {
		return nil
	}
	return &OCSError{Request: req, Code: m.Error, Message: m.ErrorMessage}
}
