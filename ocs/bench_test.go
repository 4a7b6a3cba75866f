package ocs

import (
	"encoding/json"
	"strings"
	"testing"
)

// benchLoad is a Load of a 20-item campaign_schedule: the largest frame the
// daemon sends in practice.
func benchLoad() TKVList {
	return NewLoad(tgSeq, pred, &yes).WithSchedule(nItems(20)).WithReference(12345).Encode()
}

// asMap is the same user data as nested map[string]any: what a program
// using encoding/json for the bridge would most likely build.
func asMap(l TKVList) map[string]any {
	m := make(map[string]any, len(l))
	for _, p := range l {
		switch p.Value.Kind() {
		case KindInt:
			m[p.Key] = int(p.Value.AsInt())
		case KindString:
			m[p.Key] = p.Value.AsString()
		case KindList:
			m[p.Key] = asMap(p.Value.AsList())
		}
	}
	return m
}

func BenchmarkEncodeJSON(b *testing.B) {
	l := benchLoad()
	b.Run("tkvlist", func(b *testing.B) {
		out, _ := EncodeJSON(l)
		b.SetBytes(int64(len(out)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := EncodeJSON(l); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("baseline=encoding-json-map", func(b *testing.B) {
		m := map[string]any{"v": 1, "data": asMap(l)}
		out, _ := json.Marshal(m)
		b.SetBytes(int64(len(out)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := json.Marshal(m); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkDecodeJSON(b *testing.B) {
	l := benchLoad()
	b.Run("tkvlist", func(b *testing.B) {
		in, _ := EncodeJSON(l)
		b.SetBytes(int64(len(in)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := DecodeJSON(in); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("baseline=encoding-json-map", func(b *testing.B) {
		in, _ := json.Marshal(map[string]any{"v": 1, "data": asMap(l)})
		b.SetBytes(int64(len(in)))
		b.ReportAllocs()
		for b.Loop() {
			var m map[string]any
			if err := json.Unmarshal(in, &m); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkDecodeJSONAtThePairLimit measures the worst frame the decoder
// accepts by count: MaxPairs empty pairs (458 KiB). Its B/op is the bound on
// what one hostile frame can make us allocate.
func BenchmarkDecodeJSONAtThePairLimit(b *testing.B) {
	in := []byte(`{"v":1,"data":[` + strings.Repeat(`["",0],`, MaxPairs-1) + `["",0]]}`)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeJSON(in); err != nil {
			b.Fatal(err)
		}
	}
}
