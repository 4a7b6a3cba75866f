package specs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestADuplicateNameAcrossFilesIsReportedAtTheNameInEachFile(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.yaml"), filepath.Join(dir, "b.yaml")
	os.WriteFile(a, []byte(spec("same", 101, 10)), 0o644)
	// The name sits on another line and column in b, so a position that
	// is the document's or a copy of a's shows.
	os.WriteFile(b, []byte("# moved down\napiVersion: sequencer/v1\nkind: CampaignSequence\nmetadata:\n  labels: {team: x}\n  name:   same\nspec:\n  items:\n    - {name: a, campaignDBID: 102, groupDBID: 732, dialMode: predictive, stopAt: {dials: 10}}\n"), 0o644)
	s := LoadDir(dir)
	var got []string
	for _, p := range s.Problems {
		got = append(got, p.String())
	}
	want := []string{
		a + `:3:18: metadata.name: duplicate sequence name "same": also defined at ` + b + ":6:11",
		b + `:6:11: metadata.name: duplicate sequence name "same": also defined at ` + a + ":3:18",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestASharedCampaignGroupIsAnErrorUnlessTheWindowsNeverMeet(t *testing.T) {
	dir := t.TempDir()
	win := func(name, from, to string) string {
		return "apiVersion: sequencer/v1\nkind: CampaignSequence\nmetadata: {name: " + name + "}\nspec:\n  window: {from: \"" + from + "\", to: \"" + to + "\"}\n  items:\n    - {name: a, campaignDBID: 101, groupDBID: 732, dialMode: predictive, stopAt: {dials: 5}}\n"
	}
	os.WriteFile(filepath.Join(dir, "morning.yaml"), []byte(win("morning", "08:00", "12:00")), 0o644)
	os.WriteFile(filepath.Join(dir, "evening.yaml"), []byte(win("evening", "17:00", "21:00")), 0o644)
	if s := LoadDir(dir); HasErrors(s.Problems) {
		t.Errorf("disjoint windows conflict: %v", s.Problems)
	}
	os.WriteFile(filepath.Join(dir, "noon.yaml"), []byte(win("noon", "11:00", "14:00")), 0o644)
	s := LoadDir(dir)
	if !HasErrors(s.Problems) {
		t.Fatal("overlapping windows on one group accepted")
	}
	msg := s.Problems[0].String()
	if !strings.Contains(msg, "noon.yaml") || !strings.Contains(msg, "morning.yaml") || !strings.Contains(msg, "campaign group 101/732") {
		t.Errorf("the error does not name both files: %s", msg)
	}
}

func TestHiddenSwapAndBackupFilesAreNotSpecs(t *testing.T) {
	for name, want := range map[string]bool{
		"a.yaml": true, "b.yml": true, "c.YAML": true, ".a.yaml": false, ".a.yaml.swp": false,
		"a.yaml~": false, "#a.yaml#": false, "4913": false, "a.json": false, "..data": false,
	} {
		if IsSpecFile(name) != want {
			t.Errorf("IsSpecFile(%q) = %v", name, !want)
		}
	}
}

func TestASharedCampaignGroupIsJudgedByTheGivenOverlapRuleWithWarningsForIfLate(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a.yaml"), []byte(spec("a", 101, 10)), 0o644)
	os.WriteFile(filepath.Join(dir, "b.yaml"), []byte(spec("b", 101, 10)), 0o644)
	for verdict, want := range map[OverlapVerdict]string{
		OverlapNever:  "",
		OverlapIfLate: filepath.Join(dir, "b.yaml") + `:6:7: campaignDBID: warning: campaign group 101/732 is also used by sequence "a" (` + filepath.Join(dir, "a.yaml") + `:6:7); their runs overlap only if because`,
		OverlapCan:    filepath.Join(dir, "b.yaml") + `:6:7: campaignDBID: campaign group 101/732 is also used by sequence "a" (` + filepath.Join(dir, "a.yaml") + `:6:7) and their runs can overlap: because; give them calling windows or start times that never meet, or use one sequence`,
	} {
		rule := func(a, b *Sequence, now time.Time) Overlap {
			if a.Name != "a" || b.Name != "b" || now.IsZero() {
				t.Errorf("asked about %s and %s at %v", a.Name, b.Name, now)
			}
			return Overlap{verdict, "because"}
		}
		s := Load(LoadOptions{Overlap: rule}, dir)
		got := ""
		for _, p := range s.Problems {
			got += p.String()
		}
		if got != want || HasErrors(s.Problems) != (verdict == OverlapCan) {
			t.Errorf("verdict %d: got %q, want %q", verdict, got, want)
		}
	}
}
