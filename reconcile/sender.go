package reconcile

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/sequencer-dev/sequencer/ocs"
)

// sender writes the loop's requests to OCS in the order the loop decided
// them (a burst is served in due order), from one goroutine, while their
// answers are awaited together: with a link that pipelines, thousands of
// requests are in flight at once rather than one round trip each. The
// loop only appends to the queue, so a slow socket never holds it up.
type sender struct {
	mu   sync.Mutex
	q    []result
	wake chan struct{}
	done chan struct{}
	// unwoken: requests queued since the sender was last woken (the
	// loop's own count).
	unwoken int
}

func newSender() *sender {
	return &sender{wake: make(chan struct{}, 1), done: make(chan struct{})}
}

// execute queues a request; its answer comes back to the loop as a result.
// The sender is woken every sendBatch requests and at the end of the turn
// (kickSender): woken for each, it would write each stop of a storm on its
// own, a system call apiece, on the core the loop's passes need.
func (r *Reconciler) execute(res result) {
	r.inflight.Add(1)
	r.snd.mu.Lock()
	r.snd.q = append(r.snd.q, res)
	r.snd.mu.Unlock()
	if r.snd.unwoken++; r.snd.unwoken >= sendBatch {
		r.kickSender()
	}
}

const sendBatch = 64

// kickSender wakes the sender for what the turn queued.
func (r *Reconciler) kickSender() {
	if r.snd.unwoken == 0 {
		return
	}
	r.snd.unwoken = 0
	select {
	case r.snd.wake <- struct{}{}:
	default:
	}
}

// sendLoop runs until stop is closed; the loop drains its requests (drain)
// before it closes stop.
func (r *Reconciler) sendLoop(stop <-chan struct{}) {
	defer close(r.snd.done)
	var batch []result
	for {
		select {
		case <-r.snd.wake:
		case <-stop:
			return
		}
		for {
			r.snd.mu.Lock()
			batch, r.snd.q = r.snd.q, batch[:0]
			r.snd.mu.Unlock()
			if len(batch) == 0 {
				break
			}
			if as, ok := r.cfg.Link.(ocs.AsyncSender); ok {
				r.dispatchAsync(as, batch)
			} else {
				for i := range batch {
					r.dispatch(batch[i])
				}
			}
			clear(batch)
		}
	}
}

// dispatch hands one request to a link that cannot send asynchronously
// (OCS HTTP: one call per request) on a goroutine of its own. The send
// time is taken as it is handed over: it is what the lateness metrics and
// an item's start are measured by.
func (r *Reconciler) dispatch(res result) {
	ctx, cancel := context.WithTimeout(context.Background(), r.timeoutOf(res))
	res.sent = time.Now()
	r.observeLateness(res)
	go func() {
		defer cancel()
		res.ans, res.err = r.cfg.Link.Request(ctx, res.req)
		r.queueResult(res)
	}()
}

// dispatchAsync writes a turn's requests with one write and takes their
// answers by callback (ocs.AsyncSender): no goroutine per request.
func (r *Reconciler) dispatchAsync(as ocs.AsyncSender, batch []result) {
	sent := time.Now()
	held := slices.Clone(batch) // batch is reused by the send loop
	// One call per run of requests with the same timeout, in order.
	for from := 0; from < len(held); {
		to := from + 1
		for to < len(held) && r.timeoutOf(held[to]) == r.timeoutOf(held[from]) {
			to++
		}
		run := held[from:to]
		reqs := make([]ocs.Message, len(run))
		for i := range run {
			run[i].sent = sent
			reqs[i] = run[i].req
		}
		as.SendAsync(reqs, r.timeoutOf(run[0]), func(i int, ans ocs.Message, err error) {
			res := run[i]
			res.ans, res.err = ans, err
			if !errors.Is(err, ocs.ErrNotSent) && !errors.Is(err, ocs.ErrInvalidRequest) { // it left
				r.observeLateness(res)
			}
			r.queueResult(res)
		})
		from = to
	}
}

func (r *Reconciler) timeoutOf(res result) time.Duration {
	if res.timeout > 0 {
		return res.timeout
	}
	return r.cfg.RequestTimeout
}

// observeLateness measures a run's start from its scheduled instant to the
// moment its first request left, and a time stop from the stop instant to
// the moment StopDialing left.
func (r *Reconciler) observeLateness(res result) {
	if res.lateFrom.IsZero() {
		return
	}
	d := res.sent.Sub(res.lateFrom)
	switch res.late {
	case lateStart:
		r.cfg.Metrics.StartLateness(d)
	case lateStop:
		r.cfg.Metrics.StopLateness(d)
	}
}

const (
	lateStart = "start"
	lateStop  = "stop"
)
