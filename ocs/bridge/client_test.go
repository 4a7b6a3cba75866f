package bridge_test

import (
	"bufio"
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sequencer-dev/sequencer/ocs"
	"github.com/sequencer-dev/sequencer/ocs/bridge"
)

// fakeOCS hands the client one end of a net.Pipe per dial and the test
// the other, and notes when each dial happened. Dials fail while refuse
// is above zero.
type fakeOCS struct {
	conns chan *peer

	mu     sync.Mutex
	dials  []time.Time
	refuse int
}

func newFake() *fakeOCS { return &fakeOCS{conns: make(chan *peer, 16)} }

func (f *fakeOCS) dial(ctx context.Context) (net.Conn, error) {
	f.mu.Lock()
	f.dials = append(f.dials, time.Now())
	refuse := f.refuse > 0
	if refuse {
		f.refuse--
	}
	f.mu.Unlock()
	if refuse {
		return nil, errors.New("connection refused")
	}
	a, b := net.Pipe()
	f.conns <- &peer{Conn: b, r: bufio.NewReader(b)}
	return a, nil
}

func (f *fakeOCS) dialTimes() []time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]time.Time(nil), f.dials...)
}

// accept returns the server end of the latest connection.
func (f *fakeOCS) accept(t *testing.T) *peer {
	t.Helper()
	select {
	case p := <-f.conns:
		return p
	default:
		t.Fatal("the client has not dialed")
		return nil
	}
}

// peer is the server end of one connection.
type peer struct {
	net.Conn
	r *bufio.Reader
}

func (p *peer) read(t *testing.T) ocs.Message {
	t.Helper()
	l, err := bridge.ReadFrame(p.r)
	if err != nil {
		t.Fatalf("server read: %v", err)
	}
	m, err := ocs.DecodeMessage(l)
	if err != nil {
		t.Fatalf("server decode: %v", err)
	}
	return m
}

func (p *peer) write(t *testing.T, m ocs.Message) {
	t.Helper()
	if err := bridge.WriteFrame(p.Conn, m.Encode()); err != nil {
		t.Fatalf("server write: %v", err)
	}
}

type result struct {
	ans ocs.Message
	err error
	at  time.Time
}

// send issues req from its own goroutine; the answer comes on the channel.
func send(c *bridge.Client, ctx context.Context, req ocs.Message) <-chan result {
	ch := make(chan result, 1)
	go func() {
		ans, err := c.Request(ctx, req)
		ch <- result{ans, err, time.Now()}
	}()
	return ch
}

func target(c int32) ocs.Target {
	return ocs.Target{OriginAppDBID: 310, TargetAppDBID: 120, CampaignDBID: c, GroupDBID: 732}
}

// connect starts a client on f and returns it with the server end of its
// first connection, inside a synctest bubble.
func connect(t *testing.T, f *fakeOCS, opts bridge.Options) (*bridge.Client, *peer) {
	t.Helper()
	c := bridge.New(f.dial, opts)
	synctest.Wait()
	if !c.Up() {
		t.Fatal("the client is not up")
	}
	if m := <-c.Events(); m.Type != ocs.LinkUp || m.Recv == 0 {
		t.Fatalf("first event %s (stamp %d), want a stamped LinkUp notice", m.Type, m.Recv)
	}
	return c, f.accept(t)
}

