package ocshttp_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	goldenfile "github.com/sequencer-dev/sequencer/internal/golden"
	"github.com/sequencer-dev/sequencer/ocs"
	"github.com/sequencer-dev/sequencer/ocs/ocshttp"
	"github.com/sequencer-dev/sequencer/ocs/ocssim"
)

func golden(t *testing.T, name, got string) { goldenfile.Check(t, name, got) }

// inMemory is an http.RoundTripper that calls a handler directly, so that
// the HTTP front and the state POSTs run inside a synctest bubble.
type inMemory struct{ h http.Handler }

func (m inMemory) RoundTrip(r *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	done := make(chan struct{})
	go func() { defer close(done); m.h.ServeHTTP(rec, r) }()
	select {
	case <-done:
		return rec.Result(), nil
	case <-r.Context().Done():
		return nil, r.Context().Err()
	}
}

// wire records each HTTP request as it went out, for golden files.
type wire struct {
	next http.RoundTripper
	mu   sync.Mutex
	log  strings.Builder
}

func (w *wire) RoundTrip(r *http.Request) (*http.Response, error) {
	var body []byte
	if r.Body != nil {
		body, _ = io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	w.mu.Lock()
	fmt.Fprintf(&w.log, "%s %s %s %s\n", r.Method, r.URL.RequestURI(), r.Header.Get("Content-Type"), body)
	w.mu.Unlock()
	return w.next.RoundTrip(r)
}

func simGroups() []ocshttp.CampaignGroup {
	var out []ocshttp.CampaignGroup
	for _, cg := range ocssim.Default().CampaignGroups {
		out = append(out, ocshttp.CampaignGroup{DBID: cg.DBID, CampaignDBID: cg.CampaignDBID, GroupDBID: cg.GroupDBID})
	}
	return out
}

func newPair(t *testing.T, cfg ocssim.Config) (*ocssim.Sim, *ocshttp.Client) {
	sim, c, _ := newWired(t, cfg)
	return sim, c
}

func newWired(t *testing.T, cfg ocssim.Config) (*ocssim.Sim, *ocshttp.Client, *wire) {
	sim := ocssim.New(cfg)
	w := &wire{next: inMemory{sim.HTTPHandler()}}
	c, err := ocshttp.New("http://ocs.test:8090", ocshttp.Options{
		HTTPClient:     &http.Client{Transport: w},
		CampaignGroups: simGroups(), Counters: true, RequestTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(); sim.Close() })
	return sim, c, w
}

func tg(c, g int32) ocs.Target {
	return ocs.Target{OriginAppDBID: 310, TargetAppDBID: 120, CampaignDBID: c, GroupDBID: g}
}

func TestACampaignGroupRunsItsWholeLifeOverHTTP(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sim, c, w := newWired(t, ocssim.Default())
		ctx := context.Background()
		on := true
		pred := ocs.Pacing{DialMode: ocs.DialModePredict, OptimizeBy: ocs.OptimizeBusyFactor, OptimizeGoal: 80}
		steps := []struct {
			req  ocs.Message
			want ocs.MessageType
			st   ocs.GroupCampStatus
		}{
			{ocs.NewLoad(tg(101, 732), pred, &on), ocs.EvCampaignLoaded, ocs.StatusInActive},
			{ocs.NewStartDialing(tg(101, 732), pred, &on), ocs.EvDialingStarted, ocs.StatusRunning},
			{ocs.NewSetDialingMode(tg(101, 732), ocs.Pacing{DialMode: ocs.DialModeProgress}, nil), ocs.EvDialingModeChanged, ocs.StatusRunning},
			{ocs.NewGetCampaignStatus(tg(101, 732)), ocs.EvCampaignStatus, ocs.StatusRunning},
			{ocs.NewStopDialing(tg(101, 732)), ocs.EvDialingStopped, ocs.StatusInActive},
			{ocs.NewUnload(tg(101, 732)), ocs.EvCampaignUnloaded, ocs.StatusNotLoaded}, // stopped 10 s ago: nothing left to drain
		}
		for i, s := range steps {
			time.Sleep(10 * time.Second)
			ans, err := c.Request(ctx, s.req.WithReference(int32(i+1)))
			if err != nil {
				t.Fatalf("%s: %v", s.req.Type, err)
			}
			if ans.Type != s.want || ans.GroupCampStatus != s.st || ans.ReferenceID != int32(i+1) {
				t.Errorf("%s: got %s %s ref %d, want %s %s ref %d", s.req.Type, ans.Type, ans.GroupCampStatus, ans.ReferenceID, s.want, s.st, i+1)
			}
			if ans.CampaignDBID != 101 || ans.GroupDBID != 732 {
				t.Errorf("%s: answer addresses %d/%d", s.req.Type, ans.CampaignDBID, ans.GroupDBID)
			}
		}
		st, ok := func() (ocs.Stats, bool) {
			ans, _ := c.Request(ctx, ocs.NewGetCampaignStatus(tg(101, 732)))
			return ans.Stats()
		}()
		if !ok || st.Dials != 100+100 {
			t.Errorf("counters after 10 s predictive and 20 s progressive: %+v (has %v), want 200 dials", st, ok)
		}
		golden(t, "lifecycle-wire", w.log.String())
		golden(t, "lifecycle", sim.TranscriptText(true))
	})
}

