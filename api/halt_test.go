package api

import (
	"net/http"
	"strings"
	"testing"
)

func TestTheHaltEndpointsHaltAndLiftDialingAndShowItInReadyzAndMetrics(t *testing.T) {
	ts, rec, _ := newTestServer(t, "")
	if code, body := call(t, "POST", ts.URL+"/api/v1/halt", "", `{}`); code != http.StatusBadRequest || !strings.Contains(body, "reason") {
		t.Errorf("halt without a reason: %d %s", code, body)
	}
	code, body := call(t, "POST", ts.URL+"/api/v1/halt", "", `{"reason":"regulator call","by":"alice"}`)
	if code != http.StatusOK || !strings.Contains(body, `"halted": true`) || !strings.Contains(body, `"reason": "regulator call"`) {
		t.Fatalf("halt: %d %s", code, body)
	}
	if len(rec.calls) != 1 || rec.calls[0] != "halt by=alice why=regulator call" {
		t.Errorf("calls %q", rec.calls)
	}
	if _, body := call(t, "GET", ts.URL+"/readyz", "", ""); !strings.Contains(body, `"halt"`) || !strings.Contains(body, "regulator call") {
		t.Errorf("readyz does not show the halt: %s", body)
	}
	if _, body := call(t, "GET", ts.URL+"/metrics", "", ""); !strings.Contains(body, "sequencer_halted 1") {
		t.Errorf("metrics lack sequencer_halted 1")
	}
	if code, body := call(t, "DELETE", ts.URL+"/api/v1/halt", "", `{"by":"alice"}`); code != http.StatusOK || !strings.Contains(body, `"halted": false`) {
		t.Errorf("unhalt: %d %s", code, body)
	}
	if _, body := call(t, "GET", ts.URL+"/metrics", "", ""); !strings.Contains(body, "sequencer_halted 0") {
		t.Errorf("metrics lack sequencer_halted 0 after unhalt")
	}
}
