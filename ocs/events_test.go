package ocs

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestAnAnswerEchoesTheReferenceAndGroupAndSwapsOriginAndTarget(t *testing.T) {
	req := NewStartDialing(tg101, pred, &yes).WithReference(77)
	a := NewAnswer(req, EvDialingStarted)
	want := Message{Type: EvDialingStarted,
		Has:         AttrReferenceID | AttrOriginApp | AttrTargetApp | AttrCampaign | AttrGroup,
		ReferenceID: 77, OriginAppDBID: ocsApp, TargetAppDBID: daemon, CampaignDBID: 101, GroupDBID: 732}
	if !sameMessage(a, want) {
		t.Errorf("got  %+v\nwant %+v", a, want)
	}
	// What the request lacks, the answer lacks too.
	bare := NewAnswer(Message{Type: ReqCancelRecord, Has: AttrOriginApp | AttrTargetApp, OriginAppDBID: 310}, EvRecordCanceled)
	if bare.Has != AttrOriginApp|AttrTargetApp || bare.TargetAppDBID != 310 {
		t.Errorf("got %+v", bare)
	}
}

func TestAnErrorAnswerBecomesAnOCSErrorThatKnowsWhenTheGoalIsReached(t *testing.T) {
	req := NewLoad(tg101, pred, nil).WithReference(3)
	ev := NewError(req, ErrCampaignAlreadyLoaded, "already")
	if ev.Type != EvError || ev.ReferenceID != 3 || ev.Error != ErrCampaignAlreadyLoaded || ev.Has&AttrErrorMessage == 0 {
		t.Fatalf("got %+v", ev)
	}
	err := ev.AsError(req.Type)
	var oe *OCSError
	if !errors.As(err, &oe) || oe.Code != ErrCampaignAlreadyLoaded || oe.Request != ReqLoadCampaign || oe.Message != "already" {
		t.Fatalf("AsError = %#v", err)
	}
	if want := "CM_ReqLoadCampaign: OCS error 5 CM_ERROR_CAMPAIGN_ALREADY_LOADED: already"; err.Error() != want {
		t.Errorf("Error() = %q, want %q", err, want)
	}
	if err := NewError(req, ErrGroupNotFound, "").AsError(req.Type); err.Error() != "CM_ReqLoadCampaign: OCS error 8 CM_ERROR_GROUP_NOT_FOUND" {
		t.Errorf("Error() without text = %q", err)
	}
	if NewAnswer(req, EvCampaignLoaded).AsError(req.Type) != nil {
		t.Error("a success answer is not an error")
	}

	reached := map[MessageType][]ErrorCode{
		ReqLoadCampaign:        {ErrCampaignAlreadyLoaded},
		ReqStartDialing:        {ErrCampaignAlreadyStarted},
		ReqStopDialing:         {ErrCampaignNotStarted, ErrCampaignNotLoaded},
		ReqUnloadCampaign:      {ErrCampaignNotLoaded},
		ReqForceUnloadCampaign: {ErrCampaignNotLoaded},
	}
	for mt := MsgCfgNone; mt <= maxMessageType; mt++ {
		for code := ErrNone; code <= ErrPartOfSequence; code++ {
			want := false
			for _, c := range reached[mt] {
				want = want || c == code
			}
			if got := (&OCSError{Request: mt, Code: code}).GoalReached(); got != want {
				t.Errorf("%v answered %v: GoalReached %v, want %v", mt, code, got, want)
			}
		}
	}
}

func TestOnlyTimeoutsAndDisconnectsAreTransient(t *testing.T) {
	for err, want := range map[error]bool{
		fmt.Errorf("load 101: %w", ErrTimeout):      true,
		fmt.Errorf("load 101: %w", ErrDisconnected): true,
		ErrInvalidRequest:                           false, ErrClosed: false,
		&OCSError{Code: ErrCampaignNotFound}: false,
	} {
		if IsTransient(err) != want {
			t.Errorf("IsTransient(%v) = %v", err, !want)
		}
	}
}

