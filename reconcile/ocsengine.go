package reconcile

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/sequencer-dev/sequencer/ocs"
	"github.com/sequencer-dev/sequencer/schedule"
	"github.com/sequencer-dev/sequencer/specs"
	"github.com/sequencer-dev/sequencer/store"
)

// The ocs engine hands the whole sequence to OCS as one campaign_schedule
// (CampaignDBID 0) and follows it by polling. Its bookkeeping lives in
// Progress.Engine: "base" is the spec index of the first submitted item,
// "startTime" the submitted startTime, "seen" the highest item index OCS
// has reported active. Pausing (suspend) stops and unloads the OCS sequence;
// resuming, like recovering from an OCS restart, submits the items not yet
// finished.

const (
	engBase      = "base"
	engStartTime = "startTime"
	engSeen      = "seen"
	// engItemStart: when OCS was first seen running the current item.
	// engResume: "run|item|unix": the item OCS lost while running it, to be
	// submitted again without its sleep and with its stop time counted
	// from when it really started.
	engItemStart = "itemStart"
	engResume    = "resume"
)

// resumeOf returns when the item at base started, if the submission
// resumes an item OCS lost while running it.
func resumeOf(p *store.Progress, base int) (time.Time, bool) {
	v := p.Engine[engResume]
	if v == "" || p.Run == nil {
		return time.Time{}, false
	}
	parts := strings.Split(v, "|")
	if len(parts) != 3 || parts[0] != p.Run.ID || parts[1] != strconv.Itoa(base) {
		return time.Time{}, false
	}
	sec, err := strconv.ParseInt(parts[2], 10, 64)
	if err != nil {
		return time.Time{}, false
	}
	return time.Unix(sec, 0).UTC(), true
}

func engInt(p *store.Progress, k string, def int64) int64 {
	if v, err := strconv.ParseInt(p.Engine[k], 10, 64); err == nil {
		return v
	}
	return def
}

func engSet(p *store.Progress, k string, v int64) {
	if p.Engine == nil {
		p.Engine = map[string]string{}
	}
	p.Engine[k] = strconv.FormatInt(v, 10)
}

// buildSchedule renders the items from base on. Stop times are absolute in
// campaign_schedule, so relative ones are resolved against an estimate of
// each item's start: the previous item's stop time (or the submit time)
// plus its sleep.
func (r *Reconciler) buildSchedule(s *seqState) ocs.Schedule {
	spec, p := s.spec, &s.prog
	base := int(engInt(p, engBase, 0))
	start := time.Unix(engInt(p, engStartTime, 0), 0).UTC()
	sch := ocs.Schedule{Description: spec.Description, StartTime: ocs.EncodeTime(start)}
	if sch.Description == "" {
		sch.Description = spec.Name
	}
	t := start
	resumed, resuming := resumeOf(p, base)
	for i := base; i < len(spec.Items); i++ {
		it := &spec.Items[i]
		if i == base && resuming {
			// OCS lost this item while it dialed: no second sleep, and
			// its stop time counts from its real start.
			t = resumed
		} else {
			t = t.Add(it.SleepBeforeNextStart)
		}
		si := ocs.ScheduleItem{
			StopAtContacts: it.StopAt.Contacts, StopAtDials: it.StopAt.Dials,
			SleepBeforeNextStart: sleepMinutes(it, i == base && resuming),
			CampaignDBID:         it.CampaignDBID, DialMode: it.DialMode,
			OptMethod: it.Optimize.By, OptMethodValue: it.Optimize.Goal,
		}
		if stop, ok := schedule.ItemStopTime(spec, it, t); ok {
			si.StopAtTime = ocs.EncodeTime(stop)
			t = stop
		}
		sch.Items = append(sch.Items, si)
	}
	return sch
}

func sleepMinutes(it *specs.Item, resumed bool) int32 {
	if resumed {
		return 0
	}
	return int32(it.SleepBeforeNextStart / time.Minute)
}

