package specs

import (
	"context"
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

// BenchmarkLoadDir10000SequencesCached is the same load by a fresh loader
// (a restart) with a warm parse cache: every file is read and hashed, and
// its meaning decoded from the cache instead of parsed. cache-MB is the
// size of the cache file.
func BenchmarkLoadDir10000SequencesCached(b *testing.B) {
	dir := writeCorpus(b)
	cache := filepath.Join(b.TempDir(), "specs.cache")
	if executableID() == "" {
		b.Skip("no executable identity: no cache")
	}
	Load(LoadOptions{CacheFile: cache}, dir)
	b.ResetTimer()
	for b.Loop() {
		l := newLoader(LoadOptions{CacheFile: cache})
		s := l.loadOnce(dir)
		if len(s.Sequences) != 10000 || HasErrors(s.Problems) || l.cached != 100 || l.parses != 0 {
			b.Fatalf("%d sequences, %d cached, %d parsed", len(s.Sequences), l.cached, l.parses)
		}
	}
	b.StopTimer()
	if fi, err := os.Stat(cache); err == nil {
		b.ReportMetric(float64(fi.Size())/1e6, "cache-MB")
	}
}

// BenchmarkWriteCache10000Sequences is what the watcher does in the
// background after a load that parsed: encode every file's meaning and
// write the cache file.
func BenchmarkWriteCache10000Sequences(b *testing.B) {
	dir := writeCorpus(b)
	cache := filepath.Join(b.TempDir(), "specs.cache")
	if executableID() == "" {
		b.Skip("no executable identity: no cache")
	}
	l := newLoader(LoadOptions{CacheFile: cache})
	l.load(false, dir)
	img := l.cacheImage()
	if img == nil || len(img.items) != 100 {
		b.Fatal("no cache image")
	}
	b.ResetTimer()
	for b.Loop() {
		if err := writeCache(context.Background(), img); err != nil {
			b.Fatal(err)
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

// The rescan benchmarks run what the watcher does every 30 s on the same
// 100-file, 10,000-sequence corpus, with mtimes an hour old (as a deployed
// directory's are). All: the loader forgets what it read, so every file is
// read and parsed (what every rescan cost before the loader kept size,
// mtime and hash). Unchanged: a primed loader rescans a directory that did
// not change. Forced: Watcher.Rescan (SIGHUP): every file is read and
// hashed, none parsed.
func agedCorpus(b *testing.B) (string, *loader) {
	dir := writeCorpus(b)
	files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
	for _, f := range files {
		age(b, f)
	}
	l := newLoader(LoadOptions{})
	if s := l.load(false, dir); len(s.Sequences) != 10000 || HasErrors(s.Problems) {
		b.Fatalf("%d sequences", len(s.Sequences))
	}
	l.load(false, dir) // past the racy window: the stats are trusted now
	return dir, l
}

func BenchmarkRescanAll(b *testing.B) {
	dir, l := agedCorpus(b)
	l.parses = 0
	b.ResetTimer()
	for b.Loop() {
		l.seen = map[string]*parsed{}
		l.load(false, dir)
	}
	b.StopTimer()
	if l.parses != 100*b.N {
		b.Fatalf("%d parses in %d rescans", l.parses, b.N)
	}
}

func BenchmarkRescanUnchanged(b *testing.B) {
	dir, l := agedCorpus(b)
	l.reads, l.parses = 0, 0
	b.ResetTimer()
	for b.Loop() {
		if s := l.load(false, dir); len(s.Sequences) != 10000 {
			b.Fatalf("%d sequences", len(s.Sequences))
		}
	}
	b.StopTimer()
	if l.reads != 0 || l.parses != 0 {
		b.Fatalf("%d reads and %d parses of unchanged files", l.reads, l.parses)
	}
}

func BenchmarkRescanForced(b *testing.B) {
	dir, l := agedCorpus(b)
	l.parses = 0
	b.ResetTimer()
	for b.Loop() {
		l.load(true, dir)
	}
	b.StopTimer()
	if l.parses != 0 {
		b.Fatalf("%d parses of unchanged files", l.parses)
	}
}
