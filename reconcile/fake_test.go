package reconcile

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sequencer-dev/sequencer/ocs"
)

// fakeOCS is a scriptable OCS for the loop's unit tests: it keeps the
// status of each campaign group, answers as the seed says, records every
// request in a transcript, and lets a test set counters, inject errors,
// swallow answers, or restart.
type fakeOCS struct {
	mu         sync.Mutex
	start      time.Time
	groups     map[groupKey]*fakeGroup
	transcript []fakeLine
	events     chan ocs.Message
	failNext   map[ocs.MessageType]ocs.ErrorCode
	dropNext   map[ocs.MessageType]bool
	owned      map[groupKey]bool // groups of a native OCS sequence: 17
	counters   bool
	// What a seed-faithful OCS may also do:
	recv        ocs.Receipts      // stamps answers and events in the order "sent"
	down        bool              // link down: every request fails at once
	requests    int               // requests received, polls included
	staleOnPoll map[groupKey]bool // next poll: answer Running, then auto-complete before the answer arrives
	silentAuto  bool              // auto-completion without events (they were lost)
}

type fakeLine struct {
	at       time.Duration
	campaign int32
	text     string
}

type fakeGroup struct {
	status ocs.GroupCampStatus
	mode   ocs.DialMode
	stats  ocs.Stats
	auto   bool
	empty  bool // the list ran dry: loads do not refill it
}

func newFakeOCS() *fakeOCS {
	return &fakeOCS{
		start: time.Now(), groups: map[groupKey]*fakeGroup{}, events: make(chan ocs.Message, 1024),
		failNext: map[ocs.MessageType]ocs.ErrorCode{}, dropNext: map[ocs.MessageType]bool{},
		owned: map[groupKey]bool{}, counters: true, staleOnPoll: map[groupKey]bool{},
	}
}

func (f *fakeOCS) Events() <-chan ocs.Message     { return f.events }
func (f *fakeOCS) Capabilities() ocs.Capabilities { return ocs.Capabilities{Counters: f.counters} }
func (f *fakeOCS) Close() error                   { return nil }

// Up says whether the link is connected, as the bridge client does.
func (f *fakeOCS) Up() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return !f.down
}
func (f *fakeOCS) group(k groupKey) *fakeGroup {
	g := f.groups[k]
	if g == nil {
		g = &fakeGroup{}
		f.groups[k] = g
	}
	return g
}

func (f *fakeOCS) status(req ocs.Message, g *fakeGroup, t ocs.MessageType) ocs.Message {
	m := ocs.NewAnswer(req, t).WithStatus(g.status)
	if g.status != ocs.StatusNotLoaded {
		m = m.WithPacing(ocs.Pacing{DialMode: g.mode})
	}
	if f.counters {
		m = m.WithStats(g.stats)
	}
	return m
}

