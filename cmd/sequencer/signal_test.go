package main

import (
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return string(b)
}

func TestAReopenedLogFileStartsANewFileAtTheOldPath(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sequencer.log")
	lf, err := openLogFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer lf.Close()
	log := slog.New(slog.NewJSONHandler(lf, nil))
	log.Info("before rotation")
	if err := os.Rename(path, path+".1"); err != nil { // logrotate
		t.Fatal(err)
	}
	log.Info("still in the rotated file")
	if err := lf.Reopen(); err != nil {
		t.Fatal(err)
	}
	log.Info("after rotation")
	old, cur := readFile(t, path+".1"), readFile(t, path)
	if !strings.Contains(old, "before rotation") || !strings.Contains(old, "still in the rotated file") || strings.Contains(old, "after rotation") {
		t.Errorf("rotated file:\n%s", old)
	}
	if !strings.Contains(cur, "after rotation") || strings.Contains(cur, "before rotation") {
		t.Errorf("new file at the old path:\n%s", cur)
	}
}

func TestAFailedReopenKeepsWritingToTheOldFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "logs", "sequencer.log")
	os.Mkdir(filepath.Dir(path), 0o755)
	lf, err := openLogFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer lf.Close()
	os.Rename(filepath.Dir(path), filepath.Join(dir, "moved")) // the new path cannot be created
	if err := lf.Reopen(); err == nil || !strings.Contains(err.Error(), "reopen "+path) {
		t.Fatalf("reopen error %v", err)
	}
	if _, err := lf.Write([]byte("kept\n")); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(dir, "moved", "sequencer.log")); got != "kept\n" {
		t.Errorf("old file holds %q", got)
	}
}

func TestRunRefusesABadSpecSizeLimitOrLogFile(t *testing.T) {
	if code, _, errs := runCmd(t, "run", "--max-spec-bytes", "4MB"); code != 2 || !strings.Contains(errs, "want a positive byte count") {
		t.Errorf("--max-spec-bytes 4MB: exit %d %s", code, errs)
	}
	bad := filepath.Join(t.TempDir(), "no-such-dir", "x.log")
	if code, _, errs := runCmd(t, "run", "--log-file", bad); code != 2 || !strings.Contains(errs, "--log-file: open "+bad) {
		t.Errorf("--log-file in a missing directory: exit %d %s", code, errs)
	}
}

// TestSIGHUPReopensTheLogAndReloadsTheSpecsAndTheDaemonKeepsRunning runs
// the daemon as a real process (the crash test's helper), rotates its log
// and sends SIGHUP. The spec edit keeps the file's size and its hour-old
// mtime, so the watcher's own reload cannot see it: only the SIGHUP
// rescan, which reads every file, can.
func TestSIGHUPReopensTheLogAndReloadsTheSpecsAndTheDaemonKeepsRunning(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a daemon process")
	}
	dir := t.TempDir()
	specDir := filepath.Join(dir, "specs")
	os.Mkdir(specDir, 0o755)
	specPath := filepath.Join(specDir, "long.yaml")
	long := func(hours string) string {
		return "apiVersion: sequencer/v1\nkind: CampaignSequence\nmetadata: {name: long}\nspec:\n  items:\n" +
			"    - {name: only, campaignDBID: 101, groupDBID: 732, dialMode: progressive, stopAt: {time: \"+" + hours + "h\"}}\n"
	}
	os.WriteFile(specPath, []byte(long("1")), 0o644)
	old := time.Now().Add(-time.Hour).Truncate(time.Second)
	os.Chtimes(specPath, old, old)
	logPath := filepath.Join(dir, "sequencer.log")
	args := strings.Join([]string{"run", "--specs", specDir, "--data", filepath.Join(dir, "data"),
		"--listen", "", "--log-format", "json", "--log-file", logPath}, "\x1f")
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperDaemon$")
	cmd.Env = append(os.Environ(), "SEQUENCER_CRASH_CHILD="+args)
	out, _ := os.Create(filepath.Join(dir, "stdio"))
	defer out.Close()
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		cmd.Process.Kill()
		<-exited
	}()
	alive := func() {
		t.Helper()
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("the daemon exited: %v\nlog:\n%s\nstdio:\n%s", err, readFile(t, logPath), readFile(t, out.Name()))
		default:
		}
	}
	waitForLog := func(path, what string) {
		t.Helper()
		waitFor(t, what+" in "+filepath.Base(path), func() bool {
			alive()
			return strings.Contains(readFile(t, path), what)
		})
	}
	waitForLog(logPath, `"msg":"sequencer running"`)

	os.WriteFile(specPath, []byte(long("2")), 0o644) // same size
	os.Chtimes(specPath, old, old)
	time.Sleep(500 * time.Millisecond) // let the watcher's own reload pass and miss it
	os.Rename(logPath, logPath+".1")
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitForLog(logPath, `"msg":"specs rescanned"`)
	cur := readFile(t, logPath)
	if !strings.Contains(cur, `"msg":"SIGHUP: reloading the specs","logReopened":true`) || !strings.Contains(cur, `"changed":true`) {
		t.Errorf("the new log does not show the reload of the edit:\n%s", cur)
	}
	if strings.Contains(cur, `"msg":"sequencer running"`) {
		t.Errorf("the new log file holds lines from before the rotation:\n%s", cur)
	}
	if rotated := readFile(t, logPath+".1"); strings.Contains(rotated, `"msg":"SIGHUP`) || !strings.Contains(rotated, `"msg":"sequencer running"`) {
		t.Errorf("the rotated log:\n%s", rotated)
	}
	// Still running, and a second SIGHUP works the same way.
	cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, "a second reload", func() bool {
		alive()
		return strings.Count(readFile(t, logPath), `"msg":"specs rescanned"`) == 2
	})
	alive()
}
