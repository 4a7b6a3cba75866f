package reconcile

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/sequencer-dev/sequencer/ocs"
	"github.com/sequencer-dev/sequencer/schedule"
	"github.com/sequencer-dev/sequencer/specs"
)

// The invariant checker of the deterministic simulation: it judges a run
// from what the simulator saw (every request with its origin, every state
// change of every campaign group), never from the daemon's own account.
// It is a pure function of a dstTruth, so its tests feed it hand-made
// transcripts.

// dstReq is one request the simulator received, in the order it processed
// them.
type dstReq struct {
	At      time.Time
	Origin  int32
	Type    ocs.MessageType
	Key     groupKey
	Ignored bool // disregarded by the simulator
}

// dstState is one state change of a campaign group as OCS broadcast it, or
// an OCS restart (every group NotLoaded, no event).
type dstState struct {
	At      time.Time
	Key     groupKey
	Status  ocs.GroupCampStatus
	Stats   ocs.Stats
	Restart bool
}

// dstItem is what the specs asked of one campaign group. Every item of a
// seed has its own campaign group, so the group's ground truth is the
// item's.
type dstItem struct {
	Seq  *specs.Sequence
	Item specs.Item
	// Orphaned is when the sequence was deleted with onDelete: orphan:
	// from then on OCS is left as it is.
	Orphaned time.Time
}

// dstGiven is the set of campaign groups the specs give the daemon from At
// on (an OCS-side sequence is {0, group}).
type dstGiven struct {
	At     time.Time
	Groups map[groupKey]bool
}

type dstSpan struct{ From, To time.Time }

type dstTruth struct {
	Daemon   int32
	Counters bool
	// Slack is what the wire's delays may add to any reaction.
	Slack      time.Duration
	Items      map[groupKey]*dstItem
	Requests   []dstReq
	States     []dstState
	Given      []dstGiven
	Boundaries map[string][]time.Time // per sequence: when a new run may begin
	Outages    []dstSpan              // the daemon's link down (faults, crashes)
	Drops      []time.Time            // when OCS began losing answers
	LastFault  time.Time
	End        time.Time
	Final      []SequenceStatus
}

const (
	dstOCS     int32 = -1 // a group OCS loaded itself (an OCS-side sequence)
	dstI5Bound       = 30 * time.Second
	dstTimeTol       = time.Second
)

// dstEpisode is one stretch of a group dialing.
type dstEpisode struct {
	From, To time.Time // To zero: still dialing at the end
	Owner    int32
}

// dstGroup is the replayed ground truth of one campaign group.
type dstGroup struct {
	status   ocs.GroupCampStatus
	owner    int32
	lastLoad int32 // origin of the last Load, which a load answers
	episodes []dstEpisode
	// segs are the daemon's counters of each load, by run: OCS counts
	// since the load, so the item's total is their sum.
	segs       map[int][]ocs.Stats
	depletedAt map[int]time.Time // auto-completion ended the daemon's dialing
	countAt    map[int]time.Time // the item's count stop was met
	restarted  []time.Time       // OCS restarted while the daemon's item dialed
	loads      []time.Time       // the daemon's Load requests
	empty      bool              // the list had nothing left at the last change
}

