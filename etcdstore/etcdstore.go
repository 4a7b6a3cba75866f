// Package etcdstore keeps the daemon's durable state in etcd, so that
// several daemons can share it and one of them, the leader, drives OCS.
// It offers the same methods, with the same meaning, as the bbolt store
// (store/storetest runs one suite against both).
//
// Every write of a leader is a transaction conditioned on its election
// key still existing with the revision that created it (a Fence): once its
// lease expires (a partition, a long GC pause, SIGSTOP) the key is gone
// and the write fails with store.ErrFenced instead of overwriting what the
// new leader wrote. An election alone never prevents two processes from
// believing they lead (kubernetes/kubernetes#44887); this condition is
// what makes a stale leader harmless.
//
// Keys under the prefix (default /sequencer/), values as in the bbolt
// store ({"v":1,"data":...}):
//
//	progress/<sequence>
//	intents/<id>
//	history/<sequence>/<unix nanos, 16 hex><tiebreak, 16 hex>
//	groups/<campaign DBID, 8 hex>-<group DBID, 8 hex>
//	dnc/<link kind>|<address>|<OCS application DBID>/<entry key>
//	meta/schema, meta/halt, meta/link (the OCS link, as in the bbolt store)
//	leader/<lease, hex>   (the election, package ha)
package etcdstore

import (
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/sequencer-dev/sequencer/store"
)

// DefaultPrefix is where a daemon keeps its keys unless told otherwise.
const DefaultPrefix = "/sequencer/"

// maxOps stays under etcd's default --max-txn-ops (128) with room for the
// fence's comparison.
const maxOps = 100

// ClientConfig says how to reach the cluster.
type ClientConfig struct {
	Endpoints        []string // http(s)://HOST:PORT
	CAFile           string   // verify the members' certificates with this CA
	CertFile         string   // client certificate and key, for clusters
	KeyFile          string   // that authenticate clients
	DialTimeout      time.Duration
	KeepAliveTimeout time.Duration
}

// NewClient connects to etcd. It does not wait for the cluster: the first
// request does.
func NewClient(c ClientConfig) (*clientv3.Client, error) {
	if len(c.Endpoints) == 0 {
		return nil, errors.New("etcd: no endpoint")
	}
	for _, e := range c.Endpoints {
		if !strings.HasPrefix(e, "http://") && !strings.HasPrefix(e, "https://") {
			return nil, fmt.Errorf("etcd endpoint %q: want http://HOST:PORT or https://HOST:PORT", e)
		}
	}
	if c.DialTimeout <= 0 {
		c.DialTimeout = 5 * time.Second
	}
	cfg := clientv3.Config{Endpoints: c.Endpoints, DialTimeout: c.DialTimeout, Logger: zap.NewNop(),
		DialKeepAliveTime: 2 * time.Second, DialKeepAliveTimeout: cmp.Or(c.KeepAliveTimeout, 2*time.Second)}
	if c.CAFile != "" || c.CertFile != "" || c.KeyFile != "" {
		t, err := tlsConfig(c)
		if err != nil {
			return nil, err
		}
		cfg.TLS = t
	}
	cli, err := clientv3.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("etcd %s: %w", strings.Join(c.Endpoints, ","), err)
	}
	return cli, nil
}

func tlsConfig(c ClientConfig) (*tls.Config, error) {
	t := &tls.Config{MinVersion: tls.VersionTLS12}
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("etcd CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("etcd CA %s: no PEM certificate in it", c.CAFile)
		}
		t.RootCAs = pool
	}
	if (c.CertFile == "") != (c.KeyFile == "") {
		return nil, errors.New("etcd: give both the client certificate and its key, or neither")
	}
	if c.CertFile != "" {
		pair, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("etcd client certificate: %w", err)
		}
		t.Certificates = []tls.Certificate{pair}
	}
	return t, nil
}

// Options of Open. Zero values take the defaults in brackets.
type Options struct {
	Prefix                string        // [/sequencer/]
	Timeout               time.Duration // of each request [5s]
	HistoryMaxAge         time.Duration // [30 days]
	HistoryMaxPerSequence int           // [10000]
	// Link is the OCS the daemons talk to. A prefix made with another is
	// refused (store.ErrLinkMismatch) unless AdoptLink; one that has none
	// yet records it. Nil (tools): the recorded one is used.
	Link      *store.LinkIdentity
	AdoptLink bool
}

