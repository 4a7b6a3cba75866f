package reconcile

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/sequencer-dev/sequencer/ocs"
	"github.com/sequencer-dev/sequencer/specs"
	"github.com/sequencer-dev/sequencer/store"
)

func (r *Reconciler) target(spec *specs.Sequence, k groupKey) ocs.Target {
	t := ocs.Target{OriginAppDBID: r.cfg.OriginAppDBID, TargetAppDBID: r.cfg.TargetAppDBID, CampaignDBID: k.campaign, GroupDBID: k.group}
	if spec != nil && spec.OCS.TargetAppDBID != 0 {
		t.TargetAppDBID = spec.OCS.TargetAppDBID
	}
	return t
}

func (r *Reconciler) sendLoad(s *seqState, now time.Time, it *specs.Item) time.Time {
	auto := it.AutoCompletion
	req := ocs.NewLoad(r.target(s.spec, groupKey{it.CampaignDBID, it.GroupDBID}), pacingOf(it), &auto)
	return r.send(s, now, actLoad, req, true)
}

func (r *Reconciler) sendStart(s *seqState, now time.Time, it *specs.Item) time.Time {
	auto := it.AutoCompletion
	req := ocs.NewStartDialing(r.target(s.spec, groupKey{it.CampaignDBID, it.GroupDBID}), pacingOf(it), &auto)
	return r.send(s, now, actStart, req, true)
}

func (r *Reconciler) sendSetMode(s *seqState, now time.Time, it *specs.Item) time.Time {
	auto := it.AutoCompletion
	req := ocs.NewSetDialingMode(r.target(s.spec, groupKey{it.CampaignDBID, it.GroupDBID}), pacingOf(it), &auto)
	return r.send(s, now, actSetMode, req, true)
}

func (r *Reconciler) sendSimple(s *seqState, now time.Time, action string, req ocs.Message) time.Time {
	return r.send(s, now, action, req, true)
}

// sendStatus polls OCS. Polls change nothing, so they are not journaled.
func (r *Reconciler) sendStatus(s *seqState, now time.Time, t ocs.Target) time.Time {
	return r.send(s, now, actStatus, ocs.NewGetCampaignStatus(t), false)
}

// pollTimeout bounds a status poll of a dialing item with a count stop by
// a few of its round trips (at least a second) rather than the request
// timeout: while a poll is out the item is watched by nobody, and an
// answer OCS dropped would otherwise leave it dialing for ten seconds past
// its limit. An answer later than that still arrives, as an event.
func (r *Reconciler) pollTimeout(s *seqState) time.Duration {
	run := s.prog.Run
	if run == nil || run.ItemState != stDialing || !countStops(r.currentItem(s)) {
		return 0
	}
	return min(max(4*s.pollRTT, time.Second), r.cfg.RequestTimeout)
}

// intentID keys an action deterministically: a retry or a restart computes
// the same id for the same step, so the journal never holds it twice.
func intentID(run *store.Run, action string, req ocs.Message) string {
	id := fmt.Sprintf("%s/%d/%d/%s", run.ID, run.Item, run.Segment, action)
	if action == actSetMode {
		id += fmt.Sprintf("/%d-%d-%d", req.DialMode, req.OptimizeBy, req.OptimizeGoal)
	}
	return id
}

// linkSays reports what the link says of itself: whether it is up, and
// whether it can tell at all (known).
func (r *Reconciler) linkSays() (up, known bool) {
	u, ok := r.cfg.Link.(interface{ Up() bool })
	return ok && u.Up(), ok
}

// linkUp reports whether the link says it is up and the loop has taken
// its LinkUp.
func (r *Reconciler) linkUp() bool {
	up, _ := r.linkSays()
	return up && !r.linkDown
}

// noteLinkDown takes a failed request for the link being down when the
// link says so itself: such a link announces its return with LinkUp (it
// sets Up before it sends the notice, so a notice cannot be missed). A
// link that cannot tell is not trusted to come back on its own: the
// sequence's own backoff paces it instead.
func (r *Reconciler) noteLinkDown() {
	if up, known := r.linkSays(); !known || up || r.linkDown {
		return
	}
	r.linkDown = true
	r.log.Warn("OCS link down; sending nothing until it is back")
}

// deposed stops all sending for good: the store refused a write because
// another daemon leads now. The loop returns the error so that the caller
// steps down; nothing is sent in between, a stop included.
func (r *Reconciler) deposed(err error) {
	if r.fenced == nil {
		r.fenced = err
		r.log.Error("no longer the leader: sending nothing more", "err", err)
	}
}

// reducesDialing reports whether an action can only lower what OCS
// dials. Such a request is safe to repeat, so it goes out even when the
// journal cannot be written (a full disk must never keep OCS dialing); the
// write is retried afterwards. Everything else waits for its intent.
func reducesDialing(action string) bool {
	switch action {
	case actStop, actUnload, actForceUnload:
		return true
	}
	return false
}

// outgoing is the one request a pass decided to send for a sequence.
// Deciding and sending are apart so that the same decisions can be
// executed by the live loop (a goroutine per request) or answered at once
// by the projector, which runs this code forward on a virtual clock.
type outgoing struct {
	now      time.Time
	s        *seqState
	action   string
	req      ocs.Message
	journal  bool
	late     string
	lateFrom time.Time
	timeout  time.Duration // 0: the request timeout
}

// dueAt is when the request fell due: the instant it is late against, or
// now.
func (o outgoing) dueAt(now time.Time) time.Time {
	if !o.lateFrom.IsZero() && o.lateFrom.Before(now) {
		return o.lateFrom
	}
	return now
}

