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
	pending map[int32]chan ocs.Message
	ref     int32
	up      atomic.Bool
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
		ctx: ctx, cancel: cancel, done: make(chan struct{}), pending: map[int32]chan ocs.Message{}}
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
		err = c.read(conn)
		c.up.Store(false)
		conn.Close()
		c.mu.Lock()
		c.conn = nil
		for ref, ch := range c.pending {
			close(ch) // a closed channel means "disconnected"
			delete(c.pending, ref)
		}
		c.mu.Unlock()
		if c.ctx.Err() != nil {
			return
		}
		c.log.Warn("OCS bridge connection lost", "err", err)
	}
}

func (c *Client) read(conn *Conn) error {
	for {
		m, err := conn.Receive()
		if err != nil {
			return err
		}
		if m.Has&ocs.AttrReferenceID != 0 {
			c.mu.Lock()
			ch, ok := c.pending[m.ReferenceID]
			if ok {
				delete(c.pending, m.ReferenceID)
			}
			c.mu.Unlock()
			if ok {
				ch <- m
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
	if err := req.Validate(); err != nil {
		return ocs.Message{}, err
	}
	if c.ctx.Err() != nil {
		return ocs.Message{}, fmt.Errorf("%s: %w", req.Type, ocs.ErrClosed)
	}
	c.mu.Lock()
	conn := c.conn
	if conn == nil {
		c.mu.Unlock()
		return ocs.Message{}, fmt.Errorf("%s: %w", req.Type, ocs.ErrDisconnected)
	}
	c.ref++
	if c.ref <= 0 {
		c.ref = 1
	}
	ref := c.ref
	ch := make(chan ocs.Message, 1)
	c.pending[ref] = ch
	c.mu.Unlock()
	forget := func() {
		c.mu.Lock()
		delete(c.pending, ref)
		c.mu.Unlock()
	}
	if err := conn.Send(req.WithReference(ref)); err != nil {
		forget()
		return ocs.Message{}, fmt.Errorf("%s: %w: %v", req.Type, ocs.ErrDisconnected, err)
	}
	timer := time.NewTimer(c.opts.RequestTimeout)
	defer timer.Stop()
	select {
	case m, ok := <-ch:
		if !ok {
			return ocs.Message{}, fmt.Errorf("%s: %w", req.Type, ocs.ErrDisconnected)
		}
		if err := m.AsError(req.Type); err != nil {
			return m, err
		}
		return m, nil
	case <-timer.C:
		forget()
		return ocs.Message{}, fmt.Errorf("%s (reference %d) within %s: %w", req.Type, ref, c.opts.RequestTimeout, ocs.ErrTimeout)
	case <-ctx.Done():
		forget()
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return ocs.Message{}, fmt.Errorf("%s: %w", req.Type, ocs.ErrTimeout)
		}
		return ocs.Message{}, ctx.Err()
	case <-c.ctx.Done():
		return ocs.Message{}, fmt.Errorf("%s: %w", req.Type, ocs.ErrClosed)
	}
}
