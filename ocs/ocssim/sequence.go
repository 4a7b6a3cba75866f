package ocssim

import (
	"math"
	"time"

	"github.com/sequencer-dev/sequencer/ocs"
)

// sequence is an OCS-side campaign sequence (CampaignDBID 0 with a
// campaign_schedule): OCS runs its items in order by itself.
type sequence struct {
	groupDBID int32
	sched     ocs.Schedule
	running   bool
	item      int // current item; len(items) when done
	status    []ocs.GroupCampStatus
	started   []bool // the item dialed before: a restart resumes it
	timer     *time.Timer
	gen       int
}

func (q *sequence) stopTimer() {
	if q.timer != nil {
		q.timer.Stop()
		q.timer = nil
	}
	q.gen++
}

func (s *Sim) applySequence(m ocs.Message, now time.Time) (ocs.Message, []ocs.Message) {
	fail := func(c ocs.ErrorCode, text string) (ocs.Message, []ocs.Message) { return ocs.NewError(m, c, text), nil }
	q := s.seqs[m.GroupDBID]
	switch m.Type {
	case ocs.ReqLoadCampaign:
		if q != nil {
			return fail(ocs.ErrCampaignAlreadyLoaded, "")
		}
		sched, _, err := m.Schedule()
		if err != nil || len(sched.Items) == 0 {
			return fail(ocs.ErrInvalidCampaignSchedule, "campaign_schedule: no items or undecodable")
		}
		for i, it := range sched.Items {
			g := s.groups[key{it.CampaignDBID, m.GroupDBID}]
			if g == nil || !it.DialMode.Valid() {
				return fail(ocs.ErrInvalidCampaignSchedule, "scheduleItem-"+itoa(i+1)+": campaign not in the group or bad dial mode")
			}
			if g.status != ocs.StatusNotLoaded || g.owner != 0 {
				return fail(ocs.ErrInvalidCampaignSchedule, "scheduleItem-"+itoa(i+1)+": campaign group is busy")
			}
		}
		q = &sequence{groupDBID: m.GroupDBID, sched: sched, status: make([]ocs.GroupCampStatus, len(sched.Items)),
			started: make([]bool, len(sched.Items))}
		s.seqs[m.GroupDBID] = q
		for _, it := range sched.Items {
			s.groups[key{it.CampaignDBID, m.GroupDBID}].owner = m.GroupDBID
		}
		return s.seqAnswer(m, q, ocs.EvCampaignLoaded, now), nil
	case ocs.ReqStartDialing:
		if q == nil {
			return fail(ocs.ErrCampaignScheduleNotFound, "")
		}
		if q.running {
			return fail(ocs.ErrCampaignAlreadyStarted, "")
		}
		q.running = true
		s.seqNext(q, now, true)
		return s.seqAnswer(m, q, ocs.EvDialingStarted, now), nil
	case ocs.ReqSetDialingMode:
		if q == nil {
			return fail(ocs.ErrCampaignScheduleNotFound, "")
		}
		return fail(ocs.ErrInvalidScheduleMode, "a running campaign sequence cannot change dial mode")
	case ocs.ReqStopDialing:
		if q == nil {
			return fail(ocs.ErrCampaignScheduleNotFound, "")
		}
		if !q.running {
			return fail(ocs.ErrCampaignNotStarted, "")
		}
		q.running = false
		q.stopTimer()
		var evs []ocs.Message
		if g := s.seqGroup(q); g != nil && g.status == ocs.StatusRunning {
			s.pause(g, now)
			g.stopped = now
			s.setStatus(g, ocs.StatusInActive, now)
			q.status[q.item] = ocs.StatusInActive
			evs = append(evs, s.statusEvent(g, now))
		}
		return s.seqAnswer(m, q, ocs.EvDialingStopped, now), evs
	case ocs.ReqUnloadCampaign, ocs.ReqForceUnloadCampaign:
		if q == nil {
			return fail(ocs.ErrCampaignScheduleNotFound, "")
		}
		q.stopTimer()
		evs := s.dropSequence(q, now)
		ans := s.seqAnswer(m, q, ocs.EvCampaignUnloaded, now)
		delete(s.seqs, q.groupDBID)
		return ans, evs
	case ocs.ReqGetCampaignStatus:
		if q == nil {
			return fail(ocs.ErrCampaignScheduleNotFound, "")
		}
		return s.seqAnswer(m, q, ocs.EvCampaignStatus, now), nil
	}
	return fail(ocs.ErrInvalidParameter, "unsupported request for a campaign sequence")
}

func itoa(n int) string {
	if n < 10 {
		return string(rune('0' + n))
	}
	return itoa(n/10) + string(rune('0'+n%10))
}

func (s *Sim) seqGroup(q *sequence) *group {
	if q.item >= len(q.sched.Items) {
		return nil
	}
	return s.groups[key{q.sched.Items[q.item].CampaignDBID, q.groupDBID}]
}

// dropSequence unloads whatever the sequence holds and frees its groups;
// it returns the status events of the groups it unloaded.
func (s *Sim) dropSequence(q *sequence, now time.Time) []ocs.Message {
	var evs []ocs.Message
	for i, it := range q.sched.Items {
		g := s.groups[key{it.CampaignDBID, q.groupDBID}]
		if g == nil {
			continue
		}
		if g.status != ocs.StatusNotLoaded {
			s.pause(g, now)
			s.setStatus(g, ocs.StatusNotLoaded, now)
			evs = append(evs, s.statusEvent(g, now))
		}
		g.owner = 0
		q.status[i] = ocs.StatusNotLoaded
	}
	return evs
}

