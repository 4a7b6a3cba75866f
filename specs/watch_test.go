package specs

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// These tests use real files and real fsnotify events, outside synctest.

func spec(name string, campaign, dials int) string {
	return fmt.Sprintf("apiVersion: sequencer/v1\nkind: CampaignSequence\nmetadata: {name: %s}\nspec:\n  items:\n    - {name: a, campaignDBID: %d, groupDBID: 732, dialMode: predictive, stopAt: {dials: %d}}\n", name, campaign, dials)
}

type watched struct {
	t   *testing.T
	dir string
	ch  <-chan Snapshot
}

func startWatch(t *testing.T, dir string) *watched {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	ch, err := Watch(ctx, dir, WatchOptions{Debounce: 50 * time.Millisecond, Rescan: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	return &watched{t: t, dir: dir, ch: ch}
}

// next waits for the next snapshot (generously: this is about events, not
// speed).
func (w *watched) next() Snapshot {
	w.t.Helper()
	select {
	case s, ok := <-w.ch:
		if !ok {
			w.t.Fatal("watch channel closed")
		}
		return s
	case <-time.After(10 * time.Second):
		w.t.Fatal("no snapshot within 10 s")
	}
	return Snapshot{}
}

// until waits for a snapshot that satisfies ok (editors may produce
// intermediate states that a debounce does not always merge).
func (w *watched) until(what string, ok func(Snapshot) bool) Snapshot {
	w.t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case s := <-w.ch:
			if ok(s) {
				return s
			}
		case <-deadline:
			w.t.Fatalf("no snapshot where %s within 10 s", what)
		}
	}
}

func (w *watched) write(name, content string) {
	w.t.Helper()
	if err := os.WriteFile(filepath.Join(w.dir, name), []byte(content), 0o644); err != nil {
		w.t.Fatal(err)
	}
}

func dials(s Snapshot, name string) int32 {
	if q := s.Sequences[name]; q != nil {
		return q.Items[0].StopAt.Dials
	}
	return -1
}

func TestTheWatcherDeliversTheDirectoryAtOnceAndAfterAnAtomicSave(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a.yaml"), []byte(spec("a", 101, 10)), 0o644)
	w := startWatch(t, dir)
	if s := w.next(); dials(s, "a") != 10 || s.Sequences["a"].Generation != 1 {
		t.Fatalf("first snapshot: %+v", s.Sequences)
	}
	// write a temp file and rename it over the original
	w.write(".a.yaml.tmp", spec("a", 101, 20))
	os.Rename(filepath.Join(dir, ".a.yaml.tmp"), filepath.Join(dir, "a.yaml"))
	s := w.until("a has 20 dials", func(s Snapshot) bool { return dials(s, "a") == 20 })
	if s.Sequences["a"].Generation != 2 {
		t.Errorf("generation %d after one change, want 2", s.Sequences["a"].Generation)
	}
}

// A daemon started on an empty directory is ready (it has its specs: none)
// and stops whatever its progress says was running; without a first
// snapshot it would wait for ever.
func TestTheWatcherDeliversAnEmptyDirectoryAtOnce(t *testing.T) {
	w := startWatch(t, t.TempDir())
	if s := w.next(); len(s.Sequences) != 0 || s.Err != nil {
		t.Fatalf("first snapshot of an empty directory: %d sequences, err %v", len(s.Sequences), s.Err)
	}
}

func TestTheWatcherSurvivesVimsBackupAndRenameAndIgnoresItsDroppings(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a.yaml"), []byte(spec("a", 101, 10)), 0o644)
	w := startWatch(t, dir)
	w.next()
	// vim: probe file 4913, rename original to a.yaml~, write new, drop backup; a swap file lingers
	w.write("4913", "")
	os.Remove(filepath.Join(dir, "4913"))
	w.write(".a.yaml.swp", "binary junk: {{{")
	os.Rename(filepath.Join(dir, "a.yaml"), filepath.Join(dir, "a.yaml~"))
	w.write("a.yaml", spec("a", 101, 30))
	os.Remove(filepath.Join(dir, "a.yaml~"))
	s := w.until("a has 30 dials", func(s Snapshot) bool { return dials(s, "a") == 30 })
	if len(s.Problems) != 0 {
		t.Errorf("editor files were read: %v", s.Problems)
	}
}

