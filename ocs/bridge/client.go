package bridge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sequencer-dev/sequencer/ocs"
)

// Options of a Client. Zero values take the defaults in brackets.
type Options struct {
	RequestTimeout time.Duration // [5s] then ocs.ErrTimeout
	BackoffMin     time.Duration // first reconnect delay [200ms]
	BackoffMax     time.Duration // [30s]
	Counters       bool          // the peer's status events carry ocs.PropStatistics
	EventBuffer    int           // unsolicited events kept while the consumer is busy [4096]
	Logger         *slog.Logger
}

// Client is an ocs.Link over the bridge framing. It dials, keeps one
// connection, reconnects with capped exponential backoff, assigns
// reference ids and correlates answers.
type Client struct {
	dial   func(ctx context.Context) (net.Conn, error)
	opts   Options
	log    *slog.Logger
	events chan ocs.Message
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}

	mu      sync.Mutex
	conn    *Conn
	pending map[int32]*waiter
	ref     int32
	up      atomic.Bool
	recv    ocs.Receipts
}

// New starts a client; it connects in the background.
func New(dial func(ctx context.Context) (net.Conn, error), opts Options) *Client {
	if opts.RequestTimeout <= 0 {
		opts.RequestTimeout = 5 * time.Second
	}
	if opts.BackoffMin <= 0 {
		opts.BackoffMin = 200 * time.Millisecond
	}
	if opts.BackoffMax <= 0 {
		opts.BackoffMax = 30 * time.Second
	}
	if opts.EventBuffer <= 0 {
		opts.EventBuffer = 4096
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &Client{dial: dial, opts: opts, log: opts.Logger, events: make(chan ocs.Message, opts.EventBuffer),
		ctx: ctx, cancel: cancel, done: make(chan struct{}), pending: map[int32]*waiter{}}
	go c.loop()
	return c
}

// Dial is New for a TCP address.
func Dial(addr string, opts Options) *Client {
	return New(func(ctx context.Context) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "tcp", addr)
	}, opts)
}

// waiter receives the answers to one request: the first only, or, when
// collecting, every answer until the collector stops waiting.
type waiter struct {
	ch      chan ocs.Message
	collect bool
	// cb, when set, takes the answer instead of ch (ok false: the
	// connection was lost); whoever removes the waiter from pending
	// calls it, exactly once.
	cb    func(m ocs.Message, ok bool)
	timer *time.Timer
}

// Up reports whether the connection is established.
func (c *Client) Up() bool { return c.up.Load() }

// Events delivers unsolicited events and answers that matched no request.
func (c *Client) Events() <-chan ocs.Message { return c.events }

// Capabilities of the peer, as configured.
func (c *Client) Capabilities() ocs.Capabilities { return ocs.Capabilities{Counters: c.opts.Counters} }

// Close stops the client and fails requests in flight with ocs.ErrClosed.
func (c *Client) Close() error {
	c.cancel()
	c.mu.Lock()
	if c.conn != nil {
		c.conn.Close()
	}
	c.mu.Unlock()
	<-c.done
	return nil
}

func (c *Client) loop() {
	defer close(c.done)
	defer close(c.events)
	backoff := c.opts.BackoffMin
	for c.ctx.Err() == nil {
		nc, err := c.dial(c.ctx)
		if err != nil {
			c.log.Warn("connect to OCS bridge failed", "err", err, "retry_in", backoff)
			select {
			case <-time.After(backoff):
			case <-c.ctx.Done():
				return
			}
			backoff = min(backoff*2, c.opts.BackoffMax)
			continue
		}
		backoff = c.opts.BackoffMin
		conn := NewConn(nc)
		c.mu.Lock()
		c.conn = conn
		c.mu.Unlock()
		c.up.Store(true)
		c.log.Info("connected to OCS bridge")
		c.notify(ocs.LinkUp)
		err = c.read(conn)
		c.up.Store(false)
		conn.Close()
		c.mu.Lock()
		c.conn = nil
		var lost []*waiter
		for ref, w := range c.pending {
			if w.cb != nil {
				lost = append(lost, w)
			} else {
				close(w.ch) // a closed channel means "disconnected"
			}
			delete(c.pending, ref)
		}
		c.mu.Unlock()
		for _, w := range lost {
			w.timer.Stop()
			w.cb(ocs.Message{}, false)
		}
		c.notify(ocs.LinkDown)
		if c.ctx.Err() != nil {
			return
		}
		c.log.Warn("OCS bridge connection lost", "err", err, "reconnect_in", backoff)
		// A peer that accepts and closes at once must not make us spin.
		select {
		case <-time.After(backoff):
		case <-c.ctx.Done():
			return
		}
	}
}