// send records req as the sequence's outgoing request; the loop executes
// it (flush) once every dirty sequence has had its pass.
func (r *Reconciler) send(s *seqState, now time.Time, action string, req ocs.Message, journal bool) time.Time {
	if r.fenced != nil {
		return time.Time{} // deposed: the new leader owns OCS now
	}
	if r.linkDown {
		// The link announces its return (LinkUp), which wakes every
		// running sequence; the resync is only the net.
		s.nextAction, s.nextAt = action+" when the OCS link is back", time.Time{}
		r.setCond(s, CondStalled, true, "LinkDown", "the link to OCS is down; waiting for it to come back", now)
		return now.Add(r.cfg.Resync)
	}
	s.inflight = action
	s.nextAction, s.nextAt = action, now
	o := outgoing{s: s, action: action, req: req, journal: journal, now: now}
	if action == actStatus {
		o.timeout = r.pollTimeout(s)
	}
	switch {
	case !s.lateStart.IsZero():
		o.late, o.lateFrom = lateStart, s.lateStart
		s.lateStart = time.Time{}
	case action == actStop && !s.lateStop.IsZero():
		// Kept until a stop carries it: a status read may go first
		// (after a reconnect), and the stop is late until it leaves.
		o.late, o.lateFrom = lateStop, s.lateStop
		s.lateStop = time.Time{}
	}
	if journal && reducesDialing(action) && s.prog.Run != nil && !r.fencing() {
		r.sendEarly(s, o, now)
		return time.Time{}
	}
	r.outbox = append(r.outbox, o)
	return time.Time{}
}

// sendEarly sends a request that only reduces dialing at once, from the
// pass that decided it, and journals it in the turn's commit afterwards:
// stopping dialing must never wait on the disk, nor on the passes of
// thousands of other sequences. A crash before the commit loses nothing
// that matters: the stop is safe to repeat, and the state the file still
// holds (dialing past its stop time, its window closed, suspended) makes
// the next daemon decide it again. A store that can fence (HA) is the
// exception: a deposed leader must not stop the new leader's item, so
// there the stop waits for the commit that proves leadership.
func (r *Reconciler) sendEarly(s *seqState, o outgoing, now time.Time) {
	r.saveProgress(s, now)
	b := r.begin(s, o, now)
	r.early = append(r.early, early{s: s, action: o.action})
	r.noteRequest(s, o)
	r.awaiting++
	r.exec(result{seq: s.name, action: o.action, intent: r.batch.Begin[b].ID, req: o.req, sent: now, late: o.late, lateFrom: o.lateFrom})
}

// early is a request sent before the commit of its intent.
type early struct {
	s      *seqState
	action string
}

// fencing reports whether the store refuses the writes of a deposed
// leader (etcd): then nothing leaves before its commit, a stop included.
func (r *Reconciler) fencing() bool {
	f, ok := r.cfg.Store.(interface{ Fencing() bool })
	return ok && f.Fencing()
}

// begin queues req's intent for the turn's commit and returns its index in
// r.batch.Begin.
func (r *Reconciler) begin(s *seqState, o outgoing, now time.Time) int {
	run := s.prog.Run
	r.batch.Begin = append(r.batch.Begin, store.Intent{ID: intentID(run, o.action, o.req), Sequence: s.name, Run: run.ID,
		Item: run.Item, Action: o.action, Created: now, State: store.IntentOpen})
	// The request's text is written by the commit (commitJob.run), off
	// the loop: in a stop storm the loop's passes are what is late.
	r.beginReqs = append(r.beginReqs, o.req)
	return len(r.batch.Begin) - 1
}

func (r *Reconciler) noteRequest(s *seqState, o outgoing) {
	run := s.prog.Run
	r.history(s, o.now, store.Event{Kind: "request", Run: run.ID, Item: run.ItemName, Action: o.action,
		Message: fmt.Sprintf("%s campaign %d group %d", o.req.Type, o.req.CampaignDBID, o.req.GroupDBID)})
	r.log.Info("request", "sequence", s.name, "item", run.ItemName, "action", o.action, "type", o.req.Type.String(),
		"campaign", o.req.CampaignDBID, "group", o.req.GroupDBID)
}

// journalBypassed says that a request left without its journal entry.
func (r *Reconciler) journalBypassed(s *seqState, action string, err error, now time.Time) {
	r.setCond(s, CondStalled, true, "JournalUnavailable",
		fmt.Sprintf("%s sent without its journal entry (%v); the write is retried", action, err), now)
	r.log.Error("journal write failed; sending the stop anyway", "sequence", s.name, "action", action, "err", err)
	r.safety().JournalBypass(action)
}

