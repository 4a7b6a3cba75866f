package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/sequencer-dev/sequencer/reconcile"
)

// The dashboard's tests drive the Debian chromium package headless against
// the real daemon on the embedded simulator. A machine without chromium
// fails them, with the command that fixes it: a skipped browser test would
// let a broken page through CI.

// browser starts headless chromium for one test or benchmark and returns
// a tab's context.
func browser(tb testing.TB) context.Context {
	tb.Helper()
	path, err := chromiumPath(exec.LookPath, "/usr/bin/chromium")
	if err != nil {
		tb.Fatal(err)
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(path),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(tb.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	ctx, cancel := chromedp.NewContext(actx)
	tb.Cleanup(func() { cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil {
		tb.Fatalf("start chromium %s: %v", path, err)
	}
	return ctx
}

// chromiumPath finds chromium on PATH, else at the first of fallbacks that
// exists, else says how to install it.
func chromiumPath(look func(string) (string, error), fallbacks ...string) (string, error) {
	path, err := look("chromium")
	if err == nil {
		return path, nil
	}
	for _, f := range fallbacks {
		if _, serr := os.Stat(f); serr == nil {
			return f, nil
		}
	}
	return "", fmt.Errorf("chromium not found (%v): the dashboard's browser tests need it; install it with `apt-get install chromium` (Debian)", err)
}

func TestWithoutChromiumTheBrowserTestsSayHowToInstallIt(t *testing.T) {
	_, err := chromiumPath(func(string) (string, error) { return "", exec.ErrNotFound }, filepath.Join(t.TempDir(), "chromium"))
	if err == nil || !strings.Contains(err.Error(), "apt-get install chromium") {
		t.Errorf("without chromium: %v", err)
	}
}

// do runs browser steps with a deadline, failing the test with what was
// being done.
func do(tb testing.TB, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		tb.Fatalf("%s: %v", what, err)
	}
}

func eval[T any](tb testing.TB, ctx context.Context, js string) T {
	tb.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js))
	if err != nil {
		tb.Fatalf("evaluate %s: %v", js, err)
	}
	return v
}

// until waits for a JavaScript predicate to hold in the page.
func until(tb testing.TB, ctx context.Context, what, js string) {
	tb.Helper()
	if _, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](js, chromedp.WithPollingTimeout(20*time.Second))); err != nil {
		tb.Fatalf("waiting for %s (%s): %v", what, js, err)
	}
}

// apiGet decodes a GET of the daemon's API.
func apiGet(tb testing.TB, url, token string, v any) {
	tb.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		tb.Fatalf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		tb.Fatalf("GET %s: %v: %s", url, err, b)
	}
}

func screenshot(tb testing.TB, ctx context.Context, name string) {
	tb.Helper()
	if !updating() {
		return
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		tb.Fatalf("screenshot: %v", err)
	}
	if err := os.WriteFile(filepath.Join("..", "..", "docs", name), png, 0o644); err != nil {
		tb.Fatal(err)
	}
}

