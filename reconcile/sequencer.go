package reconcile

import (
	"fmt"
	"strings"
	"time"

	"github.com/sequencer-dev/sequencer/ocs"
	"github.com/sequencer-dev/sequencer/schedule"
	"github.com/sequencer-dev/sequencer/specs"
	"github.com/sequencer-dev/sequencer/store"
)

// pass decides what one sequence needs now and returns when to look again.
func (r *Reconciler) pass(s *seqState, now time.Time) time.Time {
	if s.inflight != "" {
		return now.Add(r.cfg.Resync) // the result wakes us
	}
	if now.Before(s.retryAt) {
		s.nextAction, s.nextAt = "retry", s.retryAt
		return s.retryAt
	}
	if s.spec == nil {
		// Progress from the store whose spec has not arrived (yet).
		s.phase = PhaseWaiting
		return time.Time{}
	}
	if !s.hasProg {
		// First sight: starts before now were never this sequence's.
		s.prog = store.Progress{Sequence: s.name, SpecHash: s.spec.Hash, Generation: s.spec.Generation, LastScheduled: now}
		s.hasProg = true
		if s.deleted {
			s.gone = true
			return time.Time{}
		}
		if !r.persist(s, now) {
			return time.Time{}
		}
	}
	suspended, _ := r.suspended(s, now)
	if s.prog.Run == nil {
		if s.deleted {
			return r.forgetDeleted(s, now)
		}
		return r.passIdle(s, now, suspended)
	}
	r.skipOverlapping(s, now)
	if s.spec.Engine == specs.EngineOCS {
		return r.passOCS(s, now, suspended)
	}
	return r.passSequencer(s, now, suspended)
}

// suspended says whether dialing must stop: the spec's suspend always wins;
// otherwise an unexpired API override decides.
func (r *Reconciler) suspended(s *seqState, now time.Time) (bool, string) {
	if who := r.haltedBy(); who != "" {
		return true, who
	}
	if s.spec != nil && s.spec.Suspend {
		return true, "spec"
	}
	if o := s.prog.Override; o != nil && (o.Until.IsZero() || now.Before(o.Until)) && o.Suspended {
		return true, "api:" + o.Who
	}
	return false, ""
}

// suspendWord names why dialing is held, for history and pauses.
func (r *Reconciler) suspendWord(s *seqState, now time.Time) string {
	if _, by := r.suspended(s, now); strings.HasPrefix(by, "halt:") {
		return "dialing halted"
	}
	return "suspended"
}

// passSequencer drives the run in progress item by item (engine sequencer).
func (r *Reconciler) passSequencer(s *seqState, now time.Time, suspended bool) time.Time {
	spec := s.spec
	run := s.prog.Run
	k := runGroup(run)
	if s.observeFirst {
		if k.group != 0 && loadedState(run.ItemState) {
			if o := r.obs[k]; o == nil || o.stale {
				return r.sendStatus(s, now, r.target(spec, k))
			}
		}
		s.observeFirst = false
		r.settleFromObservation(s, now)
		r.settleOpenIntents(s, now)
	}
	var item *specs.Item
	if !s.deleted {
		for i := range spec.Items {
			if spec.Items[i].Name == run.ItemName {
				item = &spec.Items[i]
				run.Item = i
				break
			}
		}
	}
	if item == nil {
		return r.windDown(s, now, windDownReason(s))
	}
	o := r.obs[k]
	switch run.ItemState {
	case stSleeping, "":
		return r.passSleeping(s, now, item, suspended)
	case stLoading:
		return r.sendLoad(s, now, item)
	case stLoaded:
		return r.passLoaded(s, now, item, suspended)
	case stStarting:
		return r.sendStart(s, now, item)
	case stDialing:
		return r.passDialing(s, now, item, o, suspended)
	case stStopping:
		return r.sendSimple(s, now, actStop, ocs.NewStopDialing(r.target(spec, k)))
	case stPaused:
		return r.passPaused(s, now, item, o, suspended)
	case stUnloading:
		return r.sendSimple(s, now, actUnload, ocs.NewUnload(r.target(spec, k)))
	case stDraining:
		return r.passDraining(s, now, k)
	}
	return time.Time{}
}

