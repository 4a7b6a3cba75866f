package ocssim

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sequencer-dev/sequencer/internal/chunked"
	"github.com/sequencer-dev/sequencer/ocs"
	"github.com/sequencer-dev/sequencer/ocs/bridge"
)

type key struct{ campaign, group int32 }

// group is one campaign group's runtime state.
type group struct {
	cg        CampaignGroup
	status    ocs.GroupCampStatus
	changedAt int // len(Sim.changes) after its last state change
	pacing    ocs.Pacing
	auto      bool
	consumed  int64     // records dialed since the simulator started (the list's state)
	dials     int64     // dials since the group was loaded, up to runSince
	runSince  time.Time // zero unless running
	rate      float64
	timer     *time.Timer
	owner     int32     // group DBID of the OCS sequence that owns it; 0 none
	stopped   time.Time // when dialing last stopped: calls may still be on desktops for DrainTime
	gen       int       // bumps on every state change, to ignore stale timers
	// cancelled are records not dialed yet that a cancellation or a DNC
	// took out of the list; nil until the first.
	cancelled map[int64]struct{}
}

// left is the records not dialed and not cancelled before the running
// segment.
func (g *group) left() int64 { return g.cg.Records - g.consumed - int64(len(g.cancelled)) }

// Record is one request the simulator received.
type Record struct {
	At          time.Time
	Msg         ocs.Message
	Disregarded bool // dropped silently: the connection rule, or for another OCS
	NotForMe    bool // TargetAppDBID names another OCS on the DN
	HTTP        bool // came through the HTTP front
}

// Sim is a simulated OCS. Create it with New; serve connections with Serve.
type Sim struct {
	cfg   Config
	log   *slog.Logger
	start time.Time

	mu         sync.Mutex
	groups     map[key]*group
	seqs       map[int32]*sequence // by group DBID
	conns      map[*bridge.Conn]struct{}
	transcript transcript
	// The configured DBIDs, for lookups per request.
	campaignIDs, groupIDs map[int32]struct{}
	faults                faults
	closed                bool
	stateSubs             map[chan ocs.Message]struct{} // campaign-group state reporters
	// The DoNotCall tables OCS keeps in memory (gsw_donotcall_list plus
	// the requests since start-up).
	dncPhones    map[string]struct{}
	dncCustomers map[string]struct{}

	queues  map[*bridge.Conn]*answerQueue // late answers per connection
	rnd     *rand.Rand                    // every random choice, so that one seed replays a run
	knobs   knobs
	actor   actor      // who is changing state now; set by each entry point
	changes []Change   // ground truth: every campaign-group state change
	sendMu  sync.Mutex // broadcasts leave in the order they were made
}

type faults struct {
	dropRequest map[ocs.MessageType]int // 0 key: any type
	dropAnswer  int
	delay       time.Duration
	failNext    map[ocs.MessageType]ocs.ErrorCode
	dropStatus  float64 // share of unsolicited status events dropped
	statusDelay time.Duration
	statusSeen  int
}

// Option configures a Sim.
type Option func(*Sim)

// WithLogger logs every request.
func WithLogger(l *slog.Logger) Option { return func(s *Sim) { s.log = l } }

// New returns a simulator in the state of a freshly started OCS.
func New(cfg Config, opts ...Option) *Sim {
	s := &Sim{cfg: cfg, log: slog.New(slog.DiscardHandler), start: time.Now(), groups: map[key]*group{},
		rnd: rand.New(rand.NewPCG(1, 2)), queues: map[*bridge.Conn]*answerQueue{},
		seqs: map[int32]*sequence{}, conns: map[*bridge.Conn]struct{}{}, stateSubs: map[chan ocs.Message]struct{}{},
		dncPhones: map[string]struct{}{}, dncCustomers: map[string]struct{}{},
		faults: faults{dropRequest: map[ocs.MessageType]int{}, failNext: map[ocs.MessageType]ocs.ErrorCode{}}}
	for _, o := range opts {
		o(s)
	}
	for _, cg := range cfg.CampaignGroups {
		s.groups[key{cg.CampaignDBID, cg.GroupDBID}] = &group{cg: cg, pacing: cg.configured()}
	}
	s.campaignIDs = make(map[int32]struct{}, len(cfg.Campaigns))
	for _, c := range cfg.Campaigns {
		s.campaignIDs[c.DBID] = struct{}{}
	}
	s.groupIDs = make(map[int32]struct{}, len(cfg.Groups))
	for _, g := range cfg.Groups {
		s.groupIDs[g.DBID] = struct{}{}
	}
	return s
}