func TestAnswersFindTheirRequestsByReferenceIDEvenWhenAnsweredOutOfOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake()
		c, p := connect(t, f, bridge.Options{})
		defer c.Close()
		campaigns := []int32{101, 102, 103}
		var res []<-chan result
		var reqs []ocs.Message
		for _, id := range campaigns {
			res = append(res, send(c, context.Background(), ocs.NewGetCampaignStatus(target(id))))
			reqs = append(reqs, p.read(t))
		}
		refs := map[int32]bool{}
		for i, m := range reqs {
			if m.Has&ocs.AttrReferenceID == 0 || m.CampaignDBID != campaigns[i] {
				t.Fatalf("request %d on the wire: %+v", i, m)
			}
			refs[m.ReferenceID] = true
		}
		if len(refs) != len(reqs) {
			t.Fatalf("reference ids are not distinct: %v", refs)
		}
		// Answer the last first; each answer's status tells them apart.
		status := []ocs.GroupCampStatus{ocs.StatusInActive, ocs.StatusRunning, ocs.StatusWaitingUnload}
		for _, i := range []int{2, 0, 1} {
			p.write(t, ocs.NewAnswer(reqs[i], ocs.EvCampaignStatus).WithStatus(status[i]))
		}
		for i, ch := range res {
			r := <-ch
			if r.err != nil {
				t.Fatalf("request for %d: %v", campaigns[i], r.err)
			}
			if r.ans.ReferenceID != reqs[i].ReferenceID || r.ans.CampaignDBID != campaigns[i] || r.ans.GroupCampStatus != status[i] {
				t.Errorf("request for %d (reference %d) got the answer for %d (reference %d, %s)",
					campaigns[i], reqs[i].ReferenceID, r.ans.CampaignDBID, r.ans.ReferenceID, r.ans.GroupCampStatus)
			}
		}
		synctest.Wait()
		if n := len(c.Events()); n != 0 {
			t.Errorf("%d answers went to Events instead of their requests", n)
		}
	})
}

func TestAnOCSErrorAnswerIsReturnedAsOCSErrorWithTheAnswer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake()
		c, p := connect(t, f, bridge.Options{})
		defer c.Close()
		res := send(c, context.Background(), ocs.NewLoad(target(101), ocs.Pacing{DialMode: ocs.DialModeProgress}, nil))
		req := p.read(t)
		p.write(t, ocs.NewError(req, ocs.ErrCampaignAlreadyLoaded, "already"))
		r := <-res
		var oe *ocs.OCSError
		if !errors.As(r.err, &oe) || oe.Code != ocs.ErrCampaignAlreadyLoaded || oe.Request != ocs.ReqLoadCampaign || !oe.GoalReached() {
			t.Errorf("err = %v, want an *ocs.OCSError for the load with code %d", r.err, ocs.ErrCampaignAlreadyLoaded)
		}
		if r.ans.Type != ocs.EvError {
			t.Errorf("the CM_EvError itself is not returned beside the error: %+v", r.ans)
		}
	})
}

func TestAnInvalidRequestFailsWithoutBeingSent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake()
		c, p := connect(t, f, bridge.Options{})
		defer c.Close()
		bad := ocs.NewLoad(target(101), ocs.Pacing{DialMode: ocs.DialModeProgress}, nil)
		bad.Has &^= ocs.AttrGroup
		if _, err := c.Request(context.Background(), bad); !errors.Is(err, ocs.ErrInvalidRequest) {
			t.Errorf("err = %v, want ocs.ErrInvalidRequest", err)
		}
		// The next frame the server reads is the next valid request.
		res := send(c, context.Background(), ocs.NewGetCampaignStatus(target(102)))
		if m := p.read(t); m.Type != ocs.ReqGetCampaignStatus {
			t.Errorf("the server read %s first", m.Type)
		} else {
			p.write(t, ocs.NewAnswer(m, ocs.EvCampaignStatus))
		}
		if r := <-res; r.err != nil {
			t.Error(r.err)
		}
	})
}

func TestARequestWithoutAnAnswerTimesOutAfterRequestTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake()
		c, p := connect(t, f, bridge.Options{RequestTimeout: 3 * time.Second})
		defer c.Close()
		start := time.Now()
		res := send(c, context.Background(), ocs.NewGetCampaignStatus(target(101)))
		req := p.read(t) // and never answered in time
		r := <-res
		if !errors.Is(r.err, ocs.ErrTimeout) || !ocs.IsTransient(r.err) {
			t.Errorf("err = %v, want ocs.ErrTimeout", r.err)
		}
		if got := r.at.Sub(start); got != 3*time.Second {
			t.Errorf("gave up after %s, want the 3s RequestTimeout", got)
		}
		// The late answer matches no request any more: it is delivered as
		// an event, and the connection stays up.
		late := ocs.NewAnswer(req, ocs.EvCampaignStatus)
		p.write(t, late)
		synctest.Wait()
		select {
		case m := <-c.Events():
			if m.ReferenceID != req.ReferenceID || m.Type != ocs.EvCampaignStatus {
				t.Errorf("event %+v, want the late answer", m)
			}
		default:
			t.Error("the late answer was not delivered on Events")
		}
		if !c.Up() || len(f.dialTimes()) != 1 {
			t.Errorf("a timeout disturbed the connection (up %v, %d dials)", c.Up(), len(f.dialTimes()))
		}
	})
}

