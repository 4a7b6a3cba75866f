package ocshttp_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/sequencer-dev/sequencer/ocs"
	"github.com/sequencer-dev/sequencer/ocs/ocshttp"
	"github.com/sequencer-dev/sequencer/ocs/ocssim"
)

// capture is one hand-written request of testdata/captures (see its
// README.md): header directives, then an HTTP request.
type capture struct {
	name       string
	directives map[string]string // "client", "sim", "state", "sim-shape"; "source" is only required
	method     string
	target     string
	header     http.Header
	body       []byte
}

func loadCaptures(t *testing.T, prefix string) []capture {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join("testdata", "captures", prefix+"*.http"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no %s captures: %v", prefix, err)
	}
	var out []capture
	for _, p := range paths {
		raw, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		c := capture{name: filepath.Base(p), directives: map[string]string{}, header: http.Header{}}
		sc := bufio.NewScanner(bytes.NewReader(raw))
		stage := 0 // 0 directives, 1 headers, 2 body
		var body []string
		for sc.Scan() {
			line := strings.TrimRight(sc.Text(), "\r")
			switch {
			case stage == 0 && strings.HasPrefix(line, "#"):
				k, v, _ := strings.Cut(strings.TrimSpace(strings.TrimPrefix(line, "#")), ":")
				c.directives[k] += strings.TrimSpace(v) + " "
			case stage == 0:
				f := strings.Fields(line)
				if len(f) != 3 || !strings.HasPrefix(f[2], "HTTP/") {
					t.Fatalf("%s: request line %q", c.name, line)
				}
				c.method, c.target, stage = f[0], f[1], 1
			case stage == 1 && line == "":
				stage = 2
			case stage == 1:
				k, v, ok := strings.Cut(line, ":")
				if !ok {
					t.Fatalf("%s: header line %q", c.name, line)
				}
				c.header.Add(strings.TrimSpace(k), strings.TrimSpace(v))
			default:
				body = append(body, line)
			}
		}
		for k, v := range c.directives {
			c.directives[k] = strings.TrimSpace(v)
		}
		if c.directives["source"] == "" {
			t.Fatalf("%s says not which documented form it follows (# source:)", c.name)
		}
		c.body = []byte(strings.TrimSpace(strings.Join(body, "\n")))
		out = append(out, c)
	}
	return out
}

func (c capture) request() *http.Request {
	r := httptest.NewRequest(c.method, c.target, bytes.NewReader(c.body))
	r.Header = c.header.Clone()
	return r
}

// fields parses "101/732 status=Running mode=1" into the pair and the
// key=value settings.
func fields(t *testing.T, name, s string) (campaign, group int32, kv map[string]string) {
	t.Helper()
	f := strings.Fields(s)
	kv = map[string]string{}
	for _, x := range f[1:] {
		k, v, _ := strings.Cut(x, "=")
		kv[k] = v
	}
	if _, err := fmt.Sscanf(f[0], "%d/%d", &campaign, &group); err != nil {
		t.Fatalf("%s: campaign group %q: %v", name, f[0], err)
	}
	return campaign, group, kv
}

func num(t *testing.T, s string) int32 {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return int32(n)
}

// jsonValue decodes a body into generic JSON with numbers as float64.
func jsonValue(t *testing.T, name string, b []byte) any {
	t.Helper()
	if len(bytes.TrimSpace(b)) == 0 {
		return map[string]any{}
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("%s: body %s: %v", name, b, err)
	}
	return v
}

