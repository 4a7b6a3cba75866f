package reconcile

import (
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"sync"
	"time"

	"github.com/sequencer-dev/sequencer/ocs"
	"github.com/sequencer-dev/sequencer/ocs/bridge"
	"github.com/sequencer-dev/sequencer/store"
)

// dstWireConfig is how one OCS behaves on the wire, within what the
// protocol allows: answers late, events that overtake a late answer or
// queue behind it, and no statistics at all (a seed-faithful OCS).
type dstWireConfig struct {
	AnswerDelay  time.Duration // answers are late by up to this
	LateShare    float64       // share of answers that are late
	RequestDelay time.Duration // requests reach OCS up to this late
	Overtake     bool          // events need not wait for a late answer
	NoStats      bool          // strip ocs.PropStatistics
}

// dstWire sits between the daemon's bridge client and the simulator. The
// order it delivers frames in is the order OCS sent them.
type dstWire struct {
	cfg dstWireConfig
	rng *rand.Rand // used by the sim→daemon reader only

	mu     sync.Mutex
	queue  []dstFrame
	seq    int
	wake   chan struct{}
	closed bool
}

type dstFrame struct {
	release time.Time
	seq     int
	m       ocs.Message
}

// dstPipe returns the daemon's end of a new connection to serve.
func dstPipe(cfg dstWireConfig, seed uint64, serve func(net.Conn)) net.Conn {
	daemon, mine := net.Pipe()
	toSim, simEnd := net.Pipe()
	go serve(simEnd)
	w := &dstWire{cfg: cfg, rng: newDSTRand(seed), wake: make(chan struct{}, 1)}
	up, down := bridge.NewConn(mine), bridge.NewConn(toSim)
	reqRng := rand.New(rand.NewPCG(seed, 0xa11))
	closeAll := func() {
		up.Close()
		down.Close()
		w.mu.Lock()
		w.closed = true
		w.mu.Unlock()
		w.poke()
	}
	// Requests keep their order but may be late. The reader never waits
	// for them: a writer blocked on a pipe holds the bridge's write lock,
	// and a goroutine waiting for a lock stops synctest's clock.
	reqs := make(chan ocs.Message, 4096)
	go func() {
		defer close(reqs)
		for {
			m, err := up.Receive()
			if err != nil {
				return
			}
			reqs <- m
		}
	}()
	go func() {
		defer closeAll()
		for m := range reqs {
			if cfg.RequestDelay > 0 && reqRng.IntN(3) == 0 {
				time.Sleep(time.Duration(reqRng.Int64N(int64(cfg.RequestDelay))))
			}
			if down.Send(m) != nil {
				closeAll()
				for range reqs {
				}
				return
			}
		}
	}()
	go func() { // answers and events
		defer closeAll()
		for {
			m, err := down.Receive()
			if err != nil {
				return
			}
			if cfg.NoStats && m.Has&ocs.AttrProperties != 0 {
				m.Properties = m.Properties.Clone().Delete(ocs.PropStatistics)
				if len(m.Properties) == 0 {
					m.Has &^= ocs.AttrProperties
				}
			}
			w.push(m)
		}
	}()
	go func() { // the writer: frames leave by release time, then arrival
		defer closeAll()
		for {
			f, ok := w.next()
			if !ok {
				return
			}
			if up.Send(f.m) != nil {
				return
			}
		}
	}()
	return daemon
}

func newDSTRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 0x5eed)) }

func (w *dstWire) poke() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

func (w *dstWire) push(m ocs.Message) {
	now := time.Now()
	release := now
	if m.Has&ocs.AttrReferenceID != 0 && w.cfg.AnswerDelay > 0 && w.rng.Float64() < w.cfg.LateShare {
		release = now.Add(time.Duration(w.rng.Int64N(int64(w.cfg.AnswerDelay))))
	}
	w.mu.Lock()
	if !w.cfg.Overtake {
		for _, f := range w.queue {
			if f.release.After(release) {
				release = f.release
			}
		}
	}
	w.seq++
	w.queue = append(w.queue, dstFrame{release: release, seq: w.seq, m: m})
	w.mu.Unlock()
	w.poke()
}

// next waits for the frame due first.
func (w *dstWire) next() (dstFrame, bool) {
	for {
		w.mu.Lock()
		if w.closed {
			w.mu.Unlock()
			return dstFrame{}, false
		}
		best := -1
		for i, f := range w.queue {
			if best < 0 || f.release.Before(w.queue[best].release) ||
				(f.release.Equal(w.queue[best].release) && f.seq < w.queue[best].seq) {
				best = i
			}
		}
		var wait time.Duration = time.Hour
		if best >= 0 {
			f := w.queue[best]
			if d := time.Until(f.release); d <= 0 {
				w.queue = append(w.queue[:best], w.queue[best+1:]...)
				w.mu.Unlock()
				return f, true
			} else {
				wait = d
			}
		}
		w.mu.Unlock()
		t := time.NewTimer(wait)
		select {
		case <-w.wake:
		case <-t.C:
		}
		t.Stop()
	}
}

