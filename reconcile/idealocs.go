package reconcile

import (
	"context"
	"math"
	"sort"
	"time"

	"github.com/sequencer-dev/sequencer/ocs"
	"github.com/sequencer-dev/sequencer/ocs/ocssim"
)

// idealOCS is the OCS a projection talks to: it answers at once, on the
// projector's virtual clock, and follows the simulator's rules (ocssim)
// with the rates, list sizes and unload drain of the Assumptions. Only
// what changes a decision is modelled; it never fails a request the
// simulator would accept.
type idealOCS struct {
	a      Assumptions
	rates  ocssim.Rates
	now    time.Time
	groups map[groupKey]*idealGroup
	seqs   map[int32]*idealSeq // OCS-side sequences by group DBID
	timers []idealTimer
	serial int
	// Rates measured by the daemon for a group (a live ETA) win over the
	// assumed ones.
	rateFor, contactFor map[groupKey]float64
}

type idealGroup struct {
	k        groupKey
	status   ocs.GroupCampStatus
	pacing   ocs.Pacing
	auto     bool
	consumed int64 // records dialed since the projection began (the list's state)
	dials    int64 // dials since the load, up to runSince
	runSince time.Time
	rate     float64 // dials per second while running
	stopped  time.Time
	gen      int
	owner    int32
}

type idealSeq struct {
	group   int32
	sched   ocs.Schedule
	running bool
	item    int
	status  []ocs.GroupCampStatus
	started []bool
	gen     int
}

// idealTimer is something OCS does by itself at a later instant.
type idealTimer struct {
	at   time.Time
	n    int // arming order: timers due at one instant fire in it
	fire func(now time.Time) []ocs.Message
}

func newIdealOCS(a Assumptions) *idealOCS {
	return &idealOCS{a: a, rates: ocssim.Default().Rates, groups: map[groupKey]*idealGroup{}, seqs: map[int32]*idealSeq{},
		rateFor: map[groupKey]float64{}, contactFor: map[groupKey]float64{}}
}

func (o *idealOCS) Request(_ context.Context, req ocs.Message) (ocs.Message, error) {
	return o.apply(req, o.now)
}
func (o *idealOCS) Events() <-chan ocs.Message     { return nil }
func (o *idealOCS) Capabilities() ocs.Capabilities { return ocs.Capabilities{Counters: true} }
func (o *idealOCS) Close() error                   { return nil }

func (o *idealOCS) group(k groupKey) *idealGroup {
	g := o.groups[k]
	if g == nil {
		g = &idealGroup{k: k}
		o.groups[k] = g
	}
	return g
}

func (o *idealOCS) arm(at time.Time, fire func(now time.Time) []ocs.Message) {
	o.serial++
	o.timers = append(o.timers, idealTimer{at: at, n: o.serial, fire: fire})
}

// next is the instant of the earliest timer; false if none.
func (o *idealOCS) next() (time.Time, bool) {
	if len(o.timers) == 0 {
		return time.Time{}, false
	}
	t := o.timers[0].at
	for _, x := range o.timers[1:] {
		if x.at.Before(t) {
			t = x.at
		}
	}
	return t, true
}

// fire runs the timers due at or before now, in order, and returns the
// events OCS sends unsolicited.
func (o *idealOCS) fire(now time.Time) []ocs.Message {
	var evs []ocs.Message
	for {
		var due []idealTimer
		rest := o.timers[:0]
		for _, x := range o.timers {
			if !x.at.After(now) {
				due = append(due, x)
			} else {
				rest = append(rest, x)
			}
		}
		o.timers = rest
		if len(due) == 0 {
			return evs
		}
		sort.Slice(due, func(i, j int) bool {
			if !due[i].at.Equal(due[j].at) {
				return due[i].at.Before(due[j].at)
			}
			return due[i].n < due[j].n
		})
		for _, x := range due {
			evs = append(evs, x.fire(now)...)
		}
	}
}

func (o *idealOCS) records() int64 {
	if o.a.Records > 0 {
		return o.a.Records
	}
	return math.MaxInt32
}

func (o *idealOCS) left(g *idealGroup) int64 { return o.records() - g.consumed }