// Request applies req like OCS would.
func (f *fakeOCS) Request(ctx context.Context, req ocs.Message) (ocs.Message, error) {
	if err := req.Validate(); err != nil {
		return ocs.Message{}, err
	}
	f.mu.Lock()
	f.requests++
	if f.down {
		f.mu.Unlock()
		return ocs.Message{}, fmt.Errorf("%s: %w (%w)", req.Type, ocs.ErrDisconnected, ocs.ErrNotSent)
	}
	at := time.Since(f.start)
	line := fmt.Sprintf("+%-8s %s %d/%d", at.Round(time.Second), req.Type, req.CampaignDBID, req.GroupDBID)
	if req.Has&ocs.AttrDialMode != 0 {
		line += fmt.Sprintf(" %s/%s/%d", req.DialMode.Short(), req.OptimizeBy.Short(), req.OptimizeGoal)
	}
	if req.Has&ocs.AttrAutoCompletion != 0 {
		line += fmt.Sprintf(" auto=%v", req.AutoCompletion)
	}
	if req.Type != ocs.ReqGetCampaignStatus {
		f.transcript = append(f.transcript, fakeLine{at, req.CampaignDBID, line})
	}
	if f.dropNext[req.Type] {
		delete(f.dropNext, req.Type)
		f.applyLocked(req)
		f.mu.Unlock()
		<-ctx.Done()
		return ocs.Message{}, fmt.Errorf("%s: %w", req.Type, ocs.ErrTimeout)
	}
	if code, ok := f.failNext[req.Type]; ok {
		delete(f.failNext, req.Type)
		f.mu.Unlock()
		return ocs.Message{}, &ocs.OCSError{Request: req.Type, Code: code}
	}
	k := groupKey{req.CampaignDBID, req.GroupDBID}
	stale := req.Type == ocs.ReqGetCampaignStatus && f.staleOnPoll[k]
	delete(f.staleOnPoll, k)
	after := f.recv.Mark()
	ans, err := f.applyLocked(req)
	f.mu.Unlock()
	if stale {
		// OCS computed "Running", then its list ran dry, and it sent the
		// stop and unload events before the answer: the answer is stale
		// although it is received last.
		f.deplete(req.CampaignDBID, req.GroupDBID)
		for len(f.events) > 0 {
			time.Sleep(time.Millisecond)
		}
		time.Sleep(time.Millisecond)
	}
	ans = f.recv.Stamp(ans)
	ans.After = after
	return ans, err
}

// bounce drops the link and brings it back, announced as a link does.
func (f *fakeOCS) bounce(restart bool) {
	if restart {
		f.restart()
	}
	f.events <- f.recv.Notice(ocs.LinkDown)
	f.events <- f.recv.Notice(ocs.LinkUp)
}

// setDown takes the link down (or back up), announced as a link does.
func (f *fakeOCS) setDown(down bool) {
	f.mu.Lock()
	f.down = down
	f.mu.Unlock()
	t := ocs.LinkUp
	if down {
		t = ocs.LinkDown
	}
	f.events <- f.recv.Notice(t)
}

func (f *fakeOCS) requestCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.requests
}

func (f *fakeOCS) applyLocked(req ocs.Message) (ocs.Message, error) {
	k := groupKey{req.CampaignDBID, req.GroupDBID}
	fail := func(c ocs.ErrorCode) (ocs.Message, error) {
		return ocs.Message{}, &ocs.OCSError{Request: req.Type, Code: c}
	}
	if f.owned[k] && req.Type != ocs.ReqGetCampaignStatus {
		return fail(ocs.ErrPartOfSequence)
	}
	g := f.group(k)
	switch req.Type {
	case ocs.ReqLoadCampaign:
		if g.status != ocs.StatusNotLoaded {
			return fail(ocs.ErrCampaignAlreadyLoaded)
		}
		g.status, g.mode, g.stats, g.auto = ocs.StatusInActive, req.DialMode, ocs.Stats{RecordsLeft: g.stats.RecordsLeft}, req.AutoCompletion
		if g.stats.RecordsLeft == 0 && !g.empty {
			g.stats.RecordsLeft = 100000
		}
		return f.status(req, g, ocs.EvCampaignLoaded), nil
	case ocs.ReqStartDialing:
		switch g.status {
		case ocs.StatusNotLoaded:
			return fail(ocs.ErrCampaignNotLoaded)
		case ocs.StatusRunning:
			return fail(ocs.ErrCampaignAlreadyStarted)
		}
		g.status, g.mode = ocs.StatusRunning, req.DialMode
		if req.Has&ocs.AttrAutoCompletion != 0 {
			g.auto = req.AutoCompletion
		}
		ans := f.status(req, g, ocs.EvDialingStarted)
		if f.silentAuto && g.auto && g.stats.RecordsLeft == 0 {
			g.status = ocs.StatusNotLoaded // auto-completed at once; the events were lost
		}
		return ans, nil
	case ocs.ReqSetDialingMode:
		if g.status != ocs.StatusRunning {
			return fail(ocs.ErrCampaignNotStarted)
		}
		if !g.mode.LiveSwitchable(req.DialMode) {
			return fail(ocs.ErrInvalidCampaignMode)
		}
		g.mode = req.DialMode
		return f.status(req, g, ocs.EvDialingModeChanged), nil
	case ocs.ReqStopDialing:
		switch g.status {
		case ocs.StatusNotLoaded:
			return fail(ocs.ErrCampaignNotLoaded)
		case ocs.StatusInActive:
			return fail(ocs.ErrCampaignNotStarted)
		}
		g.status = ocs.StatusInActive
		return f.status(req, g, ocs.EvDialingStopped), nil
	case ocs.ReqUnloadCampaign, ocs.ReqForceUnloadCampaign:
		if g.status == ocs.StatusNotLoaded {
			return fail(ocs.ErrCampaignNotLoaded)
		}
		g.status = ocs.StatusNotLoaded
		return f.status(req, g, ocs.EvCampaignUnloaded), nil
	case ocs.ReqGetCampaignStatus:
		return f.status(req, g, ocs.EvCampaignStatus), nil
	}
	return fail(ocs.ErrInvalidParameter)
}

