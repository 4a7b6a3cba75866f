package main

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sequencer-dev/sequencer/store"
)

func TestDBBackupCheckAndCompactWorkOnAStoppedDaemonsFile(t *testing.T) {
	dir := t.TempDir()
	s, err := store.Open(filepath.Join(dir, store.FileName), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s.PutProgress(store.Progress{Sequence: "nightly", SpecHash: "h", UpdatedAt: time.Unix(1, 0)})
	s.Close()

	out := filepath.Join(t.TempDir(), "backup.db")
	if code, o, e := runCmd(t, "db", "backup", "--data", dir, out); code != 0 || !strings.Contains(o, "backed up") {
		t.Fatalf("backup: %d %s %s", code, o, e)
	}
	b, err := store.Open(out, store.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if p, ok, _ := b.Progress("nightly"); !ok || p.SpecHash != "h" {
		t.Errorf("backup lacks the progress: %+v", p)
	}
	b.Close()
	if code, o, _ := runCmd(t, "db", "check", "--data", dir); code != 0 || strings.TrimSpace(o) != "ok" {
		t.Errorf("check: %d %s", code, o)
	}
	if code, o, e := runCmd(t, "db", "compact", "--data", dir); code != 0 {
		t.Errorf("compact: %d %s %s", code, o, e)
	}
	if code, _, _ := runCmd(t, "db", "check", "--data", dir); code != 0 {
		t.Error("check after compact failed")
	}
	if code, _, _ := runCmd(t, "db", "backup", "--data", dir); code != 2 {
		t.Errorf("backup without OUT exit %d, want 2", code)
	}
	if code, _, _ := runCmd(t, "db", "frobnicate", "--data", dir); code != 2 {
		t.Errorf("unknown subcommand exit %d, want 2", code)
	}
}

func TestDBCommandsSayWhenTheDaemonHoldsTheFile(t *testing.T) {
	dir := t.TempDir()
	s, err := store.Open(filepath.Join(dir, store.FileName), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	code, _, e := runCmd(t, "db", "check", "--data", dir)
	if code != 1 || !strings.Contains(e, "running daemon") {
		t.Errorf("check on a held file: %d %s", code, e)
	}
}
