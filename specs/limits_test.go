package specs

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// age sets a file's mtime an hour back, so that the loader trusts its stat
// (a fresh mtime is re-read: see racyWindow).
func age(t testing.TB, path string) time.Time {
	t.Helper()
	old := time.Now().Add(-time.Hour).Truncate(time.Second)
	if err := os.Chtimes(path, old, old); err != nil {
		t.Fatal(err)
	}
	return old
}

func TestAFileOverTheSizeLimitIsInvalidUnreadAndKeepsItsLastGoodVersion(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a.yaml")
	os.WriteFile(a, []byte(spec("a", 101, 10)), 0o644)
	l := newLoader(LoadOptions{})
	if s := l.load(false, dir); dials(s, "a") != 10 {
		t.Fatalf("first load: %v", s.Problems)
	}
	// 50 MB of (sparse) zeros appended to the spec.
	if err := os.Truncate(a, 52428800); err != nil {
		t.Fatal(err)
	}
	reads := l.reads
	s := l.load(false, dir)
	want := a + ":1:1: file is 52428800 bytes, over the 4 MiB limit (--max-spec-bytes)"
	if len(s.Problems) != 1 || s.Problems[0].String() != want {
		t.Fatalf("problems %v, want %q", s.Problems, want)
	}
	if dials(s, "a") != 10 || s.Invalid["a"] != want {
		t.Errorf("the last good version or its SpecInvalid is missing: dials %d, invalid %q", dials(s, "a"), s.Invalid["a"])
	}
	if l.reads != reads {
		t.Errorf("the oversized file was read (%d reads)", l.reads-reads)
	}
	// A new oversized file has no good version: a problem, no sequence.
	os.WriteFile(filepath.Join(dir, "b.yaml"), []byte(spec("b", 102, 10)+strings.Repeat("#", 2048)), 0o644)
	s = newLoader(LoadOptions{MaxFileBytes: 1024}).load(false, filepath.Join(dir, "b.yaml"))
	if s.Sequences["b"] != nil || len(s.Problems) != 1 || !strings.Contains(s.Problems[0].Message, "bytes, over the 1 KiB limit") {
		t.Errorf("a 2 KiB file under a 1 KiB limit: %v", s.Problems)
	}
}

func TestAFileWithNoEndIsCutAtTheLimit(t *testing.T) {
	if _, err := os.Stat("/dev/zero"); err != nil {
		t.Skip("no /dev/zero")
	}
	// Stat says 0 bytes; only the bounded read stops it.
	s := Load(LoadOptions{MaxFileBytes: 1024}, "/dev/zero")
	if len(s.Problems) != 1 || s.Problems[0].String() != "/dev/zero:1:1: file is over the 1 KiB limit (--max-spec-bytes)" {
		t.Errorf("problems: %v", s.Problems)
	}
}

