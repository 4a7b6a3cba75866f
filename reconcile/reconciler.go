package reconcile

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sequencer-dev/sequencer/ocs"
	"github.com/sequencer-dev/sequencer/specs"
	"github.com/sequencer-dev/sequencer/store"
)

// Store is what the loop needs of the durable store.
type Store interface {
	AllProgress() ([]store.Progress, error)
	PutProgress(p store.Progress) error
	DeleteProgress(seq string) error
	BeginIntent(in store.Intent) (store.Intent, bool, error)
	SettleIntent(id string, state store.IntentState, outcome string, at time.Time) error
	OpenIntents() ([]store.Intent, error)
	Append(evs ...store.Event) error
	PutGroupStatus(gs ...store.GroupStatus) error
	Halt() (store.Halt, bool, error)
	PutHalt(h *store.Halt) error
}

// Config of a Reconciler. Zero durations take the defaults in brackets.
type Config struct {
	Link  ocs.Link
	Store Store
	// OriginAppDBID is the daemon's own application DBID [310];
	// TargetAppDBID is the OCS addressed when a spec says 0 [120].
	OriginAppDBID int32
	TargetAppDBID int32
	Logger        *slog.Logger
	Metrics       Metrics

	Resync               time.Duration // look at every sequence with a run at least this often [30s]
	IdleResync           time.Duration // and one waiting for its next start [15m]
	MaxSleep             time.Duration // never trust one long timer [1m]
	PollInterval         time.Duration // status polls of a dialing item with count stops [5s]
	WaitingUnloadTimeout time.Duration // then ForceUnload [2m]
	RequestTimeout       time.Duration // per request, on top of the link's own [10s]
	// BatchWindow: how long a turn that applied an answer waits for the
	// answers of other requests in flight, so they share one commit
	// [2ms]; negative: never.
	BatchWindow time.Duration
	BackoffMin  time.Duration // first retry after a failure [1s]
	BackoffMax  time.Duration // cap [5m]
}

func (c *Config) defaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	if c.OriginAppDBID == 0 {
		c.OriginAppDBID = 310
	}
	if c.TargetAppDBID == 0 {
		c.TargetAppDBID = 120
	}
	if c.Metrics == nil {
		c.Metrics = noMetrics{}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	def(&c.Resync, 30*time.Second)
	def(&c.IdleResync, 15*time.Minute)
	def(&c.MaxSleep, time.Minute)
	def(&c.PollInterval, 5*time.Second)
	def(&c.WaitingUnloadTimeout, 2*time.Minute)
	def(&c.RequestTimeout, 10*time.Second)
	if c.BatchWindow == 0 {
		c.BatchWindow = 2 * time.Millisecond
	}
	def(&c.BackoffMin, time.Second)
	def(&c.BackoffMax, 5*time.Minute)
}

// Errors of the API methods.
var (
	ErrUnknownSequence = errors.New("unknown sequence")
	ErrNotRunning      = errors.New("reconciler is not running")
)

