package ocs

import (
	"errors"
	"testing"
)

func drop(m Message, a Attr) Message { m.Has &^= a; return m }

func TestValidateNamesTheMissingAttributeExactly(t *testing.T) {
	err := drop(NewLoad(tg101, pred, nil), AttrGroup).Validate()
	if want := "CM_ReqLoadCampaign: missing GSW_CM_AttrGroupID: invalid request"; err == nil || err.Error() != want {
		t.Errorf("err = %v, want %q", err, want)
	}
	if !errors.Is(err, ErrInvalidRequest) {
		t.Errorf("%v does not wrap ErrInvalidRequest", err)
	}
}

func TestValidateRejectsEveryMissingMandatoryAttribute(t *testing.T) {
	seq := threeItems()
	paced := map[MessageType]func(Target, Pacing, *bool) Message{
		ReqLoadCampaign: NewLoad, ReqStartDialing: NewStartDialing, ReqSetDialingMode: NewSetDialingMode,
	}
	plain := map[MessageType]func(Target) Message{
		ReqUnloadCampaign: NewUnload, ReqForceUnloadCampaign: NewForceUnload,
		ReqStopDialing: NewStopDialing, ReqGetCampaignStatus: NewGetCampaignStatus,
	}
	type tc struct {
		name string
		m    Message
		key  string // "" for "not a request"
	}
	var cases []tc
	campaignCases := func(mt MessageType, mk func(Target) Message) {
		n := mt.String()
		cases = append(cases,
			tc{n + " without origin", drop(mk(tg101), AttrOriginApp), KeyOriginAppID},
			tc{n + " without target", drop(mk(tg101), AttrTargetApp), KeyTargetAppID},
			tc{n + " without campaign or properties", drop(mk(tg101), AttrCampaign), KeyCampaignID},
			tc{n + " with campaign 0 and no schedule", mk(tgSeq), KeyProperties + "." + PropCampaignSchedule},
			tc{n + " with campaign 0 and properties without a schedule",
				mk(tgSeq).WithStats(Stats{}), KeyProperties + "." + PropCampaignSchedule},
			tc{n + " with campaign 0 and a schedule not marked present",
				drop(mk(tgSeq).WithSchedule(seq), AttrProperties), KeyProperties + "." + PropCampaignSchedule},
			tc{n + " without group", drop(mk(tg101), AttrGroup), KeyGroupID},
			tc{n + " of a sequence without group", drop(mk(tgSeq).WithSchedule(seq), AttrGroup), KeyGroupID},
		)
	}
	for mt, mk := range paced {
		mk0 := func(tg Target) Message { return mk(tg, pred, &yes) }
		campaignCases(mt, mk0)
		n := mt.String()
		cases = append(cases,
			tc{n + " without dial mode", drop(mk0(tg101), AttrDialMode), KeyDialMode},
			tc{n + " without optimize-by", drop(mk0(tg101), AttrOptimizeBy), KeyOptimizeBy},
			tc{n + " without optimize goal", drop(mk0(tg101), AttrOptimizeGoal), KeyOptimizeGoal},
		)
	}
	for mt, mk := range plain {
		campaignCases(mt, mk)
	}
	cancel := func(r Record) Message { return NewCancelRecord(daemon, 0, r) }
	dnc := func(r Record) Message { return NewDoNotCall(daemon, 0, r) }
	cr := KeyProperties + "." + PropCancelRecord
	dn := KeyProperties + "." + PropDoNotCall
	cases = append(cases,
		tc{"CM_ReqCancelRecord without origin", drop(cancel(Record{Phone: "1"}), AttrOriginApp), KeyOriginAppID},
		tc{"CM_ReqCancelRecord without target", drop(cancel(Record{Phone: "1"}), AttrTargetApp), KeyTargetAppID},
		tc{"CM_ReqCancelRecord without properties", drop(cancel(Record{Phone: "1"}), AttrProperties), cr},
		tc{"CM_ReqCancelRecord with a do_not_call list", withProps(cancel(Record{}), TKVList{}.AddList(PropDoNotCall, Record{Phone: "1"}.Encode())), cr},
		tc{"CM_ReqCancelRecord with cancel_record not a list", withProps(cancel(Record{}), TKVList{}.AddString(PropCancelRecord, "1")), cr},
		tc{"CM_ReqCancelRecord without phone", cancel(Record{CustomerID: "C-1", CampaignName: "x"}), cr + "." + KeyPhone},
		tc{"CM_ReqCancelRecord with the phone as an int", withProps(cancel(Record{}), TKVList{}.AddList(PropCancelRecord, TKVList{}.AddInt(KeyPhone, 5551234))), cr + "." + KeyPhone},
		tc{"CM_ReqDoNotCall without properties", drop(dnc(Record{Phone: "1"}), AttrProperties), dn},
		tc{"CM_ReqDoNotCall without phone or customer", dnc(Record{CampaignName: "x"}), dn + "." + KeyPhone + " or " + KeyCustomerID},
		tc{"CM_ReqDoNotCall without target", drop(dnc(Record{Phone: "1"}), AttrTargetApp), KeyTargetAppID},
		tc{"an answer", NewAnswer(NewLoad(tg101, pred, nil), EvCampaignLoaded), ""},
		tc{"a status event", NewStatus(tg101, StatusRunning), ""},
		tc{"a not-applicable request", Message{Type: ReqRegisterClient, Has: AttrOriginApp | AttrTargetApp}, ""},
		tc{"an unknown type", Message{Type: 99}, ""},
	)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			key, missing := MissingAttribute(c.m)
			if !missing || key != c.key {
				t.Errorf("MissingAttribute = %q, %v; want %q, true", key, missing, c.key)
			}
			err := c.m.Validate()
			want := c.m.Type.String() + ": missing " + c.key + ": invalid request"
			if c.key == "" {
				want = c.m.Type.String() + ": not a request: invalid request"
			}
			if err == nil || err.Error() != want {
				t.Errorf("Validate = %v, want %q", err, want)
			}
			if !errors.Is(err, ErrInvalidRequest) {
				t.Errorf("%v does not wrap ErrInvalidRequest", err)
			}
		})
	}
}

