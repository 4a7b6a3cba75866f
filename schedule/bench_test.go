package schedule

import (
	"fmt"
	"testing"
	"time"

	"github.com/sequencer-dev/sequencer/specs"
)

// benchZones and benchExprs make the 10,000 benchmark sequences; the
// baseline in schedule/cron/bench_test.go uses the same lists.
var (
	benchZones = []string{"UTC", "America/New_York", "Europe/London", "Europe/Berlin", "Australia/Sydney",
		"Pacific/Chatham", "America/Santiago", "Australia/Lord_Howe", "Asia/Kolkata"}
	benchExprs = []string{"0 18 * * 1-5", "30 2 * * *", "*/15 8-20 * * *", "0 9 * * 1", "45 3 * * 0,6", "0 0 1 * *", "5 7,12,17 * * *"}
)

func benchSequences(b *testing.B, n int) []*specs.Sequence {
	out := make([]*specs.Sequence, n)
	for i := range out {
		tz := benchZones[i%len(benchZones)]
		s := &specs.Sequence{
			Name: fmt.Sprintf("seq-%05d", i), TimeZone: tz, Location: mustLoc(b, tz),
			Start: specs.Start{Schedule: benchExprs[i%len(benchExprs)], StartingDeadline: 30 * time.Minute},
			Items: []specs.Item{
				{Name: "a", StopAt: specs.StopAt{Contacts: 500, Time: specs.StopTime{Kind: specs.StopTimeOfDay, TimeOfDay: specs.TimeOfDay{Hour: 20, Minute: 30}}}},
				{Name: "b", SleepBeforeNextStart: 10 * time.Minute, StopAt: specs.StopAt{Time: specs.StopTime{Kind: specs.StopAfter, After: 90 * time.Minute}}},
			},
		}
		if i%2 == 0 {
			s.Window = &specs.Window{Days: weekdays, From: specs.TimeOfDay{Hour: 8}, To: specs.TimeOfDay{Hour: 21}}
		}
		out[i] = s
	}
	return out
}

// benchNow is on the EU autumn change, a week before the US one.
var benchNow = time.Date(2026, 10, 25, 12, 0, 0, 0, time.UTC)

// BenchmarkNextStartAndWindowChange10000Sequences is the cheaper question
// "when must I look at this sequence again": NextStart + NextWindowChange.
func BenchmarkNextStartAndWindowChange10000Sequences(b *testing.B) {
	seqs := benchSequences(b, 10000)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, s := range seqs {
			n, ok := NextStart(s, benchNow)
			if !ok {
				b.Fatal("no start")
			}
			if c, ok := NextWindowChange(s, benchNow); ok && c.Before(n) {
				n = c
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/10000, "ns/sequence")
}