// Serve speaks the bridge framing on conn until it closes. Malformed
// frames close this connection only.
func (s *Sim) Serve(nc net.Conn) {
	c := bridge.NewConn(nc)
	if !s.attach(c) {
		nc.Close()
		return
	}
	defer func() {
		s.detach(c)
		c.Close()
	}()
	for {
		m, err := c.Receive()
		if err != nil {
			s.logReceiveError(err)
			return
		}
		// Answers and events of a backlog of requests leave in one write
		// once the backlog is served; never held while waiting for input.
		c.Cork()
		s.handle(c, m)
		if !c.FrameBuffered() {
			c.Uncork()
		}
	}
}

func (s *Sim) logReceiveError(err error) {
	if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && !errors.Is(err, io.ErrClosedPipe) {
		s.log.Warn("closing client connection", "reason", err)
	}
}

// attach makes c receive this OCS's broadcasts; false once closed.
func (s *Sim) attach(c *bridge.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.conns[c] = struct{}{}
	return true
}

func (s *Sim) detach(c *bridge.Conn) {
	s.mu.Lock()
	delete(s.conns, c)
	delete(s.queues, c)
	s.mu.Unlock()
}

// Close disconnects every client and stops the timers.
func (s *Sim) Close() error {
	s.mu.Lock()
	s.closed = true
	conns := s.conns
	s.conns = map[*bridge.Conn]struct{}{}
	for _, g := range s.groups {
		g.stopTimer()
	}
	for _, q := range s.seqs {
		q.stopTimer()
	}
	s.mu.Unlock()
	for c := range conns {
		c.Close()
	}
	return nil
}

func (g *group) stopTimer() {
	if g.timer != nil {
		g.timer.Stop()
		g.timer = nil
	}
}

// handle answers one message from a client.
func (s *Sim) handle(c *bridge.Conn, m ocs.Message) {
	d := s.process(m, false)
	if d.eventsFirst {
		s.broadcast(d.notify)
		d.notify = nil
	}
	if !d.reply {
		s.broadcast(d.notify)
		s.broadcast(d.after)
		return
	}
	if due, prev, done, queued := s.queueAnswer(c, d.delay); queued {
		s.broadcast(d.notify)
		// Events that follow a late answer go to the connections of the
		// moment: after a disconnect they are lost, as OCS's would be.
		conns := s.connections()
		mark := s.broadcastMark()
		go func() {
			defer close(done)
			if prev != nil {
				<-prev
			}
			time.Sleep(time.Until(due))
			c.Send(d.ans)
			s.broadcastSince(conns, d.after, mark)
		}()
		return
	}
	c.Send(d.ans)
	s.broadcast(d.notify)
	s.broadcast(d.after)
}

// answerQueue orders the late answers to one connection.
type answerQueue struct {
	due  time.Time     // of the last answer queued
	last chan struct{} // closed once it is sent
}

// queueAnswer says whether c's answer must wait, and until when: answers
// to one connection keep the order of their requests however late each
// is, as OCS works through a client's requests in turn.
func (s *Sim) queueAnswer(c *bridge.Conn, delay time.Duration) (due time.Time, prev, done chan struct{}, queued bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	q := s.queues[c]
	if delay <= 0 && (q == nil || q.due.Before(now)) {
		return time.Time{}, nil, nil, false
	}
	if q == nil {
		q = &answerQueue{}
		s.queues[c] = q
	}
	due = now.Add(delay)
	if due.Before(q.due) {
		due = q.due
	}
	prev, done = q.last, make(chan struct{})
	q.due, q.last = due, done
	return due, prev, done, true
}

// delivery is what one request makes the simulator send, and in which
// order.
type delivery struct {
	ans         ocs.Message
	reply       bool          // false: the answer is lost (or never made)
	delay       time.Duration // before the answer
	notify      []ocs.Message // the unsolicited events the request caused
	eventsFirst bool          // send notify before the answer
	after       []ocs.Message // events that must follow the answer (a stale status answer's auto-completion)
}

