package dnc_test

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sequencer-dev/sequencer/dnc"
	"github.com/sequencer-dev/sequencer/ocs"
	"github.com/sequencer-dev/sequencer/ocs/bridge"
	"github.com/sequencer-dev/sequencer/ocs/ocssim"
	"github.com/sequencer-dev/sequencer/specs"
	"github.com/sequencer-dev/sequencer/store"
)

// dn is three simulated OCS on one Communication DN and a bridge client.
type dn struct {
	sims []*ocssim.Sim
	link *bridge.Client
}

func newDN(t testing.TB, n int) *dn {
	d := &dn{}
	for i := range n {
		cfg := ocssim.Default()
		cfg.AppDBID = int32(120 + i)
		d.sims = append(d.sims, ocssim.New(cfg))
	}
	hub := ocssim.NewDN(d.sims...)
	d.link = bridge.New(func(ctx context.Context) (net.Conn, error) {
		a, b := net.Pipe()
		go hub.Serve(b)
		return a, nil
	}, bridge.Options{})
	t.Cleanup(func() {
		d.link.Close()
		for _, s := range d.sims {
			s.Close()
		}
	})
	for !d.link.Up() {
		time.Sleep(time.Millisecond)
	}
	return d
}

func (d *dn) requests(i int) int {
	n := 0
	for _, r := range d.sims[i].Transcript() {
		if r.Msg.Type == ocs.ReqDoNotCall {
			n++
		}
	}
	return n
}

func snapshot(lists ...*specs.DoNotCallList) specs.Snapshot {
	s := specs.Snapshot{DNCLists: map[string]*specs.DoNotCallList{}}
	for _, l := range lists {
		s.DNCLists[l.Name] = l
	}
	return s
}

func list(name string, target int32, phones ...string) *specs.DoNotCallList {
	l := &specs.DoNotCallList{Name: name, TargetAppDBID: target}
	for _, p := range phones {
		if strings.HasPrefix(p, "C") {
			l.Entries = append(l.Entries, specs.DNCEntry{CustomerID: p})
		} else {
			l.Entries = append(l.Entries, specs.DNCEntry{Phone: p})
		}
	}
	return l
}

func openStore(t *testing.T, path string) *store.Store {
	st, err := store.Open(path, store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// run starts Lists and returns a function that feeds a snapshot and waits
// until everything due has settled and been written.
type running struct {
	l     *dnc.Lists
	snaps chan specs.Snapshot
	stop  func()
}

func start(t *testing.T, d *dn, st *store.Store) *running {
	l := dnc.NewLists(dnc.Config{Sender: dnc.NewClient(d.link, 310, 2*time.Second), Store: st, BackoffMin: time.Second})
	ctx, cancel := context.WithCancel(context.Background())
	snaps := make(chan specs.Snapshot)
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx, snaps) }()
	return &running{l: l, snaps: snaps, stop: func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}}
}

func (r *running) feed(s specs.Snapshot) {
	r.snaps <- s
	time.Sleep(3 * time.Second) // the collection window, the batched write and the status
	synctest.Wait()
}

func statusOf(t *testing.T, l *dnc.Lists, name string) dnc.ListStatus {
	for _, s := range l.Status() {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("no status for list %s in %+v", name, l.Status())
	return dnc.ListStatus{}
}

func TestEveryEntryOfADNCListReachesEveryOCSOnceAndARestartResubmitsNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := newDN(t, 3)
		path := filepath.Join(t.TempDir(), "db")
		st := openStore(t, path)
		r := start(t, d, st)
		r.feed(snapshot(list("complaints", 0, ocssim.Phone(1), ocssim.Phone(2), "C0000042")))
		got := statusOf(t, r.l, "complaints")
		if got.Entries != 3 || got.Processed != 3 || got.Pending != 0 {
			t.Errorf("status %+v, want 3 processed", got)
		}
		for i, s := range d.sims {
			if !s.OnDNC(ocssim.Phone(1), "") || !s.OnDNC("", "C0000042") {
				t.Errorf("OCS %d lacks the entries", 120+i)
			}
			if n := d.requests(i); n != 3 {
				t.Errorf("OCS %d got %d requests, want 3", 120+i, n)
			}
		}
		entries, _ := st.DNCEntries()
		e := entries[dnc.Key(0, ocssim.Phone(1), "")]
		if e.State != store.DNCProcessed || len(e.Outcomes) != 3 || e.Outcomes[2] != "OCS 122: done" {
			t.Errorf("stored entry %+v, want processed with three outcomes", e)
		}
		r.stop()
		st.Close()

		st = openStore(t, path)
		defer st.Close()
		r = start(t, d, st)
		defer r.stop()
		r.feed(snapshot(list("complaints", 0, ocssim.Phone(1), ocssim.Phone(2), "C0000042", ocssim.Phone(3))))
		for i := range d.sims {
			if n := d.requests(i); n != 4 {
				t.Errorf("after the restart and one new entry OCS %d got %d requests in all, want 4", 120+i, n)
			}
		}
	})
}

