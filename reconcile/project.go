package reconcile

import (
	"sort"
	"time"

	"github.com/sequencer-dev/sequencer/ocs"
	"github.com/sequencer-dev/sequencer/ocs/ocssim"
	"github.com/sequencer-dev/sequencer/schedule"
	"github.com/sequencer-dev/sequencer/specs"
	"github.com/sequencer-dev/sequencer/store"
)

// Assumptions are what a projection cannot know from the specs and takes
// as given. Every projected instant holds exactly under them.
type Assumptions struct {
	// UnloadTime is how long OCS keeps a campaign group WaitingUnload
	// after an unload (calls still on agents' desktops), counted from when
	// dialing stopped. Zero: the unload is instant.
	UnloadTime time.Duration
	// DialRate is the dials per minute of a dialing item; zero: the
	// simulator's rate for its dial mode.
	DialRate float64
	// ContactRate is the share of dials that reach a contact; zero: the
	// simulator's.
	ContactRate float64
	// Records is the size of each calling list; zero: lists never run dry.
	Records int64
	// Resync and PollInterval are the loop's (Config); zero: its defaults.
	Resync, PollInterval time.Duration
}

// DefaultAssumptions are what the built-in simulator does.
func DefaultAssumptions() Assumptions {
	sim := ocssim.Default()
	return Assumptions{UnloadTime: time.Duration(sim.DrainTime), ContactRate: sim.ContactRate}
}

// maxProjectionSteps bounds one projection's turns of the loop, and
// maxTurnsPerInstant the request rounds at one virtual instant.
const (
	maxProjectionSteps = 50_000_000
	maxTurnsPerInstant = 10_000
)

// Project runs the daemon's own loop — the same passes, answers and
// observations — forward from from for span against an idealised OCS
// (answers at once; see Assumptions) on a virtual clock, and returns what
// its history says happened in [from, from+span), sorted by time, then
// sequence, each sequence's events in causal order.
//
// progress is the stored progress of sequences that have some (a live
// ETA); a sequence without is taken as first loaded just before from, so
// a start at exactly from runs and none before it is missed. A run in
// progress is projected from its item's state as if OCS held it so.
func Project(seqs []*specs.Sequence, progress []store.Progress, from time.Time, span time.Duration, a Assumptions) []schedule.Event {
	return project(seqs, progress, from, span, a, nil)
}

// groupSeed is what was observed of a campaign group a run holds: its
// counters since the load and its rates, measured by the daemon.
type groupSeed struct {
	stats       ocs.Stats
	dialRate    float64 // per second; 0: not measured
	contactRate float64 // share of dials; 0: not measured
}

func project(seqs []*specs.Sequence, progress []store.Progress, from time.Time, span time.Duration, a Assumptions, seeds map[groupKey]groupSeed) []schedule.Event {
	until := from.Add(span)
	byName := map[string]*specs.Sequence{}
	snap := specs.Snapshot{Sequences: map[string]*specs.Sequence{}}
	for _, seq := range seqs {
		if seq == nil {
			continue
		}
		byName[seq.Name] = seq
		snap.Sequences[seq.Name] = seq
	}
	st := &projectionStore{}
	have := map[string]bool{}
	for _, p := range progress {
		if byName[p.Sequence] != nil && !have[p.Sequence] {
			have[p.Sequence] = true
			st.start = append(st.start, p)
		}
	}
	for _, seq := range seqs {
		if seq != nil && !have[seq.Name] {
			have[seq.Name] = true
			st.start = append(st.start, store.Progress{Sequence: seq.Name, SpecHash: seq.Hash, Generation: seq.Generation, LastScheduled: from.Add(-time.Nanosecond)})
		}
	}
	ideal := newIdealOCS(a)
	ideal.now = from
	r := New(Config{Link: ideal, Store: st, Resync: a.Resync, PollInterval: a.PollInterval})
	r.rec.only = planKinds
	var answers, spare []result
	r.exec = func(res result) {
		res.ans, res.err = ideal.apply(res.req, ideal.now)
		answers = append(answers, res)
	}
	if err := r.recover(); err != nil {
		return nil // a projectionStore does not fail
	}
	ideal.seed(r, from, seeds)
	now := from
	r.applySnapshot(snap, now)
	for step := 0; step < maxProjectionSteps; step++ {
		ideal.now = now
		for _, ev := range ideal.fire(now) {
			r.observe(ev, now, true)
		}
		r.processDue(now)
		r.processDirty(now)
		// Answers at one instant lead to more requests at that instant
		// (stop, then unload), but never for ever: the bound keeps a
		// decision bug from hanging `plan`.
		for turns := 0; len(answers) > 0 && turns < maxTurnsPerInstant; turns++ {
			batch := answers
			answers = spare[:0]
			for _, res := range batch {
				r.onResult(res, now)
			}
			clear(batch)
			spare = batch
			for _, ev := range ideal.fire(now) {
				r.observe(ev, now, true)
			}
			r.processDue(now)
			r.processDirty(now)
		}
		next, ok := ideal.next()
		if r.due.Len() > 0 && (!ok || r.due[0].due.Before(next)) {
			next, ok = r.due[0].due, true
		}
		if !ok || !next.Before(until) {
			break
		}
		now = next
	}
	r.rec.mu.Lock()
	hist := r.rec.evs.All()
	r.rec.mu.Unlock()
	var out []schedule.Event
	for _, e := range PlanEvents(byName, hist) {
		if !e.At.Before(from) && e.At.Before(until) {
			out = append(out, e)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].At.Equal(out[j].At) {
			return out[i].At.Before(out[j].At)
		}
		return out[i].Sequence < out[j].Sequence
	})
	return out
}