func TestOCSErrorsOverHTTPKeepTheirSeedCodes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, c := newPair(t, ocssim.Default())
		ctx := context.Background()
		p := ocs.Pacing{DialMode: ocs.DialModeProgress}
		if _, err := c.Request(ctx, ocs.NewStartDialing(tg(101, 732), p, nil)); codeOf(err) != ocs.ErrCampaignNotLoaded {
			t.Errorf("start before load: %v, want code 4", err)
		}
		c.Request(ctx, ocs.NewLoad(tg(101, 732), p, nil))
		ans, err := c.Request(ctx, ocs.NewLoad(tg(101, 732), p, nil))
		if codeOf(err) != ocs.ErrCampaignAlreadyLoaded || ans.Type != ocs.EvError {
			t.Errorf("second load: %v %s, want CM_EvError code 5", err, ans.Type)
		}
		if ocs.IsTransient(err) {
			t.Errorf("an OCS error is not a transient link failure: %v", err)
		}
	})
}

func codeOf(err error) ocs.ErrorCode {
	var oe *ocs.OCSError
	if errors.As(err, &oe) {
		return oe.Code
	}
	return -1
}

func TestRequestsOCSCannotTakeOverHTTPFailBeforeSending(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sim, c := newPair(t, ocssim.Default())
		ctx := context.Background()
		p := ocs.Pacing{DialMode: ocs.DialModeProgress}
		_, err := c.Request(ctx, ocs.NewLoad(tg(999, 732), p, nil))
		if !errors.Is(err, ocs.ErrInvalidRequest) || !strings.Contains(err.Error(), "campaign 999 group 732") {
			t.Errorf("unmapped campaign group: %v", err)
		}
		_, err = c.Request(ctx, ocs.NewLoad(tg(0, 732), p, nil).WithSchedule(ocs.Schedule{}))
		if !errors.Is(err, ocs.ErrInvalidRequest) || !strings.Contains(err.Error(), "campaign sequences") {
			t.Errorf("a native sequence over HTTP: %v", err)
		}
		if n := len(sim.Transcript()); n != 0 {
			t.Errorf("the simulator received %d requests, want none", n)
		}
	})
}

func TestADroppedAnswerTimesOutAsATransientFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sim, c := newPair(t, ocssim.Default())
		sim.DropAnswers(1)
		start := time.Now()
		_, err := c.Request(context.Background(), ocs.NewLoad(tg(101, 732), ocs.Pacing{DialMode: ocs.DialModeProgress}, nil))
		if !errors.Is(err, ocs.ErrTimeout) || !ocs.IsTransient(err) {
			t.Fatalf("got %v, want a transient ErrTimeout", err)
		}
		if d := time.Since(start); d != 5*time.Second {
			t.Errorf("gave up after %s, want the 5 s request timeout", d)
		}
		// The load itself happened: the next one is idempotently "already loaded".
		_, err = c.Request(context.Background(), ocs.NewLoad(tg(101, 732), ocs.Pacing{DialMode: ocs.DialModeProgress}, nil))
		if codeOf(err) != ocs.ErrCampaignAlreadyLoaded {
			t.Errorf("retry: %v", err)
		}
	})
}

