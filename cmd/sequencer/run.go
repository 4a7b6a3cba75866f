package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/sequencer-dev/sequencer/api"
	"github.com/sequencer-dev/sequencer/dnc"
	"github.com/sequencer-dev/sequencer/etcdstore"
	"github.com/sequencer-dev/sequencer/ha"
	"github.com/sequencer-dev/sequencer/ocs"
	"github.com/sequencer-dev/sequencer/ocs/bridge"
	"github.com/sequencer-dev/sequencer/ocs/ocshttp"
	"github.com/sequencer-dev/sequencer/ocs/ocssim"
	"github.com/sequencer-dev/sequencer/reconcile"
	"github.com/sequencer-dev/sequencer/schedule"
	"github.com/sequencer-dev/sequencer/specs"
	"github.com/sequencer-dev/sequencer/store"
)

func init() {
	register("run", "run the daemon (embedded OCS simulator and examples/ by default)", cmdRun)
}

type runFlags struct {
	specsDir  string
	dataDir   string
	ocsURL    string
	listen    string
	logFormat string
	logLevel  string
	logFile   string
	maxSpec   byteSize
	originApp int
	targetApp int
	tokenFile string
	adoptLink bool
	// OCS link details beyond the URL.
	ocsGroups   string // campaign-group DBID map for http://
	ocsStates   string // address receiving OCS's campaign-group state POSTs
	ocsCounters bool

	strictPerms bool // refuse, not just warn about, a token file others can read

	allowedHosts stringList    // Host names the API answers to besides loopback and the listen IP
	pollInterval time.Duration // cap of the status polls of count-bound items

	// High availability: state in etcd, one leader among the daemons.
	etcd       string // comma-separated endpoints; empty: bbolt under --data
	etcdPrefix string
	etcdCA     string
	etcdCert   string
	etcdKey    string
	lease      time.Duration
	member     string // this daemon's name in the election
	advertise  string // its API address as the others should give it out
}

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