func TestTheWatcherSeesSedInPlaceAndAGitCheckoutOfManyFilesAsOneState(t *testing.T) {
	dir := t.TempDir()
	for i := 0; i < 20; i++ {
		os.WriteFile(filepath.Join(dir, fmt.Sprintf("s%02d.yaml", i)), []byte(spec(fmt.Sprintf("s%02d", i), 1000+i, 10)), 0o644)
	}
	w := startWatch(t, dir)
	if s := w.next(); len(s.Sequences) != 20 {
		t.Fatalf("%d sequences", len(s.Sequences))
	}
	// sed -i: writes a temporary sibling and renames it over
	w.write("sedXyZ12", spec("s00", 1000, 99))
	os.Rename(filepath.Join(dir, "sedXyZ12"), filepath.Join(dir, "s00.yaml"))
	w.until("s00 edited", func(s Snapshot) bool { return dials(s, "s00") == 99 })
	// git checkout: many files rewritten, some removed, some added
	for i := 0; i < 20; i++ {
		if i%2 == 0 {
			os.Remove(filepath.Join(dir, fmt.Sprintf("s%02d.yaml", i)))
		} else {
			w.write(fmt.Sprintf("s%02d.yaml", i), spec(fmt.Sprintf("s%02d", i), 1000+i, 50))
		}
	}
	w.write("new.yaml", spec("new", 2000, 1))
	s := w.until("the checkout landed", func(s Snapshot) bool {
		return len(s.Sequences) == 11 && dials(s, "s19") == 50 && dials(s, "new") == 1
	})
	if dials(s, "s00") != -1 {
		t.Error("a deleted file's sequence is still there")
	}
}

func TestAnInvalidEditKeepsTheLastGoodVersionAndSaysWhy(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a.yaml"), []byte(spec("a", 101, 10)), 0o644)
	w := startWatch(t, dir)
	w.next()
	w.write("a.yaml", strings.Replace(spec("a", 101, 10), "dials: 10", "dials: ten", 1))
	s := w.until("a is invalid", func(s Snapshot) bool { return s.Invalid["a"] != "" })
	if dials(s, "a") != 10 {
		t.Errorf("the last good version was dropped: %+v", s.Sequences["a"])
	}
	if !strings.Contains(s.Invalid["a"], "a.yaml:6:") || !strings.Contains(s.Invalid["a"], "want an integer") {
		t.Errorf("SpecInvalid message %q lacks the position or the reason", s.Invalid["a"])
	}
	w.write("a.yaml", spec("a", 101, 40))
	s = w.until("a is fixed", func(s Snapshot) bool { return dials(s, "a") == 40 })
	if len(s.Invalid) != 0 {
		t.Errorf("still invalid: %v", s.Invalid)
	}
}

func TestDeletingAFileDeletesItsSequencesAndRenamingOneDoesNot(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a.yaml"), []byte(spec("a", 101, 10)), 0o644)
	os.WriteFile(filepath.Join(dir, "b.yaml"), []byte(spec("b", 102, 10)), 0o644)
	w := startWatch(t, dir)
	w.next()
	os.Rename(filepath.Join(dir, "a.yaml"), filepath.Join(dir, "renamed.yaml"))
	s := w.until("a moved", func(s Snapshot) bool { return s.Files["a"] == filepath.Join(dir, "renamed.yaml") })
	if s.Sequences["a"].Generation != 1 {
		t.Errorf("a rename bumped the generation to %d", s.Sequences["a"].Generation)
	}
	os.Remove(filepath.Join(dir, "b.yaml"))
	w.until("b is gone", func(s Snapshot) bool { return s.Sequences["b"] == nil && s.Sequences["a"] != nil })
}

