package reconcile

// The projection as it was before issue 15: schedule.Evaluate and
// schedule.Project, a second copy of the sequencing rules, kept here only
// as the baseline of BenchmarkProject10000SequencesOver7Days. Nothing but
// benchmarks calls it.

import (
	"fmt"
	"sort"
	"time"

	"github.com/sequencer-dev/sequencer/schedule"
	"github.com/sequencer-dev/sequencer/specs"
)

func legacyInLoc(seq *specs.Sequence, t time.Time) time.Time {
	if seq.Location == nil {
		return t.UTC()
	}
	return t.In(seq.Location)
}

func legacyFixedStop(it *specs.Item) (time.Time, bool) {
	if it.StopAt.Time.Kind == specs.StopAbsolute {
		return it.StopAt.Time.At.UTC(), true
	}
	return time.Time{}, false
}

func legacyStopText(it *specs.Item) string {
	st := it.StopAt.Time
	switch st.Kind {
	case specs.StopTimeOfDay:
		return "stop time " + st.TimeOfDay.String()
	case specs.StopAfter:
		return "stop after " + st.After.String()
	}
	return "stop time " + st.At.Format(time.RFC3339)
}

// legacyState is the desired state of a sequence at an instant.
type legacyState uint8

const (
	legacyIdle               legacyState = iota // suspended, or nothing to run (no items)
	legacyWaitingForStart                       // no run in progress; Next is the next start
	legacySleepingBeforeItem                    // sleepBeforeNextStart of item legacyDecision.Item
	legacyItemDialing                           // item legacyDecision.Item dials
	legacyItemPausedByWindow                    // item legacyDecision.Item waits for the window (started or not)
	legacyDone                                  // a one-shot sequence (start.at or immediate) has run
)

var legacyStateNames = [...]string{"legacyIdle", "legacyWaitingForStart", "legacySleepingBeforeItem", "legacyItemDialing", "legacyItemPausedByWindow", "legacyDone"}

func (s legacyState) String() string {
	if int(s) < len(legacyStateNames) {
		return legacyStateNames[s]
	}
	return fmt.Sprintf("legacyState(%d)", s)
}

// legacyProgress is what the caller records about a sequence between
// evaluations; legacyEvaluate returns the progress after the changes it decided.
// Every field is an instant the caller persisted, never a duration counted
// from a clock, so a clock step cannot replay a change.
type legacyProgress struct {
	// LastHandled is the last scheduled start instant fired or skipped
	// (UTC); zero: none yet.
	LastHandled time.Time
	// Since is when the spec was first loaded. It bounds the look-back for
	// missed cron starts when LastHandled is zero, and is the start key of
	// an immediate sequence (no schedule, no at).
	Since time.Time
	// Running: a run is in progress; Run is its scheduled start instant.
	Running bool
	Run     time.Time
	// Item is the index of the current item of the run (0-based).
	Item int
	// ItemStarted is when the current item began dialing; zero: not yet.
	ItemStarted time.Time
	// PrevEnded is when the previous item ended, or when the run began for
	// the first item: sleepBeforeNextStart counts from it.
	PrevEnded time.Time
	// Paused: the current item started and is paused by the window.
	Paused bool
}

// legacyChange is one thing that happens at the evaluated instant.
type legacyChange struct {
	Action    schedule.Action
	Item      int       // index, for item actions; -1 otherwise
	ItemName  string    // for item actions
	Scheduled time.Time // the start instant, for sequence-start and skip
	Reason    string    // for stops, pauses, resumes and skips
	Bound     string    // for item-start: "until 500 contacts or 20:30"
}

