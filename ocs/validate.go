package ocs

import "fmt"

// Validate checks a request against the seed's "Communication Structure"
// table before it is sent, so that a bad request is a programming error
// found here rather than a CM_EvError 10 from OCS. The error names the
// first missing attribute by its CommDN key and wraps ErrInvalidRequest:
//
//	CM_ReqLoadCampaign: missing GSW_CM_AttrGroupID: invalid request
//
// Beyond presence it checks only what OCS would reject for the request's
// shape: GSW_AUTO_COMPLETION outside Load/Start/SetDialingMode, a
// campaign_schedule that does not decode, and a GSW_CHAIN_ATTR other than
// AllChain or RecordOnly. Values (dial modes, goals, DBIDs) are for OCS to
// judge; the simulator answers them as OCS does.
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
	if _, ok, err := m.Schedule(); ok && err != nil {
		return fmt.Errorf("%s: %s: %w: %w", m.Type, KeyProperties, err, ErrInvalidRequest)
	}
	if m.Type == ReqCancelRecord || m.Type == ReqDoNotCall {
		if _, _, err := m.Record(); err != nil {
			return fmt.Errorf("%s: %s: %w: %w", m.Type, KeyProperties, err, ErrInvalidRequest)
		}
	}
	return nil
}

// MissingAttribute returns the first mandatory attribute m lacks, as the
// seed key (a path with dots inside GSW_CM_AttrProperties); ok is false
// when nothing is missing. A non-request returns ("", true). The simulator
// answers a request with a missing attribute with CM_EvError 10.
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
	props := m.props()
	switch m.Type {
	case ReqCancelRecord:
		l, err := props.GetList(PropCancelRecord)
		if err != nil {
			return KeyProperties + "." + PropCancelRecord, true
		}
		if s, err := l.GetString(KeyPhone); err != nil || s == "" {
			return KeyProperties + "." + PropCancelRecord + "." + KeyPhone, true
		}
		return "", false
	case ReqDoNotCall:
		l, err := props.GetList(PropDoNotCall)
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
	// Campaign requests: "CampaignDBID or Properties" — OCS checks the
	// CampaignDBID, and when it is 0 (or absent) the request must carry a
	// campaign_schedule that names the sequence.
	if m.Has&AttrCampaign == 0 || m.CampaignDBID == 0 {
		if !props.Has(PropCampaignSchedule) {
			if m.Has&AttrCampaign == 0 {
				return KeyCampaignID, true
			}
			return KeyProperties + "." + PropCampaignSchedule, true
		}
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

// props is Properties as it goes on the wire: absent unless Has says so.
func (m Message) props() TKVList {
	if m.Has&AttrProperties == 0 {
		return nil
	}
	return m.Properties
}
