package ocssim

import (
	"bufio"
	"context"
	"errors"
	"net"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sequencer-dev/sequencer/ocs"
	"github.com/sequencer-dev/sequencer/ocs/bridge"
)

func pipeClient(s *Sim) *bridge.Client {
	return bridge.New(func(ctx context.Context) (net.Conn, error) {
		a, b := net.Pipe()
		go s.Serve(b)
		return a, nil
	}, bridge.Options{Counters: true})
}

func tg(c, g int32) ocs.Target {
	return ocs.Target{OriginAppDBID: 310, TargetAppDBID: 120, CampaignDBID: c, GroupDBID: g}
}

var pace = ocs.Pacing{DialMode: ocs.DialModeProgress}

func code(err error) ocs.ErrorCode {
	var oe *ocs.OCSError
	if errors.As(err, &oe) {
		return oe.Code
	}
	return -1
}

func TestEveryRequestGetsTheSeedsAnswerOrErrorCode(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := Default()
		cfg.LicensedModes = []ocs.DialMode{ocs.DialModePredict, ocs.DialModeProgress, ocs.DialModePreview}
		s := New(cfg)
		c := pipeClient(s)
		defer func() { c.Close(); s.Close() }()
		ctx := context.Background()
		for !c.Up() {
			time.Sleep(time.Millisecond)
		}
		req := func(m ocs.Message) (ocs.Message, error) { return c.Request(ctx, m) }
		cases := []struct {
			name string
			m    ocs.Message
			want ocs.ErrorCode // 0: success
		}{
			{"unknown campaign", ocs.NewLoad(tg(999, 732), pace, nil), ocs.ErrCampaignNotFound},
			{"unknown group", ocs.NewLoad(tg(101, 999), pace, nil), ocs.ErrGroupNotFound},
			{"campaign not in group", ocs.NewLoad(tg(101, 733), pace, nil), ocs.ErrGroupCampNotFound},
			{"start before load", ocs.NewStartDialing(tg(101, 732), pace, nil), ocs.ErrCampaignNotLoaded},
			{"unlicensed mode", ocs.NewLoad(tg(101, 732), ocs.Pacing{DialMode: ocs.DialModePowerGVP}, nil), ocs.ErrLicenseViolation},
			{"load", ocs.NewLoad(tg(101, 732), pace, nil), 0},
			{"load again", ocs.NewLoad(tg(101, 732), pace, nil), ocs.ErrCampaignAlreadyLoaded},
			{"stop before start", ocs.NewStopDialing(tg(101, 732)), ocs.ErrCampaignNotStarted},
			{"set mode before start", ocs.NewSetDialingMode(tg(101, 732), pace, nil), ocs.ErrCampaignNotStarted},
			{"start", ocs.NewStartDialing(tg(101, 732), pace, nil), 0},
			{"start again", ocs.NewStartDialing(tg(101, 732), pace, nil), ocs.ErrCampaignAlreadyStarted},
			{"live switch to preview", ocs.NewSetDialingMode(tg(101, 732), ocs.Pacing{DialMode: ocs.DialModePreview}, nil), ocs.ErrInvalidCampaignMode},
			{"live switch to predictive", ocs.NewSetDialingMode(tg(101, 732), ocs.Pacing{DialMode: ocs.DialModePredict, OptimizeBy: ocs.OptimizeBusyFactor, OptimizeGoal: 80}, nil), 0},
			{"stop", ocs.NewStopDialing(tg(101, 732)), 0},
			{"force unload", ocs.NewForceUnload(tg(101, 732)), 0},
			{"unload when not loaded", ocs.NewUnload(tg(101, 732)), ocs.ErrCampaignNotLoaded},
			{"status of an unknown sequence", ocs.NewGetCampaignStatus(tg(0, 732)).WithSchedule(ocs.Schedule{Items: []ocs.ScheduleItem{{CampaignDBID: 101, DialMode: ocs.DialModeProgress}}}), ocs.ErrCampaignScheduleNotFound},
		}
		for _, tc := range cases {
			ans, err := req(tc.m)
			if got := code(err); (tc.want == 0 && err != nil) || (tc.want != 0 && got != tc.want) {
				t.Errorf("%s: %v (code %d), want code %d", tc.name, err, got, tc.want)
			}
			if err == nil && ans.Has&ocs.AttrReferenceID == 0 {
				t.Errorf("%s: answer without the reference id", tc.name)
			}
		}
		// A request missing a mandatory attribute never leaves the client.
		bad := ocs.NewLoad(tg(101, 732), pace, nil)
		bad.Has &^= ocs.AttrGroup
		if _, err := req(bad); !errors.Is(err, ocs.ErrInvalidRequest) {
			t.Errorf("missing group: %v", err)
		}
	})
}

