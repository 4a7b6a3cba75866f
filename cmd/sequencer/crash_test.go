package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sequencer-dev/sequencer/ocs"
	"github.com/sequencer-dev/sequencer/ocs/ocssim"
)

// TestHelperDaemon is not a test: it is the daemon process of the crash
// test, started by re-executing the test binary.
func TestHelperDaemon(t *testing.T) {
	args := os.Getenv("SEQUENCER_CRASH_CHILD")
	if args == "" {
		t.Skip("helper process")
	}
	code := exitCode(run(context.Background(), strings.Split(args, "\x1f"), os.Stdout, os.Stderr), os.Stderr)
	os.Exit(code)
}

// TestADaemonKilledAtRandomMomentsStartsEveryItemExactlyOnce kills
// `sequencer run` with SIGKILL again and again during a three-item
// sequence against the simulator over TCP, restarting it each time; the
// simulator's transcript must show each item loaded and started once and
// stopped by its own condition.
func TestADaemonKilledAtRandomMomentsStartsEveryItemExactlyOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("kills real processes for ~20 s")
	}
	cfg := ocssim.Default()
	for i := range cfg.CampaignGroups {
		cfg.CampaignGroups[i].Records = 1_000_000
	}
	sim := ocssim.New(cfg)
	defer sim.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go sim.Serve(c)
		}
	}()
	dir := t.TempDir()
	specDir := filepath.Join(dir, "specs")
	os.Mkdir(specDir, 0o755)
	os.WriteFile(filepath.Join(specDir, "night.yaml"), []byte(`apiVersion: sequencer/v1
kind: CampaignSequence
metadata: {name: night}
spec:
  items:
    - {name: one,   campaignDBID: 101, groupDBID: 732, dialMode: predictive,  stopAt: {time: "+3s"}}
    - {name: two,   campaignDBID: 102, groupDBID: 732, dialMode: progressive, stopAt: {dials: 15}, sleepBeforeNextStart: 1s}
    - {name: three, campaignDBID: 103, groupDBID: 732, dialMode: progressive, stopAt: {time: "+2s"}, sleepBeforeNextStart: 1s}
`), 0o644)
	args := strings.Join([]string{"run", "--specs", specDir, "--data", filepath.Join(dir, "data"),
		"--ocs", "bridge://" + ln.Addr().String(), "--ocs-counters", "--listen", "", "--log-format", "json"}, "\x1f")

	done := func() bool {
		for _, r := range sim.Transcript() {
			if r.Msg.Type == ocs.ReqUnloadCampaign && r.Msg.CampaignDBID == 103 {
				return true
			}
		}
		return false
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("kill timing seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 7))
	kills := 0
	deadline := time.Now().Add(90 * time.Second)
	for !done() && time.Now().Before(deadline) {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperDaemon$")
		cmd.Env = append(os.Environ(), "SEQUENCER_CRASH_CHILD="+args)
		logf, _ := os.Create(filepath.Join(dir, fmt.Sprintf("daemon-%02d.log", kills)))
		cmd.Stdout, cmd.Stderr = logf, logf
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		wait := time.Duration(150+rng.IntN(1200)) * time.Millisecond
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		select {
		case <-time.After(wait):
			cmd.Process.Signal(syscall.SIGKILL)
			<-exited
			kills++
		case err := <-exited:
			logf.Close()
			b, _ := os.ReadFile(logf.Name())
			t.Fatalf("daemon exited by itself: %v\n%s", err, b)
		}
		logf.Close()
	}
	// One last daemon finishes the run if the kills left it mid-way.
	if !done() {
		t.Fatalf("the sequence did not finish within 90 s and %d kills", kills)
	}
	if kills < 10 {
		t.Errorf("only %d kills: the test did not exercise restarts", kills)
	}
	count := map[string]int{}
	for _, r := range sim.Transcript() {
		switch r.Msg.Type {
		case ocs.ReqLoadCampaign, ocs.ReqStartDialing:
			count[fmt.Sprintf("%s %d", r.Msg.Type, r.Msg.CampaignDBID)]++
		}
	}
	for _, c := range []int32{101, 102, 103} {
		for _, typ := range []ocs.MessageType{ocs.ReqLoadCampaign, ocs.ReqStartDialing} {
			if n := count[fmt.Sprintf("%s %d", typ, c)]; n != 1 {
				t.Errorf("%s for campaign %d sent %d times, want exactly 1 (after %d kills)", typ, c, n, kills)
			}
		}
	}
	if _, st := sim.Stats(102, 732); st.Dials < 15 {
		t.Errorf("item two stopped at %d dials, before its stopAt of 15", st.Dials)
	}
	t.Logf("%d SIGKILLs; transcript requests: %v", kills, count)
}