// legacyDecision is the answer of legacyEvaluate.
type legacyDecision struct {
	State legacyState
	Item  int // the current item for item states; -1 otherwise
	// legacyProgress is the progress after Changes; the caller persists it once
	// it has acted on them.
	Progress legacyProgress
	// Changes happen now, in order: starts, skips, item stops (with their
	// reasons), item starts, pauses, resumes, the end of a run.
	Changes []legacyChange
	// SkippedCount is the exact number of skipped starts among Changes and
	// beyond (skips are listed up to SkipCap per evaluation).
	SkippedCount int
	// Stop is the time stop of the current item, when it has one.
	Stop      time.Time
	StopKnown bool
	// Next is the next instant, strictly after now, at which the decision
	// can change without anything but time passing; zero if none (legacyIdle,
	// legacyDone, or an item that only a count or depletion can end).
	Next   time.Time
	Reason string // why the state is what it is, for status
}

// legacyEvaluate returns the desired state of seq at now given the recorded
// progress, the changes due at now, and the next instant the answer can
// change. It is built on the primitives (Due, NextStart, InWindow,
// NextWindowChange, NextWindowOpen, ItemStopTime), and applies:
//
//   - a due start begins a run (Due's rule: only the latest missed start,
//     within startingDeadline); the others are skipped;
//   - a start that comes while a run is in progress is skipped and
//     reported, never queued;
//   - sleepBeforeNextStart counts from the end of the previous item (from
//     the run's beginning for the first item);
//   - an item due while the window is closed waits for the next opening; a
//     dialing item pauses at window close and resumes at the next opening;
//   - an item whose time stop has passed ends at once, with a reason — also
//     when the stop passed while it was paused or before it could start.
func legacyEvaluate(seq *specs.Sequence, p legacyProgress, now time.Time) legacyDecision {
	d := legacyDecision{Item: -1, Progress: p}
	if seq == nil {
		d.Reason = "no sequence"
		return d
	}
	if seq.Suspend {
		d.Reason = "suspended"
		return d
	}
	if len(seq.Items) == 0 {
		d.Reason = "no items"
		return d
	}
	pr := &d.Progress
	limit := 4*len(seq.Items) + 8
	for i := 0; i < limit; i++ {
		changed := false
		if pr.Running {
			changed = legacyStepRun(seq, pr, now, &d)
		}
		if legacyHandleStarts(seq, pr, now, &d) {
			changed = true
		}
		if !changed {
			break
		}
	}
	legacySettle(seq, pr, now, &d)
	return d
}

// legacyHandleStarts records the starts due at now: a new run if none is in
// progress, skips otherwise.
func legacyHandleStarts(seq *specs.Sequence, pr *legacyProgress, now time.Time, d *legacyDecision) bool {
	if seq.Start.Immediate() {
		if pr.Running || !pr.LastHandled.IsZero() {
			return false
		}
		key := pr.Since
		if key.IsZero() || key.After(now) {
			key = now
		}
		legacyBeginRun(pr, key.UTC(), now, d)
		return true
	}
	due := schedule.Due(seq, pr.LastHandled, pr.Since, now)
	if !due.OK && due.SkippedCount == 0 {
		return false
	}
	for _, s := range due.Skipped {
		d.Changes = append(d.Changes, legacyChange{Action: schedule.ActSkip, Item: -1, Scheduled: s.Scheduled, Reason: s.Reason})
	}
	d.SkippedCount += due.SkippedCount
	if last := due.Latest(); !last.IsZero() {
		pr.LastHandled = last
	}
	if !due.OK {
		return true
	}
	if pr.Running {
		d.Changes = append(d.Changes, legacyChange{Action: schedule.ActSkip, Item: -1, Scheduled: due.Run,
			Reason: fmt.Sprintf("the run that started %s is still in progress; runs of one sequence never overlap", legacyInLoc(seq, pr.Run).Format(time.RFC3339))})
		d.SkippedCount++
		return true
	}
	legacyBeginRun(pr, due.Run, now, d)
	return true
}

func legacyBeginRun(pr *legacyProgress, key, now time.Time, d *legacyDecision) {
	pr.Running, pr.Run, pr.LastHandled = true, key, key
	pr.Item, pr.ItemStarted, pr.PrevEnded, pr.Paused = 0, time.Time{}, now, false
	d.Changes = append(d.Changes, legacyChange{Action: schedule.ActSequenceStart, Item: -1, Scheduled: key})
}