func cmdRun(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f runFlags
	fs.StringVar(&f.specsDir, "specs", "examples", "directory of spec files to watch")
	fs.StringVar(&f.dataDir, "data", defaultDataDir(), "directory of the progress database (with --ocs sim: its sim/ subdirectory unless given)")
	fs.StringVar(&f.ocsURL, "ocs", "sim", "OCS link: sim (embedded simulator), bridge://HOST:PORT or http://HOST:PORT (OCS's HTTP port)")
	fs.StringVar(&f.ocsGroups, "ocs-campaign-groups", "", "with http://: JSON file mapping campaign groups to their DBIDs ({\"campaignGroups\":[{\"dbid\":5101,\"campaignDBID\":101,\"groupDBID\":732}]})")
	fs.StringVar(&f.ocsStates, "ocs-states-listen", "", "with http://: address receiving OCS's campaign-group state POSTs (campaigngroup-states-uri); empty: poll only")
	fs.BoolVar(&f.ocsCounters, "ocs-counters", false, "the link's status carries dial counters (GSW_STAT_DIALS...), e.g. a sidecar that reads Stat Server or ocs-sim; needed for stopAt.contacts/dials")
	fs.StringVar(&f.listen, "listen", "127.0.0.1:8080", "HTTP API address (empty: no API)")
	fs.StringVar(&f.logFormat, "log-format", "auto", "log format: text, json or auto (text on a terminal)")
	fs.StringVar(&f.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	fs.StringVar(&f.logFile, "log-file", "", "append the log to this file instead of stderr; SIGHUP reopens it (logrotate)")
	f.maxSpec = specs.DefaultMaxFileBytes
	fs.Var(&f.maxSpec, "max-spec-bytes", "a larger spec file is invalid: its sequences keep their last good version (bytes, or with KiB, MiB, GiB)")
	fs.IntVar(&f.originApp, "origin-app", 310, "the daemon's application DBID (OriginAppDBID)")
	fs.IntVar(&f.targetApp, "target-app", 120, "the OCS application DBID used when a spec says 0")
	fs.StringVar(&f.tokenFile, "token-file", "", "file holding the API bearer token (required to listen beyond loopback)")
	fs.BoolVar(&f.strictPerms, "strict-permissions", false, "refuse to start when the token file is readable by group or others (default: warn)")
	fs.Var(&f.allowedHosts, "allowed-host", "a name (or name:port) clients may use in Host to reach the API, e.g. a DNS or Service name; repeatable. Loopback names and the listen IP are always allowed")
	fs.DurationVar(&f.pollInterval, "poll-interval", 5*time.Second, "longest wait between status polls of an item with a count stop (polls come sooner as the count nears its limit)")
	fs.BoolVar(&f.adoptLink, "adopt-link", false, "the OCS link changed (OCS moved): let the database made with the old one carry on with this one")
	fs.StringVar(&f.etcd, "etcd", "", "keep progress in etcd and run as one of several daemons, only the leader driving OCS: http(s)://HOST:2379[,...] (empty: bbolt under --data)")
	fs.StringVar(&f.etcdPrefix, "etcd-prefix", etcdstore.DefaultPrefix, "with --etcd: key prefix of this set of daemons")
	fs.StringVar(&f.etcdCA, "etcd-ca", "", "with --etcd: CA file verifying the etcd members")
	fs.StringVar(&f.etcdCert, "etcd-cert", "", "with --etcd: client certificate file")
	fs.StringVar(&f.etcdKey, "etcd-key", "", "with --etcd: client key file")
	fs.DurationVar(&f.lease, "lease", 10*time.Second, "with --etcd: leader lease TTL (whole seconds): a dead leader is replaced after about this long")
	fs.StringVar(&f.member, "member", "", "with --etcd: this daemon's name in the cluster (default: the host name)")
	fs.StringVar(&f.advertise, "advertise", "", "with --etcd: this daemon's API address as given to clients of a standby (default: --listen)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return &exitError{code: 2}
	}
	if fs.NArg() > 0 {
		return usageError("run: unexpected argument %q", fs.Arg(0))
	}
	dataGiven := false
	fs.Visit(func(fl *flag.Flag) { dataGiven = dataGiven || fl.Name == "data" })
	if f.ocsURL == "sim" && !dataGiven {
		// A newcomer's demo never shares a database with a real OCS.
		f.dataDir = filepath.Join(f.dataDir, "sim")
	}
	var logOut io.Writer = stderr
	var lf *logFile
	if f.logFile != "" {
		var err error
		if lf, err = openLogFile(f.logFile); err != nil {
			return usageError("run: --log-file: %v", err)
		}
		defer lf.Close()
		logOut = lf
	}
	log, err := newLogger(logOut, f.logFormat, f.logLevel)
	if err != nil {
		return usageError("run: %v", err)
	}
	if f.etcd != "" {
		return runHA(ctx, f, log, lf)
	}
	return runDaemon(ctx, f, log, lf)
}

// prepare is the start of both kinds of run: it takes SIGHUP before the
// slow start-up steps (its default action would kill the daemon; it is
// acted on once the watcher exists), and reads and checks the API token.
func prepare(f runFlags, log *slog.Logger) (hup chan os.Signal, token string, err error) {
	hup = make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	if err := checkTokenFileMode(f.tokenFile, f.strictPerms, log); err != nil {
		return hup, "", err
	}
	if token, err = readToken(f.tokenFile); err != nil {
		return hup, "", err
	}
	if f.listen != "" {
		if err := api.CheckListen(f.listen, token != ""); err != nil {
			return hup, "", usageError("run: %v", err)
		}
	}
	return hup, token, nil
}

// runDaemon runs until ctx is done. lf is the --log-file, nil for stderr.
// It opens the store and the link, then builds the spec watcher, the
// reconciler and the API on one goroutine group, starts them, and waits.
func runDaemon(parent context.Context, f runFlags, log *slog.Logger, lf *logFile) error {
	hup, token, err := prepare(f, log)
	defer signal.Stop(hup)
	if err != nil {
		return err
	}
	d := &daemon{f: f, log: log}
	if err := d.openStore(); err != nil {
		return err
	}
	defer d.st.Close()
	link, closeLink, err := openLink(parent, f, log)
	if err != nil {
		return err
	}
	defer closeLink()
	d.link = link

	// Every goroutine below runs under g: the first to fail cancels the
	// others, and run returns that error once they have wound down, so a
	// fatal error ends the process instead of leaving it half alive.
	g := newGroup(parent)
	// The loop starts first: reading back every sequence's progress runs
	// while the specs are parsed, which at 100,000 sequences is seconds.
	d.buildReconciler()
	d.raiseGC()
	defer d.gcDone()
	snaps := make(chan specs.Snapshot)
	g.Go(func(ctx context.Context) error { return d.rec.Run(ctx, snaps) })
	if err := d.watchSpecs(g, hup, lf); err != nil {
		g.fail(err)
		return g.wait()
	}
	if err := d.buildAPI(token); err != nil {
		g.fail(err)
		return g.wait()
	}
	d.start(g, snaps)
	return d.wait(g)
}

// daemon is what runDaemon builds, one step at a time, before it starts
// the goroutines that use it.
type daemon struct {
	f   runFlags
	log *slog.Logger

	id     store.LinkIdentity
	dbPath string
	st     *store.Store
	link   ocs.Link

	watcher *specs.Watcher
	// Record requests (DNC, cancellation); nil when the link cannot
	// collect every OCS's answer.
	records api.Records
	lists   *dnc.Lists
	metrics *api.Metrics
	rec     *reconcile.Reconciler

	srv *http.Server // nil without --listen
	ln  net.Listener

	specsLoaded atomic.Bool // the loop has had its first snapshot
	gcDone      func()      // ends raiseGC's burst; nil before it
}

// openStore opens the progress database in --data, recording the link
// identity in it.
func (d *daemon) openStore() error {
	id, err := linkIdentity(d.f)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(d.f.dataDir, 0o750); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	d.id, d.dbPath = id, filepath.Join(d.f.dataDir, store.FileName)
	d.st, err = store.Open(d.dbPath, store.Options{Logger: d.log, Link: &d.id, AdoptLink: d.f.adoptLink})
	return err // store's errors name the file and say what to do
}

// specsCacheName is the spec parse cache in --data: what each spec file
// meant, so that a restart parses only the files that changed. Deleting it
// is always safe; a new build ignores an old build's.
const specsCacheName = "specs.cache"

// watchSpecs starts the spec watcher, and the SIGHUP handler that makes it
// read every file again.
func (d *daemon) watchSpecs(g *group, hup <-chan os.Signal, lf *logFile) error {
	w, err := specs.NewWatcher(g.ctx, d.f.specsDir, specs.WatchOptions{Logger: d.log, MaxFileBytes: int64(d.f.maxSpec), Overlap: schedule.RunsOverlap,
		CacheFile: filepath.Join(d.f.dataDir, specsCacheName)})
	if err != nil {
		return fmt.Errorf("watch specs %s: %w", d.f.specsDir, err)
	}
	d.watcher = w
	g.Go(func(ctx context.Context) error { reloadOnHUP(ctx, hup, w, lf, d.log); return nil })
	return nil
}

// raiseGC lets the heap grow further between collections until gcDone:
// at start-up the loop reads back every sequence's progress while the
// watcher reads (and, without a warm cache, parses) every spec file, a
// burst of allocation that the collector need not chase at its usual
// pace. The watcher loads in a goroutine of its own, so the burst ends
// when the loop has the first snapshot (fanOut), not when NewWatcher
// returns.
func (d *daemon) raiseGC() {
	old := debug.SetGCPercent(400)
	d.gcDone = sync.OnceFunc(func() { debug.SetGCPercent(old) })
}

// buildReconciler makes the loop, and the Do-Not-Call client and lists
// when the link can carry record requests.
func (d *daemon) buildReconciler() {
	// Record requests (DNC, cancellation) need a link that collects every
	// OCS's answer: the CommDN links, not OCS HTTP.
	if col, ok := d.link.(ocs.Collector); ok {
		cl := dnc.NewClient(col, int32(d.f.originApp), 5*time.Second)
		d.records = cl
		d.lists = dnc.NewLists(dnc.Config{Sender: cl, Store: d.st, Logger: d.log.With("component", "dnc")})
	}
	d.metrics = api.NewMetrics()
	d.rec = reconcile.New(reconcile.Config{
		Link: d.link, Store: d.st, Logger: d.log, Metrics: d.metrics,
		OriginAppDBID: int32(d.f.originApp), TargetAppDBID: int32(d.f.targetApp),
		PollInterval: d.f.pollInterval,
	})
}

// buildAPI makes the HTTP API and takes its port (nothing with no --listen).
func (d *daemon) buildAPI(token string) error {
	if d.f.listen == "" {
		return nil
	}
	ready := func() []api.Check {
		var checks []api.Check
		checks = append(checks, api.Check{Name: "specs", Err: errIf(!d.specsLoaded.Load(), "no specs snapshot loaded yet")})
		checks = append(checks, api.Check{Name: "ocs", Err: errIf(!linkUp(d.link), "link to OCS is down")})
		checks = append(checks, api.Check{Name: "reconciler", Err: errIf(!d.rec.Running(), "loop not running")})
		return checks
	}
	d.srv = api.NewHTTPServer(d.f.listen, api.NewServer(api.Config{
		Reconciler: d.rec, History: d.st, Ready: ready, Token: token, Metrics: d.metrics, Logger: d.log,
		Records: d.records, DNCLists: dncStatus(d.lists), AllowedHosts: d.f.allowedHosts,
		Store: storeHealth{d.st, d.rec}, Planner: d.rec,
	}).Handler())
	ln, err := net.Listen("tcp", d.f.listen)
	if err != nil {
		return fmt.Errorf("listen %s: %w", d.f.listen, err)
	}
	d.ln = ln
	return nil
}

// start runs the rest on g: the snapshot fan-out to the loop (already
// running), history pruning, the store watch, the DNC lists and the API.
func (d *daemon) start(g *group, snaps chan specs.Snapshot) {
	dncSnaps := make(chan specs.Snapshot, 1) // the latest only
	g.Go(func(ctx context.Context) error { d.fanOut(ctx, snaps, dncSnaps); return nil })
	g.Go(func(ctx context.Context) error {
		pruneHistory(ctx, d.st, d.log)
		return nil
	})
	g.Go(func(ctx context.Context) error { return watchStore(ctx, d.st, time.Second) })
	if d.lists != nil {
		g.Go(func(ctx context.Context) error { return d.lists.Run(ctx, dncSnaps) })
	}
	if d.srv != nil {
		g.Go(func(ctx context.Context) error { return serve(ctx, d.srv, d.ln) })
		d.log.Info("api listening", "addr", d.ln.Addr().String())
	}
	d.log.Info("sequencer running", "specs", d.f.specsDir, "data", d.dbPath, "ocs", d.f.ocsURL, "link", d.id.String())
}

// fanOut hands each spec snapshot to the loop and the latest one to the
// DNC lists (or warns, once, that the link cannot carry them).
func (d *daemon) fanOut(ctx context.Context, snaps, dncSnaps chan specs.Snapshot) {
	defer close(snaps)
	defer close(dncSnaps)
	warned := false
	for s := range d.watcher.Snapshots() {
		switch {
		case d.lists != nil:
			select {
			case dncSnaps <- s:
			default:
				select {
				case <-dncSnaps:
				default:
				}
				dncSnaps <- s
			}
		case len(s.DNCLists) > 0 && !warned:
			warned = true
			d.log.Warn("DoNotCallList specs are ignored: the OCS link cannot carry Do-Not-Call requests (use sim or bridge://)", "ocs", d.f.ocsURL)
		}
		select {
		case snaps <- s:
			d.specsLoaded.Store(true) // ready once the loop has the specs
			if d.gcDone != nil {
				d.gcDone()
			}
		case <-ctx.Done():
			return
		}
	}
}

// wait returns once every goroutine has, with the first error, explained
// when it is a damaged database.
func (d *daemon) wait(g *group) error {
	err := g.wait()
	if errors.Is(err, store.ErrCorrupt) {
		err = fmt.Errorf("%w; the database %s holds it: see `sequencer db check --data %s`, or restore the latest backup", err, d.dbPath, d.f.dataDir)
	}
	if err != nil {
		d.log.Error("sequencer stopped", "err", err)
	} else {
		d.log.Info("sequencer stopped")
	}
	return err
}

// reloadOnHUP reopens the log file (after logrotate moved it) and reloads
// the specs, reading every file again, on each SIGHUP.
func reloadOnHUP(ctx context.Context, hup <-chan os.Signal, w interface{ Rescan() }, lf *logFile, log *slog.Logger) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
		}
		if lf != nil {
			if err := lf.Reopen(); err != nil {
				log.Error("SIGHUP: cannot reopen the log file; still writing to the old one", "err", err)
			}
		}
		log.Info("SIGHUP: reloading the specs", "logReopened", lf != nil)
		w.Rescan()
	}
}