// Reconciler is the loop. Create it with New and run it with Run; the
// status methods and commands are safe to call from any goroutine.
type Reconciler struct {
	cfg Config
	log *slog.Logger

	// Answers come back through a queue, not a channel: a link that calls
	// back from its reader must never block on the loop.
	resMu    sync.Mutex
	resQ     []result
	resSpare []result      // the loop's: the array resQ gets next (takeResults)
	resReady chan struct{} // buffer 1: coalesced "answers queued"
	cmds     chan command
	poke     chan struct{} // buffer 1: coalesced "look again"

	// Owned by the loop goroutine.
	seqs     map[string]*seqState
	due      dueHeap
	dirty    map[string]struct{}
	obs      map[groupKey]*observation
	recv     map[groupKey]uint64 // receive stamp of the newest observation applied per group
	selfStop map[groupKey]uint64 // receive stamp of the last stop/unload OCS made on its own
	named    map[groupKey]bool   // campaign groups some spec names: the only ones observed
	claims   map[groupKey]string // campaign group → sequence that loaded it
	// groupWaiters: sequences that found their next group claimed by
	// another (GroupInUse); release wakes them.
	groupWaiters map[string]struct{}
	// The link's state, from its LinkDown/LinkUp notices. While it is down
	// nothing is sent: a request would fail at once and the pass would
	// spin. linkFloor is the stamp of the last LinkUp: anything received
	// before it describes an OCS that may since have restarted.
	linkDown  bool
	linkFloor uint64
	linkUps   int   // LinkUp notices so far: a reconnect explains a group lost
	storeErr  error // the last durable write's failure, nil once one succeeds
	fenced    error // set once a write is fenced (HA): send nothing, return
	// halt: the operator's stop switch (API/CLI, durable) and the halts
	// declared by spec files; either stops every sequence's dialing.
	halt      *store.Halt
	specHalts []SpecHalt
	started   time.Time
	inflight  sync.WaitGroup
	rec       *recorder
	// outbox holds the requests this turn's passes decided; exec sends
	// one (the live loop: execute; the projector: an answer at once).
	outbox []outgoing
	exec   func(result)
	snd    *sender
	// awaiting: requests handed to the executor whose answers have not
	// been applied yet.
	awaiting int
	// The turn's durable writes, committed together before its requests
	// leave (flush): progress of the sequences that moved, and the
	// intents and settlements in batch.
	toSave []*seqState // with seqState.saveQueued
	early  []early     // requests sent before this turn's commit
	batch  store.Batch
	// beginReqs[i] is the request of batch.Begin[i], whose text the
	// commit writes.
	beginReqs []ocs.Message
	// The live loop commits on a goroutine of its own, one commit at a
	// time (flush); committed hands the finished one back. The plan
	// (Project) commits in line, and decides every turn whole.
	asyncCommit bool
	committing  bool
	committed   chan *commitJob // buffer 1
	turnCap     int             // maxTurnRequests when live, 0: no cap
	// After a failed commit the next one waits until storeHold, backing
	// off like a failing request.
	storeFailures int
	storeHold     time.Time
	// settledSince: when the oldest settlement still waiting for a commit
	// was made (holdSettles).
	settledSince time.Time
	// heldSince: when a commit no request waited for was first held back
	// (holdAll).
	heldSince time.Time
	// progressSince: when progress was first left out of a commit that
	// requests waited for (holdProgress), and is still waiting.
	progressSince time.Time
	// pubSet: sequences whose published status is out of date (with
	// seqState.pubQueued). Slices, not maps: a map that once held a
	// burst's 100,000 entries costs its peak size at every walk and clear.
	pubSet []*seqState

	// Published copies for readers.
	pubMu     sync.RWMutex
	published map[string]SequenceStatus
	pubGroups map[groupKey]GroupObservation
	running   bool
	queue     int // sequences due or dirty at the last publish
	pubHalt   HaltStatus
}

// New returns a Reconciler; nothing runs until Run.
func New(cfg Config) *Reconciler {
	cfg.defaults()
	r := &Reconciler{
		cfg:          cfg,
		log:          cfg.Logger,
		resReady:     make(chan struct{}, 1),
		cmds:         make(chan command),
		poke:         make(chan struct{}, 1),
		seqs:         map[string]*seqState{},
		dirty:        map[string]struct{}{},
		obs:          map[groupKey]*observation{},
		recv:         map[groupKey]uint64{},
		selfStop:     map[groupKey]uint64{},
		named:        map[groupKey]bool{},
		claims:       map[groupKey]string{},
		groupWaiters: map[string]struct{}{},
		published:    map[string]SequenceStatus{},
		pubGroups:    map[groupKey]GroupObservation{},
		rec:          newRecorder(cfg.Store, cfg.Logger),
		snd:          newSender(),
		committed:    make(chan *commitJob, 1),
	}
	r.rec.dropped = func(n int) { r.safety().HistoryDropped(n) }
	r.exec = r.execute
	return r
}

type groupKey struct{ campaign, group int32 }

func (k groupKey) String() string { return fmt.Sprintf("%d/%d", k.campaign, k.group) }