func TestAnEntryRemovedFromTheListIsReportedAsStillOnOCS(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := newDN(t, 1)
		st := openStore(t, filepath.Join(t.TempDir(), "db"))
		defer st.Close()
		r := start(t, d, st)
		defer r.stop()
		r.feed(snapshot(list("complaints", 120, ocssim.Phone(1), ocssim.Phone(2))))
		r.feed(snapshot(list("complaints", 120, ocssim.Phone(2))))
		got := statusOf(t, r.l, "complaints")
		if got.Entries != 1 || got.Removed != 1 || !strings.Contains(got.Note, "cannot undo a Do-Not-Call") {
			t.Errorf("status %+v, want one entry, one removed, and a note saying OCS keeps it", got)
		}
		if n := d.requests(0); n != 2 {
			t.Errorf("OCS got %d requests, want 2 (a removal sends nothing)", n)
		}
		// Put back: it is not sent again.
		r.feed(snapshot(list("complaints", 120, ocssim.Phone(1), ocssim.Phone(2))))
		if n := d.requests(0); n != 2 {
			t.Errorf("re-adding a processed entry sent it again: %d requests", n)
		}
		if got := statusOf(t, r.l, "complaints"); got.Removed != 0 || got.Processed != 2 {
			t.Errorf("after putting it back: %+v", got)
		}
	})
}

func TestAnUnansweredEntryIsRetriedWithBackoffUntilOCSProcessesIt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := newDN(t, 1)
		d.sims[0].DropRequests(ocs.ReqDoNotCall, 2)
		st := openStore(t, filepath.Join(t.TempDir(), "db"))
		defer st.Close()
		r := start(t, d, st)
		defer r.stop()
		t0 := time.Now()
		r.snaps <- snapshot(list("complaints", 120, ocssim.Phone(9)))
		time.Sleep(2300 * time.Millisecond) // the first try times out at 2 s; the write follows
		synctest.Wait()
		if got := statusOf(t, r.l, "complaints"); got.Pending != 1 || len(got.Problems) != 1 ||
			!strings.Contains(got.Problems[0], "is application 310 on its Connections tab?") {
			t.Errorf("after one unanswered try: %+v", got)
		}
		time.Sleep(10 * time.Second)
		synctest.Wait()
		got := statusOf(t, r.l, "complaints")
		if got.Processed != 1 {
			t.Fatalf("not processed after retries: %+v", got)
		}
		recs := d.sims[0].Transcript()
		var at []string
		for _, rec := range recs {
			at = append(at, rec.At.Sub(t0).String())
		}
		// Tries at 0 (times out at 2 s), 3 s (backoff 1 s, times out at 5 s), 7 s (backoff 2 s).
		if fmt.Sprint(at) != "[0s 3s 7s]" {
			t.Errorf("tries at %v, want [0s 3s 7s]", at)
		}
		entries, _ := st.DNCEntries()
		if e := entries[dnc.Key(120, ocssim.Phone(9), "")]; e.Attempts != 3 || e.State != store.DNCProcessed {
			t.Errorf("stored %+v, want processed on the third attempt", e)
		}
	})
}

func TestAnEntryOCSRefusesIsReportedAndNotRetried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := newDN(t, 1)
		d.sims[0].FailNext(ocs.ReqDoNotCall, ocs.ErrInvalidParameter)
		st := openStore(t, filepath.Join(t.TempDir(), "db"))
		defer st.Close()
		r := start(t, d, st)
		defer r.stop()
		r.feed(snapshot(list("complaints", 120, ocssim.Phone(9))))
		time.Sleep(time.Hour)
		synctest.Wait()
		got := statusOf(t, r.l, "complaints")
		if got.Failed != 1 || len(got.Problems) != 1 || !strings.Contains(got.Problems[0], "error 10") {
			t.Errorf("status %+v, want one failed entry naming error 10", got)
		}
		if n := d.requests(0); n != 1 {
			t.Errorf("a refused entry was sent %d times, want once", n)
		}
	})
}

