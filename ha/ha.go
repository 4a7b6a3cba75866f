// Package ha elects one leader among daemons sharing an etcd cluster and
// tells the leader, before every act, whether it still certainly leads.
//
// Each member holds a session lease (TTL --lease) and campaigns under
// PREFIX/leader; the oldest key wins. Two safeguards, because an election
// alone never prevents two processes from believing they lead
// (kubernetes/kubernetes#44887):
//
//   - every store write of a term is conditioned on its election key
//     (etcdstore.Fence): a member whose lease expired cannot write;
//   - Term.Check fails once the lease may have expired, judged from the
//     local clock and the moment the last keep-alive was sent, so a
//     process that was blocked past its lease (GC pause, SIGSTOP) learns it
//     before it acts, not from the next keep-alive's answer.
//
// etcd resets lease TTLs when its own leader changes (etcd-io/etcd#9395):
// a dead member's key can outlive its TTL, so a takeover can take longer
// than the TTL. That only delays the new leader; it never makes two.
package ha

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"

	"github.com/sequencer-dev/sequencer/etcdstore"
)

// ErrNotLeader: this member does not lead (or no longer certainly does).
var ErrNotLeader = errors.New("not the leader")

// Member is one daemon taking part in the election.
type Member struct {
	Name string `json:"name"`
	API  string `json:"api,omitempty"` // where its HTTP API listens
}

// Config of an Elector. Zero values take the defaults in brackets.
type Config struct {
	Client *clientv3.Client
	Prefix string        // keys live under it [/sequencer/]
	Self   Member        // this daemon
	TTL    time.Duration // session lease, whole seconds [10s]
	Logger *slog.Logger
	// OnChange is called with the new role after every change (metrics).
	OnChange func(leading bool)
}

// Elector campaigns for leadership and runs the leader's work.
type Elector struct {
	cfg Config
	log *slog.Logger

	mu      sync.Mutex
	leading bool
	reason  string // why this member is not leading, when it is not
	changes int64
}

// New returns an Elector; nothing happens until Run.
func New(cfg Config) (*Elector, error) {
	if cfg.Client == nil {
		return nil, errors.New("ha: no etcd client")
	}
	if cfg.Self.Name == "" {
		return nil, errors.New("ha: the member needs a name")
	}
	cfg.Prefix = cmp.Or(cfg.Prefix, etcdstore.DefaultPrefix)
	cfg.TTL = cmp.Or(cfg.TTL, 10*time.Second)
	if cfg.TTL < time.Second {
		return nil, fmt.Errorf("ha: lease %s: etcd leases count whole seconds, at least 1s", cfg.TTL)
	}
	cfg.Logger = cmp.Or(cfg.Logger, slog.New(slog.DiscardHandler))
	return &Elector{cfg: cfg, log: cfg.Logger, reason: "campaigning"}, nil
}

// electionPrefix is where the candidates' keys live.
func (e *Elector) electionPrefix() string { return e.cfg.Prefix + "leader" }

// Term is one uninterrupted leadership of this member.
type Term struct {
	Fence    etcdstore.Fence
	ctx      context.Context
	cancel   context.CancelCauseFunc
	margin   time.Duration
	deadline atomic.Int64 // Unix nanoseconds before which the lease certainly holds
}

// Context is done when the term ends; context.Cause says why.
func (t *Term) Context() context.Context { return t.ctx }

// Check is nil while the lease certainly holds. It is judged locally, so
// that a process resumed after a long stop refuses to act at once.
func (t *Term) Check() error {
	if err := context.Cause(t.ctx); err != nil {
		return fmt.Errorf("%w: %v", ErrNotLeader, err)
	}
	if left := time.Until(time.Unix(0, t.deadline.Load())); left < t.margin {
		return fmt.Errorf("%w: the lease may have expired (last confirmed %s ago)", ErrNotLeader,
			(t.margin - left).Round(time.Millisecond))
	}
	return nil
}

// End ends the term (a fenced write proved it over).
func (t *Term) End(cause error) { t.cancel(cause) }

// Status is this member's view of the election.
type Status struct {
	Leading bool
	Reason  string // why not leading
	Changes int64  // times this member became or stopped being leader
}

// Status reports this member's role.
func (e *Elector) Status() Status {
	e.mu.Lock()
	defer e.mu.Unlock()
	return Status{Leading: e.leading, Reason: e.reason, Changes: e.changes}
}

func (e *Elector) set(leading bool, reason string) {
	e.mu.Lock()
	changed := e.leading != leading
	e.leading, e.reason = leading, reason
	if changed {
		e.changes++
	}
	e.mu.Unlock()
	if changed && e.cfg.OnChange != nil {
		e.cfg.OnChange(leading)
	}
}

// Cluster is the election as etcd has it.
type Cluster struct {
	Leader  *Member  `json:"leader"` // nil: none
	Members []Member `json:"members"`
}

// Cluster lists the candidates, oldest first; the oldest leads.
func (e *Elector) Cluster(ctx context.Context) (Cluster, error) {
	resp, err := e.cfg.Client.Get(ctx, e.electionPrefix()+"/", clientv3.WithPrefix(),
		clientv3.WithSort(clientv3.SortByCreateRevision, clientv3.SortAscend))
	if err != nil {
		return Cluster{}, fmt.Errorf("read the election: %w", err)
	}
	c := Cluster{Members: []Member{}}
	for _, kv := range resp.Kvs {
		var m Member
		if err := json.Unmarshal(kv.Value, &m); err != nil {
			m = Member{Name: string(kv.Value)}
		}
		c.Members = append(c.Members, m)
	}
	if len(c.Members) > 0 {
		c.Leader = &c.Members[0]
	}
	return c, nil
}