func (o *idealOCS) rateOf(k groupKey, m ocs.DialMode) float64 {
	if r := o.rateFor[k]; r > 0 {
		return r
	}
	if o.a.DialRate > 0 {
		return o.a.DialRate / 60
	}
	switch {
	case m.IsPredictive():
		return o.rates.Predictive
	case m.IsPreview():
		return o.rates.Preview
	}
	return o.rates.Progressive
}

func (o *idealOCS) contactRate(k groupKey) float64 {
	if r := o.contactFor[k]; r > 0 {
		return r
	}
	if o.a.ContactRate > 0 {
		return o.a.ContactRate
	}
	return ocssim.Default().ContactRate
}

func (o *idealOCS) dialsRun(g *idealGroup, now time.Time) int64 {
	if g.runSince.IsZero() {
		return 0
	}
	n := int64(math.Floor(g.rate * now.Sub(g.runSince).Seconds()))
	return min(n, o.left(g))
}

func (o *idealOCS) stats(g *idealGroup, now time.Time) ocs.Stats {
	d := g.dials + o.dialsRun(g, now)
	left := o.left(g) - o.dialsRun(g, now)
	return ocs.Stats{
		Dials:       int32(min(d, math.MaxInt32)),
		Contacts:    int32(min(math.Floor(float64(d)*o.contactRate(g.k)), math.MaxInt32)),
		RecordsLeft: int32(min(left, math.MaxInt32)),
	}
}

func (o *idealOCS) setStatus(g *idealGroup, st ocs.GroupCampStatus) {
	g.status = st
	g.gen++
	if st == ocs.StatusNotLoaded {
		g.runSince = time.Time{}
	}
}

func (o *idealOCS) pause(g *idealGroup, now time.Time) {
	n := o.dialsRun(g, now)
	g.dials += n
	g.consumed += n
	g.runSince = time.Time{}
	g.gen++
}

// run starts dialing and arms the depletion, as the simulator does.
func (o *idealOCS) run(g *idealGroup, now time.Time) {
	o.setStatus(g, ocs.StatusRunning)
	g.rate = o.rateOf(g.k, g.pacing.DialMode)
	g.runSince = now
	if g.rate <= 0 || o.a.Records <= 0 {
		return
	}
	at := time.Duration(math.Ceil(float64(o.left(g))/g.rate*1e9)) * time.Nanosecond
	gen := g.gen
	o.arm(now.Add(at), func(now time.Time) []ocs.Message {
		if g.gen != gen || g.status != ocs.StatusRunning {
			return nil
		}
		o.pause(g, now)
		if !g.auto {
			g.runSince, g.rate = now, 0 // running with an empty list
			return []ocs.Message{o.statusEvent(g, now)}
		}
		o.setStatus(g, ocs.StatusInActive)
		evs := []ocs.Message{o.notice(g, ocs.EvDialingStopped, now)}
		o.setStatus(g, ocs.StatusNotLoaded)
		return append(evs, o.notice(g, ocs.EvCampaignUnloaded, now))
	})
}

func (o *idealOCS) answer(req ocs.Message, g *idealGroup, t ocs.MessageType, now time.Time) ocs.Message {
	m := ocs.NewAnswer(req, t).WithStatus(g.status).WithStats(o.stats(g, now))
	if g.status != ocs.StatusNotLoaded {
		m = m.WithPacing(g.pacing)
	}
	return m
}

func (o *idealOCS) notice(g *idealGroup, t ocs.MessageType, now time.Time) ocs.Message {
	m := ocs.Message{Type: t, Has: ocs.AttrCampaign | ocs.AttrGroup, CampaignDBID: g.k.campaign, GroupDBID: g.k.group}
	return m.WithStatus(g.status).WithStats(o.stats(g, now))
}

func (o *idealOCS) statusEvent(g *idealGroup, now time.Time) ocs.Message {
	m := o.notice(g, ocs.EvCampaignStatus, now)
	if g.status != ocs.StatusNotLoaded {
		m = m.WithPacing(g.pacing)
	}
	return m
}

