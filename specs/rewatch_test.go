package specs

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/fsnotify/fsnotify"
)

// These tests use real files and real fsnotify events, outside synctest.

// startWatcher is startWatch with the Watcher itself, for Rescan.
func startWatcher(t *testing.T, dir string) (*watched, *Watcher) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	wr, err := NewWatcher(ctx, dir, WatchOptions{Debounce: 50 * time.Millisecond, Rescan: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	return &watched{t: t, dir: dir, ch: wr.Snapshots()}, wr
}

// within waits up to d for a snapshot that satisfies ok.
func (w *watched) within(d time.Duration, what string, ok func(Snapshot) bool) Snapshot {
	w.t.Helper()
	deadline := time.After(d)
	for {
		select {
		case s, open := <-w.ch:
			if !open {
				w.t.Fatal("watch channel closed")
			}
			if ok(s) {
				return s
			}
		case <-deadline:
			w.t.Fatalf("no snapshot where %s within %s", what, d)
		}
	}
}

func TestADeletedAndRecreatedDirectoryIsWatchedAgainAndNeverReadAsDeletion(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "specs")
	os.Mkdir(dir, 0o755)
	os.WriteFile(filepath.Join(dir, "a.yaml"), []byte(spec("a", 101, 10)), 0o644)
	w := startWatch(t, dir)
	w.next()
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	s := w.within(2*time.Second, "the loss is reported", func(s Snapshot) bool { return s.Err != nil })
	if dials(s, "a") != 10 {
		t.Errorf("a deleted directory deleted its sequences: %+v", s.Sequences)
	}
	os.Mkdir(dir, 0o755)
	w.write("a.yaml", spec("a", 101, 20))
	s = w.within(2*time.Second, "the recreated directory's edit", func(s Snapshot) bool { return dials(s, "a") == 20 })
	if s.Err != nil {
		t.Errorf("still an error: %v", s.Err)
	}
	// Events flow again: the periodic rescan is an hour away.
	w.write("a.yaml", spec("a", 101, 30))
	w.within(2*time.Second, "an edit after the watch came back", func(s Snapshot) bool { return dials(s, "a") == 30 })
}

func TestADirectoryRenamedAwayAndReplacedIsWatchedInItsNewForm(t *testing.T) {
	root := t.TempDir()
	dir, next := filepath.Join(root, "specs"), filepath.Join(root, "specs.new")
	os.Mkdir(dir, 0o755)
	os.WriteFile(filepath.Join(dir, "a.yaml"), []byte(spec("a", 101, 10)), 0o644)
	os.Mkdir(next, 0o755)
	os.WriteFile(filepath.Join(next, "a.yaml"), []byte(spec("a", 101, 20)), 0o644)
	w := startWatch(t, dir)
	w.next()
	// A release switch: mv specs specs.old && mv specs.new specs.
	os.Rename(dir, filepath.Join(root, "specs.old"))
	os.Rename(next, dir)
	w.within(2*time.Second, "the new directory's spec", func(s Snapshot) bool { return dials(s, "a") == 20 && s.Err == nil })
	w.write("a.yaml", spec("a", 101, 30))
	w.within(2*time.Second, "an edit in the new directory", func(s Snapshot) bool { return dials(s, "a") == 30 })
	os.WriteFile(filepath.Join(root, "specs.old", "a.yaml"), []byte(spec("a", 101, 99)), 0o644)
	select {
	case s := <-w.ch:
		t.Errorf("an edit in the old directory was delivered: %+v", s.Sequences["a"])
	case <-time.After(300 * time.Millisecond):
	}
}