// process records and applies one request, whichever front it came by,
// and says what to send, as the faults and knobs decide. The connection
// rule is CommDN's: the HTTP front (viaHTTP) is not subject to it.
func (s *Sim) process(m ocs.Message, viaHTTP bool) delivery {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	var d delivery
	rec := Record{At: now, Msg: m, HTTP: viaHTTP}
	if !viaHTTP && !s.accepts(m) {
		rec.Disregarded = true
		rec.NotForMe = !s.targeted(m)
		s.transcript.add(rec)
		s.log.Info("request disregarded: origin not on OCS's Connections tab", "type", m.Type.String(), "origin", m.OriginAppDBID)
		return d
	}
	s.transcript.add(rec)
	s.log.Info("request", "type", m.Type.String(), "campaign", m.CampaignDBID, "group", m.GroupDBID, "ref", m.ReferenceID, "http", viaHTTP)
	if s.takeDrop(m.Type) {
		return d
	}
	s.actor = actor{cause: CauseRequest, req: m.Type, origin: m.OriginAppDBID}
	if code, ok := s.faults.failNext[m.Type]; ok {
		delete(s.faults.failNext, m.Type)
		d.ans = ocs.NewError(m, code, "injected fault")
	} else {
		d.ans, d.notify = s.apply(m, now)
		if m.Type == ocs.ReqGetCampaignStatus && d.ans.Type == ocs.EvCampaignStatus {
			d.after = s.staleCompletion(m, now)
		}
	}
	d.ans.OriginAppDBID = s.cfg.AppDBID // a request to target 0 is answered by each OCS as itself
	if s.knobs.eventsFirst > 0 && len(d.notify) > 0 {
		d.eventsFirst = s.rnd.Float64() < s.knobs.eventsFirst
	}
	if s.faults.dropAnswer > 0 {
		s.faults.dropAnswer--
		return d
	}
	d.reply, d.delay = true, s.faults.delay+s.answerDelay()
	return d
}

// accepts applies OCS's connection rule and the target check.
func (s *Sim) accepts(m ocs.Message) bool {
	if !s.targeted(m) {
		return false
	}
	if len(s.cfg.Connections) == 0 {
		return true
	}
	return slices.Contains(s.cfg.Connections, m.OriginAppDBID)
}

// targeted: the request is for this OCS or for every OCS (target 0).
func (s *Sim) targeted(m ocs.Message) bool {
	return m.Has&ocs.AttrTargetApp == 0 || m.TargetAppDBID == 0 || m.TargetAppDBID == s.cfg.AppDBID
}

func (s *Sim) takeDrop(t ocs.MessageType) bool {
	for _, k := range []ocs.MessageType{t, 0} {
		if n := s.faults.dropRequest[k]; n > 0 {
			s.faults.dropRequest[k] = n - 1
			return true
		}
	}
	return false
}

// connections are the clients connected now.
func (s *Sim) connections() []*bridge.Conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.connList()
}

func (s *Sim) connList() []*bridge.Conn {
	conns := make([]*bridge.Conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	return conns
}

// broadcast sends unsolicited events to every client connected now.
func (s *Sim) broadcast(evs []ocs.Message) { s.broadcastTo(nil, evs) }

// broadcastTo sends unsolicited events to conns (nil: every client
// connected now), as the status-event policy and the faults allow.
func (s *Sim) broadcastTo(conns []*bridge.Conn, evs []ocs.Message) {
	s.broadcastSince(conns, evs, -1)
}

// broadcastMark is the number of state changes so far: the moment events
// about to be held back (a late answer's) describe.
func (s *Sim) broadcastMark() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.changes)
}

