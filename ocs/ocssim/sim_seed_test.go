package ocssim

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sequencer-dev/sequencer/ocs"
	"github.com/sequencer-dev/sequencer/ocs/ocshttp"
)

// seedKeys are the keys the seed (the Communication DN API chapter) lists,
// at any depth.
var seedKeys = map[string]bool{
	"GSW_CM_MessageType": true, "GSW_CM_AttrDialMode": true, "GSW_CM_AttrOptimizeBy": true,
	"GSW_CM_AttrOptimizeGoal": true, "GSW_CM_AttrGroupCampStatus": true, "GSW_CM_AttrCampaignID": true,
	"GSW_CM_AttrGroupID": true, "GSW_CM_AttrError": true, "GSW_CM_AttrErrorMessage": true,
	"GSW_CM_AttrOriginAppID": true, "GSW_CM_AttrTargetAppID": true, "GSW_CM_AttrProperties": true,
	"GSW_AUTO_COMPLETION": true,
	"campaign_schedule":   true, "cancel_record": true, "dialing_priority": true, "do_not_call": true,
	"Description": true, "startTime": true, "nItems": true, "stopAtTime": true, "stopAtContacts": true,
	"stopAtDials": true, "sleepBeforeNextStart": true, "campaignDBID": true, "dialMode": true,
	"optMethod": true, "optMethodValue": true, "status": true,
	"GSW_PHONE": true, "GSW_CAMPAIGN_NAME": true, "GSW_CHAIN_ATTR": true, "GSW_CUSTOMER_ID": true, "GSW_MESSAGE": true,
}

var scheduleItemKey = regexp.MustCompile(`^scheduleItem-[1-9][0-9]*$`)

// inventedKeys lists the keys of l the seed does not list, as paths.
func inventedKeys(prefix string, l ocs.TKVList) []string {
	var out []string
	for _, p := range l {
		if !seedKeys[p.Key] && !scheduleItemKey.MatchString(p.Key) {
			out = append(out, prefix+p.Key)
		}
		if p.Value.Kind() == ocs.KindList {
			out = append(out, inventedKeys(prefix+p.Key+".", p.Value.AsList())...)
		}
	}
	return out
}

// seedOK sends m and fails the test unless OCS answers with type want.
func (r *rig) seedOK(m ocs.Message, want ocs.MessageType) ocs.Message {
	r.t.Helper()
	ans, err := r.do(m)
	if err != nil || ans.Type != want {
		r.t.Fatalf("%s: answered %s (%v), want %s", m.Type, ans.Type, err, want)
	}
	return ans
}

func TestTheSeedProfileSendsOnlyTheSeedsKeysAndEvents(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, withRecords(101, 732, 20), WithProfile(ProfileSeed)) // 101: 4 s of progressive
		auto := true
		st := r.seedOK(ocs.NewGetCampaignStatus(tg(101, 732)), ocs.EvCampaignStatus)
		if st.Has&ocs.AttrGroupCampStatus == 0 || st.GroupCampStatus != ocs.StatusNotLoaded || st.Pacing() != progressive {
			t.Errorf("status of a fresh group: %s %+v", st.GroupCampStatus, st.Pacing())
		}
		if _, has := st.Stats(); has {
			t.Error("a seed status answer carries counters")
		}
		r.seedOK(ocs.NewLoad(tg(101, 732), progressive, &auto), ocs.EvCampaignLoaded)
		r.seedOK(ocs.NewStartDialing(tg(101, 732), progressive, &auto), ocs.EvDialingStarted)
		r.seedOK(ocs.NewLoad(tg(102, 732), predictive, nil), ocs.EvCampaignLoaded)
		r.seedOK(ocs.NewStartDialing(tg(102, 732), predictive, nil), ocs.EvDialingStarted)
		r.seedOK(ocs.NewSetDialingMode(tg(102, 732), progressive, nil), ocs.EvDialingModeChanged)
		r.sleep(2 * time.Second)
		r.seedOK(ocs.NewStopDialing(tg(102, 732)), ocs.EvDialingStopped)
		r.seedOK(ocs.NewForceUnload(tg(102, 732)), ocs.EvCampaignUnloaded)
		r.seedOK(ocs.NewDoNotCall(310, 0, ocs.Record{Phone: Phone(9)}), ocs.EvDoNotCallProcessed)
		r.fails(ocs.NewStartDialing(tg(103, 732), progressive, nil), ocs.ErrCampaignNotLoaded)
		r.sleep(2 * time.Second) // 101 runs dry at 4 s
		// Auto-completion is the only thing OCS says unasked.
		r.wantEvents(
			"+4s CM_EvDialingStopped 101/732",
			"+4s CM_EvCampaignUnloaded 101/732",
		)
		r.mu.Lock()
		events := append([]stamped(nil), r.events...)
		r.mu.Unlock()
		for _, e := range events {
			if e.m.Has != ocs.AttrOriginApp|ocs.AttrTargetApp|ocs.AttrCampaign|ocs.AttrGroup {
				t.Errorf("%s carries more than the campaign group: %v", e.m.Type, e.m.Encode())
			}
		}
		for _, a := range r.replies {
			if a.Has&ocs.AttrGroupCampStatus != 0 && a.Type != ocs.EvCampaignStatus {
				t.Errorf("%s carries a status; the seed lists it for CM_EvCampaignStatus only", a.Type)
			}
			if bad := inventedKeys("", a.Encode().Delete(ocs.KeyReferenceID)); len(bad) > 0 {
				t.Errorf("%s carries keys the seed does not list: %v", a.Type, bad)
			}
		}
		for _, e := range events {
			if bad := inventedKeys("", e.m.Encode()); len(bad) > 0 {
				t.Errorf("event %s carries keys the seed does not list: %v", e.m.Type, bad)
			}
		}
		r.golden("seed-profile", true)
	})
}