func TestTheCallersContextBoundsTheWaitForAnAnswer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake()
		c, p := connect(t, f, bridge.Options{RequestTimeout: time.Minute})
		defer c.Close()
		start := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		res := send(c, ctx, ocs.NewGetCampaignStatus(target(101)))
		p.read(t)
		r := <-res
		if !errors.Is(r.err, ocs.ErrTimeout) || r.at.Sub(start) != time.Second {
			t.Errorf("deadline: err %v after %s, want ocs.ErrTimeout after 1s", r.err, r.at.Sub(start))
		}
		ctx, cancel = context.WithCancel(context.Background())
		res = send(c, ctx, ocs.NewGetCampaignStatus(target(102)))
		p.read(t)
		cancel()
		if r := <-res; !errors.Is(r.err, context.Canceled) {
			t.Errorf("cancel: err %v, want context.Canceled", r.err)
		}
	})
}

func TestADroppedConnectionFailsPendingRequestsAndTheClientRedials(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake()
		opts := bridge.Options{BackoffMin: time.Second, BackoffMax: 10 * time.Second}
		c, p := connect(t, f, opts)
		defer c.Close()
		res := send(c, context.Background(), ocs.NewGetCampaignStatus(target(101)))
		p.read(t)
		drop := time.Now()
		p.Close()
		r := <-res
		if !errors.Is(r.err, ocs.ErrDisconnected) || !ocs.IsTransient(r.err) {
			t.Errorf("pending request: err = %v, want ocs.ErrDisconnected", r.err)
		}
		if r.at != drop {
			t.Errorf("the pending request failed %s after the drop, want at once", r.at.Sub(drop))
		}
		time.Sleep(opts.BackoffMin)
		synctest.Wait()
		dials := f.dialTimes()
		if len(dials) != 2 || !c.Up() {
			t.Fatalf("after the drop: %d dials, up %v; want a second dial and the link up", len(dials), c.Up())
		}
		// A dropped connection is redialled after BackoffMin, so a peer
		// that accepts and closes at once cannot make the client spin.
		if gap := dials[1].Sub(drop); gap != opts.BackoffMin {
			t.Errorf("redialled %s after the drop, want BackoffMin %s", gap, opts.BackoffMin)
		}
		p2 := f.accept(t)
		res = send(c, context.Background(), ocs.NewGetCampaignStatus(target(101)))
		req := p2.read(t)
		p2.write(t, ocs.NewAnswer(req, ocs.EvCampaignStatus).WithStatus(ocs.StatusRunning))
		if r := <-res; r.err != nil || r.ans.GroupCampStatus != ocs.StatusRunning {
			t.Errorf("request over the new connection: %v %+v", r.err, r.ans)
		}
	})
}

func TestFailedDialsBackOffExponentiallyUpToBackoffMaxAndTheBackoffResetsOnSuccess(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake()
		f.refuse = 5
		start := time.Now()
		c := bridge.New(f.dial, bridge.Options{BackoffMin: 100 * time.Millisecond, BackoffMax: 400 * time.Millisecond})
		defer c.Close()
		synctest.Wait()
		// While it cannot connect, a request fails at once.
		if _, err := c.Request(context.Background(), ocs.NewGetCampaignStatus(target(101))); !errors.Is(err, ocs.ErrDisconnected) {
			t.Errorf("request while down: %v, want ocs.ErrDisconnected", err)
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		wantAt := func(dials []time.Time, from time.Time, want ...time.Duration) {
			t.Helper()
			var got []time.Duration
			for _, d := range dials {
				got = append(got, d.Sub(from))
			}
			if len(got) != len(want) {
				t.Fatalf("dials at %v, want %v", got, want)
			}
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("dials at %v, want %v", got, want)
				}
			}
		}
		ms := time.Millisecond
		// Waits 100, 200, 400, 400 (capped), 400 ms; the sixth dial succeeds.
		wantAt(f.dialTimes(), start, 0, 100*ms, 300*ms, 700*ms, 1100*ms, 1500*ms)
		if !c.Up() {
			t.Fatal("not up after the sixth dial")
		}
		p := f.accept(t)
		// Drop it; the redial after BackoffMin fails once, and the wait
		// before the next is BackoffMin again (the backoff was reset).
		f.mu.Lock()
		f.refuse = 1
		f.mu.Unlock()
		drop := time.Now()
		p.Close()
		time.Sleep(time.Second)
		synctest.Wait()
		wantAt(f.dialTimes()[6:], drop, 100*ms, 200*ms)
		if !c.Up() {
			t.Error("not up again")
		}
	})
}