// broadcastSince is broadcastTo for events that describe the moment mark
// (-1: now). Those about a group whose state changed since are stale and
// dropped: OCS reports a group's states in the order they happen, never
// an old "Running" after a newer unload.
func (s *Sim) broadcastSince(conns []*bridge.Conn, evs []ocs.Message, mark int) {
	if len(evs) == 0 {
		return
	}
	s.mu.Lock()
	if conns == nil {
		conns = s.connList()
	}
	var out []ocs.Message
	for _, e := range evs {
		if g := s.groups[key{e.CampaignDBID, e.GroupDBID}]; mark >= 0 && g != nil && g.changedAt > mark {
			continue
		}
		if e.Type == ocs.EvCampaignStatus {
			for ch := range s.stateSubs {
				select {
				case ch <- e:
				default: // a reporter that cannot keep up loses changes, as OCS's would
				}
			}
		}
		if e.Type == ocs.EvCampaignStatus && !s.sendsStatus() {
			continue
		}
		if e.Type == ocs.EvCampaignStatus && s.faults.dropStatus > 0 {
			s.faults.statusSeen++
			if math.Mod(float64(s.faults.statusSeen)*s.faults.dropStatus, 1) < s.faults.dropStatus {
				continue
			}
		}
		out = append(out, e)
	}
	delay := s.faults.statusDelay
	if delay > 0 {
		s.mu.Unlock()
		time.AfterFunc(delay, func() { s.sendAll(conns, out) })
		return
	}
	// Taken before the state lock is let go, so two broadcasts leave in
	// the order they were made.
	s.sendMu.Lock()
	s.mu.Unlock()
	defer s.sendMu.Unlock()
	sendTo(conns, out)
}

func (s *Sim) sendAll(conns []*bridge.Conn, out []ocs.Message) {
	s.sendMu.Lock()
	defer s.sendMu.Unlock()
	sendTo(conns, out)
}

func sendTo(conns []*bridge.Conn, out []ocs.Message) {
	for _, c := range conns {
		for _, e := range out {
			c.Send(e)
		}
	}
}

func (s *Sim) licensed(m ocs.DialMode) bool {
	return len(s.cfg.LicensedModes) == 0 || slices.Contains(s.cfg.LicensedModes, m)
}

// campaignExists and groupExists look in sets built once by New: a
// simulator configured with 10,000 campaigns answers a storm of requests,
// and a walk of the list per request was a third of its time.
func (s *Sim) campaignExists(id int32) bool {
	_, ok := s.campaignIDs[id]
	return ok
}

func (s *Sim) groupExists(id int32) bool {
	_, ok := s.groupIDs[id]
	return ok
}

// lookup resolves a campaign group or says which error OCS gives.
func (s *Sim) lookup(m ocs.Message) (*group, ocs.ErrorCode) {
	if !s.campaignExists(m.CampaignDBID) {
		return nil, ocs.ErrCampaignNotFound
	}
	if !s.groupExists(m.GroupDBID) {
		return nil, ocs.ErrGroupNotFound
	}
	g := s.groups[key{m.CampaignDBID, m.GroupDBID}]
	if g == nil {
		return nil, ocs.ErrGroupCampNotFound
	}
	return g, 0
}

// apply runs a valid, accepted request; it returns the answer and the
// unsolicited notifications to broadcast.
func (s *Sim) apply(m ocs.Message, now time.Time) (ocs.Message, []ocs.Message) {
	if err := m.Validate(); err != nil {
		return ocs.NewError(m, ocs.ErrInvalidParameter, err.Error()), nil
	}
	record := m.Type == ocs.ReqCancelRecord || m.Type == ocs.ReqDoNotCall
	if !record && m.TargetAppDBID == 0 {
		// The seed allows target 0 ("every OCS on the DN") for record
		// requests only; acting on a broadcast Load would let one request
		// drive every OCS watching the DN.
		return ocs.NewError(m, ocs.ErrInvalidParameter, "TargetAppDBID 0 is allowed only for CM_ReqCancelRecord and CM_ReqDoNotCall"), nil
	}
	if m.CampaignDBID == 0 && !record {
		return s.applySequence(m, now)
	}
	if record {
		return s.applyRecord(m, now)
	}
	g, code := s.lookup(m)
	if code != 0 {
		return ocs.NewError(m, code, ""), nil
	}
	if g.owner != 0 && m.Type != ocs.ReqGetCampaignStatus {
		return ocs.NewError(m, s.partOfSequence(), fmt.Sprintf("campaign group belongs to the campaign sequence on group %d", g.owner)), nil
	}
	return s.applyGroup(g, m, now)
}