// legacyStepRun makes at most one change to the run in progress at now.
func legacyStepRun(seq *specs.Sequence, pr *legacyProgress, now time.Time, d *legacyDecision) bool {
	i := pr.Item
	if i < 0 {
		i, pr.Item = 0, 0
	}
	if i >= len(seq.Items) {
		pr.Running, pr.Item, pr.ItemStarted, pr.Paused = false, 0, time.Time{}, false
		d.Changes = append(d.Changes, legacyChange{Action: schedule.ActSequenceEnd, Item: -1, Scheduled: pr.Run})
		return true
	}
	it := &seq.Items[i]
	if pr.ItemStarted.IsZero() {
		if stop, ok := legacyFixedStop(it); ok && !stop.After(now) {
			legacyEndItem(pr, it, now, d, fmt.Sprintf("%s had passed before the item could start; ended without dialing", legacyStopText(it)))
			return true
		}
		if now.Before(pr.PrevEnded.Add(it.SleepBeforeNextStart)) || !schedule.InWindow(seq, now) {
			return false
		}
		pr.ItemStarted, pr.Paused = now, false
		d.Changes = append(d.Changes, legacyChange{Action: schedule.ActItemStart, Item: i, ItemName: it.Name, Bound: schedule.Bound(seq, it, now)})
		return true
	}
	if stop, ok := schedule.ItemStopTime(seq, it, pr.ItemStarted); ok && !stop.After(now) {
		reason := legacyStopText(it) + " reached"
		if pr.Paused {
			reason += " while paused by the calling window"
		}
		legacyEndItem(pr, it, now, d, reason)
		return true
	}
	in := schedule.InWindow(seq, now)
	switch {
	case !pr.Paused && !in:
		pr.Paused = true
		d.Changes = append(d.Changes, legacyChange{Action: schedule.ActWindowPause, Item: i, ItemName: it.Name, Reason: schedule.ClosedReason(seq, now)})
		return true
	case pr.Paused && in:
		pr.Paused = false
		d.Changes = append(d.Changes, legacyChange{Action: schedule.ActWindowResume, Item: i, ItemName: it.Name, Reason: schedule.OpenReason(seq)})
		return true
	}
	return false
}

func legacyEndItem(pr *legacyProgress, it *specs.Item, now time.Time, d *legacyDecision, reason string) {
	d.Changes = append(d.Changes, legacyChange{Action: schedule.ActItemStop, Item: pr.Item, ItemName: it.Name, Reason: reason})
	pr.Item++
	pr.ItemStarted, pr.PrevEnded, pr.Paused = time.Time{}, now, false
}

