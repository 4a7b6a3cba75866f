package cron

import (
	"testing"
	"time"

	rcron "github.com/robfig/cron/v3"
)

// The same zones and expressions as schedule/bench_test.go.
var (
	benchZones = []string{"UTC", "America/New_York", "Europe/London", "Europe/Berlin", "Australia/Sydney",
		"Pacific/Chatham", "America/Santiago", "Australia/Lord_Howe", "Asia/Kolkata"}
	benchExprs = []string{"0 18 * * 1-5", "30 2 * * *", "*/15 8-20 * * *", "0 9 * * 1", "45 3 * * 0,6", "0 0 1 * *", "5 7,12,17 * * *"}
)

// BenchmarkRobfigNext10000Sequences is the baseline for schedule's
// BenchmarkNextStartAndWindowChange10000Sequences: the library's own Next
// (which the project does not use: it is wrong around DST changes) for the
// same 10,000 zone/expression pairs, each parsed once beforehand.
func BenchmarkRobfigNext10000Sequences(b *testing.B) {
	now := time.Date(2026, 10, 25, 12, 0, 0, 0, time.UTC)
	type entry struct {
		s   rcron.Schedule
		loc *time.Location
	}
	es := make([]entry, 10000)
	for i := range es {
		loc, err := time.LoadLocation(benchZones[i%len(benchZones)])
		if err != nil {
			b.Fatal(err)
		}
		s, err := parser.Parse(benchExprs[i%len(benchExprs)])
		if err != nil {
			b.Fatal(err)
		}
		es[i] = entry{s, loc}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, e := range es {
			if e.s.Next(now.In(e.loc)).IsZero() {
				b.Fatal("no next")
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/10000, "ns/sequence")
}
