package schedule

import (
	"fmt"
	"time"

	"github.com/sequencer-dev/sequencer/specs"
)

// State is the desired state of a sequence at an instant.
type State uint8

const (
	Idle               State = iota // suspended, or nothing to run (no items)
	WaitingForStart                 // no run in progress; Next is the next start
	SleepingBeforeItem              // sleepBeforeNextStart of item Decision.Item
	ItemDialing                     // item Decision.Item dials
	ItemPausedByWindow              // item Decision.Item waits for the window (started or not)
	Done                            // a one-shot sequence (start.at or immediate) has run
)

var stateNames = [...]string{"Idle", "WaitingForStart", "SleepingBeforeItem", "ItemDialing", "ItemPausedByWindow", "Done"}

func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return fmt.Sprintf("State(%d)", s)
}

// Action names what changed; the strings are those of `sequencer plan`.
type Action string

const (
	ActSequenceStart Action = "sequence-start"
	ActItemStart     Action = "item-start"
	ActItemStop      Action = "item-stop"
	ActWindowPause   Action = "window-pause"
	ActWindowResume  Action = "window-resume"
	ActSequenceEnd   Action = "sequence-end"
	ActSkip          Action = "skip"
)

// Progress is what the caller records about a sequence between
// evaluations; Evaluate returns the progress after the changes it decided.
// Every field is an instant the caller persisted, never a duration counted
// from a clock, so a clock step cannot replay a change.
type Progress struct {
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

// Change is one thing that happens at the evaluated instant.
type Change struct {
	Action    Action
	Item      int       // index, for item actions; -1 otherwise
	ItemName  string    // for item actions
	Scheduled time.Time // the start instant, for sequence-start and skip
	Reason    string    // for stops, pauses, resumes and skips
	Bound     string    // for item-start: "until 500 contacts or 20:30"
}

// Decision is the answer of Evaluate.
type Decision struct {
	State State
	Item  int // the current item for item states; -1 otherwise
	// Progress is the progress after Changes; the caller persists it once
	// it has acted on them.
	Progress Progress
	// Changes happen now, in order: starts, skips, item stops (with their
	// reasons), item starts, pauses, resumes, the end of a run.
	Changes []Change
	// SkippedCount is the exact number of skipped starts among Changes and
	// beyond (skips are listed up to SkipCap per evaluation).
	SkippedCount int
	// Stop is the time stop of the current item, when it has one.
	Stop      time.Time
	StopKnown bool
	// Next is the next instant, strictly after now, at which the decision
	// can change without anything but time passing; zero if none (Idle,
	// Done, or an item that only a count or depletion can end).
	Next   time.Time
	Reason string // why the state is what it is, for status
}

// Evaluate returns the desired state of seq at now given the recorded
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
func Evaluate(seq *specs.Sequence, p Progress, now time.Time) Decision {
	d := Decision{Item: -1, Progress: p}
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
			changed = stepRun(seq, pr, now, &d)
		}
		if handleStarts(seq, pr, now, &d) {
			changed = true
		}
		if !changed {
			break
		}
	}
	settle(seq, pr, now, &d)
	return d
}

// handleStarts records the starts due at now: a new run if none is in
// progress, skips otherwise.
func handleStarts(seq *specs.Sequence, pr *Progress, now time.Time, d *Decision) bool {
	if seq.Start.Immediate() {
		if pr.Running || !pr.LastHandled.IsZero() {
			return false
		}
		key := pr.Since
		if key.IsZero() || key.After(now) {
			key = now
		}
		beginRun(pr, key.UTC(), now, d)
		return true
	}
	due := Due(seq, pr.LastHandled, pr.Since, now)
	if !due.OK && due.SkippedCount == 0 {
		return false
	}
	for _, s := range due.Skipped {
		d.Changes = append(d.Changes, Change{Action: ActSkip, Item: -1, Scheduled: s.Scheduled, Reason: s.Reason})
	}
	d.SkippedCount += due.SkippedCount
	if last := due.Latest(); !last.IsZero() {
		pr.LastHandled = last
	}
	if !due.OK {
		return true
	}
	if pr.Running {
		d.Changes = append(d.Changes, Change{Action: ActSkip, Item: -1, Scheduled: due.Run,
			Reason: fmt.Sprintf("the run that started %s is still in progress; runs of one sequence never overlap", inLoc(seq, pr.Run).Format(time.RFC3339))})
		d.SkippedCount++
		return true
	}
	beginRun(pr, due.Run, now, d)
	return true
}

func beginRun(pr *Progress, key, now time.Time, d *Decision) {
	pr.Running, pr.Run, pr.LastHandled = true, key, key
	pr.Item, pr.ItemStarted, pr.PrevEnded, pr.Paused = 0, time.Time{}, now, false
	d.Changes = append(d.Changes, Change{Action: ActSequenceStart, Item: -1, Scheduled: key})
}