// checkDST returns every invariant violation, each starting with I1..I5.
func checkDST(tr *dstTruth) []string {
	var out []string
	add := func(f string, a ...any) { out = append(out, fmt.Sprintf(f, a...)) }
	groups := map[groupKey]*dstGroup{}
	grp := func(k groupKey) *dstGroup {
		g := groups[k]
		if g == nil {
			g = &dstGroup{segs: map[int][]ocs.Stats{}, depletedAt: map[int]time.Time{}, countAt: map[int]time.Time{}}
			groups[k] = g
		}
		return g
	}
	setStatus := func(k groupKey, g *dstGroup, st ocs.GroupCampStatus, stats ocs.Stats, at time.Time, restart bool) {
		was := g.status
		if was == ocs.StatusNotLoaded && st == ocs.StatusRunning {
			// No group goes from NotLoaded to Running: this is the
			// broadcast of a start that lost the race with the
			// broadcast of what followed it at the same instant.
			return
		}
		it := tr.Items[k]
		run := 0
		if it != nil {
			run = dstRunAt(tr.Boundaries[it.Seq.Name], at)
		}
		if was == ocs.StatusNotLoaded && st != ocs.StatusNotLoaded {
			g.owner = g.lastLoad
			if g.owner == 0 {
				g.owner = dstOCS
			}
			g.lastLoad = 0
			if g.owner == tr.Daemon {
				g.segs[run] = append(g.segs[run], ocs.Stats{})
			}
		}
		if g.owner == tr.Daemon && len(g.segs[run]) > 0 && !restart {
			g.segs[run][len(g.segs[run])-1] = stats
		}
		if was != ocs.StatusRunning && st == ocs.StatusRunning {
			g.episodes = append(g.episodes, dstEpisode{From: at, Owner: g.owner})
		}
		if was == ocs.StatusRunning && st != ocs.StatusRunning && len(g.episodes) > 0 {
			g.episodes[len(g.episodes)-1].To = at
		}
		if !restart {
			g.empty = stats.RecordsLeft == 0
		}
		// A group dialing an empty list has nothing to resume.
		if restart && was == ocs.StatusRunning && tr.drives(it, g.owner) && !g.empty {
			g.restarted = append(g.restarted, at)
		}
		if it != nil && g.owner == tr.Daemon && !restart {
			_, seen := g.depletedAt[run]
			if !seen && was == ocs.StatusRunning && st != ocs.StatusRunning && stats.RecordsLeft == 0 && it.Item.AutoCompletion {
				g.depletedAt[run] = at
			}
			d, c := dstSum(g.segs[run])
			_, seen = g.countAt[run]
			if !seen && ((it.Item.StopAt.Contacts > 0 && c >= int64(it.Item.StopAt.Contacts)) || (it.Item.StopAt.Dials > 0 && d >= int64(it.Item.StopAt.Dials))) {
				g.countAt[run] = at
			}
		}
		g.status = st
		if st == ocs.StatusNotLoaded {
			g.owner = 0
		}
	}

	// Replay requests and states in time order; at one instant the
	// requests come first, as a state change is the answer to one.
	type ev struct {
		at  time.Time
		req *dstReq
		st  *dstState
	}
	var evs []ev
	for i := range tr.Requests {
		evs = append(evs, ev{at: tr.Requests[i].At, req: &tr.Requests[i]})
	}
	for i := range tr.States {
		evs = append(evs, ev{at: tr.States[i].At, st: &tr.States[i]})
	}
	sort.SliceStable(evs, func(i, j int) bool {
		if !evs[i].at.Equal(evs[j].at) {
			return evs[i].at.Before(evs[j].at)
		}
		return evs[i].req != nil && evs[j].req == nil
	})
	given := func(k groupKey, at time.Time) (now, ever bool) {
		// A snapshot takes a moment to reach the loop: what was given
		// just before still counts.
		grace := at.Add(-tr.Slack - time.Second)
		for _, gv := range tr.Given {
			if gv.At.After(at) {
				break
			}
			ever = ever || gv.Groups[k]
			if gv.At.After(grace) {
				now = now || gv.Groups[k]
			} else {
				now = gv.Groups[k]
			}
		}
		return now, ever
	}
	for _, e := range evs {
		if s := e.st; s != nil {
			if s.Restart {
				for k, g := range groups {
					if g.status != ocs.StatusNotLoaded {
						setStatus(k, g, ocs.StatusNotLoaded, ocs.Stats{}, s.At, true)
					}
				}
				continue
			}
			setStatus(s.Key, grp(s.Key), s.Status, s.Stats, s.At, false)
			continue
		}
		r := e.req
		if r.Ignored || r.Type == ocs.ReqGetCampaignStatus {
			continue
		}
		g := grp(r.Key)
		if r.Type == ocs.ReqLoadCampaign {
			g.lastLoad = r.Origin
		}
		if r.Origin != tr.Daemon {
			continue
		}
		if r.Type == ocs.ReqLoadCampaign {
			g.loads = append(g.loads, r.At)
		}
		now, ever := given(r.Key, r.At)
		switch r.Type {
		case ocs.ReqLoadCampaign, ocs.ReqStartDialing, ocs.ReqSetDialingMode:
			if !now {
				add("I2: at %s the daemon sent %s for campaign group %s, which no current spec gives it", dstT(r.At), r.Type, r.Key)
			}
		case ocs.ReqStopDialing, ocs.ReqUnloadCampaign, ocs.ReqForceUnloadCampaign:
			if !ever {
				add("I2: at %s the daemon sent %s for campaign group %s, which no spec ever gave it", dstT(r.At), r.Type, r.Key)
			}
		}
		if r.Type != ocs.ReqLoadCampaign && r.Key.campaign != 0 && g.status != ocs.StatusNotLoaded && g.owner != tr.Daemon {
			add("I2: at %s the daemon sent %s for campaign group %s, loaded by %s", dstT(r.At), r.Type, r.Key, dstWho(g.owner))
		}
	}
	for k := range groups {
		if it := tr.Items[k]; it != nil && it.Seq.Engine != specs.EngineOCS {
			out = append(out, dstCheckItem(tr, k, groups[k], it)...)
		}
	}
	out = append(out, dstCheckRestarts(tr, groups)...)
	out = append(out, dstCheckFinal(tr)...)
	sort.Strings(out)
	return slices.Compact(out)
}