// Fence is a leadership term: the election key and the revision that
// created it. A write under a fence succeeds only while that key exists
// with that revision.
type Fence struct {
	Key string
	Rev int64
}

// Store is the etcd-backed store. Its methods are safe for concurrent use.
type Store struct {
	cli   *clientv3.Client
	opts  Options
	fence *Fence
	lost  func(error) // told of every fenced write
	link  *store.LinkIdentity
	tie   uint64 // high half of history tiebreakers: this process
	seq   *atomic.Uint64
}

// Open checks the schema version under the prefix (recording it on a new
// cluster) and returns an unfenced store: writes are unconditional until
// Fenced says under which leadership to make them.
func Open(ctx context.Context, cli *clientv3.Client, opts Options) (*Store, error) {
	opts.Prefix = cmp.Or(opts.Prefix, DefaultPrefix)
	if !strings.HasSuffix(opts.Prefix, "/") {
		opts.Prefix += "/"
	}
	opts.Timeout = cmp.Or(opts.Timeout, 5*time.Second)
	opts.HistoryMaxAge = cmp.Or(opts.HistoryMaxAge, 30*24*time.Hour)
	opts.HistoryMaxPerSequence = cmp.Or(opts.HistoryMaxPerSequence, 10000)
	s := &Store{cli: cli, opts: opts, tie: uint64(rand.Uint32()) << 32, seq: new(atomic.Uint64)}
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	k := s.key("meta/schema")
	v, _ := json.Marshal(store.SchemaVersion)
	resp, err := cli.Txn(ctx).If(clientv3.Compare(clientv3.CreateRevision(k), "=", 0)).
		Then(clientv3.OpPut(k, string(v))).Else(clientv3.OpGet(k)).Commit()
	if err != nil {
		return nil, fmt.Errorf("open etcd store %s: %w", opts.Prefix, err)
	}
	if !resp.Succeeded {
		kvs := resp.Responses[0].GetResponseRange().Kvs
		if len(kvs) == 1 {
			var n int
			if err := json.Unmarshal(kvs[0].Value, &n); err != nil {
				return nil, fmt.Errorf("open etcd store: %s: %w: %v", k, store.ErrCorrupt, err)
			}
			if n > store.SchemaVersion {
				return nil, fmt.Errorf("open etcd store: %w: %s has %d, this build knows %d", store.ErrSchemaTooNew, k, n, store.SchemaVersion)
			}
		}
	}
	if err := s.checkLink(ctx, opts.Link, opts.AdoptLink); err != nil {
		return nil, err
	}
	return s, nil
}

// checkLink compares the recorded OCS link with want, as the bbolt store
// does: Do-Not-Call outcomes and progress stand for one OCS.
func (s *Store) checkLink(ctx context.Context, want *store.LinkIdentity, adopt bool) error {
	k := s.key("meta/link")
	for range 3 {
		resp, err := s.cli.Get(ctx, k)
		if err != nil {
			return fmt.Errorf("open etcd store: %s: %w", k, err)
		}
		var have *store.LinkIdentity
		var rev int64
		if len(resp.Kvs) == 1 {
			l, err := decode[store.LinkIdentity](k, resp.Kvs[0].Value)
			if err != nil {
				return fmt.Errorf("open etcd store: %w", err)
			}
			have, rev = &l, resp.Kvs[0].ModRevision
		}
		switch {
		case want == nil:
			s.link = have
			return nil
		case have != nil && *have == *want:
			s.link = have
			return nil
		case have != nil && !adopt:
			return fmt.Errorf("%w: etcd prefix %s was made with OCS link %s; this run uses %s. If OCS really moved, run again with --adopt-link",
				store.ErrLinkMismatch, s.opts.Prefix, have, want)
		}
		raw, err := encode(*want)
		if err != nil {
			return err
		}
		ops := []clientv3.Op{clientv3.OpPut(k, raw)}
		if have != nil {
			// Each sequence's history says from when its progress stands
			// for the new OCS.
			all, err := s.AllProgress()
			if err != nil {
				return fmt.Errorf("open etcd store: %w", err)
			}
			now := time.Now()
			for _, p := range all {
				ev, err := encode(store.Event{Sequence: p.Sequence, At: now, Kind: "link-adopted",
					Message: fmt.Sprintf("OCS link changed from %s to %s (--adopt-link): this progress now stands for %s", have, want, want)})
				if err != nil {
					return err
				}
				ops = append(ops, clientv3.OpPut(s.historyKey(p.Sequence, now, s.tie|s.seq.Add(1)), ev))
			}
		}
		// Another member may record it at the same moment: write only if
		// nothing changed since the read, else compare again.
		r, err := s.cli.Txn(ctx).If(clientv3.Compare(clientv3.ModRevision(k), "=", rev)).Then(ops...).Commit()
		if err != nil {
			return fmt.Errorf("open etcd store: record the OCS link: %w", err)
		}
		if r.Succeeded {
			s.link = want
			return nil
		}
	}
	return errors.New("open etcd store: the OCS link record kept changing under us")
}