// notify puts a link notice on Events. It waits for room: a lost LinkUp
// would leave the loop believing OCS still holds groups it forgot.
func (c *Client) notify(t ocs.MessageType) {
	if c.ctx.Err() != nil {
		return // closing: Events is about to close, which says enough
	}
	select {
	case c.events <- c.recv.Notice(t):
	case <-c.ctx.Done():
	}
}

func (c *Client) read(conn *Conn) error {
	for {
		m, err := conn.Receive()
		if err != nil {
			return err
		}
		// Stamp in wire order before the answer and the events part ways.
		m = c.recv.Stamp(m)
		if m.Has&ocs.AttrReferenceID != 0 {
			c.mu.Lock()
			w, ok := c.pending[m.ReferenceID]
			if ok && !w.collect {
				delete(c.pending, m.ReferenceID)
			}
			c.mu.Unlock()
			if ok && w.cb != nil {
				w.timer.Stop()
				w.cb(m, true)
				continue
			}
			if ok {
				select {
				case w.ch <- m:
				default:
					c.log.Warn("too many answers to one request; dropping one", "type", m.Type.String(), "ref", m.ReferenceID)
				}
				continue
			}
		}
		select {
		case c.events <- m:
		default:
			c.log.Warn("event buffer full; dropping an unsolicited event (the loop polls status anyway)", "type", m.Type.String())
		}
	}
}

// Request sends req and waits for its answer.
func (c *Client) Request(ctx context.Context, req ocs.Message) (ocs.Message, error) {
	after := c.recv.Mark()
	ref, w, err := c.send(req, false)
	if err != nil {
		return ocs.Message{}, err
	}
	return c.await(ctx, req, ref, w, after)
}

// SendAsync writes reqs in order with one write and calls done once per
// request, without a goroutine each: at once for one that could not
// leave, from the reader when its answer arrives, on timeout, or when the
// connection is lost (ocs.AsyncSender). done must not block.
func (c *Client) SendAsync(reqs []ocs.Message, timeout time.Duration, done func(i int, ans ocs.Message, err error)) {
	if timeout <= 0 || timeout > c.opts.RequestTimeout {
		timeout = c.opts.RequestTimeout
	}
	after := c.recv.Mark()
	var out []ocs.Message
	var refs []int32
	var ws []*waiter
	var idx []int
	c.mu.Lock()
	conn := c.conn
	var early []func()
	for i, req := range reqs {
		if err := c.refusal(req, conn); err != nil {
			early = append(early, func() { done(i, ocs.Message{}, err) })
			continue
		}
		ref, w := c.register(false)
		w.cb = func(m ocs.Message, ok bool) {
			if !ok {
				done(i, ocs.Message{}, c.lost(req))
				return
			}
			m.After = after
			done(i, m, m.AnswerError(req.Type))
		}
		w.timer = time.AfterFunc(timeout, func() {
			if c.take(ref, w) {
				done(i, ocs.Message{}, c.noAnswer(req, timeout))
			}
		})
		out = append(out, req.WithReference(ref))
		refs, ws, idx = append(refs, ref), append(ws, w), append(idx, i)
	}
	c.mu.Unlock()
	for _, f := range early {
		f()
	}
	if len(out) == 0 {
		return
	}
	if err := conn.SendAll(out); err != nil {
		for k, ref := range refs {
			if w := ws[k]; c.take(ref, w) {
				w.timer.Stop()
				done(idx[k], ocs.Message{}, fmt.Errorf("%s: %w: %v", reqs[idx[k]].Type, ocs.ErrDisconnected, err))
			}
		}
	}
}

// take removes waiter w of ref from pending; false if someone else did.
func (c *Client) take(ref int32, w *waiter) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.pending[ref] != w {
		return false
	}
	delete(c.pending, ref)
	return true
}