// logFile is the --log-file writer. After logrotate renames the file,
// Reopen makes the next lines land in a new file at the old path.
type logFile struct {
	mu   sync.Mutex
	path string
	f    *os.File
}

func openLogFile(path string) (*logFile, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return nil, err
	}
	return &logFile{path: path, f: f}, nil
}

func (l *logFile) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.f.Write(p)
}

// Reopen opens the path anew; if that fails the old file stays in use, so
// no line is lost to a bad rotation.
func (l *logFile) Reopen() error {
	f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return fmt.Errorf("reopen %s: %w", l.path, err)
	}
	l.mu.Lock()
	old := l.f
	l.f = f
	l.mu.Unlock()
	return old.Close()
}

func (l *logFile) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.f.Close()
}

// storeHealth is the store's readiness: the file is sound, and the last
// write the loop made went through (a full disk shows here).
type storeHealth struct {
	st  *store.Store
	rec *reconcile.Reconciler
}

func (h storeHealth) Healthy() error {
	if err := h.st.Damaged(); err != nil {
		return err
	}
	return h.rec.StoreError()
}

// watchStore ends the daemon once the database turns out damaged: every
// write fails from then on, and a restart stops at Open with the reason.
func watchStore(ctx context.Context, st *store.Store, every time.Duration) error {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if err := st.Damaged(); err != nil {
				return err
			}
		}
	}
}

