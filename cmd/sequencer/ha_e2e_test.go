package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sequencer-dev/sequencer/etcdstore/etcdtest"
)

// The tests here run real processes: `sequencer ocs-sim` on a loopback
// port, and daemons (`sequencer run --etcd ... --lease 2s`) against an
// etcd cluster of three members in the test process. The simulator's log
// of every request it received is the transcript.

const haLease = 2 * time.Second

type haEnv struct {
	t       *testing.T
	dir     string
	etcd    *etcdtest.Cluster
	simAddr string
	simLog  string
	specs   string
}

type haDaemon struct {
	name, api, log string
	cmd            *exec.Cmd
	exited         chan struct{}
}

// startHelper runs `sequencer ARGS...` as a child process (the test binary
// re-executed), its output in logPath.
func (e *haEnv) startHelper(logPath string, args ...string) (*exec.Cmd, chan struct{}) {
	e.t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperDaemon$")
	cmd.Env = append(os.Environ(), "SEQUENCER_CRASH_CHILD="+strings.Join(args, "\x1f"))
	f, err := os.Create(logPath)
	if err != nil {
		e.t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	exited := make(chan struct{}) // closed once the process is reaped
	go func() { cmd.Wait(); f.Close(); close(exited) }()
	e.t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGCONT)
		cmd.Process.Signal(syscall.SIGKILL)
		<-exited
		if e.t.Failed() {
			b, _ := os.ReadFile(logPath)
			e.t.Logf("--- %s (last 3000 bytes)\n%s", filepath.Base(logPath), tail(b, 3000))
		}
	})
	return cmd, exited
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// newHAEnv starts etcd, the simulator and writes spec into the specs
// directory every daemon watches.
func newHAEnv(t *testing.T, spec string) *haEnv {
	if testing.Short() {
		t.Skip("runs an etcd cluster and several processes")
	}
	e := &haEnv{t: t, dir: t.TempDir()}
	e.etcd = etcdtest.Start(t, 3)
	e.specs = filepath.Join(e.dir, "specs")
	os.Mkdir(e.specs, 0o755)
	if err := os.WriteFile(filepath.Join(e.specs, "night.yaml"), []byte(spec), 0o644); err != nil {
		t.Fatal(err)
	}
	e.simAddr = freeAddr(t)
	e.simLog = filepath.Join(e.dir, "ocs-sim.log")
	e.startHelper(e.simLog, "ocs-sim", "--listen", e.simAddr, "--records", "1000000", "--log-format", "json")
	e.waitFor(10*time.Second, "the simulator listens", func() bool {
		c, err := net.Dial("tcp", e.simAddr)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	return e
}

func (e *haEnv) daemon(name string) *haDaemon {
	e.t.Helper()
	d := &haDaemon{name: name, api: freeAddr(e.t), log: filepath.Join(e.dir, "daemon-"+name+".log")}
	d.cmd, d.exited = e.startHelper(d.log, "run", "--specs", e.specs, "--etcd", strings.Join(e.etcd.Endpoints(), ","),
		"--lease", haLease.String(), "--member", name, "--ocs", "bridge://"+e.simAddr, "--ocs-counters",
		"--listen", d.api, "--log-format", "json")
	return d
}

func (e *haEnv) waitFor(d time.Duration, what string, ok func() bool) time.Duration {
	e.t.Helper()
	start := time.Now()
	for !ok() {
		if time.Since(start) > d {
			e.t.Fatalf("%s: not within %s", what, d)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return time.Since(start)
}

// simRequest is one request the simulator logged.
type simRequest struct {
	Time     time.Time `json:"time"`
	Msg      string    `json:"msg"`
	Type     string    `json:"type"`
	Campaign int       `json:"campaign"`
}

func (e *haEnv) transcript() []simRequest {
	b, _ := os.ReadFile(e.simLog)
	var out []simRequest
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		var r simRequest
		if json.Unmarshal(sc.Bytes(), &r) == nil && r.Msg == "request" {
			out = append(out, r)
		}
	}
	return out
}

func (e *haEnv) sent(typ string, campaign int) int {
	n := 0
	for _, r := range e.transcript() {
		if r.Type == typ && r.Campaign == campaign {
			n++
		}
	}
	return n
}

// readyz is the daemon's readiness: its HTTP status and role.
func (d *haDaemon) readyz() (int, string, string) {
	c := http.Client{Timeout: 3 * time.Second}
	resp, err := c.Get("http://" + d.api + "/readyz")
	if err != nil {
		return 0, "", err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var r struct {
		Role string `json:"role"`
	}
	json.Unmarshal(b, &r)
	return resp.StatusCode, r.Role, string(b)
}

func (d *haDaemon) leading() bool {
	code, role, _ := d.readyz()
	return code == 200 && role == "leader"
}

func (e *haEnv) leader(ds ...*haDaemon) *haDaemon {
	e.t.Helper()
	var who *haDaemon
	e.waitFor(15*time.Second, "one daemon leads", func() bool {
		for _, d := range ds {
			if d.leading() {
				who = d
				return true
			}
		}
		return false
	})
	return who
}

// everyItemOnce checks the transcript: each campaign loaded and started
// exactly once.
func (e *haEnv) everyItemOnce(campaigns ...int) {
	e.t.Helper()
	for _, c := range campaigns {
		for _, typ := range []string{"CM_ReqLoadCampaign", "CM_ReqStartDialing", "CM_ReqStopDialing", "CM_ReqUnloadCampaign"} {
			if n := e.sent(typ, c); n != 1 {
				e.t.Errorf("%s for campaign %d sent %d times, want exactly 1", typ, c, n)
			}
		}
	}
}

const twoItems = `apiVersion: sequencer/v1
kind: CampaignSequence
metadata: {name: night}
spec:
  items:
    - {name: one, campaignDBID: 101, groupDBID: 732, dialMode: progressive, stopAt: {time: "+%s"}}
    - {name: two, campaignDBID: 102, groupDBID: 732, dialMode: progressive, stopAt: {time: "+2s"}, sleepBeforeNextStart: 1s}
`

func TestAStandbyTakesOverWithinTheLeaseWhenTheLeaderIsKilledAndNoItemStartsTwice(t *testing.T) {
	e := newHAEnv(t, fmt.Sprintf(twoItems, "8s"))
	a, b := e.daemon("a"), e.daemon("b")
	first := e.leader(a, b)
	other := map[*haDaemon]*haDaemon{a: b, b: a}[first]
	e.waitFor(20*time.Second, "item one dials", func() bool { return e.sent("CM_ReqStartDialing", 101) > 0 })
	time.Sleep(time.Second)
	first.cmd.Process.Signal(syscall.SIGKILL)
	<-first.exited
	took := e.waitFor(haLease+2*time.Second, "the standby leads after the leader was killed", other.leading)
	t.Logf("%s led %s after %s was killed", other.name, took.Round(10*time.Millisecond), first.name)
	e.waitFor(30*time.Second, "the sequence finishes", func() bool { return e.sent("CM_ReqUnloadCampaign", 102) > 0 })
	e.everyItemOnce(101, 102)
}

func (d *haDaemon) logHas(s string) bool {
	b, _ := os.ReadFile(d.log)
	return bytes.Contains(b, []byte(s))
}

func TestALeaderStoppedPastItsLeaseSendsNothingWhenItResumesAndStepsDown(t *testing.T) {
	e := newHAEnv(t, fmt.Sprintf(twoItems, "4s"))
	a, b := e.daemon("a"), e.daemon("b")
	old := e.leader(a, b)
	other := map[*haDaemon]*haDaemon{a: b, b: a}[old]
	e.waitFor(20*time.Second, "item one dials", func() bool { return e.sent("CM_ReqStartDialing", 101) > 0 })
	time.Sleep(500 * time.Millisecond)
	// A GC pause or a SIGSTOP: the process believes it leads throughout.
	old.cmd.Process.Signal(syscall.SIGSTOP)
	stopped := time.Now()
	took := e.waitFor(haLease+2*time.Second, "the standby leads while the leader is stopped", other.leading)
	t.Logf("%s led %s after %s was stopped", other.name, took.Round(10*time.Millisecond), old.name)
	// Item one's stop time passes while the old leader is stopped: on
	// SIGCONT its loop wants to stop the item that the new leader owns.
	e.waitFor(10*time.Second, "the new leader stops item one", func() bool { return e.sent("CM_ReqStopDialing", 101) > 0 })
	time.Sleep(time.Until(stopped.Add(2 * haLease)))
	old.cmd.Process.Signal(syscall.SIGCONT)
	e.waitFor(5*time.Second, "the resumed leader steps down", func() bool {
		code, role, _ := old.readyz()
		return code == 503 && role == "standby" && old.logHas("stepped down")
	})
	e.waitFor(30*time.Second, "the sequence finishes", func() bool { return e.sent("CM_ReqUnloadCampaign", 102) > 0 })
	time.Sleep(500 * time.Millisecond) // anything late from the old leader would land now
	e.everyItemOnce(101, 102)
	if !old.logHas("not sent") && !old.logHas("stepped down") {
		t.Errorf("the resumed leader's log says nothing of stepping down")
	}
}

func TestLosingTheEtcdQuorumStopsTheLeaderSendingAndItsReturnResumesWithoutDoubling(t *testing.T) {
	e := newHAEnv(t, fmt.Sprintf(twoItems, "6s"))
	a, b := e.daemon("a"), e.daemon("b")
	l := e.leader(a, b)
	e.waitFor(20*time.Second, "item one dials", func() bool { return e.sent("CM_ReqStartDialing", 101) > 0 })
	e.etcd.Members[2].Stop()
	time.Sleep(haLease + time.Second)
	if !l.leading() || l.logHas("stepped down") {
		_, _, body := l.readyz()
		t.Fatalf("one etcd member of three stopped and the leader stepped down: %s", body)
	}
	t0 := time.Now()
	e.etcd.Members[1].Stop()
	lost := time.Now()
	t.Logf("the second etcd member took %s to stop", lost.Sub(t0).Round(10*time.Millisecond))
	e.waitFor(haLease+4*time.Second, "the leader says in /readyz that it stepped down for etcd", func() bool {
		code, role, body := l.readyz()
		return code == 503 && role == "standby" && strings.Contains(body, "etcd")
	})
	_, _, body := l.readyz()
	t.Logf("%s after losing the quorum (%s): %s", l.name, time.Since(lost).Round(10*time.Millisecond), body)
	if !l.logHas("stepped down") {
		t.Error("the log does not say the leader stepped down")
	}
	quiet := len(e.transcript())
	time.Sleep(3 * time.Second)
	if n := len(e.transcript()); n != quiet {
		t.Errorf("%d requests reached OCS while etcd had no quorum", n-quiet)
	}
	e.etcd.Members[1].Restart(t)
	e.etcd.Members[2].Restart(t)
	e.leader(a, b)
	e.waitFor(40*time.Second, "the sequence finishes", func() bool { return e.sent("CM_ReqUnloadCampaign", 102) > 0 })
	e.everyItemOnce(101, 102)
}
