package main

import (
	"bufio"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/sequencer-dev/sequencer/specs"
)

// cacheReads returns, from a JSON log, the cached and parsed counts of
// every "spec parse cache read" line, in order.
func cacheReads(t *testing.T, logPath string) [][2]int {
	t.Helper()
	f, err := os.Open(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out [][2]int
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var l struct {
			Msg            string
			Cached, Parsed int
		}
		if json.Unmarshal(sc.Bytes(), &l) == nil && l.Msg == "spec parse cache read" {
			out = append(out, [2]int{l.Cached, l.Parsed})
		}
	}
	return out
}

func TestTheDaemonKeepsASpecParseCacheInItsDataDirectoryAndARestartUsesIt(t *testing.T) {
	if testing.Short() {
		t.Skip("starts daemons")
	}
	dir := t.TempDir()
	specDir, data, logPath := longSpecDir(t, dir), filepath.Join(dir, "data"), filepath.Join(dir, "daemon.log")
	os.WriteFile(filepath.Join(specDir, "other.yaml"), []byte(strings.ReplaceAll(strings.ReplaceAll(longSpec, "long", "other"), "101", "102")), 0o644)
	args := []string{"--specs", specDir, "--data", data, "--log-file", logPath}
	_, stop := startStoppableDaemon(t, args...)
	cache := filepath.Join(data, specsCacheName)
	waitFor(t, "the spec parse cache to be written", func() bool { _, err := os.Stat(cache); return err == nil })
	stop()

	_, stop = startStoppableDaemon(t, args...)
	stop()
	reads := cacheReads(t, logPath)
	if len(reads) != 2 || reads[0] != [2]int{0, 2} || reads[1] != [2]int{2, 0} {
		t.Errorf("cache reads (cached, parsed) %v; want [0 2] on the first start and [2 0] on the restart", reads)
	}
	// The database tools see only their own file in the data directory.
	if code, o, e := runCmd(t, "db", "check", "--data", data); code != 0 || strings.TrimSpace(o) != "ok" {
		t.Errorf("db check beside the cache: %d %s %s", code, o, e)
	}
	if code, o, e := runCmd(t, "db", "backup", "--data", data, filepath.Join(dir, "backup.db")); code != 0 {
		t.Errorf("db backup beside the cache: %d %s %s", code, o, e)
	}
}

// gcPercent reads the collector's target without changing it.
func gcPercent() int {
	p := debug.SetGCPercent(100)
	debug.SetGCPercent(p)
	return p
}

func TestTheStartUpCollectorSettingLastsUntilTheLoopHasTheFirstSnapshot(t *testing.T) {
	before := gcPercent()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w, err := specs.NewWatcher(ctx, longSpecDir(t, t.TempDir()), specs.WatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	d := &daemon{log: slog.New(slog.DiscardHandler), watcher: w}
	d.raiseGC()
	defer d.gcDone()
	snaps, dncSnaps := make(chan specs.Snapshot), make(chan specs.Snapshot, 1)
	go d.fanOut(ctx, snaps, dncSnaps)
	// Time for fanOut to receive the snapshot: until the loop takes it,
	// the start-up setting holds.
	time.Sleep(50 * time.Millisecond)
	if got := gcPercent(); got != 400 {
		t.Errorf("GC percent %d before the loop took the first snapshot, want 400", got)
	}
	<-snaps
	waitFor(t, "the GC percent to be restored", func() bool { return gcPercent() == before })
}
