package main

import (
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sequencer-dev/sequencer/reconcile"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestTheDaemonRunsASequenceThroughOCSsHTTPInterface points `sequencer run
// --ocs http://…` at `sequencer ocs-sim --http`, with the simulator POSTing
// campaign-group states back to the daemon, and waits for a two-item
// sequence stopped by contacts and by dials to complete.
func TestTheDaemonRunsASequenceThroughOCSsHTTPInterface(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a daemon and a simulator")
	}
	dir := t.TempDir()
	specDir := filepath.Join(dir, "specs")
	os.Mkdir(specDir, 0o755)
	os.WriteFile(filepath.Join(specDir, "http.yaml"), []byte(`apiVersion: sequencer/v1
kind: CampaignSequence
metadata: {name: over-http}
spec:
  items:
    - {name: first, campaignDBID: 101, groupDBID: 732, dialMode: progressive, stopAt: {contacts: 6}}
    - {name: second, campaignDBID: 102, groupDBID: 732, dialMode: progressive, stopAt: {dials: 40}}
`), 0o644)
	groups := filepath.Join(dir, "groups.json")
	os.WriteFile(groups, []byte(`{"campaignGroups":[{"dbid":5101,"campaignDBID":101,"groupDBID":732},{"dbid":5102,"campaignDBID":102,"groupDBID":732}]}`), 0o644)
	simTCP, simHTTP, states := freeAddr(t), freeAddr(t), freeAddr(t)

	background(t, "ocs-sim", "--listen", simTCP, "--http", simHTTP, "--dials-per-second", "40",
		"--states-uri", "http://"+states+"/ocs-states", "--states-interval", "1s", "--log-format", "json")
	url := startDaemon(t, "--specs", specDir, "--data", filepath.Join(dir, "data"),
		"--ocs", "http://"+simHTTP, "--ocs-campaign-groups", groups, "--ocs-states-listen", states, "--ocs-counters")
	var st reconcile.SequenceStatus
	waitFor(t, "the sequence to complete over HTTP", func() bool {
		code, out, _ := runCmd(t, "status", "over-http", "--server", url, "--format", "json")
		if code != 0 || json.Unmarshal([]byte(out), &st) != nil {
			return false
		}
		return st.Phase == reconcile.PhaseCompleted
	})
	code, out, _ := runCmd(t, "history", "over-http", "--server", url, "--since", "1h", "--format", "json")
	if code != 0 {
		t.Fatalf("history exit %d", code)
	}
	for _, want := range []string{`"first"`, `"second"`, "contacts", "dials"} {
		if !strings.Contains(out, want) {
			t.Errorf("history lacks %s:\n%s", want, out)
		}
	}
}