// stepRun makes at most one change to the run in progress at now.
func stepRun(seq *specs.Sequence, pr *Progress, now time.Time, d *Decision) bool {
	i := pr.Item
	if i < 0 {
		i, pr.Item = 0, 0
	}
	if i >= len(seq.Items) {
		pr.Running, pr.Item, pr.ItemStarted, pr.Paused = false, 0, time.Time{}, false
		d.Changes = append(d.Changes, Change{Action: ActSequenceEnd, Item: -1, Scheduled: pr.Run})
		return true
	}
	it := &seq.Items[i]
	if pr.ItemStarted.IsZero() {
		if stop, ok := fixedStop(it); ok && !stop.After(now) {
			endItem(pr, it, now, d, fmt.Sprintf("%s had passed before the item could start; ended without dialing", stopText(it)))
			return true
		}
		if now.Before(pr.PrevEnded.Add(it.SleepBeforeNextStart)) || !InWindow(seq, now) {
			return false
		}
		pr.ItemStarted, pr.Paused = now, false
		d.Changes = append(d.Changes, Change{Action: ActItemStart, Item: i, ItemName: it.Name, Bound: Bound(seq, it, now)})
		return true
	}
	if stop, ok := ItemStopTime(seq, it, pr.ItemStarted); ok && !stop.After(now) {
		reason := stopText(it) + " reached"
		if pr.Paused {
			reason += " while paused by the calling window"
		}
		endItem(pr, it, now, d, reason)
		return true
	}
	in := InWindow(seq, now)
	switch {
	case !pr.Paused && !in:
		pr.Paused = true
		d.Changes = append(d.Changes, Change{Action: ActWindowPause, Item: i, ItemName: it.Name, Reason: closedReason(seq, now)})
		return true
	case pr.Paused && in:
		pr.Paused = false
		d.Changes = append(d.Changes, Change{Action: ActWindowResume, Item: i, ItemName: it.Name, Reason: "calling window open (" + windowText(seq.Window) + ")"})
		return true
	}
	return false
}

func endItem(pr *Progress, it *specs.Item, now time.Time, d *Decision, reason string) {
	d.Changes = append(d.Changes, Change{Action: ActItemStop, Item: pr.Item, ItemName: it.Name, Reason: reason})
	pr.Item++
	pr.ItemStarted, pr.PrevEnded, pr.Paused = time.Time{}, now, false
}

// closedReason says why the window is closed at t.
func closedReason(seq *specs.Sequence, t time.Time) string {
	w := seq.Window
	loc := seq.Location
	if loc == nil {
		loc = time.UTC
	}
	lt := t.In(loc)
	for _, e := range w.ExceptDates {
		if y, m, dd := lt.Date(); e.Year == y && e.Month == m && e.Day == dd {
			return "calling window closed: except date " + e.String()
		}
	}
	return "calling window closed (" + windowText(w) + ")"
}

// settle fills in the state, the stop time and Next from the progress.
func settle(seq *specs.Sequence, pr *Progress, now time.Time, d *Decision) {
	next := func(t time.Time, ok bool) {
		if ok && t.After(now) && (d.Next.IsZero() || t.Before(d.Next)) {
			d.Next = t
		}
	}
	nextStart, hasStart := NextStart(seq, now)
	if !pr.Running {
		switch {
		case hasStart:
			d.State, d.Reason = WaitingForStart, "waiting for the next start"
			next(nextStart, true)
		case seq.Start.Immediate() && pr.LastHandled.IsZero():
			// Cannot happen after handleStarts; kept for safety.
			d.State, d.Reason = WaitingForStart, "starts as soon as loaded"
		default:
			d.State, d.Reason = Done, "the one-shot run has been handled"
		}
		return
	}
	// A start that comes during the run changes the answer (a skip).
	next(nextStart, hasStart)
	i := pr.Item
	it := &seq.Items[i]
	d.Item = i
	if pr.ItemStarted.IsZero() {
		stop, ok := fixedStop(it)
		d.Stop, d.StopKnown = stop, ok
		next(stop, ok)
		ready := pr.PrevEnded.Add(it.SleepBeforeNextStart)
		if now.Before(ready) {
			d.State, d.Reason = SleepingBeforeItem, fmt.Sprintf("sleepBeforeNextStart %s", it.SleepBeforeNextStart)
			next(ready, true)
			return
		}
		d.State, d.Reason = ItemPausedByWindow, closedReason(seq, now)+"; the item starts at the next opening"
		next(NextWindowOpen(seq, now))
		return
	}
	stop, ok := ItemStopTime(seq, it, pr.ItemStarted)
	d.Stop, d.StopKnown = stop, ok
	next(stop, ok)
	if pr.Paused {
		d.State, d.Reason = ItemPausedByWindow, closedReason(seq, now)
		next(NextWindowOpen(seq, now))
		return
	}
	d.State, d.Reason = ItemDialing, Bound(seq, it, pr.ItemStarted)
	next(NextWindowChange(seq, now))
}

func inLoc(seq *specs.Sequence, t time.Time) time.Time {
	if seq.Location == nil {
		return t.UTC()
	}
	return t.In(seq.Location)
}
