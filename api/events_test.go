package api

import (
	"bufio"
	"bytes"
	"context"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sequencer-dev/sequencer/internal/golden"
	"github.com/sequencer-dev/sequencer/reconcile"
)

// lockedRec is a fakeRec the test changes while a stream reads it.
type lockedRec struct {
	mu sync.Mutex
	fakeRec
	groups []reconcile.GroupObservation
}

func (l *lockedRec) Sequences() []reconcile.SequenceStatus {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.fakeRec.Sequences()
}
func (l *lockedRec) Groups() []reconcile.GroupObservation {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]reconcile.GroupObservation(nil), l.groups...)
}
func (l *lockedRec) HaltState() reconcile.HaltStatus {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.halt
}
func (l *lockedRec) change(f func(*lockedRec)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	f(l)
}

// streamRecorder is a ResponseWriter whose body the test reads while the
// handler still writes to it.
type streamRecorder struct {
	mu      sync.Mutex
	header  http.Header
	code    int
	body    bytes.Buffer
	flushes int
}

func (s *streamRecorder) Header() http.Header { return s.header }
func (s *streamRecorder) WriteHeader(code int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.code = code
}
func (s *streamRecorder) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.body.Write(b)
}
func (s *streamRecorder) Flush() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.flushes++
}

// take returns what was written since the last take.
func (s *streamRecorder) take() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.body.String()
	s.body.Reset()
	return out
}

var at = time.Date(2026, 11, 24, 18, 0, 0, 0, time.UTC)

func TestTheEventStreamSendsTheWholeStateThenOnlyWhatChangedAndHeartbeats(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &lockedRec{fakeRec: fakeRec{seqs: map[string]reconcile.SequenceStatus{
			"nightly": {Name: "nightly", Phase: reconcile.PhaseRunning, Item: "fresh-leads", ItemState: "dialing", SpecHash: "abc"},
			"demo":    {Name: "demo", Phase: reconcile.PhaseCompleted, SpecHash: "def"},
		}}, groups: []reconcile.GroupObservation{{CampaignDBID: 101, GroupDBID: 732, Status: "Running", Dials: 10, Contacts: 3, Sequence: "nightly", At: at}}}
		srv := NewServer(Config{Reconciler: rec, History: &fakeHistory{}})
		req := localRequest("GET", "/api/v1/events", "")
		ctx, cancel := context.WithCancel(req.Context())
		w := &streamRecorder{header: http.Header{}}
		done := make(chan struct{})
		go func() {
			srv.Handler().ServeHTTP(w, req.WithContext(ctx))
			close(done)
		}()
		synctest.Wait()
		var transcript strings.Builder
		step := func(what string) {
			transcript.WriteString("### " + what + "\n" + w.take())
		}
		step("connect: the whole state, then synced")
		if ct := w.header.Get("Content-Type"); ct != "text/event-stream" {
			t.Errorf("Content-Type %q", ct)
		}

		time.Sleep(time.Second)
		synctest.Wait()
		step("a second with no change: nothing")

		rec.change(func(l *lockedRec) {
			s := l.seqs["nightly"]
			s.Phase, s.Suspended, s.SuspendedBy = reconcile.PhaseSuspended, true, "api:ana"
			l.seqs["nightly"] = s
			delete(l.seqs, "demo")
			l.groups[0].Dials = 12
			l.halt = reconcile.HaltStatus{Halted: true, Reason: "regulator call", Who: "api:ana", Since: at}
		})
		time.Sleep(time.Second)
		synctest.Wait()
		step("suspend, delete, new counters, halt")

		time.Sleep(13 * time.Second) // 15 s since the stream opened
		synctest.Wait()
		step("idle: a heartbeat")

		cancel()
		synctest.Wait()
		select {
		case <-done:
		default:
			t.Fatal("the stream did not end when its client went away")
		}
		golden.Check(t, "events", transcript.String())
	})
}

func TestTheEventStreamNeedsTheTokenLikeTheRestOfTheAPI(t *testing.T) {
	rec := &lockedRec{fakeRec: fakeRec{seqs: map[string]reconcile.SequenceStatus{}}}
	srv := NewServer(Config{Reconciler: rec, History: &fakeHistory{}, Token: "0123456789abcdef"})
	w := &streamRecorder{header: http.Header{}}
	srv.Handler().ServeHTTP(w, localRequest("GET", "/api/v1/events", ""))
	if w.code != http.StatusUnauthorized {
		t.Errorf("events without the token: %d %s", w.code, w.take())
	}
}

