package schedule

import (
	"testing"
	"time"

	"github.com/sequencer-dev/sequencer/specs"
)

func TestStartsFollowTheRulesOfLocalWallClockSlots(t *testing.T) {
	cases := []struct {
		name        string
		tz, sched   string
		after, till string
		want        []string // RFC 3339 in the zone
	}{
		{"a US spring-forward slot in the gap runs at 03:00 EDT", "America/New_York", "30 2 * * *",
			"2026-03-07T00:00:00-05:00", "2026-03-09T23:59:00-04:00",
			[]string{"2026-03-07T02:30:00-05:00", "2026-03-08T03:00:00-04:00", "2026-03-09T02:30:00-04:00"}},
		{"a US fall-back slot in the repeated hour runs once, at its first occurrence", "America/New_York", "30 1 * * *",
			"2026-10-31T00:00:00-04:00", "2026-11-02T23:00:00-05:00",
			[]string{"2026-10-31T01:30:00-04:00", "2026-11-01T01:30:00-04:00", "2026-11-02T01:30:00-05:00"}},
		{"every quarter hour of the US repeated hour runs four times, not eight", "America/New_York", "*/15 1 1 11 *",
			"2026-11-01T00:00:00-04:00", "2026-11-01T03:00:00-05:00",
			[]string{"2026-11-01T01:00:00-04:00", "2026-11-01T01:15:00-04:00", "2026-11-01T01:30:00-04:00", "2026-11-01T01:45:00-04:00"}},
		{"two slots in one gap and the slot after it collapse into one start", "America/New_York", "0,30 2,3 8 3 *",
			"2026-03-08T00:00:00-05:00", "2026-03-08T12:00:00-04:00",
			[]string{"2026-03-08T03:00:00-04:00", "2026-03-08T03:30:00-04:00"}},
		{"an EU spring-forward slot in Berlin's gap runs at 03:00 CEST", "Europe/Berlin", "30 2 * * *",
			"2026-03-28T12:00:00+01:00", "2026-03-30T12:00:00+02:00",
			[]string{"2026-03-29T03:00:00+02:00", "2026-03-30T02:30:00+02:00"}},
		{"an EU fall-back slot in Berlin's repeated hour runs once in CEST", "Europe/Berlin", "30 2 * * *",
			"2026-10-24T12:00:00+02:00", "2026-10-26T12:00:00+01:00",
			[]string{"2026-10-25T02:30:00+02:00", "2026-10-26T02:30:00+01:00"}},
		{"a London slot in the 01:00 gap runs at 02:00 BST", "Europe/London", "30 1 29 3 *",
			"2026-03-28T00:00:00Z", "2026-03-30T00:00:00Z",
			[]string{"2026-03-29T02:00:00+01:00"}},
		{"a London slot in the repeated hour runs once in BST", "Europe/London", "30 1 25 10 *",
			"2026-10-24T00:00:00Z", "2026-10-26T00:00:00Z",
			[]string{"2026-10-25T01:30:00+01:00"}},
		{"a Sydney slot in the October gap runs at 03:00 AEDT", "Australia/Sydney", "30 2 * * *",
			"2026-10-03T12:00:00+10:00", "2026-10-05T00:00:00+11:00",
			[]string{"2026-10-04T03:00:00+11:00"}},
		{"a Sydney slot in the April repeated hour runs once in AEDT", "Australia/Sydney", "30 2 * * *",
			"2026-04-04T12:00:00+11:00", "2026-04-06T00:00:00+10:00",
			[]string{"2026-04-05T02:30:00+11:00"}},
		{"Asia/Kolkata weekday starts land at the half-hour offset", "Asia/Kolkata", "0 9 * * 1-5",
			"2026-03-06T00:00:00Z", "2026-03-10T00:00:00Z",
			[]string{"2026-03-06T09:00:00+05:30", "2026-03-09T09:00:00+05:30"}},
		{"UTC starts are the slots themselves", "UTC", "0 0,12 * * *",
			"2026-03-08T00:00:00Z", "2026-03-09T00:00:00Z",
			[]string{"2026-03-08T12:00:00Z", "2026-03-09T00:00:00Z"}},
		{"Chatham 03:45 on its fall-back day exists once, after the transition", "Pacific/Chatham", "45 3 * * 0,6",
			"2026-04-03T00:00:00Z", "2026-04-06T00:00:00Z",
			[]string{"2026-04-04T03:45:00+13:45", "2026-04-05T03:45:00+12:45"}},
		{"a Chatham slot in the September gap runs at 03:45", "Pacific/Chatham", "0 3 27 9 *",
			"2026-09-26T00:00:00Z", "2026-09-28T00:00:00Z",
			[]string{"2026-09-27T03:45:00+13:45"}},
		{"a Santiago slot in the midnight gap runs at 01:00", "America/Santiago", "30 0 * * 0",
			"2026-09-05T00:00:00Z", "2026-09-14T00:00:00Z",
			[]string{"2026-09-06T01:00:00-03:00", "2026-09-13T00:30:00-03:00"}},
		{"a Santiago slot in the repeated 23:00 hour runs once", "America/Santiago", "30 23 4 4 *",
			"2026-04-04T00:00:00Z", "2026-04-06T00:00:00Z",
			[]string{"2026-04-04T23:30:00-03:00"}},
		{"a Lord Howe slot in the half-hour gap runs at 02:30", "Australia/Lord_Howe", "15 2 4 10 *",
			"2026-10-03T00:00:00Z", "2026-10-05T00:00:00Z",
			[]string{"2026-10-04T02:30:00+11:00"}},
		{"a Lord Howe slot in the repeated half hour runs once", "Australia/Lord_Howe", "45 1 5 4 *",
			"2026-04-04T00:00:00Z", "2026-04-06T00:00:00Z",
			[]string{"2026-04-05T01:45:00+11:00"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			seq := cronSeq(t, c.tz, c.sched)
			got := fmtTimes(Starts(seq, ts(t, c.after), ts(t, c.till), 0), seq.Location)
			if !equalStrings(got, c.want) {
				t.Fatalf("Starts = %v\nwant     %v", got, c.want)
			}
		})
	}
}