type observation struct {
	stale    bool // kept across a link drop only for its depletion; re-read before use
	known    bool
	depleted bool // the list ran dry while loaded, or OCS stopped/unloaded it by itself
	status   ocs.GroupCampStatus
	mode     ocs.DialMode
	stats    ocs.Stats
	has      bool // stats present
	at       time.Time
	since    time.Time // when status last changed
	// sampledAt: when the counters in stats were taken, at the earliest.
	sampledAt time.Time
	// Rates from the last two counter samples, per second: they pace the
	// polls of count-bound items.
	dialRate, contactRate float64
	// The first counter sample of this load: over a long enough baseline
	// the rates are the average since it, which late answers skew less.
	firstAt    time.Time
	firstStats ocs.Stats
	// OCS's HTTP statistics, the last sent while loaded (keptRates).
	rates ocs.Rates
}

type result struct {
	seq, action, intent string
	req, ans            ocs.Message
	err                 error
	sent                time.Time
	// late/lateFrom: the instant this request is late against, if the
	// lateness metrics measure it (the run's first request, a time stop).
	late     string
	lateFrom time.Time
	timeout  time.Duration // 0: Config.RequestTimeout
	// retry: the journal already held this intent, so an earlier attempt
	// of the very same step may have reached OCS. Only then do
	// AlreadyLoaded/AlreadyStarted mean "ours".
	retry bool
}

type command struct {
	name   string
	apply  func(s *seqState, now time.Time) error
	global func(now time.Time) error // instead of apply: for every sequence
	reply  chan error
}

// Run loads progress, settles what a crash left open, and runs the loop
// until ctx is done. Snapshots come from specs.Watch (or a test).
func (r *Reconciler) Run(ctx context.Context, snapshots <-chan specs.Snapshot) error {
	if err := r.recover(); err != nil {
		return fmt.Errorf("recover progress: %w", err)
	}
	if h, found, err := r.cfg.Store.Halt(); err != nil {
		return fmt.Errorf("recover halt: %w", err)
	} else if found {
		r.halt = &h
		r.log.Warn("dialing is halted", "reason", h.Reason, "by", h.Who, "since", h.Since)
	}
	r.publishHalt()
	r.started = time.Now()
	r.asyncCommit, r.turnCap = true, maxTurnRequests
	stopRec := make(chan struct{})
	go r.rec.run(stopRec)
	defer func() { close(stopRec); <-r.rec.done }()
	stopSend := make(chan struct{})
	go r.sendLoop(stopSend)
	defer func() { close(stopSend); <-r.snd.done }()
	r.pubMu.Lock()
	r.running = true
	r.pubMu.Unlock()
	defer func() {
		r.pubMu.Lock()
		r.running = false
		r.pubMu.Unlock()
	}()
	events := r.cfg.Link.Events()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		now := time.Now()
		r.processDue(now)
		r.processDirty(now)
		r.publish(now)
		if r.fenced != nil {
			r.drain()
			return fmt.Errorf("reconcile: %w", r.fenced)
		}
		// The wait counts from after the turn's work (a burst's commit
		// and passes take time), so the next due look is not late by it.
		wait := r.cfg.MaxSleep
		if r.due.Len() > 0 {
			if d := time.Until(r.due[0].due); d < wait {
				wait = d
			}
		}
		// Writes held back wake the loop when their hold ends: a failed
		// commit's backoff, settlements kept out of the commits requests
		// wait for, a commit no request waits for. (Once a hold has ended,
		// the commit in flight or the backoff wakes the loop.)
		if r.writesPending() {
			wait = wakeBy(wait, r.storeHold)
		}
		if len(r.batch.Settle) > 0 {
			wait = wakeBy(wait, r.settledSince.Add(maxSettleHold))
		}
		if !r.heldSince.IsZero() {
			wait = wakeBy(wait, r.heldSince.Add(maxSettleHold))
		}
		if !r.progressSince.IsZero() {
			wait = wakeBy(wait, r.progressSince.Add(maxSettleHold))
		}

		if wait < 0 || len(r.dirty) > 0 {
			wait = 0 // a capped turn left work for the next (maxTurnRequests)
		}
		r.rec.busy.Store(r.awaiting > 0 || r.committing)
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			r.drain()
			return nil
		case snap, ok := <-snapshots:
			if !ok {
				snapshots = nil
				continue
			}
			r.applySnapshot(snap, time.Now())
		case ev, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			r.onEvent(ev, time.Now())
		case <-r.resReady:
			r.takeResults()
		case job := <-r.committed:
			r.committedJob(job)
		case c := <-r.cmds:
			r.onCommand(c, time.Now())
			continue // the command's own turn ran (onCommand)
		case <-r.poke:
		case <-timer.C:
		}
		events = r.gather(events)
	}
}

