package specs

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// BenchmarkLoadDir10000Sequences validates a directory of 100 files of 100
// sequences each (target: under 2 s per load). The baseline, measured in
// the same run, is reading the same files and decoding them with yaml.v3
// into plain nodes without any checks.
func writeCorpus(b *testing.B) string {
	dir := b.TempDir()
	for f := 0; f < 100; f++ {
		var sb strings.Builder
		for i := 0; i < 100; i++ {
			n := f*100 + i
			fmt.Fprintf(&sb, `---
apiVersion: sequencer/v1
kind: CampaignSequence
metadata: {name: seq-%05d}
spec:
  timeZone: America/New_York
  start: {schedule: "0 18 * * 1-5", startingDeadline: 30m}
  window: {days: [Mon, Tue, Wed, Thu, Fri], from: "08:00", to: "21:00"}
  items:
    - {name: fresh, campaignDBID: %d, groupDBID: %d, dialMode: predictive, optimize: {by: overdialRate, goal: 3}, stopAt: {time: "20:30", contacts: 500}}
    - {name: retry, campaignDBID: %d, groupDBID: %d, dialMode: progressive, sleepBeforeNextStart: 10m, stopAt: {time: "+90m"}}
`, n, 100000+n, 20000+n, 200000+n, 20000+n)
		}
		os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%03d.yaml", f)), []byte(sb.String()), 0o644)
	}
	return dir
}

func BenchmarkLoadDir10000Sequences(b *testing.B) {
	dir := writeCorpus(b)
	b.ResetTimer()
	for b.Loop() {
		s := LoadDir(dir)
		if len(s.Sequences) != 10000 || HasErrors(s.Problems) {
			b.Fatalf("%d sequences, problems %v", len(s.Sequences), s.Problems[:min(3, len(s.Problems))])
		}
	}
}

func BenchmarkBaselineYAMLDecodeOnly10000Sequences(b *testing.B) {
	dir := writeCorpus(b)
	b.ResetTimer()
	for b.Loop() {
		files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
		for _, f := range files {
			data, _ := os.ReadFile(f)
			if err := decodeNodesOnly(data); err != nil {
				b.Fatal(err)
			}
		}
	}
}