// await waits for the answer to request ref.
func (c *Client) await(ctx context.Context, req ocs.Message, ref int32, w *waiter, after uint64) (ocs.Message, error) {
	timer := time.NewTimer(c.opts.RequestTimeout)
	defer timer.Stop()
	select {
	case m, ok := <-w.ch:
		if !ok {
			return ocs.Message{}, c.lost(req)
		}
		m.After = after
		if err := m.AnswerError(req.Type); err != nil {
			return m, err
		}
		return m, nil
	case <-timer.C:
		c.forget(ref)
		return ocs.Message{}, c.noAnswer(req, c.opts.RequestTimeout)
	case <-ctx.Done():
		c.forget(ref)
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return ocs.Message{}, fmt.Errorf("%s: %w", req.Type, ocs.ErrTimeout)
		}
		return ocs.Message{}, ctx.Err()
	case <-c.ctx.Done():
		return ocs.Message{}, fmt.Errorf("%s: %w", req.Type, ocs.ErrClosed)
	}
}

// Collect sends req once and gathers every answer (CM_EvError included)
// until o.Window ends, every OCS in o.Expect has answered, or — with a
// non-zero target — the first answer arrives. No answer at all is a
// *ocs.NoAnswerError.
func (c *Client) Collect(ctx context.Context, req ocs.Message, o ocs.CollectOptions) ([]ocs.Message, error) {
	if o.Window <= 0 {
		o.Window = c.opts.RequestTimeout
	}
	ref, w, err := c.send(req, true)
	if err != nil {
		return nil, err
	}
	defer c.forget(ref)
	timer := time.NewTimer(o.Window)
	defer timer.Stop()
	var got []ocs.Message
	answered := map[int32]bool{}
	done := func() bool {
		if req.TargetAppDBID != 0 {
			return len(got) > 0
		}
		if len(o.Expect) == 0 {
			return false
		}
		for _, app := range o.Expect {
			if !answered[app] {
				return false
			}
		}
		return true
	}
	for !done() {
		select {
		case m, ok := <-w.ch:
			if !ok {
				if len(got) > 0 {
					return got, nil
				}
				return nil, c.lost(req)
			}
			got = append(got, m)
			answered[m.OriginAppDBID] = true
		case <-timer.C:
			if len(got) == 0 {
				return nil, c.noAnswer(req, o.Window)
			}
			return got, nil
		case <-ctx.Done():
			return got, ctx.Err()
		case <-c.ctx.Done():
			return got, fmt.Errorf("%s: %w", req.Type, ocs.ErrClosed)
		}
	}
	return got, nil
}

func (c *Client) send(req ocs.Message, collect bool) (int32, *waiter, error) {
	c.mu.Lock()
	conn := c.conn
	if err := c.refusal(req, conn); err != nil {
		c.mu.Unlock()
		return 0, nil, err
	}
	ref, w := c.register(collect)
	c.mu.Unlock()
	if err := conn.Send(req.WithReference(ref)); err != nil {
		c.forget(ref)
		return 0, nil, fmt.Errorf("%s: %w: %v", req.Type, ocs.ErrDisconnected, err)
	}
	return ref, w, nil
}

// refusal says why req cannot leave on conn now (invalid, the client
// closed, no connection), or nil.
func (c *Client) refusal(req ocs.Message, conn *Conn) error {
	if err := req.Validate(); err != nil {
		return err
	}
	if c.ctx.Err() != nil {
		return fmt.Errorf("%s: %w", req.Type, ocs.ErrClosed)
	}
	if conn == nil {
		return fmt.Errorf("%s: %w (%w)", req.Type, ocs.ErrDisconnected, ocs.ErrNotSent)
	}
	return nil
}

// register takes the next reference id and its waiter; c.mu is held.
func (c *Client) register(collect bool) (int32, *waiter) {
	c.ref++
	if c.ref <= 0 {
		c.ref = 1
	}
	size := 1
	if collect {
		size = 64
	}
	w := &waiter{ch: make(chan ocs.Message, size), collect: collect}
	c.pending[c.ref] = w
	return c.ref, w
}

func (c *Client) forget(ref int32) {
	c.mu.Lock()
	delete(c.pending, ref)
	c.mu.Unlock()
}

// lost is the error of a request whose connection went away: ErrClosed
// when that was Close, so callers do not retry a closed link.
func (c *Client) lost(req ocs.Message) error {
	if c.ctx.Err() != nil {
		return fmt.Errorf("%s: %w", req.Type, ocs.ErrClosed)
	}
	return fmt.Errorf("%s: %w", req.Type, ocs.ErrDisconnected)
}

func (c *Client) noAnswer(req ocs.Message, after time.Duration) error {
	return &ocs.NoAnswerError{Request: req.Type, OriginAppDBID: req.OriginAppDBID, TargetAppDBID: req.TargetAppDBID, After: after}
}