// passSleeping waits out the sleep before an item, its window and its
// campaign group, then looks before it loads.
func (r *Reconciler) passSleeping(s *seqState, now time.Time, item *specs.Item, suspended bool) time.Time {
	spec := s.spec
	run := s.prog.Run
	if now.Before(run.SleepUntil) {
		s.phase, s.nextAction, s.nextAt = PhaseSleeping, "load "+item.Name, run.SleepUntil
		return run.SleepUntil
	}
	if suspended {
		s.phase, s.nextAction = PhaseSuspended, ""
		return time.Time{}
	}
	if item.StopAt.Time.Kind == specs.StopAbsolute && !now.Before(item.StopAt.Time.At) {
		return r.finishItem(s, now, "stop time "+item.StopAt.Time.String()+" passed before the item could start")
	}
	if !schedule.InWindow(spec, now) {
		open, ok := schedule.NextWindowOpen(spec, now)
		s.phase, s.nextAction, s.nextAt = PhasePaused, "load "+item.Name+" when the window opens", open
		if !ok {
			return time.Time{}
		}
		return open
	}
	if !r.countersUsable(s, item, now) {
		s.phase, s.nextAction = PhaseWaiting, ""
		return now.Add(r.cfg.Resync)
	}
	nk := groupKey{item.CampaignDBID, item.GroupDBID}
	if owner, ok := r.claims[nk]; ok && owner != s.name {
		r.groupWaiters[s.name] = struct{}{}
		r.setCond(s, CondConflict, true, "GroupInUse",
			fmt.Sprintf("campaign group %s is in use by sequence %q; waiting for it", nk, owner), now)
		s.phase = PhaseWaiting
		return now.Add(r.cfg.Resync)
	}
	r.claims[nk] = s.name // ours to look at; given back if someone else has it
	run.CampaignDBID, run.GroupDBID = item.CampaignDBID, item.GroupDBID
	if !r.lookedAt(nk, now) {
		// Look before loading: a group found loaded now is someone
		// else's, and after a crash between this Load's intent and
		// its sending, a group found loaded was then at least free a
		// moment before.
		s.phase = PhaseStarting
		return r.sendStatus(s, now, r.target(spec, nk))
	}
	if no := r.obs[nk]; no.status != ocs.StatusNotLoaded {
		// The same words as a Load refused with AlreadyLoaded.
		r.release(s, nk)
		r.setCond(s, CondConflict, true, "LoadedOutside",
			fmt.Sprintf("campaign group %d@%d is loaded outside the sequencer; waiting", nk.campaign, nk.group), now)
		s.phase = PhaseWaiting
		return now.Add(r.cfg.Resync)
	}
	r.setCond(s, CondConflict, false, "", "", now)
	run.ItemState = stLoading
	return r.sendLoad(s, now, item)
}

// passLoaded starts a loaded item, unless it is suspended, past its stop
// time or outside its window.
func (r *Reconciler) passLoaded(s *seqState, now time.Time, item *specs.Item, suspended bool) time.Time {
	spec := s.spec
	run := s.prog.Run
	k := runGroup(run)
	if suspended {
		s.phase = PhaseSuspended
		return time.Time{}
	}
	if reason := r.timeStop(spec, item, run, now); reason != "" {
		run.EndReason = reason
		run.ItemState = stUnloading
		return r.sendSimple(s, now, actUnload, ocs.NewUnload(r.target(spec, k)))
	}
	if !schedule.InWindow(spec, now) {
		open, _ := schedule.NextWindowOpen(spec, now)
		s.phase, s.nextAction, s.nextAt = PhasePaused, "start "+item.Name+" when the window opens", open
		return open
	}
	run.ItemState = stStarting
	return r.sendStart(s, now, item)
}

// passDialing watches a dialing item: its stops, suspends, window, pacing
// and OCS's view of its group; it polls as its count stops require.
func (r *Reconciler) passDialing(s *seqState, now time.Time, item *specs.Item, o *observation, suspended bool) time.Time {
	spec := s.spec
	run := s.prog.Run
	k := runGroup(run)
	if o != nil && o.status == ocs.StatusNotLoaded {
		return r.lostGroup(s, now, item, o)
	}
	if reason := r.stopReason(spec, item, run, o, s.pollRTT, now); reason != "" {
		run.StopGoal, run.EndReason, run.ItemState = goalEnd, reason, stStopping
		if t, ok := schedule.ItemStopTime(spec, item, run.ItemStarted); ok && !now.Before(t) && !run.ItemStarted.IsZero() {
			s.lateStop = t
		}
		return r.sendSimple(s, now, actStop, ocs.NewStopDialing(r.target(spec, k)))
	}
	if suspended {
		run.StopGoal, run.PauseReason, run.ItemState = goalPause, r.suspendWord(s, now), stStopping
		return r.sendSimple(s, now, actStop, ocs.NewStopDialing(r.target(spec, k)))
	}
	if !schedule.InWindow(spec, now) {
		run.StopGoal, run.PauseReason, run.ItemState = goalPause, schedule.ClosedReason(spec, now), stStopping
		return r.sendSimple(s, now, actStop, ocs.NewStopDialing(r.target(spec, k)))
	}
	want := pacingOf(item)
	if have := appliedPacing(run); have != want {
		if have.DialMode.LiveSwitchable(want.DialMode) {
			return r.sendSetMode(s, now, item)
		}
		run.StopGoal, run.ItemState = goalRestart, stStopping
		return r.sendSimple(s, now, actStop, ocs.NewStopDialing(r.target(spec, k)))
	}
	if o != nil && o.status == ocs.StatusInActive && now.Sub(o.since) > r.cfg.PollInterval && !(item.AutoCompletion && o.depleted) {
		r.setCond(s, CondConflict, true, "StoppedOutside",
			fmt.Sprintf("campaign group %s was stopped outside the sequencer; not restarting it", k), now)
	}
	s.phase, s.nextAction = PhaseRunning, "stop "+item.Name
	next := time.Time{}
	if t, ok := schedule.ItemStopTime(spec, item, run.ItemStarted); ok {
		next, s.nextAt = t, t
	}
	if t, ok := schedule.NextWindowChange(spec, now); ok && (next.IsZero() || t.Before(next)) {
		next = t
	}
	// Poll even without count stops, only less often: OCS may restart
	// or fail over without telling us, and its status events are not
	// retried.
	poll := s.lastPoll.Add(r.pollEvery(item, run, o, s.pollRTT))
	if !now.Before(poll) {
		return r.sendStatus(s, now, r.target(spec, k))
	}
	if next.IsZero() || poll.Before(next) {
		next = poll
	}
	return next
}