// flush ends a turn: it commits every durable write the turn made (the
// progress of the sequences that moved, the intents of the requests about
// to leave, the outcomes of the answers that came back) in one transaction,
// then hands the requests to the executor in the order decided. Nothing
// leaves before the commit that journals it. When the commit fails, a
// request that only reduces dialing goes out anyway (a full disk must
// never keep OCS dialing); any other waits, backing off, and the writes
// are tried again next turn.
//
// The live loop commits on another goroutine (Run sets asyncCommit) and
// goes on with the next turn: answers, events and passes are not held up
// by the disk, and what they decide waits for the next commit. One commit
// is in flight at a time, so progress reaches the store in the order the
// loop made it; a turn that ends while one is in flight leaves its writes
// and requests queued for the one after.
func (r *Reconciler) flush(now time.Time) {
	if r.committing || now.Before(r.storeHold) {
		return // after a failed commit, the next waits out its backoff
	}
	if r.fenced != nil {
		for _, o := range r.outbox {
			o.s.inflight = "" // deposed: the new leader owns OCS now
		}
		clear(r.outbox)
		r.outbox = r.outbox[:0]
		return
	}
	// Fair order: what fell due first leaves first (a run's start by its
	// scheduled instant, a stop by its stop time), then by name; a
	// burst after a restart or a stall is served in the order it was due.
	box := r.outbox
	slices.SortStableFunc(box, func(a, b outgoing) int {
		if c := a.dueAt(now).Compare(b.dueAt(now)); c != 0 {
			return c
		}
		return strings.Compare(a.s.name, b.s.name)
	})
	begins := make([]int, len(box)) // index into the batch's Begin, -1: not journaled
	for i, o := range box {
		begins[i] = -1
		s := o.s
		if s.gone || s.inflight != o.action || !o.journal || s.prog.Run == nil {
			continue
		}
		r.saveProgress(s, now) // the run's state as the request leaves: before its intent
		begins[i] = r.begin(s, o, now)
	}
	if len(box) == 0 && r.holdAll(now) {
		return
	}
	journaled := slices.ContainsFunc(begins, func(k int) bool { return k >= 0 })
	job := r.takeJob(box, begins, r.holdSettles(len(box) > 0, now), r.holdProgress(journaled, now), now)
	if job == nil {
		return
	}
	r.outbox = nil // the job has them; a commit made for a command (commit) leaves them queued
	r.heldSince = time.Time{}
	if !r.asyncCommit {
		job.run(r.cfg.Store)
		r.finishCommit(job, now)
		return
	}
	r.committing = true
	go func() {
		job.run(r.cfg.Store)
		r.committed <- job
	}()
}

// midTurn is called every so often inside a long turn (thousands of
// passes or answers): a commit that finished meanwhile has its requests
// sent and the next one started now, not at the end of the turn, which
// in a burst is a hundred milliseconds later.
func (r *Reconciler) midTurn(k int) {
	if !r.committing || k%midTurnEvery != midTurnEvery-1 {
		return
	}
	r.takeCommitted()
}

const midTurnEvery = 128

// commitJob is one turn's durable writes on their way to the store and
// the requests that wait for them.
type commitJob struct {
	batch  *store.Batch
	reqs   []ocs.Message // batch.Begin[i]'s request, encoded by run
	saving []*seqState   // whose progress is in batch
	box    []outgoing    // requests that leave once it is committed
	begins []int         // box[i]'s intent in batch.Begin, or -1
	early  []early       // requests that left before it (sendEarly)
	err    error
	took   time.Duration
}

// run commits the job: on the loop, or on a goroutine of its own while
// the loop goes on.
func (j *commitJob) run(st Store) {
	t0 := time.Now()
	for i := range j.batch.Begin {
		j.batch.Begin[i].Request = j.reqs[i].Encode().String()
	}
	j.err = commitTo(st, j.batch)
	j.took = time.Since(t0)
}

// takeJob moves the turn's writes and requests into a commit job and
// leaves the loop with empty ones; nil when there is nothing to do.
// Progress is cloned: the loop goes on changing its own while the job
// commits.
//
// With holdSettles, the settlements stay for a later commit: they are
// bookkeeping that no request waits for (a crash before they are written
// leaves intents open, which recovery settles from OCS status), and in a
// burst the commits that requests wait for are the ones that are late.
// With holdProgress, so does the progress of every sequence without a
// request in the job, for the same reasons: it records answers (an item
// now dialing), and recovery re-reads OCS and dates an item found dialing
// from its Start's intent, which is written before the Start leaves.
func (r *Reconciler) takeJob(box []outgoing, begins []int, holdSettles, holdProgress bool, now time.Time) *commitJob {
	others := len(r.toSave) > 0 || len(r.batch.Begin) > 0 || len(r.early) > 0 || len(box) > 0
	if !others && (holdSettles || len(r.batch.Settle) == 0) {
		return nil
	}
	settle := r.batch.Settle
	if holdSettles {
		settle = nil
	} else {
		r.settledSince = time.Time{}
	}
	early := r.early
	mark := func(on bool) { // the sequences with a request in the job
		for i, o := range box {
			if begins[i] >= 0 {
				o.s.requesting = on
			}
		}
		for _, e := range early {
			e.s.requesting = on
		}
	}
	if holdProgress {
		mark(true)
		defer mark(false)
	}
	saving := make([]*seqState, 0, len(r.toSave))
	var keep []*seqState
	for _, s := range r.toSave {
		switch {
		case !s.saveQueued:
		case holdProgress && !s.requesting:
			keep = append(keep, s)
		default:
			saving = append(saving, s)
			s.saveQueued = false
		}
	}
	r.toSave = append(reuse(r.toSave), keep...)
	if len(keep) == 0 {
		r.progressSince = time.Time{}
	} else if r.progressSince.IsZero() {
		r.progressSince = now
	}
	// In key order: bbolt writes sorted keys with the fewest page splits.
	slices.SortFunc(saving, func(a, b *seqState) int { return strings.Compare(a.name, b.name) })
	b := &store.Batch{Begin: r.batch.Begin, Settle: settle, Progress: make([]store.Progress, len(saving))}
	for i, s := range saving {
		b.Progress[i] = s.prog.Clone()
	}
	if holdSettles {
		r.batch = store.Batch{Settle: r.batch.Settle}
	} else {
		r.batch = store.Batch{}
	}
	job := &commitJob{batch: b, reqs: r.beginReqs, saving: saving, box: box, begins: begins, early: early}
	r.beginReqs, r.early = nil, nil
	return job
}

// maxSettleHold bounds how long settlements wait for a commit of their own.
const maxSettleHold = 2 * time.Second