func TestAnUnreachableOCSIsReportedAsTheLinkBeingDown(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens there now
	c, err := ocshttp.New(url, ocshttp.Options{CampaignGroups: simGroups()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = c.Request(context.Background(), ocs.NewGetCampaignStatus(tg(101, 732)))
	if !errors.Is(err, ocs.ErrDisconnected) || c.Up() {
		t.Errorf("got %v (up %v), want ErrDisconnected and the link down", err, c.Up())
	}
}

func TestTheSimulatorsHTTPFrontAnswersOverARealSocket(t *testing.T) {
	sim := ocssim.New(ocssim.Default())
	defer sim.Close()
	srv := httptest.NewServer(sim.HTTPHandler())
	defer srv.Close()
	c, err := ocshttp.New(srv.URL, ocshttp.Options{CampaignGroups: simGroups()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ans, err := c.Request(context.Background(), ocs.NewLoad(tg(102, 732), ocs.Pacing{DialMode: ocs.DialModeProgress}, nil))
	if err != nil || ans.GroupCampStatus != ocs.StatusInActive {
		t.Fatalf("load: %v %v", ans, err)
	}
	resp, err := http.Post(srv.URL+"/campaigngroups/5102?req=Dance", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("unknown req: HTTP %d, want 400", resp.StatusCode)
	}
	resp, err = http.Post(srv.URL+"/campaigngroups/77?req=LoadCampaign", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown campaign group: HTTP %d, want 404", resp.StatusCode)
	}
}

// recorder counts state POSTs and answers with a chosen status.
type recorder struct {
	mu     sync.Mutex
	status int
	bodies []string
	next   http.Handler
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	var b strings.Builder
	buf := make([]byte, 4096)
	n, _ := req.Body.Read(buf)
	b.Write(buf[:n])
	r.mu.Lock()
	r.bodies = append(r.bodies, b.String())
	status := r.status
	r.mu.Unlock()
	if r.next != nil && status == 0 {
		req.Body = http.NoBody
		req.Body = readCloser{strings.NewReader(b.String())}
		r.next.ServeHTTP(w, req)
		return
	}
	w.WriteHeader(status)
}

type readCloser struct{ *strings.Reader }

func (readCloser) Close() error { return nil }

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.bodies)
}

func TestStatePOSTsArriveAsStatusEventsOnEveryChangeAndEveryInterval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sim, c := newPair(t, ocssim.Default())
		rec := &recorder{next: c.StatesHandler()}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go sim.ReportStates(ctx, "http://sequencer.test/ocs-states", 10*time.Second, &http.Client{Transport: inMemory{rec}})
		synctest.Wait()
		p := ocs.Pacing{DialMode: ocs.DialModeProgress}
		c.Request(ctx, ocs.NewLoad(tg(103, 732), p, nil))
		c.Request(ctx, ocs.NewStartDialing(tg(103, 732), p, nil))
		synctest.Wait()
		var got []ocs.GroupCampStatus
		for range 2 {
			ev := <-c.Events()
			if ev.Type != ocs.EvCampaignStatus || ev.CampaignDBID != 103 || ev.GroupDBID != 732 {
				t.Fatalf("event %s for %d/%d", ev.Type, ev.CampaignDBID, ev.GroupDBID)
			}
			got = append(got, ev.GroupCampStatus)
		}
		if got[0] != ocs.StatusInActive || got[1] != ocs.StatusRunning {
			t.Errorf("states on change: %v, want InActive then Running", got)
		}
		before := rec.count()
		time.Sleep(10*time.Second + time.Millisecond)
		synctest.Wait()
		if rec.count() != before+1 {
			t.Errorf("periodic POSTs after one interval: %d, want 1 (one loaded group)", rec.count()-before)
		}
		ev := <-c.Events()
		if s, ok := ev.Stats(); !ok || s.Dials != 50 {
			t.Errorf("periodic state counters %+v (%v), want 50 dials after 10 s progressive", s, ok)
		}
		if !strings.Contains(rec.bodies[0], `"GSW_CAMPAIGN_GROUP_NAME":"Callbacks@Collections Team"`) {
			t.Errorf("state POST lacks the documented campaign group name: %s", rec.bodies[0])
		}
	})
}

func TestAFailedStatePOSTIsNotRetried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sim, c := newPair(t, ocssim.Default())
		rec := &recorder{status: http.StatusInternalServerError}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go sim.ReportStates(ctx, "http://sequencer.test/ocs-states", time.Hour, &http.Client{Transport: inMemory{rec}})
		synctest.Wait()
		c.Request(ctx, ocs.NewLoad(tg(103, 732), ocs.Pacing{DialMode: ocs.DialModeProgress}, nil))
		time.Sleep(time.Minute)
		synctest.Wait()
		if rec.count() != 1 {
			t.Errorf("POSTs of one state change answered 500: %d, want exactly 1", rec.count())
		}
	})
}