func TestTheFullProfileSendsKeysBeyondTheSeedSoTheKeyCheckHasTeeth(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, Default())
		ans := r.ok(ocs.NewLoad(tg(101, 732), progressive, nil), ocs.EvCampaignLoaded, ocs.StatusInActive)
		bad := inventedKeys("", ans.Encode().Delete(ocs.KeyReferenceID))
		if fmt.Sprint(bad) != "[GSW_CM_AttrProperties.statistics GSW_CM_AttrProperties.statistics.GSW_STAT_DIALS GSW_CM_AttrProperties.statistics.GSW_STAT_CONTACTS GSW_CM_AttrProperties.statistics.GSW_STAT_RECORDS_LEFT]" {
			t.Errorf("keys beyond the seed in a full load answer: %v", bad)
		}
	})
}

func TestTheSeedProfileSendsStatusEventsOnlyWhenConfiguredTo(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, Default(), WithProfile(ProfileSeed), WithStatusEvents(StatusEventsOnChange))
		r.seedOK(ocs.NewLoad(tg(101, 732), progressive, nil), ocs.EvCampaignLoaded)
		r.wantEvents("+0s CM_EvCampaignStatus 101/732 CM_GCS_InActive progressive")
		if _, has := r.lastEvent().Stats(); has {
			t.Error("a seed status event carries counters")
		}
	})
}

func TestASequenceOwnedGroupIsRefusedWithASeedCodeInTheSeedProfile(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, Default(), WithProfile(ProfileSeed))
		sched := ocs.Schedule{Items: []ocs.ScheduleItem{{CampaignDBID: 101, DialMode: ocs.DialModeProgress}}}
		ans := r.seedOK(ocs.NewLoad(tg(0, 732), progressive, nil).WithSchedule(sched), ocs.EvCampaignLoaded)
		if ans.Has&ocs.AttrGroupCampStatus != 0 {
			t.Error("the seed's sequence load answer carries a status")
		}
		r.fails(ocs.NewLoad(tg(101, 732), progressive, nil), ocs.ErrInvalidParameter)
	})
}

func TestProfilesParseByName(t *testing.T) {
	for in, want := range map[string]Profile{"": ProfileFull, "full": ProfileFull, "seed": ProfileSeed} {
		if got, err := ParseProfile(in); err != nil || got != want {
			t.Errorf("ParseProfile(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := ParseProfile("strict"); err == nil || err.Error() != `profile "strict": want seed or full` {
		t.Errorf("ParseProfile(strict): %v", err)
	}
	if _, err := ParseConfig([]byte(`{"profile":"sead"}`)); err == nil {
		t.Error("a misspelt profile in the configuration passed")
	}
	cfg, err := ParseConfig([]byte(`{"profile":"seed"}`))
	if err != nil || cfg.Profile != ProfileSeed {
		t.Errorf("profile seed from JSON: %q, %v", cfg.Profile, err)
	}
}

func TestTheSeedProfilesHTTPFrontAndStatePOSTsSendNoInventedKey(t *testing.T) {
	for p, wantInvented := range map[Profile]bool{ProfileFull: true, ProfileSeed: false} {
		synctest.Test(t, func(t *testing.T) {
			s := New(Default(), WithProfile(p))
			defer s.Close()
			var mu sync.Mutex
			var bodies []string
			posts := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				mu.Lock()
				bodies = append(bodies, string(b))
				mu.Unlock()
				w.WriteHeader(http.StatusNoContent)
			})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			go s.ReportStates(ctx, "http://sequencer.test/ocs-states", 10*time.Second, &http.Client{Transport: handlerTransport{posts}})
			synctest.Wait()
			for _, req := range []string{"LoadCampaign", "StartDialing", "GetCampaignStatus"} {
				rec := httptest.NewRecorder()
				s.HTTPHandler().ServeHTTP(rec, httptest.NewRequest(ocshttp.Method, ocshttp.Path(5101)+"?"+ocshttp.ActionParam+"="+req, strings.NewReader(`{"GSW_DIAL_MODE":2}`)))
				if rec.Code != http.StatusOK {
					t.Fatalf("%s: %s over HTTP: %d %s", p, req, rec.Code, rec.Body)
				}
				mu.Lock()
				bodies = append(bodies, rec.Body.String())
				mu.Unlock()
			}
			time.Sleep(10 * time.Second) // one periodic POST
			synctest.Wait()
			mu.Lock()
			defer mu.Unlock()
			if len(bodies) < 6 {
				t.Fatalf("%s: %d bodies, want 3 answers and at least 3 state POSTs", p, len(bodies))
			}
			for _, b := range bodies {
				for _, k := range ocshttp.Invented {
					if got := strings.Contains(b, `"`+k+`"`); got != wantInvented {
						t.Errorf("%s: %s in %s: %v, want %v", p, k, b, got, wantInvented)
					}
				}
			}
		})
	}
}

// handlerTransport serves HTTP requests with a handler in memory.
type handlerTransport struct{ h http.Handler }

func (h handlerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	h.h.ServeHTTP(rec, r)
	return rec.Result(), nil
}
