package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDoNotCallAndCancelRecordWorkThroughTheDaemon runs `sequencer run` on
// the embedded simulator with a DoNotCallList spec, then adds a number and
// cancels a record with the CLI, as a supervisor would.
func TestDoNotCallAndCancelRecordWorkThroughTheDaemon(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a daemon")
	}
	dir := t.TempDir()
	specDir := filepath.Join(dir, "specs")
	os.Mkdir(specDir, 0o755)
	os.WriteFile(filepath.Join(specDir, "dnc.yaml"), []byte(`apiVersion: sequencer/v1
kind: DoNotCallList
metadata: {name: complaints}
spec:
  targetAppDBID: 120
  entries:
    - {phone: "+15550000001", reason: asked on an inbound call, date: 2026-11-30}
    - {customerID: C0000042}
`), 0o644)
	url := startDaemon(t, "--specs", specDir, "--data", filepath.Join(dir, "data"))
	waitFor(t, "the DNC list to be processed", func() bool {
		code, out, _ := runCmd(t, "dnc", "lists", "--server", url)
		return code == 0 && strings.Contains(out, "complaints  120     2        2          0        0       0")
	})

	code, out, errs := runCmd(t, "dnc", "add", "--phone", "+15550000009", "--target-app", "120", "--server", url)
	if code != 0 || strings.TrimSpace(out) != "OCS 120: done" {
		t.Errorf("dnc add: exit %d, out %q, err %q", code, out, errs)
	}
	code, out, errs = runCmd(t, "cancel-record", "--phone", "+15550000010", "--campaign", "Retries", "--target-app", "120", "--server", url)
	if code != 1 || !strings.Contains(out, "OCS 120: error 3") || !strings.Contains(errs, "not every OCS processed the request") {
		t.Errorf("cancel in a campaign that is not loaded: exit %d, out %q, err %q", code, out, errs)
	}
	code, _, errs = runCmd(t, "dnc", "add", "--phone", "555 0101", "--server", url)
	if code != 1 || !strings.Contains(errs, "is not a phone number") {
		t.Errorf("malformed phone: exit %d, err %q", code, errs)
	}
	code, _, errs = runCmd(t, "cancel-record", "--customer-id", "C1", "--server", url)
	if code != 2 || !strings.Contains(errs, "--phone is required") {
		t.Errorf("cancel without a phone: exit %d, err %q", code, errs)
	}
	// An OCS that never answers: the hint names the connection rule.
	code, out, _ = runCmd(t, "dnc", "add", "--phone", "+15550000011", "--target-app", "999", "--server", url)
	if code != 1 || !strings.Contains(out, "no answer from OCS 999 within 5s: is application 310 on its Connections tab?") {
		t.Errorf("unanswered: exit %d, out %q", code, out)
	}
}
