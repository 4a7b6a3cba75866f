// Command storm reproduces the start-of-the-hour storm with real
// processes: it writes N spec files whose one start is the same minute,
// a simulator configuration with N campaign groups, starts
// `sequencer ocs-sim` and `sequencer run` on loopback TCP, waits past the
// minute, and reports from the simulator's own log how long after the
// minute each CM_ReqStartDialing arrived. See README.md.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

func main() {
	if err := storm(); err != nil {
		fmt.Fprintln(os.Stderr, "storm:", err)
		os.Exit(1)
	}
}

func storm() error {
	n := flag.Int("n", 2000, "sequences, each with one item on its own campaign group, all starting at the same minute")
	bin := flag.String("sequencer", "", "the sequencer binary (default: build ./cmd/sequencer into the work directory)")
	dir := flag.String("dir", "", "work directory: specs, simulator config, database and logs (default: a new temporary one, removed unless -keep)")
	keep := flag.Bool("keep", false, "keep the work directory")
	lead := flag.Duration("lead", 45*time.Second, "least time between the daemon's start and the shared start minute: the daemon reads every spec and writes each sequence's progress once before then")
	wait := flag.Duration("timeout", 10*time.Minute, "give up when the starts have not all arrived this long after the minute")
	stopAfter := flag.Duration("stop-after", 0, "also a stop storm: every item stops at the wall-clock minute this long after the shared start (whole minutes, at least 1m), and the report adds when each CM_ReqStopDialing arrived")
	flag.Parse()
	if *n < 1 {
		return errors.New("-n must be at least 1")
	}
	if *stopAfter != 0 && (*stopAfter < time.Minute || *stopAfter%time.Minute != 0) {
		return errors.New("-stop-after must be a whole number of minutes, at least 1m")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	work := *dir
	if work == "" {
		d, err := os.MkdirTemp("", "storm-")
		if err != nil {
			return err
		}
		work = d
		if !*keep {
			defer os.RemoveAll(work)
		}
	}
	fmt.Printf("work directory %s\n", work)
	if *bin == "" {
		*bin = filepath.Join(work, "sequencer")
		fmt.Println("building ./cmd/sequencer")
		build := exec.CommandContext(ctx, "go", "build", "-o", *bin, "./cmd/sequencer")
		build.Stdout, build.Stderr = os.Stdout, os.Stderr
		if err := build.Run(); err != nil {
			return fmt.Errorf("build sequencer (run storm from the repository root, or give -sequencer): %w", err)
		}
	}

	// The shared start: the first whole minute at least -lead from now.
	due := time.Now().Add(*lead).Truncate(time.Minute).Add(time.Minute).UTC()
	var stopAt time.Time // zero: the items stop an hour after they start
	if *stopAfter > 0 {
		stopAt = due.Add(*stopAfter)
	}
	if err := writeSpecs(filepath.Join(work, "specs"), *n, due, stopAt); err != nil {
		return err
	}
	simCfg := filepath.Join(work, "ocs-sim.json")
	if err := writeSimConfig(simCfg, *n); err != nil {
		return err
	}
	simAddr, apiAddr := freeAddr(), freeAddr()
	simLog := filepath.Join(work, "ocs-sim.log")
	sim, err := start(*bin, simLog, "ocs-sim", "--listen", simAddr, "--config", simCfg, "--log-format", "json")
	if err != nil {
		return err
	}
	defer halt(sim)
	if err := waitTCP(ctx, simAddr, 30*time.Second); err != nil {
		return fmt.Errorf("ocs-sim: %w (see %s)", err, simLog)
	}
	daemonLog := filepath.Join(work, "sequencer.log")
	daemon, err := start(*bin, daemonLog, "run", "--specs", filepath.Join(work, "specs"), "--data", filepath.Join(work, "data"),
		"--ocs", "bridge://"+simAddr, "--listen", apiAddr, "--log-format", "json", "--log-level", "warn")
	if err != nil {
		return err
	}
	defer halt(daemon)
	api := "http://" + apiAddr
	if err := waitReady(ctx, api, due); err != nil {
		return fmt.Errorf("sequencer: %w (see %s)", err, daemonLog)
	}
	fmt.Printf("%d sequences due at %s; daemon ready %s before it\n", *n, due.Format(time.TimeOnly), time.Until(due).Round(time.Millisecond))

	if err := report(ctx, simLog, api, "CM_ReqStartDialing", "sequencer_start_lateness_seconds", *n, due, *wait); err != nil {
		return err
	}
	if stopAt.IsZero() {
		return nil
	}
	fmt.Printf("every item stops at %s\n", stopAt.Format(time.TimeOnly))
	return report(ctx, simLog, api, "CM_ReqStopDialing", "sequencer_stop_lateness_seconds", *n, stopAt, *wait)
}

// report waits until the simulator has logged a request of type typ for
// each of n campaign groups, and prints how long after at each first one
// arrived, next to the daemon's own lateness metric.
func report(ctx context.Context, simLog, api, typ, metric string, n int, at time.Time, wait time.Duration) error {
	var got []time.Time
	deadline := at.Add(wait)
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
		if time.Now().Before(at) {
			continue
		}
		var err error
		if got, err = firstIn(simLog, typ); err != nil {
			return err
		}
		if len(got) >= n {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d %s requests reached the simulator within %s of %s", len(got), n, typ, wait, at.Format(time.TimeOnly))
		}
	}
	late := make([]time.Duration, len(got))
	for i, t := range got {
		late[i] = t.Sub(at)
	}
	slices.Sort(late)
	q := func(p float64) time.Duration { return late[int(float64(len(late)-1)*p)].Round(time.Millisecond) }
	fmt.Printf("%s received by the simulator, after %s (the time it logged each one):\n", typ, at.Format(time.TimeOnly))
	fmt.Printf("  first %s  p50 %s  p99 %s  last %s  (%.0f requests/s)\n",
		q(0), q(0.5), q(0.99), q(1), float64(len(late))/q(1).Seconds())
	if m, err := latenessMetric(api, metric); err == nil {
		fmt.Printf("the daemon's own %s: %s\n", metric, m)
	}
	return nil
}

