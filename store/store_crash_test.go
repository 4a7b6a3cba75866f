package store

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestHelperStoreWriter is the child of the crash test: it writes, in the
// reconciler's order, intent N, then progress at segment N, then the
// settlement of intent N, forever, until it is killed.
func TestHelperStoreWriter(t *testing.T) {
	path := os.Getenv("STORE_CRASH_CHILD")
	if path == "" {
		t.Skip("helper process")
	}
	s, err := Open(path, Options{LockTimeout: 5 * time.Second})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	fmt.Println("writing") // the parent's clock starts here, not at exec
	p, _, _ := s.Progress("seq")
	n := 0
	if p.Run != nil {
		n = p.Run.Segment
	}
	for {
		n++
		id := fmt.Sprintf("seq@run/0/%d/start", n)
		s.BeginIntent(Intent{ID: id, Sequence: "seq", Action: "start", Created: time.Now()})
		s.PutProgress(Progress{Sequence: "seq", Run: &Run{ID: "seq@run", ItemState: "starting", Segment: n,
			Items: make([]ItemResult, n%50)}}) // a value whose size changes
		s.SettleIntent(id, IntentDone, "ok", time.Now())
		s.Append(Event{Sequence: "seq", At: time.Now(), Kind: "request", Message: id})
	}
}

// TestAStoreKilledAtRandomPointsReopensConsistent kills the writer with
// SIGKILL at random moments; after each kill the file passes Check, every
// intent is open or settled, the progress record decodes, and progress is
// never ahead of the intents: the intent for its segment exists.
func TestAStoreKilledAtRandomPointsReopensConsistent(t *testing.T) {
	runs := 200
	if testing.Short() {
		runs = 20
	}
	path := filepath.Join(t.TempDir(), FileName)
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	last, advanced := 0, 0
	for i := 0; i < runs; i++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperStoreWriter$")
		cmd.Env = append(os.Environ(), "STORE_CRASH_CHILD="+path)
		out, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// On a loaded machine starting the child takes longer than the
		// kill delay: wait until it writes, so the kills land mid-write.
		if _, err := bufio.NewReader(out).ReadString('\n'); err != nil {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("run %d: the writer did not start: %v", i, err)
		}
		time.Sleep(time.Duration(20+rng.IntN(130)) * time.Millisecond)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()

		s, err := Open(path, Options{})
		if err != nil {
			t.Fatalf("run %d: reopen: %v", i, err)
		}
		if err := s.Check(); err != nil {
			t.Fatalf("run %d: check: %v", i, err)
		}
		p, ok, err := s.Progress("seq")
		if err != nil {
			t.Fatalf("run %d: progress: %v", i, err)
		}
		if ok {
			id := fmt.Sprintf("seq@run/0/%d/start", p.Run.Segment)
			in, found, err := s.Intent(id)
			if err != nil || !found {
				t.Fatalf("run %d: progress at segment %d but its intent %s is missing (%v)", i, p.Run.Segment, id, err)
			}
			if in.State != IntentOpen && in.State != IntentDone {
				t.Fatalf("run %d: intent %s in state %q", i, id, in.State)
			}
			if p.Run.Segment > last {
				advanced++
				last = p.Run.Segment
			}
		}
		s.Close()
	}
	// The kills must land while the writer writes, not before it starts.
	if advanced < runs/4 {
		t.Errorf("progress advanced in only %d of %d runs", advanced, runs)
	}
	t.Logf("%d kills, progress advanced in %d, last segment %d", runs, advanced, last)
}