// Shutdown waits for every handler to return, and a stream never would by
// itself: without CloseStreams the daemon's stop would wait its full
// deadline whenever a dashboard is open.
func TestShutdownEndsOpenEventStreamsAtOnce(t *testing.T) {
	rec := &lockedRec{fakeRec: fakeRec{seqs: map[string]reconcile.SequenceStatus{"a": {Name: "a"}}}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := NewHTTPServer(ln.Addr().String(), NewServer(Config{Reconciler: rec, History: &fakeHistory{}}).Handler())
	go hs.Serve(ln)
	resp, err := http.Get("http://" + ln.Addr().String() + "/api/v1/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	lines := bufio.NewScanner(resp.Body)
	for lines.Scan() && lines.Text() != "event: synced" {
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	if err := hs.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown with a stream open: %v after %s", err, time.Since(start))
	}
	for lines.Scan() {
	}
}

func TestTheDashboardIsServedAtTheRootWithoutATokenButItsDataIsNot(t *testing.T) {
	rec := &lockedRec{fakeRec: fakeRec{seqs: map[string]reconcile.SequenceStatus{}}}
	srv := NewServer(Config{Reconciler: rec, History: &fakeHistory{}, Token: "0123456789abcdef"}).Handler()
	get := func(r *http.Request) (*streamRecorder, string) {
		w := &streamRecorder{header: http.Header{}, code: 200}
		srv.ServeHTTP(w, r)
		return w, w.take()
	}
	w, body := get(localRequest("GET", "/", ""))
	if w.code != 200 || !strings.Contains(body, `<main id="main"`) || w.header.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Errorf("GET /: %d %q %.80s", w.code, w.header.Get("Content-Type"), body)
	}
	if csp := w.header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("GET / has CSP %q: pages must run only their own script and refuse framing", csp)
	}
	for _, path := range []string{"/ui/app.js", "/ui/app.css"} {
		if w, body := get(localRequest("GET", path, "")); w.code != 200 || len(body) < 100 {
			t.Errorf("GET %s: %d, %d bytes", path, w.code, len(body))
		}
	}
	if w, _ := get(localRequest("GET", "/api/v1/sequences", "")); w.code != http.StatusUnauthorized {
		t.Errorf("the data behind the page answered %d without the token", w.code)
	}
	// A rebinding page cannot even read the dashboard's files.
	r := localRequest("GET", "/", "")
	r.Host = "attacker.example:8080"
	if w, _ := get(r); w.code != http.StatusMisdirectedRequest {
		t.Errorf("GET / with a foreign Host: %d", w.code)
	}
	if w, _ := get(localRequest("POST", "/", "{}")); w.code != http.StatusMethodNotAllowed {
		t.Errorf("POST /: %d, want 405", w.code)
	}
	for _, path := range []string{"/ui/nope.js", "/ui/"} {
		if w, _ := get(localRequest("GET", path, "")); w.code != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", path, w.code)
		}
	}
}

// The daemon's server has read and write timeouts of 30 s, which would cut
// every stream (and cancel its request) after 30 s; the stream lifts them
// for itself. Here the same, with timeouts of 200 ms.
func TestAStreamOutlivesTheServersReadAndWriteTimeouts(t *testing.T) {
	rec := &lockedRec{fakeRec: fakeRec{seqs: map[string]reconcile.SequenceStatus{"a": {Name: "a"}}}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	api := NewServer(Config{Reconciler: rec, History: &fakeHistory{}, Heartbeat: 100 * time.Millisecond})
	hs := &http.Server{Handler: api.Handler(), ReadTimeout: 200 * time.Millisecond, WriteTimeout: 200 * time.Millisecond}
	go hs.Serve(ln)
	defer hs.Close()
	resp, err := http.Get("http://" + ln.Addr().String() + "/api/v1/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	lines := bufio.NewScanner(resp.Body)
	start := time.Now()
	beats := 0
	for lines.Scan() && time.Since(start) < time.Second {
		if lines.Text() == ": keep-alive" {
			beats++
		}
	}
	if time.Since(start) < time.Second {
		t.Fatalf("the stream ended after %s (%d heartbeats): %v", time.Since(start), beats, lines.Err())
	}
}
