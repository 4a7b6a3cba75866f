package api

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sequencer-dev/sequencer/dnc"
	"github.com/sequencer-dev/sequencer/internal/golden"
	"github.com/sequencer-dev/sequencer/reconcile"
)

// guarded is a server whose fakes record every command that gets through.
type guarded struct {
	h       http.Handler
	rec     *fakeRec
	records *fakeRecords
}

func newGuarded(t *testing.T, edit func(*Config)) guarded {
	t.Helper()
	g := guarded{
		rec:     &fakeRec{seqs: map[string]reconcile.SequenceStatus{"nightly": {Name: "nightly", Phase: reconcile.PhaseRunning}}},
		records: &fakeRecords{out: []dnc.Outcome{{OCS: 120, OK: true}}},
	}
	cfg := Config{Reconciler: g.rec, History: &fakeHistory{}, Records: g.records, Metrics: NewMetrics(),
		Now: func() time.Time { return fixedNow }}
	if edit != nil {
		edit(&cfg)
	}
	g.h = NewServer(cfg).Handler()
	return g
}

func (g guarded) serve(r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	g.h.ServeHTTP(w, r)
	return w
}

// sent is everything that reached the reconciler or OCS.
func (g guarded) sent() []string { return append(slices.Clone(g.rec.calls), g.records.sent...) }

func withHeader(r *http.Request, kv ...string) *http.Request {
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			r.Header.Del(kv[i])
		} else {
			r.Header.Set(kv[i], kv[i+1])
		}
	}
	return r
}

func TestAStateChangingRequestFromAnotherSiteIsRefused(t *testing.T) {
	g := newGuarded(t, func(c *Config) { c.Token = "s3cret-token-0123456789" })
	for _, hdr := range [][]string{
		{"Sec-Fetch-Site", "cross-site"},
		{"Sec-Fetch-Site", "same-site"}, // e.g. a dev server on localhost:3000
		{"Origin", "https://evil.example"},
		{"Origin", "null"},                  // sandboxed frame, file: page
		{"Origin", "http://localhost:8080"}, // another origin than the Host 127.0.0.1:8080
		{"Origin", "http://127.0.0.1:9999"},
		{"Origin", "ftp://127.0.0.1:8080"},
		{"Sec-Fetch-Site", "same-origin", "Origin", "https://evil.example"},
	} {
		for _, path := range []string{"/api/v1/sequences/nightly/suspend", "/api/v1/sequences/nightly/resume",
			"/api/v1/sequences/nightly/reconcile", "/api/v1/dnc", "/api/v1/cancel-record"} {
			r := withHeader(localRequest("POST", path, `{"phone":"+14155550101"}`), hdr...)
			// Even with the token: a browser holding it in a page is no
			// reason to accept a request another site started.
			r.Header.Set("Authorization", "Bearer s3cret-token-0123456789")
			w := g.serve(r)
			if w.Code != http.StatusForbidden || errorCode(t, w.Body.String()) != "cross_site_request" {
				t.Errorf("POST %s with %q = %d %s; want 403 cross_site_request", path, hdr, w.Code, w.Body)
			}
		}
	}
	if s := g.sent(); len(s) != 0 {
		t.Errorf("cross-site requests got through: %q", s)
	}
}

func TestTheServersOwnOriginAndToolsWithoutOneMayChangeState(t *testing.T) {
	g := newGuarded(t, func(c *Config) { c.AllowedHosts = []string{"sequencer.example"} })
	for _, hdr := range [][]string{
		nil, // curl, the CLI
		{"Sec-Fetch-Site", "same-origin", "Origin", "http://127.0.0.1:8080"},
		{"Sec-Fetch-Site", "none"},
		{"Origin", "http://127.0.0.1:8080"},
		{"Origin", "HTTP://127.0.0.1:8080"},
		{"Origin", "https://sequencer.example"}, // a TLS proxy with a configured name
	} {
		w := g.serve(withHeader(localRequest("POST", "/api/v1/sequences/nightly/reconcile", ""), hdr...))
		if w.Code != http.StatusOK {
			t.Errorf("reconcile with %q = %d %s; want 200", hdr, w.Code, w.Body)
		}
	}
	if n := len(g.rec.calls); n != 6 {
		t.Errorf("%d reconciles reached the loop, want 6: %q", n, g.rec.calls)
	}
}