// holdAll says whether a commit that no request waits for (answers'
// outcomes, the journal of stops already sent, a run's state after an
// answer) waits, while answers are still due, for at most maxSettleHold:
// in a stop storm it would take the cores the stops' delivery needs, and
// in a start burst it would hold up the commits the starts wait for. Each
// of those writes is also made good by recovery, which re-reads OCS.
func (r *Reconciler) holdAll(now time.Time) bool {
	if !r.asyncCommit || r.awaiting == 0 || !r.writesPending() {
		r.heldSince = time.Time{}
		return false
	}
	if r.heldSince.IsZero() {
		r.heldSince = now
	}
	return now.Sub(r.heldSince) < maxSettleHold
}

// holdSettles says whether this turn's commit leaves the settlements for
// a later one: while requests wait for it or answers are still due, for
// at most maxSettleHold.
func (r *Reconciler) holdSettles(requests bool, now time.Time) bool {
	if !r.asyncCommit || len(r.batch.Settle) == 0 || !requests && r.awaiting == 0 {
		return false
	}
	return now.Sub(r.settledSince) < maxSettleHold
}

// holdProgress says whether this turn's commit, which journals requests,
// leaves out the progress of sequences without a request in it: for at
// most maxSettleHold, like settlements. A commit that journals nothing
// (status reads only, as at the first sight of every sequence) holds
// nothing back: there is nothing to hurry.
func (r *Reconciler) holdProgress(journaled bool, now time.Time) bool {
	if !r.asyncCommit || !journaled {
		return false
	}
	return r.progressSince.IsZero() || now.Sub(r.progressSince) < maxSettleHold
}

// writesPending reports whether the turn queued anything for a commit.
func (r *Reconciler) writesPending() bool {
	return len(r.toSave) > 0 || len(r.batch.Begin) > 0 || len(r.batch.Settle) > 0 || len(r.outbox) > 0 || len(r.early) > 0
}

// awaitCommit waits for the commit in flight, if any, and applies its
// outcome: a write made on the loop itself (persistNow, a deletion) must
// not be overtaken by an older one still on its way.
func (r *Reconciler) awaitCommit() {
	if r.committing {
		r.finishCommit(<-r.committed, time.Now())
	}
}

// takeCommitted applies a finished commit's outcome, if one is waiting.
func (r *Reconciler) takeCommitted() {
	if !r.committing {
		return
	}
	select {
	case job := <-r.committed:
		r.committedJob(job)
	default:
	}
}

// committedJob applies a finished commit's outcome and starts the next
// commit at once with what waits for it: in a burst the loop goes on
// deciding while a commit runs, and those requests must not wait for the
// end of the turn (answers, then thousands of passes, later) to be
// journaled.
func (r *Reconciler) committedJob(job *commitJob) {
	now := time.Now()
	r.finishCommit(job, now)
	r.flush(now)
}

// finishCommit applies a commit's outcome on the loop and sends the
// requests it journaled. On failure the progress and settlements are
// queued again for the next commit (intents are not: their requests did
// not leave, and the next attempt journals them again), and every
// sequence whose progress did not reach the store backs off, unless a
// request of its own is in the job (decided below).
func (r *Reconciler) finishCommit(job *commitJob, now time.Time) {
	defer r.kickSender()
	r.committing = false
	b := job.batch
	r.cfg.Metrics.Commit(b.Len(), job.took, job.err)
	err := job.err
	if err != nil {
		// The next commit waits: a disk that refuses every write must
		// not turn the loop into a spin of failing commits.
		r.storeFailures++
		r.storeHold = now.Add(min(r.cfg.BackoffMin<<min(r.storeFailures-1, 16), r.cfg.BackoffMax))
		if errors.Is(err, store.ErrFenced) {
			r.deposed(err)
		}
		err = fmt.Errorf("save progress: %w", err)
		r.noteStore(err)
		if len(b.Settle) > 0 && r.settledSince.IsZero() {
			r.settledSince = now
		}
		r.batch.Settle = append(r.batch.Settle, b.Settle...)
		for _, s := range job.saving {
			if s.gone || r.seqs[s.name] != s {
				continue
			}
			r.saveProgress(s, now)
			if s.inflight == "" {
				r.fail(s, now, "", err)
				r.schedule(s, s.retryAt)
				r.markPub(s)
			}
		}
	} else {
		r.storeFailures, r.storeHold = 0, time.Time{}
		r.noteStore(nil)
		for _, s := range job.saving {
			s.hasProg = true
		}
	}
	for _, e := range job.early {
		if err != nil && !e.s.gone {
			r.journalBypassed(e.s, e.action, fmt.Errorf("journal %s: %w", e.action, err), now)
		}
	}
	if errors.Is(err, store.ErrFenced) {
		for _, o := range job.box {
			o.s.inflight = ""
		}
		return
	}
	for i, o := range job.box {
		s := o.s
		if s.gone || s.inflight != o.action {
			continue
		}
		id, retry := "", false
		if k := job.begins[i]; k >= 0 {
			id = b.Begin[k].ID
			if err == nil {
				retry = !b.Fresh[k]
			} else {
				jerr := fmt.Errorf("journal %s: %w", o.action, err)
				if !reducesDialing(o.action) {
					s.inflight = ""
					r.fail(s, now, o.action, jerr)
					r.schedule(s, s.retryAt)
					r.markPub(s)
					continue
				}
				r.journalBypassed(s, o.action, jerr, now)
			}
			r.noteRequest(s, o)
		}
		r.awaiting++
		r.exec(result{seq: s.name, action: o.action, intent: id, req: o.req, sent: now, retry: retry, late: o.late, lateFrom: o.lateFrom, timeout: o.timeout})
	}
}

// Committer is a Store that can write one turn's writes in a single
// transaction. A Store without it gets one write (and one fsync) per call.
type Committer interface {
	Commit(b *store.Batch) error
}