// dstDialing is how long the episodes dialed in all.
func dstDialing(eps []dstEpisode, end time.Time) time.Duration {
	var d time.Duration
	for _, e := range eps {
		to := e.To
		if to.IsZero() {
			to = end
		}
		d += to.Sub(e.From)
	}
	return d
}

func dstSum(segs []ocs.Stats) (dials, contacts int64) {
	for _, s := range segs {
		dials += int64(s.Dials)
		contacts += int64(s.Contacts)
	}
	return dials, contacts
}

func dstT(t time.Time) string { return t.UTC().Format("15:04:05.000") }

func dstWho(origin int32) string {
	if origin == dstOCS {
		return "OCS itself (a campaign sequence)"
	}
	return fmt.Sprintf("application %d", origin)
}

// dstRun is the index of the run of seq that time t belongs to.
func dstRunAt(b []time.Time, t time.Time) int {
	n := 0
	for _, x := range b {
		if !x.After(t) {
			n++
		}
	}
	return n
}

func (tr *dstTruth) outageNear(t time.Time, margin time.Duration) bool {
	for _, o := range tr.Outages {
		to := o.To
		if to.IsZero() {
			to = tr.End
		}
		if !o.From.After(t.Add(margin)) && !to.Before(t.Add(-margin)) {
			return true
		}
	}
	return false
}

