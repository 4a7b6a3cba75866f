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