func (r *Reconciler) seqTarget(s *seqState) ocs.Target {
	return r.target(s.spec, groupKey{0, s.prog.Run.GroupDBID})
}

func (r *Reconciler) seqRequest(s *seqState, now time.Time, action string) time.Time {
	t := r.seqTarget(s)
	sch := r.buildSchedule(s)
	first := s.spec.Items[int(engInt(&s.prog, engBase, 0))]
	auto := s.spec.AutoCompletion
	var req ocs.Message
	switch action {
	case actLoad:
		req = ocs.NewLoad(t, pacingOf(&first), &auto)
	case actStart:
		req = ocs.NewStartDialing(t, pacingOf(&first), &auto)
	case actStop:
		req = ocs.NewStopDialing(t)
	case actUnload:
		req = ocs.NewUnload(t)
	case actStatus:
		req = ocs.NewGetCampaignStatus(t)
	}
	req = req.WithSchedule(sch)
	return r.send(s, now, action, req, action != actStatus)
}

// passOCS follows the run in progress of an OCS-side sequence (engine ocs).
func (r *Reconciler) passOCS(s *seqState, now time.Time, suspended bool) time.Time {
	spec := s.spec
	run := s.prog.Run
	if s.deleted {
		if spec.OnDelete == specs.OnDeleteOrphan {
			return r.forgetDeleted(s, now)
		}
		run.EndReason = "sequence deleted from specs"
		switch run.ItemState {
		case stSleeping, "", stPaused:
			return r.endRun(s, now)
		case stLoading, stLoaded, stUnloading:
			run.ItemState = stUnloading
			return r.seqRequest(s, now, actUnload)
		default:
			run.StopGoal, run.ItemState = goalEnd, stStopping
			return r.seqRequest(s, now, actStop)
		}
	}
	switch run.ItemState {
	case stSleeping, "", stPaused:
		if suspended {
			s.phase = PhaseSuspended
			return time.Time{}
		}
		if run.Item >= len(spec.Items) {
			return r.endRun(s, now)
		}
		run.CampaignDBID, run.GroupDBID = 0, spec.Items[0].GroupDBID
		engSet(&s.prog, engBase, int64(run.Item))
		engSet(&s.prog, engStartTime, now.Unix())
		engSet(&s.prog, engSeen, int64(run.Item)-1)
		for _, it := range spec.Items[run.Item:] {
			r.claims[groupKey{it.CampaignDBID, it.GroupDBID}] = s.name
		}
		r.claims[groupKey{0, run.GroupDBID}] = s.name
		run.ItemState, run.PauseReason = stLoading, ""
		return r.seqRequest(s, now, actLoad)
	case stLoading:
		return r.seqRequest(s, now, actLoad)
	case stLoaded:
		run.ItemState = stStarting
		return r.seqRequest(s, now, actStart)
	case stStarting:
		return r.seqRequest(s, now, actStart)
	case stDialing:
		if suspended {
			run.StopGoal, run.PauseReason, run.ItemState = goalPause, "suspended", stStopping
			return r.seqRequest(s, now, actStop)
		}
		s.phase, s.nextAction = PhaseRunning, "poll OCS sequence"
		poll := s.lastPoll.Add(r.cfg.PollInterval)
		if !now.Before(poll) {
			return r.seqRequest(s, now, actStatus)
		}
		s.nextAt = poll
		return poll
	case stStopping:
		return r.seqRequest(s, now, actStop)
	case stUnloading:
		return r.seqRequest(s, now, actUnload)
	}
	return time.Time{}
}

