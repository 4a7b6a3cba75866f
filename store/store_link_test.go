package store

import (
	"bytes"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var (
	simLink    = LinkIdentity{Kind: "sim", TargetAppDBID: 120}
	bridgeLink = LinkIdentity{Kind: "bridge", Address: "ocs-sidecar:7410", TargetAppDBID: 120}
)

func openWith(t *testing.T, path string, link LinkIdentity, adopt bool, log *slog.Logger) *Store {
	t.Helper()
	s, err := Open(path, Options{NoSync: true, Link: &link, AdoptLink: adopt, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestADatabaseMadeWithTheSimulatorRefusesARealOCSAndSaysHowToProceed(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, FileName)
	openWith(t, path, simLink, false, nil).Close()

	_, err := Open(path, Options{NoSync: true, Link: &bridgeLink})
	if !errors.Is(err, ErrLinkMismatch) {
		t.Fatalf("open with another link: %v", err)
	}
	want := "database " + dir + " was made with OCS link sim (OCS application 120); this run uses bridge://ocs-sidecar:7410 (OCS application 120). " +
		"If OCS really moved, run again with --adopt-link; a simulator run uses its own data directory by default"
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error:\n%v\nwant it to contain:\n%s", err, want)
	}
	other := LinkIdentity{Kind: "sim", TargetAppDBID: 121}
	if _, err := Open(path, Options{NoSync: true, Link: &other}); !errors.Is(err, ErrLinkMismatch) {
		t.Errorf("another OCS application on the same link: %v", err)
	}
	ro, err := Open(path, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if got, ok := ro.Identity(); !ok || got != simLink {
		t.Errorf("identity seen by a tool: %+v %v", got, ok)
	}
}

func TestAdoptingANewLinkRecordsItAndTellsEachSequencesHistory(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	s := openWith(t, path, simLink, false, nil)
	s.PutProgress(Progress{Sequence: "demo", SpecHash: "h"})
	s.Close()

	var logs bytes.Buffer
	s = openWith(t, path, bridgeLink, true, slog.New(slog.NewTextHandler(&logs, nil)))
	if got, _ := s.Identity(); got != bridgeLink {
		t.Errorf("identity after adopting: %+v", got)
	}
	evs, _ := s.History("demo", time.Time{}, time.Time{}, 0)
	if len(evs) != 1 || evs[0].Kind != "link-adopted" ||
		!strings.Contains(evs[0].Message, "from sim (OCS application 120) to bridge://ocs-sidecar:7410 (OCS application 120)") {
		t.Errorf("history after adopting: %+v", evs)
	}
	if !strings.Contains(logs.String(), "adopts a new OCS link") {
		t.Errorf("the adoption was not logged: %s", logs.String())
	}
	if p, ok, _ := s.Progress("demo"); !ok || p.SpecHash != "h" {
		t.Errorf("progress lost in the adoption: %+v", p)
	}
	s.Close()

	s = openWith(t, path, bridgeLink, false, nil) // now the one on record
	s.Close()
	if _, err := Open(path, Options{NoSync: true, Link: &simLink}); !errors.Is(err, ErrLinkMismatch) {
		t.Errorf("the old link after adopting the new one: %v", err)
	}
}

func TestADatabaseOfAnOlderBuildTakesTheLinkOfItsFirstRunAndLogsIt(t *testing.T) {
	s, path := openTemp(t, Options{NoSync: true})
	s.PutDNCEntries([]DNCEntry{{Key: "legacy", State: DNCProcessed}})
	s.Close()

	var logs bytes.Buffer
	s = openWith(t, path, bridgeLink, false, slog.New(slog.NewTextHandler(&logs, nil)))
	if got, ok := s.Identity(); !ok || got != bridgeLink {
		t.Errorf("identity: %+v %v", got, ok)
	}
	for _, want := range []string{"database records its OCS link", "bridge://ocs-sidecar:7410", "submitted again", "entries=1"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q: %s", want, logs.String())
		}
	}
	// Outcomes that do not say which OCS processed them are to do again.
	if es, _ := s.DNCEntries(); len(es) != 0 {
		t.Errorf("legacy outcomes taken for this link's: %+v", es)
	}
	if err := s.Check(); err != nil {
		t.Errorf("check: %v", err)
	}
	s.Close()
	if _, err := Open(path, Options{NoSync: true, Link: &simLink}); !errors.Is(err, ErrLinkMismatch) {
		t.Errorf("the link was not recorded: %v", err)
	}
}

func TestDoNotCallOutcomesBelongToTheLinkThatProcessedThem(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	s := openWith(t, path, simLink, false, nil)
	s.PutDNCEntries([]DNCEntry{{Key: "k1", Phone: "+1", State: DNCProcessed}})
	s.Close()

	s = openWith(t, path, bridgeLink, true, nil)
	if es, _ := s.DNCEntries(); len(es) != 0 {
		t.Errorf("the real OCS sees the simulator's outcomes: %+v", es)
	}
	s.PutDNCEntries([]DNCEntry{{Key: "k2", Phone: "+2", State: DNCPending}})
	if err := s.Check(); err != nil {
		t.Errorf("check with two links' outcomes: %v", err)
	}
	s.Close()

	s = openWith(t, path, simLink, true, nil)
	defer s.Close()
	if es, _ := s.DNCEntries(); len(es) != 1 || es["k1"].State != DNCProcessed {
		t.Errorf("back on the simulator: %+v", es)
	}
}