// passPaused resumes a paused item when its window opens or its suspend
// ends, or ends it at its stop time.
func (r *Reconciler) passPaused(s *seqState, now time.Time, item *specs.Item, o *observation, suspended bool) time.Time {
	spec := s.spec
	run := s.prog.Run
	k := runGroup(run)
	if reason := r.timeStop(spec, item, run, now); reason != "" {
		run.EndReason, run.ItemState = reason, stUnloading
		return r.sendSimple(s, now, actUnload, ocs.NewUnload(r.target(spec, k)))
	}
	if o != nil && o.status == ocs.StatusNotLoaded {
		return r.lostGroup(s, now, item, o)
	}
	if suspended {
		s.phase, s.nextAction = PhaseSuspended, ""
		return time.Time{}
	}
	if !schedule.InWindow(spec, now) {
		open, _ := schedule.NextWindowOpen(spec, now)
		s.phase, s.nextAction, s.nextAt = PhasePaused, "resume "+item.Name, open
		if t, ok := schedule.ItemStopTime(spec, item, run.ItemStarted); ok && t.Before(open) {
			return t
		}
		return open
	}
	cause, msg := "window", schedule.OpenReason(spec)
	if !pausedByWindow(run.PauseReason) {
		cause, msg = "suspend", run.PauseReason+" no more"
	}
	r.history(s, now, store.Event{Kind: "item-resume", Run: run.ID, Item: run.ItemName, Message: "resumed: " + msg,
		Fields: map[string]string{"cause": cause, "reason": msg}})
	run.PauseReason, run.ItemState = "", stStarting
	return r.sendStart(s, now, item)
}

// settleFromObservation finishes, from what OCS reports, a step a crash
// interrupted: if OCS already did what the -ing state was about to ask,
// the state moves on without sending the request again.
func (r *Reconciler) settleFromObservation(s *seqState, now time.Time) {
	run := s.prog.Run
	o := r.obs[runGroup(run)]
	if o == nil {
		return
	}
	before := run.ItemState
	switch {
	case run.ItemState == stLoading && o.status.Loaded() && (!s.loadUnknown || !run.OutsideSince.IsZero() || o.status == ocs.StatusRunning):
		// A Start is only ever sent after a Load's answer, so a group
		// found dialing while this item was still loading was started
		// by someone else, whoever loaded it.
		// Loaded, but no Load of ours can have done it: none left with
		// an unknown outcome, or the last one was refused because someone
		// else had the group. Not ours until a Load of ours is answered.
		r.loadedOutside(s, now, runGroup(run))
		return
	case run.ItemState == stLoading && o.status.Loaded():
		run.ItemState = stLoaded
	case run.ItemState == stStopping && o.status == ocs.StatusInActive:
		r.advance(s, result{action: actStop}, now)
	case run.ItemState == stUnloading && o.status == ocs.StatusNotLoaded:
		r.finishItem(s, now, "")
		return
	}
	if run.ItemState == stStarting && o.status == ocs.StatusRunning {
		run.ItemState = stDialing
		if run.ItemStarted.IsZero() {
			// The item's start is the Start's, whose intent was written
			// before it left; the progress after its answer may not have
			// been (a commit no request waits for can wait up to 2 s).
			// A stop "+90m" must count from then, not from the restart.
			run.ItemStarted = startedBy(s, run, now)
		}
		p := pacingOf(r.currentItem(s))
		run.DialMode, run.OptimizeBy, run.OptimizeGoal = int32(p.DialMode), int32(p.OptimizeBy), p.OptimizeGoal
	}
	if run.ItemState != before {
		// Progress was made: whatever failed before is behind us.
		s.failures, s.retryAt = 0, time.Time{}
		r.setCond(s, CondStalled, false, "", "", now)
		r.history(s, now, store.Event{Kind: "recover", Run: run.ID, Item: run.ItemName,
			Message: fmt.Sprintf("OCS reports %s: the interrupted %s step is settled without repeating the request", o.status, before)})
		r.persist(s, now)
	}
}