func TestAnOCSThatFallsSilentIsReportedByNameAndTheEntryRetried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := newDN(t, 3)
		c := dnc.NewClient(d.link, 310, 2*time.Second)
		ctx := context.Background()
		if out, err := c.DoNotCall(ctx, 0, ocs.Record{Phone: ocssim.Phone(1)}); err != nil || len(out) != 3 || dnc.Failed(out) {
			t.Fatalf("first request: %v %v", out, err)
		}
		d.sims[2].DropRequests(ocs.ReqDoNotCall, 1)
		out, err := c.DoNotCall(ctx, 0, ocs.Record{Phone: ocssim.Phone(2)})
		if err != nil || len(out) != 3 || !dnc.Failed(out) || !dnc.OnlySilence(out) {
			t.Fatalf("with OCS 122 silent: %v %v", out, err)
		}
		if got, want := out[2].String(), "OCS 122: no answer from OCS 122 within 2s: is application 310 on its Connections tab?"; got != want {
			t.Errorf("silent OCS reported as %q, want %q", got, want)
		}

		st := openStore(t, filepath.Join(t.TempDir(), "db"))
		defer st.Close()
		d.sims[2].DropRequests(ocs.ReqDoNotCall, 1)
		l := dnc.NewLists(dnc.Config{Sender: c, Store: st, BackoffMin: time.Second})
		lctx, cancel := context.WithCancel(ctx)
		snaps := make(chan specs.Snapshot, 1)
		done := make(chan error, 1)
		go func() { done <- l.Run(lctx, snaps) }()
		snaps <- snapshot(list("complaints", 0, ocssim.Phone(3)))
		time.Sleep(10 * time.Second)
		synctest.Wait()
		cancel()
		<-done
		entries, _ := st.DNCEntries()
		if e := entries[dnc.Key(0, ocssim.Phone(3), "")]; e.State != store.DNCProcessed || e.Attempts != 2 {
			t.Errorf("entry %+v, want processed on the second attempt", e)
		}
		if !d.sims[2].OnDNC(ocssim.Phone(3), "") {
			t.Error("the OCS that was silent never got the entry")
		}
	})
}

// TestEntriesProcessedByOneOCSArePendingForAnotherAdoptedOnTheSameDatabase:
// what the simulator processed has not reached a real OCS; after
// --adopt-link every entry goes to the new one.
func TestEntriesProcessedByOneOCSArePendingForAnotherAdoptedOnTheSameDatabase(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "db")
		open := func(link store.LinkIdentity) *store.Store {
			st, err := store.Open(path, store.Options{NoSync: true, Link: &link, AdoptLink: true})
			if err != nil {
				t.Fatal(err)
			}
			return st
		}
		spec := snapshot(list("complaints", 120, ocssim.Phone(1), "C0000042"))

		sim := newDN(t, 1)
		st := open(store.LinkIdentity{Kind: "sim", TargetAppDBID: 120})
		r := start(t, sim, st)
		r.feed(spec)
		if got := statusOf(t, r.l, "complaints"); got.Processed != 2 {
			t.Fatalf("on the simulator: %+v", got)
		}
		r.stop()
		st.Close()

		real := newDN(t, 1)
		st = open(store.LinkIdentity{Kind: "bridge", Address: "ocs-sidecar:7410", TargetAppDBID: 120})
		defer st.Close()
		if entries, _ := st.DNCEntries(); len(entries) != 0 {
			t.Errorf("the real OCS's outcomes already hold the simulator's: %+v", entries)
		}
		r = start(t, real, st)
		defer r.stop()
		r.feed(spec)
		if n := real.requests(0); n != 2 {
			t.Errorf("the real OCS got %d requests, want both entries", n)
		}
		if !real.sims[0].OnDNC(ocssim.Phone(1), "") || !real.sims[0].OnDNC("", "C0000042") {
			t.Error("the real OCS lacks the entries")
		}
		if got := statusOf(t, r.l, "complaints"); got.Processed != 2 {
			t.Errorf("on the real OCS: %+v", got)
		}
	})
}
