package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sequencer-dev/sequencer/etcdstore"
	"github.com/sequencer-dev/sequencer/etcdstore/etcdtest"
	"github.com/sequencer-dev/sequencer/store"
)

// dump is everything durable in a store, as JSON, for comparison.
func dump(t *testing.T, s migrationSource) string {
	t.Helper()
	ps, err1 := s.AllProgress()
	ins, err2 := s.AllIntents()
	evs, err3 := s.AllHistory()
	gs, err4 := s.GroupStatuses()
	h, found, err5 := s.Halt()
	dnc, err6 := s.DNCEntries()
	for _, err := range []error{err1, err2, err3, err4, err5, err6} {
		if err != nil {
			t.Fatal(err)
		}
	}
	b, _ := json.MarshalIndent(map[string]any{"progress": ps, "intents": ins, "history": evs, "groups": gs,
		"halt": h, "halted": found, "dnc": dnc}, "", " ")
	return string(b)
}

func TestDBMigrateCopiesEverythingToEtcdAndBackUnchanged(t *testing.T) {
	c := etcdtest.Start(t, 1)
	url := c.Endpoints()[0]
	dir := t.TempDir()
	link := store.LinkIdentity{Kind: "bridge", Address: "ocs-sidecar:7410", TargetAppDBID: 120}
	s, err := store.Open(filepath.Join(dir, store.FileName), store.Options{NoSync: true, Link: &link})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 12, 1, 22, 0, 0, 0, time.UTC)
	s.PutProgress(store.Progress{Sequence: "nightly", SpecHash: "h", Generation: 3,
		Run: &store.Run{ID: "nightly@x", ItemName: "one", ItemState: "dialing", Segment: 2}, UpdatedAt: at})
	s.BeginIntent(store.Intent{ID: "nightly@x/0/2/start", Sequence: "nightly", Action: "start", Created: at})
	s.BeginIntent(store.Intent{ID: "nightly@x/0/1/load", Sequence: "nightly", Action: "load", Created: at.Add(-time.Minute)})
	s.SettleIntent("nightly@x/0/1/load", store.IntentDone, "loaded", at)
	s.Append(store.Event{Sequence: "nightly", At: at, Kind: "run-start", Message: "a"},
		store.Event{Sequence: "nightly", At: at, Kind: "request", Message: "b"},
		store.Event{Sequence: "deleted-long-ago", At: at.Add(-time.Hour), Kind: "k", Message: "c"})
	s.PutGroupStatus(store.GroupStatus{CampaignDBID: 101, GroupDBID: 732, Status: 3, At: at})
	s.PutDNCEntries([]store.DNCEntry{{Key: "0|+1415|", Phone: "+1415", State: store.DNCProcessed}})
	s.PutHalt(&store.Halt{Reason: "audit", Who: "ana", Since: at})
	want := dump(t, s)
	s.Close()

	code, out, errs := runCmd(t, "db", "migrate", "--from", dir, "--to-etcd", url, "--etcd-prefix", "/prod/")
	if code != 0 || !strings.Contains(out, "1 sequence, 2 intents, 3 history events, 1 campaign-group status, 1 Do-Not-Call outcome, 1 halt") {
		t.Fatalf("migrate to etcd: %d %s %s", code, out, errs)
	}
	back := t.TempDir()
	if code, out, errs := runCmd(t, "db", "migrate", "--from-etcd", url, "--etcd-prefix", "/prod/", "--to", back); code != 0 {
		t.Fatalf("migrate from etcd: %d %s %s", code, out, errs)
	}
	r, err := store.Open(filepath.Join(back, store.FileName), store.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if id, ok := r.Identity(); !ok || id != link {
		t.Errorf("the copy's OCS link: %+v %v, want %+v (its Do-Not-Call outcomes are that OCS's)", id, ok, link)
	}
	if got := dump(t, r); got != want {
		t.Errorf("after a round trip through etcd:\n%s\nwant\n%s", got, want)
	}
	// A second copy into the same prefix would pair two journals.
	if code, _, errs := runCmd(t, "db", "migrate", "--from", dir, "--to-etcd", url, "--etcd-prefix", "/prod/"); code != 1 || !strings.Contains(errs, "already holds 1 sequence and 2 intents") {
		t.Errorf("migrate into a non-empty prefix: %d %s", code, errs)
	}
	if code, _, errs := runCmd(t, "db", "migrate", "--from-etcd", url, "--etcd-prefix", "/prod/", "--to", back); code != 1 || !strings.Contains(errs, "already exists") {
		t.Errorf("migrate over an existing file: %d %s", code, errs)
	}
}

func TestDBMigrateRefusesWhileADaemonLeads(t *testing.T) {
	c := etcdtest.Start(t, 1)
	cli, err := etcdstore.NewClient(etcdstore.ClientConfig{Endpoints: c.Endpoints()})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	cli.Put(context.Background(), "/sequencer/leader/694d", `{"name":"node-1","api":"10.0.0.1:8080"}`)
	code, _, errs := runCmd(t, "db", "migrate", "--from-etcd", c.Endpoints()[0], "--to", t.TempDir())
	if code != 1 || !strings.Contains(errs, `daemon "node-1" leads`) {
		t.Errorf("migrate under a leader: %d %s", code, errs)
	}
}

func TestDBMigrateNeedsOneDirectionSpelledOut(t *testing.T) {
	for _, args := range [][]string{
		{"db", "migrate"},
		{"db", "migrate", "--from", "x"},
		{"db", "migrate", "--from", "x", "--to", "y"},
		{"db", "migrate", "--from", "x", "--to-etcd", "http://a:2379", "--from-etcd", "http://a:2379"},
	} {
		if code, _, errs := runCmd(t, args...); code != 2 || !strings.Contains(errs, "--from DIR --to-etcd URL, or --from-etcd URL --to DIR") {
			t.Errorf("%v: %d %s", args, code, errs)
		}
	}
	if code, _, errs := runCmd(t, "db", "migrate", "--from", "x", "--to-etcd", "10.0.0.1:2379"); code != 2 || !strings.Contains(errs, `"10.0.0.1:2379"`) {
		t.Errorf("endpoint without a scheme: %d %s", code, errs)
	}
}