// The client must send, for the message a capture names, the very request
// written by hand from the documentation.
func TestTheClientSendsTheHandWrittenRequests(t *testing.T) {
	checked := 0
	for _, c := range loadCaptures(t, "req-") {
		spec, ok := c.directives["client"]
		if !ok {
			continue
		}
		typeName, rest, _ := strings.Cut(spec, " ")
		campaign, group, kv := fields(t, c.name, rest)
		tg := ocs.Target{OriginAppDBID: 310, TargetAppDBID: 120, CampaignDBID: campaign, GroupDBID: group}
		typ, err := ocs.ParseMessageType(typeName)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		m := ocs.Message{Type: typ, Has: ocs.AttrOriginApp | ocs.AttrTargetApp | ocs.AttrCampaign | ocs.AttrGroup,
			OriginAppDBID: 310, TargetAppDBID: 120, CampaignDBID: tg.CampaignDBID, GroupDBID: tg.GroupDBID}
		if v, ok := kv["mode"]; ok {
			m = m.WithPacing(ocs.Pacing{DialMode: ocs.DialMode(num(t, v)), OptimizeBy: ocs.OptimizeMethod(num(t, kv["by"])), OptimizeGoal: num(t, kv["goal"])})
		}
		if v, ok := kv["auto"]; ok {
			m.Has |= ocs.AttrAutoCompletion
			m.AutoCompletion = v == "1"
		}
		var got *http.Request
		var gotBody []byte
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			got, gotBody = r, must(io.ReadAll(r.Body))
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"GSW_CAMPAIGN_GROUP_STATUS":"NotLoaded"}`)
		}))
		cl, _ := ocshttp.New(srv.URL, ocshttp.Options{CampaignGroups: simGroups()})
		_, err = cl.Request(context.Background(), m)
		cl.Close()
		srv.Close()
		if err != nil || got == nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		want := c.request()
		if got.Method != want.Method || got.URL.Path != want.URL.Path || !reflect.DeepEqual(got.URL.Query(), want.URL.Query()) {
			t.Errorf("%s: client sent %s %s, the capture has %s %s", c.name, got.Method, got.URL.RequestURI(), want.Method, want.URL.RequestURI())
		}
		gotType, _, _ := mime.ParseMediaType(got.Header.Get("Content-Type"))
		wantType, _, _ := mime.ParseMediaType(want.Header.Get("Content-Type"))
		if gotType != wantType {
			t.Errorf("%s: content type %q, the capture has %q", c.name, gotType, wantType)
		}
		if g, w := jsonValue(t, c.name, gotBody), jsonValue(t, c.name, c.body); !reflect.DeepEqual(g, w) {
			t.Errorf("%s: client body %s, the capture has %s", c.name, gotBody, c.body)
		}
		checked++
	}
	if checked < 5 {
		t.Errorf("only %d captures checked against the client", checked)
	}
}

func must[T any](v T, _ error) T { return v }

// The simulator's HTTP front must take each hand-written request, in
// file order, and answer as the capture says.
func TestTheSimulatorsFrontTakesTheHandWrittenRequests(t *testing.T) {
	sim := ocssim.New(ocssim.Default())
	defer sim.Close()
	h := sim.HTTPHandler()
	for _, c := range loadCaptures(t, "req-") {
		want, ok := c.directives["sim"]
		if !ok {
			t.Fatalf("%s: a request capture without # sim:", c.name)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, c.request())
		st, skipped, err := ocshttp.DecodeState(rec.Body.Bytes())
		if err != nil || len(skipped) > 0 {
			t.Errorf("%s: answer %d %s: %v %v", c.name, rec.Code, rec.Body, skipped, err)
			continue
		}
		var got string
		switch {
		case st.Error != nil && *st.Error != 0:
			got = fmt.Sprintf("error %d", *st.Error)
			if rec.Code != ocshttp.HTTPStatus(ocs.ErrorCode(*st.Error)) {
				t.Errorf("%s: HTTP %d for %s", c.name, rec.Code, got)
			}
		case st.Status != nil && ocshttp.Succeeded(rec.Code):
			got = strings.TrimPrefix(ocs.GroupCampStatus(*st.Status).String(), "CM_GCS_")
		default:
			got = fmt.Sprintf("HTTP %d %s", rec.Code, rec.Body)
		}
		if got != want {
			t.Errorf("%s: the simulator answered %s, the capture expects %s", c.name, got, want)
		}
	}
}

// The client's state receiver must make of each hand-written state POST
// what the capture says; where a capture asks, the simulator's own state
// for that group must be shaped like it.
func TestTheStatesReceiverReadsTheHandWrittenStatePOSTs(t *testing.T) {
	groups := simGroups()
	for i := range groups {
		if groups[i].DBID == 5101 {
			groups[i].Name = "Fresh Leads@Collections Team"
		}
	}
	for _, c := range loadCaptures(t, "state-") {
		want := c.directives["state"]
		cl, _ := ocshttp.New("http://ocs.test", ocshttp.Options{CampaignGroups: groups})
		rec := httptest.NewRecorder()
		cl.StatesHandler().ServeHTTP(rec, c.request())
		var ev *ocs.Message
		select {
		case m := <-cl.Events():
			ev = &m
		default:
		}
		cl.Close()
		if want == "refused" {
			if rec.Code != http.StatusBadRequest || ev != nil {
				t.Errorf("%s: HTTP %d, event %v; want refused", c.name, rec.Code, ev)
			}
			continue
		}
		if rec.Code != http.StatusNoContent || ev == nil {
			t.Errorf("%s: HTTP %d %s, event %v; want 204 and an event", c.name, rec.Code, rec.Body, ev)
			continue
		}
		campaign, group, kv := fields(t, c.name, want)
		if ev.Type != ocs.EvCampaignStatus || ev.CampaignDBID != campaign || ev.GroupDBID != group {
			t.Errorf("%s: event %s about %d/%d", c.name, ev.Type, ev.CampaignDBID, ev.GroupDBID)
		}
		gotStatus := ""
		if ev.Has&ocs.AttrGroupCampStatus != 0 {
			gotStatus = strings.TrimPrefix(ev.GroupCampStatus.String(), "CM_GCS_")
		}
		if gotStatus != kv["status"] {
			t.Errorf("%s: status %q, want %q", c.name, gotStatus, kv["status"])
		}
		gotMode := ""
		if ev.Has&ocs.AttrDialMode != 0 {
			gotMode = strconv.Itoa(int(ev.DialMode))
		}
		if gotMode != kv["mode"] {
			t.Errorf("%s: dial mode %q, want %q", c.name, gotMode, kv["mode"])
		}
		r := ev.Rates
		for _, s := range []struct {
			key string
			bit ocs.RateAttr
			v   float64
		}{{"busyFactor", ocs.RateBusyFactor, r.BusyFactor}, {"hitRatio", ocs.RateHitRatio, r.HitRatio},
			{"overdialRate", ocs.RateOverdialRate, r.OverdialRate}, {"timeToComplete", ocs.RateTimeToComplete, r.TimeToComplete}} {
			got := ""
			if r.Has&s.bit != 0 {
				got = strconv.FormatFloat(s.v, 'f', -1, 64)
			}
			if got != kv[s.key] {
				t.Errorf("%s: %s %q, want %q", c.name, s.key, got, kv[s.key])
			}
		}
		_, skipped, _ := ocshttp.DecodeState(c.body)
		if fmt.Sprint(len(skipped)) != cmp(kv["skipped"], "0") {
			t.Errorf("%s: skipped %q, want %s", c.name, skipped, cmp(kv["skipped"], "0"))
		}
		if pair, ok := c.directives["sim-shape"]; ok {
			simShaped(t, c, pair)
		}
	}
}

func cmp(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// simShaped compares the simulator's state of a group, as its front
// answers a status request, with a hand-written state POST: the documented
// names are the same, and every key both carry has the same JSON type.
func simShaped(t *testing.T, c capture, pair string) {
	t.Helper()
	campaign, group, _ := fields(t, c.name, pair)
	sim := ocssim.New(ocssim.Default())
	defer sim.Close()
	var dbid int32
	for _, cg := range ocssim.Default().CampaignGroups {
		if cg.CampaignDBID == campaign && cg.GroupDBID == group {
			dbid = cg.DBID
		}
	}
	rec := httptest.NewRecorder()
	sim.HTTPHandler().ServeHTTP(rec, httptest.NewRequest(ocshttp.Method, ocshttp.Path(dbid)+"?"+ocshttp.ActionParam+"=GetCampaignStatus", nil))
	simBody, _ := jsonValue(t, c.name, rec.Body.Bytes()).(map[string]any)
	capBody, _ := jsonValue(t, c.name, c.body).(map[string]any)
	for _, k := range []string{ocshttp.KeyTenantName, ocshttp.KeyCampaignGroupName, ocshttp.KeyGroupName, ocshttp.KeyCampaignName} {
		if simBody[k] != capBody[k] {
			t.Errorf("%s: the simulator's %s is %v, the capture's %v", c.name, k, simBody[k], capBody[k])
		}
	}
	for k, v := range capBody {
		if sv, ok := simBody[k]; ok && reflect.TypeOf(sv) != reflect.TypeOf(v) {
			t.Errorf("%s: the simulator sends %s as %T, the capture as %T", c.name, k, sv, v)
		}
	}
}