func (r *Reconciler) advanceOCS(s *seqState, res result, now time.Time) {
	run := s.prog.Run
	if run == nil {
		return
	}
	switch res.action {
	case actLoad:
		run.ItemState = stLoaded
	case actStart:
		run.ItemState = stDialing
		s.lastPoll = now
		if run.ItemStarted.IsZero() {
			run.ItemStarted = now
		}
		if base := int(engInt(&s.prog, engBase, 0)); base < len(s.spec.Items) {
			if _, resuming := resumeOf(&s.prog, base); !resuming {
				engSet(&s.prog, engItemStart, now.Add(s.spec.Items[base].SleepBeforeNextStart).Unix())
			}
		}
		r.history(s, now, store.Event{Kind: "decision", Run: run.ID,
			Message: fmt.Sprintf("OCS runs the sequence from item %s", run.ItemName)})
		// OCS may start the first item (no sleep) and say so before it
		// answers the start: an item group already seen running counts
		// now, as it would had the answer come first.
		for i := int(engInt(&s.prog, engBase, 0)); i < len(s.spec.Items); i++ {
			k := groupKey{s.spec.Items[i].CampaignDBID, run.GroupDBID}
			if o := r.obs[k]; o != nil && !o.stale && o.status == ocs.StatusRunning {
				r.observeOCSItem(s, k, o.status, now)
				break
			}
		}
	case actStop:
		run.ItemState = stUnloading
	case actUnload:
		if s.deleted || run.StopGoal == goalEnd {
			r.endRun(s, now)
			return
		}
		run.Segment++
		run.ItemState = stPaused
		r.history(s, now, store.Event{Kind: "item-pause", Run: run.ID, Message: "OCS sequence stopped and unloaded: " + run.PauseReason})
	}
	r.persist(s, now)
}

// observeSequence follows an OCS-side sequence's per-item status: an item
// OCS reports active means every earlier item is finished.
func (r *Reconciler) observeSequence(m ocs.Message, now time.Time) {
	owner := r.claims[groupKey{0, m.GroupDBID}]
	s := r.seqs[owner]
	if s == nil || s.prog.Run == nil || s.spec == nil {
		return
	}
	sch, ok, err := m.Schedule()
	if !ok || err != nil {
		return
	}
	r.markDirty(owner)
	p, run := &s.prog, s.prog.Run
	base := int(engInt(p, engBase, 0))
	seen := int(engInt(p, engSeen, int64(base)-1))
	active, allIdle := -1, true
	for i, it := range sch.Items {
		if it.HasStatus && it.Status != ocs.StatusNotLoaded {
			active, allIdle = base+i, false
		}
	}
	changed := false
	if active > seen {
		for i := max(run.Item, 0); i < active && i < len(s.spec.Items); i++ {
			r.recordOCSItem(s, now, i, "ended in OCS")
		}
		switch t, ok := resumeOf(p, active); {
		case ok:
			run.ItemStarted = t
		case active == base && p.Engine[engItemStart] != "":
			// The first item of a submission starts at Start plus its
			// sleep, as the schedule OCS was given counts it.
			run.ItemStarted = time.Unix(engInt(p, engItemStart, now.Unix()), 0).UTC()
		default:
			run.ItemStarted = now
			engSet(p, engItemStart, now.Unix())
		}
		run.Item, run.ItemName = active, s.spec.Items[active].Name
		engSet(p, engSeen, int64(active))
		r.history(s, now, store.Event{Kind: "item-start", Run: run.ID, Item: run.ItemName,
			Message: fmt.Sprintf("item %s dialing in OCS", run.ItemName)})
		changed = true
	}
	// Done: the last item was seen and is idle, or OCS says the sequence
	// itself no longer runs while every item is idle (its last items ran
	// between two polls). Before its first item OCS reports the sequence
	// running, so a sleep before the first item is not taken for the end.
	over := m.Has&ocs.AttrGroupCampStatus != 0 && m.GroupCampStatus != ocs.StatusRunning
	if allIdle && run.ItemState == stDialing && (seen == len(s.spec.Items)-1 || over) {
		for i := max(run.Item, 0); i < len(s.spec.Items); i++ {
			r.recordOCSItem(s, now, i, "ended in OCS")
		}
		run.StopGoal = goalEnd
		run.ItemState = stUnloading
		changed = true
	}
	if changed {
		r.persist(s, now)
	}
}