func TestStateChangingRequestsMustDeclareAJSONBody(t *testing.T) {
	g := newGuarded(t, nil)
	for _, c := range []struct{ path, ctype, body string }{
		{"/api/v1/sequences/nightly/suspend", "text/plain;charset=UTF-8", `{"by":"evil"}`},
		{"/api/v1/sequences/nightly/suspend", "application/x-www-form-urlencoded", `{"by":"evil"}`},
		{"/api/v1/sequences/nightly/suspend", "multipart/form-data; boundary=x", `{"by":"evil"}`},
		{"/api/v1/sequences/nightly/suspend", "application/jsonp", `{"by":"evil"}`},
		{"/api/v1/sequences/nightly/suspend", "", `{"by":"evil"}`},
		{"/api/v1/dnc", "text/plain", `{"phone":"+14155550101"}`},
		// Bodiless commands too: a browser can send an empty POST cross-site
		// with no Content-Type at all.
		{"/api/v1/sequences/nightly/resume", "", ""},
		{"/api/v1/sequences/nightly/reconcile", "", ""},
	} {
		w := g.serve(withHeader(localRequest("POST", c.path, c.body), "Content-Type", c.ctype))
		if w.Code != http.StatusUnsupportedMediaType || errorCode(t, w.Body.String()) != "unsupported_media_type" {
			t.Errorf("POST %s as %q = %d %s; want 415 unsupported_media_type", c.path, c.ctype, w.Code, w.Body)
		}
	}
	if s := g.sent(); len(s) != 0 {
		t.Fatalf("non-JSON requests got through: %q", s)
	}
	for _, ctype := range []string{"application/json; charset=utf-8", "Application/JSON"} {
		w := g.serve(withHeader(localRequest("POST", "/api/v1/sequences/nightly/reconcile", ""), "Content-Type", ctype))
		if w.Code != http.StatusOK {
			t.Errorf("reconcile as %q = %d %s; want 200", ctype, w.Code, w.Body)
		}
	}
}

func TestARequestForAnotherHostNameIsRefusedOnEveryRouteButHealthz(t *testing.T) {
	g := newGuarded(t, func(c *Config) {
		c.Ready = func() []Check { return nil }
		c.DNCLists = fakeLists{}
	})
	routes := []struct{ method, path string }{
		{"GET", "/readyz"}, {"GET", "/metrics"}, {"GET", "/api/v1/sequences"}, {"GET", "/api/v1/sequences/nightly"},
		{"GET", "/api/v1/sequences/nightly/history"}, {"GET", "/api/v1/campaign-groups"}, {"GET", "/api/v1/dnc-lists"},
		{"POST", "/api/v1/sequences/nightly/suspend"}, {"POST", "/api/v1/dnc"}, {"GET", "/nowhere"},
	}
	// DNS rebinding: evil.example now resolves to 127.0.0.1, so for the
	// browser the page and the daemon are the same origin.
	for _, host := range []string{"evil.example:8080", "evil.example", "localhost.evil.example:8080", "127.0.0.1.nip.io:8080", ""} {
		for _, rt := range routes {
			r := localRequest(rt.method, rt.path, `{"phone":"+14155550101"}`)
			r.Host = host
			r.Header.Set("Sec-Fetch-Site", "same-origin")
			w := g.serve(r)
			if w.Code != http.StatusMisdirectedRequest || errorCode(t, w.Body.String()) != "host_not_allowed" {
				t.Errorf("%s %s with Host %q = %d %s; want 421 host_not_allowed", rt.method, rt.path, host, w.Code, w.Body)
			}
		}
		r := localRequest("GET", "/healthz", "")
		r.Host = host
		if w := g.serve(r); w.Code != http.StatusOK {
			t.Errorf("GET /healthz with Host %q = %d; probes must keep working", host, w.Code)
		}
	}
	if s := g.sent(); len(s) != 0 {
		t.Errorf("rebound requests got through: %q", s)
	}
}