// startedBy is when the open Start intent of the run's current item was
// written, or now without one.
func startedBy(s *seqState, run *store.Run, now time.Time) time.Time {
	at := now
	for _, in := range s.openIntents {
		if in.Run == run.ID && in.Item == run.Item && in.Action == actStart && in.Created.Before(at) {
			at = in.Created
		}
	}
	return at
}

func (r *Reconciler) currentItem(s *seqState) *specs.Item {
	if s.spec == nil || s.prog.Run == nil {
		return &specs.Item{}
	}
	for i := range s.spec.Items {
		if s.spec.Items[i].Name == s.prog.Run.ItemName {
			return &s.spec.Items[i]
		}
	}
	return &specs.Item{}
}

// passIdle decides whether a run starts now.
func (r *Reconciler) passIdle(s *seqState, now time.Time, suspended bool) time.Time {
	spec := s.spec
	p := &s.prog
	if spec.Start.Immediate() {
		// An immediate sequence runs once per spec version: editing it
		// re-arms it, a restart does not.
		if p.Engine["immediate"] == spec.Hash {
			s.phase, s.nextAction, s.nextAt = PhaseCompleted, "", time.Time{}
			return time.Time{}
		}
		if suspended {
			s.phase = PhaseSuspended
			return time.Time{}
		}
		if p.Engine == nil {
			p.Engine = map[string]string{}
		}
		p.Engine["immediate"] = spec.Hash
		return r.beginRun(s, now, now.Truncate(time.Second))
	}
	d := schedule.Due(spec, p.LastScheduled, s.firstSeen, now)
	changed := false
	for _, sk := range d.Skipped {
		r.recordSkip(s, now, sk.Scheduled, sk.Reason, 1)
		changed = true
	}
	if extra := d.SkippedCount - len(d.Skipped); extra > 0 {
		r.recordSkip(s, now, time.Time{}, fmt.Sprintf("%d more missed starts not listed", extra), extra)
	}
	if d.OK && suspended {
		r.recordSkip(s, now, d.Run, r.suspendWord(s, now), 1)
		changed = true
		d.OK = false
		if d.Run.After(p.LastScheduled) {
			p.LastScheduled = d.Run
		}
	}
	if changed {
		r.persist(s, now)
	}
	if d.OK {
		return r.beginRun(s, now, d.Run)
	}
	s.nextAction, s.nextAt = "start", d.Next
	switch {
	case suspended:
		s.phase = PhaseSuspended
	case d.Next.IsZero():
		s.phase, s.nextAction = PhaseCompleted, ""
	default:
		s.phase = PhaseWaiting
		return r.lookAhead(s, now, d.Next)
	}
	return d.Next
}

// lookedAt reports whether campaign group k's last reading is recent
// enough at t to load it on: the look that precedes every Load.
func (r *Reconciler) lookedAt(k groupKey, t time.Time) bool {
	o := r.obs[k]
	return o != nil && !o.stale && t.Sub(o.at) < r.cfg.PollInterval
}

// lookAhead reads the first item's campaign group shortly before a start,
// so that the look that precedes every Load is already fresh when the start
// falls due: a burst of thousands of starts on the minute then costs one
// round of requests fewer on the minute itself.
func (r *Reconciler) lookAhead(s *seqState, now, next time.Time) time.Time {
	spec := s.spec
	if spec.Engine != specs.EngineSequencer || len(spec.Items) == 0 || spec.Items[0].SleepBeforeNextStart > 0 {
		return next
	}
	lead := min(2*time.Second, r.cfg.PollInterval/2)
	look := next.Add(-lead)
	if now.Before(look) {
		return look
	}
	it := spec.Items[0]
	k := groupKey{it.CampaignDBID, it.GroupDBID}
	if r.lookedAt(k, next) {
		return next // fresh enough at the start
	}
	if owner := r.claims[k]; owner != "" && owner != s.name {
		return next // another sequence's: it reads the group itself
	}
	return r.sendStatus(s, now, r.target(spec, k))
}