func TestRescanFollowsASymlinkSwapThatSentNoEvent(t *testing.T) {
	root := t.TempDir()
	v1, v2, link := filepath.Join(root, "v1"), filepath.Join(root, "v2"), filepath.Join(root, "specs")
	os.Mkdir(v1, 0o755)
	os.Mkdir(v2, 0o755)
	os.WriteFile(filepath.Join(v1, "a.yaml"), []byte(spec("a", 101, 10)), 0o644)
	os.WriteFile(filepath.Join(v2, "a.yaml"), []byte(spec("a", 101, 20)), 0o644)
	os.Symlink("v1", link)
	w, wr := startWatcher(t, link)
	w.next()
	os.Symlink("v2", link+".tmp")
	os.Rename(link+".tmp", link) // ln -sfn: v1 saw nothing
	wr.Rescan()
	w.within(2*time.Second, "v2 after the rescan", func(s Snapshot) bool { return dials(s, "a") == 20 })
	os.WriteFile(filepath.Join(v2, "a.yaml"), []byte(spec("a", 101, 30)), 0o644)
	w.within(2*time.Second, "an edit in v2", func(s Snapshot) bool { return dials(s, "a") == 30 })
}

func TestRescanRereadsAnEditThatKeptSizeAndMtime(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a.yaml")
	os.WriteFile(a, []byte(spec("a", 101, 10)), 0o644)
	old := age(t, a)
	w, wr := startWatcher(t, dir)
	w.next()
	os.WriteFile(a, []byte(spec("a", 101, 20)), 0o644)
	os.Chtimes(a, old, old)
	select {
	case s := <-w.ch:
		t.Fatalf("an unforced reload read a file whose size and old mtime match: %+v", s.Sequences["a"])
	case <-time.After(300 * time.Millisecond):
	}
	wr.Rescan()
	w.within(2*time.Second, "the edit after Rescan", func(s Snapshot) bool { return dials(s, "a") == 20 })
}

// fakeNotifier stands for fsnotify where a test needs its failures.
type fakeNotifier struct {
	events chan fsnotify.Event
	errs   chan error
	closed chan struct{}
}

func TestANotifierErrorReplacesTheNotifierAndAnOverflowOnlyRescans(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a.yaml")
	os.WriteFile(a, []byte(spec("a", 101, 10)), 0o644)
	made := make(chan *fakeNotifier, 10)
	notify := func(string) (*notifier, error) {
		f := &fakeNotifier{events: make(chan fsnotify.Event), errs: make(chan error, 1), closed: make(chan struct{})}
		made <- f
		return &notifier{Events: f.events, Errors: f.errs, Close: func() error { close(f.closed); return nil }}, nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	wr, err := newWatcher(ctx, dir, WatchOptions{Debounce: 50 * time.Millisecond, Rescan: time.Hour}, notify, nil)
	if err != nil {
		t.Fatal(err)
	}
	w := &watched{t: t, dir: dir, ch: wr.Snapshots()}
	w.next()
	first := <-made

	os.WriteFile(a, []byte(spec("a", 101, 20)), 0o644)
	first.errs <- fsnotify.ErrEventOverflow
	w.within(2*time.Second, "the rescan after an overflow", func(s Snapshot) bool { return dials(s, "a") == 20 })
	select {
	case <-made:
		t.Fatal("an overflow replaced the notifier")
	case <-first.closed:
		t.Fatal("an overflow closed the notifier")
	default:
	}

	os.WriteFile(a, []byte(spec("a", 101, 30)), 0o644)
	first.errs <- errors.New("inotify: read: bad file descriptor")
	w.within(2*time.Second, "the rescan after a notifier error", func(s Snapshot) bool { return dials(s, "a") == 30 })
	select {
	case <-first.closed:
	case <-time.After(2 * time.Second):
		t.Fatal("the failed notifier was not closed")
	}
	var second *fakeNotifier
	select {
	case second = <-made:
	case <-time.After(2 * time.Second):
		t.Fatal("no new notifier after an error")
	}
	// The new notifier's events are the ones listened to now.
	os.WriteFile(a, []byte(spec("a", 101, 40)), 0o644)
	second.events <- fsnotify.Event{Name: a, Op: fsnotify.Write}
	w.within(2*time.Second, "an event from the new notifier", func(s Snapshot) bool { return dials(s, "a") == 40 })
}