// wakeBy shortens wait so that the loop wakes at at, when at is ahead.
func wakeBy(wait time.Duration, at time.Time) time.Duration {
	if d := time.Until(at); d > 0 && d < wait {
		return d
	}
	return wait
}

// maxGather bounds the answers and events taken into one turn, so that a
// storm of them still lets due sequences and commands through.
const maxGather = 4096

// gather takes the answers and events that are already waiting into this
// turn. Under load the turn's passes, one commit and one fsync then serve
// all of them: thousands of answers cost a few commits, not one each
// (group commit). While other requests are still awaiting their answers,
// it waits up to BatchWindow for more, so a burst's answers share a
// commit even when they trickle in; a lone request's answer never waits.
// It returns the events channel, nil once closed.
func (r *Reconciler) gather(events <-chan ocs.Message) <-chan ocs.Message {
	var timer *time.Timer
	var deadline <-chan time.Time
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for n := 0; n < maxGather; {
		r.takeCommitted()
		if k := r.takeResults(); k > 0 {
			n += k
			continue
		}
		select {
		case ev, ok := <-events:
			if !ok {
				return nil
			}
			r.onEvent(ev, time.Now())
			n++
			continue
		default:
		}
		if r.awaiting == 0 || r.cfg.BatchWindow <= 0 || len(r.dirty) > 0 {
			return events
		}
		if timer == nil {
			timer = time.NewTimer(r.cfg.BatchWindow)
			deadline = timer.C
		}
		select {
		case <-r.resReady:
		case job := <-r.committed:
			r.committedJob(job)
		case ev, ok := <-events:
			if !ok {
				return nil
			}
			r.onEvent(ev, time.Now())
			n++
		case <-deadline:
			return events
		}
	}
	return events
}

// queueResult hands an answer to the loop; it never blocks.
func (r *Reconciler) queueResult(res result) {
	r.resMu.Lock()
	r.resQ = append(r.resQ, res)
	r.resMu.Unlock()
	select {
	case r.resReady <- struct{}{}:
	default:
	}
	r.inflight.Done()
}

// takeResults applies the answers queued so far and says how many.
func (r *Reconciler) takeResults() int {
	r.resMu.Lock()
	q := r.resQ
	r.resQ, r.resSpare = r.resSpare, nil
	r.resMu.Unlock()
	for i, res := range q {
		r.midTurn(i)
		r.onResult(res, time.Now())
	}
	// The queue's two arrays take turns: a storm's 10,000 answers would
	// otherwise grow a fresh one, copying its large results at each step.
	clear(q)
	if cap(q) <= 1<<14 {
		r.resSpare = q[:0]
	}
	return len(q)
}

func (r *Reconciler) onEvent(ev ocs.Message, now time.Time) {
	if ev.IsLinkNotice() {
		r.onLink(ev, now)
		return
	}
	r.observe(ev, now, true)
}

// drain waits for requests in flight so that their outcome is recorded;
// an intent whose answer never came stays open for the next start.
func (r *Reconciler) drain() {
	r.awaitCommit() // its requests go out before the wait for answers
	done := make(chan struct{})
	go func() { r.inflight.Wait(); close(done) }()
	for {
		select {
		case <-r.resReady:
			r.takeResults()
		case <-done:
			r.takeResults()
			// The answers' outcomes; nothing is sent any more.
			clear(r.outbox)
			r.outbox = r.outbox[:0]
			if err := r.commit(time.Now()); err != nil {
				r.log.Error("save the last answers' outcomes", "err", err)
			}
			return
		}
	}
}