func idealErr(req ocs.Message, c ocs.ErrorCode) (ocs.Message, error) {
	return ocs.Message{}, &ocs.OCSError{Request: req.Type, Code: c}
}

// apply answers req at now. The status events a real OCS broadcasts along
// with an answer say what the answer says, so only the ones it sends later
// (timers) reach the loop.
func (o *idealOCS) apply(req ocs.Message, now time.Time) (ocs.Message, error) {
	if req.CampaignDBID == 0 {
		return o.applySequence(req, now)
	}
	g := o.group(groupKey{req.CampaignDBID, req.GroupDBID})
	if g.owner != 0 && req.Type != ocs.ReqGetCampaignStatus {
		return idealErr(req, ocs.ErrPartOfSequence)
	}
	switch req.Type {
	case ocs.ReqLoadCampaign:
		if g.status != ocs.StatusNotLoaded {
			return idealErr(req, ocs.ErrCampaignAlreadyLoaded)
		}
		g.pacing, g.auto, g.dials = req.Pacing(), req.AutoCompletion, 0
		o.setStatus(g, ocs.StatusInActive)
		return o.answer(req, g, ocs.EvCampaignLoaded, now), nil
	case ocs.ReqStartDialing:
		switch g.status {
		case ocs.StatusNotLoaded, ocs.StatusWaitingUnload, ocs.StatusUnloadInProgress:
			return idealErr(req, ocs.ErrCampaignNotLoaded)
		case ocs.StatusRunning:
			return idealErr(req, ocs.ErrCampaignAlreadyStarted)
		}
		g.pacing = req.Pacing()
		if req.Has&ocs.AttrAutoCompletion != 0 {
			g.auto = req.AutoCompletion
		}
		o.run(g, now)
		return o.answer(req, g, ocs.EvDialingStarted, now), nil
	case ocs.ReqSetDialingMode:
		if g.status != ocs.StatusRunning {
			return idealErr(req, ocs.ErrCampaignNotStarted)
		}
		if !g.pacing.DialMode.LiveSwitchable(req.DialMode) && g.pacing.DialMode != req.DialMode {
			return idealErr(req, ocs.ErrInvalidCampaignMode)
		}
		o.pause(g, now)
		g.pacing = req.Pacing()
		if req.Has&ocs.AttrAutoCompletion != 0 {
			g.auto = req.AutoCompletion
		}
		o.run(g, now)
		return o.answer(req, g, ocs.EvDialingModeChanged, now), nil
	case ocs.ReqStopDialing:
		switch g.status {
		case ocs.StatusNotLoaded, ocs.StatusWaitingUnload, ocs.StatusUnloadInProgress:
			return idealErr(req, ocs.ErrCampaignNotLoaded)
		case ocs.StatusInActive, ocs.StatusActive:
			return idealErr(req, ocs.ErrCampaignNotStarted)
		}
		o.pause(g, now)
		o.setStatus(g, ocs.StatusInActive)
		g.stopped = now
		return o.answer(req, g, ocs.EvDialingStopped, now), nil
	case ocs.ReqUnloadCampaign, ocs.ReqForceUnloadCampaign:
		if g.status == ocs.StatusNotLoaded {
			return idealErr(req, ocs.ErrCampaignNotLoaded)
		}
		force := req.Type == ocs.ReqForceUnloadCampaign
		if !force && !g.status.Loaded() {
			return o.answer(req, g, ocs.EvCampaignUnloaded, now), nil
		}
		// The assumed drain: calls on agents' desktops keep the group in
		// WaitingUnload, counted from when dialing stopped.
		drain := o.a.UnloadTime
		if g.status != ocs.StatusRunning {
			drain -= now.Sub(g.stopped)
		}
		o.pause(g, now)
		if force || drain <= 0 {
			o.setStatus(g, ocs.StatusNotLoaded)
			return o.answer(req, g, ocs.EvCampaignUnloaded, now), nil
		}
		o.setStatus(g, ocs.StatusWaitingUnload)
		gen := g.gen
		o.arm(now.Add(drain), func(now time.Time) []ocs.Message {
			if g.gen != gen {
				return nil
			}
			o.setStatus(g, ocs.StatusNotLoaded)
			return []ocs.Message{o.statusEvent(g, now)}
		})
		return o.answer(req, g, ocs.EvCampaignUnloaded, now), nil
	case ocs.ReqGetCampaignStatus:
		return o.answer(req, g, ocs.EvCampaignStatus, now), nil
	}
	return idealErr(req, ocs.ErrInvalidParameter)
}