func TestANoticeComesFromOCSToEveryClient(t *testing.T) {
	m := NewNotice(EvCampaignUnloaded, Target{OriginAppDBID: ocsApp, CampaignDBID: 105, GroupDBID: 733}, StatusNotLoaded)
	want := Message{Type: EvCampaignUnloaded, Has: AttrOriginApp | AttrTargetApp | AttrCampaign | AttrGroup | AttrGroupCampStatus,
		OriginAppDBID: ocsApp, CampaignDBID: 105, GroupDBID: 733, GroupCampStatus: StatusNotLoaded}
	if !sameMessage(m, want) {
		t.Errorf("got  %+v\nwant %+v", m, want)
	}
	if s := NewStatus(tg101, StatusRunning); s.Type != EvCampaignStatus || s.GroupCampStatus != StatusRunning {
		t.Errorf("NewStatus = %+v", s)
	}
	if st, ok := NewStatus(tg101, StatusRunning).WithStats(Stats{1, 2, 3}).Stats(); !ok || st != (Stats{1, 2, 3}) {
		t.Errorf("Stats = %v, %v", st, ok)
	}
	if _, ok := NewStatus(tg101, StatusRunning).Stats(); ok {
		t.Error("Stats of an event without counters")
	}
}

func TestRecordRequestsCarryTheSeedStructure(t *testing.T) {
	m := NewCancelRecord(daemon, 0, Record{Phone: "+14155550101", CustomerID: "C-1", CampaignName: "Fresh Leads", Chain: ChainRecordOnly})
	want := `'GSW_CM_MessageType' 30 [CM_ReqCancelRecord]
'GSW_CM_AttrOriginAppID' 310
'GSW_CM_AttrTargetAppID' 0
'GSW_CM_AttrProperties' (list)
	'cancel_record' (list)
		'GSW_PHONE' '+14155550101'
		'GSW_CUSTOMER_ID' 'C-1'
		'GSW_CAMPAIGN_NAME' 'Fresh Leads'
		'GSW_CHAIN_ATTR' 'RecordOnly'
`
	if got := m.Encode().String(); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	d := NewDoNotCall(daemon, ocsApp, Record{CustomerID: "C-88812"})
	if got := d.Encode().String(); !strings.Contains(got, "\t'do_not_call' (list)\n\t\t'GSW_CUSTOMER_ID' 'C-88812'\n") || strings.Contains(got, "GSW_PHONE") {
		t.Errorf("do_not_call:\n%s", got)
	}
	r, ok, err := d.Record()
	if err != nil || !ok || r != (Record{CustomerID: "C-88812"}) {
		t.Errorf("Record = %+v, %v, %v", r, ok, err)
	}

	ans := NewRecordAnswer(m.WithReference(5), Record{Phone: "+14155550101", Message: "Incomplete processing: record(s) on desktop"})
	if ans.Type != EvRecordCanceled || ans.ReferenceID != 5 || ans.TargetAppDBID != daemon {
		t.Errorf("answer %+v", ans)
	}
	r, ok, err = ans.Record()
	if err != nil || !ok || r.Message != "Incomplete processing: record(s) on desktop" {
		t.Errorf("answer Record = %+v, %v, %v", r, ok, err)
	}
	if a := NewRecordAnswer(d, Record{Phone: "1"}); a.Type != EvDoNotCallProcessed || !a.Properties.Has(PropDoNotCall) {
		t.Errorf("DNC answer %+v", a)
	}
}

func TestRecordReadsOnlyRecordMessagesAndNamesBadKeys(t *testing.T) {
	if _, ok, err := NewLoad(tg101, pred, nil).Record(); ok || err != nil {
		t.Errorf("Load has no record: %v %v", ok, err)
	}
	if _, ok, err := drop(NewDoNotCall(daemon, 0, Record{Phone: "1"}), AttrProperties).Record(); ok || err != nil {
		t.Errorf("properties not marked present: %v %v", ok, err)
	}
	for _, c := range []struct {
		props TKVList
		want  string
	}{
		{TKVList{}.AddString(PropDoNotCall, "x"), "do_not_call: want list, got string"},
		{TKVList{}.AddList(PropDoNotCall, TKVList{}.AddInt(KeyCustomerID, 5)), `do_not_call: key "GSW_CUSTOMER_ID": want string, got int`},
		{TKVList{}.AddList(PropDoNotCall, TKVList{}.AddString(KeyChainAttr, "allchain")), `do_not_call: key "GSW_CHAIN_ATTR": "allchain" is not AllChain or RecordOnly`},
	} {
		_, ok, err := withProps(NewDoNotCall(daemon, 0, Record{}), c.props).Record()
		if !ok || err == nil || err.Error() != c.want {
			t.Errorf("ok %v err %v, want %q", ok, err, c.want)
		}
	}
}