// dstLink is the daemon's link with a watchdog: requests at one instant of
// virtual time without end are a busy loop, which would hang the bubble
// (time never passes); it reports the first and slows the rest.
type dstLink struct {
	*bridge.Client
	spun func(at time.Time, n int, req ocs.Message, err error)
	dead func() bool // the process crashed: it sends nothing more

	mu       sync.Mutex
	at       time.Time
	n        int
	reported bool
	last     error // of the last request answered
}

const dstSpin = 500 // requests at one instant that make a busy loop

func (l *dstLink) Request(ctx context.Context, req ocs.Message) (ocs.Message, error) {
	if l.dead() {
		// Between the crash and the harness ending the loop, a dead
		// process must not look like a spinning one.
		<-ctx.Done()
		return ocs.Message{}, errDSTCrashed
	}
	l.count(1, req)
	ans, err := l.Client.Request(ctx, req)
	l.mu.Lock()
	l.last = err
	l.mu.Unlock()
	return ans, err
}

// count adds n requests sent at this instant; from dstSpin of them at one
// instant the loop is reported as spinning (once) and slowed down.
func (l *dstLink) count(n int, req ocs.Message) {
	now := time.Now()
	l.mu.Lock()
	if now.Equal(l.at) {
		l.n += n
	} else {
		l.at, l.n = now, n-1
	}
	total := l.n
	report := total >= dstSpin && !l.reported
	if report {
		l.reported = true
	}
	last := l.last
	l.mu.Unlock()
	if report {
		// What the spinning requests got, not what this one gets
		// once slowed down.
		l.spun(now, total, req, last)
	}
	if total >= dstSpin {
		time.Sleep(100 * time.Millisecond)
	}
}

// SendAsync is the path the loop takes on a bridge link; it keeps
// Request's rules: a dead process sends nothing (its requests fail only
// after their timeout, so a crashed loop does not look like a spinning
// one), and a loop that sends hundreds of requests at one instant is
// reported as spinning.
func (l *dstLink) SendAsync(reqs []ocs.Message, timeout time.Duration, done func(int, ocs.Message, error)) {
	if l.dead() {
		for i := range reqs {
			time.AfterFunc(timeout, func() { done(i, ocs.Message{}, errDSTCrashed) })
		}
		return
	}
	l.count(len(reqs), reqs[0])
	l.Client.SendAsync(reqs, timeout, func(i int, ans ocs.Message, err error) {
		l.mu.Lock()
		l.last = err
		l.mu.Unlock()
		done(i, ans, err)
	})
}

// errDSTCrashed is what a store answers once the process "died".
var errDSTCrashed = errors.New("dst: the daemon crashed")

// dstStore is the daemon's store with a kill switch: once dead, nothing
// more reaches the file, as after SIGKILL. Armed, it dies right after the
// next intent is written, before the request can be sent.
type dstStore struct {
	*store.Store
	mu      sync.Mutex
	dead    bool
	armed   bool
	onCrash func() // closes the link; runs once, in the loop's goroutine
}

func (s *dstStore) kill() {
	s.mu.Lock()
	s.dead = true
	s.mu.Unlock()
}

func (s *dstStore) isDead() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dead
}

func (s *dstStore) PutProgress(p store.Progress) error {
	if s.isDead() {
		return errDSTCrashed
	}
	return s.Store.PutProgress(p)
}

func (s *dstStore) DeleteProgress(seq string) error {
	if s.isDead() {
		return errDSTCrashed
	}
	return s.Store.DeleteProgress(seq)
}

func (s *dstStore) BeginIntent(in store.Intent) (store.Intent, bool, error) {
	if s.isDead() {
		return store.Intent{}, false, errDSTCrashed
	}
	got, existed, err := s.Store.BeginIntent(in)
	s.mu.Lock()
	crash := s.armed && err == nil
	if crash {
		s.armed, s.dead = false, true
	}
	s.mu.Unlock()
	if crash {
		s.onCrash()
		return store.Intent{}, false, errDSTCrashed
	}
	return got, existed, err
}

// Commit is the loop's group commit; armed, the daemon dies right after
// a commit that journals a request, before the request can leave.
func (s *dstStore) Commit(b *store.Batch) error {
	if s.isDead() {
		return errDSTCrashed
	}
	if err := s.Store.Commit(b); err != nil {
		return err
	}
	s.mu.Lock()
	crash := s.armed && len(b.Begin) > 0
	if crash {
		s.armed, s.dead = false, true
	}
	s.mu.Unlock()
	if crash {
		s.onCrash()
		return errDSTCrashed
	}
	return nil
}

func (s *dstStore) SettleIntent(id string, state store.IntentState, outcome string, at time.Time) error {
	if s.isDead() {
		return errDSTCrashed
	}
	return s.Store.SettleIntent(id, state, outcome, at)
}

func (s *dstStore) Append(evs ...store.Event) error {
	if s.isDead() {
		return errDSTCrashed
	}
	return s.Store.Append(evs...)
}

// PutGroupStatus keeps nothing: the loop never reads group statuses back
// (they are for `sequencer status` after a restart), and writing one per
// status poll would be most of a seed's cost.
func (s *dstStore) PutGroupStatus(gs ...store.GroupStatus) error {
	if s.isDead() {
		return errDSTCrashed
	}
	return nil
}
