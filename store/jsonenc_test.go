package store

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"
)

// randFill sets every field reachable from v at random: each value zero
// or not, strings and times from pools that hold what json escapes,
// rewrites or refuses, slices and maps nil, empty or full. Every field a
// type gains is filled too, so the hand-written encoders must learn it.
func randFill(v reflect.Value, r *rand.Rand) {
	if r.IntN(5) == 0 {
		v.SetZero()
		if v.Kind() == reflect.Slice && r.IntN(2) == 0 {
			v.Set(reflect.MakeSlice(v.Type(), 0, 0)) // empty, not nil
		}
		if v.Kind() == reflect.Map && r.IntN(2) == 0 {
			v.Set(reflect.MakeMap(v.Type()))
		}
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		randFill(v.Elem(), r)
	case reflect.Struct:
		if v.Type() == reflect.TypeOf(time.Time{}) {
			v.Set(reflect.ValueOf(oddTimes[r.IntN(len(oddTimes))]))
			return
		}
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				randFill(v.Field(i), r)
			}
		}
	case reflect.Slice:
		n := 1 + r.IntN(3)
		v.Set(reflect.MakeSlice(v.Type(), n, n))
		for i := range n {
			randFill(v.Index(i), r)
		}
	case reflect.Map:
		v.Set(reflect.MakeMap(v.Type()))
		for range 1 + r.IntN(3) {
			k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
			randFill(k, r)
			randFill(e, r)
			v.SetMapIndex(k, e)
		}
	case reflect.String:
		v.SetString(oddStrings[r.IntN(len(oddStrings))])
	case reflect.Bool:
		v.SetBool(r.IntN(2) == 0)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt([]int64{1, -1, 42, 1 << 30, -(1 << 31)}[r.IntN(5)] % (1 << (v.Type().Bits() - 1)))
	default:
		panic("randFill: add kind " + v.Kind().String())
	}
}

var oddStrings = []string{
	"", "s000042", "s000042@2026-12-02T18:00:00Z/0/load#3", "quote\"back\\slash", "<tag>&amp;",
	"tab\tnew\nline\x00\x1f", "\b\f\r\x7f\x01", "CM_ReqLoadCampaign\n  GSW_APP_REF_ID\t42\n  <x>&\"y\"\\", "héllo wörld", "\xff\xfe broken utf-8", "line\u2028sep\u2029", "emoji 📞",
	"CM_ReqLoadCampaign CampaignDBID=101",
}

var oddTimes = func() []time.Time {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		paris = time.FixedZone("CET", 3600)
	}
	return []time.Time{
		{},
		time.Date(2026, 12, 2, 18, 0, 0, 0, time.UTC),
		time.Date(2026, 12, 2, 18, 0, 0, 123456789, time.UTC),
		time.Date(2026, 3, 29, 2, 30, 0, 1000, paris),
		time.Date(2026, 12, 2, 18, 0, 0, 0, time.FixedZone("", -(9*3600+30*60))),
		time.Now(), // a monotonic reading, which json drops
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),                   // json refuses it
		time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC),                      // and this
		time.Date(2026, 1, 1, 0, 0, 0, 0, time.FixedZone("", 25*3600)), // and a zone beyond a day
	}
}()

// sameAsJSON checks that encode writes for v exactly what json.Marshal
// writes for its envelope, or fails where json fails.
func sameAsJSON[T any](t *testing.T, v T) {
	t.Helper()
	got, gerr := encode(v)
	want, werr := json.Marshal(envelope[T]{V: 1, Data: v})
	if (gerr != nil) != (werr != nil) {
		t.Fatalf("error %v, encoding/json %v, for %+v", gerr, werr, v)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("bytes differ for %+v\n got %s\nwant %s", v, got, want)
	}
}

func TestTheHandWrittenEncodersWriteWhatEncodingJSONWrites(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 5000 {
		var p Progress
		randFill(reflect.ValueOf(&p).Elem(), r)
		sameAsJSON(t, p)
		var in Intent
		randFill(reflect.ValueOf(&in).Elem(), r)
		sameAsJSON(t, in)
	}
	// Every field set at once, as the clone test fills it.
	var p Progress
	fill(reflect.ValueOf(&p).Elem(), 3)
	sameAsJSON(t, p)
	var in Intent
	fill(reflect.ValueOf(&in).Elem(), 3)
	sameAsJSON(t, in)
}

func BenchmarkEncodeProgress(b *testing.B) {
	// A sequence whose item is dialing, as the progress written for a
	// Start is.
	at := time.Date(2026, 12, 2, 18, 0, 0, 0, time.UTC)
	p := Progress{Sequence: "s000042", SpecHash: "9f2c4e1a7b3d5e60", Generation: 3, LastScheduled: at, FiredStarts: []time.Time{at},
		Run: &Run{ID: "s000042@2026-12-02T18:00:00Z", Scheduled: at, Started: at.Add(3 * time.Millisecond), ItemName: "fresh leads",
			ItemState: "dialing", ItemStarted: at.Add(900 * time.Millisecond), CountersAtStart: Counters{Dials: 120, Contacts: 31},
			CampaignDBID: 100042, GroupDBID: 732, DialMode: 2},
		UpdatedAt: at.Add(901 * time.Millisecond)}
	compareEncoders(b, p)
}

func BenchmarkEncodeIntent(b *testing.B) {
	// The request text is the TKVList as OCS logs it: several lines.
	in := Intent{ID: "s000042@2026-12-02T18:00:00Z/0/load#0", Sequence: "s000042", Run: "s000042@2026-12-02T18:00:00Z", Action: "load",
		Request: "'GSW_CM_MessageType' 7 [CM_ReqLoadCampaign]\n'GSW_CM_AttrReferenceID' 1042\n'GSW_CM_AttrOriginAppID' 310\n" +
			"'GSW_CM_AttrTargetAppID' 120\n'GSW_CM_AttrCampaignID' 100042\n'GSW_CM_AttrGroupID' 732\n'GSW_CM_AttrDialMode' 2 [CFGDMProgress]\n" +
			"'GSW_CM_AttrOptimizeBy' 0 [CFGOMNoOptimizationMethod]\n'GSW_CM_AttrOptimizeGoal' 0\n",
		Created: time.Date(2026, 12, 2, 18, 0, 0, 3000, time.UTC), State: IntentOpen}
	compareEncoders(b, in)
}

// compareEncoders runs encode on v next to json.Marshal of its envelope.
func compareEncoders[T any](b *testing.B, v T) {
	b.Run("hand-written", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := encode(v); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := json.Marshal(envelope[T]{V: 1, Data: v}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