func TestAConfigMapDataSymlinkSwapIsSeen(t *testing.T) {
	dir := t.TempDir()
	// Kubernetes layout: ..2026_1/a.yaml, ..data -> ..2026_1, a.yaml -> ..data/a.yaml
	v1 := filepath.Join(dir, "..2026_1")
	os.Mkdir(v1, 0o755)
	os.WriteFile(filepath.Join(v1, "a.yaml"), []byte(spec("a", 101, 10)), 0o644)
	os.Symlink("..2026_1", filepath.Join(dir, "..data"))
	os.Symlink(filepath.Join("..data", "a.yaml"), filepath.Join(dir, "a.yaml"))
	w := startWatch(t, dir)
	if s := w.next(); dials(s, "a") != 10 {
		t.Fatalf("through the symlink: %+v", s.Sequences)
	}
	v2 := filepath.Join(dir, "..2026_2")
	os.Mkdir(v2, 0o755)
	os.WriteFile(filepath.Join(v2, "a.yaml"), []byte(spec("a", 101, 77)), 0o644)
	os.Symlink("..2026_2", filepath.Join(dir, "..data_tmp"))
	os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data"))
	os.RemoveAll(v1)
	w.until("the swap landed", func(s Snapshot) bool { return dials(s, "a") == 77 })
}

func TestAChmodAloneDeliversNothing(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a.yaml"), []byte(spec("a", 101, 10)), 0o644)
	w := startWatch(t, dir)
	w.next()
	os.Chmod(filepath.Join(dir, "a.yaml"), 0o600)
	select {
	case s := <-w.ch:
		t.Errorf("a chmod delivered a snapshot: %+v", s)
	case <-time.After(500 * time.Millisecond):
	}
}

func TestAnUnreadableDirectoryIsAnErrorNotADeletion(t *testing.T) {
	// Removing the directory stands for any read failure (root reads
	// through permissions, so chmod would not do).
	dir := t.TempDir()
	sub := filepath.Join(dir, "specs")
	os.Mkdir(sub, 0o755)
	os.WriteFile(filepath.Join(sub, "a.yaml"), []byte(spec("a", 101, 10)), 0o644)
	l := newLoader(LoadOptions{})
	if s := l.load(false, sub); dials(s, "a") != 10 {
		t.Fatal("first load")
	}
	os.RemoveAll(sub)
	s := l.load(false, sub)
	if s.Err == nil {
		t.Fatal("no error for a missing directory")
	}
	if dials(s, "a") != 10 {
		t.Error("an unreadable directory deleted the sequences")
	}
	if _, err := Watch(context.Background(), sub, WatchOptions{}); err == nil {
		t.Error("watching a missing directory did not fail")
	}
}

func TestTheFingerprintIsTheSameForTheSameMeaningAndOnlyForIt(t *testing.T) {
	snap := func(order []int, extra func(*Snapshot)) Snapshot {
		s := Snapshot{Sequences: map[string]*Sequence{}, Files: map[string]string{}, Invalid: map[string]string{}}
		for _, i := range order {
			n := fmt.Sprintf("s%d", i)
			s.Sequences[n] = &Sequence{Name: n, Hash: fmt.Sprintf("h%d", i)}
			s.Files[n] = fmt.Sprintf("f%d.yaml", i%2)
			s.Problems = append(s.Problems, Problem{Path: s.Files[n], Line: i, Message: "m"})
		}
		if extra != nil {
			extra(&s)
		}
		return s
	}
	base := fingerprint(snap([]int{1, 2, 3}, nil))
	if fingerprint(snap([]int{3, 1, 2}, nil)) != base {
		t.Error("the order things were found in changed the fingerprint")
	}
	if fingerprint(Snapshot{}) != (snapPrint{}) {
		t.Error("an empty snapshot does not have the zero print")
	}
	for what, change := range map[string]func(*Snapshot){
		"a hash":           func(s *Snapshot) { s.Sequences["s1"] = &Sequence{Name: "s1", Hash: "other"} },
		"a file":           func(s *Snapshot) { s.Files["s1"] = "moved.yaml" },
		"a problem twice":  func(s *Snapshot) { s.Problems = append(s.Problems, s.Problems[0]) },
		"an invalid name":  func(s *Snapshot) { s.Invalid["s2"] = "broken" },
		"a list":           func(s *Snapshot) { s.DNCLists = map[string]*DoNotCallList{"d": {Name: "d"}} },
		"an error":         func(s *Snapshot) { s.Err = fmt.Errorf("gone") },
		"names swapped":    func(s *Snapshot) { s.Sequences["s1"].Hash, s.Sequences["s2"].Hash = "h2", "h1" },
		"a sequence fewer": func(s *Snapshot) { delete(s.Sequences, "s3") },
	} {
		if fingerprint(snap([]int{1, 2, 3}, change)) == base {
			t.Errorf("%s changed, the fingerprint did not", what)
		}
	}
}