// serve runs the API until ctx ends, then lets the requests in flight
// finish (5 s at most).
func serve(ctx context.Context, srv *http.Server, ln net.Listener) error {
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	srv.Shutdown(sctx)
	<-served
	return nil
}

// group runs goroutines under one context that the first error cancels
// (errgroup's contract, with the standard library).
type group struct {
	ctx    context.Context
	cancel context.CancelCauseFunc
	wg     sync.WaitGroup
	once   sync.Once
	err    error
}

func newGroup(parent context.Context) *group {
	ctx, cancel := context.WithCancelCause(parent)
	return &group{ctx: ctx, cancel: cancel}
}

// Go runs fn; an error from it stops the group.
func (g *group) Go(fn func(ctx context.Context) error) {
	g.wg.Go(func() {
		if err := fn(g.ctx); err != nil {
			g.fail(err)
		}
	})
}

func (g *group) fail(err error) {
	g.once.Do(func() {
		g.err = err
		g.cancel(err)
	})
}

// wait returns the first error once every goroutine has returned.
func (g *group) wait() error {
	g.wg.Wait()
	g.cancel(nil)
	return g.err
}

// linkIdentity is what the database records of the OCS link, so that the
// simulator's progress is never taken for a real OCS's.
func linkIdentity(f runFlags) (store.LinkIdentity, error) {
	id := store.LinkIdentity{TargetAppDBID: int32(f.targetApp)}
	switch u := f.ocsURL; {
	case u == "sim":
		id.Kind = "sim"
	case strings.HasPrefix(u, "bridge://"):
		id.Kind, id.Address = "bridge", strings.TrimPrefix(u, "bridge://")
	case strings.HasPrefix(u, "http://") || strings.HasPrefix(u, "https://"):
		id.Kind, id.Address = "http", strings.TrimSuffix(u, "/")
	default:
		return id, usageError("run: --ocs %q: want sim, bridge://HOST:PORT or http://HOST:PORT", u)
	}
	return id, nil
}