// recover loads every stored progress record. Runs in progress are marked
// to observe OCS before acting: an intent left open by a crash is settled
// by re-reading the campaign group's status, then re-issuing the same
// (idempotent) request or moving on.
func (r *Reconciler) recover() error {
	all, err := r.cfg.Store.AllProgress()
	if err != nil {
		return err
	}
	for _, p := range all {
		s := r.state(p.Sequence)
		s.prog = p
		s.hasProg = true
		if p.Run != nil {
			s.observeFirst = true
			if k := runGroup(p.Run); k.group != 0 && loadedState(p.Run.ItemState) {
				r.claims[k] = p.Sequence
			}
		}
	}
	open, err := r.cfg.Store.OpenIntents()
	if err != nil {
		return err
	}
	for _, in := range open {
		if s, ok := r.seqs[in.Sequence]; ok {
			s.openIntents = append(s.openIntents, in)
			if in.Action == actLoad {
				s.loadUnknown = true
			}
		}
		r.log.Info("intent left open by a restart; settling from OCS status", "intent", in.ID, "sequence", in.Sequence, "action", in.Action)
	}
	return nil
}

func (r *Reconciler) state(name string) *seqState {
	s, ok := r.seqs[name]
	if !ok {
		s = &seqState{name: name, heapIdx: -1, conds: map[string]*Condition{}}
		r.seqs[name] = s
	}
	return s
}

func (r *Reconciler) markDirty(name string) { r.dirty[name] = struct{}{} }

func (r *Reconciler) processDue(now time.Time) {
	for r.due.Len() > 0 && !r.due[0].due.After(now) {
		s := heap.Pop(&r.due).(*seqState)
		r.markDirty(s.name)
	}
}

func (r *Reconciler) processDirty(now time.Time) {
	defer r.kickSender() // what the turn sent leaves now
	if len(r.dirty) == 0 {
		r.flush(now) // answers' outcomes may still wait for their commit
		return
	}
	batch := make([]*seqState, 0, len(r.dirty))
	for n := range r.dirty {
		if s, ok := r.seqs[n]; ok {
			batch = append(batch, s)
		}
	}
	// Fair order: the longest due first, then by name, so a burst is
	// served in the order it fell due and transcripts stay stable.
	sortStates(batch)
	r.pubMu.Lock()
	r.queue = len(r.dirty)
	r.pubMu.Unlock()
	if len(r.dirty) > 1024 {
		r.dirty = map[string]struct{}{} // clear costs the table's peak size, every turn
	} else {
		clear(r.dirty)
	}
	// The cap holds only when this turn's flush will start a commit; with
	// one in flight (or held back after a failure) decisions pile up for
	// the next, and a capped turn would only spin.
	capped := r.turnCap > 0 && !r.committing && !now.Before(r.storeHold)
	if n := len(batch); n > 256 {
		// A storm: room for a request of each, so that the passes do not
		// copy these growing lists of large records again and again.
		r.batch.Begin = slices.Grow(r.batch.Begin, n)
		r.beginReqs = slices.Grow(r.beginReqs, n)
		r.early = slices.Grow(r.early, n)
	}
	for i, s := range batch {
		if capped && len(r.outbox) >= r.turnCap {
			// The rest go next turn, right after this one's commit: the
			// first requests of a burst leave while later ones are still
			// being decided, instead of all after one huge commit.
			for _, rest := range batch[i:] {
				r.markDirty(rest.name)
			}
			break
		}
		r.midTurn(i)
		t0 := time.Now()
		next := r.pass(s, now)
		r.cfg.Metrics.Pass(passResult(s), time.Since(t0))
		if s.gone {
			r.forget(s)
			continue
		}
		if next.IsZero() && s.retryAt.After(now) {
			next = s.retryAt // a failure's backoff, not the resync
		}
		if o := s.prog.Override; o != nil && o.Suspended && o.Until.After(now) && (next.IsZero() || o.Until.Before(next)) {
			next = o.Until // a suspend --for ends on time, not at the next resync
		}
		if lim := now.Add(r.resyncOf(s)); next.IsZero() || next.After(lim) {
			next = lim
		}
		if !next.After(now) {
			next = now.Add(time.Millisecond)
		}
		r.schedule(s, next)
		r.markPub(s)
	}
	r.flush(now)
}

