package api

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sequencer-dev/sequencer/dnc"
	"github.com/sequencer-dev/sequencer/ocs"
)

// fakeRecords records what the API asked for.
type fakeRecords struct {
	sent []string
	out  []dnc.Outcome
}

func (f *fakeRecords) DoNotCall(_ context.Context, target int32, r ocs.Record) ([]dnc.Outcome, error) {
	f.sent = append(f.sent, "dnc "+r.Phone+"|"+r.CustomerID+"|"+itoa(target))
	return f.out, nil
}

func (f *fakeRecords) CancelRecord(_ context.Context, target int32, r ocs.Record) ([]dnc.Outcome, error) {
	f.sent = append(f.sent, "cancel "+r.Phone+"|"+r.CampaignName+"|"+string(r.Chain)+"|"+itoa(target))
	return f.out, nil
}

func itoa(n int32) string { b, _ := json.Marshal(n); return string(b) }

func TestRecordRequestsAreValidatedForwardedAndAnsweredWithEveryOCSOutcome(t *testing.T) {
	f := &fakeRecords{out: []dnc.Outcome{{OCS: 120, OK: true}, {OCS: 121, Code: ocs.ErrCampaignNotFound, Message: "not loaded"}}}
	h := NewServer(Config{Records: f}).Handler()
	post := func(path, body string) (int, string) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, localRequest(http.MethodPost, path, body))
		return rec.Code, rec.Body.String()
	}
	for _, tc := range []struct{ path, body, want string }{
		{"/api/v1/dnc", `{}`, "at least one is required"},
		{"/api/v1/dnc", `{"phone":"555 0101"}`, "is not a phone number"},
		{"/api/v1/dnc", `{"phone":"+14155550101","chain":"RecordOnly"}`, "cancel-record only"},
		{"/api/v1/dnc", `{"phone":"+14155550101","color":"red"}`, "unknown field"},
		{"/api/v1/cancel-record", `{"customerID":"C1"}`, "required to cancel"},
		{"/api/v1/cancel-record", `{"phone":"+14155550101","chain":"Everything"}`, "not AllChain or RecordOnly"},
	} {
		code, body := post(tc.path, tc.body)
		if code != http.StatusBadRequest || !strings.Contains(body, tc.want) {
			t.Errorf("%s %s: %d %s, want 400 with %q", tc.path, tc.body, code, body, tc.want)
		}
	}
	if len(f.sent) != 0 {
		t.Fatalf("invalid requests reached OCS: %q", f.sent)
	}
	code, body := post("/api/v1/cancel-record", `{"phone":"+14155550101","campaign":"Retries","chain":"RecordOnly","targetAppDBID":121}`)
	var res RecordResult
	if err := json.Unmarshal([]byte(body), &res); code != 200 || err != nil {
		t.Fatalf("cancel: %d %s", code, body)
	}
	if !res.Failed || len(res.Outcomes) != 2 || res.Outcomes[1].Code != ocs.ErrCampaignNotFound {
		t.Errorf("result %+v, want both outcomes and failed (OCS 121 refused)", res)
	}
	post("/api/v1/dnc", `{"customerID":"C0042"}`)
	want := []string{"cancel +14155550101|Retries|RecordOnly|121", "dnc |C0042|0"}
	if strings.Join(f.sent, ",") != strings.Join(want, ",") {
		t.Errorf("sent %q, want %q", f.sent, want)
	}
}

func TestRecordRequestsWithoutACommDNLinkSayWhy(t *testing.T) {
	rec := httptest.NewRecorder()
	NewServer(Config{}).Handler().ServeHTTP(rec, localRequest(http.MethodPost, "/api/v1/dnc", `{"phone":"+14155550101"}`))
	if rec.Code != http.StatusNotImplemented || !strings.Contains(rec.Body.String(), "Communication DN") {
		t.Errorf("%d %s", rec.Code, rec.Body.String())
	}
}

type fakeLists []dnc.ListStatus

func (f fakeLists) Status() []dnc.ListStatus { return f }

func TestMetricsCountDNCEntriesByListAndState(t *testing.T) {
	lists := fakeLists{{Name: "complaints", Entries: 5, Processed: 3, Pending: 1, Failed: 1, Removed: 2}}
	h := NewServer(Config{DNCLists: lists, Metrics: NewMetrics()}).Handler()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, localRequest(http.MethodGet, "/metrics", ""))
	for _, want := range []string{
		`sequencer_dnc_entries{list="complaints",state="processed"} 3`,
		`sequencer_dnc_entries{list="complaints",state="failed"} 1`,
		`sequencer_dnc_entries{list="complaints",state="removed"} 2`,
	} {
		if !strings.Contains(rec.Body.String(), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, localRequest(http.MethodGet, "/api/v1/dnc-lists", ""))
	if !strings.Contains(rec.Body.String(), `"name": "complaints"`) {
		t.Errorf("dnc-lists: %s", rec.Body.String())
	}
}