// dstCheckItem checks I1 and I3 for one item driven by the daemon.
func dstCheckItem(tr *dstTruth, k groupKey, g *dstGroup, it *dstItem) []string {
	var out []string
	add := func(f string, a ...any) {
		out = append(out, fmt.Sprintf(f, a...)+fmt.Sprintf(" [%s/%s on %s]", it.Seq.Name, it.Item.Name, k))
	}
	b := tr.Boundaries[it.Seq.Name]
	type runInfo struct {
		first    time.Time
		episodes []dstEpisode
	}
	runs := map[int]*runInfo{}
	for _, e := range g.episodes {
		if e.Owner != tr.Daemon {
			continue
		}
		n := dstRunAt(b, e.From)
		ri := runs[n]
		if ri == nil {
			ri = &runInfo{first: e.From}
			runs[n] = ri
		}
		ri.episodes = append(ri.episodes, e)
	}
	for n, ri := range runs {
		// I1: after the list ran dry, no new dialing in the run, beyond
		// one re-check when the link was down as it happened.
		if d, ok := g.depletedAt[n]; ok {
			allowed := 0
			if tr.outageNear(d, 2*time.Second) {
				allowed = 1
			}
			// Counted by the daemon's Loads: a start on an empty list
			// lasts no time at all.
			again := 0
			for _, l := range g.loads {
				if l.After(d) && dstRunAt(b, l) == n {
					again++
				}
			}
			if again > allowed {
				add("I1: the list ran dry at %s (auto-completion) but the daemon started the item again %d time(s) in the same run", dstT(d), again)
			}
		}
		// I3 and I1 on the time stop.
		if stop, ok := schedule.ItemStopTime(it.Seq, &it.Item, ri.first); ok && (it.Orphaned.IsZero() || it.Orphaned.After(stop)) {
			limit := stop.Add(dstTimeTol + tr.Slack)
			for _, o := range tr.Outages {
				if !o.From.After(limit) && (o.To.IsZero() || !o.To.Before(stop)) {
					// The link was down at the stop: as soon as it is back.
					if back := o.To.Add(10*time.Second + tr.Slack); back.After(limit) {
						limit = back
					}
				}
			}
			for _, e := range ri.episodes {
				end := e.To
				if end.IsZero() {
					end = tr.End
				}
				switch {
				case e.From.After(limit):
					add("I1: the item's stop time %s had passed, yet it started dialing again at %s", dstT(stop), dstT(e.From))
				case end.After(limit):
					add("I3: the item's stop time was %s but it was still dialing at %s (until %s)", dstT(stop), dstT(limit), dstT(end))
				}
			}
		}
		// I3 on counts, when the link reports them and no OCS restart
		// took the counters of the last seconds with it.
		c, met := g.countAt[n]
		if !met || len(g.restarted) > 0 {
			continue
		}
		// Nor when the daemon could not see the counts near the limit:
		// its link down, itself crashed, or OCS losing its answers (a
		// poll then waits out its timeout while the group dials on).
		blind := false
		for _, e := range ri.episodes {
			to := e.To
			if to.IsZero() {
				to = tr.End
			}
			for _, o := range tr.Outages {
				oTo := o.To
				if oTo.IsZero() {
					oTo = tr.End
				}
				blind = blind || (!o.From.After(to) && !oTo.Before(e.From))
			}
			for _, d := range tr.Drops {
				blind = blind || (!d.After(to) && !d.Before(e.From.Add(-time.Minute)))
			}
		}
		if blind {
			continue
		}
		if tr.Counters {
			dials, contacts := dstSum(g.segs[n])
			// The bound max(2 %, 3) holds on a responsive link. Each
			// second the wire delays an answer or a request lets the
			// group dial on before any answer can show it: a count is
			// up to one answer delay old, the first rate needs a poll
			// after Start's answer, and the stop takes a request delay
			// to arrive. So a slow wire adds rate × (3·slack + 250 ms).
			late := func(n int64) int64 {
				if tr.Slack == 0 {
					return 0
				}
				rate := float64(n) / max(dstDialing(ri.episodes, tr.End).Seconds(), 1)
				return int64(math.Ceil(rate * (3*tr.Slack + 250*time.Millisecond).Seconds()))
			}
			if l := int64(it.Item.StopAt.Contacts); l > 0 && contacts > l+max(l*2/100, 3)+late(contacts) {
				add("I3: stopAt.contacts %d overshot: OCS counted %d contacts", l, contacts)
			}
			if l := int64(it.Item.StopAt.Dials); l > 0 && dials > l+max(l*2/100, 3)+late(dials) {
				add("I3: stopAt.dials %d overshot: OCS counted %d dials", l, dials)
			}
		}
		for _, e := range ri.episodes {
			if tr.Counters && e.From.After(c.Add(tr.Slack+time.Second)) {
				add("I1: the item's count stop was met at %s, yet it started dialing again at %s", dstT(c), dstT(e.From))
			}
		}
	}
	return out
}