func TestBinaryAndNonUTF8FilesSayWhereAndWhy(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{
		"nul.yaml":    "apiVersion: sequencer/v1\nkind: CampaignSequence\nmeta\x00data: {}\n",
		"latin1.yaml": "apiVersion: sequencer/v1\n# café, saved as Latin-1: caf\xe9\n",
		"utf16.yaml":  "\xff\xfea\x00p\x00i\x00",
	} {
		os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644)
	}
	var got []string
	for _, p := range LoadDir(dir).Problems {
		got = append(got, p.String())
	}
	want := []string{
		filepath.Join(dir, "latin1.yaml") + ":2:30: not UTF-8 text: invalid byte 0xe9 at offset 55; a spec must be UTF-8 text",
		filepath.Join(dir, "nul.yaml") + ":3:5: binary file: NUL byte at offset 52; a spec must be UTF-8 text",
		filepath.Join(dir, "utf16.yaml") + ":1:1: not UTF-8 text: invalid byte 0xff at offset 0; a spec must be UTF-8 text",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestARescanOfAnUnchangedThousandFileDirectoryReadsAndParsesNothing(t *testing.T) {
	dir := t.TempDir()
	for i := 0; i < 1000; i++ {
		p := filepath.Join(dir, fmt.Sprintf("s%04d.yaml", i))
		os.WriteFile(p, []byte(spec(fmt.Sprintf("s%04d", i), 10000+i, 10)), 0o644)
		age(t, p)
	}
	l := newLoader(LoadOptions{})
	if s := l.load(false, dir); len(s.Sequences) != 1000 || l.parses != 1000 {
		t.Fatalf("first load: %d sequences, %d parses", len(s.Sequences), l.parses)
	}
	l.reads, l.parses = 0, 0
	s := l.load(false, dir)
	if l.reads != 0 || l.parses != 0 {
		t.Errorf("the rescan read %d and parsed %d unchanged files", l.reads, l.parses)
	}
	if len(s.Sequences) != 1000 || len(s.Problems) != 0 || s.Sequences["s0999"].Generation != 1 {
		t.Errorf("the rescan changed the snapshot: %d sequences, problems %v", len(s.Sequences), s.Problems)
	}
	// A forced rescan reads every file but parses none whose content is
	// the same.
	l.reads, l.parses = 0, 0
	l.load(true, dir)
	if l.reads != 1000 || l.parses != 0 {
		t.Errorf("forced rescan: %d reads, %d parses; want 1000 and 0", l.reads, l.parses)
	}
}

func TestATouchedFileIsReadAgainButParsedOnlyIfItsContentChanged(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a.yaml")
	os.WriteFile(a, []byte(spec("a", 101, 10)), 0o644)
	age(t, a)
	l := newLoader(LoadOptions{})
	l.load(false, dir)
	later := time.Now().Add(-30 * time.Minute)
	os.Chtimes(a, later, later)
	l.reads, l.parses = 0, 0
	l.load(false, dir)
	if l.reads != 1 || l.parses != 0 {
		t.Errorf("touch: %d reads, %d parses; want 1 and 0", l.reads, l.parses)
	}
	os.WriteFile(a, []byte(spec("a", 101, 11)), 0o644)
	if s := l.load(false, dir); dials(s, "a") != 11 || l.parses != 1 {
		t.Errorf("edit: dials %d after %d parses", dials(s, "a"), l.parses)
	}
}

func TestASameSizeEditWithinTheSameTimestampTickIsNotMissed(t *testing.T) {
	// A coarse-timestamp filesystem gives an edit made just after our
	// read the mtime we recorded; the sizes match too (10 → 20 dials).
	dir := t.TempDir()
	a := filepath.Join(dir, "a.yaml")
	os.WriteFile(a, []byte(spec("a", 101, 10)), 0o644)
	tick := time.Now().Truncate(time.Second)
	os.Chtimes(a, tick, tick)
	l := newLoader(LoadOptions{})
	l.load(false, dir)
	os.WriteFile(a, []byte(spec("a", 101, 20)), 0o644)
	os.Chtimes(a, tick, tick)
	if s := l.load(false, dir); dials(s, "a") != 20 {
		t.Errorf("the edit in the same tick was missed: dials %d", dials(s, "a"))
	}
	// Once the mtime is old, size and mtime are trusted; a forced rescan
	// (SIGHUP) still reads and sees an edit that kept both.
	old := age(t, a)
	l.load(false, dir)
	l.load(false, dir) // not racy any more
	os.WriteFile(a, []byte(spec("a", 101, 30)), 0o644)
	os.Chtimes(a, old, old)
	if s := l.load(false, dir); dials(s, "a") != 20 {
		t.Fatalf("an unforced rescan read a file whose size and old mtime match: dials %d", dials(s, "a"))
	}
	if s := l.load(true, dir); dials(s, "a") != 30 {
		t.Errorf("a forced rescan missed the edit: dials %d", dials(s, "a"))
	}
}