// applySequence follows ocssim's OCS-side campaign sequences (engine ocs).
func (o *idealOCS) applySequence(req ocs.Message, now time.Time) (ocs.Message, error) {
	q := o.seqs[req.GroupDBID]
	switch req.Type {
	case ocs.ReqLoadCampaign:
		if q != nil {
			return idealErr(req, ocs.ErrCampaignAlreadyLoaded)
		}
		sched, _, err := req.Schedule()
		if err != nil || len(sched.Items) == 0 {
			return idealErr(req, ocs.ErrInvalidCampaignSchedule)
		}
		for _, it := range sched.Items {
			if g := o.group(groupKey{it.CampaignDBID, req.GroupDBID}); g.status != ocs.StatusNotLoaded || g.owner != 0 {
				return idealErr(req, ocs.ErrInvalidCampaignSchedule)
			}
		}
		q = &idealSeq{group: req.GroupDBID, sched: sched, status: make([]ocs.GroupCampStatus, len(sched.Items)), started: make([]bool, len(sched.Items))}
		o.seqs[req.GroupDBID] = q
		for _, it := range sched.Items {
			o.group(groupKey{it.CampaignDBID, req.GroupDBID}).owner = req.GroupDBID
		}
		return o.seqAnswer(req, q, ocs.EvCampaignLoaded), nil
	case ocs.ReqStartDialing:
		if q == nil {
			return idealErr(req, ocs.ErrCampaignScheduleNotFound)
		}
		if q.running {
			return idealErr(req, ocs.ErrCampaignAlreadyStarted)
		}
		q.running = true
		o.seqNext(q, now, true)
		return o.seqAnswer(req, q, ocs.EvDialingStarted), nil
	case ocs.ReqSetDialingMode:
		if q == nil {
			return idealErr(req, ocs.ErrCampaignScheduleNotFound)
		}
		return idealErr(req, ocs.ErrInvalidScheduleMode)
	case ocs.ReqStopDialing:
		if q == nil {
			return idealErr(req, ocs.ErrCampaignScheduleNotFound)
		}
		if !q.running {
			return idealErr(req, ocs.ErrCampaignNotStarted)
		}
		q.running = false
		q.gen++
		if g := o.seqGroup(q); g != nil && g.status == ocs.StatusRunning {
			o.pause(g, now)
			g.stopped = now
			o.setStatus(g, ocs.StatusInActive)
			q.status[q.item] = ocs.StatusInActive
		}
		return o.seqAnswer(req, q, ocs.EvDialingStopped), nil
	case ocs.ReqUnloadCampaign, ocs.ReqForceUnloadCampaign:
		if q == nil {
			return idealErr(req, ocs.ErrCampaignScheduleNotFound)
		}
		q.gen++
		for i, it := range q.sched.Items {
			g := o.group(groupKey{it.CampaignDBID, q.group})
			if g.status != ocs.StatusNotLoaded {
				o.pause(g, now)
				o.setStatus(g, ocs.StatusNotLoaded)
			}
			g.owner = 0
			q.status[i] = ocs.StatusNotLoaded
		}
		ans := o.seqAnswer(req, q, ocs.EvCampaignUnloaded)
		delete(o.seqs, q.group)
		return ans, nil
	case ocs.ReqGetCampaignStatus:
		if q == nil {
			return idealErr(req, ocs.ErrCampaignScheduleNotFound)
		}
		return o.seqAnswer(req, q, ocs.EvCampaignStatus), nil
	}
	return idealErr(req, ocs.ErrInvalidParameter)
}

func (o *idealOCS) seqGroup(q *idealSeq) *idealGroup {
	if q.item >= len(q.sched.Items) {
		return nil
	}
	return o.group(groupKey{q.sched.Items[q.item].CampaignDBID, q.group})
}