// skipOverlapping records the starts that came while a run is in progress:
// runs of one sequence never overlap, and such a start does not run late
// once the current run ends.
func (r *Reconciler) skipOverlapping(s *seqState, now time.Time) {
	p := &s.prog
	if p.Run == nil || s.spec.Start.Immediate() || p.LastScheduled.IsZero() {
		return
	}
	starts := schedule.Starts(s.spec, p.LastScheduled, now, schedule.SkipCap)
	if len(starts) == 0 {
		return
	}
	for _, t := range starts {
		r.recordSkip(s, now, t, "the previous run "+p.Run.ID+" was still in progress", 1)
	}
	r.persist(s, now)
}

func (r *Reconciler) recordSkip(s *seqState, now, scheduled time.Time, reason string, n int) {
	p := &s.prog
	p.SkippedStarts = append(p.SkippedStarts, store.SkippedStart{Scheduled: scheduled, Reason: reason, Count: n})
	if len(p.SkippedStarts) > 64 {
		p.SkippedStarts = p.SkippedStarts[len(p.SkippedStarts)-64:]
	}
	if scheduled.After(p.LastScheduled) {
		p.LastScheduled = scheduled
	}
	msg := "skipped start"
	fields := map[string]string{"reason": reason}
	if !scheduled.IsZero() {
		msg += " scheduled " + scheduled.UTC().Format(time.RFC3339)
		fields["scheduled"] = scheduled.UTC().Format(time.RFC3339Nano)
	}
	r.history(s, now, store.Event{Kind: "skip", Message: msg + ": " + reason, Fields: fields})
	r.log.Info("start skipped", "sequence", s.name, "scheduled", scheduled, "reason", reason)
}

func (r *Reconciler) beginRun(s *seqState, now, scheduled time.Time) time.Time {
	spec := s.spec
	p := &s.prog
	run := &store.Run{
		ID:        fmt.Sprintf("%s@%s", s.name, scheduled.UTC().Format(time.RFC3339)),
		Scheduled: scheduled.UTC(),
		Started:   now,
		ItemName:  spec.Items[0].Name,
		ItemState: stSleeping,
	}
	run.SleepUntil = now.Add(spec.Items[0].SleepBeforeNextStart)
	p.Run = run
	if scheduled.After(p.LastScheduled) {
		p.LastScheduled = scheduled
	}
	p.FiredStarts = append(p.FiredStarts, scheduled.UTC())
	if len(p.FiredStarts) > 64 {
		p.FiredStarts = p.FiredStarts[len(p.FiredStarts)-64:]
	}
	p.SpecHash, p.Generation = spec.Hash, spec.Generation
	r.history(s, now, store.Event{Kind: "run-start", Run: run.ID, SpecHash: spec.Hash,
		Message: fmt.Sprintf("run started (scheduled %s, %s late)", scheduled.UTC().Format(time.RFC3339), now.Sub(scheduled).Round(time.Millisecond))})
	r.log.Info("run started", "sequence", s.name, "run", run.ID)
	s.lateStart = scheduled
	if !r.persist(s, now) {
		return time.Time{}
	}
	s.phase = PhaseStarting
	return r.pass(s, now)
}

// timeStop reports a time-based reason to end an item that is loaded but not
// dialing.
func (r *Reconciler) timeStop(spec *specs.Sequence, item *specs.Item, run *store.Run, now time.Time) string {
	if run.EndReason != "" {
		return run.EndReason
	}
	started := run.ItemStarted
	if started.IsZero() {
		started = now
	}
	if t, ok := schedule.ItemStopTime(spec, item, started); ok && !now.Before(t) {
		return "stop time " + item.StopAt.Time.String() + " reached"
	}
	return ""
}

// stopReason is the first stop condition met by a dialing item. Count
// stops look ahead by lead (a status round trip): the counters OCS
// reported are that old by the time a stop sent now arrives, so the stop
// leaves when the count projected at its arrival reaches the limit.
func (r *Reconciler) stopReason(spec *specs.Sequence, item *specs.Item, run *store.Run, o *observation, lead time.Duration, now time.Time) string {
	if reason := r.timeStop(spec, item, run, now); reason != "" {
		return reason
	}
	if o == nil || !o.has {
		return ""
	}
	dials, contacts := itemCounters(run, o)
	ahead := func(n int64, rate float64) float64 { return float64(n) + rate*lead.Seconds() }
	if item.StopAt.Contacts > 0 && ahead(contacts, o.contactRate) >= float64(item.StopAt.Contacts) {
		return plural(int64(item.StopAt.Contacts), "contact") + " reached"
	}
	if item.StopAt.Dials > 0 && ahead(dials, o.dialRate) >= float64(item.StopAt.Dials) {
		return plural(int64(item.StopAt.Dials), "dial") + " reached"
	}
	if !item.AutoCompletion && !o.stale && o.status == ocs.StatusRunning && o.stats.RecordsLeft == 0 {
		// Without auto-completion OCS keeps an empty list running for
		// ever; the item is over (with it, OCS ends it by itself).
		return "calling list depleted"
	}
	return ""
}