func TestLoopbackNamesTheListeningIPAndConfiguredNamesAreThisServersHosts(t *testing.T) {
	g := newGuarded(t, func(c *Config) { c.AllowedHosts = []string{"sequencer.example", "proxy.example:8443"} })
	for _, c := range []struct {
		local, host string
		ok          bool
	}{
		{"127.0.0.1:8080", "127.0.0.1:8080", true},
		{"127.0.0.1:8080", "localhost:8080", true},
		{"127.0.0.1:8080", "LOCALHOST:8080", true},
		{"127.0.0.1:8080", "[::1]:8080", true},
		{"[::1]:8080", "localhost:8080", true},
		{"127.0.0.1:8080", "localhost", true},        // no port: what a client wrote, not a rebinding
		{"127.0.0.1:8080", "localhost:9090", false},  // not the port it arrived on
		{"10.0.0.5:8080", "10.0.0.5:8080", true},     // listening beyond loopback, called by IP
		{"10.0.0.5:8080", "localhost:8080", false},   // that connection did not come over loopback
		{"10.0.0.5:8080", "10.0.0.6:8080", false},    // another machine's IP
		{"10.0.0.5:8080", "sequencer.example", true}, // configured, any port
		{"10.0.0.5:8080", "sequencer.example:8080", true},
		{"10.0.0.5:8080", "Sequencer.Example.:8080", true},
		{"10.0.0.5:8080", "proxy.example:8443", true},
		{"10.0.0.5:8080", "proxy.example:8080", false}, // configured with another port
		{"10.0.0.5:8080", "other.example:8080", false},
	} {
		r := requestVia(c.local, "GET", "http://"+c.local+"/api/v1/sequences", "")
		r.Host = c.host
		w := g.serve(r)
		if got := w.Code == http.StatusOK; got != c.ok {
			t.Errorf("Host %q on a connection to %s = %d %s; want allowed=%v", c.host, c.local, w.Code, w.Body, c.ok)
		}
	}
}

func TestABodyWithDataAfterItsJSONValueIsRefused(t *testing.T) {
	g := newGuarded(t, nil)
	for _, c := range []struct{ path, body string }{
		{"/api/v1/sequences/nightly/suspend", `{"by":"ana"} {"for":"1h"}`},
		{"/api/v1/sequences/nightly/resume", `{"by":"ana"}x`},
		{"/api/v1/dnc", `{"phone":"+14155550101"}{"phone":"+14155550102"}`},
		{"/api/v1/cancel-record", `{"phone":"+14155550101"} }`},
	} {
		w := g.serve(localRequest("POST", c.path, c.body))
		if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), "unexpected data after the JSON value") {
			t.Errorf("POST %s %s = %d %s; want 400 naming the trailing data", c.path, c.body, w.Code, w.Body)
		}
	}
	if s := g.sent(); len(s) != 0 {
		t.Fatalf("bodies with trailing data got through: %q", s)
	}
	if w := g.serve(localRequest("POST", "/api/v1/sequences/nightly/suspend", "{\"by\":\"ana\"}\r\n\t ")); w.Code != http.StatusOK {
		t.Errorf("trailing whitespace: %d %s; want 200", w.Code, w.Body)
	}
}

func TestAWrongMethodGets405ListingTheAllowedOnes(t *testing.T) {
	g := newGuarded(t, nil)
	for _, c := range []struct{ method, path, allow string }{
		{"DELETE", "/api/v1/sequences/nightly", "GET, HEAD"},
		{"POST", "/api/v1/sequences", "GET, HEAD"},
		{"GET", "/api/v1/sequences/nightly/suspend", "POST"},
		{"PUT", "/api/v1/dnc", "POST"},
		{"POST", "/healthz", "GET, HEAD"},
		{"PATCH", "/metrics", "GET, HEAD"},
	} {
		w := g.serve(localRequest(c.method, c.path, ""))
		if w.Code != http.StatusMethodNotAllowed || w.Header().Get("Allow") != c.allow || errorCode(t, w.Body.String()) != "method_not_allowed" {
			t.Errorf("%s %s = %d Allow %q %s; want 405 Allow %q", c.method, c.path, w.Code, w.Header().Get("Allow"), w.Body, c.allow)
		}
	}
	if w := g.serve(localRequest("DELETE", "/api/v2/nothing", "")); w.Code != http.StatusNotFound || w.Header().Get("Allow") != "" {
		t.Errorf("unknown path = %d Allow %q; want 404 without Allow", w.Code, w.Header().Get("Allow"))
	}
	if s := g.sent(); len(s) != 0 {
		t.Fatalf("wrong methods got through: %q", s)
	}
}

