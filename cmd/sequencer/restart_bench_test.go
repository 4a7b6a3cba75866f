package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sequencer-dev/sequencer/ocs/bridge"
	"github.com/sequencer-dev/sequencer/ocs/ocssim"
	"github.com/sequencer-dev/sequencer/reconcile"
	"github.com/sequencer-dev/sequencer/specs"
	"github.com/sequencer-dev/sequencer/store"
)

// BenchmarkRestart100000 times `sequencer run` (in-process, embedded
// simulator) from its start to /readyz answering 200, on a data directory
// that already holds the progress of every sequence in its specs
// directory: the restart of a daemon with 100,000 waiting sequences, next
// to 1,000 (the baseline, same run). cache=warm is a restart as it
// usually is, with the spec parse cache its previous run wrote;
// cache=cold is one without (the first start of a new binary, or after
// the cache was deleted). settled-s is the time until the loop answers a
// reconcile command over the API, which it does only after its first pass
// over the whole snapshot. parse-s, cached-load-s, open-s and recover-s
// are the steps measured on their own in the same run: specs.Load of the
// directory without and with a warm cache, store.Open of the database,
// and its AllProgress read (what the loop's recovery reads).
//
//	go test ./cmd/sequencer -run '^$' -bench Restart100000 -benchtime=3x -timeout 30m
func BenchmarkRestart100000(b *testing.B) {
	for _, n := range []int{1000, 100000} {
		b.Run(fmt.Sprintf("sequences=%d", n), func(b *testing.B) {
			dir := b.TempDir()
			specDir, dataDir := filepath.Join(dir, "specs"), filepath.Join(dir, "data")
			cache := filepath.Join(dataDir, specsCacheName)
			writeWaitingSpecs(b, specDir, n)
			t0 := time.Now()
			snap := specs.Load(specs.LoadOptions{}, specDir)
			parse := time.Since(t0)
			if len(snap.Sequences) != n {
				b.Fatalf("loaded %d of %d sequences, problems: %v", len(snap.Sequences), n, snap.Problems)
			}
			seedProgress(b, dataDir, snap)
			open, recover := storeSteps(b, dataDir, n)
			// The cache as the daemon writes it (the test binary is the
			// daemon: one executable identity).
			specs.Load(specs.LoadOptions{CacheFile: cache}, specDir)
			t0 = time.Now()
			specs.Load(specs.LoadOptions{CacheFile: cache}, specDir)
			cachedLoad := time.Since(t0)

			for _, warm := range []bool{true, false} {
				name := "cache=warm"
				if !warm {
					name = "cache=cold"
				}
				b.Run(name, func(b *testing.B) {
					var ready, settled time.Duration
					for b.Loop() {
						if !warm {
							os.Remove(cache)
						}
						r, s := restartOnce(b, specDir, dataDir, fmt.Sprintf("s%06d", n-1))
						ready += r
						settled += s
					}
					b.ReportMetric(ready.Seconds()/float64(b.N), "ready-s")
					b.ReportMetric(settled.Seconds()/float64(b.N), "settled-s")
					b.ReportMetric(parse.Seconds(), "parse-s")
					b.ReportMetric(cachedLoad.Seconds(), "cached-load-s")
					b.ReportMetric(open.Seconds(), "open-s")
					b.ReportMetric(recover.Seconds(), "recover-s")
				})
			}
		})
	}
}

// writeWaitingSpecs writes n one-item sequences, a thousand to a file,
// whose one start is ten days ahead.
func writeWaitingSpecs(b *testing.B, dir string, n int) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	at := time.Now().Add(10 * 24 * time.Hour).UTC().Truncate(time.Hour).Format(time.RFC3339)
	for f := 0; f*1000 < n; f++ {
		var sb strings.Builder
		for i := f * 1000; i < min(n, (f+1)*1000); i++ {
			fmt.Fprintf(&sb, `---
apiVersion: sequencer/v1
kind: CampaignSequence
metadata: {name: s%06d}
spec:
  start: {at: %q}
  items:
    - {name: only, campaignDBID: %d, groupDBID: 732, dialMode: progressive, stopAt: {dials: 500}}
`, i, at, 100000+i)
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("batch-%03d.yaml", f)), []byte(sb.String()), 0o644); err != nil {
			b.Fatal(err)
		}
	}
}

// seedProgress runs the loop once over snap (without fsync, to keep the
// setup short) so that the database holds what a daemon that has seen
// these specs before would hold.
func seedProgress(b *testing.B, dataDir string, snap specs.Snapshot) {
	if err := os.MkdirAll(dataDir, 0o750); err != nil {
		b.Fatal(err)
	}
	st, err := store.Open(filepath.Join(dataDir, store.FileName), store.Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	sim := ocssim.New(ocssim.Default())
	defer sim.Close()
	link := bridge.New(func(ctx context.Context) (net.Conn, error) {
		a, c := net.Pipe()
		go sim.Serve(c)
		return a, nil
	}, bridge.Options{Counters: true})
	defer link.Close()
	rec := reconcile.New(reconcile.Config{Link: link, Store: st})
	snaps := make(chan specs.Snapshot, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- rec.Run(ctx, snaps) }()
	snaps <- snap
	deadline := time.Now().Add(15 * time.Minute)
	for {
		waiting := 0
		for _, s := range rec.Sequences() {
			if s.Phase == reconcile.PhaseWaiting {
				waiting++
			}
		}
		if waiting == len(snap.Sequences) {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d sequences waiting after seeding", waiting, len(snap.Sequences))
		}
		time.Sleep(100 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
}

// storeSteps times opening the database and reading every progress record.
func storeSteps(b *testing.B, dataDir string, n int) (open, recover time.Duration) {
	t0 := time.Now()
	st, err := store.Open(filepath.Join(dataDir, store.FileName), store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	open = time.Since(t0)
	t0 = time.Now()
	all, err := st.AllProgress()
	recover = time.Since(t0)
	if err != nil || len(all) != n {
		b.Fatalf("read %d of %d progress records: %v", len(all), n, err)
	}
	return open, recover
}

// restartOnce runs the daemon until it is ready and has taken a command,
// then stops it.
func restartOnce(b *testing.B, specDir, dataDir, last string) (ready, settled time.Duration) {
	addr := freeAddrTB(b)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	t0 := time.Now()
	go func() {
		done <- run(ctx, []string{"run", "--specs", specDir, "--data", dataDir, "--listen", addr, "--log-format", "json"}, io.Discard, io.Discard)
	}()
	defer func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				b.Fatalf("run: %v", err)
			}
		case <-time.After(time.Minute):
			b.Fatal("run did not stop within a minute of cancel")
		}
	}()
	url := "http://" + addr
	deadline := t0.Add(10 * time.Minute)
	for {
		if resp, err := http.Get(url + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			b.Fatal("not ready within 10 minutes")
		}
		time.Sleep(5 * time.Millisecond)
	}
	ready = time.Since(t0)
	for {
		resp, err := http.Post(url+"/api/v1/sequences/"+last+"/reconcile", "application/json", strings.NewReader("{}"))
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			b.Fatal("no reconcile answered within 10 minutes")
		}
		time.Sleep(5 * time.Millisecond)
	}
	return ready, time.Since(t0)
}
