package schedule

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sequencer-dev/sequencer/specs"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if string(got) != string(want) {
		t.Fatalf("%s differs (run with -update to accept):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// fixtures are sequences like those of examples/, built in Go so that this
// package's golden test does not depend on the YAML decoder.
func fixtures(t *testing.T) []*specs.Sequence {
	n := nightly(t)
	n.Name = "nightly-collections"
	n.Window.ExceptDates = []specs.Date{{Year: 2026, Month: 11, Day: 26}}
	berlin := &specs.Sequence{
		Name: "berlin-morning", TimeZone: "Europe/Berlin", Location: mustLoc(t, "Europe/Berlin"),
		Start:  specs.Start{Schedule: "30 2 * * *"},
		Window: win("08:00", "20:00", weekdays...),
		Items: []specs.Item{
			{Name: "warm-up", StopAt: specs.StopAt{Time: specs.StopTime{Kind: specs.StopAfter, After: 2 * time.Hour}}},
			{Name: "drain", SleepBeforeNextStart: 5 * time.Minute, StopAt: specs.StopAt{Dials: 300, Time: specs.StopTime{Kind: specs.StopTimeOfDay, TimeOfDay: tod("12:00")}}},
		},
	}
	kolkata := &specs.Sequence{
		Name: "kolkata-once", TimeZone: "Asia/Kolkata", Location: mustLoc(t, "Asia/Kolkata"),
		Start: specs.Start{At: ts(t, "2026-10-30T09:00:00+05:30")},
		Items: []specs.Item{
			{Name: "follow-up", StopAt: specs.StopAt{Time: specs.StopTime{Kind: specs.StopAbsolute, At: ts(t, "2026-10-30T09:00:00+05:30")}}},
			{Name: "second", StopAt: specs.StopAt{Time: specs.StopTime{Kind: specs.StopAfter, After: 45 * time.Minute}}},
		},
	}
	return []*specs.Sequence{n, berlin, kolkata}
}

func TestTheProjectedWeekOverTheEUAndUSAutumnChangesMatchesGolden(t *testing.T) {
	evs := Project(fixtures(t), ts(t, "2026-10-23T00:00:00Z"), 14*24*time.Hour)
	golden(t, "project-autumn.golden", []byte(Text(evs)))
	js, err := JSON(evs)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "project-autumn.json.golden", append(js, '\n'))
}