func TestTheBearerSchemeIsCaseInsensitive(t *testing.T) {
	const token = "s3cret-token-0123456789"
	g := newGuarded(t, func(c *Config) { c.Token = token })
	for _, c := range []struct {
		auth string
		ok   bool
	}{
		{"Bearer " + token, true}, {"bearer " + token, true}, {"BEARER " + token, true}, {"bEaReR  " + token, true},
		{"Bearer" + token, false}, {"Basic " + token, false}, {"Bearer ", false}, {token, false}, {"Bearer " + strings.ToUpper(token), false},
	} {
		w := g.serve(withHeader(localRequest("GET", "/api/v1/sequences", ""), "Authorization", c.auth))
		if got := w.Code == http.StatusOK; got != c.ok {
			t.Errorf("Authorization %q = %d; want accepted=%v", c.auth, w.Code, c.ok)
		}
	}
}

// TestEveryRefusalKeepsItsStatusAndCode pins the refusals' answers, which
// scripts and the CLI match on, in a transcript.
func TestEveryRefusalKeepsItsStatusAndCode(t *testing.T) {
	g := newGuarded(t, func(c *Config) { c.Token = "s3cret-token-0123456789" })
	auth := "Bearer s3cret-token-0123456789"
	var b strings.Builder
	for _, c := range []struct {
		name, method, path, body string
		hdr                      []string
	}{
		{"cross-site", "POST", "/api/v1/sequences/nightly/suspend", `{}`, []string{"Sec-Fetch-Site", "cross-site", "Authorization", auth}},
		{"foreign origin", "POST", "/api/v1/dnc", `{}`, []string{"Origin", "https://evil.example", "Authorization", auth}},
		{"foreign origin without token", "POST", "/api/v1/dnc", `{}`, []string{"Origin", "https://evil.example"}},
		{"text/plain", "POST", "/api/v1/dnc", `{}`, []string{"Content-Type", "text/plain", "Authorization", auth}},
		{"no content type", "POST", "/api/v1/sequences/nightly/reconcile", ``, []string{"Content-Type", "", "Authorization", auth}},
		{"rebinding", "GET", "/api/v1/sequences", ``, []string{"Host", "evil.example:8080", "Authorization", auth}},
		{"trailing data", "POST", "/api/v1/sequences/nightly/resume", `{} {}`, []string{"Authorization", auth}},
		{"wrong method", "DELETE", "/api/v1/sequences/nightly", ``, []string{"Authorization", auth}},
		{"lowercase bearer, wrong token", "GET", "/api/v1/sequences", ``, []string{"Authorization", "bearer nope"}},
	} {
		r := localRequest(c.method, c.path, c.body)
		for i := 0; i+1 < len(c.hdr); i += 2 {
			if c.hdr[i] == "Host" {
				r.Host = c.hdr[i+1]
			} else {
				withHeader(r, c.hdr[i], c.hdr[i+1])
			}
		}
		w := g.serve(r)
		fmt.Fprintf(&b, "== %s: %s %s\n%d", c.name, c.method, c.path, w.Code)
		for _, h := range []string{"Allow", "WWW-Authenticate"} {
			if v := w.Header().Get(h); v != "" {
				fmt.Fprintf(&b, " %s: %s", h, v)
			}
		}
		fmt.Fprintf(&b, "\n%s", w.Body)
	}
	golden.Check(t, "refusals", b.String())
	if s := g.sent(); len(s) != 0 {
		t.Errorf("refused requests got through: %q", s)
	}
}

type fakeStore struct{ err error }

func (f fakeStore) Healthy() error { return f.err }