func (s *Sim) applyGroup(g *group, m ocs.Message, now time.Time) (ocs.Message, []ocs.Message) {
	fail := func(c ocs.ErrorCode, text string) (ocs.Message, []ocs.Message) { return ocs.NewError(m, c, text), nil }
	switch m.Type {
	case ocs.ReqLoadCampaign, ocs.ReqStartDialing, ocs.ReqSetDialingMode:
		// A malformed value is wrong whatever state the group is in.
		if why := badPacing(m.Pacing()); why != "" {
			return fail(ocs.ErrInvalidParameter, why)
		}
	}
	switch m.Type {
	case ocs.ReqLoadCampaign:
		if g.status != ocs.StatusNotLoaded {
			return fail(ocs.ErrCampaignAlreadyLoaded, "")
		}
		if !s.licensed(m.DialMode) {
			return fail(ocs.ErrLicenseViolation, m.DialMode.String()+" is not licensed")
		}
		g.pacing, g.auto, g.dials = m.Pacing(), m.AutoCompletion, 0
		s.setStatus(g, ocs.StatusInActive, now)
		s.applyDNC(g, now)
		return s.answer(m, g, ocs.EvCampaignLoaded, now), []ocs.Message{s.statusEvent(g, now)}
	case ocs.ReqStartDialing:
		switch g.status {
		case ocs.StatusNotLoaded, ocs.StatusWaitingUnload, ocs.StatusUnloadInProgress:
			return fail(ocs.ErrCampaignNotLoaded, "")
		case ocs.StatusRunning:
			return fail(ocs.ErrCampaignAlreadyStarted, "")
		}
		if !s.licensed(m.DialMode) {
			return fail(ocs.ErrLicenseViolation, m.DialMode.String()+" is not licensed")
		}
		g.pacing = m.Pacing()
		if m.Has&ocs.AttrAutoCompletion != 0 {
			g.auto = m.AutoCompletion
		}
		s.run(g, now)
		return s.answer(m, g, ocs.EvDialingStarted, now), []ocs.Message{s.statusEvent(g, now)}
	case ocs.ReqSetDialingMode:
		if !g.status.Loaded() {
			return fail(ocs.ErrCampaignNotLoaded, "")
		}
		if g.status != ocs.StatusRunning {
			return fail(ocs.ErrCampaignNotStarted, "")
		}
		if !g.pacing.DialMode.LiveSwitchable(m.DialMode) && g.pacing.DialMode != m.DialMode {
			return fail(ocs.ErrInvalidCampaignMode, fmt.Sprintf("cannot switch a running group from %s to %s", g.pacing.DialMode, m.DialMode))
		}
		if !s.licensed(m.DialMode) {
			return fail(ocs.ErrLicenseViolation, m.DialMode.String()+" is not licensed")
		}
		s.pause(g, now)
		g.pacing = m.Pacing()
		if m.Has&ocs.AttrAutoCompletion != 0 {
			g.auto = m.AutoCompletion
		}
		s.run(g, now)
		return s.answer(m, g, ocs.EvDialingModeChanged, now), []ocs.Message{s.statusEvent(g, now)}
	case ocs.ReqStopDialing:
		switch g.status {
		case ocs.StatusNotLoaded, ocs.StatusWaitingUnload, ocs.StatusUnloadInProgress:
			return fail(ocs.ErrCampaignNotLoaded, "")
		case ocs.StatusInActive, ocs.StatusActive:
			return fail(ocs.ErrCampaignNotStarted, "")
		}
		s.pause(g, now)
		s.setStatus(g, ocs.StatusInActive, now)
		g.stopped = now
		return s.answer(m, g, ocs.EvDialingStopped, now), []ocs.Message{s.statusEvent(g, now)}
	case ocs.ReqUnloadCampaign, ocs.ReqForceUnloadCampaign:
		if g.status == ocs.StatusNotLoaded {
			return fail(ocs.ErrCampaignNotLoaded, "")
		}
		force := m.Type == ocs.ReqForceUnloadCampaign
		if !force && !g.status.Loaded() {
			// Already draining: a repeated Unload changes nothing.
			return s.answer(m, g, ocs.EvCampaignUnloaded, now), nil
		}
		// Calls still in progress (dialing now, or stopped less than
		// DrainTime ago) keep the group in WaitingUnload until they end;
		// ForceUnload does not wait.
		drain := time.Duration(s.cfg.DrainTime)
		if g.status != ocs.StatusRunning {
			drain -= now.Sub(g.stopped)
		}
		s.pause(g, now)
		if force || drain <= 0 {
			s.setStatus(g, ocs.StatusNotLoaded, now)
			return s.answer(m, g, ocs.EvCampaignUnloaded, now), []ocs.Message{s.statusEvent(g, now)}
		}
		s.drain(g, drain, now)
		return s.answer(m, g, ocs.EvCampaignUnloaded, now), []ocs.Message{s.statusEvent(g, now)}
	case ocs.ReqGetCampaignStatus:
		return s.answer(m, g, ocs.EvCampaignStatus, now), nil
	}
	return fail(ocs.ErrInvalidParameter, "unsupported request")
}