// dstCheckRestarts checks I5: after an OCS restart, a group whose item
// still had time to run dials again within 30 s of the link coming back.
func dstCheckRestarts(tr *dstTruth, groups map[groupKey]*dstGroup) []string {
	var out []string
	for _, s := range tr.States {
		if !s.Restart {
			continue
		}
		back := time.Time{}
		for _, o := range tr.Outages {
			if !o.From.After(s.At) && (o.To.IsZero() || !o.To.Before(s.At)) {
				back = o.To
			}
		}
		if back.IsZero() {
			continue
		}
		deadline := back.Add(dstI5Bound + tr.Slack)
		if deadline.After(tr.End) || tr.spans(s.At, deadline) {
			continue
		}
		for k, g := range groups {
			it := tr.Items[k]
			if it == nil || !slices.Contains(g.restarted, s.At) || tr.changedBetween(it.Seq.Name, s.At, deadline) {
				continue
			}
			var first time.Time
			var again bool
			for _, e := range g.episodes {
				if tr.drives(it, e.Owner) && dstRunAt(tr.Boundaries[it.Seq.Name], e.From) == dstRunAt(tr.Boundaries[it.Seq.Name], s.At) && first.IsZero() {
					first = e.From
				}
				if e.From.After(s.At) && !e.From.After(deadline) {
					again = true
				}
			}
			if first.IsZero() || again {
				continue
			}
			if stop, ok := schedule.ItemStopTime(it.Seq, &it.Item, first); ok && !stop.After(deadline.Add(time.Minute)) {
				continue
			}
			if !schedule.InWindow(it.Seq, s.At) || !schedule.InWindow(it.Seq, deadline) {
				continue
			}
			run := dstRunAt(tr.Boundaries[it.Seq.Name], s.At)
			if c, ok := g.countAt[run]; ok && !c.After(s.At) {
				continue
			}
			if d, ok := g.depletedAt[run]; ok && !d.After(s.At) {
				continue
			}
			out = append(out, fmt.Sprintf("I5: OCS restarted at %s, the link was back at %s, but %s/%s (campaign group %s) was not dialing again by %s",
				dstT(s.At), dstT(back), it.Seq.Name, it.Item.Name, k, dstT(deadline)))
		}
	}
	return out
}

// drives reports whether the daemon is answerable for a group loaded by
// origin: it loaded it, or it runs the OCS-side sequence that did.
func (tr *dstTruth) drives(it *dstItem, origin int32) bool {
	return origin == tr.Daemon || (it != nil && it.Seq.Engine == specs.EngineOCS && origin == dstOCS)
}

// spans reports whether another fault falls in (from, to].
func (tr *dstTruth) spans(from, to time.Time) bool {
	for _, o := range tr.Outages {
		if o.From.After(from) && !o.From.After(to) {
			return true
		}
	}
	return false
}

// changedBetween reports a spec change of seq in [from, to].
func (tr *dstTruth) changedBetween(seq string, from, to time.Time) bool {
	for _, b := range tr.Boundaries[seq] {
		if !b.Before(from) && !b.After(to) {
			return true
		}
	}
	return false
}

// dstCheckFinal checks I4: at the end every sequence is done, waiting for
// a start or a window, or says what holds it up.
func dstCheckFinal(tr *dstTruth) []string {
	var out []string
	for _, st := range tr.Final {
		switch st.Phase {
		case PhaseCompleted, PhaseWaiting, PhaseSuspended:
			continue
		case PhasePaused, PhaseSleeping, PhaseRunning:
			// Waiting for a known instant after the end (a window, a
			// sleep, a time stop that has not come yet) is progress.
			if st.NextActionAt.After(tr.End) {
				continue
			}
		}
		// A run that began moments before the end is not stuck: the
		// run id carries its scheduled start.
		if i := strings.LastIndexByte(st.Run, '@'); i >= 0 {
			if at, err := time.Parse(time.RFC3339, st.Run[i+1:]); err == nil && tr.End.Sub(at) < 10*time.Minute {
				continue
			}
		}
		// An action under way in the last minute (a drain, a load) is
		// progress too.
		if !st.NextActionAt.IsZero() && tr.End.Sub(st.NextActionAt) < time.Minute {
			continue
		}
		fresh := false
		for _, b := range tr.Boundaries[st.Name] {
			fresh = fresh || (!b.After(tr.End) && tr.End.Sub(b) < 10*time.Minute)
		}
		if fresh {
			continue
		}
		var conds []string
		for _, c := range st.Conditions {
			if c.Status && c.Type != CondReady && c.Type != CondReconciling {
				conds = append(conds, c.Type)
			}
		}
		if len(conds) > 0 {
			continue
		}
		out = append(out, fmt.Sprintf("I4: %s after the last fault (%s) sequence %s is still %s (item %s, %s) with no condition",
			tr.End.Sub(tr.LastFault).Round(time.Minute), dstT(tr.LastFault), st.Name, st.Phase, st.Item, strings.TrimSpace(st.ItemState)))
	}
	return out
}