func writeSpecs(dir string, n int, due, stopAt time.Time) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	stop := `"+1h"`
	if !stopAt.IsZero() {
		stop = fmt.Sprintf("%q", stopAt.UTC().Format("15:04")) // the specs' zone is UTC
	}
	for i := range n {
		spec := fmt.Sprintf(`apiVersion: sequencer/v1
kind: CampaignSequence
metadata: {name: storm-%06d}
spec:
  start: {at: %q}
  items:
    - {name: only, campaignDBID: %d, groupDBID: 732, dialMode: progressive, stopAt: {time: %s}}
`, i, due.Format(time.RFC3339), campaign(i), stop)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("storm-%06d.yaml", i)), []byte(spec), 0o644); err != nil {
			return err
		}
	}
	return nil
}

func campaign(i int) int { return 100000 + i }

// writeSimConfig writes the simulator's configuration: one campaign group
// per sequence, with lists that do not run dry within the hour.
func writeSimConfig(path string, n int) error {
	type obj struct {
		DBID int    `json:"dbid"`
		Name string `json:"name"`
	}
	type cg struct {
		CampaignDBID int   `json:"campaignDBID"`
		GroupDBID    int   `json:"groupDBID"`
		Records      int64 `json:"records"`
	}
	cfg := struct {
		AppDBID        int                `json:"appDBID"`
		Campaigns      []obj              `json:"campaigns"`
		Groups         []obj              `json:"groups"`
		CampaignGroups []cg               `json:"campaignGroups"`
		Rates          map[string]float64 `json:"rates"`
		ContactRate    float64            `json:"contactRate"`
		DrainTime      string             `json:"drainTime"`
		TalkTime       string             `json:"talkTime"`
	}{
		AppDBID: 120, Groups: []obj{{732, "Collections Team"}},
		Rates:       map[string]float64{"predictive": 10, "progressive": 5, "preview": 1},
		ContactRate: 0.3, DrainTime: "2s", TalkTime: "30s",
	}
	for i := range n {
		cfg.Campaigns = append(cfg.Campaigns, obj{campaign(i), fmt.Sprintf("Storm %d", i)})
		cfg.CampaignGroups = append(cfg.CampaignGroups, cg{campaign(i), 732, 1_000_000})
	}
	b, err := json.MarshalIndent(cfg, "", " ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

func freeAddr() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// start runs bin args in its own process group with stdout and stderr
// appended to logPath.
func start(bin, logPath string, args ...string) (*exec.Cmd, error) {
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	c := exec.Command(bin, args...)
	c.Stdout, c.Stderr = f, f
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := c.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s %s: %w", bin, args[0], err)
	}
	go func() { c.Wait(); f.Close() }()
	return c, nil
}

// halt stops a process this program started: SIGTERM, then SIGKILL.
func halt(c *exec.Cmd) {
	c.Process.Signal(syscall.SIGTERM)
	for range 100 {
		if c.ProcessState != nil || c.Process.Signal(syscall.Signal(0)) != nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	c.Process.Kill()
}

func waitTCP(ctx context.Context, addr string, d time.Duration) error {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return fmt.Errorf("not listening on %s after %s", addr, d)
}

// waitReady waits for /readyz, then for the loop to have looked at every
// sequence once (a reconcile command is answered only after that pass),
// and fails when that is not done before the shared minute.
func waitReady(ctx context.Context, api string, due time.Time) error {
	ok := func(req func() (*http.Response, error)) bool {
		resp, err := req()
		if err != nil {
			return false
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}
	for _, step := range []func() (*http.Response, error){
		func() (*http.Response, error) { return http.Get(api + "/readyz") },
		func() (*http.Response, error) {
			return http.Post(api+"/api/v1/sequences/storm-000000/reconcile", "application/json", strings.NewReader("{}"))
		},
	} {
		for !ok(step) {
			if time.Now().After(due) {
				return fmt.Errorf("not ready and settled before the shared minute %s: raise -lead", due.Format(time.TimeOnly))
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	return nil
}

// firstIn reads the simulator's JSON log and returns, per campaign, when
// the first request of type typ was received.
func firstIn(path, typ string) ([]time.Time, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	seen := map[int]time.Time{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if !strings.Contains(string(line), typ) {
			continue
		}
		var rec struct {
			Time     time.Time `json:"time"`
			Msg      string    `json:"msg"`
			Type     string    `json:"type"`
			Campaign int       `json:"campaign"`
		}
		if json.Unmarshal(line, &rec) != nil || rec.Msg != "request" || rec.Type != typ {
			continue
		}
		if _, ok := seen[rec.Campaign]; !ok {
			seen[rec.Campaign] = rec.Time
		}
	}
	out := make([]time.Time, 0, len(seen))
	for _, t := range seen {
		out = append(out, t)
	}
	return out, sc.Err()
}

// latenessMetric summarises one of the daemon's lateness histograms:
// count, sum, and the bucket that holds its 99th percentile.
func latenessMetric(api, name string) (string, error) {
	resp, err := http.Get(api + "/metrics")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var sum, count string
	type bucket struct {
		le string
		n  float64
	}
	var buckets []bucket
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		l := sc.Text()
		f := strings.Fields(l)
		switch {
		case len(f) != 2:
		case strings.HasPrefix(l, name+"_sum"):
			sum = f[1]
		case strings.HasPrefix(l, name+"_count"):
			count = f[1]
		case strings.HasPrefix(l, name+`_bucket{le="`):
			le := strings.TrimSuffix(strings.TrimPrefix(f[0], name+`_bucket{le="`), `"}`)
			var n float64
			fmt.Sscan(f[1], &n)
			buckets = append(buckets, bucket{le, n})
		}
	}
	if count == "" {
		return "", fmt.Errorf("no %s in /metrics", name)
	}
	out := fmt.Sprintf("count %s, sum %s s", count, sum)
	var total float64
	fmt.Sscan(count, &total)
	for _, b := range buckets { // cumulative, in increasing le
		if total > 0 && b.n >= 0.99*total {
			out += fmt.Sprintf(", p99 at most %s s", b.le)
			break
		}
	}
	return out, nil
}