// badPacing says why OCS refuses dial parameters with error 10, or "".
func badPacing(p ocs.Pacing) string {
	if !p.DialMode.Valid() {
		return fmt.Sprintf("dial mode %d is not defined", int(p.DialMode))
	}
	if !p.OptimizeBy.Valid() {
		return fmt.Sprintf("optimization method %d is not defined", int(p.OptimizeBy))
	}
	if lo, hi := p.OptimizeBy.GoalRange(); p.OptimizeGoal < int32(lo) || p.OptimizeGoal > int32(hi) {
		return fmt.Sprintf("optimization goal %d is outside %d-%d", p.OptimizeGoal, lo, hi)
	}
	return ""
}

// setStatus changes the state and invalidates pending timers. An
// unloaded group forgets its runtime dial parameters: OCS reports the
// configured ones again.
func (s *Sim) setStatus(g *group, st ocs.GroupCampStatus, now time.Time) {
	if g.status != st {
		s.changes = append(s.changes, Change{At: now, Campaign: g.cg.CampaignDBID, Group: g.cg.GroupDBID,
			From: g.status, To: st, Cause: s.actor.cause, Request: s.actor.req, Origin: s.actor.origin})
		g.changedAt = len(s.changes)
	}
	g.status = st
	g.gen++
	g.stopTimer()
	if st == ocs.StatusNotLoaded {
		g.runSince = time.Time{}
		g.pacing = g.cg.configured()
	}
}

// dialsRun is the dials made since runSince.
func (s *Sim) dialsRun(g *group, now time.Time) int64 {
	if g.runSince.IsZero() {
		return 0
	}
	n := int64(math.Floor(g.rate * now.Sub(g.runSince).Seconds()))
	if left := g.left(); n > left {
		n = left
	}
	return n
}

// stats are the counters since the load.
func (s *Sim) stats(g *group, now time.Time) ocs.Stats {
	d := g.dials + s.dialsRun(g, now)
	return ocs.Stats{
		Dials:       int32(d),
		Contacts:    int32(math.Floor(float64(d) * s.cfg.ContactRate)),
		RecordsLeft: int32(g.left() - s.dialsRun(g, now)),
	}
}

// run starts dialing and arms the depletion timer.
func (s *Sim) run(g *group, now time.Time) {
	s.setStatus(g, ocs.StatusRunning, now)
	g.rate = s.cfg.Rates.of(g.pacing.DialMode)
	g.runSince = now
	left := g.left()
	if g.rate <= 0 {
		return
	}
	at := time.Duration(math.Ceil(float64(left)/g.rate*1e9)) * time.Nanosecond
	gen := g.gen
	g.timer = time.AfterFunc(at, func() { s.depleted(g, gen) })
}

// pause folds the running segment's dials into the group.
func (s *Sim) pause(g *group, now time.Time) {
	n := s.dialsRun(g, now)
	g.dials += n
	g.consumed += n
	g.runSince = time.Time{}
	g.stopTimer()
}

func (s *Sim) drain(g *group, d time.Duration, now time.Time) {
	s.setStatus(g, ocs.StatusWaitingUnload, now)
	gen := g.gen
	g.timer = time.AfterFunc(d, func() {
		s.mu.Lock()
		if g.gen != gen {
			s.mu.Unlock()
			return
		}
		now := time.Now()
		s.actor = actor{cause: CauseDrain}
		s.setStatus(g, ocs.StatusNotLoaded, now)
		ev := s.statusEvent(g, now)
		s.mu.Unlock()
		s.broadcast([]ocs.Message{ev})
	})
}

