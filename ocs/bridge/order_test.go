package bridge_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sequencer-dev/sequencer/ocs"
	"github.com/sequencer-dev/sequencer/ocs/bridge"
)

// The answer to a status poll and the unsolicited events OCS sends right
// behind it leave the client by two paths; their stamps keep wire order,
// which is what lets the loop drop the stale "Running" of an auto-completion.
func TestAnAnswerAndTheEventsBehindItCarryStampsInWireOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake()
		c, p := connect(t, f, bridge.Options{})
		defer c.Close()
		res := send(c, context.Background(), ocs.NewGetCampaignStatus(target(101)))
		req := p.read(t)
		tg := ocs.Target{OriginAppDBID: 120, CampaignDBID: 101, GroupDBID: 732}
		// One write: the answer and both notices in the same read.
		p.write(t, ocs.NewAnswer(req, ocs.EvCampaignStatus).WithStatus(ocs.StatusRunning))
		p.write(t, ocs.NewNotice(ocs.EvDialingStopped, tg, ocs.StatusInActive))
		p.write(t, ocs.NewNotice(ocs.EvCampaignUnloaded, tg, ocs.StatusNotLoaded))
		r := <-res
		if r.err != nil {
			t.Fatal(r.err)
		}
		synctest.Wait()
		stopped, unloaded := <-c.Events(), <-c.Events()
		if !(r.ans.Recv < stopped.Recv && stopped.Recv < unloaded.Recv) {
			t.Errorf("stamps answer %d, stopped %d, unloaded %d: want strictly increasing in wire order", r.ans.Recv, stopped.Recv, unloaded.Recv)
		}
	})
}

// OCS says nothing when it restarts; the client's notices are the only
// hint the loop gets, in order with everything else.
func TestALostConnectionIsAnnouncedByLinkDownAndTheReconnectByLinkUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake()
		c, p := connect(t, f, bridge.Options{})
		defer c.Close()
		p.Close()
		synctest.Wait()
		down := <-c.Events()
		if down.Type != ocs.LinkDown {
			t.Fatalf("after the drop: %s, want LinkDown", down.Type)
		}
		time.Sleep(time.Second) // past the reconnect backoff
		synctest.Wait()
		f.accept(t)
		up := <-c.Events()
		if up.Type != ocs.LinkUp || up.Recv <= down.Recv {
			t.Errorf("after the reconnect: %s stamp %d (LinkDown had %d), want a later LinkUp", up.Type, up.Recv, down.Recv)
		}
	})
}

func TestAnAnswerOfTheWrongTypeIsAProtocolErrorNotSuccess(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake()
		c, p := connect(t, f, bridge.Options{})
		defer c.Close()
		res := send(c, context.Background(), ocs.NewStartDialing(target(101), ocs.Pacing{DialMode: ocs.DialModeProgress}, nil))
		p.write(t, ocs.NewAnswer(p.read(t), ocs.EvCampaignLoaded))
		r := <-res
		if !errors.Is(r.err, ocs.ErrProtocol) {
			t.Errorf("StartDialing answered by EvCampaignLoaded: err = %v, want ocs.ErrProtocol", r.err)
		}
	})
}

// OCS may send the events it computed after an answer before the answer
// itself; the answer then says when its request left, so the loop can tell
// that those events may be newer although they were received first.
func TestAnAnswerSaysWhichStampsItsRequestWasInFlightFor(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake()
		c, p := connect(t, f, bridge.Options{})
		defer c.Close()
		res := send(c, context.Background(), ocs.NewGetCampaignStatus(target(101)))
		req := p.read(t)
		tg := ocs.Target{OriginAppDBID: 120, CampaignDBID: 101, GroupDBID: 732}
		p.write(t, ocs.NewNotice(ocs.EvCampaignUnloaded, tg, ocs.StatusNotLoaded))
		p.write(t, ocs.NewAnswer(req, ocs.EvCampaignStatus).WithStatus(ocs.StatusRunning))
		r := <-res
		synctest.Wait()
		unloaded := <-c.Events()
		if r.err != nil || r.ans.After == 0 || unloaded.Recv < r.ans.After || r.ans.Recv <= unloaded.Recv {
			t.Errorf("answer stamp %d after %d, event stamp %d: want the event inside the answer's flight window", r.ans.Recv, r.ans.After, unloaded.Recv)
		}
	})
}
