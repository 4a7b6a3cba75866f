package etcdstore_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"

	"github.com/sequencer-dev/sequencer/etcdstore"
	"github.com/sequencer-dev/sequencer/etcdstore/etcdtest"
	"github.com/sequencer-dev/sequencer/store"
	"github.com/sequencer-dev/sequencer/store/storetest"
)

func client(t testing.TB, c *etcdtest.Cluster) *clientv3.Client {
	t.Helper()
	cli, err := etcdstore.NewClient(etcdstore.ClientConfig{Endpoints: c.Endpoints()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

func TestTheEtcdStorePassesTheConformanceSuite(t *testing.T) {
	cli := client(t, etcdtest.Start(t, 1))
	var n atomic.Int64
	storetest.Run(t, func(t *testing.T) storetest.Store {
		// One prefix per test: each starts on an empty store.
		s, err := etcdstore.Open(context.Background(), cli, etcdstore.Options{Prefix: fmt.Sprintf("/t%d/", n.Add(1))})
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

// lead makes this client the leader under prefix and returns its fence and
// lease.
func lead(t *testing.T, cli *clientv3.Client, prefix string, ttl int) (etcdstore.Fence, *concurrency.Session) {
	t.Helper()
	sess, err := concurrency.NewSession(cli, concurrency.WithTTL(ttl))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sess.Close() })
	e := concurrency.NewElection(sess, prefix+"leader")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := e.Campaign(ctx, "member"); err != nil {
		t.Fatal(err)
	}
	return etcdstore.Fence{Key: e.Key(), Rev: e.Rev()}, sess
}

func TestEveryWriteOfALeaderWhoseLeaseExpiredFailsWithErrFenced(t *testing.T) {
	cli := client(t, etcdtest.Start(t, 1))
	base, err := etcdstore.Open(context.Background(), cli, etcdstore.Options{Prefix: "/fence/"})
	if err != nil {
		t.Fatal(err)
	}
	fence, sess := lead(t, cli, "/fence/", 1)
	old := base.Fenced(fence)
	if err := old.PutProgress(store.Progress{Sequence: "a", Generation: 1}); err != nil {
		t.Fatalf("the leader's own write: %v", err)
	}
	if _, _, err := old.BeginIntent(store.Intent{ID: "a/0/0/load", Sequence: "a"}); err != nil {
		t.Fatal(err)
	}
	// What a SIGSTOP longer than the TTL does: the lease runs out (stop
	// sending keep-alives) while the process still believes it leads.
	sess.Orphan()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		r, err := cli.Get(ctx, fence.Key)
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Kvs) == 0 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	newFence, _ := lead(t, cli, "/fence/", 5)
	if err := base.Fenced(newFence).PutProgress(store.Progress{Sequence: "a", Generation: 2}); err != nil {
		t.Fatalf("the new leader's write: %v", err)
	}
	// Something old for the deposed leader's Prune to try to delete.
	if err := base.Fenced(newFence).Append(store.Event{Sequence: "a", At: time.Unix(0, 0), Kind: "k"}); err != nil {
		t.Fatal(err)
	}
	writes := map[string]func() error{
		"PutProgress":    func() error { return old.PutProgress(store.Progress{Sequence: "a", Generation: 99}) },
		"DeleteProgress": func() error { return old.DeleteProgress("a") },
		"BeginIntent": func() error {
			_, _, err := old.BeginIntent(store.Intent{ID: "a/0/0/start", Sequence: "a"})
			return err
		},
		"SettleIntent":   func() error { return old.SettleIntent("a/0/0/load", store.IntentDone, "", time.Now()) },
		"Append":         func() error { return old.Append(store.Event{Sequence: "a", At: time.Now(), Kind: "k"}) },
		"PutGroupStatus": func() error { return old.PutGroupStatus(store.GroupStatus{CampaignDBID: 1, GroupDBID: 2}) },
		"PutHalt":        func() error { return old.PutHalt(&store.Halt{Reason: "r"}) },
		"PutDNCEntries":  func() error { return old.PutDNCEntries([]store.DNCEntry{{Key: "k"}}) },
		"Prune":          func() error { _, err := old.Prune(time.Now().Add(365 * 24 * time.Hour)); return err },
		"Commit": func() error {
			return old.Commit(&store.Batch{Progress: []store.Progress{{Sequence: "a", Generation: 98}},
				Begin:  []store.Intent{{ID: "a/0/1/start", Sequence: "a"}},
				Settle: []store.Settlement{{ID: "a/0/0/load", State: store.IntentDone}}})
		},
	}
	for name, write := range writes {
		if err := write(); !errors.Is(err, store.ErrFenced) || !strings.Contains(err.Error(), fence.Key) {
			t.Errorf("%s by the deposed leader: %v, want store.ErrFenced naming %s", name, err, fence.Key)
		}
	}
	if p, _, _ := base.Progress("a"); p.Generation != 2 {
		t.Errorf("generation %d: the deposed leader overwrote the new one's progress", p.Generation)
	}
	if _, found, _ := base.Intent("a/0/1/start"); found {
		t.Error("the deposed leader's commit journaled an intent")
	}
	if _, found, _ := base.Intent("a/0/0/start"); found {
		t.Error("the deposed leader journaled an intent")
	}
	if in, _, _ := base.Intent("a/0/0/load"); in.State != store.IntentOpen {
		t.Errorf("the deposed leader settled an intent: %+v (the new leader settles it from OCS status)", in)
	}
}

func TestANewerSchemaUnderThePrefixIsRefused(t *testing.T) {
	cli := client(t, etcdtest.Start(t, 1))
	if _, err := cli.Put(context.Background(), "/future/meta/schema", "99"); err != nil {
		t.Fatal(err)
	}
	if _, err := etcdstore.Open(context.Background(), cli, etcdstore.Options{Prefix: "/future/"}); !errors.Is(err, store.ErrSchemaTooNew) {
		t.Errorf("open: %v", err)
	}
}

func TestACorruptValueIsAnErrorNamingItsKey(t *testing.T) {
	cli := client(t, etcdtest.Start(t, 1))
	s, err := etcdstore.Open(context.Background(), cli, etcdstore.Options{Prefix: "/c/"})
	if err != nil {
		t.Fatal(err)
	}
	cli.Put(context.Background(), "/c/progress/broken", `{"v":1,"data":{"sequence":`)
	if _, _, err := s.Progress("broken"); !errors.Is(err, store.ErrCorrupt) || !strings.Contains(err.Error(), "/c/progress/broken") {
		t.Errorf("truncated value: %v", err)
	}
	if _, err := s.AllProgress(); !errors.Is(err, store.ErrCorrupt) {
		t.Errorf("all progress: %v", err)
	}
}

func TestAnEndpointWithoutSchemeIsRefusedByName(t *testing.T) {
	_, err := etcdstore.NewClient(etcdstore.ClientConfig{Endpoints: []string{"10.0.0.1:2379"}})
	if err == nil || !strings.Contains(err.Error(), `"10.0.0.1:2379"`) {
		t.Errorf("endpoint without scheme: %v", err)
	}
}

func TestAPrefixMadeWithAnotherOCSLinkIsRefusedUnlessAdoptedAndKeepsDNCOutcomesPerLink(t *testing.T) {
	cli := client(t, etcdtest.Start(t, 1))
	ctx := context.Background()
	sim := store.LinkIdentity{Kind: "sim", TargetAppDBID: 120}
	real := store.LinkIdentity{Kind: "bridge", Address: "ocs-sidecar:7410", TargetAppDBID: 120}
	s, err := etcdstore.Open(ctx, cli, etcdstore.Options{Prefix: "/l/", Link: &sim})
	if err != nil {
		t.Fatal(err)
	}
	s.PutProgress(store.Progress{Sequence: "nightly"})
	s.PutDNCEntries([]store.DNCEntry{{Key: "0|+1415|", State: store.DNCProcessed}})
	if _, err := etcdstore.Open(ctx, cli, etcdstore.Options{Prefix: "/l/", Link: &real}); !errors.Is(err, store.ErrLinkMismatch) ||
		!strings.Contains(err.Error(), "--adopt-link") || !strings.Contains(err.Error(), "ocs-sidecar:7410") {
		t.Fatalf("open with another link: %v", err)
	}
	if again, err := etcdstore.Open(ctx, cli, etcdstore.Options{Prefix: "/l/", Link: &sim}); err != nil {
		t.Fatalf("open with the same link: %v", err)
	} else if id, ok := again.Identity(); !ok || id != sim {
		t.Errorf("identity: %+v %v", id, ok)
	}
	moved, err := etcdstore.Open(ctx, cli, etcdstore.Options{Prefix: "/l/", Link: &real, AdoptLink: true})
	if err != nil {
		t.Fatalf("adopt: %v", err)
	}
	if es, _ := moved.DNCEntries(); len(es) != 0 {
		t.Errorf("what the simulator processed is taken as done on the real OCS: %+v", es)
	}
	evs, _ := moved.History("nightly", time.Time{}, time.Time{}, 0)
	if len(evs) != 1 || evs[0].Kind != "link-adopted" {
		t.Errorf("history after adopting: %+v", evs)
	}
	tool, err := etcdstore.Open(ctx, cli, etcdstore.Options{Prefix: "/l/"})
	if err != nil {
		t.Fatal(err)
	}
	if id, _ := tool.Identity(); id != real {
		t.Errorf("a tool's open sees link %+v, want the adopted one", id)
	}
}

func TestACommitLargerThanOneTransactionKeepsEachSequencesWritesInOneTransaction(t *testing.T) {
	cli := client(t, etcdtest.Start(t, 1))
	s, err := etcdstore.Open(context.Background(), cli, etcdstore.Options{Prefix: "/chunk/"})
	if err != nil {
		t.Fatal(err)
	}
	r, err := cli.Get(context.Background(), "/chunk/meta/schema")
	if err != nil {
		t.Fatal(err)
	}
	b := &store.Batch{}
	for i := range 250 {
		seq := fmt.Sprintf("s%03d", i)
		b.Progress = append(b.Progress, store.Progress{Sequence: seq})
		b.Begin = append(b.Begin, store.Intent{ID: seq + "/0/0/load", Sequence: seq},
			store.Intent{ID: seq + "/0/0/start", Sequence: seq})
	}
	if err := s.Commit(b); err != nil {
		t.Fatal(err)
	}
	// Each transaction is one revision: the progress of a sequence and its
	// intents must share theirs.
	all, err := cli.Get(context.Background(), "/chunk/", clientv3.WithPrefix(), clientv3.WithMinModRev(r.Header.Revision+1))
	if err != nil {
		t.Fatal(err)
	}
	revOf := map[string]int64{}
	revs := map[int64]bool{}
	for _, kv := range all.Kvs {
		k := strings.TrimPrefix(string(kv.Key), "/chunk/")
		k = strings.TrimPrefix(strings.TrimPrefix(k, "progress/"), "intents/")
		seq, _, _ := strings.Cut(k, "/")
		if rev, seen := revOf[seq]; seen && rev != kv.ModRevision {
			t.Errorf("sequence %s written in two transactions (revisions %d and %d)", seq, rev, kv.ModRevision)
		}
		revOf[seq] = kv.ModRevision
		revs[kv.ModRevision] = true
	}
	if len(revOf) != 250 || len(revs) < 2 {
		t.Errorf("%d sequences written in %d transactions, want 250 in several (750 writes)", len(revOf), len(revs))
	}
}

func TestACommitOfOneSequenceWithMoreWritesThanATransactionHoldsIsRefusedWhole(t *testing.T) {
	cli := client(t, etcdtest.Start(t, 1))
	s, err := etcdstore.Open(context.Background(), cli, etcdstore.Options{Prefix: "/big/"})
	if err != nil {
		t.Fatal(err)
	}
	b := &store.Batch{Progress: []store.Progress{{Sequence: "a"}}}
	for i := range 200 {
		b.Begin = append(b.Begin, store.Intent{ID: fmt.Sprintf("a/0/%d/load", i), Sequence: "a"})
	}
	if err := s.Commit(b); err == nil || !strings.Contains(err.Error(), `"a"`) {
		t.Errorf("commit: %v, want a refusal naming the sequence", err)
	}
	if _, found, _ := s.Progress("a"); found {
		t.Error("part of a refused commit was written")
	}
}