// pruneHistory applies the history retention (age and count) at start and
// then hourly, so the database does not grow without bound.
func pruneHistory(ctx context.Context, st interface{ Prune(time.Time) (int, error) }, log *slog.Logger) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		if n, err := st.Prune(time.Now()); err != nil {
			log.Error("prune history", "err", err)
		} else if n > 0 {
			log.Info("pruned history", "events", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// dncStatus keeps a nil *dnc.Lists a nil interface.
func dncStatus(l *dnc.Lists) api.DNCLists {
	if l == nil {
		return nil
	}
	return l
}

func errIf(bad bool, msg string) error {
	if bad {
		return errors.New(msg)
	}
	return nil
}

// linkUp asks a link that knows whether it is connected.
func linkUp(l ocs.Link) bool {
	if u, ok := l.(interface{ Up() bool }); ok {
		return u.Up()
	}
	return true
}

func readToken(path string) (string, error) {
	if path == "" {
		return "", nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("token file: %w", err)
	}
	t := strings.TrimSpace(string(b))
	if len(t) < 16 {
		return "", fmt.Errorf("token file %s: the token must be at least 16 characters", path)
	}
	return t, nil
}

// checkTokenFileMode warns, or refuses when strict, about a token file
// that group or others can access: anyone who reads the token has the
// whole API, suspend and Do-Not-Call included.
func checkTokenFileMode(path string, strict bool, log *slog.Logger) error {
	if path == "" {
		return nil
	}
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("token file: %w", err)
	}
	perm := fi.Mode().Perm()
	if perm&0o077 == 0 {
		return nil
	}
	msg := fmt.Sprintf("token file %s is accessible by group or others (mode %04o): run chmod 600 %s", path, perm, path)
	if strict {
		return fmt.Errorf("%s (refused: --strict-permissions)", msg)
	}
	log.Warn(msg, "file", path, "mode", fmt.Sprintf("%04o", perm))
	return nil
}

// openLink connects to OCS. "sim" runs the simulator in this process and
// talks to it over an in-memory pipe with the same bridge framing a real
// sidecar uses, so the default path exercises the real client.
func openLink(ctx context.Context, f runFlags, log *slog.Logger) (ocs.Link, func(), error) {
	u := f.ocsURL
	llog := log.With("component", "link")
	switch {
	case u == "sim":
		sim := ocssim.New(ocssim.Default(), ocssim.WithLogger(log.With("component", "ocs-sim")))
		dial := func(ctx context.Context) (net.Conn, error) {
			a, b := net.Pipe()
			go sim.Serve(b)
			return a, nil
		}
		c := bridge.New(dial, bridge.Options{Counters: true, Logger: llog})
		return c, func() { c.Close(); sim.Close() }, nil
	case strings.HasPrefix(u, "bridge://"):
		addr := strings.TrimPrefix(u, "bridge://")
		c := bridge.New(func(ctx context.Context) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "tcp", addr)
		}, bridge.Options{Counters: f.ocsCounters, Logger: llog})
		return c, func() { c.Close() }, nil
	case strings.HasPrefix(u, "http://") || strings.HasPrefix(u, "https://"):
		return openHTTPLink(f, llog)
	}
	return nil, nil, usageError("run: --ocs %q: want sim, bridge://HOST:PORT or http://HOST:PORT", u)
}

