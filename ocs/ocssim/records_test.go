package ocssim

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sequencer-dev/sequencer/ocs"
	"github.com/sequencer-dev/sequencer/ocs/bridge"
)

// dnRig is three simulated OCS (120, 121, 122) on one Communication DN and
// a client application 310.
type dnRig struct {
	t    *testing.T
	sims []*Sim
	c    *bridge.Client
}

func newDNRig(t *testing.T, configure func(i int, cfg *Config)) *dnRig {
	r := &dnRig{t: t}
	for i := range 3 {
		cfg := Default()
		cfg.AppDBID = int32(120 + i)
		if configure != nil {
			configure(i, &cfg)
		}
		r.sims = append(r.sims, New(cfg))
	}
	dn := NewDN(r.sims...)
	r.c = bridge.New(func(ctx context.Context) (net.Conn, error) {
		a, b := net.Pipe()
		go dn.Serve(b)
		return a, nil
	}, bridge.Options{Counters: true})
	t.Cleanup(func() {
		r.c.Close()
		for _, s := range r.sims {
			s.Close()
		}
	})
	// Waiting for the connection must not move the clock: the goldens
	// stamp requests with the time since the simulators started.
	synctest.Wait()
	if !r.c.Up() {
		t.Fatal("the client did not connect to the DN")
	}
	return r
}

func (r *dnRig) collect(m ocs.Message) ([]ocs.Message, error) {
	return r.c.Collect(context.Background(), m, ocs.CollectOptions{Window: 2 * time.Second})
}

// outcomes renders each OCS's answer, sorted by OCS.
func outcomes(ans []ocs.Message) []string {
	var out []string
	for _, m := range ans {
		rec, _, _ := m.Record()
		s := fmt.Sprintf("%d %s", m.OriginAppDBID, m.Type)
		if m.Type == ocs.EvError {
			s += fmt.Sprintf(" %d %s", m.Error, m.ErrorMessage)
		}
		if rec.Message != "" {
			s += " " + rec.Message
		}
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

func TestADoNotCallToTargetZeroIsProcessedAndAnsweredByEveryOCSOnTheDN(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newDNRig(t, nil)
		start := time.Now()
		ans, err := r.c.Collect(context.Background(), ocs.NewDoNotCall(310, 0, ocs.Record{Phone: Phone(7), CustomerID: "C9999999"}),
			ocs.CollectOptions{Window: 2 * time.Second, Expect: []int32{120, 121, 122}})
		if err != nil {
			t.Fatal(err)
		}
		want := []string{"120 CM_EvDoNotCallProcessed", "121 CM_EvDoNotCallProcessed", "122 CM_EvDoNotCallProcessed"}
		if got := outcomes(ans); !slices.Equal(got, want) {
			t.Errorf("answers %q, want %q", got, want)
		}
		if d := time.Since(start); d != 0 {
			t.Errorf("with every expected OCS answered the collection took %s, want no wait", d)
		}
		for _, s := range r.sims {
			if !s.OnDNC(Phone(7), "") || !s.OnDNC("", "C9999999") {
				t.Errorf("OCS %d lacks the DNC entry", s.cfg.AppDBID)
			}
		}
		// Targeted: only OCS 121 processes it.
		ans, err = r.collect(ocs.NewDoNotCall(310, 121, ocs.Record{Phone: Phone(8)}))
		if err != nil || len(ans) != 1 || ans[0].OriginAppDBID != 121 {
			t.Fatalf("targeted DNC: %q %v", outcomes(ans), err)
		}
		if r.sims[0].OnDNC(Phone(8), "") || !r.sims[1].OnDNC(Phone(8), "") {
			t.Error("a DNC for OCS 121 reached another OCS")
		}
		checkGolden(t, "dnc-fanout", r.sims[0].TranscriptText(true)+"--- OCS 121\n"+r.sims[1].TranscriptText(true))
	})
}

