package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// fakeCluster is an election whose outcome the test sets.
type fakeCluster struct {
	mu      sync.Mutex
	leading bool
	reason  string
	view    ClusterView
	err     error
}

func (f *fakeCluster) Leading() (bool, string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.leading, f.reason
}

func (f *fakeCluster) View(context.Context) (ClusterView, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.view, f.err
}

func newClusterServer(t *testing.T, token string, c *fakeCluster) (*httptest.Server, *fakeRec) {
	t.Helper()
	ts0, rec, h := newTestServer(t, token)
	ts0.Close()
	srv := NewServer(Config{Reconciler: rec, History: h, Token: token, Metrics: NewMetrics(), Cluster: c})
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return ts, rec
}

func standbyOf(leader string) *fakeCluster {
	b := ClusterMember{Name: leader, API: "10.0.0.1:8080"}
	return &fakeCluster{reason: "waiting for the leader key", view: ClusterView{
		Self: ClusterMember{Name: "b", API: "10.0.0.2:8080"}, Role: "standby", Leader: &b,
		Members: []ClusterMember{b, {Name: "b", API: "10.0.0.2:8080"}}}}
}

func TestAStandbyRefusesEveryStateChangeNamingTheLeaderAndServesReads(t *testing.T) {
	ts, rec := newClusterServer(t, "", standbyOf("a"))
	for _, c := range []struct{ method, path, body string }{
		{"POST", "/api/v1/sequences/nightly/suspend", `{"reason":"audit"}`},
		{"POST", "/api/v1/sequences/nightly/resume", ""},
		{"POST", "/api/v1/sequences/nightly/reconcile", ""},
		{"POST", "/api/v1/halt", `{"reason":"r"}`},
		{"DELETE", "/api/v1/halt", ""},
		{"POST", "/api/v1/dnc", `{"phone":"+14155550101"}`},
	} {
		code, body := call(t, c.method, ts.URL+c.path, "", c.body)
		if code != 503 || errorCode(t, body) != "not_leader" || !strings.Contains(body, "a at 10.0.0.1:8080") {
			t.Errorf("%s %s on a standby = %d %s", c.method, c.path, code, body)
		}
	}
	if len(rec.calls) != 0 {
		t.Errorf("a standby passed commands on: %v", rec.calls)
	}
	if code, _ := call(t, "GET", ts.URL+"/api/v1/sequences", "", ""); code != 200 {
		t.Errorf("GET sequences on a standby = %d", code)
	}
}

func TestAStandbyWithoutALeaderSaysSoAndToRetry(t *testing.T) {
	c := standbyOf("a")
	c.view.Leader = nil
	ts, _ := newClusterServer(t, "", c)
	code, body := call(t, "POST", ts.URL+"/api/v1/sequences/nightly/resume", "", "")
	if code != 503 || !strings.Contains(body, "no member leads right now") {
		t.Errorf("resume with nobody leading = %d %s", code, body)
	}
	c.err = errors.New("etcd: context deadline exceeded")
	_, body = call(t, "POST", ts.URL+"/api/v1/sequences/nightly/resume", "", "")
	if !strings.Contains(body, "cannot read who leads: etcd: context deadline exceeded") {
		t.Errorf("resume with etcd unreachable: %s", body)
	}
}

func TestTheLeaderTakesStateChanges(t *testing.T) {
	ts, rec := newClusterServer(t, "", &fakeCluster{leading: true})
	if code, body := call(t, "POST", ts.URL+"/api/v1/sequences/nightly/resume", "", ""); code != 200 || len(rec.calls) != 1 {
		t.Errorf("resume on the leader = %d %s, calls %v", code, body, rec.calls)
	}
}

func TestAStandbyTellsWhoLeadsOnlyToCallersWithTheToken(t *testing.T) {
	ts, _ := newClusterServer(t, "0123456789abcdef", standbyOf("a"))
	code, body := call(t, "POST", ts.URL+"/api/v1/sequences/nightly/resume", "", "")
	if code != 401 || strings.Contains(body, "10.0.0.1") {
		t.Errorf("resume without the token on a standby = %d %s", code, body)
	}
}

func TestReadyzIsReadyOnTheLeaderOnlyAndNamesTheRole(t *testing.T) {
	c := standbyOf("a")
	ts, _ := newClusterServer(t, "", c)
	var r readiness
	code, body := call(t, "GET", ts.URL+"/readyz", "", "")
	json.Unmarshal([]byte(body), &r)
	if code != 503 || r.Role != "standby" || r.Ready || !strings.Contains(r.Checks["leader"], "waiting for the leader key") {
		t.Errorf("readyz on a standby = %d %s", code, body)
	}
	c.mu.Lock()
	c.leading = true
	c.mu.Unlock()
	r = readiness{}
	code, body = call(t, "GET", ts.URL+"/readyz", "", "")
	json.Unmarshal([]byte(body), &r)
	if code != 200 || r.Role != "leader" || r.Checks["leader"] != "ok" {
		t.Errorf("readyz on the leader = %d %s", code, body)
	}
	if code, _ := call(t, "GET", ts.URL+"/healthz", "", ""); code != 200 {
		t.Errorf("healthz on a member = %d", code)
	}
}

func TestClusterNamesTheLeaderAndEveryMember(t *testing.T) {
	ts, _ := newClusterServer(t, "", standbyOf("a"))
	code, body := call(t, "GET", ts.URL+"/api/v1/cluster", "", "")
	var v ClusterView
	if err := json.Unmarshal([]byte(body), &v); err != nil || code != 200 {
		t.Fatalf("cluster = %d %s", code, body)
	}
	if v.Leader == nil || v.Leader.Name != "a" || len(v.Members) != 2 || v.Self.Name != "b" || v.Role != "standby" {
		t.Errorf("cluster view: %s", body)
	}
	single, _, _ := newTestServer(t, "")
	if code, body := call(t, "GET", single.URL+"/api/v1/cluster", "", ""); code != 404 || errorCode(t, body) != "not_clustered" {
		t.Errorf("cluster on a single daemon = %d %s", code, body)
	}
}

func TestLeaderMetricsShowTheRoleAndCountChanges(t *testing.T) {
	m := NewMetrics()
	m.Leader("a", false)
	m.Leader("a", true)
	m.Leader("a", true)
	m.Leader("a", false)
	ts := httptest.NewServer(NewServer(Config{Reconciler: &fakeRec{}, Metrics: m}).Handler())
	defer ts.Close()
	_, body := call(t, "GET", ts.URL+"/metrics", "", "")
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	g := fams["sequencer_leader"]
	if g == nil || g.Metric[0].GetLabel()[0].GetValue() != "a" || g.Metric[0].GetGauge().GetValue() != 0 {
		t.Errorf("sequencer_leader: %v", g)
	}
	if c := fams["sequencer_leader_changes_total"]; c == nil || c.Metric[0].GetCounter().GetValue() != 2 {
		t.Errorf("sequencer_leader_changes_total: %v, want 2 (became leader, stepped down)", c)
	}
}