// openHTTPLink talks to OCS's HTTP port and, when asked, receives its
// campaign-group state POSTs on a listener of their own: OCS cannot send
// the API's bearer token.
func openHTTPLink(f runFlags, log *slog.Logger) (ocs.Link, func(), error) {
	if f.ocsGroups == "" {
		return nil, nil, usageError("run: --ocs %s needs --ocs-campaign-groups: OCS's HTTP interface addresses campaign groups by their own DBID", f.ocsURL)
	}
	groups, err := ocshttp.LoadCampaignGroups(f.ocsGroups)
	if err != nil {
		return nil, nil, usageError("run: %v", err)
	}
	c, err := ocshttp.New(f.ocsURL, ocshttp.Options{CampaignGroups: groups, Counters: f.ocsCounters, Logger: log})
	if err != nil {
		return nil, nil, usageError("run: %v", err)
	}
	if f.ocsStates == "" {
		return c, func() { c.Close() }, nil
	}
	ln, err := net.Listen("tcp", f.ocsStates)
	if err != nil {
		c.Close()
		return nil, nil, fmt.Errorf("listen for OCS state POSTs %s: %w", f.ocsStates, err)
	}
	srv := &http.Server{Handler: c.StatesHandler(), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	log.Info("receiving OCS campaign-group states", "addr", ln.Addr().String())
	return c, func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
		c.Close()
	}, nil
}

func defaultDataDir() string {
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "sequencer")
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".local", "state", "sequencer")
	}
	return filepath.Join(os.TempDir(), "sequencer")
}

func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: %w", level, err)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "auto":
		if isTerminal(w) {
			return slog.New(slog.NewTextHandler(w, opts)), nil
		}
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text, json or auto", format)
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// runHA runs one daemon of a highly available set: progress lives in
// etcd, and only the elected leader opens the OCS link, runs the loop and
// the Do-Not-Call lists. Every member watches and validates the specs and
// serves the read-only API; a standby refuses state changes, naming the
// leader.
func runHA(ctx context.Context, f runFlags, log *slog.Logger, lf *logFile) error {
	hup, token, err := prepare(f, log)
	defer signal.Stop(hup)
	if err != nil {
		return err
	}
	if f.lease < time.Second || f.lease%time.Second != 0 {
		return usageError("run: --lease %s: etcd leases count whole seconds, at least 1s", f.lease)
	}
	if f.ocsURL == "sim" {
		log.Warn("--ocs sim with --etcd: each leader simulates an OCS of its own, which a takeover starts afresh; use bridge:// or http:// to share one")
	}
	cli, err := etcdstore.NewClient(etcdstore.ClientConfig{Endpoints: strings.Split(f.etcd, ","),
		CAFile: f.etcdCA, CertFile: f.etcdCert, KeyFile: f.etcdKey})
	if err != nil {
		return usageError("run: --etcd: %v", err)
	}
	defer cli.Close()
	id, err := linkIdentity(f)
	if err != nil {
		return err
	}
	base, err := etcdstore.Open(ctx, cli, etcdstore.Options{Prefix: f.etcdPrefix, Link: &id, AdoptLink: f.adoptLink})
	if err != nil {
		return fmt.Errorf("--etcd %s: %w", f.etcd, err)
	}
	self := api.ClusterMember{Name: f.member, API: cmp.Or(f.advertise, f.listen)}
	if self.Name == "" {
		if self.Name, err = os.Hostname(); err != nil {
			return usageError("run: --member: no host name to default to (%v): name this daemon", err)
		}
	}
	metrics := api.NewMetrics()
	metrics.Leader(self.Name, false)
	el, err := ha.New(ha.Config{Client: cli, Prefix: base.Prefix(), Self: ha.Member(self), TTL: f.lease,
		Logger: log.With("component", "ha"), OnChange: func(leading bool) { metrics.Leader(self.Name, leading) }})
	if err != nil {
		return usageError("run: %v", err)
	}

	watcher, err := specs.NewWatcher(ctx, f.specsDir, specs.WatchOptions{Logger: log, MaxFileBytes: int64(f.maxSpec), Overlap: schedule.RunsOverlap})
	if err != nil {
		return fmt.Errorf("watch specs %s: %w", f.specsDir, err)
	}
	go reloadOnHUP(ctx, hup, watcher, lf, log)
	hub := &snapHub{subs: map[chan specs.Snapshot]struct{}{}}
	go func() {
		for s := range watcher.Snapshots() {
			hub.publish(s)
		}
	}()

	var cur leaderWork
	if f.listen != "" {
		ready := func() []api.Check {
			checks := []api.Check{{Name: "specs", Err: errIf(!hub.loaded(), "no specs snapshot loaded yet")}}
			if rec, link, _ := cur.get(); rec != nil {
				checks = append(checks, api.Check{Name: "ocs", Err: errIf(!linkUp(link), "link to OCS is down")})
				checks = append(checks, api.Check{Name: "reconciler", Err: errIf(!rec.Running(), "loop not running")})
			}
			return checks
		}
		srv := api.NewHTTPServer(f.listen, api.NewServer(api.Config{
			Reconciler: &cur, History: base, Store: base, Ready: ready, Token: token, Metrics: metrics, Logger: log,
			Records: &cur, DNCLists: &cur, Cluster: clusterOf{el: el, self: self}, AllowedHosts: f.allowedHosts,
		}).Handler())
		ln, err := net.Listen("tcp", f.listen)
		if err != nil {
			return fmt.Errorf("listen %s: %w", f.listen, err)
		}
		go func() {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Error("http server", "err", err)
			}
		}()
		defer func() {
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			srv.Shutdown(sctx)
		}()
		log.Info("api listening", "addr", ln.Addr().String())
	}
	log.Info("sequencer running as a cluster member", "member", self.Name, "specs", f.specsDir, "etcd", f.etcd,
		"prefix", base.Prefix(), "lease", f.lease, "ocs", f.ocsURL, "link", id.String())
	el.Run(ctx, func(t *ha.Term) { lead(t, f, base, hub, &cur, metrics, log) })
	log.Info("sequencer stopped")
	return nil
}