func TestAnOCSThatDisregardsTheSenderIsMissingFromTheAnswersAndNamedInTheHint(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newDNRig(t, func(i int, cfg *Config) {
			if i == 2 {
				cfg.Connections = []int32{311} // 310 is not on OCS 122's Connections tab
			}
		})
		start := time.Now()
		ans, err := r.collect(ocs.NewCancelRecord(310, 0, ocs.Record{Phone: Phone(500)}))
		if err != nil {
			t.Fatal(err)
		}
		if got := outcomes(ans); !slices.Equal(got, []string{"120 CM_EvRecordCanceled", "121 CM_EvRecordCanceled"}) {
			t.Errorf("answers %q, want 120 and 121 only", got)
		}
		if d := time.Since(start); d != 2*time.Second {
			t.Errorf("without a known set of servers the collection waits its window: %s", d)
		}
		_, err = r.collect(ocs.NewCancelRecord(310, 122, ocs.Record{Phone: Phone(500)}))
		var na *ocs.NoAnswerError
		if !errors.As(err, &na) || !errors.Is(err, ocs.ErrTimeout) {
			t.Fatalf("targeted at the disregarding OCS: %v, want a NoAnswerError", err)
		}
		want := "CM_ReqCancelRecord: no answer from OCS 122 within 2s: is application 310 on its Connections tab?"
		if err.Error() != want {
			t.Errorf("hint %q, want %q", err.Error(), want)
		}
		if got := r.sims[2].TranscriptText(false); !strings.Contains(got, "(disregarded: origin not on the Connections tab)") {
			t.Errorf("OCS 122's transcript does not show the disregarded requests:\n%s", got)
		}
	})
}

func TestARecordRequestGetsTheSeedsErrorCodes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := New(Default())
		defer s.Close()
		bare := func(t ocs.MessageType, prop string, l ocs.TKVList) ocs.Message {
			return ocs.Message{Type: t, Has: ocs.AttrOriginApp | ocs.AttrTargetApp | ocs.AttrProperties,
				OriginAppDBID: 310, TargetAppDBID: 120, Properties: ocs.TKVList{}.AddList(prop, l)}
		}
		cases := []struct {
			name string
			m    ocs.Message
			want ocs.ErrorCode
		}{
			{"cancel without a phone", bare(ocs.ReqCancelRecord, ocs.PropCancelRecord, ocs.TKVList{}.AddString(ocs.KeyCustomerID, "C0000001")), ocs.ErrInvalidParameter},
			{"DNC with neither phone nor customer", bare(ocs.ReqDoNotCall, ocs.PropDoNotCall, ocs.TKVList{}), ocs.ErrInvalidParameter},
			{"an unknown chain scope", ocs.NewCancelRecord(310, 120, ocs.Record{Phone: Phone(1), Chain: "Everything"}), ocs.ErrInvalidParameter},
			{"a campaign that is not loaded", ocs.NewCancelRecord(310, 120, ocs.Record{Phone: Phone(1), CampaignName: "Retries"}), ocs.ErrCampaignNotFound},
			{"a campaign that does not exist", ocs.NewCancelRecord(310, 120, ocs.Record{Phone: Phone(1), CampaignName: "Nope"}), ocs.ErrCampaignNotFound},
			{"cancel by phone", ocs.NewCancelRecord(310, 120, ocs.Record{Phone: Phone(1)}), 0},
			{"DNC by customer", ocs.NewDoNotCall(310, 120, ocs.Record{CustomerID: "C0000001"}), 0},
		}
		for _, tc := range cases {
			d := s.process(tc.m.WithReference(1), false)
			ans := d.ans
			if !d.reply {
				t.Errorf("%s: no answer", tc.name)
				continue
			}
			switch {
			case tc.want == 0 && ans.Type != tc.m.Type.Answer():
				t.Errorf("%s: %s %d %s, want %s", tc.name, ans.Type, ans.Error, ans.ErrorMessage, tc.m.Type.Answer())
			case tc.want != 0 && (ans.Type != ocs.EvError || ans.Error != tc.want):
				t.Errorf("%s: %s %d, want CM_EvError %d", tc.name, ans.Type, ans.Error, tc.want)
			}
			if ans.ReferenceID != 1 {
				t.Errorf("%s: reference %d not echoed", tc.name, ans.ReferenceID)
			}
		}
		checkGolden(t, "record-requests", s.TranscriptText(true))
	})
}