func TestReadyzReportsTheStoresOwnAnswer(t *testing.T) {
	// Ready's hard-coded "store ok" must not hide what the store says.
	ready := func() []Check { return []Check{{Name: "specs"}, {Name: "store"}} }
	for _, c := range []struct {
		store    StoreHealth
		code     int
		contains string
	}{
		{fakeStore{err: errors.New("write sequencer.db: input/output error")}, 503, `"store": "write sequencer.db: input/output error"`},
		{fakeStore{}, 200, `"store": "ok"`},
		{nil, 200, `"store": "unknown: no store health check configured"`},
	} {
		g := newGuarded(t, func(cfg *Config) { cfg.Ready, cfg.Store = ready, c.store })
		w := g.serve(localRequest("GET", "/readyz", ""))
		if w.Code != c.code || !strings.Contains(w.Body.String(), c.contains) || !strings.Contains(w.Body.String(), `"specs": "ok"`) {
			t.Errorf("store %#v: readyz = %d %s; want %d with %s", c.store, w.Code, w.Body, c.code, c.contains)
		}
	}
}

// TestABrowsersCrossSitePostOnARealPortChangesNothing sends, over a real
// loopback connection, what a page on another site makes a browser send:
// a text/plain "simple request" that needs no preflight, an old browser's
// variant without Sec-Fetch headers, and a DNS-rebound page's request.
func TestABrowsersCrossSitePostOnARealPortChangesNothing(t *testing.T) {
	g := newGuarded(t, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := NewHTTPServer(ln.Addr().String(), g.h)
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	base := "http://" + ln.Addr().String()
	_, port, _ := net.SplitHostPort(ln.Addr().String())

	send := func(path, host string, hdr ...string) int {
		t.Helper()
		req, _ := http.NewRequest("POST", base+path, strings.NewReader(`{"by":"evil","phone":"+14155550101"}`))
		req.Host = host
		req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
		req.Header.Set("Accept", "*/*")
		req.Header.Set("User-Agent", "Mozilla/5.0")
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	modern := []string{"Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site", "Sec-Fetch-Mode", "no-cors", "Sec-Fetch-Dest", "empty"}
	old := []string{"Origin", "https://evil.example"}
	rebound := []string{"Origin", "http://evil.example:" + port, "Sec-Fetch-Site", "same-origin", "Sec-Fetch-Mode", "no-cors"}
	for _, path := range []string{"/api/v1/sequences/nightly/suspend", "/api/v1/dnc"} {
		if code := send(path, ln.Addr().String(), modern...); code != http.StatusForbidden {
			t.Errorf("cross-site POST %s = %d, want 403", path, code)
		}
		if code := send(path, ln.Addr().String(), old...); code != http.StatusForbidden {
			t.Errorf("cross-site POST %s without Sec-Fetch = %d, want 403", path, code)
		}
		if code := send(path, "evil.example:"+port, rebound...); code != http.StatusMisdirectedRequest {
			t.Errorf("rebound POST %s = %d, want 421", path, code)
		}
	}
	if s := g.sent(); len(s) != 0 {
		t.Errorf("a browser's cross-site POST changed something: %q", s)
	}
	resp, err := http.Get(base + "/api/v1/sequences/nightly")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `"phase": "Running"`) {
		t.Errorf("sequence after the attack: %s", body)
	}
}

func TestARouteAddedWithoutAuthIsStillGuardedAgainstOtherSites(t *testing.T) {
	srv := NewServer(Config{})
	var reached []string
	srv.mux.HandleFunc("POST /api/v1/future", func(w http.ResponseWriter, r *http.Request) {
		reached = append(reached, r.Header.Get("Origin")+"|"+r.Header.Get("Content-Type"))
	})
	h := srv.Handler()
	for _, c := range []struct {
		hdr  []string
		code int
	}{
		{[]string{"Origin", "https://evil.example"}, http.StatusForbidden},
		{[]string{"Content-Type", "text/plain"}, http.StatusUnsupportedMediaType},
		{nil, http.StatusOK},
	} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, withHeader(localRequest("POST", "/api/v1/future", "{}"), c.hdr...))
		if w.Code != c.code {
			t.Errorf("POST with %q = %d %s; want %d", c.hdr, w.Code, w.Body, c.code)
		}
	}
	if want := []string{"|application/json"}; !slices.Equal(reached, want) {
		t.Errorf("the route was reached by %q, want %q", reached, want)
	}
}