// Identity is the OCS link the prefix was made with (false: none recorded).
func (s *Store) Identity() (store.LinkIdentity, bool) {
	if s.link == nil {
		return store.LinkIdentity{}, false
	}
	return *s.link, true
}

// dncPrefix holds the Do-Not-Call outcomes of the store's OCS link: what
// one OCS processed is still to do for another.
func (s *Store) dncPrefix() string {
	if s.link == nil {
		return s.key("dnc/")
	}
	return s.key("dnc/", fmt.Sprintf("%s|%s|%d", s.link.Kind, s.link.Address, s.link.TargetAppDBID), "/")
}

// Fenced returns a view of the store whose writes succeed only while f
// holds; reads are shared.
func (s *Store) Fenced(f Fence) *Store {
	c := *s
	c.fence = &f
	return &c
}

// OnFenced returns a view that calls fn with each write refused by its
// fence, so that the term ends at the first one rather than at the next
// keep-alive.
func (s *Store) OnFenced(fn func(error)) *Store {
	c := *s
	c.lost = fn
	return &c
}

// Prefix is where the keys live.
func (s *Store) Prefix() string { return s.opts.Prefix }

// Client is the etcd client the store uses.
func (s *Store) Client() *clientv3.Client { return s.cli }

// Close does nothing: the client belongs to whoever made it.
func (s *Store) Close() error { return nil }

// Healthy reads from the cluster with a quorum (a linearizable read): an
// error means this member cannot tell what the others wrote.
func (s *Store) Healthy() error {
	ctx, cancel := context.WithTimeout(context.Background(), min(s.opts.Timeout, 2*time.Second))
	defer cancel()
	if _, err := s.cli.Get(ctx, s.key("meta/schema")); err != nil {
		return fmt.Errorf("etcd: %w", err)
	}
	return nil
}

func (s *Store) key(parts ...string) string { return s.opts.Prefix + strings.Join(parts, "") }

func (s *Store) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), s.opts.Timeout)
}

type envelope[T any] struct {
	V    int `json:"v"`
	Data T   `json:"data"`
}

func encode[T any](v T) (string, error) {
	b, err := json.Marshal(envelope[T]{V: 1, Data: v})
	return string(b), err
}

