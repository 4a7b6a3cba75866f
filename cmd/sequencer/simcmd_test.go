package main

import (
	"context"
	"io"
	"net"
	"testing"
	"time"

	"github.com/sequencer-dev/sequencer/ocs"
	"github.com/sequencer-dev/sequencer/ocs/bridge"
)

func TestOCSSimServesTheBridgeOnTCPAndStopsOnCancel(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"ocs-sim", "--listen", addr, "--records", "10"}, io.Discard, io.Discard)
	}()
	c := bridge.Dial(addr, bridge.Options{BackoffMin: 20 * time.Millisecond})
	defer c.Close()
	deadline := time.Now().Add(5 * time.Second)
	for !c.Up() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	ans, err := c.Request(context.Background(), ocs.NewLoad(ocs.Target{OriginAppDBID: 310, TargetAppDBID: 120, CampaignDBID: 101, GroupDBID: 732},
		ocs.Pacing{DialMode: ocs.DialModeProgress}, nil))
	if err != nil || ans.Type != ocs.EvCampaignLoaded {
		t.Fatalf("load over TCP: %v %v", ans.Type, err)
	}
	if st, ok := ans.Stats(); !ok || st.RecordsLeft != 10 {
		t.Errorf("--records not applied: %+v", st)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("ocs-sim: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Error("ocs-sim did not stop on cancel")
	}
}