// maxTurnRequests bounds the requests that wait for a commit which one
// turn decides while no commit is in flight: of 10,000 sequences due at
// once, the first this many are journaled and sent at once, and the rest
// are decided while that commit runs and go in the next, which grows with
// whatever piled up meanwhile (group commit that adapts to the disk).
// Stops do not count: they leave from their pass (sendEarly) and never
// wait for a commit, so a stop storm is one turn.
const maxTurnRequests = 512

// resyncOf is how long a sequence may go unlooked at. One with a run
// reads OCS at least every Resync; one with none has nothing to check
// before its next start, which its pass returns, and is looked at only
// every IdleResync as a net: 100,000 waiting sequences must cost almost
// nothing.
func (r *Reconciler) resyncOf(s *seqState) time.Duration {
	if s.prog.Run != nil || s.inflight != "" || s.deleted || s.spec == nil {
		return r.cfg.Resync
	}
	if c := s.conds[CondStalled]; c != nil && c.Status {
		return r.cfg.Resync
	}
	return r.cfg.IdleResync
}

// sortStates orders sequences by when they fell due, then by name.
func sortStates(ss []*seqState) {
	slices.SortFunc(ss, func(a, b *seqState) int {
		if c := a.due.Compare(b.due); c != 0 {
			return c
		}
		return strings.Compare(a.name, b.name)
	})
}

func (r *Reconciler) markPub(s *seqState) {
	if !s.pubQueued {
		s.pubQueued = true
		r.pubSet = append(r.pubSet, s)
	}
}

// reuse empties a work list for the next turn, letting go of a burst's
// large backing array.
func reuse(l []*seqState) []*seqState {
	clear(l)
	if cap(l) > 4096 {
		return nil
	}
	return l[:0]
}

func passResult(s *seqState) string {
	if c := s.conds[CondStalled]; c != nil && c.Status {
		return "error"
	}
	if s.inflight != "" {
		return "request"
	}
	return "idle"
}

func (r *Reconciler) schedule(s *seqState, at time.Time) {
	s.due = at
	if s.heapIdx >= 0 {
		heap.Fix(&r.due, s.heapIdx)
	} else {
		heap.Push(&r.due, s)
	}
}

func (r *Reconciler) forget(s *seqState) {
	if s.heapIdx >= 0 {
		heap.Remove(&r.due, s.heapIdx)
	}
	delete(r.seqs, s.name)
	s.saveQueued = false // its progress is deleted: a queued write must not bring it back
	s.pubQueued = false
	r.pubMu.Lock()
	delete(r.published, s.name)
	r.pubMu.Unlock()
}

// applySnapshot installs a new set of specs. A sequence missing from the
// snapshot is deleted; one whose file is invalid keeps its last good spec
// (the snapshot still carries it) and gets SpecInvalid.
func (r *Reconciler) applySnapshot(snap specs.Snapshot, now time.Time) {
	r.cfg.Metrics.SpecReload(snap.Err == nil && !hasErrors(snap.Problems))
	r.nameGroups(snap)
	for name, seq := range snap.Sequences {
		s := r.state(name)
		if s.spec == nil || s.spec.Hash != seq.Hash {
			if s.spec != nil {
				r.history(s, now, store.Event{Kind: "spec-change", SpecHash: seq.Hash,
					Message: fmt.Sprintf("spec changed to generation %d", seq.Generation)})
			} else if !s.hasProg {
				r.history(s, now, store.Event{Kind: "spec-change", SpecHash: seq.Hash, Message: "sequence added"})
			}
			if s.firstSeen.IsZero() {
				s.firstSeen = now
			}
		}
		s.spec = seq
		s.deleted = false
		s.file = snap.Files[name]
		if msg, bad := snap.Invalid[name]; bad {
			r.setCond(s, CondSpecInvalid, true, "InvalidSpec", msg, now)
		} else {
			r.setCond(s, CondSpecInvalid, false, "", "", now)
		}
		r.markDirty(name)
	}
	for name, s := range r.seqs {
		if _, ok := snap.Sequences[name]; ok {
			continue
		}
		if snap.Err != nil {
			// An unreadable directory is not a deletion.
			continue
		}
		if !s.deleted {
			s.deleted = true
			r.history(s, now, store.Event{Kind: "spec-change", Message: "sequence deleted from specs"})
		}
		r.markDirty(name)
	}
	if snap.Err != nil {
		r.log.Error("specs directory unreadable; keeping the last good specs", "err", snap.Err)
	}
	if snap.Err == nil || len(snap.Halts) > 0 {
		hs := make([]SpecHalt, 0, len(snap.Halts))
		for name, h := range snap.Halts {
			hs = append(hs, SpecHalt{Name: name, File: h.Pos.Path, Reason: h.Reason})
		}
		r.setSpecHalts(hs, now)
	}
}