func withProps(m Message, p TKVList) Message {
	m.Properties = p
	m.Has |= AttrProperties
	return m
}

func TestValidateAcceptsEveryWellFormedRequest(t *testing.T) {
	seq := threeItems()
	for _, m := range []Message{
		NewLoad(tg101, pred, nil),
		NewLoad(tg101, pred, &yes),
		NewLoad(tgSeq, pred, &yes).WithSchedule(seq),
		drop(NewLoad(tgSeq, pred, nil).WithSchedule(seq), AttrCampaign), // "CampaignDBID or Properties"
		NewStartDialing(tg101, Pacing{DialModePreview, OptimizeNone, 0}, &yes),
		NewSetDialingMode(tg101, pred, nil),
		NewStopDialing(tg101), NewUnload(tg101), NewForceUnload(tg101),
		NewGetCampaignStatus(tg101),
		NewGetCampaignStatus(tgSeq).WithSchedule(seq),
		NewUnload(tgSeq).WithSchedule(seq),
		NewCancelRecord(daemon, 0, Record{Phone: "+14155550101"}),
		NewCancelRecord(daemon, ocsApp, Record{Phone: "1", CustomerID: "C", CampaignName: "Fresh Leads", Chain: ChainRecordOnly}),
		NewDoNotCall(daemon, 0, Record{Phone: "+14155550101"}),
		NewDoNotCall(daemon, 0, Record{CustomerID: "C-88812", Chain: ChainAll}),
		NewLoad(tg101, pred, nil).WithStats(Stats{}), // extra properties are OCS's business
	} {
		if err := m.Validate(); err != nil {
			t.Errorf("%s\n%v", m.Encode(), err)
		}
	}
}

func TestValidateAllowsAutoCompletionOnlyOnLoadStartAndSetDialingMode(t *testing.T) {
	auto := func(m Message) Message { m.Has |= AttrAutoCompletion; return m }
	for _, m := range []Message{
		auto(NewStopDialing(tg101)), auto(NewUnload(tg101)), auto(NewForceUnload(tg101)),
		auto(NewGetCampaignStatus(tg101)), auto(NewCancelRecord(daemon, 0, Record{Phone: "1"})),
		auto(NewDoNotCall(daemon, 0, Record{Phone: "1"})),
	} {
		err := m.Validate()
		want := m.Type.String() + ": GSW_AUTO_COMPLETION is allowed only on load, start and set-dialing-mode: invalid request"
		if err == nil || err.Error() != want {
			t.Errorf("%s: err = %v, want %q", m.Type, err, want)
		}
	}
	for _, m := range []Message{auto(NewLoad(tg101, pred, nil)), auto(NewStartDialing(tg101, pred, nil)), auto(NewSetDialingMode(tg101, pred, nil))} {
		if err := m.Validate(); err != nil {
			t.Errorf("%s: %v", m.Type, err)
		}
	}
}

func TestValidateRejectsASequenceWhoseScheduleDoesNotDecode(t *testing.T) {
	bad := NewLoad(tgSeq, pred, nil).WithSchedule(threeItems())
	sched, _ := bad.Properties.GetList(PropCampaignSchedule)
	bad.Properties = bad.Properties.Set(PropCampaignSchedule, List(sched.Set(SchedNItems, Int(4))))
	err := bad.Validate()
	want := "CM_ReqLoadCampaign: GSW_CM_AttrProperties: campaign_schedule: nItems is 4 but 3 scheduleItem-<n> entries are present: invalid request"
	if err == nil || err.Error() != want {
		t.Errorf("err = %v\nwant %s", err, want)
	}
	notList := withProps(NewLoad(tgSeq, pred, nil), TKVList{}.AddString(PropCampaignSchedule, "x"))
	if err := notList.Validate(); !errors.Is(err, ErrInvalidRequest) {
		t.Errorf("schedule as a string: err = %v", err)
	}
}

func TestValidateRejectsAChainAttributeOtherThanAllChainOrRecordOnly(t *testing.T) {
	m := NewCancelRecord(daemon, 0, Record{Phone: "1", Chain: "Everything"})
	err := m.Validate()
	want := `CM_ReqCancelRecord: GSW_CM_AttrProperties: cancel_record: key "GSW_CHAIN_ATTR": "Everything" is not AllChain or RecordOnly: invalid request`
	if err == nil || err.Error() != want {
		t.Errorf("err = %v\nwant %s", err, want)
	}
}