func TestCancellingARecordStillOnAnAgentsDesktopAnswersIncompleteProcessing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, Default())
		r.ok(ocs.NewLoad(tg(101, 732), pace, nil), ocs.EvCampaignLoaded, ocs.StatusInActive)
		r.ok(ocs.NewStartDialing(tg(101, 732), pace, nil), ocs.EvDialingStarted, ocs.StatusRunning)
		r.sleep(10 * time.Second) // progressive: 50 dials, the last 30 s of them with agents
		cancelOne := func(rec ocs.Record) ocs.Record {
			ans, err := r.do(ocs.NewCancelRecord(310, 120, rec))
			if err != nil {
				t.Fatalf("cancel %+v: %v", rec, err)
			}
			got, _, _ := ans.Record()
			return got
		}
		if got := cancelOne(ocs.Record{Phone: Phone(40), Chain: ocs.ChainRecordOnly}); got.Message != IncompleteProcessing {
			t.Errorf("a record dialed 2 s ago: message %q, want %q", got.Message, IncompleteProcessing)
		}
		// Record 60 and, by the default AllChain scope, its chain partner 61
		// (customer C0000030), neither dialed yet: both go.
		if got := cancelOne(ocs.Record{CustomerID: "C0000030", Phone: Phone(60)}); got.Message != "" {
			t.Errorf("records not dialed yet: message %q, want none", got.Message)
		}
		// RecordOnly takes record 70 and leaves 71, its chain partner.
		cancelOne(ocs.Record{Phone: Phone(70), Chain: ocs.ChainRecordOnly})
		r.sleep(10 * time.Second)
		dialed := r.s.Dialed(101, 732)
		if len(dialed) != 100 {
			t.Fatalf("dialed %d records in 20 s progressive, want 100", len(dialed))
		}
		for _, p := range []string{Phone(60), Phone(61), Phone(70)} {
			if slices.Contains(dialed, p) {
				t.Errorf("cancelled record %s was dialed", p)
			}
		}
		for _, p := range []string{Phone(71), Phone(40)} {
			if !slices.Contains(dialed, p) {
				t.Errorf("record %s should have been dialed", p)
			}
		}
		_, st := r.status(101, 732)
		if st.RecordsLeft != 1000-100-3 {
			t.Errorf("records left %d, want 897 (three cancelled)", st.RecordsLeft)
		}
		r.golden("cancel-incomplete", false)
	})
}

func TestADoNotCallStopsARunningCampaignFromDialingThatNumberAndListsLoadedLater(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, Default())
		r.ok(ocs.NewLoad(tg(101, 732), pace, nil), ocs.EvCampaignLoaded, ocs.StatusInActive)
		r.ok(ocs.NewStartDialing(tg(101, 732), pace, nil), ocs.EvDialingStarted, ocs.StatusRunning)
		r.sleep(5 * time.Second) // 25 dials
		if _, err := r.do(ocs.NewDoNotCall(310, 120, ocs.Record{Phone: Phone(100)})); err != nil {
			t.Fatal(err)
		}
		r.sleep(55 * time.Second) // 300 dials in all
		if d := r.s.Dialed(101, 732); len(d) != 300 || slices.Contains(d, Phone(100)) || !slices.Contains(d, Phone(101)) {
			t.Errorf("dialed %d records, DNC'd number dialed: %v", len(d), slices.Contains(d, Phone(100)))
		}
		// Retries (102) loads later: the DNC table applies to it too.
		r.ok(ocs.NewLoad(tg(102, 732), pace, nil), ocs.EvCampaignLoaded, ocs.StatusInActive)
		r.ok(ocs.NewStartDialing(tg(102, 732), pace, nil), ocs.EvDialingStarted, ocs.StatusRunning)
		r.sleep(30 * time.Second)
		if d := r.s.Dialed(102, 732); len(d) != 150 || slices.Contains(d, Phone(100)) {
			t.Errorf("retries list dialed %d, DNC'd number dialed: %v", len(d), slices.Contains(d, Phone(100)))
		}
		r.golden("dnc-running", false)
	})
}
