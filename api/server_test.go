package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/sequencer-dev/sequencer/reconcile"
	"github.com/sequencer-dev/sequencer/schedule"
	"github.com/sequencer-dev/sequencer/store"
)

// fakeRec records the commands it is given.
type fakeRec struct {
	seqs  map[string]reconcile.SequenceStatus
	calls []string
	err   error
	halt  reconcile.HaltStatus
	// groups replaces the one default campaign group when set.
	groups []reconcile.GroupObservation
}

func (f *fakeRec) Sequences() []reconcile.SequenceStatus {
	var out []reconcile.SequenceStatus
	for _, s := range f.seqs {
		out = append(out, s)
	}
	return out
}
func (f *fakeRec) Sequence(n string) (reconcile.SequenceStatus, bool) {
	s, ok := f.seqs[n]
	return s, ok
}
func (f *fakeRec) Groups() []reconcile.GroupObservation {
	if f.groups != nil {
		return f.groups
	}
	return []reconcile.GroupObservation{{CampaignDBID: 101, GroupDBID: 732, Status: "CM_GCS_Running", Dials: 10}}
}
func (f *fakeRec) check(name string) error {
	if f.err != nil {
		return f.err
	}
	if _, ok := f.seqs[name]; !ok {
		return fmt.Errorf("%q: %w", name, reconcile.ErrUnknownSequence)
	}
	return nil
}
func (f *fakeRec) Suspend(_ context.Context, name, who, why string, until time.Time) error {
	f.calls = append(f.calls, fmt.Sprintf("suspend %s by=%s why=%s until=%s", name, who, why, until.Format(time.RFC3339)))
	return f.check(name)
}
func (f *fakeRec) Resume(_ context.Context, name, who, why string) error {
	f.calls = append(f.calls, fmt.Sprintf("resume %s by=%s why=%s", name, who, why))
	return f.check(name)
}
func (f *fakeRec) ReconcileNow(_ context.Context, name string) error {
	f.calls = append(f.calls, "reconcile "+name)
	return f.check(name)
}
func (f *fakeRec) QueueDepth() int { return 3 }
func (f *fakeRec) Halt(_ context.Context, who, reason string) error {
	f.calls = append(f.calls, fmt.Sprintf("halt by=%s why=%s", who, reason))
	f.halt = reconcile.HaltStatus{Halted: true, Reason: reason, Who: who, Since: fixedNow}
	return f.err
}
func (f *fakeRec) Unhalt(_ context.Context, who string) error {
	f.calls = append(f.calls, "unhalt by="+who)
	f.halt = reconcile.HaltStatus{}
	return f.err
}
func (f *fakeRec) HaltState() reconcile.HaltStatus { return f.halt }
func (f *fakeRec) ETA(_ context.Context, name string, a reconcile.Assumptions) (reconcile.ETA, error) {
	f.calls = append(f.calls, fmt.Sprintf("eta %s unload=%s", name, a.UnloadTime))
	if err := f.check(name); err != nil {
		return reconcile.ETA{}, err
	}
	end := fixedNow.Add(90 * time.Minute)
	return reconcile.ETA{Sequence: name, TimeZone: "UTC", At: fixedNow, Run: name + "@x", Item: "fresh-leads", End: end, EndEstimate: true,
		Events: []schedule.Event{{At: end, Sequence: name, Action: schedule.ActSequenceEnd, Estimate: true}}}, nil
}

type fakeHistory struct {
	asked []string
}

func (h *fakeHistory) History(seq string, since, until time.Time, limit int) ([]store.Event, error) {
	h.asked = append(h.asked, fmt.Sprintf("%s since=%s limit=%d", seq, since.Format(time.RFC3339), limit))
	switch seq {
	case "nightly":
		return []store.Event{{Sequence: seq, At: time.Date(2026, 11, 24, 18, 0, 0, 0, time.UTC), Kind: "run-start", Message: "run started"}}, nil
	case "deleted": // gone from the specs, its history kept
		return []store.Event{
			{Sequence: seq, At: time.Date(2026, 11, 23, 18, 0, 0, 0, time.UTC), Kind: "run-start", Run: "deleted@a", SpecHash: "aaa111", Message: "run started"},
			{Sequence: seq, At: time.Date(2026, 11, 24, 18, 0, 0, 0, time.UTC), Kind: "run-start", Run: "deleted@b", SpecHash: "bbb222", Message: "run started"},
		}, nil
	}
	return nil, nil
}