// itemCounters are the dials and contacts of the item so far: what earlier
// loads of it carried, plus what OCS counted since the current load.
func itemCounters(run *store.Run, o *observation) (dials, contacts int64) {
	dials = run.Carried.Dials + int64(o.stats.Dials) - run.CountersAtStart.Dials
	contacts = run.Carried.Contacts + int64(o.stats.Contacts) - run.CountersAtStart.Contacts
	return dials, contacts
}

func needsPolling(it *specs.Item) bool {
	return countStops(it) || it.AutoCompletion
}

func countStops(it *specs.Item) bool { return it.StopAt.Contacts > 0 || it.StopAt.Dials > 0 }

// countersUsable decides whether an item may start on this link. Without
// dial counters (a seed-faithful OCS sends none) stopAt.contacts/dials can
// never fire: an item that nothing else can end must not start, and one
// that a time stop or auto-completion can end runs with a warning.
func (r *Reconciler) countersUsable(s *seqState, item *specs.Item, now time.Time) bool {
	if !countStops(item) || r.cfg.Link.Capabilities().Counters {
		r.setCond(s, CondCountersUnavailable, false, "", "", now)
		return true
	}
	const fix = "the OCS link carries no dial counters; add stopAt.time, or use a link that reports counters (run --ocs-counters with a sidecar that reads Stat Server, or the simulator)"
	if item.StopAt.Time.Kind == specs.StopNone && !item.AutoCompletion {
		r.setCond(s, CondCountersUnavailable, true, "CountStopsOnly",
			fmt.Sprintf("item %s can only end by stopAt.contacts/dials, which cannot be decided: not starting it; %s", item.Name, fix), now)
		return false
	}
	r.setCond(s, CondCountersUnavailable, true, "CountStopsIgnored",
		fmt.Sprintf("item %s runs, but its stopAt.contacts/dials are ignored; %s", item.Name, fix), now)
	return true
}

// minPoll bounds how often one sequence polls, whatever the dial rate;
// learnPoll is the pace until two counter samples give a rate.
const (
	minPoll   = 100 * time.Millisecond
	learnPoll = 250 * time.Millisecond
)

// pollEvery is how long a dialing item waits between status polls. For a
// count stop it follows the observed rate: half the time until the count
// projected one round trip ahead reaches the limit, so polls close in on
// the crossing and the stop leaves when its arrival will land on the
// limit. PollInterval caps it, minPoll floors it.
func (r *Reconciler) pollEvery(item *specs.Item, run *store.Run, o *observation, lead time.Duration) time.Duration {
	if !needsPolling(item) {
		return r.cfg.Resync
	}
	every := r.cfg.PollInterval
	if !countStops(item) || !r.cfg.Link.Capabilities().Counters {
		return every
	}
	if o == nil || !o.has || (o.dialRate <= 0 && o.contactRate <= 0) {
		return min(every, learnPoll) // learn the rate first
	}
	dials, contacts := itemCounters(run, o)
	bound := func(limit int32, done int64, rate float64) {
		if limit <= 0 {
			return
		}
		if rate <= 0 {
			// Dials flow but no contact has come yet: no rate to plan
			// with, so keep learning.
			every = min(every, learnPoll)
			return
		}
		left := float64(int64(limit)-done)/rate - lead.Seconds()
		if d := time.Duration(0.5 * left * float64(time.Second)); d < every {
			every = d
		}
	}
	bound(item.StopAt.Dials, dials, o.dialRate)
	bound(item.StopAt.Contacts, contacts, o.contactRate)
	return max(every, minPoll)
}