// commit writes the turn's pending progress, intents and settlements now,
// on the loop, after the commit in flight: for a command whose caller is
// told it is durable, and for the last answers at shutdown.
func (r *Reconciler) commit(now time.Time) error {
	r.awaitCommit()
	job := r.takeJob(nil, nil, false, false, now)
	if job == nil {
		return nil
	}
	job.run(r.cfg.Store)
	r.finishCommit(job, now)
	if job.err != nil {
		return fmt.Errorf("save progress: %w", job.err)
	}
	return nil
}

// commitTo writes b through st's Commit, or, for a store without it, one
// call per write (one fsync each), stopping at the first failure.
func commitTo(st Store, b *store.Batch) error {
	if c, ok := st.(Committer); ok {
		return c.Commit(b)
	}
	for _, p := range b.Progress {
		if err := st.PutProgress(p); err != nil {
			return err
		}
	}
	b.Fresh = b.Fresh[:0]
	for _, in := range b.Begin {
		_, fresh, err := st.BeginIntent(in)
		if err != nil {
			return err
		}
		b.Fresh = append(b.Fresh, fresh)
	}
	for _, x := range b.Settle {
		if err := st.SettleIntent(x.ID, x.State, x.Outcome, x.At); err != nil && !errors.Is(err, store.ErrUnknownIntent) {
			return err
		}
	}
	return nil
}

// onResult records an answer and moves the sequence's state on.
func (r *Reconciler) onResult(res result, now time.Time) {
	r.awaiting--
	s := r.seqs[res.seq]
	if s == nil {
		return
	}
	s.inflight = ""
	r.markDirty(s.name)
	var oe *ocs.OCSError
	isOCS := errors.As(res.err, &oe)
	r.cfg.Metrics.Request(res.req.Type.String(), requestResult(res.err, oe), now.Sub(res.sent))
	if errors.Is(res.err, ocs.ErrNotSent) && res.intent != "" && s.prog.Run != nil {
		// It never left: the step is not under way, and its retry is a
		// new step (new intent id), so that an "already loaded" then is
		// not taken for the answer to this one.
		r.settle(res.intent, store.IntentFailed, res.err.Error(), now)
		res.intent = ""
		s.prog.Run.Segment++
		r.persist(s, now)
	}
	if errors.Is(res.err, ocs.ErrNotSent) && r.linkUp() {
		// And the link came up since (its LinkUp was applied before
		// this answer): go again at once rather than after a backoff.
		return
	}
	if res.action == actStatus {
		r.onStatus(s, res, oe, now)
		return
	}
	if res.action == actLoad {
		// Whether OCS may have loaded the group for us: only a Load that
		// left and was never answered.
		s.loadUnknown = res.err != nil && !isOCS && !errors.Is(res.err, ocs.ErrNotSent) && !errors.Is(res.err, ocs.ErrInvalidRequest)
	}
	ok := res.err == nil || (isOCS && oe.GoalReached())
	if ok && isOCS && !res.retry && res.action == actLoad && oe.Code == ocs.ErrCampaignAlreadyLoaded && !r.engineOCS(s) {
		// Loaded, but not by this step: the journal does not explain it.
		ok = false
	}
	outcome, state := "ok", store.IntentDone
	if res.err != nil {
		outcome = res.err.Error()
		if !ok {
			state = store.IntentFailed
		}
	}
	if res.intent != "" {
		r.settle(res.intent, state, outcome, now)
	}
	run := s.prog.Run
	evt := store.Event{Kind: "answer", Action: res.action, Message: outcome,
		Fields: map[string]string{"latency": now.Sub(res.sent).String()}}
	if res.err == nil {
		evt.Message = res.ans.Type.String()
	}
	if run != nil {
		evt.Run, evt.Item = run.ID, run.ItemName
	}
	r.history(s, now, evt)
	if ok {
		if res.err == nil {
			r.observe(res.ans, now, false)
		}
		s.failures, s.retryAt = 0, time.Time{}
		r.setCond(s, CondStalled, false, "", "", now)
		r.advance(s, res, now)
		return
	}
	switch {
	case isOCS && res.action == actLoad && oe.Code == ocs.ErrCampaignAlreadyLoaded && run != nil:
		r.loadedOutside(s, now, groupKey{res.req.CampaignDBID, res.req.GroupDBID})
	case isOCS && oe.Code == ocs.ErrPartOfSequence:
		r.setCond(s, CondConflict, true, "PartOfSequence",
			fmt.Sprintf("campaign group %d/%d is owned by a campaign sequence running in OCS (error 17); the sequencer keeps its hands off", res.req.CampaignDBID, res.req.GroupDBID), now)
		s.phase = PhaseFailed
		s.retryAt = now.Add(r.cfg.BackoffMax)
	case isOCS && res.action == actStart && oe.Code == ocs.ErrCampaignNotLoaded && run != nil:
		// The group vanished between load and start (OCS restart): load again.
		run.Segment++
		run.ItemState = stLoading
		r.persist(s, now)
	case isOCS && res.action == actSetMode && oe.Code == ocs.ErrInvalidCampaignMode && run != nil:
		run.StopGoal, run.ItemState = goalRestart, stStopping
		r.persist(s, now)
	default:
		r.unsure(s, res.err)
		r.fail(s, now, res.action, res.err)
	}
}

