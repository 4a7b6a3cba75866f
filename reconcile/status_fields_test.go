package reconcile

import (
	"context"
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