// lostGroup handles a dialing (or paused) item whose group OCS reports
// unloaded. With auto-completion and an empty list that is the item's end;
// otherwise OCS lost it (restart, failover) and the item is loaded again and
// continues, its counters carried over.
func (r *Reconciler) lostGroup(s *seqState, now time.Time, item *specs.Item, o *observation) time.Time {
	run := s.prog.Run
	if o.depleted {
		if item.AutoCompletion {
			return r.finishItem(s, now, "calling list depleted (auto-completion)")
		}
		return r.finishItem(s, now, "calling list depleted; campaign group unloaded by OCS")
	}
	// A poll that finds the group gone, with no stop/unload events seen,
	// is ambiguous: an OCS restart, or an auto-completion whose events were
	// lost with the link. Reload once; if OCS lets it go again at once with
	// nothing dialed, the list is empty: never a reload loop.
	if item.AutoCompletion && !run.ReloadedAt.IsZero() && now.Sub(run.ReloadedAt) < ambiguousReload && !(o.has && o.stats.Dials > 0) &&
		s.reloadEpoch == r.linkUps {
		// (A reconnect since the reload explains the loss: an OCS restart.)
		return r.finishItem(s, now, "calling list depleted: OCS unloaded the campaign group again right after a reload, without dialing (no auto-completion events seen)")
	}
	run.ReloadedAt = now
	s.reloadEpoch = r.linkUps
	r.history(s, now, store.Event{Kind: "decision", Run: run.ID, Item: item.Name,
		Message: "OCS no longer has the campaign group loaded (OCS restart?); loading it again"})
	run.Carried.Dials += int64(o.stats.Dials) - run.CountersAtStart.Dials
	run.Carried.Contacts += int64(o.stats.Contacts) - run.CountersAtStart.Contacts
	run.CountersAtStart = store.Counters{}
	run.Segment++
	run.ItemState = stLoading
	return r.sendLoad(s, now, item)
}

// ambiguousReload: a group lost again this soon after its reload, with
// nothing dialed, is taken as depleted.
const ambiguousReload = time.Minute

// passDraining waits for OCS to finish unloading; past the timeout it
// forces the unload.
func (r *Reconciler) passDraining(s *seqState, now time.Time, k groupKey) time.Time {
	o := r.obs[k]
	if o == nil || o.status == ocs.StatusNotLoaded {
		return r.finishItem(s, now, "")
	}
	if now.Sub(o.since) >= r.cfg.WaitingUnloadTimeout {
		r.history(s, now, store.Event{Kind: "decision", Run: s.prog.Run.ID,
			Message: fmt.Sprintf("campaign group %s stuck in %s for %s; forcing the unload", k, o.status, now.Sub(o.since).Round(time.Second))})
		return r.sendSimple(s, now, actForceUnload, ocs.NewForceUnload(r.target(s.spec, k)))
	}
	poll := s.lastPoll.Add(r.cfg.PollInterval)
	if !now.Before(poll) {
		return r.sendStatus(s, now, r.target(s.spec, k))
	}
	deadline := o.since.Add(r.cfg.WaitingUnloadTimeout)
	if poll.Before(deadline) {
		return poll
	}
	return deadline
}

// windDown stops and unloads the run's current group because its item was
// removed from the spec or the sequence was deleted, then moves on.
func (r *Reconciler) windDown(s *seqState, now time.Time, reason string) time.Time {
	run := s.prog.Run
	k := runGroup(run)
	if run.EndReason == "" {
		run.EndReason = reason
	}
	if s.deleted && s.spec.OnDelete == specs.OnDeleteOrphan {
		return r.forgetDeleted(s, now)
	}
	s.phase = PhaseDeleting
	switch run.ItemState {
	case stLoading, stLoaded, stPaused, stUnloading:
		run.ItemState = stUnloading
		return r.sendSimple(s, now, actUnload, ocs.NewUnload(r.target(s.spec, k)))
	case stStarting, stDialing, stStopping:
		run.StopGoal, run.ItemState = goalEnd, stStopping
		return r.sendSimple(s, now, actStop, ocs.NewStopDialing(r.target(s.spec, k)))
	case stDraining:
		return r.passDraining(s, now, k)
	}
	return r.finishItem(s, now, run.EndReason)
}

func windDownReason(s *seqState) string {
	if s.deleted {
		return "sequence deleted from specs"
	}
	return "item removed from spec"
}

// finishItem records the end of the current item and moves the run on.
func (r *Reconciler) finishItem(s *seqState, now time.Time, reason string) time.Time {
	run := s.prog.Run
	if reason == "" {
		reason = run.EndReason
	}
	if reason == "" {
		reason = "ended"
	}
	k := runGroup(run)
	res := store.ItemResult{Name: run.ItemName, Started: run.ItemStarted, Ended: now, Reason: reason}
	if o := r.obs[k]; o != nil && o.has {
		res.Dials, res.Contacts = itemCounters(run, &observation{stats: o.stats, has: true})
	}
	run.Items = append(run.Items, res)
	r.release(s, k)
	r.history(s, now, store.Event{Kind: "item-end", Run: run.ID, Item: run.ItemName,
		Message: fmt.Sprintf("item %s ended: %s (%s, %s%s)", run.ItemName, reason, plural(res.Dials, "dial"), plural(res.Contacts, "contact"), overshoot(r.currentItem(s), res)),
		Fields:  map[string]string{"reason": reason}})
	r.log.Info("item ended", "sequence", s.name, "item", run.ItemName, "reason", reason, "dials", res.Dials, "contacts", res.Contacts)

	next := -1
	if !s.deleted && s.spec.Engine != specs.EngineOCS {
		pos := run.Item
		if pos < len(s.spec.Items) && s.spec.Items[pos].Name == run.ItemName {
			pos++ // the item still exists: the next is after it
		}
		if pos < len(s.spec.Items) {
			next = pos
		}
	}
	if next < 0 {
		return r.endRun(s, now)
	}
	it := s.spec.Items[next]
	*run = store.Run{
		ID: run.ID, Scheduled: run.Scheduled, Started: run.Started, Items: run.Items,
		Item: next, ItemName: it.Name, ItemState: stSleeping, SleepUntil: now.Add(it.SleepBeforeNextStart),
	}
	if !r.persist(s, now) {
		return time.Time{}
	}
	return now
}

