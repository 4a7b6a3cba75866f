package main

import (
	"net/http"
	"path/filepath"
	"testing"
)

// A daemon reached by a DNS or Service name answers to the names it is
// told (--allowed-host), and still refuses any other (DNS rebinding).
func TestTheAPIAnswersToAnAllowedHostNameAndRefusesOthers(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a daemon")
	}
	dir := t.TempDir()
	url := startDaemon(t, "--specs", "../../examples", "--data", filepath.Join(dir, "data"), "--allowed-host", "sequencer.example")
	for host, want := range map[string]int{"sequencer.example": http.StatusOK, "evil.example": http.StatusMisdirectedRequest} {
		req, _ := http.NewRequest("GET", url+"/api/v1/sequences", nil)
		req.Host = host
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("Host %s: %d, want %d", host, resp.StatusCode, want)
		}
	}
}