var fixedNow = time.Date(2026, 11, 24, 20, 0, 0, 0, time.UTC)

func newTestServer(t *testing.T, token string) (*httptest.Server, *fakeRec, *fakeHistory) {
	t.Helper()
	rec := &fakeRec{seqs: map[string]reconcile.SequenceStatus{
		"nightly": {Name: "nightly", Phase: reconcile.PhaseRunning, Item: "fresh-leads", ObservedGeneration: 2, SpecHash: "abc"},
	}}
	h := &fakeHistory{}
	m := NewMetrics()
	m.Pass("idle", time.Millisecond)
	m.Request("CM_ReqLoadCampaign", "ok", 20*time.Millisecond)
	m.StartLateness(5 * time.Millisecond)
	m.SpecReload(false)
	srv := NewServer(Config{
		Reconciler: rec, History: h, Token: token, Metrics: m, Now: func() time.Time { return fixedNow }, Planner: rec,
		Ready: func() []Check { return []Check{{Name: "store"}, {Name: "ocs", Err: errors.New("link to OCS is down")}} },
	})
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return ts, rec, h
}

func call(t *testing.T, method, url, token, body string) (int, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, url, rd)
	if !safeMethod(method) {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func errorCode(t *testing.T, body string) string {
	t.Helper()
	var eb ErrorBody
	if err := json.Unmarshal([]byte(body), &eb); err != nil {
		t.Fatalf("error body is not JSON: %v: %s", err, body)
	}
	return eb.Error.Code
}

func TestEveryEndpointAnswersWithItsDocumentedStatusAndShape(t *testing.T) {
	ts, rec, h := newTestServer(t, "")
	cases := []struct {
		method, path, body string
		code               int
		contains           string
	}{
		{"GET", "/healthz", "", 200, `"ok"`},
		{"GET", "/readyz", "", 503, `"link to OCS is down"`},
		{"GET", "/api/v1/sequences", "", 200, `"nightly"`},
		{"GET", "/api/v1/sequences/nightly", "", 200, `"observedGeneration": 2`},
		{"GET", "/api/v1/sequences/nightly/history?since=2h&limit=5", "", 200, `"run-start"`},
		{"GET", "/api/v1/campaign-groups", "", 200, `"CM_GCS_Running"`},
		{"POST", "/api/v1/sequences/nightly/suspend", `{"by":"ana","reason":"list audit","for":"2h"}`, 200, `"nightly"`},
		{"POST", "/api/v1/sequences/nightly/resume", `{"by":"ana"}`, 200, `"nightly"`},
		{"POST", "/api/v1/sequences/nightly/reconcile", "", 200, `"nightly"`},
	}
	for _, c := range cases {
		code, body := call(t, c.method, ts.URL+c.path, "", c.body)
		if code != c.code || !strings.Contains(body, c.contains) {
			t.Errorf("%s %s = %d %s; want %d containing %s", c.method, c.path, code, body, c.code, c.contains)
		}
	}
	want := []string{
		"suspend nightly by=ana why=list audit until=2026-11-24T22:00:00Z",
		"resume nightly by=ana why=",
		"reconcile nightly",
	}
	if strings.Join(rec.calls, "\n") != strings.Join(want, "\n") {
		t.Errorf("commands = %q, want %q", rec.calls, want)
	}
	if len(h.asked) != 1 || h.asked[0] != "nightly since=2026-11-24T18:00:00Z limit=5" {
		t.Errorf("history asked %q", h.asked)
	}
}

func TestErrorsAreJSONWithAStableCode(t *testing.T) {
	ts, rec, _ := newTestServer(t, "")
	cases := []struct {
		method, path, body string
		code               int
		errCode            string
	}{
		{"GET", "/api/v1/sequences/nope", "", 404, "sequence_not_found"},
		{"GET", "/api/v1/sequences/nope/history", "", 404, "sequence_not_found"},
		{"POST", "/api/v1/sequences/nope/suspend", "", 404, "sequence_not_found"},
		{"POST", "/api/v1/sequences/nope/resume", "", 404, "sequence_not_found"},
		{"POST", "/api/v1/sequences/nope/reconcile", "", 404, "sequence_not_found"},
		{"GET", "/api/v1/sequences/nightly/history?limit=0", "", 400, "bad_request"},
		{"GET", "/api/v1/sequences/nightly/history?since=yesterday", "", 400, "bad_request"},
		{"POST", "/api/v1/sequences/nightly/suspend", `{"for":"-1h"}`, 400, "bad_request"},
		{"POST", "/api/v1/sequences/nightly/suspend", `{"unknown":1}`, 400, "bad_request"},
		{"POST", "/api/v1/sequences/nightly/suspend", `{"reason":"` + strings.Repeat("x", MaxBodyBytes) + `"}`, 413, "too_large"},
		{"GET", "/api/v2/whatever", "", 404, "not_found"},
	}
	for _, c := range cases {
		code, body := call(t, c.method, ts.URL+c.path, "", c.body)
		if code != c.code || errorCode(t, body) != c.errCode {
			t.Errorf("%s %s = %d %s; want %d %s", c.method, c.path, code, body, c.code, c.errCode)
		}
	}
	rec.err = context.DeadlineExceeded
	if code, body := call(t, "POST", ts.URL+"/api/v1/sequences/nightly/reconcile", "", ""); code != 503 || errorCode(t, body) != "unavailable" {
		t.Errorf("busy loop: %d %s", code, body)
	}
}

func TestATokenIsRequiredOnEveryAPICallButNotOnProbes(t *testing.T) {
	const token = "s3cret-token-0123456789"
	ts, rec, _ := newTestServer(t, token)
	for _, p := range []string{"/api/v1/sequences", "/api/v1/sequences/nightly", "/api/v1/campaign-groups", "/metrics"} {
		if code, body := call(t, "GET", ts.URL+p, "", ""); code != 401 || errorCode(t, body) != "unauthorized" {
			t.Errorf("GET %s without token = %d %s", p, code, body)
		}
		if code, _ := call(t, "GET", ts.URL+p, "wrong-token", ""); code != 401 {
			t.Errorf("GET %s with a wrong token = %d", p, code)
		}
		if code, _ := call(t, "GET", ts.URL+p, token, ""); code != 200 {
			t.Errorf("GET %s with the token = %d", p, code)
		}
	}
	if code, _ := call(t, "POST", ts.URL+"/api/v1/sequences/nightly/suspend", "", ""); code != 401 {
		t.Errorf("suspend without token = %d", code)
	}
	if len(rec.calls) != 0 {
		t.Errorf("an unauthorized call reached the reconciler: %q", rec.calls)
	}
	for _, p := range []string{"/healthz", "/readyz"} {
		if code, _ := call(t, "GET", ts.URL+p, "", ""); code == 401 {
			t.Errorf("probe %s asks for a token", p)
		}
	}
}

func TestListeningBeyondLoopbackNeedsAToken(t *testing.T) {
	for _, c := range []struct {
		addr  string
		token bool
		ok    bool
	}{
		{"127.0.0.1:8080", false, true}, {"[::1]:8080", false, true}, {"localhost:8080", false, true},
		{"0.0.0.0:8080", false, false}, {":8080", false, false}, {"10.1.2.3:8080", false, false},
		{"0.0.0.0:8080", true, true},
	} {
		err := CheckListen(c.addr, c.token)
		if (err == nil) != c.ok {
			t.Errorf("CheckListen(%q, token=%v) = %v", c.addr, c.token, err)
		}
		if err != nil && !errors.Is(err, ErrInsecureListen) {
			t.Errorf("CheckListen(%q) error %v is not ErrInsecureListen", c.addr, err)
		}
	}
}

func TestMetricsPassThePrometheusTextParser(t *testing.T) {
	ts, _, _ := newTestServer(t, "")
	code, body := call(t, "GET", ts.URL+"/metrics", "", "")
	if code != 200 {
		t.Fatalf("GET /metrics = %d", code)
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("exposition does not parse: %v\n%s", err, body)
	}
	for _, name := range []string{
		"sequencer_reconcile_passes_total", "sequencer_reconcile_pass_duration_seconds",
		"sequencer_ocs_requests_total", "sequencer_ocs_request_duration_seconds",
		"sequencer_start_lateness_seconds", "sequencer_spec_reloads_total",
		"sequencer_sequences", "sequencer_campaign_groups", "sequencer_queue_depth",
	} {
		if fams[name] == nil {
			t.Errorf("metric %s missing", name)
		}
	}
	if g := fams["sequencer_queue_depth"]; g != nil && g.Metric[0].GetGauge().GetValue() != 3 {
		t.Errorf("queue depth = %v, want 3", g.Metric[0].GetGauge().GetValue())
	}
}

func TestOCSStatisticsAreGaugesPerCampaignGroupOnlyWhileKnown(t *testing.T) {
	ts, rec, _ := newTestServer(t, "")
	bf, ttc := 0.85, 600.0
	rec.groups = []reconcile.GroupObservation{
		{CampaignDBID: 101, GroupDBID: 732, Status: "CM_GCS_Running", OCSStatistics: reconcile.OCSStatistics{BusyFactor: &bf, TimeToComplete: &ttc}},
		{CampaignDBID: 102, GroupDBID: 732, Status: "CM_GCS_Running"},
	}
	_, body := call(t, "GET", ts.URL+"/metrics", "", "")
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]float64{"sequencer_ocs_busy_factor_ratio": 0.85, "sequencer_ocs_time_to_complete_seconds": 600} {
		f := fams[name]
		if f == nil || len(f.Metric) != 1 || f.Metric[0].GetGauge().GetValue() != want ||
			f.Metric[0].GetLabel()[0].GetValue() != "101" || f.Metric[0].GetLabel()[1].GetValue() != "732" {
			t.Errorf("%s: %v, want one series 101/732 = %v", name, f, want)
		}
	}
	if fams["sequencer_ocs_hit_ratio"] != nil {
		t.Errorf("a hit ratio no group reported is exported: %v", fams["sequencer_ocs_hit_ratio"])
	}
}