// overshoot says how far a count-bound item went past its limit, so that
// the history shows how well the polls kept up.
func overshoot(it *specs.Item, res store.ItemResult) string {
	out := ""
	if it.StopAt.Dials > 0 && res.Dials >= int64(it.StopAt.Dials) {
		out += "; overshoot " + plural(res.Dials-int64(it.StopAt.Dials), "dial")
	}
	if it.StopAt.Contacts > 0 && res.Contacts >= int64(it.StopAt.Contacts) {
		out += "; overshoot " + plural(res.Contacts-int64(it.StopAt.Contacts), "contact")
	}
	return out
}

func (r *Reconciler) endRun(s *seqState, now time.Time) time.Time {
	p := &s.prog
	run := p.Run
	p.Completed = append(p.Completed, store.RunSummary{ID: run.ID, Scheduled: run.Scheduled, Started: run.Started, Ended: now, Items: run.Items})
	if len(p.Completed) > 16 {
		p.Completed = p.Completed[len(p.Completed)-16:]
	}
	p.Run = nil
	if s.spec != nil && s.spec.Start.Immediate() {
		// Edits made while the run went on belong to this run: they do
		// not start another one.
		if p.Engine == nil {
			p.Engine = map[string]string{}
		}
		p.Engine["immediate"] = s.spec.Hash
	}
	r.history(s, now, store.Event{Kind: "run-end", Run: run.ID, Message: fmt.Sprintf("run ended after %d items", len(run.Items))})
	r.log.Info("run ended", "sequence", s.name, "run", run.ID)
	if !r.persist(s, now) {
		return time.Time{}
	}
	return now
}

// release gives a campaign group back and wakes the sequences waiting for
// it, so they need not wait for the resync.
func (r *Reconciler) release(s *seqState, k groupKey) {
	if k.group == 0 || r.claims[k] != s.name {
		return
	}
	delete(r.claims, k)
	// Only sequences that waited for a group are woken; the set spares a
	// walk over every sequence at each item's end.
	for name := range r.groupWaiters {
		if o := r.seqs[name]; o != nil {
			if c := o.conds[CondConflict]; c != nil && c.Status && c.Reason == "GroupInUse" {
				r.markDirty(name)
				continue
			}
		}
		delete(r.groupWaiters, name)
	}
}

// forgetDeleted removes a deleted sequence's progress (history stays).
func (r *Reconciler) forgetDeleted(s *seqState, now time.Time) time.Time {
	if run := s.prog.Run; run != nil {
		k := runGroup(run)
		r.release(s, k)
		if s.spec.OnDelete == specs.OnDeleteOrphan && loadedState(run.ItemState) {
			r.history(s, now, store.Event{Kind: "decision", Run: run.ID,
				Message: fmt.Sprintf("sequence deleted with onDelete: orphan; campaign group %s left as it is in OCS", k)})
		}
	}
	r.awaitCommit() // a write of its progress on the way must not bring it back
	if err := r.cfg.Store.DeleteProgress(s.name); err != nil {
		r.fail(s, now, "", fmt.Errorf("delete progress: %w", err))
		return time.Time{}
	}
	r.history(s, now, store.Event{Kind: "spec-change", Message: "sequence removed"})
	s.gone = true
	return time.Time{}
}

func pacingOf(it *specs.Item) ocs.Pacing {
	return ocs.Pacing{DialMode: it.DialMode, OptimizeBy: it.Optimize.By, OptimizeGoal: it.Optimize.Goal}
}

func appliedPacing(run *store.Run) ocs.Pacing {
	return ocs.Pacing{DialMode: ocs.DialMode(run.DialMode), OptimizeBy: ocs.OptimizeMethod(run.OptimizeBy), OptimizeGoal: run.OptimizeGoal}
}

// plural says "1 dial" and "2 dials".
func plural(n int64, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
