package main

import (
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sequencer-dev/sequencer/ocs"
	"github.com/sequencer-dev/sequencer/ocs/bridge"
	"github.com/sequencer-dev/sequencer/ocs/ocssim"
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

func TestOCSSimWithTheSeedProfileSendsNoCountersAndRefusesAnUnknownProfile(t *testing.T) {
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"ocs-sim", "--listen", addr, "--profile", "seed"}, io.Discard, io.Discard)
	}()
	c := bridge.Dial(addr, bridge.Options{BackoffMin: 20 * time.Millisecond})
	defer c.Close()
	deadline := time.Now().Add(5 * time.Second)
	for !c.Up() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	ans, err := c.Request(context.Background(), ocs.NewGetCampaignStatus(ocs.Target{OriginAppDBID: 310, TargetAppDBID: 120, CampaignDBID: 101, GroupDBID: 732}))
	if err != nil || ans.Type != ocs.EvCampaignStatus {
		t.Fatalf("status over TCP: %v %v", ans.Type, err)
	}
	if _, has := ans.Stats(); has {
		t.Error("--profile seed: the status answer carries counters")
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("ocs-sim: %v", err)
	}
	var stderr strings.Builder
	err = run(context.Background(), []string{"ocs-sim", "--listen", freeAddr(t), "--profile", "strict"}, io.Discard, &stderr)
	if err == nil || !strings.Contains(err.Error()+stderr.String(), `profile "strict": want seed or full`) {
		t.Errorf("--profile strict: %v %s", err, stderr.String())
	}
}

func TestOCSSimRunsSeveralOCSOnOneDNAndAppliesFaultsFromTheCommandLine(t *testing.T) {
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"ocs-sim", "--listen", addr, "--instances", "3", "--delay-answers", "300ms"}, io.Discard, io.Discard)
	}()
	c := bridge.Dial(addr, bridge.Options{BackoffMin: 20 * time.Millisecond})
	defer c.Close()
	deadline := time.Now().Add(5 * time.Second)
	for !c.Up() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	start := time.Now()
	ans, err := c.Collect(context.Background(), ocs.NewDoNotCall(310, 0, ocs.Record{Phone: "+15550000001"}),
		ocs.CollectOptions{Window: 3 * time.Second, Expect: []int32{120, 121, 122}})
	if err != nil || len(ans) != 3 {
		t.Fatalf("DNC to every OCS: %d answers, %v", len(ans), err)
	}
	if took := time.Since(start); took < 300*time.Millisecond {
		t.Errorf("answers came after %s, want the 300 ms --delay-answers", took)
	}
	apps := map[int32]bool{}
	for _, a := range ans {
		apps[a.OriginAppDBID] = true
	}
	if !apps[120] || !apps[121] || !apps[122] {
		t.Errorf("answers from %v, want 120, 121 and 122", apps)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("ocs-sim: %v", err)
	}
}

func TestOCSSimReadsItsConfigurationFromYAMLOrJSONAndRejectsUnknownFields(t *testing.T) {
	dir := t.TempDir()
	yml := filepath.Join(dir, "sim.yaml")
	os.WriteFile(yml, []byte(`
appDBID: 130
campaigns: [{dbid: 201, name: Winback}]
groups: [{dbid: 801, name: Night Team}]
campaignGroups:
  - {dbid: 9201, campaignDBID: 201, groupDBID: 801, records: 42}
drainTime: 1s
`), 0o644)
	cfg, err := loadSimConfig(yml)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.AppDBID != 130 || len(cfg.CampaignGroups) != 1 || cfg.CampaignGroups[0].Records != 42 || time.Duration(cfg.DrainTime) != time.Second {
		t.Errorf("YAML config read as %+v", cfg)
	}
	if cfg.Rates.Progressive != ocssim.Default().Rates.Progressive {
		t.Errorf("fields left out should keep the defaults: rates %+v", cfg.Rates)
	}
	js := filepath.Join(dir, "sim.json")
	os.WriteFile(js, []byte(`{"appDBID":130,"recrods":5}`), 0o644)
	if _, err := loadSimConfig(js); err == nil || !strings.Contains(err.Error(), `unknown field "recrods"`) {
		t.Errorf("a misspelt field: %v", err)
	}
	bad := filepath.Join(dir, "bad.yml")
	os.WriteFile(bad, []byte("appDBID: [1\n"), 0o644)
	if _, err := loadSimConfig(bad); err == nil || !strings.Contains(err.Error(), "bad.yml") || !strings.Contains(err.Error(), "line") {
		t.Errorf("broken YAML: %v", err)
	}
}
