package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sequencer-dev/sequencer/api"
	"github.com/sequencer-dev/sequencer/reconcile"
	"github.com/sequencer-dev/sequencer/specs"
	"github.com/sequencer-dev/sequencer/store"
)

// TestARealDaemonRunsASequenceWithinASecondOfItsPlan runs `sequencer run`
// against `sequencer ocs-sim` with an instant unload, on the wall clock: a
// three-item sequence with sleeps whose last item the calling window
// pauses. Every event of its history is within 1 s of `sequencer plan`
// (--unload-time 0s) from the instant the run started.
func TestARealDaemonRunsASequenceWithinASecondOfItsPlan(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a daemon for about two minutes of wall-clock time")
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "sim.json")
	os.WriteFile(cfg, []byte(`{"drainTime": "0s"}`), 0o644)
	simAddr := freeAddr(t)
	background(t, "ocs-sim", "--listen", simAddr, "--config", cfg, "--records", "1000000", "--log-format", "json")

	// The window opens at the next whole minute at least 10 s away and
	// closes a minute later, while the third item dials.
	open := time.Now().UTC().Add(10 * time.Second).Truncate(time.Minute).Add(time.Minute)
	closeAt := open.Add(time.Minute)
	specDir := filepath.Join(dir, "specs")
	os.Mkdir(specDir, 0o755)
	os.WriteFile(filepath.Join(specDir, "paced.yaml"), []byte(fmt.Sprintf(`apiVersion: sequencer/v1
kind: CampaignSequence
metadata: {name: paced}
spec:
  timeZone: UTC
  window: {from: "%s", to: "%s"}
  items:
    - {name: one,   campaignDBID: 101, groupDBID: 732, dialMode: progressive, stopAt: {time: "+10s"}}
    - {name: two,   campaignDBID: 102, groupDBID: 732, dialMode: progressive, stopAt: {time: "+20s"}, sleepBeforeNextStart: 5s}
    - {name: three, campaignDBID: 103, groupDBID: 732, dialMode: progressive, stopAt: {time: "+30s"}, sleepBeforeNextStart: 5s}
`, open.Format("15:04"), closeAt.Format("15:04"))), 0o644)
	if code, out, errs := runCmd(t, "validate", specDir); code != 0 {
		t.Fatalf("the spec is invalid: %s %s", out, errs)
	}
	url := startDaemon(t, "--specs", specDir, "--data", filepath.Join(dir, "data"), "--ocs", "bridge://"+simAddr)

	seq := specs.LoadDir(specDir).Sequences["paced"]
	history := func() []store.Event {
		resp, err := http.Get(url + "/api/v1/sequences/paced/history?since=1h&limit=1000")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var doc struct {
			Events []api.HistoryEvent `json:"events"`
		}
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatalf("history: %v: %s", err, b)
		}
		var out []store.Event
		for _, e := range doc.Events {
			out = append(out, store.Event{Sequence: "paced", At: e.At, Kind: e.Kind, Run: e.Run, Item: e.Item, Message: e.Message, Fields: e.Fields})
		}
		return out
	}
	ended := func(evs []store.Event) bool {
		for _, e := range evs {
			if e.Kind == "run-end" {
				return true
			}
		}
		return false
	}
	var hist []store.Event
	deadline := time.Now().Add(time.Until(closeAt) + time.Minute)
	for hist = history(); !ended(hist) && time.Now().Before(deadline); hist = history() {
		time.Sleep(500 * time.Millisecond)
	}
	ran := reconcile.PlanEvents(map[string]*specs.Sequence{"paced": seq}, hist)
	if len(ran) == 0 || ran[0].Action != "sequence-start" || !ended(hist) {
		t.Fatalf("the run did not start and end: %+v", ran)
	}
	code, out, errs := runCmd(t, "plan", "--from", ran[0].At.Format(time.RFC3339Nano), "--for", "10m", "--unload-time", "0s", "--format", "json", specDir)
	if code != 0 {
		t.Fatalf("plan: %d %s", code, errs)
	}
	var doc struct {
		Events []struct {
			At     time.Time `json:"at"`
			Action string    `json:"action"`
			Item   string    `json:"item"`
		} `json:"events"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	var planned, got []string
	for _, e := range doc.Events {
		planned = append(planned, e.Action+" "+e.Item)
	}
	for _, e := range ran {
		got = append(got, string(e.Action)+" "+e.Item)
	}
	want := "sequence-start ,item-start one,item-stop one,item-start two,item-stop two,item-start three,window-pause three,item-stop three,sequence-end "
	if strings.Join(planned, ",") != want || strings.Join(got, ",") != want {
		t.Fatalf("events:\nplan %s\nrun  %s\nwant %s", strings.Join(planned, ","), strings.Join(got, ","), want)
	}
	for i, e := range ran {
		if d := e.At.Sub(doc.Events[i].At); d > time.Second || d < -time.Second {
			t.Errorf("%s %s ran at %s, planned %s (%s off)", e.Action, e.Item, e.At.Format(time.StampMilli), doc.Events[i].At.Format(time.StampMilli), d)
		}
	}
}

// TestPlanServerAndStatusShowTheETAOfARunningSequence asks a running
// daemon for a sequence's projection: `plan --server` lists what remains of
// the run and when it ends, and `status NAME` adds that end.
func TestPlanServerAndStatusShowTheETAOfARunningSequence(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a daemon")
	}
	dir := t.TempDir()
	specDir := filepath.Join(dir, "specs")
	os.Mkdir(specDir, 0o755)
	os.WriteFile(filepath.Join(specDir, "long.yaml"), []byte(`apiVersion: sequencer/v1
kind: CampaignSequence
metadata: {name: long}
spec:
  items:
    - {name: first,  campaignDBID: 101, groupDBID: 732, dialMode: progressive, stopAt: {time: "+1h"}}
    - {name: second, campaignDBID: 102, groupDBID: 732, dialMode: progressive, stopAt: {time: "+30m"}, sleepBeforeNextStart: 10m}
`), 0o644)
	url := startDaemon(t, "--specs", specDir, "--data", filepath.Join(dir, "data"))
	var e reconcile.ETA
	waitFor(t, "the first item to dial", func() bool {
		code, out, _ := runCmd(t, "plan", "--server", url, "--format", "json", "long")
		return code == 0 && json.Unmarshal([]byte(out), &e) == nil && e.Item == "first" && len(e.Events) == 4
	})
	if e.EndEstimate || e.End.Sub(e.At) < time.Hour+40*time.Minute || e.End.Sub(e.At) > time.Hour+41*time.Minute {
		t.Errorf("the run ends %s after the projection (estimate %v), want 1h40m and the drains", e.End.Sub(e.At), e.EndEstimate)
	}
	code, out, errs := runCmd(t, "plan", "--server", url, "long")
	if code != 0 || !strings.Contains(out, "run long@") || !regexp.MustCompile(`item-start +second`).MatchString(out) || !strings.Contains(out, "sequence-end") {
		t.Errorf("plan --server: %d\n%s%s", code, out, errs)
	}
	if code, out, errs := runCmd(t, "status", "long", "--server", url); code != 0 || !strings.Contains(out, "ETA: run long@") {
		t.Errorf("status: %d\n%s%s", code, out, errs)
	}
	if code, _, errs := runCmd(t, "plan", "--server", url, "nope"); code != 1 || !strings.Contains(errs, "sequence_not_found") {
		t.Errorf("unknown sequence: exit %d %s", code, errs)
	}
}