// planKinds are the history kinds PlanEvents reads.
var planKinds = map[string]bool{"run-start": true, "run-end": true, "item-start": true, "item-end": true,
	"item-pause": true, "item-resume": true, "skip": true}

// PlanEvents turns history into plan events: the plan is the history a
// projection writes, so a live history compares with it event for event.
// An event is an estimate once a run has started an item that a count or
// the list's depletion ends; the run's next start clears it.
func PlanEvents(seqs map[string]*specs.Sequence, hist []store.Event) []schedule.Event {
	estimating := map[string]bool{}
	var out []schedule.Event
	for _, h := range hist {
		seq := seqs[h.Sequence]
		if seq == nil {
			continue
		}
		e := schedule.Event{At: h.At.UTC(), Sequence: h.Sequence, Item: h.Item, Location: seq.Location}
		switch h.Kind {
		case "run-start":
			estimating[h.Sequence] = false
			e.Action = schedule.ActSequenceStart
		case "run-end":
			e.Action = schedule.ActSequenceEnd
		case "item-start":
			e.Action = schedule.ActItemStart
			if it := itemNamed(seq, h.Item); it != nil {
				e.Bound = schedule.Bound(seq, it, h.At)
				if it.StopAt.Time.Kind == specs.StopNone && !countStops(it) {
					e.Reason = schedule.UnknownEnd
				}
				if countStops(it) || it.AutoCompletion || e.Reason != "" {
					e.Estimate = estimating[h.Sequence]
					estimating[h.Sequence] = true
					out = append(out, e)
					continue
				}
			}
		case "item-end":
			e.Action, e.Reason = schedule.ActItemStop, h.Fields["reason"]
		case "item-pause", "item-resume":
			if h.Fields["cause"] != "window" {
				continue
			}
			e.Action, e.Reason = schedule.ActWindowPause, h.Fields["reason"]
			if h.Kind == "item-resume" {
				e.Action = schedule.ActWindowResume
			}
		case "skip":
			at, err := time.Parse(time.RFC3339Nano, h.Fields["scheduled"])
			if err != nil {
				continue // "n more missed starts": no one instant
			}
			e.At, e.Action, e.Reason = at.UTC(), schedule.ActSkip, h.Fields["reason"]
		default:
			continue
		}
		e.Estimate = estimating[h.Sequence]
		out = append(out, e)
	}
	return out
}

func itemNamed(seq *specs.Sequence, name string) *specs.Item {
	for i := range seq.Items {
		if seq.Items[i].Name == name {
			return &seq.Items[i]
		}
	}
	return nil
}

// seed puts the ideal OCS in the state the stored runs say OCS is in, so
// that a projection from real progress (a live ETA) continues the run
// instead of re-reading an empty OCS.
func (o *idealOCS) seed(r *Reconciler, now time.Time, seeds map[groupKey]groupSeed) {
	for k, sd := range seeds {
		if sd.dialRate > 0 {
			o.rateFor[k] = sd.dialRate
		}
		if sd.contactRate > 0 {
			o.contactFor[k] = sd.contactRate
		}
		o.group(k).dials = int64(sd.stats.Dials)
	}
	for _, s := range r.seqs {
		run := s.prog.Run
		if run == nil || run.GroupDBID == 0 || !loadedState(run.ItemState) {
			continue
		}
		if run.CampaignDBID == 0 {
			continue // an OCS-side sequence: re-read, then re-submitted
		}
		g := o.group(runGroup(run))
		g.pacing = appliedPacing(run)
		switch run.ItemState {
		case stUnloading, stDraining:
			g.status = ocs.StatusNotLoaded
		case stStarting, stDialing, stStopping:
			g.status = ocs.StatusRunning
			g.rate = o.rateOf(g.k, g.pacing.DialMode)
			g.runSince = now
		default:
			g.status = ocs.StatusInActive
		}
	}
}
