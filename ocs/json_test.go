package ocs

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// fullMessage sets every attribute, so that a round trip that drops or
// mistypes any of them fails.
func fullMessage(t MessageType) Message {
	m := Message{
		Type: t, Has: AttrReferenceID | AttrOriginApp | AttrTargetApp | AttrCampaign | AttrGroup |
			AttrDialMode | AttrOptimizeBy | AttrOptimizeGoal | AttrGroupCampStatus | AttrError |
			AttrErrorMessage | AttrAutoCompletion,
		ReferenceID: -7, OriginAppDBID: 310, TargetAppDBID: 120, CampaignDBID: 0, GroupDBID: 732,
		DialMode: DialModePushPreview, OptimizeBy: OptimizeWaitTime, OptimizeGoal: 2147483647,
		GroupCampStatus: StatusUnloadInProgress, Error: ErrPartOfSequence,
		ErrorMessage: "quote \" backslash \\ newline \n tab \t é ☎", AutoCompletion: true,
	}
	m = m.WithSchedule(threeItems()).WithStats(Stats{Dials: 1, Contacts: 2, RecordsLeft: -3})
	m.Properties = m.Properties.AddList(PropCancelRecord, Record{Phone: "+14155550101", Chain: ChainRecordOnly}.Encode())
	return m
}

func roundTrip(t *testing.T, m Message) Message {
	t.Helper()
	b, err := EncodeJSON(m.Encode())
	if err != nil {
		t.Fatalf("EncodeJSON: %v", err)
	}
	l, err := DecodeJSON(b)
	if err != nil {
		t.Fatalf("DecodeJSON(%s): %v", b, err)
	}
	if !l.Equal(m.Encode()) {
		t.Fatalf("TKVList changed on the way through JSON:\n%s\nbecame\n%s", m.Encode(), l)
	}
	got, err := DecodeMessage(l)
	if err != nil {
		t.Fatalf("DecodeMessage: %v", err)
	}
	return got
}

func TestEveryMessageTypeSurvivesMessageToTKVListToJSONAndBack(t *testing.T) {
	for mt := MsgCfgNone; mt <= maxMessageType+1; mt++ {
		t.Run(mt.String(), func(t *testing.T) {
			for _, m := range []Message{fullMessage(mt), {Type: mt}} {
				if got := roundTrip(t, m); !sameMessage(got, m) {
					t.Errorf("got  %+v\nwant %+v", got, m)
				}
			}
		})
	}
}

func TestEveryConstructedRequestAndEventSurvivesTheRoundTrip(t *testing.T) {
	load := NewLoad(tgSeq, pred, &yes).WithSchedule(threeItems()).WithReference(9)
	msgs := []Message{
		load,
		NewLoad(tg101, pred, nil),
		NewStartDialing(tg101, pred, &yes),
		NewSetDialingMode(tg101, Pacing{DialModeProgress, OptimizeNone, 0}, nil),
		NewStopDialing(tg101),
		NewUnload(tg101),
		NewForceUnload(tg101),
		NewGetCampaignStatus(tgSeq).WithSchedule(threeItems()),
		NewCancelRecord(daemon, 0, Record{Phone: "5551234", CampaignName: "Fresh Leads", Chain: ChainAll}),
		NewDoNotCall(daemon, ocsApp, Record{CustomerID: "C-88812"}),
		NewAnswer(load, EvCampaignLoaded).WithStatus(StatusInActive).WithPacing(pred),
		NewError(load, ErrInvalidCampaignSchedule, "nItems is 3 but 2 entries are present"),
		NewStatus(Target{OriginAppDBID: ocsApp, CampaignDBID: 101, GroupDBID: 732}, StatusRunning).WithStats(Stats{10, 3, 990}),
		NewNotice(EvDialingStopped, Target{OriginAppDBID: ocsApp, CampaignDBID: 105, GroupDBID: 733}, StatusActive),
		NewRecordAnswer(NewDoNotCall(daemon, 0, Record{Phone: "1"}), Record{Phone: "1", Message: "Incomplete processing: record(s) on desktop"}),
	}
	for _, m := range msgs {
		t.Run(m.Type.String(), func(t *testing.T) {
			if got := roundTrip(t, m); !sameMessage(got, m) {
				t.Errorf("got  %+v\nwant %+v", got, m)
			}
		})
	}
}