// legacySettle fills in the state, the stop time and Next from the progress.
func legacySettle(seq *specs.Sequence, pr *legacyProgress, now time.Time, d *legacyDecision) {
	next := func(t time.Time, ok bool) {
		if ok && t.After(now) && (d.Next.IsZero() || t.Before(d.Next)) {
			d.Next = t
		}
	}
	nextStart, hasStart := schedule.NextStart(seq, now)
	if !pr.Running {
		switch {
		case hasStart:
			d.State, d.Reason = legacyWaitingForStart, "waiting for the next start"
			next(nextStart, true)
		case seq.Start.Immediate() && pr.LastHandled.IsZero():
			// Cannot happen after legacyHandleStarts; kept for safety.
			d.State, d.Reason = legacyWaitingForStart, "starts as soon as loaded"
		default:
			d.State, d.Reason = legacyDone, "the one-shot run has been handled"
		}
		return
	}
	// A start that comes during the run changes the answer (a skip).
	next(nextStart, hasStart)
	i := pr.Item
	it := &seq.Items[i]
	d.Item = i
	if pr.ItemStarted.IsZero() {
		stop, ok := legacyFixedStop(it)
		d.Stop, d.StopKnown = stop, ok
		next(stop, ok)
		ready := pr.PrevEnded.Add(it.SleepBeforeNextStart)
		if now.Before(ready) {
			d.State, d.Reason = legacySleepingBeforeItem, fmt.Sprintf("sleepBeforeNextStart %s", it.SleepBeforeNextStart)
			next(ready, true)
			return
		}
		d.State, d.Reason = legacyItemPausedByWindow, schedule.ClosedReason(seq, now)+"; the item starts at the next opening"
		next(schedule.NextWindowOpen(seq, now))
		return
	}
	stop, ok := schedule.ItemStopTime(seq, it, pr.ItemStarted)
	d.Stop, d.StopKnown = stop, ok
	next(stop, ok)
	if pr.Paused {
		d.State, d.Reason = legacyItemPausedByWindow, schedule.ClosedReason(seq, now)
		next(schedule.NextWindowOpen(seq, now))
		return
	}
	d.State, d.Reason = legacyItemDialing, schedule.Bound(seq, it, pr.ItemStarted)
	next(schedule.NextWindowChange(seq, now))
}

// legacyMaxSteps bounds the walk of one sequence (a start every
// minute for a week with three changes each is well under it).
const legacyMaxSteps = 200000

const legacyUnknownEnd = "ends on a count or on depletion, so its end is unknown; later items of this run are not projected"

// legacyProject walks every sequence forward from from for d, from the specs
// alone (as if each was loaded at from with no progress), and returns the
// timeline sorted by time, then sequence (each sequence's own events keep
// their causal order). It is legacyEvaluate applied at each Next, so the plan and
// the daemon agree.
//
// Start.at instants before from are taken as already handled. An item
// without a time stop starts with its bound ("until 500 contacts") and the
// legacyUnknownEnd note; the projection of that run stops there, and later starts
// of the sequence are projected as if it had ended.
func legacyProject(seqs []*specs.Sequence, from time.Time, d time.Duration) []schedule.Event {
	until := from.Add(d)
	var out []schedule.Event
	for _, seq := range seqs {
		if seq == nil {
			continue
		}
		out = append(out, legacyProjectOne(seq, from, until)...)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].At.Equal(out[j].At) {
			return out[i].At.Before(out[j].At)
		}
		return out[i].Sequence < out[j].Sequence
	})
	return out
}

func legacyProjectOne(seq *specs.Sequence, from, until time.Time) []schedule.Event {
	var out []schedule.Event
	p := legacyProgress{Since: from}
	if at := seq.Start.At; !at.IsZero() && at.Before(from) {
		p.LastHandled = at
	}
	now := from
	for step := 0; step < legacyMaxSteps; step++ {
		dec := legacyEvaluate(seq, p, now)
		abandon := false
		for _, c := range dec.Changes {
			if abandon && c.Action != schedule.ActSkip {
				continue
			}
			e := schedule.Event{At: now.UTC(), Sequence: seq.Name, Action: c.Action, Item: c.ItemName, Reason: c.Reason, Bound: c.Bound, Location: seq.Location}
			if c.Action == schedule.ActSkip {
				e.At = c.Scheduled.UTC()
				if e.At.Before(from) {
					continue // not part of the projected period
				}
			}
			if c.Action == schedule.ActItemStart {
				if _, ok := schedule.ItemStopTime(seq, &seq.Items[c.Item], now); !ok {
					e.Reason = legacyUnknownEnd
					abandon = true
				}
			}
			out = append(out, e)
		}
		p = dec.Progress
		if abandon {
			// Forget the run: the next evaluation at the same instant only
			// looks for the next start.
			p.Running, p.Item, p.ItemStarted, p.Paused = false, 0, time.Time{}, false
			continue
		}
		if dec.Next.IsZero() || dec.Next.After(until) {
			break
		}
		now = dec.Next
	}
	return out
}