func (o *idealOCS) seqNext(q *idealSeq, now time.Time, first bool) {
	if q.item >= len(q.sched.Items) {
		q.running = false
		return
	}
	it := q.sched.Items[q.item]
	sleep := time.Duration(it.SleepBeforeNextStart) * time.Minute
	if q.started[q.item] {
		sleep = 0
	}
	if first && q.sched.StartTime != 0 {
		if st := ocs.DecodeTime(q.sched.StartTime); st.After(now) {
			sleep += st.Sub(now)
		}
	}
	q.gen++
	gen := q.gen
	o.arm(now.Add(sleep), func(now time.Time) []ocs.Message { return o.seqStartItem(q, gen, now) })
}

func (o *idealOCS) seqStartItem(q *idealSeq, gen int, now time.Time) []ocs.Message {
	if q.gen != gen || !q.running {
		return nil
	}
	it := q.sched.Items[q.item]
	g := o.seqGroup(q)
	g.pacing = ocs.Pacing{DialMode: it.DialMode, OptimizeBy: it.OptMethod, OptimizeGoal: it.OptMethodValue}
	var evs []ocs.Message
	if !q.started[q.item] {
		g.dials = 0
		o.setStatus(g, ocs.StatusInActive)
		evs = append(evs, o.statusEvent(g, now))
		q.started[q.item] = true
	}
	o.run(g, now)
	g.gen++ // the sequence, not the group, decides when the item ends
	q.status[q.item] = ocs.StatusRunning
	end := time.Duration(math.MaxInt64)
	if it.StopAtTime != 0 {
		end = min(end, max(0, ocs.DecodeTime(it.StopAtTime).Sub(now)))
	}
	if g.rate > 0 {
		secs := func(dials float64) time.Duration {
			return time.Duration(math.Ceil(max(0, dials-float64(g.dials))/g.rate*1e9)) * time.Nanosecond
		}
		if it.StopAtDials > 0 {
			end = min(end, secs(float64(it.StopAtDials)))
		}
		if cr := o.contactRate(g.k); it.StopAtContacts > 0 && cr > 0 {
			end = min(end, secs(math.Ceil(float64(it.StopAtContacts)/cr)))
		}
		if o.a.Records > 0 {
			end = min(end, time.Duration(math.Ceil(float64(o.left(g))/g.rate*1e9))*time.Nanosecond)
		}
	}
	q.gen++
	qgen := q.gen
	if end != time.Duration(math.MaxInt64) {
		o.arm(now.Add(end), func(now time.Time) []ocs.Message { return o.seqEndItem(q, qgen, now) })
	}
	return append(evs, o.statusEvent(g, now))
}

func (o *idealOCS) seqEndItem(q *idealSeq, gen int, now time.Time) []ocs.Message {
	if q.gen != gen || !q.running {
		return nil
	}
	g := o.seqGroup(q)
	o.pause(g, now)
	// OCS stops and unloads the item's group and says so, as it does for
	// auto-completion.
	o.setStatus(g, ocs.StatusInActive)
	evs := []ocs.Message{o.notice(g, ocs.EvDialingStopped, now), o.statusEvent(g, now)}
	o.setStatus(g, ocs.StatusNotLoaded)
	evs = append(evs, o.notice(g, ocs.EvCampaignUnloaded, now), o.statusEvent(g, now))
	q.status[q.item] = ocs.StatusNotLoaded
	q.item++
	o.seqNext(q, now, false)
	return evs
}

func (o *idealOCS) seqAnswer(req ocs.Message, q *idealSeq, t ocs.MessageType) ocs.Message {
	sched := q.sched
	sched.Items = append([]ocs.ScheduleItem(nil), q.sched.Items...)
	for i := range sched.Items {
		sched.Items[i].Status, sched.Items[i].HasStatus = q.status[i], true
	}
	st := ocs.StatusInActive
	if q.running {
		st = ocs.StatusRunning
	}
	return ocs.NewAnswer(req, t).WithSchedule(sched).WithStatus(st)
}
