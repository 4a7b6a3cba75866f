package reconcile

import (
	"fmt"
	"testing"
	"time"

	"github.com/sequencer-dev/sequencer/ocs"
	"github.com/sequencer-dev/sequencer/specs"
)

// projectBenchSpecs are 10,000 sequences in nine zones with seven cron
// shapes, half with a weekday window, each with a count-and-time item and
// a +duration item, each on its own campaign group (sequences sharing a
// group would wait for each other, as in the daemon).
func projectBenchSpecs(b *testing.B, n int) []*specs.Sequence {
	zones := []string{"UTC", "America/New_York", "Europe/London", "Europe/Berlin", "Australia/Sydney",
		"Pacific/Chatham", "America/Santiago", "Australia/Lord_Howe", "Asia/Kolkata"}
	exprs := []string{"0 18 * * 1-5", "30 2 * * *", "0 9,15 * * *", "0 9 * * 1", "45 3 * * 0,6", "0 0 1 * *", "5 7,12,17 * * *"}
	out := make([]*specs.Sequence, n)
	for i := range out {
		tz := zones[i%len(zones)]
		a := item("a", 101, ocs.DialModeProgress)
		a.StopAt = specs.StopAt{Contacts: 500, Time: tod(20, 30)}
		c := item("b", 102, ocs.DialModeProgress)
		c.StopAt.Time, c.SleepBeforeNextStart = after(90*time.Minute), 10*time.Minute
		a.GroupDBID, c.GroupDBID = int32(10000+i), int32(10000+i)
		s := seq(fmt.Sprintf("seq-%05d", i), a, c)
		s.TimeZone, s.Location = tz, mustLoc(b, tz)
		s.Start = specs.Start{Schedule: exprs[i%len(exprs)], StartingDeadline: 30 * time.Minute}
		if i%2 == 0 {
			s.Window = &specs.Window{Days: weekdays, From: specs.TimeOfDay{Hour: 8}, To: specs.TimeOfDay{Hour: 21}}
		}
		out[i] = rehash(s)
	}
	return out
}

// benchSeqs overrides the 10,000 sequences (profiling).
var benchSeqs = 0

// BenchmarkProject10000SequencesOver7Days is `sequencer plan` of 10,000
// sequences for a week: reconcile.Project, the daemon's loop on a virtual
// clock against the ideal OCS (default assumptions, resync 1 h: a resync
// pass changes nothing against an OCS that never surprises), next to the
// rules it replaced, schedule.Project as it was (legacy_bench_test.go).
func BenchmarkProject10000SequencesOver7Days(b *testing.B) {
	n := 10000
	if benchSeqs > 0 {
		n = benchSeqs
	}
	seqs := projectBenchSpecs(b, n)
	from := time.Date(2026, 10, 26, 0, 0, 0, 0, time.UTC) // the week of the US fall-back
	b.Run("loop", func(b *testing.B) {
		a := DefaultAssumptions()
		a.Resync = time.Hour
		var evs int
		for b.Loop() {
			evs = len(Project(seqs, nil, from, 7*24*time.Hour, a))
		}
		b.ReportMetric(float64(evs), "events")
		b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/plan")
	})
	b.Run("baseline-legacy-evaluate", func(b *testing.B) {
		var evs int
		for b.Loop() {
			evs = len(legacyProject(seqs, from, 7*24*time.Hour))
		}
		b.ReportMetric(float64(evs), "events")
		b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/plan")
	})
}
