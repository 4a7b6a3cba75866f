package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sequencer-dev/sequencer/dnc"
	"github.com/sequencer-dev/sequencer/ocs/ocssim"
	"github.com/sequencer-dev/sequencer/store"
)

// runFor runs a command that must end by itself within d.
func runFor(t *testing.T, d time.Duration, args ...string) error {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- run(ctx, args, io.Discard, io.Discard) }()
	select {
	case err := <-done:
		return err
	case <-time.After(d):
		cancel()
		<-done
		t.Fatalf("%s did not end by itself within %s", strings.Join(args, " "), d)
		return nil
	}
}

// tcpSim serves an in-process simulator on a loopback port, as a real
// OCS's sidecar would be reached.
func tcpSim(t *testing.T) (*ocssim.Sim, string) {
	sim := ocssim.New(ocssim.Default())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close(); sim.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go sim.Serve(c)
		}
	}()
	return sim, ln.Addr().String()
}

func processedDNC(t *testing.T, url string) int {
	resp, err := http.Get(url + "/api/v1/dnc-lists")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	var out struct{ Lists []dnc.ListStatus }
	if json.NewDecoder(resp.Body).Decode(&out) != nil || len(out.Lists) != 1 {
		return -1
	}
	return out.Lists[0].Processed
}

// TestASimulatorsDatabaseIsRefusedToARealOCSUntilTheLinkIsAdopted: the
// Do-Not-Call entries the embedded simulator processed must still reach
// the real OCS, and nothing may run against it on the simulator's word.
func TestASimulatorsDatabaseIsRefusedToARealOCSUntilTheLinkIsAdopted(t *testing.T) {
	if testing.Short() {
		t.Skip("starts daemons")
	}
	dir := t.TempDir()
	specDir, data := filepath.Join(dir, "specs"), filepath.Join(dir, "data")
	os.Mkdir(specDir, 0o755)
	os.WriteFile(filepath.Join(specDir, "dnc.yaml"), []byte(`apiVersion: sequencer/v1
kind: DoNotCallList
metadata: {name: complaints}
spec:
  targetAppDBID: 120
  entries:
    - {phone: "+15550000003"}
    - {phone: "+15550000005"}
`), 0o644)
	url, stop := startStoppableDaemon(t, "--specs", specDir, "--data", data)
	waitFor(t, "the simulator to process both entries", func() bool { return processedDNC(t, url) == 2 })
	stop()

	real, addr := tcpSim(t)
	err := runFor(t, 10*time.Second, "run", "--specs", specDir, "--data", data, "--ocs", "bridge://"+addr, "--listen", "", "--log-format", "json")
	want := "database " + data + " was made with OCS link sim (OCS application 120); this run uses bridge://" + addr +
		" (OCS application 120). If OCS really moved, run again with --adopt-link; a simulator run uses its own data directory by default"
	if !errors.Is(err, store.ErrLinkMismatch) || !strings.Contains(err.Error(), want) {
		t.Fatalf("a bridge run on the simulator's database: %v\nwant it to say: %s", err, want)
	}
	if code := exitCode(err, io.Discard); code != 1 {
		t.Errorf("exit code %d, want 1", code)
	}
	if n := len(real.Transcript()); n != 0 {
		t.Errorf("the refused run sent %d requests to the real OCS", n)
	}

	url = startDaemon(t, "--specs", specDir, "--data", data, "--ocs", "bridge://"+addr, "--adopt-link")
	waitFor(t, "the real OCS to get both entries", func() bool {
		return real.OnDNC("+15550000003", "") && real.OnDNC("+15550000005", "")
	})
	waitFor(t, "the entries to be processed on the real OCS", func() bool { return processedDNC(t, url) == 2 })
}

func TestTheSimulatorKeepsItsOwnDataDirectoryByDefault(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a daemon")
	}
	state := t.TempDir()
	t.Setenv("XDG_STATE_HOME", state)
	specDir := t.TempDir()
	os.WriteFile(filepath.Join(specDir, "dnc.yaml"), []byte(`apiVersion: sequencer/v1
kind: DoNotCallList
metadata: {name: complaints}
spec: {targetAppDBID: 120, entries: [{phone: "+15550000003"}]}
`), 0o644)
	_, stop := startStoppableDaemon(t, "--specs", specDir)
	stop()
	if _, err := os.Stat(filepath.Join(state, "sequencer", "sim", store.FileName)); err != nil {
		t.Errorf("the simulator's database is not in its own directory: %v", err)
	}
	if _, err := os.Stat(filepath.Join(state, "sequencer", store.FileName)); err == nil {
		t.Error("the simulator made a database in the directory a real link uses by default")
	}
}

