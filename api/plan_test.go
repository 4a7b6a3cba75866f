package api

import (
	"net/http"
	"strings"
	"testing"
)

func TestThePlanEndpointAnswersTheRunsETAAndPassesTheUnloadAssumption(t *testing.T) {
	ts, rec, _ := newTestServer(t, "")
	code, body := call(t, http.MethodGet, ts.URL+"/api/v1/sequences/nightly/plan?unload-time=0s", "", "")
	if code != http.StatusOK {
		t.Fatalf("%d %s", code, body)
	}
	for _, want := range []string{`"end": "2026-11-24T21:30:00Z"`, `"endEstimate": true`, `"action": "sequence-end"`, `"estimate": true`} {
		if !strings.Contains(body, want) {
			t.Errorf("body lacks %s:\n%s", want, body)
		}
	}
	if got := strings.Join(rec.calls, ";"); got != "eta nightly unload=0s" {
		t.Errorf("calls %q", got)
	}
}

func TestThePlanEndpointRefusesAnUnknownSequenceAndABadUnloadTime(t *testing.T) {
	ts, _, _ := newTestServer(t, "")
	if code, body := call(t, http.MethodGet, ts.URL+"/api/v1/sequences/nope/plan", "", ""); code != http.StatusNotFound || !strings.Contains(body, "sequence_not_found") {
		t.Errorf("unknown: %d %s", code, body)
	}
	if code, body := call(t, http.MethodGet, ts.URL+"/api/v1/sequences/nightly/plan?unload-time=soon", "", ""); code != http.StatusBadRequest || !strings.Contains(body, "unload-time") {
		t.Errorf("bad unload-time: %d %s", code, body)
	}
}
