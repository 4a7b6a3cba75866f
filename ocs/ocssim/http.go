package ocssim

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/sequencer-dev/sequencer/ocs"
	"github.com/sequencer-dev/sequencer/ocs/ocshttp"
)

// HTTPHandler serves OCS's HTTP interface for campaign groups:
// POST /campaigngroups/<DBID>?req=<Action>, answered in the response with
// the wire shapes of package ocshttp. The faults apply: a dropped request
// or answer leaves the response hanging until the client gives up.
func (s *Sim) HTTPHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc(ocshttp.Route, s.serveCampaignGroup)
	return mux
}

func (s *Sim) serveCampaignGroup(w http.ResponseWriter, r *http.Request) {
	fail := func(code ocs.ErrorCode, text string) {
		e := int32(code)
		writeState(w, ocshttp.HTTPStatus(code), ocshttp.State{Error: &e, ErrorMessage: text})
	}
	id, err := strconv.ParseInt(r.PathValue("dbid"), 10, 32)
	if err != nil {
		fail(ocs.ErrInvalidParameter, "campaign group DBID "+strconv.Quote(r.PathValue("dbid"))+" is not a number")
		return
	}
	cg, ok := s.campaignGroupByDBID(int32(id))
	if !ok {
		fail(ocs.ErrGroupCampNotFound, "no campaign group with DBID "+strconv.Itoa(int(id)))
		return
	}
	action := r.URL.Query().Get(ocshttp.ActionParam)
	t, ok := ocshttp.RequestOf(action)
	if !ok {
		fail(ocs.ErrInvalidParameter, "unknown "+ocshttp.ActionParam+" "+strconv.Quote(action))
		return
	}
	raw, err := io.ReadAll(io.LimitReader(r.Body, ocs.MaxFrameSize))
	var body ocshttp.Body
	var skipped []string
	if err == nil {
		body, skipped, err = ocshttp.DecodeBody(raw)
	}
	if err == nil && len(skipped) > 0 {
		// A parameter OCS cannot read is a bad parameter, not a default.
		err = fmt.Errorf("%s", strings.Join(skipped, "; "))
	}
	if err != nil {
		fail(ocs.ErrInvalidParameter, "request body: "+err.Error())
		return
	}
	m := ocs.Message{Type: t, Has: ocs.AttrOriginApp | ocs.AttrTargetApp | ocs.AttrCampaign | ocs.AttrGroup,
		TargetAppDBID: s.cfg.AppDBID, CampaignDBID: cg.CampaignDBID, GroupDBID: cg.GroupDBID}
	m = body.Apply(m)
	d := s.process(m, true)
	s.broadcast(d.notify)
	if !d.reply {
		s.broadcast(d.after)
		<-r.Context().Done()
		return
	}
	if d.delay > 0 {
		select {
		case <-time.After(d.delay):
		case <-r.Context().Done():
			return
		}
	}
	status := http.StatusOK
	if d.ans.Type == ocs.EvError {
		status = ocshttp.HTTPStatus(d.ans.Error)
	}
	writeState(w, status, s.named(ocshttp.StateOf(d.ans), cg))
	s.broadcast(d.after)
}

func writeState(w http.ResponseWriter, status int, st ocshttp.State) {
	w.Header().Set("Content-Type", ocshttp.ContentType)
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(st)
}

func (s *Sim) campaignGroupByDBID(id int32) (CampaignGroup, bool) {
	for _, cg := range s.cfg.CampaignGroups {
		if cg.DBID == id && id != 0 {
			return cg, true
		}
	}
	return CampaignGroup{}, false
}

// campaignGroupByKey reads the groups map, whose keys and configurations
// are fixed by New, so it needs no lock.
func (s *Sim) campaignGroupByKey(c, g int32) (CampaignGroup, bool) {
	if gr := s.groups[key{c, g}]; gr != nil {
		return gr.cg, true
	}
	return CampaignGroup{}, false
}

// named adds the configuration names OCS puts in its state POSTs.
func (s *Sim) named(st ocshttp.State, cg CampaignGroup) ocshttp.State {
	st.TenantName = "Environment"
	st.CampaignGroupDBID = cg.DBID
	st.CampaignDBID, st.GroupDBID = cg.CampaignDBID, cg.GroupDBID
	st.CampaignName = s.campaignName(cg.CampaignDBID)
	for _, g := range s.cfg.Groups {
		if g.DBID == cg.GroupDBID {
			st.GroupName = g.Name
		}
	}
	st.CampaignGroupName = cg.Name
	if st.CampaignGroupName == "" {
		st.CampaignGroupName = st.CampaignName + "@" + st.GroupName
	}
	return st
}

// ReportStates POSTs a campaign group's state to uri on every change and,
// every interval (OCS's default is 10 s), the state of every loaded group —
// each once, without retries, as OCS does (campaigngroup-states-uri). It
// returns when ctx is done.
func (s *Sim) ReportStates(ctx context.Context, uri string, interval time.Duration, client *http.Client) {
	if interval <= 0 {
		interval = 10 * time.Second
	}
	if client == nil {
		client = &http.Client{Timeout: 5 * time.Second}
	}
	ch := make(chan ocs.Message, 1024)
	s.mu.Lock()
	s.stateSubs[ch] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.stateSubs, ch)
		s.mu.Unlock()
	}()
	post := func(m ocs.Message, periodic bool) {
		cg, ok := s.campaignGroupByKey(m.CampaignDBID, m.GroupDBID)
		if !ok {
			return
		}
		b, _ := json.Marshal(s.named(ocshttp.StateOf(m), cg))
		req, err := http.NewRequestWithContext(ctx, ocshttp.Method, uri, bytes.NewReader(b))
		if err != nil {
			s.log.Warn("campaign-group state POST", "err", err)
			return
		}
		req.Header.Set("Content-Type", ocshttp.ContentType)
		resp, err := client.Do(req)
		if err != nil {
			s.log.Warn("campaign-group state POST failed; not retried", "uri", uri, "err", err)
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		s.log.Debug("sent campaign-group state", "campaign_group", cg.DBID, "periodic", periodic, "status", resp.StatusCode)
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case m := <-ch:
			post(m, false)
		case <-tick.C:
			for _, m := range s.loadedStates() {
				post(m, true)
			}
		}
	}
}

// loadedStates are status events for every group OCS holds in memory.
func (s *Sim) loadedStates() []ocs.Message {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []ocs.Message
	for _, g := range s.loadedGroups("") {
		out = append(out, s.statusEvent(g, now))
	}
	return out
}