func TestUnsolicitedEventsAndUnmatchedAnswersArriveOnEvents(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake()
		c, p := connect(t, f, bridge.Options{})
		defer c.Close()
		status := ocs.NewStatus(ocs.Target{OriginAppDBID: 120, CampaignDBID: 101, GroupDBID: 732}, ocs.StatusRunning)
		stopped := ocs.NewNotice(ocs.EvDialingStopped, ocs.Target{OriginAppDBID: 120, CampaignDBID: 101, GroupDBID: 732}, ocs.StatusInActive)
		stray := ocs.NewAnswer(ocs.NewGetCampaignStatus(target(102)), ocs.EvCampaignStatus).WithReference(999)
		for _, m := range []ocs.Message{status, stopped, stray} {
			p.write(t, m)
		}
		synctest.Wait()
		want := []struct {
			t   ocs.MessageType
			cg  int32
			ref int32
		}{{ocs.EvCampaignStatus, 101, 0}, {ocs.EvDialingStopped, 101, 0}, {ocs.EvCampaignStatus, 102, 999}}
		if n := len(c.Events()); n != len(want) {
			t.Fatalf("%d events, want %d", n, len(want))
		}
		for i, w := range want {
			m := <-c.Events()
			if m.Type != w.t || m.CampaignDBID != w.cg || m.ReferenceID != w.ref {
				t.Errorf("event %d: %s %d ref %d, want %s %d ref %d", i, m.Type, m.CampaignDBID, m.ReferenceID, w.t, w.cg, w.ref)
			}
		}
	})
}

func TestAFullEventBufferDropsEventsButNotAnswers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake()
		c, p := connect(t, f, bridge.Options{EventBuffer: 2})
		defer c.Close()
		for _, id := range []int32{101, 102, 103, 104, 105} {
			p.write(t, ocs.NewStatus(ocs.Target{OriginAppDBID: 120, CampaignDBID: id, GroupDBID: 732}, ocs.StatusRunning))
		}
		res := send(c, context.Background(), ocs.NewGetCampaignStatus(target(101)))
		p.write(t, ocs.NewAnswer(p.read(t), ocs.EvCampaignStatus))
		if r := <-res; r.err != nil {
			t.Errorf("an answer behind a full event buffer: %v", r.err)
		}
		if n := len(c.Events()); n != 2 {
			t.Fatalf("%d events buffered, want the 2 the buffer holds", n)
		}
		for _, id := range []int32{101, 102} {
			if m := <-c.Events(); m.CampaignDBID != id {
				t.Errorf("kept the event for %d, want the oldest (%d)", m.CampaignDBID, id)
			}
		}
	})
}

func TestCloseClosesEventsAndLaterRequestsFailWithErrClosed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake()
		c, p := connect(t, f, bridge.Options{})
		res := send(c, context.Background(), ocs.NewGetCampaignStatus(target(101)))
		p.read(t)
		p.write(t, ocs.NewStatus(ocs.Target{OriginAppDBID: 120, CampaignDBID: 101, GroupDBID: 732}, ocs.StatusRunning))
		synctest.Wait()
		closedAt := time.Now()
		if err := c.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		// The request in flight fails at once with ErrClosed, which is
		// permanent: a caller must not retry a link it closed.
		r := <-res
		if !errors.Is(r.err, ocs.ErrClosed) || ocs.IsTransient(r.err) {
			t.Errorf("request in flight at Close: %v", r.err)
		}
		if r.at != closedAt {
			t.Errorf("the request in flight failed %s after Close", r.at.Sub(closedAt))
		}
		// The buffered event is still there, then the channel is closed.
		if m, ok := <-c.Events(); !ok || m.Type != ocs.EvCampaignStatus {
			t.Errorf("first read after Close: %+v %v, want the buffered event", m, ok)
		}
		if _, ok := <-c.Events(); ok {
			t.Error("Events is not closed after Close")
		}
		if _, err := c.Request(context.Background(), ocs.NewGetCampaignStatus(target(101))); !errors.Is(err, ocs.ErrClosed) || ocs.IsTransient(err) {
			t.Errorf("request after Close: %v, want ocs.ErrClosed", err)
		}
		if c.Up() {
			t.Error("Up after Close")
		}
		if err := c.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
		if _, err := p.Read(make([]byte, 1)); err == nil {
			t.Error("the server end is still open after Close")
		}
	})
}

