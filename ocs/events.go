package ocs

import "fmt"

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

// NewError builds the CM_EvError answer to req. An empty text still sends
// GSW_CM_AttrErrorMessage, as OCS does.
func NewError(req Message, code ErrorCode, text string) Message {
	m := NewAnswer(req, EvError)
	m.Has |= AttrError | AttrErrorMessage
	m.Error, m.ErrorMessage = code, text
	return m
}

// NewNotice builds an unsolicited event of type t (CM_EvCampaignStatus, or
// the CM_EvDialingStopped / CM_EvCampaignUnloaded of auto-completion) about
// one campaign group: tg.OriginAppDBID is the sender (the OCS application),
// tg.TargetAppDBID the receiver (0 for every client of the CommDN).
func NewNotice(t MessageType, tg Target, s GroupCampStatus) Message {
	return base(t, tg).WithStatus(s)
}

// NewStatus builds an unsolicited CM_EvCampaignStatus; see NewNotice.
func NewStatus(tg Target, s GroupCampStatus) Message {
	return NewNotice(EvCampaignStatus, tg, s)
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
// or nil for any other message. The request type travels separately
// because the CM_EvError itself does not say what it answers.
func (m Message) AsError(req MessageType) error {
	if m.Type != EvError {
		return nil
	}
	return &OCSError{Request: req, Code: m.Error, Message: m.ErrorMessage}
}

// AnswerError checks m as the answer to a request of type req: nil for the
// request's own event, *OCSError for an EvError, and ErrProtocol for any
// other type — an answer of the wrong type never counts as success.
func (m Message) AnswerError(req MessageType) error {
	if err := m.AsError(req); err != nil {
		return err
	}
	if want := req.Answer(); want != MsgCfgNone && m.Type != want {
		return fmt.Errorf("%s answered with %s, want %s: %w", req, m.Type, want, ErrProtocol)
	}
	return nil
}