// lead is one leadership term: open the link, recover from the journal
// what the previous leader left open, and run until the term ends.
func lead(t *ha.Term, f runFlags, base *etcdstore.Store, hub *snapHub, cur *leaderWork, metrics *api.Metrics, log *slog.Logger) {
	ctx := t.Context()
	raw, closeLink, err := openLink(ctx, f, log)
	if err != nil {
		log.Error("leading, but the OCS link cannot be opened; stepping down", "err", err)
		return
	}
	defer closeLink()
	link := ha.GuardLink(raw, t)
	st := base.Fenced(t.Fence).OnFenced(func(err error) { t.End(err) })
	rec := reconcile.New(reconcile.Config{
		Link: link, Store: st, Logger: log, Metrics: metrics,
		OriginAppDBID: int32(f.originApp), TargetAppDBID: int32(f.targetApp),
		PollInterval: f.pollInterval,
	})
	var lists *dnc.Lists
	var records api.Records
	listsDone := make(chan struct{})
	if _, ok := raw.(ocs.Collector); ok {
		cl := dnc.NewClient(link, int32(f.originApp), 5*time.Second)
		records = cl
		lists = dnc.NewLists(dnc.Config{Sender: cl, Store: st, Logger: log.With("component", "dnc")})
		dncSnaps := hub.subscribe()
		defer hub.unsubscribe(dncSnaps)
		go func() {
			defer close(listsDone)
			if err := lists.Run(ctx, dncSnaps); err != nil {
				log.Error("DoNotCall lists", "err", err)
			}
		}()
	} else {
		close(listsDone)
	}
	snaps := hub.subscribe()
	defer hub.unsubscribe(snaps)
	go pruneHistory(ctx, st, log)
	cur.set(rec, link, records, lists)
	defer cur.set(nil, nil, nil, nil)
	if err := rec.Run(ctx, snaps); err != nil {
		// A fenced write ends up here: the term is over whatever the
		// keep-alives say.
		t.End(fmt.Errorf("the loop stopped: %w", err))
	}
	<-listsDone
}

// snapHub hands every leadership term the latest spec snapshot, then each
// new one; a slow reader only ever misses snapshots that a newer one
// replaces.
type snapHub struct {
	mu   sync.Mutex
	last *specs.Snapshot
	subs map[chan specs.Snapshot]struct{}
}

func (h *snapHub) publish(s specs.Snapshot) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.last = &s
	for c := range h.subs {
		replace(c, s)
	}
}

func replace(c chan specs.Snapshot, s specs.Snapshot) {
	select {
	case <-c:
	default:
	}
	c <- s
}

func (h *snapHub) loaded() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.last != nil
}

func (h *snapHub) subscribe() chan specs.Snapshot {
	c := make(chan specs.Snapshot, 1)
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.last != nil {
		c <- *h.last
	}
	h.subs[c] = struct{}{}
	return c
}

func (h *snapHub) unsubscribe(c chan specs.Snapshot) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.subs, c)
}

