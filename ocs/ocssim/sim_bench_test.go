package ocssim

import (
	"context"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sequencer-dev/sequencer/ocs"
	"github.com/sequencer-dev/sequencer/ocs/bridge"
)

// BenchmarkRequestsAnswered measures GetCampaignStatus round trips per
// second through the bridge client, over net.Pipe (the in-process link)
// and over TCP loopback (the baseline of a real socket, same run).
func BenchmarkRequestsAnswered(b *testing.B) {
	req := ocs.NewGetCampaignStatus(tg(101, 732))
	run := func(b *testing.B, c *bridge.Client) {
		for !c.Up() {
			runtime.Gosched()
		}
		b.ResetTimer()
		for b.Loop() {
			if _, err := c.Request(context.Background(), req); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
	}
	b.Run("pipe", func(b *testing.B) {
		s := New(Default())
		c := pipeClient(s)
		defer func() { c.Close(); s.Close() }()
		run(b, c)
	})
	b.Run("tcp-loopback", func(b *testing.B) {
		s := New(Default())
		c, closeAll := serveTCP(s, bridge.Options{})
		defer closeAll()
		run(b, c)
	})
}

// BenchmarkMemoryPerLoadedGroup loads 100,000 campaign groups (target:
// under 2 KiB each); the baseline is the same simulator with the groups
// configured but not loaded.
func BenchmarkMemoryPerLoadedGroup(b *testing.B) {
	const n = 100000
	for b.Loop() {
		cfg := Default()
		cfg.Groups = append(cfg.Groups, Group{DBID: 9000, Name: "big"})
		for i := 0; i < n; i++ {
			cfg.Campaigns = append(cfg.Campaigns, Campaign{DBID: int32(100000 + i)})
			cfg.CampaignGroups = append(cfg.CampaignGroups, CampaignGroup{CampaignDBID: int32(100000 + i), GroupDBID: 9000, Records: 1000})
		}
		runtime.GC()
		var before, configured, loaded runtime.MemStats
		runtime.ReadMemStats(&before)
		s := New(cfg)
		runtime.GC()
		runtime.ReadMemStats(&configured)
		for i := 0; i < n; i++ {
			// A refused load would leave the group as configured, and the
			// figure would measure nothing: every answer must say loaded.
			ans, _ := s.apply(ocs.NewLoad(tg(int32(100000+i), 9000), ocs.Pacing{DialMode: ocs.DialModeProgress}, nil), s.start)
			if err := ans.AsError(ocs.ReqLoadCampaign); err != nil || ans.Type != ocs.EvCampaignLoaded {
				b.Fatalf("load of campaign %d: %v %v", 100000+i, ans.Type, err)
			}
		}
		for _, c := range []int32{100000, 100000 + n/2, 100000 + n - 1} {
			st, _ := s.apply(ocs.NewGetCampaignStatus(tg(c, 9000)), s.start)
			if err := st.AsError(ocs.ReqGetCampaignStatus); err != nil || st.GroupCampStatus == ocs.StatusNotLoaded {
				b.Fatalf("campaign %d after its load: %v %v", c, st.GroupCampStatus, err)
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&loaded)
		b.ReportMetric(float64(configured.HeapAlloc-before.HeapAlloc)/n, "configured-B/group")
		b.ReportMetric(float64(loaded.HeapAlloc-before.HeapAlloc)/n, "loaded-B/group")
		runtime.KeepAlive(s)
	}
}

// BenchmarkPipelinedStops writes 10,000 StopDialing requests for dialing
// campaign groups in one SendAsync over TCP loopback, as the loop's
// sender does in a stop storm, and waits for every answer: what the
// simulator and the bridge client cost per request when requests are
// pipelined (the simulator also broadcasts each state change). The
// baseline, same run, is 10,000 GetCampaignStatus reads, which change
// nothing.
func BenchmarkPipelinedStops(b *testing.B) {
	const n = 10000
	cfg := Default()
	cfg.Campaigns, cfg.CampaignGroups = nil, nil
	cfg.Groups = []Group{{DBID: 732, Name: "Collections Team"}}
	for i := range n {
		c := int32(100000 + i)
		cfg.Campaigns = append(cfg.Campaigns, Campaign{DBID: c, Name: "C"})
		cfg.CampaignGroups = append(cfg.CampaignGroups, CampaignGroup{CampaignDBID: c, GroupDBID: 732, Records: 10_000_000})
	}
	s := New(cfg)
	c, closeAll := serveTCP(s, bridge.Options{Counters: true})
	defer closeAll()
	for !c.Up() {
		runtime.Gosched()
	}
	all := func(mk func(t ocs.Target) ocs.Message) {
		reqs := make([]ocs.Message, n)
		for i := range reqs {
			reqs[i] = mk(tg(int32(100000+i), 732))
		}
		var wg sync.WaitGroup
		wg.Add(n)
		var failed atomic.Int64
		c.SendAsync(reqs, time.Minute, func(i int, _ ocs.Message, err error) {
			if err != nil {
				failed.Add(1)
			}
			wg.Done()
		})
		wg.Wait()
		if f := failed.Load(); f > 0 {
			b.Fatalf("%d of %d requests failed", f, n)
		}
	}
	all(func(t ocs.Target) ocs.Message { return ocs.NewLoad(t, pace, nil) })
	b.Run("stops", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			all(func(t ocs.Target) ocs.Message { return ocs.NewStartDialing(t, pace, nil) })
			b.StartTimer()
			all(func(t ocs.Target) ocs.Message { return ocs.NewStopDialing(t) })
		}
		b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*n), "µs/req")
	})
	b.Run("status-reads", func(b *testing.B) {
		for b.Loop() {
			all(func(t ocs.Target) ocs.Message { return ocs.NewGetCampaignStatus(t) })
		}
		b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*n), "µs/req")
	})
}

// serveTCP serves s on a loopback port and returns a bridge client dialled
// to it, and what closes all three.
func serveTCP(s *Sim, opts bridge.Options) (*bridge.Client, func()) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go s.Serve(conn)
		}
	}()
	c := bridge.Dial(ln.Addr().String(), opts)
	return c, func() { c.Close(); ln.Close(); s.Close() }
}
