package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runCmd(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	err := run(context.Background(), args, &out, &errb)
	return exitCode(err, &errb), out.String(), errb.String()
}

func TestValidateExitsZeroOnTheExamples(t *testing.T) {
	code, out, errs := runCmd(t, "validate", "../../examples")
	if code != 0 {
		t.Fatalf("exit %d: %s %s", code, out, errs)
	}
}

func TestValidateExitsOneWithSortedPositionedProblemsAndTwoOnUsage(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "b.yaml"), []byte("apiVersion: sequencer/v1\nkind: CampaignSequence\nmetadata: {name: b}\nspec:\n  colour: red\n  items: []\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "a.yaml"), []byte("apiVersion: sequencer/v1\nkind: Nope\n"), 0o644)
	code, out, _ := runCmd(t, "validate", dir)
	if code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	want := []string{
		filepath.Join(dir, "a.yaml") + `:2:7: kind: unknown kind "Nope" (want CampaignSequence, DoNotCallList or Halt)`,
		filepath.Join(dir, "b.yaml") + `:5:3: spec.colour: unknown field "colour"`,
		filepath.Join(dir, "b.yaml") + `:6:10: spec.items: want a non-empty list of items, got a list`,
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", out, strings.Join(want, "\n"))
	}
	code, out, _ = runCmd(t, "validate", "--format", "json", dir)
	var ps []map[string]any
	if code != 1 || json.Unmarshal([]byte(out), &ps) != nil || len(ps) != 3 || ps[0]["line"] != float64(2) || ps[0]["severity"] != "error" {
		t.Errorf("json: exit %d %s", code, out)
	}
	if code, _, _ := runCmd(t, "validate", "--format", "xml"); code != 2 {
		t.Errorf("bad --format exit %d, want 2", code)
	}
	if code, _, _ := runCmd(t, "validate", filepath.Join(dir, "missing")); code != 2 {
		t.Errorf("missing path exit %d, want 2", code)
	}
}

func TestValidateRefusesAFileOverTheSizeLimit(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "big.yaml")
	os.WriteFile(big, nil, 0o644)
	os.Truncate(big, 52428800) // sparse: nothing to write, nothing read
	code, out, _ := runCmd(t, "validate", dir)
	if want := big + ":1:1: file is 52428800 bytes, over the 4 MiB limit (--max-spec-bytes)\n"; code != 1 || out != want {
		t.Errorf("default limit: exit %d %q, want 1 %q", code, out, want)
	}
	small := filepath.Join(t.TempDir(), "small.yaml")
	os.WriteFile(small, []byte("apiVersion: sequencer/v1\n"+strings.Repeat("# padding\n", 200)), 0o644)
	code, out, _ = runCmd(t, "validate", "--max-spec-bytes", "1KiB", small)
	if code != 1 || !strings.Contains(out, "small.yaml:1:1: file is 2025 bytes, over the 1 KiB limit (--max-spec-bytes)") {
		t.Errorf("--max-spec-bytes 1KiB: exit %d %s", code, out)
	}
	if code, _, errs := runCmd(t, "validate", "--max-spec-bytes", "0", small); code != 2 || !strings.Contains(errs, "want a positive byte count") {
		t.Errorf("--max-spec-bytes 0: exit %d %s", code, errs)
	}
}

func TestValidatePrintsItsSummaryOnStdoutInPlainEnglishAndCountsHalts(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "one.yaml"), []byte("apiVersion: sequencer/v1\nkind: CampaignSequence\nmetadata: {name: one}\nspec:\n  items:\n    - {name: a, campaignDBID: 101, groupDBID: 732, dialMode: predictive, stopAt: {time: \"+1h\"}}\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "halt.yaml"), []byte("apiVersion: sequencer/v1\nkind: Halt\nmetadata: {name: stop}\nspec: {reason: audit}\n"), 0o644)
	code, out, errs := runCmd(t, "validate", dir)
	want := "1 sequence, 0 DoNotCallLists (0 entries), 1 Halt (dialing stays halted while it exists): valid\n"
	if code != 0 || out != want {
		t.Errorf("exit %d stdout %q stderr %q, want %q on stdout", code, out, errs, want)
	}
}

func TestValidateReportsADuplicateNameAtTheNameLineOfEachFile(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.yaml"), filepath.Join(dir, "b.yaml")
	os.WriteFile(a, []byte("apiVersion: sequencer/v1\nkind: CampaignSequence\nmetadata:\n  name: twin\nspec:\n  items:\n    - {name: x, campaignDBID: 101, groupDBID: 1, dialMode: predictive, stopAt: {dials: 5}}\n"), 0o644)
	os.WriteFile(b, []byte("# a copy, edited\n\napiVersion: sequencer/v1\nkind: CampaignSequence\nmetadata:\n  labels: {team: b}\n  name: twin\nspec:\n  items:\n    - {name: x, campaignDBID: 102, groupDBID: 1, dialMode: predictive, stopAt: {dials: 5}}\n"), 0o644)
	code, out, _ := runCmd(t, "validate", dir)
	want := a + `:4:9: metadata.name: duplicate sequence name "twin": also defined at ` + b + ":7:9\n" +
		b + `:7:9: metadata.name: duplicate sequence name "twin": also defined at ` + a + ":4:9\n"
	if code != 1 || out != want {
		t.Errorf("exit %d\n%s\nwant 1\n%s", code, out, want)
	}
}