// leaderWork is what the API reaches through on every member: the current
// term's loop, link and Do-Not-Call lists on the leader, nothing on a
// standby (which refuses state changes before they get here).
type leaderWork struct {
	mu      sync.RWMutex
	rec     *reconcile.Reconciler
	link    ocs.Link
	records api.Records
	lists   *dnc.Lists
}

var errStandby = errors.New("this member is a standby: only the leader acts")

func (w *leaderWork) set(rec *reconcile.Reconciler, link ocs.Link, records api.Records, lists *dnc.Lists) {
	w.mu.Lock()
	w.rec, w.link, w.records, w.lists = rec, link, records, lists
	w.mu.Unlock()
}

func (w *leaderWork) get() (*reconcile.Reconciler, ocs.Link, api.Records) {
	w.mu.RLock()
	defer w.mu.RUnlock()
	return w.rec, w.link, w.records
}

func (w *leaderWork) Sequences() []reconcile.SequenceStatus {
	if rec, _, _ := w.get(); rec != nil {
		return rec.Sequences()
	}
	return []reconcile.SequenceStatus{}
}

func (w *leaderWork) Sequence(name string) (reconcile.SequenceStatus, bool) {
	if rec, _, _ := w.get(); rec != nil {
		return rec.Sequence(name)
	}
	return reconcile.SequenceStatus{}, false
}

func (w *leaderWork) Groups() []reconcile.GroupObservation {
	if rec, _, _ := w.get(); rec != nil {
		return rec.Groups()
	}
	return []reconcile.GroupObservation{}
}

func (w *leaderWork) QueueDepth() int {
	if rec, _, _ := w.get(); rec != nil {
		return rec.QueueDepth()
	}
	return 0
}

func (w *leaderWork) HaltState() reconcile.HaltStatus {
	if rec, _, _ := w.get(); rec != nil {
		return rec.HaltState()
	}
	return reconcile.HaltStatus{}
}

func (w *leaderWork) Suspend(ctx context.Context, name, who, why string, until time.Time) error {
	if rec, _, _ := w.get(); rec != nil {
		return rec.Suspend(ctx, name, who, why, until)
	}
	return errStandby
}

func (w *leaderWork) Resume(ctx context.Context, name, who, why string) error {
	if rec, _, _ := w.get(); rec != nil {
		return rec.Resume(ctx, name, who, why)
	}
	return errStandby
}

func (w *leaderWork) ReconcileNow(ctx context.Context, name string) error {
	if rec, _, _ := w.get(); rec != nil {
		return rec.ReconcileNow(ctx, name)
	}
	return errStandby
}

func (w *leaderWork) Halt(ctx context.Context, who, reason string) error {
	if rec, _, _ := w.get(); rec != nil {
		return rec.Halt(ctx, who, reason)
	}
	return errStandby
}

func (w *leaderWork) Unhalt(ctx context.Context, who string) error {
	if rec, _, _ := w.get(); rec != nil {
		return rec.Unhalt(ctx, who)
	}
	return errStandby
}

func (w *leaderWork) DoNotCall(ctx context.Context, target int32, r ocs.Record) ([]dnc.Outcome, error) {
	if _, _, rs := w.get(); rs != nil {
		return rs.DoNotCall(ctx, target, r)
	}
	return nil, errStandby
}

func (w *leaderWork) CancelRecord(ctx context.Context, target int32, r ocs.Record) ([]dnc.Outcome, error) {
	if _, _, rs := w.get(); rs != nil {
		return rs.CancelRecord(ctx, target, r)
	}
	return nil, errStandby
}

func (w *leaderWork) Status() []dnc.ListStatus {
	w.mu.RLock()
	l := w.lists
	w.mu.RUnlock()
	if l != nil {
		return l.Status()
	}
	return []dnc.ListStatus{}
}

// clusterOf shows the election to the API.
type clusterOf struct {
	el   *ha.Elector
	self api.ClusterMember
}

func (c clusterOf) Leading() (bool, string) {
	st := c.el.Status()
	return st.Leading, st.Reason
}

func (c clusterOf) View(ctx context.Context) (api.ClusterView, error) {
	st := c.el.Status()
	v := api.ClusterView{Self: c.self, Role: "standby", Reason: st.Reason, Members: []api.ClusterMember{}}
	if st.Leading {
		v.Role, v.Reason = "leader", ""
	}
	cl, err := c.el.Cluster(ctx)
	if err != nil {
		return v, err
	}
	for _, m := range cl.Members {
		v.Members = append(v.Members, api.ClusterMember(m))
	}
	if cl.Leader != nil {
		l := api.ClusterMember(*cl.Leader)
		v.Leader = &l
	}
	return v, nil
}