// observeOCSItem follows an OCS-side sequence through the events of its
// items' own campaign groups, which OCS sends as it starts and ends them:
// between two polls OCS may finish an item and start the next, and a
// restart then must resubmit from the item OCS was really on, never
// repeat one that ended.
//
// Only an item seen dialing moves the run on: an item's stop and unload
// events may come with the next item's start at the same instant, in any
// order, and taking one for the end of the wrong item would skip it.
func (r *Reconciler) observeOCSItem(s *seqState, k groupKey, st ocs.GroupCampStatus, now time.Time) {
	run := s.prog.Run
	if run == nil || run.ItemState != stDialing || k.group != run.GroupDBID {
		return
	}
	p := &s.prog
	base := int(engInt(p, engBase, 0))
	i := -1
	for j := base; j < len(s.spec.Items); j++ {
		if s.spec.Items[j].CampaignDBID == k.campaign {
			i = j
			break
		}
	}
	if i < 0 {
		return
	}
	seen := int(engInt(p, engSeen, int64(base)-1))
	changed := false
	if st == ocs.StatusRunning && i > seen {
		for j := max(run.Item, 0); j < i; j++ {
			r.recordOCSItem(s, now, j, "ended in OCS")
		}
		run.Item, run.ItemName, run.ItemStarted = i, s.spec.Items[i].Name, now
		engSet(p, engSeen, int64(i))
		engSet(p, engItemStart, now.Unix())
		// The same entry a poll that sees the item first writes: history,
		// and the plan made from it, do not depend on which came first.
		r.history(s, now, store.Event{Kind: "item-start", Run: run.ID, Item: run.ItemName,
			Message: fmt.Sprintf("item %s dialing in OCS", run.ItemName)})
		changed = true
	}
	if changed {
		r.markDirty(s.name)
		r.persist(s, now)
	}
}

func (r *Reconciler) recordOCSItem(s *seqState, now time.Time, i int, reason string) {
	run := s.prog.Run
	for _, done := range run.Items {
		if done.Name == s.spec.Items[i].Name {
			return
		}
	}
	run.Items = append(run.Items, store.ItemResult{Name: s.spec.Items[i].Name, Ended: now, Reason: reason})
	if i+1 > run.Item {
		run.Item = i + 1
	}
	r.history(s, now, store.Event{Kind: "item-end", Run: run.ID, Item: s.spec.Items[i].Name, Message: "item " + s.spec.Items[i].Name + " " + reason,
		Fields: map[string]string{"reason": reason}})
}

// onSequenceLost handles error 13 on a poll: OCS no longer knows the
// sequence. If its last item had been seen and the link never dropped
// since, OCS finished it and let it go: the run is over. Otherwise OCS
// restarted or failed over (which always drops the link), and the
// unfinished items, the last one included, are submitted again.
func (r *Reconciler) onSequenceLost(s *seqState, now time.Time) {
	run := s.prog.Run
	if run == nil {
		return
	}
	seen := int(engInt(&s.prog, engSeen, -1))
	if seen >= len(s.spec.Items)-1 && run.ItemState == stDialing && !s.ocsBounced {
		r.recordOCSItem(s, now, seen, "ended in OCS")
		r.endRun(s, now)
		return
	}
	first := run.Item
	if seen > first {
		first = seen
	}
	run.Item = first
	if first < len(s.spec.Items) {
		run.ItemName = s.spec.Items[first].Name
	}
	if seen >= first && first < len(s.spec.Items) {
		// OCS was running this item: resume it rather than start it over.
		started := engInt(&s.prog, engItemStart, now.Unix())
		s.prog.Engine[engResume] = fmt.Sprintf("%s|%d|%d", run.ID, first, started)
	}
	run.Segment++
	run.ItemState = stSleeping
	s.ocsBounced = false
	r.history(s, now, store.Event{Kind: "decision", Run: run.ID,
		Message: fmt.Sprintf("OCS lost the campaign sequence (restart or failover); submitting the items from %s again", run.ItemName)})
	r.persist(s, now)
}