// oneShotSpec is a one-shot on campaign group 101/732 that dials for two
// hours from at; extra is more spec.start fields.
func oneShotSpec(name, at, extra string) string {
	return "apiVersion: sequencer/v1\nkind: CampaignSequence\nmetadata: {name: " + name + "}\nspec:\n  timeZone: America/New_York\n" +
		"  start: {at: \"" + at + "\"" + extra + "}\n  items:\n    - {name: a, campaignDBID: 101, groupDBID: 732, dialMode: predictive, stopAt: {time: \"+2h\"}}\n"
}

func TestValidateAcceptsASharedCampaignGroupWhoseRunsCannotMeet(t *testing.T) {
	dir := t.TempDir()
	nightly, _ := os.ReadFile("../../examples/nightly-collections.yaml") // weekdays 08:00-21:00 New York, on 101/732
	os.WriteFile(filepath.Join(dir, "nightly.yaml"), nightly, 0o644)
	// Ran in 2020 and could start no later than 30 minutes after its time.
	os.WriteFile(filepath.Join(dir, "spring-2020.yaml"), []byte(oneShotSpec("spring-2020", "2020-03-02T10:00:00-05:00", ", startingDeadline: 30m")), 0o644)
	// A Saturday: outside nightly's window.
	os.WriteFile(filepath.Join(dir, "saturday.yaml"), []byte(oneShotSpec("saturday", "2030-06-01T10:00:00-04:00", "")), 0o644)
	code, out, errs := runCmd(t, "validate", dir)
	if code != 0 || out != "3 sequences, 0 DoNotCallLists (0 entries): valid\n" {
		t.Errorf("exit %d\n%s%s", code, out, errs)
	}
}

func TestValidateRefusesASharedCampaignGroupWhoseRunsCanMeetAndSaysWhereAndWhen(t *testing.T) {
	dir := t.TempDir()
	nightly, _ := os.ReadFile("../../examples/nightly-collections.yaml")
	os.WriteFile(filepath.Join(dir, "nightly.yaml"), nightly, 0o644)
	// A Friday at 19:00: inside nightly's window.
	friday := filepath.Join(dir, "friday.yaml")
	os.WriteFile(friday, []byte(oneShotSpec("friday", "2030-06-07T19:00:00-04:00", "")), 0o644)
	code, out, _ := runCmd(t, "validate", dir)
	want := filepath.Join(dir, "nightly.yaml") + `:30:7: campaignDBID: campaign group 101/732 is also used by sequence "friday" (` + friday +
		`:8:7) and their runs can overlap: both can dial on Fri 2030-06-07 19:00 EDT; give them calling windows or start times that never meet, or use one sequence` + "\n"
	if code != 1 || out != want {
		t.Errorf("exit %d\n%s\nwant 1\n%s", code, out, want)
	}
}

func TestValidateWarnsWhenAPastOneShotWithoutDeadlineWouldMeetAnotherSequenceIfItHasNotRun(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "spring-2020.yaml"), []byte(oneShotSpec("spring-2020", "2020-03-02T10:00:00-05:00", "")), 0o644)
	hourly := filepath.Join(dir, "hourly.yaml")
	os.WriteFile(hourly, []byte("apiVersion: sequencer/v1\nkind: CampaignSequence\nmetadata: {name: hourly}\nspec:\n  start: {schedule: \"@hourly\"}\n  items:\n    - {name: a, campaignDBID: 101, groupDBID: 732, dialMode: predictive, stopAt: {dials: 50}}\n"), 0o644)
	code, out, _ := runCmd(t, "validate", dir)
	lines := strings.Split(out, "\n")
	prefix := filepath.Join(dir, "spring-2020.yaml") + `:8:7: campaignDBID: warning: campaign group 101/732 is also used by sequence "hourly" (` + hourly +
		`:7:7); their runs overlap only if "spring-2020" (at 2020-03-02T10:00:00-05:00, no startingDeadline) has not run yet: its instant has passed, so it would start as soon as it is loaded (both can dial on `
	if code != 0 || len(lines) != 3 || !strings.HasPrefix(lines[0], prefix) || !strings.HasSuffix(lines[0], "); set startingDeadline, or delete a one-shot that has run") ||
		lines[1] != "2 sequences, 0 DoNotCallLists (0 entries): valid" {
		t.Errorf("exit %d\n%s\nwant 0, a line starting\n%s", code, out, prefix)
	}
}