// writeDB makes a database in dir/data with one progress record and
// returns its path.
func writeDB(t *testing.T, dir string) string {
	t.Helper()
	data := filepath.Join(dir, "data")
	os.MkdirAll(data, 0o755)
	path := filepath.Join(data, store.FileName)
	s, err := store.Open(path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.PutProgress(store.Progress{Sequence: "broken", SpecHash: "h", UpdatedAt: time.Unix(1, 0)}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	return path
}

func TestACorruptProgressValueEndsRunWithAnErrorWithinSeconds(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a daemon")
	}
	dir := t.TempDir()
	path := writeDB(t, dir)
	b, _ := os.ReadFile(path)
	value := []byte(`{"v":1,"data":{"sequence":"broken"`)
	if !bytes.Contains(b, value) {
		t.Fatal("the progress value is not in the file as written")
	}
	os.WriteFile(path, bytes.Replace(b, value, []byte(`{"v":1,"data":{"sequence":"broken!`), 1), 0o600)
	specDir := filepath.Join(dir, "specs")
	os.Mkdir(specDir, 0o755)
	// A DoNotCallList starts the lists' goroutine, which once kept the
	// process alive after the loop failed.
	os.WriteFile(filepath.Join(specDir, "dnc.yaml"), []byte(`apiVersion: sequencer/v1
kind: DoNotCallList
metadata: {name: complaints}
spec: {targetAppDBID: 120, entries: [{phone: "+15550000003"}]}
`), 0o644)
	err := runFor(t, 10*time.Second, "run", "--specs", specDir, "--data", filepath.Dir(path), "--listen", freeAddr(t), "--log-format", "json")
	if !errors.Is(err, store.ErrCorrupt) || !strings.Contains(err.Error(), "recover progress") || !strings.Contains(err.Error(), "sequencer db check --data "+filepath.Dir(path)) {
		t.Errorf("run on a corrupt progress value: %v", err)
	}
	if code := exitCode(err, io.Discard); code == 0 {
		t.Error("exit code 0")
	}
}

func TestADamagedDatabaseFileIsAnErrorForRunAndTheDBTools(t *testing.T) {
	for name, damage := range map[string]func([]byte) []byte{
		"truncated": func(b []byte) []byte { return b[:len(b)/2] },
		"empty":     func([]byte) []byte { return nil },
		"garbage after the meta pages": func(b []byte) []byte {
			ps := os.Getpagesize()
			for i := 2 * ps; i < len(b); i++ {
				b[i] = byte(i * 7)
			}
			return b
		},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			path := writeDB(t, dir)
			b, _ := os.ReadFile(path)
			os.WriteFile(path, damage(b), 0o600)
			data := filepath.Dir(path)
			err := runFor(t, 10*time.Second, "run", "--specs", t.TempDir(), "--data", data, "--listen", "", "--log-format", "json")
			if !errors.Is(err, store.ErrDamaged) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "backup") {
				t.Errorf("run: %v", err)
			}
			for _, sub := range []string{"check", "backup", "compact"} {
				args := []string{"db", sub, "--data", data}
				if sub == "backup" {
					args = append(args, filepath.Join(dir, "copy.db"))
				}
				code, out, errs := runCmd(t, args...)
				if code != 1 || !strings.Contains(out+errs, path) || strings.Contains(out+errs, "running daemon") {
					t.Errorf("db %s: exit %d, %s%s", sub, code, out, errs)
				}
			}
		})
	}
}

// TestADatabaseDamagedUnderARunningDaemonStopsIt: once a write meets a
// damaged page every later one fails; the daemon must exit with the
// reason rather than go on deciding without a memory.
func TestADatabaseDamagedUnderARunningDaemonStopsIt(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a daemon")
	}
	dir := t.TempDir()
	specDir, data := longSpecDir(t, dir), filepath.Join(dir, "data")
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"run", "--specs", specDir, "--data", data, "--listen", addr, "--log-format", "json"}, io.Discard, io.Discard)
	}()
	waitFor(t, "the sequence to run", func() bool {
		code, out, _ := runCmd(t, "status", "long", "--server", "http://"+addr, "--format", "json")
		return code == 0 && strings.Contains(out, `"dialing"`)
	})
	path := filepath.Join(data, store.FileName)
	damage := func() {
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		info, _ := f.Stat()
		ps := int64(os.Getpagesize())
		for off := 2 * ps; off < info.Size(); off += ps {
			f.WriteAt(bytes.Repeat([]byte{0xA5}, int(ps)), off)
		}
	}
	// A suspend is a write the loop makes at once. A commit the daemon
	// makes between the damage and that write rewrites the pages it
	// touches (bbolt copies on write), which can heal exactly the pages
	// the next write reads: so damage the file again before each write
	// (suspend, resume, …) until the daemon notices.
	deadline := time.After(30 * time.Second)
	for i := 0; ; i++ {
		damage()
		verb := []string{"suspend", "resume"}[i%2]
		runCmd(t, verb, "long", "--server", "http://"+addr, "--reason", "test")
		select {
		case err := <-done:
			if !errors.Is(err, store.ErrDamaged) || !strings.Contains(err.Error(), path) {
				t.Errorf("run ended with %v, want the damaged file named", err)
			}
			return
		case <-deadline:
			t.Fatal("the daemon went on running on a damaged database")
		case <-time.After(time.Second):
		}
	}
}
