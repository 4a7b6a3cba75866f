package ocs

import (
	"errors"
	"strings"
	"testing"
)

func TestTypedGettersSayWhichKeyIsMissingOrOfTheWrongType(t *testing.T) {
	l := TKVList{}.AddInt("i", 7).AddString("s", "x").AddList("l", TKVList{}.AddInt("n", 1)).AddInt("i", 8)
	if v, err := l.GetInt("i"); err != nil || v != 7 {
		t.Errorf("GetInt = %d, %v; want the first of repeated keys", v, err)
	}
	if v, err := l.GetString("s"); err != nil || v != "x" {
		t.Errorf("GetString = %q, %v", v, err)
	}
	if v, err := l.GetList("l"); err != nil || !v.Equal(TKVList{}.AddInt("n", 1)) {
		t.Errorf("GetList = %v, %v", v, err)
	}
	for _, c := range []struct {
		get  func() error
		want string
		is   error
		key  string
		kind Kind
	}{
		{func() error { _, err := l.GetInt("nope"); return err }, `key "nope": missing`, ErrMissingKey, "nope", 0},
		{func() error { _, err := l.GetInt("s"); return err }, `key "s": want int, got string`, ErrWrongType, "s", KindString},
		{func() error { _, err := l.GetString("i"); return err }, `key "i": want string, got int`, ErrWrongType, "i", KindInt},
		{func() error { _, err := l.GetList("s"); return err }, `key "s": want list, got string`, ErrWrongType, "s", KindString},
		{func() error { _, err := l.GetString("nope"); return err }, `key "nope": missing`, ErrMissingKey, "nope", 0},
		{func() error { _, err := TKVList{{Key: "z"}}.GetInt("z"); return err }, `key "z": want int, got invalid`, ErrWrongType, "z", 0},
	} {
		err := c.get()
		var fe *FieldError
		if err == nil || err.Error() != c.want || !errors.Is(err, c.is) || !errors.As(err, &fe) || fe.Key != c.key || fe.Got != c.kind {
			t.Errorf("err = %#v, want %q", err, c.want)
		}
	}
}

func TestSetDeleteAndCloneKeepOrderAndDoNotAlias(t *testing.T) {
	inner := TKVList{}.AddInt("n", 1)
	l := TKVList{}.AddInt("a", 1).AddList("b", inner).AddInt("a", 2).AddInt("c", 3)
	c := l.Clone()
	c[1].Value.l[0].Value = Int(99)
	if v, _ := inner.GetInt("n"); v != 1 {
		t.Error("Clone shares nested lists")
	}
	if !c.Set("c", Str("x")).Equal(TKVList{}.AddInt("a", 1).AddList("b", TKVList{}.AddInt("n", 99)).AddInt("a", 2).AddString("c", "x")) {
		t.Errorf("Set replaced the wrong pair: %v", c)
	}
	if got := l.Clone().Set("d", Int(4)); got[len(got)-1].Key != "d" {
		t.Error("Set of a new key does not append")
	}
	if got := l.Clone().Delete("a"); !got.Equal(TKVList{}.AddList("b", inner).AddInt("c", 3)) {
		t.Errorf("Delete = %v", got)
	}
	if TKVList(nil).Clone() != nil || !TKVList(nil).Equal(TKVList{}) {
		t.Error("nil list")
	}
	if Int(1).Equal(Str("1")) || !List(nil).Equal(List(TKVList{})) || !(Value{}).Equal(Value{}) {
		t.Error("Value.Equal")
	}
}

func TestStringRendersLikeAnOCSLog(t *testing.T) {
	m := NewError(NewLoad(tg101, pred, nil).WithReference(4), ErrCampaignAlreadyLoaded, "")
	got := m.Encode().String()
	want := `'GSW_CM_MessageType' 27 [CM_EvError]
'GSW_CM_AttrReferenceID' 4
'GSW_CM_AttrOriginAppID' 120
'GSW_CM_AttrTargetAppID' 310
'GSW_CM_AttrCampaignID' 101
'GSW_CM_AttrGroupID' 732
'GSW_CM_AttrError' 5 [CM_ERROR_CAMPAIGN_ALREADY_LOADED]
'GSW_CM_AttrErrorMessage' ''
`
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	st := NewStatus(Target{OriginAppDBID: 120, CampaignDBID: 104, GroupDBID: 733}, StatusActive).
		WithPacing(Pacing{DialModeProgressAndSeize, OptimizeBusyFactor, 80}).WithStats(Stats{100, 30, 200})
	want = `'GSW_CM_MessageType' 24 [CM_EvCampaignStatus]
'GSW_CM_AttrOriginAppID' 120
'GSW_CM_AttrTargetAppID' 0
'GSW_CM_AttrCampaignID' 104
'GSW_CM_AttrGroupID' 733
'GSW_CM_AttrDialMode' 4 [CFGDMProgressAndSeize]
'GSW_CM_AttrOptimizeBy' 1 [CFGOMBusyFactor]
'GSW_CM_AttrOptimizeGoal' 80
'GSW_CM_AttrGroupCampStatus' 4 [CM_GCS_Active]
'GSW_CM_AttrProperties' (list)
	'statistics' (list)
		'GSW_STAT_DIALS' 100
		'GSW_STAT_CONTACTS' 30
		'GSW_STAT_RECORDS_LEFT' 200
`
	if got := st.Encode().String(); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestStringKeepsOnePairPerLineWhateverTheUserData(t *testing.T) {
	l := append(TKVList{}.AddString("it's", "a\nb\r\tc\\d'e\x00\x7f\xff é☎\u2028").AddInt("GSW_CM_MessageType", 99).
		AddInt(KeyError, 300).AddInt(KeyDialMode, 6).AddList("x", nil), Pair{Key: "zero"})
	got := l.String()
	want := `'it\'s' 'a\nb\r\tc\\d\'e\x00\x7f\xff é☎\u2028'
'GSW_CM_MessageType' 99 [MessageType(99)]
'GSW_CM_AttrError' 300 [ErrorCode(300)]
'GSW_CM_AttrDialMode' 6 [DialMode(6)]
'x' (list)
'zero' <invalid>
`
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if n := strings.Count(got, "\n"); n != len(l) {
		t.Errorf("%d lines for %d pairs", n, len(l))
	}
}
