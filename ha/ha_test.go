package ha_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sequencer-dev/sequencer/etcdstore"
	"github.com/sequencer-dev/sequencer/etcdstore/etcdtest"
	"github.com/sequencer-dev/sequencer/ha"
	"github.com/sequencer-dev/sequencer/store"
)

type member struct {
	el     *ha.Elector
	cancel context.CancelFunc
	done   chan struct{}
	mu     sync.Mutex
	terms  []*ha.Term
	ended  []error
}

func (m *member) term() *ha.Term {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.terms) == 0 {
		return nil
	}
	return m.terms[len(m.terms)-1]
}

func startMember(t *testing.T, c *etcdtest.Cluster, name string, ttl time.Duration) *member {
	t.Helper()
	cli, err := etcdstore.NewClient(etcdstore.ClientConfig{Endpoints: c.Endpoints(), DialTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	el, err := ha.New(ha.Config{Client: cli, Prefix: "/ha/", Self: ha.Member{Name: name, API: name + ":8080"}, TTL: ttl})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	m := &member{el: el, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(m.done)
		el.Run(ctx, func(tm *ha.Term) {
			m.mu.Lock()
			m.terms = append(m.terms, tm)
			m.mu.Unlock()
			<-tm.Context().Done()
			m.mu.Lock()
			m.ended = append(m.ended, context.Cause(tm.Context()))
			m.mu.Unlock()
		})
	}()
	t.Cleanup(func() { m.stop(); cli.Close() })
	return m
}

func (m *member) stop() { m.cancel(); <-m.done }

func waitFor(t *testing.T, d time.Duration, what string, ok func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !ok() {
		if time.Since(start) > d {
			t.Fatalf("%s: not within %s", what, d)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return time.Since(start)
}

func leaders(ms ...*member) (n int, who *member) {
	for _, m := range ms {
		if m.el.Status().Leading {
			n++
			who = m
		}
	}
	return n, who
}

func TestOneMemberLeadsAndAnotherTakesOverAtOnceWhenItStops(t *testing.T) {
	c := etcdtest.Start(t, 3)
	a := startMember(t, c, "a", 2*time.Second)
	waitFor(t, 10*time.Second, "a leads", func() bool { return a.el.Status().Leading })
	b := startMember(t, c, "b", 2*time.Second)
	waitFor(t, 5*time.Second, "b campaigns", func() bool {
		cl, err := b.el.Cluster(context.Background())
		return err == nil && len(cl.Members) == 2
	})
	cl, _ := b.el.Cluster(context.Background())
	if cl.Leader == nil || cl.Leader.Name != "a" || cl.Leader.API != "a:8080" || cl.Members[1].Name != "b" {
		t.Errorf("cluster as b sees it: %+v", cl)
	}
	if n, _ := leaders(a, b); n != 1 || b.el.Status().Reason == "" {
		t.Fatalf("%d leaders; b says %q", n, b.el.Status().Reason)
	}
	a.stop()
	// a revokes its lease on the way out: no need to wait for the TTL.
	took := waitFor(t, 2*time.Second, "b leads after a stopped", func() bool { return b.el.Status().Leading })
	t.Logf("takeover after a clean stop: %s", took)
	if err := b.term().Check(); err != nil {
		t.Errorf("the new leader's term: %v", err)
	}
	if err := a.term().Check(); !errors.Is(err, ha.ErrNotLeader) {
		t.Errorf("the old leader's term after it stopped: %v", err)
	}
	if a.el.Status().Changes != 2 || b.el.Status().Changes != 1 {
		t.Errorf("changes: a %d, b %d", a.el.Status().Changes, b.el.Status().Changes)
	}
}

func TestALeaderThatLosesTheEtcdQuorumStepsDownAndLeadsAgainOnItsReturn(t *testing.T) {
	c := etcdtest.Start(t, 3)
	a := startMember(t, c, "a", 2*time.Second)
	waitFor(t, 10*time.Second, "a leads", func() bool { return a.el.Status().Leading })
	first := a.term()
	c.Members[2].Stop()
	time.Sleep(3 * time.Second) // beyond the TTL: one member of three is not missed
	if !a.el.Status().Leading || first.Check() != nil || a.term() != first {
		t.Fatalf("one etcd member of three stopped ended the term: %v", first.Check())
	}
	c.Members[1].Stop()
	// Without a quorum no keep-alive is answered: the term ends once the
	// lease may have expired, before etcd could give it to another.
	took := waitFor(t, 2*time.Second+2*time.Second, "a steps down", func() bool { return first.Check() != nil })
	t.Logf("stepped down %s after the quorum was lost", took)
	waitFor(t, 2*time.Second, "the status says why", func() bool {
		return !a.el.Status().Leading && strings.Contains(a.el.Status().Reason, "etcd")
	})
	t.Logf("reason: %s", a.el.Status().Reason)
	c.Members[1].Restart(t)
	c.Members[2].Restart(t)
	waitFor(t, 20*time.Second, "a leads again", func() bool { return a.el.Status().Leading })
	if second := a.term(); second == first || second.Fence == first.Fence {
		t.Errorf("the new term reuses the old fence %+v", first.Fence)
	}
}

func TestAWriteUnderATermThatEndedIsFenced(t *testing.T) {
	c := etcdtest.Start(t, 1)
	a := startMember(t, c, "a", 1*time.Second)
	waitFor(t, 10*time.Second, "a leads", func() bool { return a.el.Status().Leading })
	cli, err := etcdstore.NewClient(etcdstore.ClientConfig{Endpoints: c.Endpoints()})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	base, err := etcdstore.Open(context.Background(), cli, etcdstore.Options{Prefix: "/ha/"})
	if err != nil {
		t.Fatal(err)
	}
	st := base.Fenced(a.term().Fence)
	if err := st.PutProgress(store.Progress{Sequence: "s"}); err != nil {
		t.Fatal(err)
	}
	a.stop()
	if err := st.PutProgress(store.Progress{Sequence: "s"}); !errors.Is(err, store.ErrFenced) {
		t.Errorf("write after the term: %v", err)
	}
}

func TestALeaseShorterThanASecondIsRefused(t *testing.T) {
	c := etcdtest.Start(t, 1)
	cli, _ := etcdstore.NewClient(etcdstore.ClientConfig{Endpoints: c.Endpoints()})
	defer cli.Close()
	if _, err := ha.New(ha.Config{Client: cli, Self: ha.Member{Name: "a"}, TTL: 500 * time.Millisecond}); err == nil || !strings.Contains(err.Error(), "whole seconds") {
		t.Errorf("500ms lease: %v", err)
	}
}