// dial adds counters to a running group, as if calls were made.
func (f *fakeOCS) dial(campaign, group int32, dials, contacts int32) {
	f.mu.Lock()
	defer f.mu.Unlock()
	g := f.group(groupKey{campaign, group})
	g.stats.Dials += dials
	g.stats.Contacts += contacts
	g.stats.RecordsLeft -= dials
	if g.stats.RecordsLeft < 0 {
		g.stats.RecordsLeft = 0
	}
}

// deplete empties the list; with auto-completion OCS stops and unloads the
// group itself and says so, unsolicited.
func (f *fakeOCS) deplete(campaign, group int32) {
	f.mu.Lock()
	k := groupKey{campaign, group}
	g := f.group(k)
	g.stats.RecordsLeft, g.empty = 0, true
	var evs []ocs.Message
	if g.auto && g.status == ocs.StatusRunning {
		base := ocs.Message{Type: ocs.EvDialingStopped, Has: ocs.AttrCampaign | ocs.AttrGroup, CampaignDBID: campaign, GroupDBID: group}
		g.status = ocs.StatusInActive
		evs = append(evs, base.WithStatus(g.status).WithStats(g.stats))
		g.status = ocs.StatusNotLoaded
		un := base
		un.Type = ocs.EvCampaignUnloaded
		evs = append(evs, un.WithStatus(g.status).WithStats(g.stats))
	}
	at := time.Since(f.start)
	f.transcript = append(f.transcript, fakeLine{at, 0, fmt.Sprintf("+%-8s -- list %d/%d depleted", at.Round(time.Second), campaign, group)})
	for i := range evs {
		evs[i] = f.recv.Stamp(evs[i])
	}
	f.mu.Unlock()
	for _, e := range evs {
		f.events <- e
	}
}

// restart loses every loaded group, as an OCS restart does.
func (f *fakeOCS) restart() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, g := range f.groups {
		g.status = ocs.StatusNotLoaded
		g.stats = ocs.Stats{RecordsLeft: g.stats.RecordsLeft}
	}
	at := time.Since(f.start)
	f.transcript = append(f.transcript, fakeLine{at, 0, fmt.Sprintf("+%-8s -- OCS restarted", at.Round(time.Second))})
}

// text renders the transcript; requests of concurrent sequences at the
// same instant are ordered by campaign so goldens do not depend on
// goroutine scheduling.
func (f *fakeOCS) text() string {
	f.mu.Lock()
	lines := slices.Clone(f.transcript)
	f.mu.Unlock()
	slices.SortStableFunc(lines, func(a, b fakeLine) int {
		if a.at != b.at {
			return cmp.Compare(a.at, b.at)
		}
		return cmp.Compare(a.campaign, b.campaign)
	})
	var sb strings.Builder
	for _, l := range lines {
		sb.WriteString(l.text + "\n")
	}
	return sb.String()
}
