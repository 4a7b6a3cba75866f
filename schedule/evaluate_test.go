package schedule

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sequencer-dev/sequencer/specs"
)

// nightly is the docs/spec-reference.md example: weekdays at 18:00 New York time, a
// calling window 08:00–21:00 on weekdays, three items.
func nightly(t testing.TB) *specs.Sequence {
	loc := mustLoc(t, "America/New_York")
	return &specs.Sequence{
		Name: "nightly", TimeZone: "America/New_York", Location: loc,
		Start:  specs.Start{Schedule: "0 18 * * 1-5", StartingDeadline: 30 * time.Minute},
		Window: win("08:00", "21:00", weekdays...),
		Items: []specs.Item{
			{Name: "fresh", StopAt: specs.StopAt{Contacts: 500, Time: specs.StopTime{Kind: specs.StopTimeOfDay, TimeOfDay: tod("20:30")}}},
			{Name: "retries", SleepBeforeNextStart: 10 * time.Minute, StopAt: specs.StopAt{Time: specs.StopTime{Kind: specs.StopAfter, After: 90 * time.Minute}}},
			{Name: "callbacks", StopAt: specs.StopAt{Contacts: 100}},
		},
	}
}

// changes renders a decision's changes as "action item reason" lines.
func changes(d Decision) []string {
	var out []string
	for _, c := range d.Changes {
		s := string(c.Action)
		if c.ItemName != "" {
			s += " " + c.ItemName
		}
		if c.Action == ActSkip || c.Action == ActSequenceStart {
			s += " " + c.Scheduled.Format(time.RFC3339)
		}
		out = append(out, s)
	}
	return out
}

func running(t testing.TB, run string, item int, itemStarted, prevEnded string, paused bool) Progress {
	p := Progress{Running: true, Run: ts(t, run), LastHandled: ts(t, run), Item: item, Paused: paused}
	if itemStarted != "" {
		p.ItemStarted = ts(t, itemStarted)
	}
	if prevEnded != "" {
		p.PrevEnded = ts(t, prevEnded)
	}
	return p
}

