package schedule

import (
	"strings"
	"testing"
	"time"

	"github.com/sequencer-dev/sequencer/specs"
)

func TestDueRunsOnlyTheLatestMissedStartWithinTheDeadline(t *testing.T) {
	seq := cronSeq(t, "UTC", "0 * * * *")
	seq.Start.StartingDeadline = 30 * time.Minute
	r := Due(seq, ts(t, "2026-01-05T10:00:00Z"), time.Time{}, ts(t, "2026-01-05T13:10:00Z"))
	if !r.OK || !r.Run.Equal(ts(t, "2026-01-05T13:00:00Z")) {
		t.Fatalf("Run = %v %v, want 13:00", r.Run, r.OK)
	}
	if r.SkippedCount != 2 || len(r.Skipped) != 2 || !r.Skipped[0].Scheduled.Equal(ts(t, "2026-01-05T11:00:00Z")) ||
		!r.Skipped[1].Scheduled.Equal(ts(t, "2026-01-05T12:00:00Z")) || !strings.Contains(r.Skipped[0].Reason, "superseded") {
		t.Fatalf("skipped = %d %+v", r.SkippedCount, r.Skipped)
	}
	if !r.Next.Equal(ts(t, "2026-01-05T14:00:00Z")) || !r.Latest().Equal(r.Run) {
		t.Fatalf("Next = %v, Latest = %v", r.Next, r.Latest())
	}
}

func TestDueSkipsTheLatestMissedStartBeyondTheDeadlineWithItsLateness(t *testing.T) {
	seq := cronSeq(t, "UTC", "0 * * * *")
	seq.Start.StartingDeadline = 30 * time.Minute
	r := Due(seq, ts(t, "2026-01-05T10:00:00Z"), time.Time{}, ts(t, "2026-01-05T13:40:00Z"))
	if r.OK || r.SkippedCount != 3 || len(r.Skipped) != 3 {
		t.Fatalf("got %+v", r)
	}
	last := r.Skipped[2]
	if !last.Scheduled.Equal(ts(t, "2026-01-05T13:00:00Z")) || last.Reason != "missed by 40m0s, more than startingDeadline 30m0s" {
		t.Fatalf("last skip = %+v", last)
	}
	if !r.Latest().Equal(last.Scheduled) {
		t.Fatalf("Latest = %v", r.Latest())
	}
}

func TestDueWithoutADeadlineRunsTheLatestMissedStartHoweverLate(t *testing.T) {
	seq := cronSeq(t, "UTC", "0 18 * * *")
	r := Due(seq, ts(t, "2026-01-01T18:00:00Z"), time.Time{}, ts(t, "2026-01-20T09:00:00Z"))
	if !r.OK || !r.Run.Equal(ts(t, "2026-01-19T18:00:00Z")) || r.SkippedCount != 17 {
		t.Fatalf("got %v %v skipped %d", r.Run, r.OK, r.SkippedCount)
	}
}

func TestDueLooksBackToSinceInclusivelyWhenNothingWasHandled(t *testing.T) {
	seq := cronSeq(t, "UTC", "0 12 * * *")
	if r := Due(seq, time.Time{}, ts(t, "2026-01-05T12:00:00Z"), ts(t, "2026-01-05T12:05:00Z")); !r.OK || r.SkippedCount != 0 {
		t.Fatalf("loaded at the start instant: %+v", r)
	}
	if r := Due(seq, time.Time{}, ts(t, "2026-01-05T12:00:01Z"), ts(t, "2026-01-05T12:05:00Z")); r.OK || r.SkippedCount != 0 {
		t.Fatalf("loaded after the start: %+v", r)
	}
	if r := Due(seq, time.Time{}, time.Time{}, ts(t, "2026-01-05T12:05:00Z")); r.OK || r.SkippedCount != 0 {
		t.Fatalf("no since: %+v", r)
	}
}

