package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sequencer-dev/sequencer/reconcile"
)

// TestTheDaemonServesStatusSuspendResumeAndHistoryOnRealPorts runs
// `sequencer run` on the embedded simulator with a real listener and drives
// it with the CLI clients, as an operator would.
func TestTheDaemonServesStatusSuspendResumeAndHistoryOnRealPorts(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a daemon")
	}
	dir := t.TempDir()
	specDir := longSpecDir(t, dir)
	url := startDaemon(t, "--specs", specDir, "--data", filepath.Join(dir, "data"))
	status := func() reconcile.SequenceStatus {
		code, out, errs := runCmd(t, "status", "long", "--server", url, "--format", "json")
		if code != 0 {
			t.Fatalf("status exit %d: %s", code, errs)
		}
		var st reconcile.SequenceStatus
		if err := json.Unmarshal([]byte(out), &st); err != nil {
			t.Fatalf("status json: %v: %s", err, out)
		}
		return st
	}
	waitFor(t, "the sequence to appear", func() bool {
		code, _, _ := runCmd(t, "status", "long", "--server", url, "--format", "json")
		return code == 0
	})
	waitFor(t, "the item to dial", func() bool { return status().ItemState == "dialing" })

	if code, out, errs := runCmd(t, "suspend", "long", "--server", url, "--reason", "list audit"); code != 0 || !strings.Contains(out, "long: suspended") {
		t.Fatalf("suspend: %d %s %s", code, out, errs)
	}
	waitFor(t, "the item to pause", func() bool {
		st := status()
		return st.Phase == reconcile.PhaseSuspended && st.ItemState == "paused"
	})
	if code, out, errs := runCmd(t, "resume", "long", "--server", url); code != 0 {
		t.Fatalf("resume: %d %s %s", code, out, errs)
	}
	waitFor(t, "the item to dial again", func() bool { return status().ItemState == "dialing" })
	// A bodiless state change still goes out as JSON, which the API demands.
	if code, out, errs := runCmd(t, "reconcile", "long", "--server", url); code != 0 {
		t.Fatalf("reconcile: %d %s %s", code, out, errs)
	}
	// The halt switch: every sequence stops dialing, status says so, and
	// unhalt lets them dial again.
	if code, out, errs := runCmd(t, "halt", "--server", url); code != 2 {
		t.Errorf("halt without --reason: exit %d %s %s, want a usage error", code, out, errs)
	}
	if code, out, errs := runCmd(t, "halt", "--reason", "regulator call", "--server", url); code != 0 || !strings.Contains(out, "dialing halted by") {
		t.Fatalf("halt: %d %s %s", code, out, errs)
	}
	waitFor(t, "the halt to pause the item", func() bool { return status().ItemState == "paused" })
	if _, out, _ := runCmd(t, "status", "--server", url); !strings.Contains(out, "DIALING HALTED") || !strings.Contains(out, "regulator call") {
		t.Errorf("status does not show the halt:\n%s", out)
	}
	if code, out, errs := runCmd(t, "unhalt", "--server", url); code != 0 || !strings.Contains(out, "halt lifted") {
		t.Fatalf("unhalt: %d %s %s", code, out, errs)
	}
	waitFor(t, "the item to dial after unhalt", func() bool { return status().ItemState == "dialing" })

	// History is written off the loop, a moment after the status changes.
	waitFor(t, "the history to record the unhalt", func() bool {
		_, o, _ := runCmd(t, "history", "long", "--server", url, "--since", "1h")
		return strings.Contains(o, "halt lifted by")
	})
	code, out, errs := runCmd(t, "history", "long", "--server", url, "--since", "1h")
	if code != 0 {
		t.Fatalf("history: %d %s", code, errs)
	}
	for _, want := range []string{"run started", "suspended by", "paused: suspended", "resumed by", "dialing halted by", "halt lifted by"} {
		if !strings.Contains(out, want) {
			t.Errorf("history lacks %q:\n%s", want, out)
		}
	}
	if code, _, errs := runCmd(t, "status", "nope", "--server", url); code != 1 || !strings.Contains(errs, "sequence_not_found") {
		t.Errorf("unknown sequence: exit %d %s", code, errs)
	}
	code, out, _ = runCmd(t, "status", "--server", url)
	if code != 0 || !strings.Contains(out, "NAME") || !strings.Contains(out, "long") {
		t.Errorf("status table: %d\n%s", code, out)
	}
	for _, line := range strings.Split(out, "\n") {
		if len([]rune(line)) > 80 {
			t.Errorf("status line wider than 80 columns: %q", line)
		}
	}
}

// startDaemon runs `sequencer run` with args on a free loopback port until
// the test ends, waits until it is ready, and returns its API URL.
func startDaemon(t *testing.T, args ...string) string {
	url, _ := startStoppableDaemon(t, args...)
	return url
}

// startStoppableDaemon is startDaemon that can also be stopped before the
// test ends (to start another on the same data directory).
func startStoppableDaemon(t *testing.T, args ...string) (url string, stop func()) {
	t.Helper()
	addr := freeAddr(t)
	stop = background(t, append([]string{"run", "--listen", addr, "--log-format", "json"}, args...)...)
	url = "http://" + addr
	waitFor(t, "the daemon to be ready", func() bool {
		resp, err := http.Get(url + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	return url, stop
}

// background runs a command until the test ends or stop is called; it
// must then stop cleanly within 10 s of its context being cancelled.
func background(t *testing.T, args ...string) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, args, io.Discard, io.Discard) }()
	stop = sync.OnceFunc(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("%s: %v", args[0], err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("%s did not stop within 10 s of cancel", args[0])
		}
	})
	t.Cleanup(stop)
	return stop
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if ok() {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

// longSpec is one sequence, "long", whose only item dials for an hour:
// long enough for a test to act on it while it runs.
const longSpec = `apiVersion: sequencer/v1
kind: CampaignSequence
metadata: {name: long}
spec:
  items:
    - {name: only, campaignDBID: 101, groupDBID: 732, dialMode: progressive, stopAt: {time: "+1h"}}
`

// longSpecDir writes longSpec into dir/specs and returns that directory.
func longSpecDir(t *testing.T, dir string) string {
	t.Helper()
	specDir := filepath.Join(dir, "specs")
	if err := os.Mkdir(specDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(specDir, "long.yaml"), []byte(longSpec), 0o644); err != nil {
		t.Fatal(err)
	}
	return specDir
}
