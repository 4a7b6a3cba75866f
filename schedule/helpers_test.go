package schedule

import (
	"testing"
	"time"

	"github.com/sequencer-dev/sequencer/specs"
)

func mustLoc(t testing.TB, name string) *time.Location {
	t.Helper()
	l, err := time.LoadLocation(name)
	if err != nil {
		t.Fatalf("load %s: %v", name, err)
	}
	return l
}

// ts parses an RFC 3339 instant written with its offset.
func ts(t testing.TB, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatalf("parse %q: %v", s, err)
	}
	return v
}

// cronSeq is a one-item sequence started by a cron schedule in zone tz.
func cronSeq(t testing.TB, tz, sched string) *specs.Sequence {
	return &specs.Sequence{
		Name: "s", TimeZone: tz, Location: mustLoc(t, tz),
		Start: specs.Start{Schedule: sched},
		Items: []specs.Item{{Name: "a", CampaignDBID: 101, GroupDBID: 732, StopAt: specs.StopAt{Time: specs.StopTime{Kind: specs.StopAfter, After: time.Hour}}}},
	}
}

func win(from, to string, days ...time.Weekday) *specs.Window {
	return &specs.Window{Days: days, From: tod(from), To: tod(to)}
}

func tod(s string) specs.TimeOfDay {
	v, err := time.Parse("15:04", s)
	if err != nil {
		if s == "24:00" {
			return specs.TimeOfDay{Hour: 24}
		}
		panic(err)
	}
	return specs.TimeOfDay{Hour: v.Hour(), Minute: v.Minute()}
}

var weekdays = []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday}

func fmtTimes(ts []time.Time, loc *time.Location) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.In(loc).Format(time.RFC3339)
	}
	return out
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
