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
	flag.Parse()
	if *n < 1 {
		return errors.New("-n must be at least 1")
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
	if err := writeSpecs(filepath.Join(work, "specs"), *n, due); err != nil {
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

	var starts []time.Time
	deadline := due.Add(*wait)
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
		if time.Now().Before(due) {
			continue
		}
		starts, err = startsIn(simLog)
		if err != nil {
			return err
		}
		if len(starts) >= *n {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d StartDialing requests reached the simulator within %s of the minute", len(starts), *n, *wait)
		}
	}
	late := make([]time.Duration, len(starts))
	for i, at := range starts {
		late[i] = at.Sub(due)
	}
	slices.Sort(late)
	q := func(p float64) time.Duration { return late[int(float64(len(late)-1)*p)].Round(time.Millisecond) }
	fmt.Printf("CM_ReqStartDialing received by the simulator, after %s (the time it logged each one):\n", due.Format(time.TimeOnly))
	fmt.Printf("  first %s  p50 %s  p99 %s  last %s  (%.0f starts/s)\n",
		q(0), q(0.5), q(0.99), q(1), float64(len(late))/q(1).Seconds())
	if m, err := latenessMetric(api); err == nil {
		fmt.Printf("the daemon's own sequencer_start_lateness_seconds: %s\n", m)
	}
	return nil
}

func writeSpecs(dir string, n int, due time.Time) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for i := range n {
		spec := fmt.Sprintf(`apiVersion: sequencer/v1
kind: CampaignSequence
metadata: {name: storm-%06d}
spec:
  start: {at: %q}
  items:
    - {name: only, campaignDBID: %d, groupDBID: 732, dialMode: progressive, stopAt: {time: "+1h"}}
`, i, due.Format(time.RFC3339), campaign(i))
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

// startsIn reads the simulator's JSON log and returns, per campaign, when
// the first CM_ReqStartDialing was received.
func startsIn(path string) ([]time.Time, error) {
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
		if !strings.Contains(string(line), "CM_ReqStartDialing") {
			continue
		}
		var rec struct {
			Time     time.Time `json:"time"`
			Msg      string    `json:"msg"`
			Type     string    `json:"type"`
			Campaign int       `json:"campaign"`
		}
		if json.Unmarshal(line, &rec) != nil || rec.Msg != "request" || rec.Type != "CM_ReqStartDialing" {
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

// latenessMetric summarises the daemon's start-lateness histogram.
func latenessMetric(api string) (string, error) {
	resp, err := http.Get(api + "/metrics")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var sum, count string
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		l := sc.Text()
		switch {
		case strings.HasPrefix(l, "sequencer_start_lateness_seconds_sum"):
			sum = strings.Fields(l)[1]
		case strings.HasPrefix(l, "sequencer_start_lateness_seconds_count"):
			count = strings.Fields(l)[1]
		}
	}
	if count == "" {
		return "", errors.New("no sequencer_start_lateness_seconds in /metrics")
	}
	return fmt.Sprintf("count %s, sum %s s", count, sum), nil
}