func TestTheStatesHandlerRefusesOnlyWhatNamesNoCampaignGroup(t *testing.T) {
	c, _ := ocshttp.New("http://ocs.test", ocshttp.Options{CampaignGroups: simGroups()})
	defer c.Close()
	h := c.StatesHandler()
	for _, tc := range []struct {
		method, body string
		want         int
	}{
		{"GET", "", http.StatusMethodNotAllowed},
		{"POST", "{", http.StatusBadRequest},
		{"POST", `{"GSW_CAMPAIGN_GROUP_STATUS":"Running","GSW_TENANT_NAME":"Environment"}`, http.StatusBadRequest},
		{"POST", `{"GSW_CAMPAIGN_GROUP_DBID":1,"GSW_CAMPAIGN_GROUP_STATUS":"CampaignRunning"}`, http.StatusNoContent},
		{"POST", `{"GSW_CAMPAIGN_GROUP_NAME":"Nobody@Nowhere","GSW_CAMPAIGN_GROUP_STATUS":"Dancing"}`, http.StatusNoContent},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(tc.method, "/ocs-states", strings.NewReader(tc.body)))
		if rec.Code != tc.want {
			t.Errorf("%s %s: %d, want %d", tc.method, tc.body, rec.Code, tc.want)
		}
	}
	select {
	case ev := <-c.Events():
		t.Errorf("an unmapped campaign group produced an event: %+v", ev)
	default:
	}
}

func TestAStatePOSTReadInPartStillArrivesAndIsLoggedAtWarn(t *testing.T) {
	var logs bytes.Buffer
	c, _ := ocshttp.New("http://ocs.test", ocshttp.Options{CampaignGroups: simGroups(),
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	defer c.Close()
	rec := httptest.NewRecorder()
	body := `{"GSW_CAMPAIGN_GROUP_DBID":5101.0,"GSW_CAMPAIGN_GROUP_STATUS":"CampaignStopped","GSW_DIAL_MODE":"fast",
		"GSW_STAT_HIT_RATIO":{"list":0.3},"GSW_STAT_BUSY_FACTOR":"0.85","GSW_NEW_IN_9_0":true}`
	c.StatesHandler().ServeHTTP(rec, httptest.NewRequest("POST", "/ocs-states", strings.NewReader(body)))
	if rec.Code != http.StatusNoContent {
		t.Fatalf("HTTP %d %s, want 204", rec.Code, rec.Body)
	}
	select {
	case ev := <-c.Events():
		if ev.CampaignDBID != 101 || ev.GroupDBID != 732 || ev.GroupCampStatus != ocs.StatusInActive ||
			ev.Has&ocs.AttrDialMode != 0 || ev.Rates.Has != ocs.RateBusyFactor || ev.Rates.BusyFactor != 0.85 {
			t.Errorf("event %+v", ev)
		}
	default:
		t.Fatal("a partly readable state POST produced no event")
	}
	l := logs.String()
	if !strings.Contains(l, "level=WARN") || !strings.Contains(l, "GSW_DIAL_MODE: want a number") || !strings.Contains(l, "GSW_STAT_HIT_RATIO") {
		t.Errorf("log does not say what was skipped: %s", l)
	}
	if strings.Contains(l, "GSW_NEW_IN_9_0") {
		t.Errorf("an unknown key was reported as skipped: %s", l)
	}
}

func TestAnAnswerInAnotherSpellingIsReadAsTheSameAnswer(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		io.WriteString(w, `{"GSW_CAMPAIGN_GROUP_STATUS":"CampaignRunning","GSW_DIAL_MODE":"1","GSW_OPTIMIZE_BY":1.0,
			"GSW_OPTIMIZE_GOAL":80,"GSW_STAT_OVERDIAL_RATE":0.02,"GSW_ERROR":"0","GSW_REQUEST_ID":"abc"}`)
	}))
	defer srv.Close()
	c, _ := ocshttp.New(srv.URL, ocshttp.Options{CampaignGroups: simGroups()})
	defer c.Close()
	ans, err := c.Request(context.Background(), ocs.NewStartDialing(tg(101, 732), ocs.Pacing{DialMode: ocs.DialModePredict}, nil))
	if err != nil {
		t.Fatal(err)
	}
	if ans.Type != ocs.EvDialingStarted || ans.GroupCampStatus != ocs.StatusRunning || ans.DialMode != ocs.DialModePredict ||
		ans.OptimizeGoal != 80 || ans.Rates.OverdialRate != 0.02 {
		t.Errorf("answer %+v", ans)
	}
}