// onStatus applies a status poll's answer or failure.
func (r *Reconciler) onStatus(s *seqState, res result, oe *ocs.OCSError, now time.Time) {
	isOCS := oe != nil
	s.lastPoll = now
	if res.err == nil {
		// This answer's own round trip: its counters are at most that
		// old, and a stop takes at most that long to arrive.
		s.pollRTT = now.Sub(res.sent)
		s.ocsBounced = false
		r.observeSampled(res.ans, now, res.sent, false)
		if c := s.conds[CondStalled]; c != nil && c.Reason == "StatusUnavailable" {
			r.setCond(s, CondStalled, false, "", "", now)
		}
		return
	}
	if isOCS && s.spec != nil && s.spec.Engine == specs.EngineOCS && oe.Code == ocs.ErrCampaignScheduleNotFound {
		r.onSequenceLost(s, now)
		return
	}
	if ocs.IsTransient(res.err) {
		// Polls are spaced already; backing off here would hold up
		// a stop that is due by time. A link that is down is another
		// matter: polling it again at once would spin.
		r.setCond(s, CondStalled, true, "StatusUnavailable", "status poll: "+res.err.Error(), now)
		if errors.Is(res.err, ocs.ErrDisconnected) {
			r.noteLinkDown()
			s.retryAt = now.Add(r.cfg.BackoffMin)
		}
		return
	}
	r.fail(s, now, res.action, res.err)
}

// unsure handles a request whose outcome is unknown. A dropped link may
// have lost OCS's state (restart, failover), but the link's LinkUp notice
// makes every sequence re-read its group once it is back; re-reading now
// would only fail again at once. A timeout says nothing about the others:
// only this sequence reads its group again before acting, and a late
// answer, delivered as an event, fills that in.
func (r *Reconciler) unsure(s *seqState, err error) {
	if errors.Is(err, ocs.ErrDisconnected) {
		r.noteLinkDown()
	}
	if (errors.Is(err, ocs.ErrTimeout) || errors.Is(err, ocs.ErrProtocol)) && s.prog.Run != nil {
		if o := r.obs[runGroup(s.prog.Run)]; o != nil {
			o.stale = true
		}
		s.observeFirst = true
	}
}

// loadedOutside backs off from a campaign group that OCS says is loaded
// although no step of ours loaded it: an operator in OCM/GA, another
// program, or a run of ours the journal no longer explains. It is left
// untouched, and tried again once the group is free; the next attempt is
// a new step (new intent id), so its own AlreadyLoaded is not mistaken for
// a retry of this one.
func (r *Reconciler) loadedOutside(s *seqState, now time.Time, k groupKey) {
	run := s.prog.Run
	r.release(s, k)
	run.Segment++
	run.ItemState = stSleeping
	if run.OutsideSince.IsZero() {
		run.OutsideSince = now
	}
	run.CampaignDBID, run.GroupDBID = 0, 0
	r.setCond(s, CondConflict, true, "LoadedOutside",
		fmt.Sprintf("campaign group %d@%d is loaded outside the sequencer; waiting", k.campaign, k.group), now)
	s.phase = PhaseWaiting
	s.retryAt = now.Add(r.cfg.Resync)
	r.persist(s, now)
}

func (r *Reconciler) engineOCS(s *seqState) bool {
	return s.spec != nil && s.spec.Engine == specs.EngineOCS
}

func requestResult(err error, oe *ocs.OCSError) string {
	switch {
	case err == nil:
		return "ok"
	case oe != nil && oe.GoalReached():
		return "goal-reached"
	case oe != nil:
		return "ocs-error"
	case errors.Is(err, ocs.ErrTimeout):
		return "timeout"
	case errors.Is(err, ocs.ErrDisconnected):
		return "disconnected"
	}
	return "error"
}

// advance applies a successful answer to the run.
func (r *Reconciler) advance(s *seqState, res result, now time.Time) {
	if s.spec != nil && s.spec.Engine == specs.EngineOCS {
		r.advanceOCS(s, res, now)
		return
	}
	run := s.prog.Run
	if run == nil {
		return
	}
	k := runGroup(run)
	switch res.action {
	case actLoad:
		run.ItemState = stLoaded
		run.OutsideSince = time.Time{} // ours now
		// Counters are counted since the load (ocs.PropStatistics).
		if o := r.obs[k]; o != nil {
			o.stats, o.has, o.depleted = ocs.Stats{}, false, false
		}
		run.CountersAtStart = store.Counters{}
	case actStart:
		run.ItemState = stDialing
		if run.ItemStarted.IsZero() {
			// OCS began dialing somewhere between the request and its
			// answer, which may come late: stop times count from the
			// request, so a late answer never pushes a stop back (a
			// 00:11 stop after an answer at 00:11:00.2 would otherwise
			// mean tomorrow).
			run.ItemStarted = now
			if !res.sent.IsZero() && res.sent.Before(now) {
				run.ItemStarted = res.sent
			}
			r.history(s, now, store.Event{Kind: "item-start", Run: run.ID, Item: run.ItemName,
				Message: fmt.Sprintf("item %s dialing in %s", run.ItemName, res.req.DialMode.Short())})
		}
		p := res.req.Pacing()
		run.DialMode, run.OptimizeBy, run.OptimizeGoal = int32(p.DialMode), int32(p.OptimizeBy), p.OptimizeGoal
		s.lastPoll = now
	case actSetMode:
		p := res.req.Pacing()
		run.DialMode, run.OptimizeBy, run.OptimizeGoal = int32(p.DialMode), int32(p.OptimizeBy), p.OptimizeGoal
	case actStop:
		run.Segment++
		switch run.StopGoal {
		case goalPause:
			run.ItemState = stPaused
			run.PausedAt = now
			cause := "suspend"
			if pausedByWindow(run.PauseReason) {
				cause = "window"
			}
			r.history(s, now, store.Event{Kind: "item-pause", Run: run.ID, Item: run.ItemName, Message: "paused: " + run.PauseReason,
				Fields: map[string]string{"cause": cause, "reason": run.PauseReason}})
		case goalRestart:
			run.ItemState = stLoaded
		default:
			run.ItemState = stUnloading
		}
		run.StopGoal = ""
	case actUnload, actForceUnload:
		if o := r.obs[k]; o != nil && (o.status == ocs.StatusWaitingUnload || o.status == ocs.StatusUnloadInProgress) && res.action == actUnload {
			run.ItemState = stDraining
		} else {
			r.finishItem(s, now, "")
			return
		}
	}
	r.persist(s, now)
}