func TestCloseStopsAClientThatIsBackingOff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake()
		f.refuse = 1 << 30
		c := bridge.New(f.dial, bridge.Options{BackoffMin: time.Minute})
		synctest.Wait()
		start := time.Now()
		c.Close()
		if d := time.Since(start); d != 0 {
			t.Errorf("Close waited %s for the backoff", d)
		}
		if n := len(f.dialTimes()); n != 1 {
			t.Errorf("%d dials, want 1", n)
		}
		if _, ok := <-c.Events(); ok {
			t.Error("Events is not closed")
		}
	})
}

func TestSendAsyncCallsBackOncePerRequestWithItsAnswerItsTimeoutOrTheLostConnection(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake()
		c, p := connect(t, f, bridge.Options{RequestTimeout: 3 * time.Second})
		defer c.Close()
		type call struct {
			ans ocs.Message
			err error
			at  time.Duration
		}
		var mu sync.Mutex
		calls := map[int][]call{}
		start := time.Now()
		done := func(i int, ans ocs.Message, err error) {
			mu.Lock()
			calls[i] = append(calls[i], call{ans, err, time.Since(start)})
			mu.Unlock()
		}
		// Three requests in one write: the first is answered, the second
		// never, the third is invalid and never leaves.
		bad := ocs.NewGetCampaignStatus(target(103))
		bad.Type = ocs.EvCampaignStatus
		// (From a goroutine: net.Pipe's write waits for the reader.)
		go c.SendAsync([]ocs.Message{ocs.NewGetCampaignStatus(target(101)), ocs.NewGetCampaignStatus(target(102)), bad}, 0, done)
		first, second := p.read(t), p.read(t)
		if first.CampaignDBID != 101 || second.CampaignDBID != 102 {
			t.Fatalf("requests left as %d, %d; want 101, 102 in order", first.CampaignDBID, second.CampaignDBID)
		}
		p.write(t, ocs.NewAnswer(first, ocs.EvCampaignStatus))
		time.Sleep(5 * time.Second)
		synctest.Wait()
		// A fourth is in flight when the connection drops.
		go c.SendAsync([]ocs.Message{ocs.NewGetCampaignStatus(target(104))}, 0, func(_ int, ans ocs.Message, err error) { done(3, ans, err) })
		p.read(t)
		p.Close()
		synctest.Wait()
		mu.Lock()
		defer mu.Unlock()
		for i := range 4 {
			if len(calls[i]) != 1 {
				t.Fatalf("request %d called back %d times, want once: %+v", i, len(calls[i]), calls[i])
			}
		}
		if calls[0][0].err != nil || calls[0][0].ans.Type != ocs.EvCampaignStatus {
			t.Errorf("answered request: %+v", calls[0][0])
		}
		if !errors.Is(calls[1][0].err, ocs.ErrTimeout) || calls[1][0].at != 3*time.Second {
			t.Errorf("unanswered request: %v after %s, want a timeout after 3s", calls[1][0].err, calls[1][0].at)
		}
		if !errors.Is(calls[2][0].err, ocs.ErrInvalidRequest) {
			t.Errorf("invalid request: %v, want ErrInvalidRequest", calls[2][0].err)
		}
		if !errors.Is(calls[3][0].err, ocs.ErrDisconnected) {
			t.Errorf("request on a lost connection: %v, want ErrDisconnected", calls[3][0].err)
		}
	})
}