// nameGroups rebuilds the set of campaign groups the specs name. Status
// for any other group is not kept: an OCS reporting on thousands of groups
// nobody here runs must not grow the database or the published view.
func (r *Reconciler) nameGroups(snap specs.Snapshot) {
	if snap.Err != nil {
		return // an unreadable directory deletes nothing
	}
	clear(r.named)
	for _, seq := range snap.Sequences {
		for _, it := range seq.Items {
			r.named[groupKey{it.CampaignDBID, it.GroupDBID}] = true
			r.named[groupKey{0, it.GroupDBID}] = true // an OCS-side sequence
		}
	}
	for k := range r.pubGroups {
		if !r.named[k] && r.claims[k] == "" {
			r.pubMu.Lock()
			delete(r.pubGroups, k)
			r.pubMu.Unlock()
			delete(r.obs, k)
			delete(r.recv, k)
			delete(r.selfStop, k)
		}
	}
}

// onLink follows the link's notices. After LinkUp nothing OCS told us
// before can be trusted: a restart or failover unloads every group without
// a word, so every running sequence reads its group again at once.
func (r *Reconciler) onLink(ev ocs.Message, now time.Time) {
	switch ev.Type {
	case ocs.LinkDown:
		if !r.linkDown {
			r.log.Warn("OCS link down; sending nothing until it is back")
		}
		r.linkDown = true
	case ocs.LinkUp:
		r.linkUps++
		r.linkDown = false
		r.linkFloor = ev.Recv
		// Nothing OCS said before can be trusted now. The observations
		// stay, marked stale, for what outlives an OCS restart: the
		// item's counters so far (carried into its reload) and a
		// depletion (an empty list stays empty).
		for _, o := range r.obs {
			o.stale = true
		}
		for name, s := range r.seqs {
			if s.prog.Run != nil {
				s.observeFirst = true
				s.lastPoll = time.Time{}
				s.retryAt = time.Time{}
				s.ocsBounced = true
				r.markDirty(name)
			} else if c := s.conds[CondStalled]; c != nil && c.Status {
				r.markDirty(name)
			}
		}
		r.log.Info("OCS link up; re-reading every campaign group in use")
	}
}

// StoreError is the last durable write's failure, nil once a write
// succeeds again (readiness).
func (r *Reconciler) StoreError() error {
	r.pubMu.RLock()
	defer r.pubMu.RUnlock()
	return r.storeErr
}

func (r *Reconciler) noteStore(err error) {
	if err == nil && r.storeErr == nil {
		return // the common case: no lock on every write (only the loop writes it)
	}
	r.pubMu.Lock()
	r.storeErr = err
	r.pubMu.Unlock()
}

// dueHeap orders sequences by their next look.
type dueHeap []*seqState

func (h dueHeap) Len() int { return len(h) }
func (h dueHeap) Less(i, j int) bool {
	if c := h[i].due.Compare(h[j].due); c != 0 {
		return c < 0
	}
	return h[i].name < h[j].name
}
func (h dueHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].heapIdx = i
	h[j].heapIdx = j
}
func (h *dueHeap) Push(x any) {
	s := x.(*seqState)
	s.heapIdx = len(*h)
	*h = append(*h, s)
}
func (h *dueHeap) Pop() any {
	old := *h
	n := len(old)
	s := old[n-1]
	old[n-1] = nil
	s.heapIdx = -1
	*h = old[:n-1]
	return s
}

func hasErrors(ps []specs.Problem) bool {
	for _, p := range ps {
		if p.Severity == specs.SeverityError {
			return true
		}
	}
	return false
}