// settleOpenIntents closes the intents a crash left open, once OCS status
// has been read: the loop continues from the stored state, re-sending the
// same request where the state says one is under way.
func (r *Reconciler) settleOpenIntents(s *seqState, now time.Time) {
	for _, in := range s.openIntents {
		status := "unknown"
		if s.prog.Run != nil {
			if o := r.obs[runGroup(s.prog.Run)]; o != nil {
				status = o.status.String()
			}
		}
		outcome := fmt.Sprintf("interrupted by a restart; OCS reports %s; continuing from state %q", status, stateOf(s))
		r.settle(in.ID, store.IntentFailed, outcome, now)
		r.history(s, now, store.Event{Kind: "recover", Run: in.Run, Action: in.Action, Message: outcome})
	}
	s.openIntents = nil
}

func stateOf(s *seqState) string {
	if s.prog.Run == nil {
		return ""
	}
	return s.prog.Run.ItemState
}

// observe records what OCS says about a campaign group (or an OCS-side
// sequence) and wakes the sequence that owns it.
func (r *Reconciler) observe(m ocs.Message, now time.Time, unsolicited bool) {
	r.observeSampled(m, now, now, unsolicited)
}

// observeSampled is observe for counters that may be older than now: a
// poll's answer carries counters OCS took somewhere between the request
// and the answer. Rates are dated at sampled, the earliest they can be
// from, so a late answer never makes the list look slower than it dials
// (which would space the polls out past a count stop).
func (r *Reconciler) observeSampled(m ocs.Message, now, sampled time.Time, unsolicited bool) {
	if m.Type == ocs.EvError || m.Has&ocs.AttrGroup == 0 {
		return
	}
	if m.Has&ocs.AttrCampaign != 0 && m.CampaignDBID == 0 {
		r.observeSequence(m, now)
		return
	}
	if m.Has&ocs.AttrCampaign == 0 {
		return
	}
	st, ok := statusOf(m)
	if !ok {
		return
	}
	k := groupKey{m.CampaignDBID, m.GroupDBID}
	if !r.named[k] && r.claims[k] == "" {
		return // nobody here runs it
	}
	if !r.fresh(k, m) {
		return
	}
	if unsolicited && (m.Type == ocs.EvCampaignUnloaded || m.Type == ocs.EvDialingStopped) {
		r.selfStop[k] = m.Recv
	} else if !unsolicited && r.overtaken(k, m, st) {
		r.log.Debug("answer overtaken by an auto-completion; not applied", "type", m.Type.String(), "group", k.String())
		return
	}
	o := r.obs[k]
	if o == nil {
		o = &observation{}
		r.obs[k] = o
	}
	if !o.known || o.status != st {
		o.since = now
		if st.Loaded() && !o.status.Loaded() {
			o.depleted = false
		}
	}
	prevSampled := o.sampledAt
	o.stale = false
	o.known, o.status, o.at = true, st, now
	if m.Has&ocs.AttrDialMode != 0 {
		o.mode = m.DialMode
	}
	o.rates = keptRates(o.rates, m.Rates, st)
	if stats, has := m.Stats(); has && st != ocs.StatusNotLoaded {
		o.sample(stats, sampled.Sub(prevSampled), sampled)
		o.sampledAt = sampled
		o.stats, o.has = stats, true
		if stats.RecordsLeft == 0 {
			o.depleted = true
		}
	}
	if unsolicited && (m.Type == ocs.EvCampaignUnloaded || m.Type == ocs.EvDialingStopped) {
		// OCS stopped or unloaded the group by itself: auto-completion.
		o.depleted = true
	}
	owner := r.claims[k]
	if os := r.seqs[owner]; os != nil && r.engineOCS(os) {
		r.observeOCSItem(os, k, st, now)
	}
	r.rec.group(store.GroupStatus{CampaignDBID: k.campaign, GroupDBID: k.group, Status: int32(st), DialMode: int32(o.mode),
		Dials: int64(o.stats.Dials), Contacts: int64(o.stats.Contacts), RecordsLeft: int64(o.stats.RecordsLeft), Sequence: owner, At: now})
	r.pubMu.Lock()
	r.pubGroups[k] = GroupObservation{CampaignDBID: k.campaign, GroupDBID: k.group, Status: st.String(), DialMode: o.mode.Short(),
		Dials: int64(o.stats.Dials), Contacts: int64(o.stats.Contacts), RecordsLeft: int64(o.stats.RecordsLeft), Sequence: owner, At: now,
		OCSStatistics: statisticsOf(o.rates)}
	r.pubMu.Unlock()
	if owner != "" {
		r.markDirty(owner)
	}
}

// fresh reports whether m is newer than everything applied for group k,
// in the order the link received it: an answer and the events OCS sent
// behind it reach the loop by two paths, and applying a stale "Running"
// after an auto-completion's stop and unload would restart a depleted
// item. Unstamped messages (Recv 0: a link that does not stamp) are taken
// as they come.
func (r *Reconciler) fresh(k groupKey, m ocs.Message) bool {
	if m.Recv == 0 {
		return true
	}
	if m.Recv < r.linkFloor || m.Recv < r.recv[k] {
		r.log.Debug("stale observation dropped", "type", m.Type.String(), "group", k.String(), "stamp", m.Recv, "newest", r.recv[k])
		return false
	}
	r.recv[k] = m.Recv
	return true
}

