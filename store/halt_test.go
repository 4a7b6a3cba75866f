package store

import (
	"path/filepath"
	"testing"
	"time"
)

func TestAHaltOutlivesARestartUntilItIsLifted(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	s, err := Open(path, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, found, err := s.Halt(); err != nil || found {
		t.Fatalf("fresh store: halt found %v err %v", found, err)
	}
	want := Halt{Reason: "regulator call", Who: "api:alice", Since: time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC)}
	if err := s.PutHalt(&want); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = Open(path, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, found, err := s.Halt()
	if err != nil || !found || got != want {
		t.Fatalf("after reopen: %+v found %v err %v, want %+v", got, found, err, want)
	}
	if err := s.PutHalt(nil); err != nil {
		t.Fatal(err)
	}
	if _, found, _ := s.Halt(); found {
		t.Error("the halt is still stored after it was lifted")
	}
}