// localRequest is a request as a client on the same host sends it to a
// daemon listening on 127.0.0.1:8080, JSON-typed when it changes state.
func localRequest(method, path, body string) *http.Request {
	return requestVia("127.0.0.1:8080", method, "http://127.0.0.1:8080"+path, body)
}

// requestVia is a request to url that arrived on the local address local,
// as net/http's server records it for handlers.
func requestVia(local, method, url, body string) *http.Request {
	r := httptest.NewRequest(method, url, strings.NewReader(body))
	addr, err := net.ResolveTCPAddr("tcp", local)
	if err != nil {
		panic(err)
	}
	r = r.WithContext(context.WithValue(r.Context(), http.LocalAddrContextKey, addr))
	if !safeMethod(method) {
		r.Header.Set("Content-Type", "application/json")
	}
	return r
}

func TestTheHistoryOfADeletedSequenceIsStillServedAndFiltersBySpecHashAndRun(t *testing.T) {
	ts, _, _ := newTestServer(t, "")
	code, body := call(t, "GET", ts.URL+"/api/v1/sequences/deleted/history", "", "")
	if code != http.StatusOK || strings.Count(body, `"run-start"`) != 2 {
		t.Fatalf("history of a deleted sequence: %d %s", code, body)
	}
	if _, body := call(t, "GET", ts.URL+"/api/v1/sequences/deleted/history?specHash=bbb", "", ""); strings.Count(body, `"run-start"`) != 1 || !strings.Contains(body, "deleted@b") {
		t.Errorf("specHash filter: %s", body)
	}
	if _, body := call(t, "GET", ts.URL+"/api/v1/sequences/deleted/history?run=deleted@a", "", ""); strings.Count(body, `"run-start"`) != 1 || !strings.Contains(body, "deleted@a") {
		t.Errorf("run filter: %s", body)
	}
}