// overtaken reports whether answer m may be older than an auto-completion
// received while its request was in flight. OCS may send the stop and
// unload it decided on its own before an answer it computed earlier; such
// an answer must not bring the group back to loaded or running, nor undo
// the depletion. Anything else in an answer is applied in receive order.
func (r *Reconciler) overtaken(k groupKey, m ocs.Message, st ocs.GroupCampStatus) bool {
	return m.After != 0 && r.selfStop[k] >= m.After && st.Loaded()
}

// sample updates the dial and contact rates with a new counter sample,
// dt after the previous observation. Over a baseline of 3 s or more the
// rates are the average since the load's first sample, which late answers
// skew less; before that, a smoothed rate between samples. Contacts are
// few and uneven (a poll may see none), so the contact rate is never taken
// lower than the dial rate times the share of dials that became contacts:
// a zero sample must not stop the polls from closing in on the limit.
func (o *observation) sample(st ocs.Stats, dt time.Duration, now time.Time) {
	switch {
	case !o.has || st.Dials < o.firstStats.Dials:
		o.firstAt, o.firstStats = now, st // the first sample of this load
		return
	case now.Sub(o.firstAt) >= 3*time.Second:
		base := now.Sub(o.firstAt).Seconds()
		o.dialRate = float64(st.Dials-o.firstStats.Dials) / base
		o.contactRate = float64(st.Contacts-o.firstStats.Contacts) / base
	case dt > 0 && st.Dials >= o.stats.Dials && st.Contacts >= o.stats.Contacts:
		dials := float64(st.Dials-o.stats.Dials) / dt.Seconds()
		contacts := float64(st.Contacts-o.stats.Contacts) / dt.Seconds()
		const a = 0.5
		if o.dialRate <= 0 {
			o.dialRate, o.contactRate = dials, contacts
		} else {
			o.dialRate = a*dials + (1-a)*o.dialRate
			o.contactRate = a*contacts + (1-a)*o.contactRate
		}
	default:
		return
	}
	if st.Dials > 0 {
		o.contactRate = max(o.contactRate, o.dialRate*float64(st.Contacts)/float64(st.Dials))
	}
}

func statusOf(m ocs.Message) (ocs.GroupCampStatus, bool) {
	if m.Has&ocs.AttrGroupCampStatus != 0 {
		return m.GroupCampStatus, m.GroupCampStatus.Valid()
	}
	switch m.Type {
	case ocs.EvCampaignLoaded, ocs.EvDialingStopped:
		return ocs.StatusInActive, true
	case ocs.EvCampaignUnloaded:
		return ocs.StatusNotLoaded, true
	case ocs.EvDialingStarted, ocs.EvDialingModeChanged:
		return ocs.StatusRunning, true
	}
	return 0, false
}

// persist queues the sequence's progress for this turn's commit, which
// runs before any request of the turn leaves. It cannot fail here: a
// failed commit backs the sequence off then (commit).
func (r *Reconciler) persist(s *seqState, now time.Time) bool {
	r.saveProgress(s, now)
	return true
}

func (r *Reconciler) saveProgress(s *seqState, now time.Time) {
	s.prog.Sequence = s.name
	s.prog.UpdatedAt = now
	if !s.saveQueued {
		s.saveQueued = true
		r.toSave = append(r.toSave, s)
	}
}

// persistNow writes the sequence's progress (and whatever else the turn
// queued) at once: for a command whose caller is told it is durable.
func (r *Reconciler) persistNow(s *seqState, now time.Time) error {
	r.saveProgress(s, now)
	return r.commit(now)
}

// settle queues an intent's outcome for this turn's commit.
func (r *Reconciler) settle(id string, state store.IntentState, outcome string, now time.Time) {
	if len(r.batch.Settle) == 0 {
		r.settledSince = now
	}
	r.batch.Settle = append(r.batch.Settle, store.Settlement{ID: id, State: state, Outcome: outcome, At: now})
}

func (r *Reconciler) history(s *seqState, now time.Time, ev store.Event) {
	ev.Sequence, ev.At = s.name, now
	if ev.SpecHash == "" && s.spec != nil {
		ev.SpecHash = s.spec.Hash
	}
	r.rec.event(ev)
}

// fail backs the sequence off exponentially (capped) and says why.
func (r *Reconciler) fail(s *seqState, now time.Time, action string, err error) {
	s.failures++
	d := r.cfg.BackoffMin
	for i := 1; i < s.failures && d < r.cfg.BackoffMax; i++ {
		d *= 2
	}
	if d > r.cfg.BackoffMax {
		d = r.cfg.BackoffMax
	}
	s.retryAt = now.Add(d)
	msg := err.Error()
	if action != "" {
		msg = action + ": " + msg
	}
	r.setCond(s, CondStalled, true, "RequestFailed", fmt.Sprintf("%s (attempt %d, retry in %s)", msg, s.failures, d), now)
	r.history(s, now, store.Event{Kind: "error", Action: action, Message: msg})
	r.log.Warn("reconcile failed; backing off", "sequence", s.name, "action", action, "err", err, "retry_in", d)
}

func (r *Reconciler) setCond(s *seqState, typ string, status bool, reason, msg string, now time.Time) {
	c := s.conds[typ]
	if c == nil {
		if !status {
			return
		}
		c = &Condition{Type: typ}
		s.conds[typ] = c
	}
	if c.Status != status || c.Reason != reason || c.Message != msg {
		if c.Status != status {
			c.Since = now
		}
		c.Status, c.Reason, c.Message = status, reason, msg
		r.markPub(s)
		if status && typ != CondReady && typ != CondReconciling {
			r.history(s, now, store.Event{Kind: "condition", Message: typ + ": " + msg})
		}
	}
}
