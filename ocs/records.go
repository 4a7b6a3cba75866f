package ocs

import (
	"errors"
	"fmt"
)

// ChainAttr is GSW_CHAIN_ATTR: the scope of a record request.
type ChainAttr string

const (
	ChainAll        ChainAttr = "AllChain" // the default of OCS
	ChainRecordOnly ChainAttr = "RecordOnly"
)

// Record is the cancel_record or do_not_call property list: which records
// a CM_ReqCancelRecord or CM_ReqDoNotCall is about, and in an answer the
// GSW_MESSAGE OCS adds ("Incomplete processing: record(s) on desktop").
// Empty fields are left out.
type Record struct {
	Phone        string    // GSW_PHONE
	CustomerID   string    // GSW_CUSTOMER_ID
	CampaignName string    // GSW_CAMPAIGN_NAME: cancel only in this campaign
	Chain        ChainAttr // GSW_CHAIN_ATTR
	Message      string    // GSW_MESSAGE (answers)
}

// Encode renders r in the seed's key order.
func (r Record) Encode() TKVList {
	l := make(TKVList, 0, 5)
	add := func(k, v string) {
		if v != "" {
			l = l.AddString(k, v)
		}
	}
	add(KeyPhone, r.Phone)
	add(KeyCustomerID, r.CustomerID)
	add(KeyCampaignName, r.CampaignName)
	add(KeyChainAttr, string(r.Chain))
	add(KeyMessage, r.Message)
	return l
}

// DecodeRecord reads a cancel_record or do_not_call list. Values must be
// strings; GSW_CHAIN_ATTR must be AllChain or RecordOnly. Unknown keys are
// ignored.
func DecodeRecord(l TKVList) (Record, error) {
	var r Record
	fields := []struct {
		k string
		p *string
	}{
		{KeyPhone, &r.Phone}, {KeyCustomerID, &r.CustomerID},
		{KeyCampaignName, &r.CampaignName}, {KeyChainAttr, (*string)(&r.Chain)},
		{KeyMessage, &r.Message},
	}
	for _, f := range fields {
		v, err := l.GetString(f.k)
		if errors.Is(err, ErrMissingKey) {
			continue
		}
		if err != nil {
			return r, err
		}
		*f.p = v
	}
	switch r.Chain {
	case "", ChainAll, ChainRecordOnly:
	default:
		return r, fmt.Errorf("key %q: %q is not %s or %s", KeyChainAttr, r.Chain, ChainAll, ChainRecordOnly)
	}
	return r, nil
}

// recordProp is the Properties key of a record request or its answer.
func recordProp(t MessageType) string {
	switch t {
	case ReqCancelRecord, EvRecordCanceled:
		return PropCancelRecord
	case ReqDoNotCall, EvDoNotCallProcessed:
		return PropDoNotCall
	}
	return ""
}

func recordMessage(t MessageType, origin, target int32, r Record) Message {
	return Message{
		Type: t, Has: AttrOriginApp | AttrTargetApp | AttrProperties,
		OriginAppDBID: origin, TargetAppDBID: target,
		Properties: TKVList{}.AddList(recordProp(t), r.Encode()),
	}
}

// NewCancelRecord builds CM_ReqCancelRecord. r.Phone is mandatory; target
// 0 asks every OCS watching the CommDN.
func NewCancelRecord(origin, target int32, r Record) Message {
	return recordMessage(ReqCancelRecord, origin, target, r)
}

// NewDoNotCall builds CM_ReqDoNotCall. r.Phone or r.CustomerID is
// mandatory; target 0 asks every OCS watching the CommDN.
func NewDoNotCall(origin, target int32, r Record) Message {
	return recordMessage(ReqDoNotCall, origin, target, r)
}

// NewRecordAnswer builds the acknowledgement of a record request
// (CM_EvRecordCanceled or CM_EvDoNotCallProcessed) carrying r in the same
// property list as the request.
func NewRecordAnswer(req Message, r Record) Message {
	m := NewAnswer(req, req.Type.Answer())
	if k := recordProp(req.Type); k != "" {
		m.Properties = TKVList{}.AddList(k, r.Encode())
		m.Has |= AttrProperties
	}
	return m
}

// Record returns the cancel_record or do_not_call list of a record request
// or answer, and whether it had one.
func (m Message) Record() (Record, bool, error) {
	k := recordProp(m.Type)
	if k == "" {
		return Record{}, false, nil
	}
	v, ok := m.props().Lookup(k)
	if !ok {
		return Record{}, false, nil
	}
	if v.Kind() != KindList {
		return Record{}, true, fmt.Errorf("%s: want list, got %s", k, v.Kind())
	}
	r, err := DecodeRecord(v.AsList())
	if err != nil {
		return r, true, fmt.Errorf("%s: %w", k, err)
	}
	return r, true, nil
}