func TestTheDashboardListsTheExamplesAndDrawsTheDemosItemWhereItStarted(t *testing.T) {
	dir := t.TempDir()
	url := startDaemon(t, "--specs", "../../examples", "--data", filepath.Join(dir, "data"))
	ctx := browser(t)
	do(t, ctx, "open the overview", chromedp.Navigate(url+"/"))
	until(t, ctx, "the example sequences", `document.querySelector('#seq-table')?.dataset.rows === '3'`)
	names := eval[[]string](t, ctx, `[...document.querySelectorAll('#seq-table tbody tr')].map(r => r.dataset.name)`)
	if strings.Join(names, " ") != "demo nightly-collections weekly-sales-follow-up" {
		t.Errorf("overview lists %q", names)
	}
	until(t, ctx, "the demo dialing, with its counters", `(r => r && r.textContent.includes('dialing') && /\d+ \/ \d+/.test(r.textContent))(document.querySelector('#seq-table tr[data-name="demo"]'))`)
	screenshot(t, ctx, "dashboard.png")
	// Live updates to one row leave the keyboard focus on another alone.
	eval[bool](t, ctx, `document.querySelector('#seq-table tr[data-name="nightly-collections"] a').focus(),
		window.demoBefore = document.querySelector('#seq-table tr[data-name="demo"]'), true`)
	until(t, ctx, "the demo's row to change", `document.querySelector('#seq-table tr[data-name="demo"]') !== window.demoBefore`)
	if got := eval[string](t, ctx, `document.activeElement.tagName + ' ' + document.activeElement.textContent.trim().slice(0, 40)`); got != "A nightly-collections" {
		t.Errorf("after a live update the focus is on %q, want the nightly-collections link", got)
	}
	// The demo runs at once: wait for its first item to have started and
	// ended, so that the timeline has a whole bar to draw.
	var hist struct {
		Events []struct {
			At   time.Time `json:"at"`
			Kind string    `json:"kind"`
			Item string    `json:"item"`
		} `json:"events"`
	}
	var started time.Time
	waitFor(t, "the demo's first item to end", func() bool {
		apiGet(t, url+"/api/v1/sequences/demo/history?limit=1000", "", &hist)
		ended := false
		for _, e := range hist.Events {
			if e.Item == "warm-up" && e.Kind == "item-start" {
				started = e.At
			}
			ended = ended || (e.Item == "warm-up" && e.Kind == "item-end")
		}
		return ended
	})
	until(t, ctx, "the overview to show the demo past its first item",
		`document.querySelector('#seq-table tr[data-name="demo"]')?.textContent.includes('drain') ||
		 document.querySelector('#seq-table tr[data-name="demo"]')?.textContent.includes('Completed')`)

	do(t, ctx, "open the timeline", chromedp.Navigate(url+"/#/timeline"))
	until(t, ctx, "the demo's warm-up bar", `document.querySelector('#gantt rect.bar[data-item="warm-up"]')`)
	from := eval[string](t, ctx, `document.querySelector('#gantt rect.bar[data-item="warm-up"]').dataset.from`)
	if got, err := time.Parse(time.RFC3339Nano, from); err != nil || !got.Equal(started.Truncate(time.Millisecond)) {
		t.Errorf("warm-up bar starts at %s, history says %s", from, started)
	}
	// It started seconds ago, so it is drawn where "now" is, give or take
	// a pixel (48 h across the chart).
	gap := eval[float64](t, ctx, `Math.abs(document.querySelector('#gantt rect.bar[data-item="warm-up"]').x.baseVal.value -
		document.querySelector('#gantt line.now').x1.baseVal.value)`)
	if gap > 3 {
		t.Errorf("warm-up bar is %.1f px from the now line; it started seconds ago", gap)
	}
	screenshot(t, ctx, "dashboard-timeline.png")
	// Future items come from the daemon's projection and nowhere else.
	resp, err := http.Get(url + "/api/v1/sequences/nightly-collections/plan")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		until(t, ctx, "the page to say it has no projection", `document.querySelector('main').textContent.includes('No projection')`)
		if n := eval[int](t, ctx, `document.querySelectorAll('#gantt rect.bar.planned, #gantt rect.bar.estimate').length`); n != 0 {
			t.Errorf("with no projection the timeline drew %d future bars", n)
		}
	} else {
		// Whether its next start falls within 24 h depends on the
		// weekday; that the page took the projection does not.
		until(t, ctx, "the chart", `document.querySelector('#gantt')`)
		if note := eval[string](t, ctx, `document.querySelector('main p.hint').textContent`); strings.Contains(note, "nightly-collections") || strings.Contains(note, "any sequence") {
			t.Errorf("the daemon serves a projection, yet the page says %q", note)
		}
	}
	// The shape of `sequencer plan --format json`, estimates marked: an
	// estimate is drawn as one, an item with no projected end runs off the
	// chart, and time outside the calling window is shaded.
	got := eval[[]string](t, ctx, `bars([], [
		{at: '2030-01-01T10:00:00Z', sequence: 's', action: 'item-start', item: 'a', bound: 'until 20:30'},
		{at: '2030-01-01T11:00:00Z', sequence: 's', action: 'window-pause'},
		{at: '2030-01-01T12:00:00Z', sequence: 's', action: 'window-resume'},
		{at: '2030-01-01T13:00:00Z', sequence: 's', action: 'item-stop', item: 'a', estimate: true},
		{at: '2030-01-01T14:00:00Z', sequence: 's', action: 'item-start', item: 'b', reason: 'ends on a count'}
	], Date.now()).map(b => [b.item || '-', b.cls, new Date(b.from).toISOString(), b.to === null ? 'open' : new Date(b.to).toISOString()].join(' '))`)
	want := []string{
		"- closed 2030-01-01T11:00:00.000Z 2030-01-01T12:00:00.000Z",
		"a estimate 2030-01-01T10:00:00.000Z 2030-01-01T13:00:00.000Z",
		"b estimate 2030-01-01T14:00:00.000Z open",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("bars from a plan:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	do(t, ctx, "open the campaign groups", chromedp.Navigate(url+"/#/groups"))
	until(t, ctx, "the demo's campaign group", `[...document.querySelectorAll('#groups tbody tr')].some(r => r.cells[0].textContent === '104' && r.cells[1].textContent === '733')`)
	do(t, ctx, "open the DNC lists", chromedp.Navigate(url+"/#/dnc"))
	until(t, ctx, "the complaints list", `document.querySelector('#dnc tbody tr th')?.textContent === 'complaints'`)

	// A phone: the overview turns into cards, with nothing wider than the
	// screen.
	do(t, ctx, "narrow the viewport", chromedp.EmulateViewport(390, 800), chromedp.Navigate(url+"/#/"))
	until(t, ctx, "the overview at phone width", `document.querySelector('#seq-table')?.dataset.rows === '3'`)
	if w := eval[float64](t, ctx, `document.documentElement.scrollWidth - window.innerWidth`); w > 0 {
		t.Errorf("at 390 px the page is %.0f px wider than the screen", w)
	}
}

func TestSuspendingFromTheDashboardTakesTheTokenAndChangesPhaseAndHistoryLive(t *testing.T) {
	dir := t.TempDir()
	specDir := longSpecDir(t, dir)
	const token = "dashboard-test-token-0123"
	tokenFile := filepath.Join(dir, "token")
	os.WriteFile(tokenFile, []byte(token+"\n"), 0o600)
	url := startDaemon(t, "--specs", specDir, "--data", filepath.Join(dir, "data"), "--token-file", tokenFile)
	status := func() reconcile.SequenceStatus {
		var st reconcile.SequenceStatus
		apiGet(t, url+"/api/v1/sequences/long", token, &st)
		return st
	}
	waitFor(t, "the sequence to be published", func() bool {
		req, _ := http.NewRequest("GET", url+"/api/v1/sequences/long", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	waitFor(t, "the item to dial", func() bool { return status().ItemState == "dialing" })

	ctx := browser(t)
	do(t, ctx, "open the dashboard", chromedp.Navigate(url+"/"))
	until(t, ctx, "the page to ask for the token", `!document.querySelector('#token-form').hidden`)
	if rows := eval[string](t, ctx, `document.querySelector('#seq-table').dataset.rows || ''`); rows != "" && rows != "0" {
		t.Errorf("the overview showed %s rows without the token", rows)
	}
	do(t, ctx, "give the token",
		chromedp.SetValue("#token-input", token), chromedp.SetValue("#by-input", "ana"),
		chromedp.Click(`#token-form button[type="submit"]`))
	until(t, ctx, "the sequence, dialing", `document.querySelector('#seq-table tr[data-name="long"]')?.textContent.includes('dialing')`)
	if stored := eval[string](t, ctx, `document.cookie`); stored != "" {
		t.Errorf("the page set cookies %q: the token belongs in sessionStorage only", stored)
	}

	// A change made elsewhere appears without a reload.
	eval[bool](t, ctx, `window.stillThisPage = true`)
	if code, out, errs := runCmd(t, "suspend", "long", "--server", url, "--reason", "from the CLI", "--token-file", tokenFile); code != 0 {
		t.Fatalf("suspend from the CLI: %d %s %s", code, out, errs)
	}
	until(t, ctx, "the live update to Suspended", `document.querySelector('#seq-table tr[data-name="long"] .phase')?.textContent === 'Suspended'`)
	waitFor(t, "the item to pause", func() bool { return status().ItemState == "paused" })
	if code, out, errs := runCmd(t, "resume", "long", "--server", url, "--token-file", tokenFile); code != 0 {
		t.Fatalf("resume from the CLI: %d %s %s", code, out, errs)
	}
	until(t, ctx, "the live update back to Running", `document.querySelector('#seq-table tr[data-name="long"] .phase')?.textContent === 'Running'`)
	waitFor(t, "the item to dial again", func() bool { return status().ItemState == "dialing" })
	if !eval[bool](t, ctx, `window.stillThisPage === true`) {
		t.Error("the page reloaded to show the change")
	}

	// The halt switch shows across the page while dialing is halted.
	if code, out, errs := runCmd(t, "halt", "--reason", "regulator call", "--server", url, "--token-file", tokenFile); code != 0 {
		t.Fatalf("halt: %d %s %s", code, out, errs)
	}
	waitFor(t, "the halt to pause the item", func() bool { return status().ItemState == "paused" })
	until(t, ctx, "the halt banner", `!document.querySelector('#halt').hidden && document.querySelector('#halt').textContent.includes('DIALING HALTED') && document.querySelector('#halt').textContent.includes('regulator call')`)
	if code, out, errs := runCmd(t, "unhalt", "--server", url, "--token-file", tokenFile); code != 0 {
		t.Fatalf("unhalt: %d %s %s", code, out, errs)
	}
	until(t, ctx, "the halt banner to go", `document.querySelector('#halt').hidden`)
	waitFor(t, "the item to dial after the halt", func() bool { return status().ItemState == "dialing" })

	// Suspend from the sequence's page, confirmed in the dialog.
	do(t, ctx, "suspend from the page",
		chromedp.Click(`#seq-table tr[data-name="long"] a`),
		chromedp.WaitVisible("#suspend-form"),
		chromedp.SetValue("#suspend-reason", "list audit"),
		chromedp.SetValue("#suspend-for", "2h"),
		chromedp.Click(`#suspend-form button[type="submit"]`),
		chromedp.WaitVisible("#confirm-ok"))
	if q := eval[string](t, ctx, `document.querySelector('#confirm-text').textContent`); !strings.Contains(q, "list audit") || !strings.Contains(q, "2h") {
		t.Errorf("the confirmation asks %q", q)
	}
	if st := status(); st.Suspended {
		t.Fatalf("suspended before the confirmation: %+v", st)
	}
	// The page lists the requests this spec version caused: the Load and
	// Start, then a Stop and a Start for each suspension and the halt.
	hash := status().SpecHash
	until(t, ctx, "the requests of this spec version", fmt.Sprintf(
		`[...document.querySelectorAll('details summary')].some(s => s.textContent === 'spec %s: 6 requests')`, hash[:min(12, len(hash))]))
	do(t, ctx, "confirm", chromedp.Click("#confirm-ok"))
	waitFor(t, "the API to show the suspension", func() bool { return status().Phase == reconcile.PhaseSuspended })
	if st := status(); st.SuspendedBy != "api:ana" {
		t.Errorf("suspended by %q, want api:ana (the name given on the page)", st.SuspendedBy)
	}
	// History is written off the loop by the recorder: the entry lands a
	// moment after the status shows the suspension.
	waitFor(t, "the history to record the page's suspension", func() bool {
		var hist struct {
			Events []struct{ Message string } `json:"events"`
		}
		apiGet(t, url+"/api/v1/sequences/long/history?limit=1000", token, &hist)
		for _, e := range hist.Events {
			if e.Message == "suspended by ana: list audit" {
				return true
			}
		}
		return false
	})
	until(t, ctx, "the page's history to show it", `document.querySelector('#history')?.textContent.includes('suspended by ana: list audit')`)

	// Cancelling asks nothing of the daemon; confirming resumes.
	do(t, ctx, "resume, then cancel", chromedp.Click("#resume"), chromedp.WaitVisible("#confirm-cancel"), chromedp.Click("#confirm-cancel"))
	time.Sleep(300 * time.Millisecond)
	if st := status(); !st.Suspended {
		t.Fatalf("a cancelled resume resumed: %+v", st)
	}
	do(t, ctx, "resume, confirmed", chromedp.Click("#resume"), chromedp.WaitVisible("#confirm-ok"), chromedp.Click("#confirm-ok"))
	waitFor(t, "the API to show the resume", func() bool { return !status().Suspended })
	until(t, ctx, "the page's history to show the resume", `document.querySelector('#history')?.textContent.includes('resumed by ana')`)

	// A condition in plain words, coloured: the file breaks, the
	// sequence keeps its last valid version.
	if err := os.WriteFile(filepath.Join(specDir, "long.yaml"), []byte("apiVersion: sequencer/v1\nkind: CampaignSequence\nmetadata: {name: long}\nspec: {itemz: []}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	until(t, ctx, "the SpecInvalid condition", `document.querySelector('main .cond-warn')?.textContent.startsWith('Spec file is invalid: the last valid version keeps running')`)
}

// benchSpecs writes n sequences that wait for a start next year, so the
// page has n rows and the simulator nothing to do.
func benchSpecs(b *testing.B, n int) string {
	dir := b.TempDir()
	var sb strings.Builder
	for i := range n {
		fmt.Fprintf(&sb, `---
apiVersion: sequencer/v1
kind: CampaignSequence
metadata: {name: seq-%04d, labels: {team: t%d}}
spec:
  start: {schedule: "0 3 1 1 *"}
  items:
    - {name: only, campaignDBID: 101, groupDBID: 732, dialMode: progressive, stopAt: {time: "+1h"}}
`, i, i%10)
	}
	if err := os.WriteFile(filepath.Join(dir, "many.yaml"), []byte(sb.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	return dir
}

// benchDashboard measures a full load of the overview: HTML, script, the
// event stream's first burst and the table drawn with every row.
func benchDashboard(b *testing.B, n int) {
	dir := benchSpecs(b, n)
	url := startDaemonB(b, "--specs", dir, "--data", filepath.Join(b.TempDir(), "data"))
	ctx := browser(b)
	want := fmt.Sprintf(`document.querySelector('#seq-table')?.dataset.rows === '%d'`, n)
	var inPage float64
	for b.Loop() {
		do(b, ctx, "load the overview", chromedp.Navigate(url+"/"))
		until(b, ctx, "every row", want)
		// The same, seen by the page: from navigation to the full table.
		inPage += eval[float64](b, ctx, `performance.getEntriesByName('sequences-rendered').pop().startTime`)
	}
	b.ReportMetric(inPage/float64(b.N), "page-ms/op")
}

func BenchmarkDashboardRenders1000Sequences(b *testing.B) { benchDashboard(b, 1000) }

// The baseline: the same page, the same daemon, 10 sequences.
func BenchmarkDashboardRenders10Sequences(b *testing.B) { benchDashboard(b, 10) }

// startDaemonB is startDaemon for a benchmark.
func startDaemonB(b *testing.B, args ...string) string {
	url, stop := startDaemonAt(b, freeAddrTB(b), args...)
	b.Cleanup(stop)
	return url
}

// startDaemonAt runs the daemon on addr until stop, which waits for it
// to end, and waits until it is ready.
func startDaemonAt(tb testing.TB, addr string, args ...string) (url string, stop func()) {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, append([]string{"run", "--listen", addr, "--log-format", "json"}, args...), io.Discard, io.Discard)
	}()
	stop = func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				tb.Errorf("daemon: %v", err)
			}
		case <-time.After(10 * time.Second):
			tb.Errorf("the daemon did not stop within 10 s")
		}
	}
	url = "http://" + addr
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if resp, err := http.Get(url + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return url, stop
			}
		}
		if time.Now().After(deadline) {
			stop()
			tb.Fatal("the daemon was not ready within 60 s")
		}
	}
}

func TestTheDashboardReconnectsByItselfWhenTheDaemonRestarts(t *testing.T) {
	dir := t.TempDir()
	addr := freeAddrTB(t)
	args := []string{"--specs", "../../examples", "--data", filepath.Join(dir, "data")}
	url, stop := startDaemonAt(t, addr, args...)
	ctx := browser(t)
	do(t, ctx, "open the overview", chromedp.Navigate(url+"/"))
	until(t, ctx, "the live stream", `document.querySelector('#live').textContent === 'live' && document.querySelector('#seq-table').dataset.rows === '3'`)
	eval[bool](t, ctx, `window.stillThisPage = true`)
	stop()
	until(t, ctx, "the page to notice", `document.querySelector('#live').textContent.startsWith('reconnecting')`)
	_, stop = startDaemonAt(t, addr, args...)
	defer stop()
	until(t, ctx, "the stream to be back", `document.querySelector('#live').textContent === 'live' && document.querySelector('#seq-table').dataset.rows === '3'`)
	if !eval[bool](t, ctx, `window.stillThisPage === true`) {
		t.Error("the page reloaded to reconnect")
	}
}

func freeAddrTB(tb testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