// decodeAll decodes every value of a range, in order.
func decodeAll[T any](kvs []*mvccpb.KeyValue) ([]T, error) {
	out := make([]T, 0, len(kvs))
	for _, kv := range kvs {
		v, err := decode[T](string(kv.Key), kv.Value)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

func decode[T any](key string, raw []byte) (T, error) {
	var e envelope[T]
	if err := json.Unmarshal(raw, &e); err != nil {
		return e.Data, fmt.Errorf("decode %q: %w: %v", key, store.ErrCorrupt, err)
	}
	if e.V != 1 {
		return e.Data, fmt.Errorf("decode %q: %w: unknown value version %d", key, store.ErrCorrupt, e.V)
	}
	return e.Data, nil
}

// write commits ops in transactions of at most maxOps, each conditioned on
// the fence.
func (s *Store) write(what string, ops []clientv3.Op) error {
	for len(ops) > 0 {
		n := min(len(ops), maxOps)
		if err := s.txn(what, ops[:n]); err != nil {
			return err
		}
		ops = ops[n:]
	}
	return nil
}

func (s *Store) txn(what string, ops []clientv3.Op) error {
	ctx, cancel := s.ctx()
	defer cancel()
	resp, err := s.cli.Txn(ctx).If(s.guard()...).Then(ops...).Commit()
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if !resp.Succeeded {
		return s.fenced(what)
	}
	return nil
}

func (s *Store) guard() []clientv3.Cmp {
	if s.fence == nil {
		return nil
	}
	return []clientv3.Cmp{clientv3.Compare(clientv3.CreateRevision(s.fence.Key), "=", s.fence.Rev)}
}

func (s *Store) fenced(what string) error {
	err := fmt.Errorf("%s: %w (leader key %s of revision %d is gone)", what, store.ErrFenced, s.fence.Key, s.fence.Rev)
	if s.lost != nil {
		s.lost(err)
	}
	return err
}

func (s *Store) get(key string, opts ...clientv3.OpOption) (*clientv3.GetResponse, error) {
	ctx, cancel := s.ctx()
	defer cancel()
	return s.cli.Get(ctx, key, opts...)
}

// Progress returns one sequence's progress.
func (s *Store) Progress(seq string) (store.Progress, bool, error) {
	k := s.key("progress/", seq)
	resp, err := s.get(k)
	if err != nil {
		return store.Progress{}, false, fmt.Errorf("progress %s: %w", seq, err)
	}
	if len(resp.Kvs) == 0 {
		return store.Progress{}, false, nil
	}
	p, err := decode[store.Progress](k, resp.Kvs[0].Value)
	return p, err == nil, err
}

// AllProgress returns every sequence's progress, by name.
func (s *Store) AllProgress() ([]store.Progress, error) {
	resp, err := s.get(s.key("progress/"), clientv3.WithPrefix(), clientv3.WithSort(clientv3.SortByKey, clientv3.SortAscend))
	if err != nil {
		return nil, fmt.Errorf("all progress: %w", err)
	}
	return decodeAll[store.Progress](resp.Kvs)
}

// PutProgress stores p.
func (s *Store) PutProgress(p store.Progress) error {
	if p.Sequence == "" {
		return errors.New("put progress: empty sequence name")
	}
	raw, err := encode(p)
	if err != nil {
		return fmt.Errorf("put progress %q: %w", p.Sequence, err)
	}
	return s.txn("put progress "+p.Sequence, []clientv3.Op{clientv3.OpPut(s.key("progress/", p.Sequence), raw)})
}

// DeleteProgress removes a sequence's progress; its history stays.
func (s *Store) DeleteProgress(seq string) error {
	return s.txn("delete progress "+seq, []clientv3.Op{clientv3.OpDelete(s.key("progress/", seq))})
}

// BeginIntent writes in unless an intent with its ID exists, which it
// returns instead (fresh false).
func (s *Store) BeginIntent(in store.Intent) (store.Intent, bool, error) {
	if in.ID == "" {
		return in, false, errors.New("begin intent: empty id")
	}
	if in.State == "" {
		in.State = store.IntentOpen
	}
	k := s.key("intents/", in.ID)
	raw, err := encode(in)
	if err != nil {
		return store.Intent{}, false, fmt.Errorf("begin intent %s: %w", in.ID, err)
	}
	ctx, cancel := s.ctx()
	defer cancel()
	// The outer condition is the fence, the inner one "not journaled yet",
	// so that a refusal says which of the two failed.
	inner := clientv3.OpTxn([]clientv3.Cmp{clientv3.Compare(clientv3.CreateRevision(k), "=", 0)},
		[]clientv3.Op{clientv3.OpPut(k, raw)}, []clientv3.Op{clientv3.OpGet(k)})
	resp, err := s.cli.Txn(ctx).If(s.guard()...).Then(inner).Commit()
	if err != nil {
		return store.Intent{}, false, fmt.Errorf("begin intent %s: %w", in.ID, err)
	}
	if !resp.Succeeded {
		return store.Intent{}, false, s.fenced("begin intent " + in.ID)
	}
	tr := resp.Responses[0].GetResponseTxn()
	if tr.Succeeded {
		return in, true, nil
	}
	kvs := tr.Responses[0].GetResponseRange().Kvs
	if len(kvs) == 0 {
		return store.Intent{}, false, fmt.Errorf("begin intent %s: vanished while read", in.ID)
	}
	existing, err := decode[store.Intent](k, kvs[0].Value)
	if err != nil {
		return store.Intent{}, false, fmt.Errorf("begin intent %s: %w", in.ID, err)
	}
	return existing, false, nil
}

// SettleIntent records the outcome of an intent (it may be settled again).
func (s *Store) SettleIntent(id string, state store.IntentState, outcome string, at time.Time) error {
	k := s.key("intents/", id)
	for range 5 {
		resp, err := s.get(k)
		if err != nil {
			return fmt.Errorf("settle intent %s: %w", id, err)
		}
		if len(resp.Kvs) == 0 {
			return fmt.Errorf("settle intent %s: %w", id, store.ErrUnknownIntent)
		}
		in, err := decode[store.Intent](k, resp.Kvs[0].Value)
		if err != nil {
			return fmt.Errorf("settle intent %s: %w", id, err)
		}
		in.State, in.Outcome, in.Settled = state, outcome, at
		raw, err := encode(in)
		if err != nil {
			return fmt.Errorf("settle intent %s: %w", id, err)
		}
		ctx, cancel := s.ctx()
		inner := clientv3.OpTxn([]clientv3.Cmp{clientv3.Compare(clientv3.ModRevision(k), "=", resp.Kvs[0].ModRevision)},
			[]clientv3.Op{clientv3.OpPut(k, raw)}, nil)
		tr, err := s.cli.Txn(ctx).If(s.guard()...).Then(inner).Commit()
		cancel()
		if err != nil {
			return fmt.Errorf("settle intent %s: %w", id, err)
		}
		if !tr.Succeeded {
			return s.fenced("settle intent " + id)
		}
		if tr.Responses[0].GetResponseTxn().Succeeded {
			return nil
		}
		// Changed between the read and the write: read again.
	}
	return fmt.Errorf("settle intent %s: changed by another writer five times in a row", id)
}

// Intent returns one intent.
func (s *Store) Intent(id string) (store.Intent, bool, error) {
	k := s.key("intents/", id)
	resp, err := s.get(k)
	if err != nil {
		return store.Intent{}, false, fmt.Errorf("intent %s: %w", id, err)
	}
	if len(resp.Kvs) == 0 {
		return store.Intent{}, false, nil
	}
	in, err := decode[store.Intent](k, resp.Kvs[0].Value)
	return in, err == nil, err
}

func (s *Store) intents() ([]store.Intent, []int64, error) {
	resp, err := s.get(s.key("intents/"), clientv3.WithPrefix())
	if err != nil {
		return nil, nil, fmt.Errorf("intents: %w", err)
	}
	out := make([]store.Intent, 0, len(resp.Kvs))
	revs := make([]int64, 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		in, err := decode[store.Intent](string(kv.Key), kv.Value)
		if err != nil {
			return nil, nil, err
		}
		out = append(out, in)
		revs = append(revs, kv.ModRevision)
	}
	return out, revs, nil
}

// OpenIntents returns the intents a crash (or a lost leadership) left
// open, oldest first.
func (s *Store) OpenIntents() ([]store.Intent, error) {
	all, _, err := s.intents()
	if err != nil {
		return nil, err
	}
	out := slices.DeleteFunc(all, func(in store.Intent) bool { return in.State != store.IntentOpen })
	slices.SortStableFunc(out, func(a, b store.Intent) int { return a.Created.Compare(b.Created) })
	return out, nil
}

func (s *Store) historyPrefix(seq string) string { return s.key("history/", seq, "/") }

func (s *Store) historyKey(seq string, at time.Time, n uint64) string {
	return fmt.Sprintf("%s%016x%016x", s.historyPrefix(seq), uint64(at.UnixNano()), n)
}

// Append adds events to the history.
func (s *Store) Append(evs ...store.Event) error {
	ops := make([]clientv3.Op, 0, len(evs))
	for _, e := range evs {
		raw, err := encode(e)
		if err != nil {
			return fmt.Errorf("append history: %w", err)
		}
		ops = append(ops, clientv3.OpPut(s.historyKey(e.Sequence, e.At, s.tie|s.seq.Add(1)), raw))
	}
	return s.write("append history", ops)
}

// History returns a sequence's events in [since, until) (zero = open), the
// newest `limit` of them (0 = all), oldest first.
func (s *Store) History(seq string, since, until time.Time, limit int) ([]store.Event, error) {
	from := s.historyPrefix(seq)
	end := clientv3.GetPrefixRangeEnd(from)
	if !since.IsZero() {
		from = s.historyKey(seq, since, 0)
	}
	if !until.IsZero() {
		end = s.historyKey(seq, until, 0)
	}
	opts := []clientv3.OpOption{clientv3.WithRange(end), clientv3.WithSort(clientv3.SortByKey, clientv3.SortAscend)}
	if limit > 0 {
		opts = []clientv3.OpOption{clientv3.WithRange(end), clientv3.WithSort(clientv3.SortByKey, clientv3.SortDescend), clientv3.WithLimit(int64(limit))}
	}
	resp, err := s.get(from, opts...)
	if err != nil {
		return nil, fmt.Errorf("history %s: %w", seq, err)
	}
	out, err := decodeAll[store.Event](resp.Kvs)
	if err != nil {
		return nil, err
	}
	if limit > 0 {
		slices.Reverse(out)
	}
	return out, nil
}

// Prune drops history older than HistoryMaxAge and beyond
// HistoryMaxPerSequence per sequence, and settled intents older than
// HistoryMaxAge; it returns how many events it dropped.
func (s *Store) Prune(now time.Time) (int, error) {
	cutoff := now.Add(-s.opts.HistoryMaxAge)
	hp := s.key("history/")
	resp, err := s.get(hp, clientv3.WithPrefix(), clientv3.WithKeysOnly(), clientv3.WithSort(clientv3.SortByKey, clientv3.SortAscend))
	if err != nil {
		return 0, fmt.Errorf("prune history: %w", err)
	}
	var ops []clientv3.Op
	var cur string
	var keys []string
	flush := func() {
		drop := max(0, len(keys)-s.opts.HistoryMaxPerSequence)
		for i, k := range keys {
			ts, err := strconv.ParseUint(k[len(k)-32:len(k)-16], 16, 64)
			if i < drop || (err == nil && time.Unix(0, int64(ts)).Before(cutoff)) {
				ops = append(ops, clientv3.OpDelete(k))
			}
		}
		keys = keys[:0]
	}
	for _, kv := range resp.Kvs {
		k := string(kv.Key)
		if len(k) < len(hp)+33 || k[len(k)-33] != '/' {
			continue // not a key this build writes
		}
		seq := k[len(hp) : len(k)-33]
		if seq != cur {
			flush()
			cur = seq
		}
		keys = append(keys, k)
	}
	flush()
	removed := len(ops)
	all, _, err := s.intents()
	if err != nil {
		return 0, fmt.Errorf("prune intents: %w", err)
	}
	for _, in := range all {
		if in.State != store.IntentOpen && in.Settled.Before(cutoff) {
			ops = append(ops, clientv3.OpDelete(s.key("intents/", in.ID)))
		}
	}
	if err := s.write("prune", ops); err != nil {
		return 0, err
	}
	return removed, nil
}

func groupKey(c, g int32) string { return fmt.Sprintf("%08x-%08x", uint32(c), uint32(g)) }

// PutGroupStatus stores observations.
func (s *Store) PutGroupStatus(gs ...store.GroupStatus) error {
	ops := make([]clientv3.Op, 0, len(gs))
	for _, g := range gs {
		raw, err := encode(g)
		if err != nil {
			return fmt.Errorf("put group status: %w", err)
		}
		ops = append(ops, clientv3.OpPut(s.key("groups/", groupKey(g.CampaignDBID, g.GroupDBID)), raw))
	}
	return s.write("put group status", ops)
}

// GroupStatuses returns every stored observation.
func (s *Store) GroupStatuses() ([]store.GroupStatus, error) {
	resp, err := s.get(s.key("groups/"), clientv3.WithPrefix())
	if err != nil {
		return nil, fmt.Errorf("group statuses: %w", err)
	}
	return decodeAll[store.GroupStatus](resp.Kvs)
}

// Halt returns the stored halt, if any.
func (s *Store) Halt() (store.Halt, bool, error) {
	k := s.key("meta/halt")
	resp, err := s.get(k)
	if err != nil {
		return store.Halt{}, false, fmt.Errorf("halt: %w", err)
	}
	if len(resp.Kvs) == 0 {
		return store.Halt{}, false, nil
	}
	h, err := decode[store.Halt](k, resp.Kvs[0].Value)
	return h, err == nil, err
}

// PutHalt stores h, or lifts the halt when h is nil.
func (s *Store) PutHalt(h *store.Halt) error {
	k := s.key("meta/halt")
	if h == nil {
		return s.txn("put halt", []clientv3.Op{clientv3.OpDelete(k)})
	}
	raw, err := encode(*h)
	if err != nil {
		return fmt.Errorf("put halt: %w", err)
	}
	return s.txn("put halt", []clientv3.Op{clientv3.OpPut(k, raw)})
}

// DNCEntries returns every stored Do-Not-Call outcome by key.
func (s *Store) DNCEntries() (map[string]store.DNCEntry, error) {
	p := s.dncPrefix()
	resp, err := s.get(p, clientv3.WithPrefix())
	if err != nil {
		return nil, fmt.Errorf("dnc entries: %w", err)
	}
	out := make(map[string]store.DNCEntry, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		e, err := decode[store.DNCEntry](string(kv.Key), kv.Value)
		if err != nil {
			return nil, err
		}
		k := strings.TrimPrefix(string(kv.Key), p)
		if s.link == nil && strings.Contains(k, "/") {
			continue // a link's outcomes, and this store has none
		}
		out[k] = e
	}
	return out, nil
}

// PutDNCEntries stores entries, in transactions of up to 100: a failure
// part-way leaves the earlier ones stored, which only saves a resubmission.
func (s *Store) PutDNCEntries(es []store.DNCEntry) error {
	ops := make([]clientv3.Op, 0, len(es))
	for _, e := range es {
		if e.Key == "" {
			return errors.New("put dnc entries: an entry without a key")
		}
		raw, err := encode(e)
		if err != nil {
			return fmt.Errorf("put dnc entries: %w", err)
		}
		ops = append(ops, clientv3.OpPut(s.dncPrefix()+e.Key, raw))
	}
	return s.write("put dnc entries", ops)
}

// AllIntents returns every journaled intent, settled ones included, by id:
// what `sequencer db migrate` copies.
func (s *Store) AllIntents() ([]store.Intent, error) {
	all, _, err := s.intents()
	return all, err
}

// AllHistory returns every history event, by sequence and then in time
// order.
func (s *Store) AllHistory() ([]store.Event, error) {
	resp, err := s.get(s.key("history/"), clientv3.WithPrefix(), clientv3.WithSort(clientv3.SortByKey, clientv3.SortAscend))
	if err != nil {
		return nil, fmt.Errorf("history: %w", err)
	}
	return decodeAll[store.Event](resp.Kvs)
}

// Leader names the member whose key leads the election under the prefix,
// "" when none does: migration refuses to run under a live daemon.
func (s *Store) Leader(ctx context.Context) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	resp, err := s.cli.Get(ctx, s.key("leader/"), append(clientv3.WithFirstCreate(), clientv3.WithPrefix())...)
	if err != nil {
		return "", fmt.Errorf("read the election: %w", err)
	}
	if len(resp.Kvs) == 0 {
		return "", nil
	}
	var m struct {
		Name string `json:"name"`
	}
	if json.Unmarshal(resp.Kvs[0].Value, &m) != nil || m.Name == "" {
		return string(resp.Kvs[0].Value), nil
	}
	return m.Name, nil
}