func TestEncodeJSONWritesTheDocumentedShapeInOrder(t *testing.T) {
	l := TKVList{}.AddInt(KeyMessageType, 7).AddInt(KeyCampaignID, 101).
		AddString("b", "x").AddInt("a", -1).AddString("a", "dup").
		AddList(KeyProperties, TKVList{}.AddList("empty", TKVList{}).AddString("esc", "\"\\\n\x01\xff</>"))
	got, err := EncodeJSON(l)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"v":1,"data":[["GSW_CM_MessageType",7],["GSW_CM_AttrCampaignID",101],["b","x"],["a",-1],["a","dup"],` +
		`["GSW_CM_AttrProperties",[["empty",[]],["esc","\"\\\n\u0001\ufffd</>"]]]]}`
	if string(got) != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if !json.Valid(got) {
		t.Error("not valid JSON")
	}
}

func TestEncodeJSONRejectsAnInvalidValueAndTooDeepANesting(t *testing.T) {
	if _, err := EncodeJSON(TKVList{{Key: "zero"}}); err == nil || !strings.Contains(err.Error(), `"zero"`) {
		t.Errorf("zero Value: err = %v, want one naming the key", err)
	}
	deep := TKVList{}.AddInt("leaf", 1)
	for range MaxDepth {
		deep = TKVList{}.AddList("l", deep)
	}
	if _, err := EncodeJSON(deep); !errors.Is(err, ErrTooDeep) {
		t.Errorf("%d levels: err = %v, want ErrTooDeep", MaxDepth+1, err)
	}
}

func TestDecodeJSONAcceptsWhitespaceEscapesRepeatedKeysAndUnknownEnvelopeMembers(t *testing.T) {
	in := " {\n\t\"trace\": {\"id\": [1, 2.5, true, null, \"x\"]},\r\n \"data\" : [ [ \"k\" , \"\\u00e9\\ud83d\\ude00\\/\\b\\f\\r\\t\" ] , [\"k\", -2147483648], " +
		"[\"lone\", \"\\ud800x\"], [\"n\", [ ]], [\"raw\", \"é☎\"] ] , \"v\" : 1 } \n"
	l, err := DecodeJSON([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	want := TKVList{}.AddString("k", "é😀/\b\f\r\t").AddInt("k", -2147483648).
		AddString("lone", "\ufffdx").AddList("n", TKVList{}).AddString("raw", "é☎")
	if !l.Equal(want) {
		t.Errorf("got\n%s\nwant\n%s", l, want)
	}
	if v, _ := l.GetString("k"); v != "é😀/\b\f\r\t" {
		t.Errorf("Get takes the first of repeated keys: got %q", v)
	}
}

func TestDecodeJSONRejectsWhatIsNotATKVListAndSaysWhere(t *testing.T) {
	deep := `["l",1]`
	for range MaxDepth {
		deep = `["l",[` + deep + `]]`
	}
	manyPairs := `{"v":1,"data":[` + strings.Repeat(`["",0],`, MaxPairs) + `["",0]]}`
	for _, c := range []struct {
		name, in string
		want     string // a substring of the error
		is       error  // also matched with errors.Is, besides ErrBadJSON
	}{
		{"empty input", ``, "unexpected end", nil},
		{"not an object", `[]`, `want '{'`, nil},
		{"empty object", `{}`, `missing "v" and "data"`, nil},
		{"no version", `{"data":[]}`, `missing "v"`, nil},
		{"no data", `{"v":1}`, `missing "data"`, nil},
		{"version 2", `{"v":2,"data":[]}`, "unsupported version 2", nil},
		{"version as string", `{"v":"1","data":[]}`, `"v": at byte 5: want an integer`, nil},
		{"version as float", `{"v":1.0,"data":[]}`, "not an integer", nil},
		{"duplicate version", `{"v":1,"v":1,"data":[]}`, `duplicate "v"`, nil},
		{"duplicate data", `{"v":1,"data":[],"data":[]}`, `duplicate "data"`, nil},
		{"trailing data", `{"v":1,"data":[]} {}`, "at byte 18: trailing data", nil},
		{"trailing comma", `{"v":1,"data":[],}`, "want a string", nil},
		{"data not an array", `{"v":1,"data":{}}`, `"data": at byte 14: want '['`, nil},
		{"pair not an array", `{"v":1,"data":["k",1]}`, `pair 1: at byte 15: want '['`, nil},
		{"key not a string", `{"v":1,"data":[[1,1]]}`, "pair 1 key: at byte 16: want a string", nil},
		{"three elements", `{"v":1,"data":[["k",1,2]]}`, `key "k": at byte 21: want ']'`, nil},
		{"one element", `{"v":1,"data":[["k"]]}`, `key "k": at byte 19: want ','`, nil},
		{"float", `{"v":1,"data":[["k",1.5]]}`, `key "k": at byte 21: not an integer`, nil},
		{"exponent", `{"v":1,"data":[["k",1e3]]}`, "not an integer", nil},
		{"leading zero", `{"v":1,"data":[["k",07]]}`, "leading zero", nil},
		{"minus alone", `{"v":1,"data":[["k",-]]}`, "want an integer", nil},
		{"int32 overflow", `{"v":1,"data":[["k",2147483648]]}`, "integer 2147483648 outside the int32 range", nil},
		{"int32 underflow", `{"v":1,"data":[["k",-2147483649]]}`, "outside the int32 range", nil},
		{"huge integer", `{"v":1,"data":[["k",` + strings.Repeat("9", 5000) + `]]}`, "outside the int32 range", nil},
		{"true", `{"v":1,"data":[["k",true]]}`, `key "k": at byte 20: a value must be an integer, a string or a list`, nil},
		{"null", `{"v":1,"data":[["k",null]]}`, "a value must be", nil},
		{"object", `{"v":1,"data":[["k",{}]]}`, "a value must be", nil},
		{"bad separator", `{"v":1,"data":[["k",1];["j",2]]}`, "want ',' or ']' after pair 1", nil},
		{"unterminated string", `{"v":1,"data":[["k","abc`, "unterminated string", nil},
		{"unterminated escape", `{"v":1,"data":[["k","a\`, "unterminated string", nil},
		{"control character", "{\"v\":1,\"data\":[[\"k\",\"a\nb\"]]}", "control character in string", nil},
		{"bad escape", `{"v":1,"data":[["k","\x41"]]}`, `bad escape \x`, nil},
		{"bad unicode escape", `{"v":1,"data":[["k","\u12G4"]]}`, `bad \u escape`, nil},
		{"short unicode escape", `{"v":1,"data":[["k","\u12"]]}`, `bad \u escape`, nil},
		{"invalid UTF-8", "{\"v\":1,\"data\":[[\"k\",\"\xff\"]]}", "not valid UTF-8", nil},
		{"invalid UTF-8 after an escape", "{\"v\":1,\"data\":[[\"k\",\"\\n\xc3\"]]}", "not valid UTF-8", nil},
		{"bad unknown member", `{"trace":tru,"v":1,"data":[]}`, `"trace": at byte 9: bad value "tru"`, nil},
		{"nested error names the key path",
			`{"v":1,"data":[["GSW_CM_AttrProperties",[["campaign_schedule",[["nItems",true]]]]]]}`,
			`key "GSW_CM_AttrProperties": key "campaign_schedule": key "nItems": at byte 73`, nil},
		{"too deep", `{"v":1,"data":[` + deep + `]}`, "more than 8 levels", ErrTooDeep},
		{"too deep unknown member", `{"x":` + strings.Repeat("[", 20) + strings.Repeat("]", 20) + `,"v":1,"data":[]}`, "levels", ErrTooDeep},
		{"too many pairs", manyPairs, "more than 65536 pairs", ErrTooLarge},
		{"too many bytes", `{"v":1,"data":[["k","` + strings.Repeat("a", MaxFrameSize) + `"]]}`, "max 1048576", ErrTooLarge},
	} {
		t.Run(c.name, func(t *testing.T) {
			l, err := DecodeJSON([]byte(c.in))
			if err == nil {
				t.Fatalf("accepted %.80q as %v", c.in, l)
			}
			if !errors.Is(err, ErrBadJSON) {
				t.Errorf("%v does not wrap ErrBadJSON", err)
			}
			if c.is != nil && !errors.Is(err, c.is) {
				t.Errorf("%v does not wrap %v", err, c.is)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not contain %q", err, c.want)
			}
		})
	}
}

func TestTKVListMarshalsAsTheBareDataArrayInsideOtherJSON(t *testing.T) {
	type doc struct {
		Name string  `json:"name"`
		L    TKVList `json:"l"`
		Nil  TKVList `json:"nil"`
	}
	in := doc{Name: "x", L: TKVList{}.AddInt("a", 1).AddList("b", TKVList{}.AddString("c", "d"))}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"name":"x","l":[["a",1],["b",[["c","d"]]]],"nil":[]}`; string(b) != want {
		t.Errorf("got  %s\nwant %s", b, want)
	}
	var out doc
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if !out.L.Equal(in.L) {
		t.Errorf("got %v", out.L)
	}
	if err := json.Unmarshal([]byte(`{"l":[["a",true]]}`), &out); !errors.Is(err, ErrBadJSON) {
		t.Errorf("bool value: err = %v, want ErrBadJSON", err)
	}
	if _, err := DecodeJSONData([]byte(`[] x`)); err == nil || !strings.Contains(err.Error(), "trailing data") {
		t.Errorf("trailing data: err = %v", err)
	}
}

func TestLoadOfAThreeItemScheduleMatchesTheGoldenFiles(t *testing.T) {
	m := NewLoad(tgSeq, pred, &yes).WithSchedule(threeItems())
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	golden(t, "load-three-item-schedule.txt.golden", []byte(m.Encode().String()))
	b, err := EncodeJSON(m.Encode())
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "load-three-item-schedule.json.golden", append(b, '\n'))
}

func FuzzDecodeJSON(f *testing.F) {
	load, _ := EncodeJSON(NewLoad(tgSeq, pred, &yes).WithSchedule(threeItems()).Encode())
	full, _ := EncodeJSON(fullMessage(ReqCancelRecord).Encode())
	for _, s := range []string{
		string(load), string(full),
		`{"v":1,"data":[]}`, `{"data":[["k","\ud83d\ude00"]],"v":1}`, `{"x":{"y":[1,{"z":null}]},"v":1,"data":[["a",[]]]}`,
		`{"v":1,"data":[["k",-0]]}`, `{"v":1,"data":[["k","\u`, `{"v":1,"data":[[`, "{\"v\":1,\"data\":[[\"\xff\",1]]}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		l, err := DecodeJSON(data)
		if err != nil {
			if !errors.Is(err, ErrBadJSON) {
				t.Fatalf("error %v does not wrap ErrBadJSON", err)
			}
			return
		}
		// Whatever we accept is JSON, and encodes back to something we
		// read as the same list.
		if !json.Valid(data) {
			t.Fatalf("accepted invalid JSON %q", data)
		}
		b, err := EncodeJSON(l)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		l2, err := DecodeJSON(b)
		if err != nil {
			t.Fatalf("decode of our own encoding %s: %v", b, err)
		}
		if !l2.Equal(l) {
			t.Fatalf("round trip changed\n%s\nto\n%s", l, l2)
		}
		if b2, _ := EncodeJSON(l2); !bytes.Equal(b, b2) {
			t.Fatalf("encoding not stable: %s vs %s", b, b2)
		}
		// Messages and schedules read from it never panic either.
		if m, err := DecodeMessage(l); err == nil {
			_ = m.Validate()
			_, _, _ = m.Schedule()
			_, _, _ = m.Record()
			_ = m.Encode().String()
		}
	})
}