func TestStartsRangeIsExclusiveOfAfterAndInclusiveOfUntil(t *testing.T) {
	seq := cronSeq(t, "UTC", "0 * * * *")
	got := Starts(seq, ts(t, "2026-01-01T10:00:00Z"), ts(t, "2026-01-01T12:00:00Z"), 0)
	want := []string{"2026-01-01T11:00:00Z", "2026-01-01T12:00:00Z"}
	if s := fmtTimes(got, time.UTC); !equalStrings(s, want) {
		t.Fatalf("got %v, want %v", s, want)
	}
}

func TestStartsStopsAtMax(t *testing.T) {
	seq := cronSeq(t, "UTC", "* * * * *")
	if n := len(Starts(seq, ts(t, "2026-01-01T00:00:00Z"), ts(t, "2026-02-01T00:00:00Z"), 7)); n != 7 {
		t.Fatalf("got %d starts, want 7", n)
	}
	if n := len(Starts(seq, ts(t, "2026-01-01T00:00:00Z"), ts(t, "2026-02-01T00:00:00Z"), 0)); n != DefaultMaxStarts {
		t.Fatalf("got %d starts, want the default cap %d", n, DefaultMaxStarts)
	}
}

func TestAStartAtIsOneInstantAndAnImmediateSequenceHasNoScheduledStarts(t *testing.T) {
	seq := cronSeq(t, "UTC", "")
	seq.Start = specs.Start{At: ts(t, "2026-05-01T10:00:00+02:00")}
	got := Starts(seq, ts(t, "2026-05-01T00:00:00Z"), ts(t, "2026-05-02T00:00:00Z"), 0)
	if len(got) != 1 || !got[0].Equal(ts(t, "2026-05-01T08:00:00Z")) || got[0].Location() != time.UTC {
		t.Fatalf("got %v, want the one instant in UTC", got)
	}
	if n, ok := NextStart(seq, ts(t, "2026-05-01T08:00:00Z")); ok {
		t.Fatalf("NextStart after the at = %v, want none", n)
	}
	seq.Start = specs.Start{}
	if got := Starts(seq, time.Time{}, ts(t, "2030-01-01T00:00:00Z"), 0); len(got) != 0 {
		t.Fatalf("immediate: got %v", got)
	}
	if _, ok := NextStart(seq, time.Time{}); ok {
		t.Fatal("immediate: NextStart found a start")
	}
}

func TestNextStartIsStrictlyAfterItsArgumentEvenOnTheChathamTransitionThatTrapsRobfig(t *testing.T) {
	// robfig's Next answers its own argument forever here (docs/architecture.md, "Time").
	seq := cronSeq(t, "Pacific/Chatham", "45 3 * * 0,6")
	at := ts(t, "2026-04-05T14:00:00Z")
	for i := 0; i < 20; i++ {
		n, ok := NextStart(seq, at)
		if !ok || !n.After(at) {
			t.Fatalf("NextStart(%v) = %v, %v", at, n, ok)
		}
		at = n
	}
}

func TestNextStartFindsARareLeapDayStart(t *testing.T) {
	seq := cronSeq(t, "America/New_York", "0 9 29 2 *")
	n, ok := NextStart(seq, ts(t, "2026-03-01T00:00:00Z"))
	if !ok || !n.Equal(ts(t, "2028-02-29T09:00:00-05:00")) {
		t.Fatalf("got %v %v", n, ok)
	}
}

func TestAnUnparsableScheduleHasNoStartsAndDoesNotPanic(t *testing.T) {
	for _, s := range []string{"nonsense", "0 0 31 2 *", "TZ=UTC 0 0 * * *", "@every 1h"} {
		seq := cronSeq(t, "UTC", s)
		if got := Starts(seq, ts(t, "2026-01-01T00:00:00Z"), ts(t, "2027-01-01T00:00:00Z"), 0); len(got) != 0 {
			t.Errorf("%q: got %v", s, got)
		}
		if _, ok := NextStart(seq, ts(t, "2026-01-01T00:00:00Z")); ok {
			t.Errorf("%q: NextStart found one", s)
		}
		if r := Due(seq, time.Time{}, ts(t, "2026-01-01T00:00:00Z"), ts(t, "2026-06-01T00:00:00Z")); r.OK || r.SkippedCount != 0 {
			t.Errorf("%q: Due = %+v", s, r)
		}
	}
	var nilSeq *specs.Sequence
	if Starts(nilSeq, time.Time{}, ts(t, "2030-01-01T00:00:00Z"), 0) != nil {
		t.Error("nil sequence has starts")
	}
}
