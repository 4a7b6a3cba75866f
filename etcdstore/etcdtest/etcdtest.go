// Package etcdtest runs a real etcd cluster inside a test process, on
// loopback ports, for the tests of the etcd store and of leadership.
// Members can be stopped and started again on the same data and ports.
package etcdtest

import (
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
)

// Cluster is a running etcd cluster.
type Cluster struct {
	Members []*Member
}

// Member is one etcd server of a Cluster.
type Member struct {
	Name      string
	ClientURL string
	dir       string
	peer      string
	initial   string
	fsync     bool
	mu        sync.Mutex
	e         *embed.Etcd
}

// Start runs an n-member cluster until the test ends and waits until it
// has a leader. Members do not fsync: tests need speed, not durability.
func Start(t testing.TB, n int) *Cluster { return start(t, n, false) }

// StartDurable is Start with fsync on every commit, as in production: for
// benchmarks of durable writes.
func StartDurable(t testing.TB, n int) *Cluster { return start(t, n, true) }

func start(t testing.TB, n int, fsync bool) *Cluster {
	t.Helper()
	c := &Cluster{}
	var initial []string
	for i := range n {
		m := &Member{Name: fmt.Sprintf("m%d", i), dir: filepath.Join(t.TempDir(), "etcd"), fsync: fsync,
			ClientURL: "http://" + freePort(t), peer: "http://" + freePort(t)}
		initial = append(initial, m.Name+"="+m.peer)
		c.Members = append(c.Members, m)
	}
	for _, m := range c.Members {
		m.initial = strings.Join(initial, ",")
		if err := m.start(); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		for _, m := range c.Members {
			m.Stop()
		}
	})
	for _, m := range c.Members {
		select {
		case <-m.e.Server.ReadyNotify():
		case <-time.After(30 * time.Second):
			t.Fatalf("etcd member %s not ready after 30s", m.Name)
		}
	}
	return c
}

// Endpoints are the members' client URLs.
func (c *Cluster) Endpoints() []string {
	var out []string
	for _, m := range c.Members {
		out = append(out, m.ClientURL)
	}
	return out
}

// handedOut: the kernel may give a port just closed to the next Listen,
// so two members could get the same one; each is handed out once.
var (
	portMu    sync.Mutex
	handedOut = map[string]bool{}
)

func freePort(t testing.TB) string {
	t.Helper()
	portMu.Lock()
	defer portMu.Unlock()
	for {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		if !handedOut[addr] {
			handedOut[addr] = true
			return addr
		}
	}
}

func (m *Member) start() error {
	cfg := embed.NewConfig()
	cfg.Name = m.Name
	cfg.Dir = m.dir
	cu, _ := url.Parse(m.ClientURL)
	pu, _ := url.Parse(m.peer)
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{*cu}, []url.URL{*cu}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{*pu}, []url.URL{*pu}
	cfg.InitialCluster = m.initial
	cfg.InitialClusterToken = "sequencer-test"
	// Short heartbeats: a lost member is noticed, and a new etcd leader
	// elected, well within the daemons' lease TTLs.
	cfg.TickMs, cfg.ElectionMs = 50, 500
	cfg.UnsafeNoFsync = !m.fsync
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.NewNop())
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return fmt.Errorf("start etcd member %s: %w", m.Name, err)
	}
	m.mu.Lock()
	m.e = e
	m.mu.Unlock()
	return nil
}

// Stop stops the member; its data stays for Restart.
func (m *Member) Stop() {
	m.mu.Lock()
	e := m.e
	m.e = nil
	m.mu.Unlock()
	if e != nil {
		e.Close()
	}
}

// Restart starts a stopped member again on its data and ports.
func (m *Member) Restart(t testing.TB) {
	t.Helper()
	if err := m.start(); err != nil {
		t.Fatal(err)
	}
}
