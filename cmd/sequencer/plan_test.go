package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The -update flag may be defined by another test file of this package.
func init() {
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite testdata/*.golden")
	}
}

func updating() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

func runPlan(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var o, e bytes.Buffer
	err := run(context.Background(), append([]string{"plan"}, args...), &o, &e)
	code = 0
	if err != nil {
		code = 1
		var ee *exitError
		if errors.As(err, &ee) {
			code = ee.code
		}
	}
	return o.String(), e.String(), code
}

func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if updating() {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Fatalf("%s differs (run with -update to accept):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// The week of 2026-10-29 holds the US fall-back (Sunday 1 November).
func TestPlanOfTheExamplesOverTheUSFallBackWeekMatchesGolden(t *testing.T) {
	examples := filepath.Join("..", "..", "examples")
	for _, c := range []struct{ format, golden string }{{"text", "plan-text.golden"}, {"json", "plan-json.golden"}} {
		t.Run(c.format, func(t *testing.T) {
			out, errOut, code := runPlan(t, "--from", "2026-10-29T00:00:00Z", "--for", "168h", "--format", c.format, examples)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			checkGolden(t, c.golden, out)
		})
	}
}

func TestPlanJSONHasUTCInstantsAndSortedEvents(t *testing.T) {
	out, errOut, code := runPlan(t, filepath.Join("..", "..", "examples"), "--format", "json", "--from", "2026-10-29T00:00:00Z", "--for", "168h")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var doc struct {
		Events []struct {
			At       string `json:"at"`
			Sequence string `json:"sequence"`
			Action   string `json:"action"`
			Item     string `json:"item"`
			Reason   string `json:"reason"`
		} `json:"events"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if len(doc.Events) == 0 {
		t.Fatal("no events for the examples over a week")
	}
	actions := map[string]bool{"sequence-start": true, "item-start": true, "item-stop": true, "window-pause": true, "window-resume": true, "sequence-end": true, "skip": true}
	var prev time.Time
	for _, e := range doc.Events {
		at, err := time.Parse(time.RFC3339, e.At)
		if err != nil || !strings.HasSuffix(e.At, "Z") {
			t.Fatalf("at %q is not RFC 3339 UTC", e.At)
		}
		if at.Before(prev) {
			t.Fatalf("events not sorted at %s", e.At)
		}
		prev = at
		if !actions[e.Action] || e.Sequence == "" {
			t.Fatalf("bad event %+v", e)
		}
		if (e.Action == "item-stop" || e.Action == "skip" || e.Action == "window-pause") && e.Reason == "" {
			t.Fatalf("%s without a reason: %+v", e.Action, e)
		}
	}
}

func TestPlanTextPrintsLocalTimesWithZoneAbbreviations(t *testing.T) {
	out, errOut, code := runPlan(t, "--from", "2026-10-29T00:00:00Z", "--for", "168h", filepath.Join("..", "..", "examples"))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	line := regexp.MustCompile(`^(Mon|Tue|Wed|Thu|Fri|Sat|Sun) \d{4}-\d\d-\d\d \d\d:\d\d(:\d\d)? [A-Z0-9+-]+ +\S+ +(sequence-start|item-start|item-stop|window-pause|window-resume|sequence-end|skip)\b`)
	for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if !line.MatchString(l) {
			t.Fatalf("line %q is not `Day date time ZONE  sequence  action ...`", l)
		}
	}
}

func TestPlanOfInvalidSpecsPrintsProblemsLikeValidateAndExits1(t *testing.T) {
	_, errOut, code := runPlan(t, filepath.Join("testdata", "plan-invalid"))
	if code != 1 {
		t.Fatalf("exit %d, want 1; stderr %s", code, errOut)
	}
	if !regexp.MustCompile(`(?m)^testdata/plan-invalid/bad\.yaml:\d+:\d+: `).MatchString(errOut) {
		t.Fatalf("stderr does not show path:line:col: problems:\n%s", errOut)
	}
}

func TestPlanUsageErrorsExit2(t *testing.T) {
	for _, args := range [][]string{
		{"--from", "yesterday"},
		{"--for", "-1h"},
		{"--for", "soon"},
		{"--format", "xml"},
		{"--no-such-flag"},
	} {
		if _, errOut, code := runPlan(t, args...); code != 2 {
			t.Errorf("plan %v: exit %d, want 2 (%s)", args, code, errOut)
		}
	}
}

func TestPlanHelpExits0(t *testing.T) {
	if _, errOut, code := runPlan(t, "-h"); code != 0 || !strings.Contains(errOut, "usage: sequencer plan") {
		t.Fatalf("exit %d: %s", code, errOut)
	}
}
