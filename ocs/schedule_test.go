package ocs

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestAScheduleSurvivesEncodeAndDecode(t *testing.T) {
	for _, s := range []Schedule{threeItems(), nItems(20), {Description: "empty"}} {
		got, err := DecodeSchedule(s.Encode())
		if err != nil {
			t.Fatal(err)
		}
		if s.Items == nil {
			s.Items = []ScheduleItem{}
		}
		if !reflect.DeepEqual(got, s) {
			t.Errorf("got  %+v\nwant %+v", got, s)
		}
	}
}

func TestEncodeTimeIsUnixSecondsUTCAndZeroMeansUnset(t *testing.T) {
	at := time.Date(2026, 11, 1, 1, 30, 0, 0, time.FixedZone("PDT", -7*3600))
	if got := EncodeTime(at); got != 1793521800 {
		t.Errorf("EncodeTime = %d", got)
	}
	if got := DecodeTime(1793521800); !got.Equal(at) || got.Location() != time.UTC {
		t.Errorf("DecodeTime = %v", got)
	}
	if EncodeTime(time.Time{}) != 0 || !DecodeTime(0).IsZero() {
		t.Error("zero time does not map to 0 and back")
	}
}

func TestMessageScheduleReadsOnlyPropertiesThatTravel(t *testing.T) {
	m := NewLoad(tgSeq, pred, nil).WithSchedule(threeItems())
	s, ok, err := m.Schedule()
	if err != nil || !ok || len(s.Items) != 3 {
		t.Fatalf("Schedule = %v, %v, %v", s, ok, err)
	}
	if _, ok, _ := drop(m, AttrProperties).Schedule(); ok {
		t.Error("a schedule in Properties not marked present is not sent, so it must not be read")
	}
	if _, ok, err := NewLoad(tg101, pred, nil).Schedule(); ok || err != nil {
		t.Errorf("no schedule: ok %v err %v", ok, err)
	}
}

func TestDecodeScheduleNamesTheItemAndKeyThatAreWrong(t *testing.T) {
	good := threeItems().Encode()
	item := func(n string) TKVList { l, _ := good.GetList(n); return l.Clone() }
	with := func(k string, v Value) TKVList { return good.Clone().Set(k, v) }
	for _, c := range []struct {
		name string
		l    TKVList
		want string
	}{
		{"nItems larger than the items", with(SchedNItems, Int(4)), "campaign_schedule: nItems is 4 but 3 scheduleItem-<n> entries are present"},
		{"nItems smaller than the items", with(SchedNItems, Int(2)), "nItems is 2 but 3"},
		{"no nItems", good.Clone().Delete(SchedNItems), `campaign_schedule: key "nItems": missing`},
		{"nItems a string", with(SchedNItems, Str("3")), `campaign_schedule: key "nItems": want int, got string`},
		{"nItems negative", with(SchedNItems, Int(-1)), "nItems -1 out of range 0-1000"},
		{"nItems huge", with(SchedNItems, Int(1<<30)), "nItems 1073741824 out of range 0-1000"},
		{"an item missing", good.Clone().Delete("scheduleItem-2").AddList("scheduleItem-4", item("scheduleItem-2")),
			`campaign_schedule: key "scheduleItem-2": missing`},
		{"an item not a list", with("scheduleItem-3", Int(1)), `campaign_schedule: key "scheduleItem-3": want list, got int`},
		{"a stray scheduleItem key", good.Clone().AddInt("scheduleItem-x", 1), "nItems is 3 but 4"},
		{"Description an int", with(SchedDescription, Int(1)), `campaign_schedule: key "Description": want string, got int`},
		{"startTime a string", with(SchedStartTime, Str("2026-11-25")), `campaign_schedule: key "startTime": want int, got string`},
		{"campaignDBID missing", with("scheduleItem-2", List(item("scheduleItem-2").Delete(ItemCampaignDBID))),
			`campaign_schedule: scheduleItem-2: key "campaignDBID": missing`},
		{"dialMode missing", with("scheduleItem-1", List(item("scheduleItem-1").Delete(ItemDialMode))),
			`campaign_schedule: scheduleItem-1: key "dialMode": missing`},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := DecodeSchedule(c.l)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err = %v\nwant it to contain %s", err, c.want)
			}
		})
	}
	// Every int key of an item, given as a string, is named.
	for _, k := range []string{ItemStopAtTime, ItemStopAtContacts, ItemStopAtDials, ItemSleepBeforeNextStart,
		ItemCampaignDBID, ItemDialMode, ItemOptMethod, ItemOptMethodValue, ItemStatus} {
		l := with("scheduleItem-3", List(item("scheduleItem-3").Set(k, Str("1"))))
		_, err := DecodeSchedule(l)
		want := `campaign_schedule: scheduleItem-3: key "` + k + `": want int, got string`
		if err == nil || err.Error() != want {
			t.Errorf("%s: err = %v, want %s", k, err, want)
		}
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Key != k || !errors.Is(err, ErrWrongType) {
			t.Errorf("%s: %v is not a *FieldError for the key wrapping ErrWrongType", k, err)
		}
	}
}

func TestDecodeScheduleTakesOptionalKeysAsUnset(t *testing.T) {
	l := TKVList{}.AddInt(SchedNItems, 1).
		AddList("scheduleItem-1", TKVList{}.AddInt(ItemCampaignDBID, 101).AddInt(ItemDialMode, 2))
	s, err := DecodeSchedule(l)
	if err != nil {
		t.Fatal(err)
	}
	want := Schedule{Items: []ScheduleItem{{CampaignDBID: 101, DialMode: DialModeProgress}}}
	if !reflect.DeepEqual(s, want) {
		t.Errorf("got %+v", s)
	}
}

func FuzzDecodeSchedule(f *testing.F) {
	for _, s := range []Schedule{threeItems(), nItems(2), {}} {
		b, _ := EncodeJSON(s.Encode())
		f.Add(b)
	}
	f.Add([]byte(`{"v":1,"data":[["nItems",1],["scheduleItem-1",[["campaignDBID","101"]]]]}`))
	f.Add([]byte(`{"v":1,"data":[["nItems",1000],["scheduleItem-1",[]]]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		l, err := DecodeJSON(data)
		if err != nil {
			return
		}
		s, err := DecodeSchedule(l)
		if err != nil {
			return
		}
		if len(s.Items) > MaxScheduleItems {
			t.Fatalf("%d items", len(s.Items))
		}
		// A schedule we accept encodes to one we read back the same.
		s2, err := DecodeSchedule(s.Encode())
		if err != nil {
			t.Fatalf("decode of our own encoding: %v", err)
		}
		if !reflect.DeepEqual(s, s2) {
			t.Fatalf("round trip changed\n%+v\nto\n%+v", s, s2)
		}
	})
}
