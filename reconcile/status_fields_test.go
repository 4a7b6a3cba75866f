package reconcile

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sequencer-dev/sequencer/ocs"
)

func TestStatusCarriesTheSuspendReasonAndExpiryLabelsZoneAndTheItemsCounts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t)
		a := item("fresh-leads", 101, ocs.DialModeProgress)
		a.StopAt.Time = after(4 * time.Hour)
		s := seq("nightly", a)
		s.Labels = map[string]string{"team": "collections"}
		h.apply(rehash(s))
		h.wait(time.Minute)
		h.ocs.dial(101, 732, 40, 12)
		h.wait(time.Minute) // a resync poll sees the counts
		st := h.status("nightly")
		if st.Labels["team"] != "collections" || st.TimeZone != "UTC" || st.CampaignDBID != 101 || st.GroupDBID != 732 || st.Dials != 40 || st.Contacts != 12 {
			t.Errorf("status %+v", st)
		}
		until := time.Now().Add(2 * time.Hour)
		if err := h.rec.Suspend(context.Background(), "nightly", "alice", "list audit", until); err != nil {
			t.Fatal(err)
		}
		st = h.status("nightly")
		if !st.Suspended || st.SuspendReason != "list audit" || !st.SuspendedUntil.Equal(until) || st.SuspendedBy != "api:alice" {
			t.Errorf("suspended %v by %q reason %q until %v", st.Suspended, st.SuspendedBy, st.SuspendReason, st.SuspendedUntil)
		}
	})
}

func TestOCSStatisticsShowInTheGroupAndSequenceStatusWhileKnownAndLoaded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t)
		a := item("fresh-leads", 101, ocs.DialModeProgress)
		a.StopAt.Time = after(4 * time.Hour)
		h.apply(rehash(seq("nightly", a)))
		h.wait(time.Minute)
		if b, _ := json.Marshal(h.status("nightly")); strings.Contains(string(b), "busyFactor") {
			t.Errorf("statistics shown before OCS sent any: %s", b)
		}
		state := ocs.Message{Type: ocs.EvCampaignStatus, Has: ocs.AttrCampaign | ocs.AttrGroup, CampaignDBID: 101, GroupDBID: 732}
		h.ocs.events <- state.WithStatus(ocs.StatusRunning).WithRates(ocs.Rates{
			Has:        ocs.RateBusyFactor | ocs.RateHitRatio | ocs.RateOverdialRate | ocs.RateTimeToComplete,
			BusyFactor: 0.85, HitRatio: 0.3, OverdialRate: 0.02, TimeToComplete: 600})
		h.wait(time.Second)
		h.ocs.events <- state.WithStatus(ocs.StatusRunning) // a state without them keeps the last ones
		h.wait(time.Second)
		b, _ := json.Marshal(h.status("nightly"))
		for _, want := range []string{`"busyFactor":0.85`, `"hitRatio":0.3`, `"overdialRate":0.02`, `"timeToComplete":600`} {
			if !strings.Contains(string(b), want) {
				t.Errorf("sequence status lacks %s: %s", want, b)
			}
		}
		groups := h.rec.Groups()
		if len(groups) != 1 || groups[0].BusyFactor == nil || *groups[0].BusyFactor != 0.85 || *groups[0].TimeToComplete != 600 {
			t.Errorf("group observation %+v", groups)
		}
		h.ocs.events <- state.WithStatus(ocs.StatusNotLoaded)
		h.wait(time.Second)
		if g := h.rec.Groups(); g[0].HitRatio != nil {
			t.Errorf("an unloaded group keeps its statistics: %+v", g[0])
		}
	})
}