// Run campaigns until ctx is done. Each time this member wins, lead runs
// with the term; it must return soon after the term's context is done.
// On return, the lease is revoked so that a standby takes over at once.
func (e *Elector) Run(ctx context.Context, lead func(*Term)) error {
	self, _ := json.Marshal(e.cfg.Self)
	ttl := int(math.Ceil(e.cfg.TTL.Seconds()))
	for ctx.Err() == nil {
		err := e.term(ctx, ttl, string(self), lead)
		if ctx.Err() != nil {
			break
		}
		e.log.Warn("not leading", "reason", err)
		e.set(false, err.Error())
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
	e.set(false, "stopped")
	return nil
}

// term campaigns once and, if it wins, leads until the lease is lost or
// ctx is done.
func (e *Elector) term(ctx context.Context, ttl int, self string, lead func(*Term)) error {
	sess, err := concurrency.NewSession(e.cfg.Client, concurrency.WithTTL(ttl), concurrency.WithContext(ctx))
	if err != nil {
		return fmt.Errorf("etcd session: %w", err)
	}
	defer func() {
		// Revoking the lease deletes the key: a standby leads now rather
		// than after the TTL.
		rctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		e.cfg.Client.Revoke(rctx, sess.Lease())
		sess.Close()
	}()
	el := concurrency.NewElection(sess, e.electionPrefix())
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-sess.Done():
			cancel()
		case <-cctx.Done():
		}
	}()
	e.set(false, "standby: waiting for the leader key (another member leads)")
	if err := el.Campaign(cctx, self); err != nil {
		if sess.Ctx().Err() != nil {
			return errors.New("etcd lease lost while waiting to lead")
		}
		return fmt.Errorf("campaign: %w", err)
	}
	tctx, end := context.WithCancelCause(ctx)
	defer end(errors.New("term over"))
	t := &Term{Fence: etcdstore.Fence{Key: el.Key(), Rev: el.Rev()}, ctx: tctx, cancel: end,
		margin: max(e.cfg.TTL/4, 250*time.Millisecond)}
	if err := e.renew(t, sess.Lease()); err != nil {
		return fmt.Errorf("won the election but could not renew the lease: %w", err)
	}
	go e.keepAlive(t, sess)
	e.set(true, "")
	e.log.Info("leading", "member", e.cfg.Self.Name, "key", t.Fence.Key, "revision", t.Fence.Rev, "ttl", e.cfg.TTL)
	done := make(chan struct{})
	go func() { defer close(done); lead(t) }()
	select {
	case <-done:
		end(errors.New("the leader's work ended"))
	case <-tctx.Done():
	}
	// Say so before the work winds down: its last store writes can wait
	// for a cluster without quorum for a while.
	cause := context.Cause(tctx)
	e.set(false, "stepped down: "+cause.Error())
	e.log.Warn("stepped down", "member", e.cfg.Self.Name, "reason", cause)
	<-done
	return fmt.Errorf("stepped down: %w", cause)
}

// renew sends one keep-alive and, on its answer, moves the term's deadline
// to when it was sent plus the TTL: the lease cannot expire before then.
func (e *Elector) renew(t *Term, lease clientv3.LeaseID) error {
	sent := time.Now()
	ctx, cancel := context.WithTimeout(t.ctx, e.cfg.TTL/3)
	defer cancel()
	resp, err := e.cfg.Client.KeepAliveOnce(ctx, lease)
	if err != nil {
		return err
	}
	t.deadline.Store(sent.Add(time.Duration(resp.TTL) * time.Second).UnixNano())
	return nil
}

// keepAlive renews every quarter of the TTL and ends the term when the
// lease is gone, or when its deadline comes without a renewal: a renewal
// stuck in a cluster without quorum must not keep the term alive.
func (e *Elector) keepAlive(t *Term, sess *concurrency.Session) {
	renewed := make(chan error, 1)
	renewing := false
	var last error
	for {
		wait := e.cfg.TTL / 4
		if left := time.Until(time.Unix(0, t.deadline.Load())) - t.margin; left < wait {
			wait = max(left, 0)
		}
		timer := time.NewTimer(wait)
		select {
		case <-t.ctx.Done():
			timer.Stop()
			return
		case <-sess.Done():
			timer.Stop()
			t.cancel(errors.New("etcd session ended (lease expired or etcd unreachable)"))
			return
		case err := <-renewed:
			timer.Stop()
			renewing = false
			if errors.Is(err, rpctypes.ErrLeaseNotFound) {
				t.cancel(errors.New("the lease expired: another member may lead"))
				return
			}
			if err != nil {
				last = err
				e.log.Warn("lease keep-alive failed", "err", err)
			}
			continue
		case <-timer.C:
		}
		if err := t.Check(); err != nil {
			t.cancel(fmt.Errorf("could not renew the lease in time (etcd unreachable or without quorum?): %v", cmp.Or(last, err)))
			return
		}
		if !renewing {
			renewing = true
			go func() { renewed <- e.renew(t, sess.Lease()) }()
		}
	}
}
