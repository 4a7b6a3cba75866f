package schedule

import (
	"fmt"
	"time"

	"github.com/sequencer-dev/sequencer/specs"
)

// Two sequences that share a campaign group conflict only if their runs can
// dial at the same time. A run dials inside its sequence's calling window
// (none: at any hour), between its start and its end:
//
//   - a cron or immediate sequence can run at any time from now on;
//   - a one-shot (start.at) runs from its instant until its run must have
//     ended: it may start as late as startingDeadline after the instant,
//     then each item sleeps, waits for its window to open and ends by its
//     stopAt.time at the latest. An item without stopAt.time has no end
//     in time, and neither has its run. runSlack is added for a slow link
//     or OCS. A one-shot in the future is judged as starting on time.
//
// A one-shot whose instant has passed and that has no startingDeadline
// has either run, or starts as soon as it is loaded: which one, only the
// daemon's database knows. If only that second case can make the runs
// meet, the answer is OverlapIfLate, a warning.

// runSlack is added to a one-shot's latest end: items start when an OCS
// answers, not exactly when due.
const runSlack = time.Hour

// boundedDays caps the stretch searched for a shared minute: longer than
// that, the runs are judged as unbounded.
const boundedDays = 3 * 366

// RunsOverlap is package specs' OverlapFunc with start times and stop
// conditions: whether runs of a and b can dial at the same time at or after
// now.
func RunsOverlap(a, b *specs.Sequence, now time.Time) specs.Overlap {
	if o := overlap(a, b, now, false); o.Verdict != specs.OverlapNever {
		return o
	}
	o := overlap(a, b, now, true)
	if o.Verdict == specs.OverlapNever {
		return o
	}
	var late []string
	for _, s := range []*specs.Sequence{a, b} {
		if startsNowIfNotRun(s, now) {
			late = append(late, fmt.Sprintf("%q (at %s, no startingDeadline)", s.Name, inLoc(s, s.Start.At).Format(time.RFC3339)))
		}
	}
	if len(late) == 0 {
		return o // not reached: only such a one-shot's span depends on late
	}
	who := late[0]
	if len(late) == 2 {
		who += " or " + late[1]
	}
	return specs.Overlap{Verdict: specs.OverlapIfLate, Why: who + " has not run yet: its instant has passed, so it would start as soon as it is loaded (" +
		o.Why + "); set startingDeadline, or delete a one-shot that has run"}
}

// startsNowIfNotRun reports a one-shot whose instant has passed without a
// startingDeadline: if it has not run, loading it starts it.
func startsNowIfNotRun(s *specs.Sequence, now time.Time) bool {
	return !s.Start.At.IsZero() && s.Start.StartingDeadline <= 0 && !s.Start.At.After(now)
}

// span is when a sequence's runs can dial, in unix seconds: [from, to).
type span struct {
	from, to int64
	why      string // why it has no end, when to == maxI
}

// runSpan is s's span; with notRun, a one-shot that startsNowIfNotRun
// starts now.
func runSpan(s *specs.Sequence, now time.Time, notRun bool) span {
	if s.Start.At.IsZero() {
		what := "starts as soon as it is loaded"
		if s.Start.Schedule != "" {
			what = "runs on a schedule"
		}
		return span{minI, maxI, fmt.Sprintf("%q %s", s.Name, what)}
	}
	from := unix(s.Start.At)
	start := from + int64(s.Start.StartingDeadline/time.Second)
	if notRun && startsNowIfNotRun(s, now) {
		from, start = unix(now), unix(now)
	}
	end, why := runEnd(s, start)
	if end == maxI {
		return span{from, maxI, why}
	}
	return span{from, end + int64(runSlack/time.Second), ""}
}

// runEnd is the latest instant a run that starts at start can dial: each
// item after its sleep and the opening of its window, until its stop time.
func runEnd(s *specs.Sequence, start int64) (int64, string) {
	t := utc(start)
	for i := range s.Items {
		it := &s.Items[i]
		t = t.Add(it.SleepBeforeNextStart)
		open, ok := NextWindowOpen(s, t)
		if !ok {
			return unix(t), "" // the window never opens again: nothing dials
		}
		t = open
		stop, ok := ItemStopTime(s, it, t)
		if !ok {
			return maxI, fmt.Sprintf("item %q of %q has no stopAt.time, so its run has no end in time", it.Name, s.Name)
		}
		if stop.After(t) {
			t = stop
		}
	}
	return unix(t), ""
}

func overlap(a, b *specs.Sequence, now time.Time, notRun bool) specs.Overlap {
	sa, sb := runSpan(a, now, notRun), runSpan(b, now, notRun)
	lo, hi := max(sa.from, sb.from, unix(now)), min(sa.to, sb.to)
	if lo >= hi {
		return specs.Overlap{Verdict: specs.OverlapNever}
	}
	if hi == maxI || hi-lo > boundedDays*secondsPerDay {
		o := specs.WindowOverlap(a, b, now)
		if o.Verdict == specs.OverlapNever {
			return o
		}
		// Say why a run has no end, a one-shot's reason first: that a
		// cron sequence has none goes without saying.
		why := sa.why
		if sa.to != maxI || (sa.from == minI && sb.to == maxI && sb.from != minI) {
			why = sb.why
		}
		if why != "" {
			o.Why = why + " and " + o.Why
		}
		return o
	}
	if u, ok := firstShared(intervals(a, lo, hi), intervals(b, lo, hi)); ok {
		at := inLoc(a, utc(u)).Format("Mon 2006-01-02 15:04 MST")
		return specs.Overlap{Verdict: specs.OverlapCan, Why: "both can dial on " + at}
	}
	return specs.Overlap{Verdict: specs.OverlapNever}
}

// intervals lists the stretches of [lo, hi) inside s's calling window.
func intervals(s *specs.Sequence, lo, hi int64) [][2]int64 {
	w, ok := newWindow(s)
	if !ok {
		return [][2]int64{{lo, hi}}
	}
	var out [][2]int64
	for n := w.z.localDay(lo) - 1; n <= w.z.localDay(hi)+1; n++ {
		o, c, ok := w.interval(n)
		if o, c = max(o, lo), min(c, hi); ok && o < c {
			out = append(out, [2]int64{o, c})
		}
	}
	return out
}

// firstShared returns the first instant in both lists of sorted, disjoint
// intervals.
func firstShared(a, b [][2]int64) (int64, bool) {
	for i, j := 0, 0; i < len(a) && j < len(b); {
		switch {
		case a[i][1] <= b[j][0]:
			i++
		case b[j][1] <= a[i][0]:
			j++
		default:
			return max(a[i][0], b[j][0]), true
		}
	}
	return 0, false
}
