package specs

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sequencer-dev/sequencer/ocs"
)

var update = flag.Bool("update", false, "rewrite golden files")

func TestEveryBadFixtureGivesTheGoldenProblemsWithPositions(t *testing.T) {
	files, _ := filepath.Glob("testdata/bad/*.yaml")
	if len(files) < 8 {
		t.Fatalf("only %d bad fixtures", len(files))
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			_, _, ps := ParseFile(path, data)
			var b strings.Builder
			for _, p := range ps {
				b.WriteString(p.String() + "\n")
			}
			got := b.String()
			gold := strings.TrimSuffix(path, ".yaml") + ".golden"
			if *update {
				os.WriteFile(gold, []byte(got), 0o644)
				return
			}
			want, err := os.ReadFile(gold)
			if err != nil {
				t.Fatalf("%v (run with -update)", err)
			}
			if got != string(want) {
				t.Errorf("problems differ:\n--- got\n%s--- want\n%s", got, want)
			}
			if !HasErrors(ps) && filepath.Base(path) != "cron.yaml" {
				t.Errorf("a bad fixture gave no error")
			}
		})
	}
}

func TestAFullSpecDecodesEveryField(t *testing.T) {
	data, err := os.ReadFile("testdata/good/full.yaml")
	if err != nil {
		t.Fatal(err)
	}
	seqs, dncs, ps := ParseFile("full.yaml", data)
	if len(ps) != 0 {
		t.Fatalf("problems: %v", ps)
	}
	if len(seqs) != 1 || len(dncs) != 1 {
		t.Fatalf("got %d sequences, %d lists", len(seqs), len(dncs))
	}
	s := seqs[0]
	if s.Location.String() != "America/New_York" || s.Start.Schedule != "0 18 * * 1-5" || s.Start.StartingDeadline != 30*time.Minute {
		t.Errorf("zone/start: %v %+v", s.Location, s.Start)
	}
	if w := s.Window; w == nil || len(w.Days) != 3 || w.Days[1] != time.Tuesday || w.From.Hour != 8 || w.To.Hour != 21 || len(w.ExceptDates) != 1 {
		t.Errorf("window: %+v", s.Window)
	}
	if s.OnDelete != OnDeleteOrphan || !s.AutoCompletion || s.OCS.TargetAppDBID != 120 || s.Labels["team"] != "collections" {
		t.Errorf("spec fields: %+v", s)
	}
	a, b, c := s.Items[0], s.Items[1], s.Items[2]
	if a.DialMode != ocs.DialModePredict || a.Optimize.By != ocs.OptimizeBusyFactor || a.Optimize.Goal != 85 ||
		a.StopAt.Time.Kind != StopTimeOfDay || a.StopAt.Contacts != 500 || a.StopAt.Dials != 5000 || !a.AutoCompletion {
		t.Errorf("item a: %+v", a)
	}
	if b.DialMode != ocs.DialModeProgress || b.SleepBeforeNextStart != 10*time.Minute || b.AutoCompletion || b.StopAt.Time.After != 90*time.Minute {
		t.Errorf("item b: %+v", b)
	}
	if c.DialMode != ocs.DialModePreview || c.StopAt.Time.Kind != StopAbsolute || !c.AutoCompletion {
		t.Errorf("item c: %+v", c)
	}
	if a.Pos.Line != 17 {
		t.Errorf("item a at line %d, want 17", a.Pos.Line)
	}
	if d := dncs[0]; len(d.Entries) != 2 || d.Entries[0].Phone != "+14155550101" || d.Entries[1].CustomerID != "C-88812" {
		t.Errorf("dnc: %+v", d)
	}
}

func TestTheHashIgnoresCommentsAndFormattingButNotMeaning(t *testing.T) {
	base := "apiVersion: sequencer/v1\nkind: CampaignSequence\nmetadata: {name: x}\nspec:\n  items:\n    - {name: a, campaignDBID: 101, groupDBID: 732, dialMode: predictive, stopAt: {dials: 10}}\n"
	reformatted := "# a comment\napiVersion: sequencer/v1\nkind: CampaignSequence\nmetadata:\n  name: x\nspec:\n  items:\n    - name: a\n      campaignDBID: 101\n      groupDBID: 732\n      dialMode: predictive   # same\n      stopAt: {dials: 10}\n"
	changed := strings.Replace(base, "dials: 10", "dials: 11", 1)
	h := func(s string) string {
		seqs, _, ps := ParseFile("x.yaml", []byte(s))
		if len(ps) != 0 || len(seqs) != 1 {
			t.Fatalf("problems %v", ps)
		}
		return seqs[0].Hash
	}
	if h(base) != h(reformatted) {
		t.Error("comments and formatting changed the hash")
	}
	if h(base) == h(changed) {
		t.Error("a changed stop condition kept the hash")
	}
}

func FuzzParseFile(f *testing.F) {
	files, _ := filepath.Glob("testdata/*/*.yaml")
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("a: &x [*x]"))
	f.Add([]byte("{{{{"))
	f.Fuzz(func(t *testing.T, data []byte) {
		seqs, _, ps := ParseFile("fuzz.yaml", data)
		for _, s := range seqs {
			if s.Location == nil || len(s.Items) == 0 {
				t.Fatalf("valid sequence without location or items: %+v", s)
			}
		}
		for _, p := range ps {
			if p.Line < 1 || p.Column < 1 {
				t.Fatalf("problem without a position: %+v", p)
			}
		}
	})
}

func TestSequencesInOneTimeZoneShareOneLoadedLocation(t *testing.T) {
	doc := func(name string) string {
		return "apiVersion: sequencer/v1\nkind: CampaignSequence\nmetadata: {name: " + name + "}\nspec:\n  timeZone: Europe/Paris\n  items:\n    - {name: a, campaignDBID: 101, groupDBID: 732, dialMode: predictive, stopAt: {dials: 5}}\n"
	}
	a, _, ps := ParseFile("a.yaml", []byte(doc("a")))
	b, _, ps2 := ParseFile("b.yaml", []byte(doc("b")))
	if len(ps)+len(ps2) != 0 || len(a) != 1 || len(b) != 1 {
		t.Fatalf("problems: %v %v", ps, ps2)
	}
	// One pointer per name: the tz file is read once per process, not
	// once per sequence.
	if a[0].Location != b[0].Location || a[0].Location.String() != "Europe/Paris" {
		t.Errorf("two loads of Europe/Paris: %p %p (%v)", a[0].Location, b[0].Location, a[0].Location)
	}
}