// seqNext arms the sleep before the current item (first: true for the
// item the sequence starts with).
func (s *Sim) seqNext(q *sequence, now time.Time, first bool) {
	if q.item >= len(q.sched.Items) {
		q.running = false
		return
	}
	it := q.sched.Items[q.item]
	sleep := time.Duration(it.SleepBeforeNextStart) * time.Minute
	if q.started[q.item] {
		sleep = 0 // a restart resumes the item it stopped
	}
	if first && q.sched.StartTime != 0 {
		if st := ocs.DecodeTime(q.sched.StartTime); st.After(now) {
			sleep += st.Sub(now)
		}
	}
	q.stopTimer()
	gen := q.gen
	q.timer = time.AfterFunc(sleep, func() { s.seqStartItem(q, gen) })
}

func (s *Sim) seqStartItem(q *sequence, gen int) {
	s.mu.Lock()
	if q.gen != gen || !q.running {
		s.mu.Unlock()
		return
	}
	now := time.Now()
	s.actor = actor{cause: CauseSequence}
	it := q.sched.Items[q.item]
	g := s.seqGroup(q)
	g.pacing = ocs.Pacing{DialMode: it.DialMode, OptimizeBy: it.OptMethod, OptimizeGoal: it.OptMethodValue}
	var evs []ocs.Message
	if !q.started[q.item] {
		// OCS loads the item's group, then starts it.
		g.dials = 0
		s.setStatus(g, ocs.StatusInActive, now)
		s.applyDNC(g, now)
		evs = append(evs, s.statusEvent(g, now))
		q.started[q.item] = true
	}
	s.run(g, now)
	q.status[q.item] = ocs.StatusRunning
	// The item ends at the first of its stop conditions or at depletion.
	end := time.Duration(math.MaxInt64)
	if it.StopAtTime != 0 {
		end = min(end, max(0, ocs.DecodeTime(it.StopAtTime).Sub(now)))
	}
	if g.rate > 0 {
		// Dials the item made before a stop count towards its limits.
		secs := func(dials float64) time.Duration {
			return time.Duration(math.Ceil(max(0, dials-float64(g.dials))/g.rate*1e9)) * time.Nanosecond
		}
		if it.StopAtDials > 0 {
			end = min(end, secs(float64(it.StopAtDials)))
		}
		if it.StopAtContacts > 0 && s.cfg.ContactRate > 0 {
			end = min(end, secs(math.Ceil(float64(it.StopAtContacts)/s.cfg.ContactRate)))
		}
		end = min(end, time.Duration(math.Ceil(float64(g.left())/g.rate*1e9))*time.Nanosecond)
	}
	g.stopTimer() // the sequence, not the group, decides when the item ends
	qgen := q.gen
	q.timer = time.AfterFunc(end, func() { s.seqEndItem(q, qgen) })
	evs = append(evs, s.statusEvent(g, now))
	s.mu.Unlock()
	s.broadcast(evs)
}

func (s *Sim) seqEndItem(q *sequence, gen int) {
	s.mu.Lock()
	if q.gen != gen || !q.running {
		s.mu.Unlock()
		return
	}
	now := time.Now()
	s.actor = actor{cause: CauseSequence}
	g := s.seqGroup(q)
	s.pause(g, now)
	// OCS stops and unloads the item's group, and says so as it does for
	// auto-completion.
	s.setStatus(g, ocs.StatusInActive, now)
	evs := []ocs.Message{s.notice(g, ocs.EvDialingStopped, now), s.statusEvent(g, now)}
	s.setStatus(g, ocs.StatusNotLoaded, now)
	evs = append(evs, s.notice(g, ocs.EvCampaignUnloaded, now), s.statusEvent(g, now))
	q.status[q.item] = ocs.StatusNotLoaded
	q.item++
	s.seqNext(q, now, false)
	s.mu.Unlock()
	s.broadcast(evs)
}

func (s *Sim) seqAnswer(req ocs.Message, q *sequence, t ocs.MessageType, now time.Time) ocs.Message {
	sched := q.sched
	sched.Items = append([]ocs.ScheduleItem(nil), q.sched.Items...)
	for i := range sched.Items {
		sched.Items[i].Status, sched.Items[i].HasStatus = q.status[i], true
	}
	m := ocs.NewAnswer(req, t).WithSchedule(sched)
	if pacedAnswer(t) {
		// The sequence's dial parameters are its current item's (its
		// last once it is over).
		it := sched.Items[min(q.item, len(sched.Items)-1)]
		m = m.WithPacing(ocs.Pacing{DialMode: it.DialMode, OptimizeBy: it.OptMethod, OptimizeGoal: it.OptMethodValue})
	}
	if s.seed() && t != ocs.EvCampaignStatus {
		return m // the seed lists GroupCampStatus for status answers only
	}
	st := ocs.StatusInActive
	if q.running {
		st = ocs.StatusRunning
	}
	return m.WithStatus(st)
}
