package schedule

import (
	"strings"
	"testing"
	"time"

	"github.com/sequencer-dev/sequencer/specs"
)

// oneShot starts once at at (RFC 3339) in zone tz, with one item per stop
// ("+1h", "20:30", "" for none) each sleeping sleep before it.
func oneShot(t *testing.T, name, tz, at string, sleep time.Duration, stops ...string) *specs.Sequence {
	t.Helper()
	s := &specs.Sequence{Name: name, TimeZone: tz, Location: mustLoc(t, tz), Start: specs.Start{At: ts(t, at)}}
	for _, st := range stops {
		it := specs.Item{Name: "i", CampaignDBID: 101, GroupDBID: 732, SleepBeforeNextStart: sleep}
		switch {
		case strings.HasPrefix(st, "+"):
			d, err := time.ParseDuration(st[1:])
			if err != nil {
				t.Fatal(err)
			}
			it.StopAt.Time = specs.StopTime{Kind: specs.StopAfter, After: d}
		case st != "":
			it.StopAt.Time = specs.StopTime{Kind: specs.StopTimeOfDay, TimeOfDay: tod(st)}
		default:
			it.StopAt.Dials = 100
		}
		s.Items = append(s.Items, it)
	}
	return s
}

func named(s *specs.Sequence, name string, w *specs.Window) *specs.Sequence {
	s.Name, s.Window = name, w
	return s
}

func TestRunsOverlapDecidesFromStartsWindowsAndStopTimes(t *testing.T) {
	const ny = "America/New_York"
	now := ts(t, "2026-11-23T12:00:00-05:00") // a Monday
	nightly := named(cronSeq(t, ny, "0 18 * * 1-5"), "nightly", win("08:00", "21:00", weekdays...))
	for _, tc := range []struct {
		name    string
		a, b    *specs.Sequence
		want    specs.OverlapVerdict
		whyHas  string
		comment string
	}{
		{name: "a one-shot that ran last week and has a deadline never meets anything",
			a: func() *specs.Sequence {
				s := oneShot(t, "launch", ny, "2026-11-16T10:00:00-05:00", 0, "+2h")
				s.Start.StartingDeadline = 30 * time.Minute
				return s
			}(),
			b: named(cronSeq(t, ny, "0 9 * * *"), "daily", nil), want: specs.OverlapNever},
		{name: "a past one-shot without a deadline meets a window-less cron sequence only if it has not run yet",
			a:    oneShot(t, "launch", ny, "2026-11-16T10:00:00-05:00", 0, "+2h"),
			b:    named(cronSeq(t, ny, "0 9 * * *"), "daily", nil),
			want: specs.OverlapIfLate, whyHas: `"launch" (at 2026-11-16T10:00:00-05:00, no startingDeadline) has not run yet: its instant has passed, so it would start as soon as it is loaded (both can dial on Mon 2026-11-23 12:00 EST)`},
		{name: "a past one-shot without a deadline that would run now outside the other's window is no problem",
			a: oneShot(t, "launch", ny, "2026-11-16T10:00:00-05:00", 0, "+2h"),
			b: named(cronSeq(t, ny, "0 17 * * *"), "evening", win("17:00", "21:00")), want: specs.OverlapNever,
			comment: "now is 12:00: loaded now it ends by 15:00 with the slack"},
		{name: "a Saturday one-shot never meets a weekday window",
			a: oneShot(t, "weekend", ny, "2026-11-28T10:00:00-05:00", 0, "+2h", "+3h"), b: nightly, want: specs.OverlapNever},
		{name: "a Friday-evening one-shot dials inside the weekday window",
			a: oneShot(t, "friday", ny, "2026-11-27T19:00:00-05:00", 0, "+1h"), b: nightly,
			want: specs.OverlapCan, whyHas: "both can dial on Fri 2026-11-27 19:00 EST"},
		{name: "a one-shot whose window never meets the other's, in another zone",
			a: named(oneShot(t, "london", "Europe/London", "2026-11-24T07:00:00Z", 0, "+4h"), "london", win("07:00", "12:00")),
			b: nightly, want: specs.OverlapNever,
			comment: "07:00-12:00 London is 02:00-07:00 in New York"},
		{name: "two one-shots whose runs do not meet",
			a: oneShot(t, "first", ny, "2026-12-01T09:00:00-05:00", 10*time.Minute, "+1h"),
			b: oneShot(t, "second", ny, "2026-12-01T12:00:00-05:00", 0, "+1h"), want: specs.OverlapNever,
			comment: "first ends 10:10, plus an hour's slack"},
		{name: "two one-shots whose runs meet within the slack",
			a:    oneShot(t, "first", ny, "2026-12-01T09:00:00-05:00", 10*time.Minute, "+1h"),
			b:    oneShot(t, "second", ny, "2026-12-01T10:30:00-05:00", 0, "+1h"),
			want: specs.OverlapCan, whyHas: "both can dial on Tue 2026-12-01 10:30 EST"},
		{name: "a one-shot whose second item waits for the window runs into the next opening",
			a: named(oneShot(t, "carry", ny, "2026-11-27T20:00:00-05:00", 2*time.Hour, "+30m", "+1h"), "carry", win("08:00", "21:00", weekdays...)),
			b: oneShot(t, "monday", ny, "2026-11-30T08:30:00-05:00", 0, "+1h"), want: specs.OverlapCan,
			whyHas:  "both can dial on Mon 2026-11-30 08:30 EST",
			comment: "item 2 is due Sat 00:30, waits for Mon 08:00 and stops at 09:00"},
		{name: "a one-shot with an item that cannot end in time has no end",
			a: oneShot(t, "open-ended", ny, "2026-12-01T09:00:00-05:00", 0, "+1h", ""),
			b: oneShot(t, "next-year", ny, "2027-06-01T09:00:00-04:00", 0, "+1h"), want: specs.OverlapCan,
			whyHas: "both can dial on Tue 2027-06-01 09:00 EDT"},
		{name: "a one-shot with an item that cannot end meets a cron sequence's window",
			a: oneShot(t, "open-ended", ny, "2026-12-01T09:00:00-05:00", 0, "+1h", ""), b: nightly, want: specs.OverlapCan,
			whyHas: `item "i" of "open-ended" has no stopAt.time, so its run has no end in time and "open-ended" has no calling window`},
		{name: "two cron sequences whose windows never meet on the same days",
			a: named(cronSeq(t, ny, "0 8 * * 1-5"), "morning", win("08:00", "12:00", weekdays...)),
			b: named(cronSeq(t, ny, "0 17 * * 1-5"), "evening", win("17:00", "21:00", weekdays...)), want: specs.OverlapNever},
		{name: "two cron sequences whose windows meet",
			a: named(cronSeq(t, ny, "0 8 * * 1-5"), "morning", win("08:00", "12:00", weekdays...)),
			b: named(cronSeq(t, ny, "0 11 * * 1-5"), "noon", win("11:00", "14:00")), want: specs.OverlapCan,
			whyHas: `runs on a schedule and their calling windows share days and hours`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, order := range [][2]*specs.Sequence{{tc.a, tc.b}, {tc.b, tc.a}} {
				got := RunsOverlap(order[0], order[1], now)
				if got.Verdict != tc.want || !strings.Contains(got.Why, tc.whyHas) {
					t.Errorf("%s vs %s: %d %q, want %d with %q (%s)", order[0].Name, order[1].Name, got.Verdict, got.Why, tc.want, tc.whyHas, tc.comment)
				}
			}
		})
	}
}