// depleted fires when the list runs dry while dialing.
func (s *Sim) depleted(g *group, gen int) {
	s.mu.Lock()
	if g.gen != gen || g.status != ocs.StatusRunning {
		s.mu.Unlock()
		return
	}
	now := time.Now()
	var evs []ocs.Message
	if g.auto {
		s.actor = actor{cause: CauseAutoCompletion}
		evs = s.autoComplete(g, now, false)
	} else {
		s.pause(g, now)
		g.runSince = now // running with an empty list
		g.rate = 0
		evs = append(evs, s.statusEvent(g, now))
	}
	s.mu.Unlock()
	s.broadcast(evs)
}

// autoComplete is OCS stopping and unloading a depleted group itself;
// early, the list runs dry now rather than when the dial rate says.
func (s *Sim) autoComplete(g *group, now time.Time, early bool) []ocs.Message {
	s.pause(g, now)
	if early {
		rest := g.left()
		g.dials += rest
		g.consumed += rest
	}
	s.setStatus(g, ocs.StatusInActive, now)
	evs := []ocs.Message{s.notice(g, ocs.EvDialingStopped, now), s.statusEvent(g, now)}
	s.setStatus(g, ocs.StatusNotLoaded, now)
	return append(evs, s.notice(g, ocs.EvCampaignUnloaded, now), s.statusEvent(g, now))
}

// transcript is every request received, in chunks (a storm's hundreds of
// thousands of records, under the lock every request takes), and a count
// of each type.
type transcript struct {
	chunked.List[Record]
	byType map[ocs.MessageType]int
}

func (t *transcript) add(r Record) {
	t.Add(r)
	if t.byType == nil {
		t.byType = map[ocs.MessageType]int{}
	}
	t.byType[r.Msg.Type]++
}

// Transcript returns the requests received so far.
func (s *Sim) Transcript() []Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.transcript.All()
}

// Received counts the requests of type t received so far, without the
// copy Transcript makes: a benchmark polling for the end of a storm must
// not compete with the storm for the CPU.
func (s *Sim) Received(t ocs.MessageType) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.transcript.byType[t]
}

// TranscriptText renders the transcript for golden files: the time since
// the simulator started, then each request as OCS would log it, without
// the reference id (it depends on the client).
//
// Requests that arrive at the same instant from concurrent clients (or
// concurrent sequences of one client) are ordered by campaign group, keeping
// each group's own order, so golden files do not depend on scheduling.
func (s *Sim) TranscriptText(includeStatus bool) string {
	var b strings.Builder
	recs := s.Transcript()
	slices.SortStableFunc(recs, func(x, y Record) int {
		if c := x.At.Compare(y.At); c != 0 {
			return c
		}
		if c := cmp.Compare(x.Msg.GroupDBID, y.Msg.GroupDBID); c != 0 {
			return c
		}
		return cmp.Compare(x.Msg.CampaignDBID, y.Msg.CampaignDBID)
	})
	for _, r := range recs {
		if r.Msg.Type == ocs.ReqGetCampaignStatus && !includeStatus {
			continue
		}
		m := r.Msg
		m.Has &^= ocs.AttrReferenceID
		fmt.Fprintf(&b, "+%s %s", r.At.Sub(s.start).Round(time.Millisecond), m.Type)
		switch {
		case r.NotForMe:
			b.WriteString(" (ignored: addressed to another OCS)")
		case r.Disregarded:
			b.WriteString(" (disregarded: origin not on the Connections tab)")
		}
		if r.HTTP {
			b.WriteString(" (http)")
		}
		b.WriteString("\n")
		for _, line := range strings.Split(strings.TrimRight(m.Encode().String(), "\n"), "\n") {
			b.WriteString("\t" + line + "\n")
		}
	}
	return b.String()
}

// Stats returns a campaign group's counters and status now.
func (s *Sim) Stats(campaign, group int32) (ocs.GroupCampStatus, ocs.Stats) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.groups[key{campaign, group}]
	if g == nil {
		return ocs.StatusNotLoaded, ocs.Stats{}
	}
	return g.status, s.stats(g, time.Now())
}