func TestARequestFromAnOriginNotOnTheConnectionsTabIsSilentlyDisregarded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := Default()
		cfg.Connections = []int32{311}
		s := New(cfg)
		c := pipeClient(s)
		defer func() { c.Close(); s.Close() }()
		for !c.Up() {
			time.Sleep(time.Millisecond)
		}
		_, err := c.Request(context.Background(), ocs.NewLoad(tg(101, 732), pace, nil))
		if !errors.Is(err, ocs.ErrTimeout) {
			t.Fatalf("want no answer (timeout), got %v", err)
		}
		tr := s.Transcript()
		if len(tr) != 1 || !tr[0].Disregarded {
			t.Errorf("transcript %+v", tr)
		}
		if st, _ := s.Stats(101, 732); st != ocs.StatusNotLoaded {
			t.Errorf("a disregarded load loaded the group: %s", st)
		}
	})
}

func TestAutoCompletionStopsAndUnloadsADepletedGroupAndSaysSo(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := New(Default()) // 105/733: 100 records; predictive 10 dials/s
		c := pipeClient(s)
		defer func() { c.Close(); s.Close() }()
		for !c.Up() {
			time.Sleep(time.Millisecond)
		}
		auto := true
		p := ocs.Pacing{DialMode: ocs.DialModePredict, OptimizeBy: ocs.OptimizeOverdialRate, OptimizeGoal: 3}
		c.Request(context.Background(), ocs.NewLoad(tg(105, 733), p, &auto))
		c.Request(context.Background(), ocs.NewStartDialing(tg(105, 733), p, &auto))
		time.Sleep(5 * time.Second)
		if _, st := s.Stats(105, 733); st.Dials != 50 || st.Contacts != 15 {
			t.Errorf("after 5 s: %+v, want 50 dials and 15 contacts", st)
		}
		time.Sleep(6 * time.Second)
		synctest.Wait()
		if st, stats := s.Stats(105, 733); st != ocs.StatusNotLoaded || stats.RecordsLeft != 0 {
			t.Errorf("after depletion: %s %+v", st, stats)
		}
		var types []ocs.MessageType
		for len(c.Events()) > 0 {
			types = append(types, (<-c.Events()).Type)
		}
		sawStop, sawUnload := false, false
		for _, ty := range types {
			sawStop = sawStop || ty == ocs.EvDialingStopped
			sawUnload = sawUnload || ty == ocs.EvCampaignUnloaded
		}
		if !sawStop || !sawUnload {
			t.Errorf("unsolicited events %v lack the stop and the unload", types)
		}
	})
}

// TestTwoTCPClientsAndAMalformedFrameFromOne runs outside a bubble with
// real sockets on 127.0.0.1.
func TestTwoTCPClientsAndAMalformedFrameFromOne(t *testing.T) {
	s := New(Default())
	defer s.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go s.Serve(c)
		}
	}()
	good := bridge.Dial(ln.Addr().String(), bridge.Options{RequestTimeout: 5 * time.Second})
	defer good.Close()
	bad, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Close()
	bad.Write([]byte{0, 0, 0, 5, '{', 'x', 'x', 'x', 'x'})
	r := bufio.NewReader(bad)
	bad.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := r.ReadByte(); err == nil {
		t.Error("the server answered a malformed frame instead of closing the connection")
	}
	deadline := time.Now().Add(5 * time.Second)
	for !good.Up() && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if _, err := good.Request(context.Background(), ocs.NewLoad(tg(101, 732), pace, nil)); err != nil {
		t.Errorf("the other client was disturbed: %v", err)
	}
}

func TestReceivedCountsTheTranscriptsRequestsOfEachType(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := New(Default())
		c := pipeClient(s)
		defer func() { c.Close(); s.Close() }()
		for !c.Up() {
			time.Sleep(time.Millisecond)
		}
		ctx := context.Background()
		c.Request(ctx, ocs.NewLoad(tg(101, 732), pace, nil))
		c.Request(ctx, ocs.NewLoad(tg(101, 732), pace, nil)) // already loaded: counted all the same
		c.Request(ctx, ocs.NewStartDialing(tg(101, 732), pace, nil))
		want := map[ocs.MessageType]int{}
		for _, r := range s.Transcript() {
			want[r.Msg.Type]++
		}
		for _, ty := range []ocs.MessageType{ocs.ReqLoadCampaign, ocs.ReqStartDialing, ocs.ReqStopDialing} {
			if got := s.Received(ty); got != want[ty] {
				t.Errorf("Received(%s) = %d, the transcript holds %d", ty, got, want[ty])
			}
		}
		if s.Received(ocs.ReqLoadCampaign) != 2 {
			t.Errorf("Received(Load) = %d, want 2", s.Received(ocs.ReqLoadCampaign))
		}
	})
}