func TestDueCountsMissedStartsExactlyPastTheListCapAcrossDSTChanges(t *testing.T) {
	seq := cronSeq(t, "America/New_York", "* * * * *")
	cases := []struct {
		name             string
		last, now        string
		wantCount        int // starts in (last, now]; the latest runs
		wantFirstSkipped string
	}{
		// 14 days of minutes, less the 60 gap slots that collapse into 03:00.
		{"across the spring-forward gap", "2026-03-01T00:00:00-05:00", "2026-03-15T00:00:00-04:00", 14*1440 - 60, "2026-03-01T00:01:00-05:00"},
		// The repeated hour's 60 minutes run once.
		{"across the fall-back repeated hour", "2026-10-31T00:00:00-04:00", "2026-11-02T00:00:00-05:00", 2 * 1440, "2026-10-31T00:01:00-04:00"},
		// A long outage counts whole plain days at once; the March gap still collapses.
		{"over a year", "2026-01-01T00:00:00-05:00", "2027-01-01T00:00:00-05:00", 365*1440 - 60, "2026-01-01T00:01:00-05:00"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := Due(seq, ts(t, c.last), time.Time{}, ts(t, c.now))
			if !r.OK || !r.Run.Equal(ts(t, c.now)) {
				t.Fatalf("Run = %v %v", r.Run, r.OK)
			}
			if r.SkippedCount != c.wantCount-1 || len(r.Skipped) != SkipCap || !r.Skipped[0].Scheduled.Equal(ts(t, c.wantFirstSkipped)) {
				t.Fatalf("SkippedCount = %d (want %d), listed %d, first %v", r.SkippedCount, c.wantCount-1, len(r.Skipped), r.Skipped[0].Scheduled)
			}
			if n := len(Starts(seq, ts(t, c.last), ts(t, c.now), 1<<30)); n != c.wantCount {
				t.Fatalf("Starts lists %d, Due counted %d", n, r.SkippedCount+1)
			}
		})
	}
}

func TestDueListsTheLatestSkippedStartLastWhenTheListIsCapped(t *testing.T) {
	seq := cronSeq(t, "UTC", "* * * * *")
	seq.Start.StartingDeadline = 10 * time.Second
	r := Due(seq, ts(t, "2026-01-05T00:00:00Z"), time.Time{}, ts(t, "2026-01-05T03:00:30Z"))
	if r.OK || r.SkippedCount != 180 || len(r.Skipped) != SkipCap {
		t.Fatalf("got OK=%v count=%d listed=%d", r.OK, r.SkippedCount, len(r.Skipped))
	}
	if !r.Latest().Equal(ts(t, "2026-01-05T03:00:00Z")) || !strings.HasPrefix(r.Skipped[SkipCap-1].Reason, "missed by 30s") {
		t.Fatalf("last listed = %+v", r.Skipped[SkipCap-1])
	}
}

func TestDueNeverRefiresAStartWhenTheClockStepsBackwards(t *testing.T) {
	seq := cronSeq(t, "UTC", "0 * * * *")
	last := ts(t, "2026-01-05T13:00:00Z")
	for _, now := range []string{"2026-01-05T12:30:00Z", "2026-01-05T13:00:00Z", "2026-01-05T13:59:59Z"} {
		if r := Due(seq, last, time.Time{}, ts(t, now)); r.OK || r.SkippedCount != 0 {
			t.Fatalf("now %s: %+v", now, r)
		}
	}
}

func TestDueTreatsStartAtAsOneStartThatSinceDoesNotHide(t *testing.T) {
	seq := cronSeq(t, "UTC", "")
	seq.Start = specs.Start{At: ts(t, "2026-01-05T18:00:00Z"), StartingDeadline: 30 * time.Minute}
	loaded := ts(t, "2026-01-05T18:01:00Z")
	if r := Due(seq, time.Time{}, loaded, ts(t, "2026-01-05T18:02:00Z")); !r.OK || !r.Run.Equal(seq.Start.At) {
		t.Fatalf("within the deadline: %+v", r)
	}
	if r := Due(seq, time.Time{}, loaded, ts(t, "2026-01-05T19:00:00Z")); r.OK || r.SkippedCount != 1 {
		t.Fatalf("beyond the deadline: %+v", r)
	}
	if r := Due(seq, seq.Start.At, loaded, ts(t, "2026-01-05T18:02:00Z")); r.OK || r.SkippedCount != 0 {
		t.Fatalf("already handled: %+v", r)
	}
}