func TestEvaluateAppliesEachRule(t *testing.T) {
	type want struct {
		state   State
		item    int
		changes []string
		next    string // RFC 3339; "" = none
		reason  string // substring of the first change's reason, if set
	}
	mon18 := "2026-11-02T18:00:00-05:00"
	cases := []struct {
		name string
		seq  func(*specs.Sequence)
		p    Progress
		now  string
		want want
	}{
		{"before the first start the sequence waits for it", nil,
			Progress{Since: ts(t, "2026-11-02T10:00:00-05:00")}, "2026-11-02T12:00:00-05:00",
			want{WaitingForStart, -1, nil, "2026-11-02T18:00:00-05:00", ""}},
		{"a due start begins a run and its first item dials at once", nil,
			Progress{Since: ts(t, "2026-11-02T10:00:00-05:00")}, mon18,
			want{ItemDialing, 0, []string{"sequence-start 2026-11-02T23:00:00Z", "item-start fresh"}, "2026-11-02T20:30:00-05:00", ""}},
		{"an item stops at its local stop time and the next one sleeps", nil,
			running(t, mon18, 0, mon18, mon18, false), "2026-11-02T20:30:00-05:00",
			want{SleepingBeforeItem, 1, []string{"item-stop fresh"}, "2026-11-02T20:40:00-05:00", "stop time 20:30 reached"}},
		{"an item starts after its sleep and its next change is the window close", nil,
			running(t, mon18, 1, "", "2026-11-02T20:30:00-05:00", false), "2026-11-02T20:40:00-05:00",
			want{ItemDialing, 1, []string{"item-start retries"}, "2026-11-02T21:00:00-05:00", ""}},
		{"a dialing item pauses at window close until its stop time", nil,
			running(t, mon18, 1, "2026-11-02T20:40:00-05:00", "", false), "2026-11-02T21:00:00-05:00",
			want{ItemPausedByWindow, 1, []string{"window-pause retries"}, "2026-11-02T22:10:00-05:00", "calling window closed"}},
		{"a paused item whose stop time passes ends without resuming", nil,
			running(t, mon18, 1, "2026-11-02T20:40:00-05:00", "", true), "2026-11-02T22:10:00-05:00",
			want{ItemPausedByWindow, 2, []string{"item-stop retries"}, "2026-11-03T08:00:00-05:00", "reached while paused"}},
		{"a paused item resumes at the next opening when its stop has not passed",
			func(s *specs.Sequence) {
				s.Items[1].StopAt.Time = specs.StopTime{Kind: specs.StopTimeOfDay, TimeOfDay: tod("10:00")}
			},
			running(t, mon18, 1, "2026-11-02T20:40:00-05:00", "", true), "2026-11-03T08:00:00-05:00",
			want{ItemDialing, 1, []string{"window-resume retries"}, "2026-11-03T10:00:00-05:00", "calling window open"}},
		{"an item due after the window closed waits for the next opening", nil,
			running(t, mon18, 1, "", "2026-11-02T20:55:00-05:00", false), "2026-11-02T21:05:00-05:00",
			want{ItemPausedByWindow, 1, nil, "2026-11-03T08:00:00-05:00", ""}},
		{"an item waiting for the window starts at the opening", nil,
			running(t, mon18, 1, "", "2026-11-02T20:55:00-05:00", false), "2026-11-03T08:00:00-05:00",
			want{ItemDialing, 1, []string{"item-start retries"}, "2026-11-03T09:30:00-05:00", ""}},
		{"an except date moves a waiting item past the whole local day",
			func(s *specs.Sequence) {
				s.Start.Schedule = "0 18 * * 4" // Thursdays, so that only the window decides
				s.Window.ExceptDates = []specs.Date{{Year: 2026, Month: 12, Day: 25}}
			},
			running(t, "2026-12-24T18:00:00-05:00", 1, "", "2026-12-24T20:55:00-05:00", false), "2026-12-24T21:05:00-05:00",
			want{ItemPausedByWindow, 1, nil, "2026-12-28T08:00:00-05:00", ""}},
		{"a stop time already passed when the item would start ends it at once with a reason",
			func(s *specs.Sequence) {
				s.Items[1].StopAt.Time = specs.StopTime{Kind: specs.StopAbsolute, At: ts(t, "2026-11-02T20:35:00-05:00")}
			},
			running(t, mon18, 1, "", "2026-11-02T20:30:00-05:00", false), "2026-11-02T20:40:00-05:00",
			want{ItemDialing, 2, []string{"item-stop retries", "item-start callbacks"}, "2026-11-02T21:00:00-05:00", "had passed before the item could start"}},
		{"a start while the previous run is still going is skipped and reported", nil,
			running(t, mon18, 2, "2026-11-03T08:00:00-05:00", "", false), "2026-11-03T18:00:00-05:00",
			want{ItemDialing, 2, []string{"skip 2026-11-03T23:00:00Z"}, "2026-11-03T21:00:00-05:00", "still in progress"}},
		{"a run ends after its last item and the sequence waits for the next start", nil,
			running(t, mon18, 3, "", "2026-11-02T20:50:00-05:00", false), "2026-11-02T20:50:00-05:00",
			want{WaitingForStart, -1, []string{"sequence-end"}, "2026-11-03T18:00:00-05:00", ""}},
		{"after downtime only the latest missed start runs", nil,
			Progress{LastHandled: ts(t, mon18)}, "2026-11-04T18:10:00-05:00",
			want{ItemDialing, 0, []string{"skip 2026-11-03T23:00:00Z", "sequence-start 2026-11-04T23:00:00Z", "item-start fresh"}, "2026-11-04T20:30:00-05:00", "superseded"}},
		{"a missed start beyond the deadline is skipped and the sequence waits", nil,
			Progress{LastHandled: ts(t, mon18)}, "2026-11-04T19:00:00-05:00",
			want{WaitingForStart, -1, []string{"skip 2026-11-03T23:00:00Z", "skip 2026-11-04T23:00:00Z"}, "2026-11-05T18:00:00-05:00", "superseded"}},
		{"a clock stepped back before a fired start does not fire it again", nil,
			Progress{LastHandled: ts(t, mon18)}, "2026-11-02T17:50:00-05:00",
			want{WaitingForStart, -1, nil, "2026-11-02T18:00:00-05:00", ""}},
		{"a clock stepped back onto a fired start does not fire it again", nil,
			Progress{LastHandled: ts(t, mon18)}, mon18,
			want{WaitingForStart, -1, nil, "2026-11-03T18:00:00-05:00", ""}},
		{"a suspended sequence is idle", func(s *specs.Sequence) { s.Suspend = true },
			Progress{LastHandled: ts(t, mon18)}, "2026-11-03T18:00:00-05:00",
			want{Idle, -1, nil, "", ""}},
		{"an immediate sequence starts once, keyed by when it was loaded", func(s *specs.Sequence) { s.Start = specs.Start{}; s.Window = nil },
			Progress{Since: ts(t, "2026-11-02T10:00:00-05:00")}, "2026-11-02T10:00:05-05:00",
			want{ItemDialing, 0, []string{"sequence-start 2026-11-02T15:00:00Z", "item-start fresh"}, "2026-11-02T20:30:00-05:00", ""}},
		{"an immediate sequence that has run is done", func(s *specs.Sequence) { s.Start = specs.Start{} },
			Progress{Since: ts(t, "2026-11-02T10:00:00-05:00"), LastHandled: ts(t, "2026-11-02T10:00:00-05:00")}, "2026-11-03T10:00:00-05:00",
			want{Done, -1, nil, "", ""}},
		{"a start.at sequence that has run is done", func(s *specs.Sequence) { s.Start = specs.Start{At: ts(t, mon18)} },
			running(t, mon18, 3, "", "2026-11-02T20:50:00-05:00", false), "2026-11-02T20:50:00-05:00",
			want{Done, -1, []string{"sequence-end"}, "", ""}},
		{"a run that starts on the US fall-back night stops at the first 01:30",
			func(s *specs.Sequence) {
				s.Start.Schedule = "0 0 * * *"
				s.Window = nil
				s.Items[0].StopAt = specs.StopAt{Time: specs.StopTime{Kind: specs.StopTimeOfDay, TimeOfDay: tod("01:30")}}
			},
			Progress{Since: ts(t, "2026-10-31T23:00:00-04:00")}, "2026-11-01T00:00:00-04:00",
			want{ItemDialing, 0, []string{"sequence-start 2026-11-01T04:00:00Z", "item-start fresh"}, "2026-11-01T01:30:00-04:00", ""}},
		{"a run due in the EU spring gap starts at 03:00 CEST",
			func(s *specs.Sequence) {
				s.Location, s.TimeZone = mustLoc(t, "Europe/Berlin"), "Europe/Berlin"
				s.Start.Schedule = "30 2 * * *"
				s.Window = nil
			},
			Progress{Since: ts(t, "2026-03-28T12:00:00+01:00")}, "2026-03-29T03:00:00+02:00",
			want{ItemDialing, 0, []string{"sequence-start 2026-03-29T01:00:00Z", "item-start fresh"}, "2026-03-29T20:30:00+02:00", ""}},
		{"a Kolkata window pauses an item at 18:00 IST",
			func(s *specs.Sequence) {
				s.Location, s.TimeZone = mustLoc(t, "Asia/Kolkata"), "Asia/Kolkata"
				s.Start.Schedule = "0 17 * * 1-5"
				s.Window = win("09:00", "18:00")
				s.Items[0].StopAt = specs.StopAt{Contacts: 10}
			},
			running(t, "2026-03-09T17:00:00+05:30", 0, "2026-03-09T17:00:00+05:30", "", false), "2026-03-09T18:00:00+05:30",
			want{ItemPausedByWindow, 0, []string{"window-pause fresh"}, "2026-03-10T09:00:00+05:30", ""}},
		{"a UTC sequence with a count-only item has only the window and starts as next changes",
			func(s *specs.Sequence) {
				s.Location, s.TimeZone = time.UTC, "UTC"
				s.Items[0].StopAt = specs.StopAt{Dials: 10}
			},
			running(t, "2026-11-02T18:00:00Z", 0, "2026-11-02T18:00:00Z", "", false), "2026-11-02T19:00:00Z",
			want{ItemDialing, 0, nil, "2026-11-02T21:00:00Z", ""}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			seq := nightly(t)
			if c.seq != nil {
				c.seq(seq)
			}
			now := ts(t, c.now)
			d := Evaluate(seq, c.p, now)
			got := changes(d)
			if d.State != c.want.state || d.Item != c.want.item || !equalStrings(got, c.want.changes) {
				t.Fatalf("got %v item %d %q, want %v item %d %q (reason %q)", d.State, d.Item, got, c.want.state, c.want.item, c.want.changes, d.Reason)
			}
			if c.want.next == "" {
				if !d.Next.IsZero() {
					t.Fatalf("Next = %v, want none", d.Next)
				}
			} else if !d.Next.Equal(ts(t, c.want.next)) {
				t.Fatalf("Next = %v, want %s", d.Next.In(seq.Location), c.want.next)
			}
			if !d.Next.IsZero() && !d.Next.After(now) {
				t.Fatalf("Next %v is not after now", d.Next)
			}
			if c.want.reason != "" && (len(d.Changes) == 0 || !strings.Contains(d.Changes[0].Reason, c.want.reason)) {
				t.Fatalf("reason %q does not say %q", fmt.Sprint(d.Changes), c.want.reason)
			}
			// Evaluating again at the same instant with the new progress
			// changes nothing: no change is ever applied twice.
			again := Evaluate(seq, d.Progress, now)
			if len(again.Changes) != 0 || again.State != d.State {
				t.Fatalf("second evaluation changed again: %v %v", again.State, changes(again))
			}
		})
	}
}

func TestEvaluateRecordsTheSkipsItReportsInLastHandled(t *testing.T) {
	seq := nightly(t)
	p := running(t, "2026-11-02T18:00:00-05:00", 2, "2026-11-03T08:00:00-05:00", "", false)
	d := Evaluate(seq, p, ts(t, "2026-11-05T18:05:00-05:00"))
	if d.SkippedCount != 3 || !d.Progress.LastHandled.Equal(ts(t, "2026-11-05T18:00:00-05:00")) {
		t.Fatalf("skipped %d, LastHandled %v", d.SkippedCount, d.Progress.LastHandled)
	}
}
