package ocssim

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/sequencer-dev/sequencer/ocs"
)

// The calling lists are synthetic. Record i of every list has phone Phone(i)
// and belongs to customer CustomerID(i); a customer's chain is two records,
// 2k and 2k+1 (a home and a mobile number). The same people are on every
// list, as they are on a fresh-leads list and its retries list.

// Phone is the phone number of record i.
func Phone(i int64) string { return fmt.Sprintf("+1555%07d", i) }

// CustomerID is the customer of record i.
func CustomerID(i int64) string { return fmt.Sprintf("C%07d", i/2) }

// IncompleteProcessing is the GSW_MESSAGE of a cancellation that found
// records still on an agent's desktop.
const IncompleteProcessing = "Incomplete processing: record(s) on desktop"

func recordOfPhone(p string) (int64, bool) {
	d, ok := strings.CutPrefix(p, "+1555")
	if !ok || len(d) != 7 {
		return 0, false
	}
	i, err := strconv.ParseInt(d, 10, 64)
	return i, err == nil
}

func chainOfCustomer(c string) (int64, bool) {
	d, ok := strings.CutPrefix(c, "C")
	if !ok || len(d) != 7 {
		return 0, false
	}
	k, err := strconv.ParseInt(d, 10, 64)
	return k, err == nil
}

// candidates are the list indices a request names. The phone and the
// customer must both match when both are given; AllChain widens the
// match to the customer's whole chain.
func candidates(r ocs.Record, chain bool) []int64 {
	var out []int64
	i, okPhone := recordOfPhone(r.Phone)
	k, okCust := chainOfCustomer(r.CustomerID)
	switch {
	case r.Phone != "" && r.CustomerID != "":
		if !okPhone || !okCust || i/2 != k {
			return nil
		}
		out = []int64{i}
	case r.Phone != "":
		if !okPhone {
			return nil
		}
		out = []int64{i}
	case r.CustomerID != "":
		if !okCust {
			return nil
		}
		return []int64{2 * k, 2*k + 1}
	}
	if chain && len(out) == 1 {
		c := out[0] / 2
		out = []int64{2 * c, 2*c + 1}
	}
	return out
}

// applyRecord answers CM_ReqCancelRecord and CM_ReqDoNotCall.
func (s *Sim) applyRecord(m ocs.Message, now time.Time) (ocs.Message, []ocs.Message) {
	r, _, err := m.Record()
	if err != nil {
		return ocs.NewError(m, ocs.ErrInvalidParameter, err.Error()), nil
	}
	echo := ocs.Record{Phone: r.Phone, CustomerID: r.CustomerID, CampaignName: r.CampaignName, Chain: r.Chain}
	switch m.Type {
	case ocs.ReqCancelRecord:
		groups := s.loadedGroups("")
		if r.CampaignName != "" {
			groups = s.loadedGroups(r.CampaignName)
			if len(groups) == 0 {
				return ocs.NewError(m, ocs.ErrCampaignNotFound, "campaign "+strconv.Quote(r.CampaignName)+" is not loaded"), nil
			}
		}
		cands := candidates(r, r.Chain != ocs.ChainRecordOnly)
		incomplete := false
		for _, g := range groups {
			if s.cancel(g, cands, now, true) {
				incomplete = true
			}
		}
		if incomplete {
			echo.Message = IncompleteProcessing
		}
	case ocs.ReqDoNotCall:
		if r.Phone != "" {
			s.dncPhones[r.Phone] = struct{}{}
		}
		if r.CustomerID != "" {
			s.dncCustomers[r.CustomerID] = struct{}{}
		}
		// A DNC is about the number or the customer, not the chain of
		// the record it came from.
		var cands []int64
		if i, ok := recordOfPhone(r.Phone); ok {
			cands = append(cands, i)
		}
		if k, ok := chainOfCustomer(r.CustomerID); ok {
			cands = append(cands, 2*k, 2*k+1)
		}
		for _, g := range s.loadedGroups("") {
			s.cancel(g, cands, now, false)
		}
	}
	return ocs.NewRecordAnswer(m, echo), nil
}

// loadedGroups are the groups in memory, of one campaign when named.
func (s *Sim) loadedGroups(campaign string) []*group {
	var out []*group
	for _, cg := range s.cfg.CampaignGroups {
		g := s.groups[key{cg.CampaignDBID, cg.GroupDBID}]
		if g == nil || g.status == ocs.StatusNotLoaded {
			continue
		}
		if campaign != "" && s.campaignName(cg.CampaignDBID) != campaign {
			continue
		}
		out = append(out, g)
	}
	return out
}

func (s *Sim) campaignName(id int32) string {
	for _, c := range s.cfg.Campaigns {
		if c.DBID == id {
			return c.Name
		}
	}
	return ""
}

// rank is the dial number record i gets (or got): the records before it
// that were not cancelled.
func (g *group) rank(i int64) int64 {
	n := i
	for c := range g.cancelled {
		if c < i {
			n--
		}
	}
	return n
}

// cancel takes the records cands out of g's list unless they were dialed
// already. It reports whether one of them is still on an agent's desktop
// (dialed less than TalkTime ago), when desktop asks.
func (s *Sim) cancel(g *group, cands []int64, now time.Time, desktop bool) (onDesktop bool) {
	total := g.consumed + s.dialsRun(g, now)
	var take []int64
	for _, i := range cands {
		if i < 0 || i >= g.cg.Records {
			continue
		}
		if _, done := g.cancelled[i]; done {
			continue
		}
		if r := g.rank(i); r < total {
			if desktop && s.onDesktop(g, r, total) {
				onDesktop = true
			}
			continue
		}
		take = append(take, i)
	}
	if len(take) == 0 {
		return onDesktop
	}
	running := g.status == ocs.StatusRunning && !g.runSince.IsZero()
	if running {
		s.pause(g, now)
	}
	if g.cancelled == nil {
		g.cancelled = map[int64]struct{}{}
	}
	for _, i := range take {
		g.cancelled[i] = struct{}{}
	}
	if running {
		s.run(g, now)
		if g.owner != 0 {
			g.stopTimer() // the sequence decides when its item ends
		}
	}
	return onDesktop
}

// onDesktop: the last TalkTime's worth of dials of a running group are
// still with agents.
func (s *Sim) onDesktop(g *group, rank, total int64) bool {
	if g.status != ocs.StatusRunning || g.rate <= 0 {
		return false
	}
	return rank >= total-int64(math.Ceil(g.rate*time.Duration(s.cfg.TalkTime).Seconds()))
}

// applyDNC takes the records on the DNC tables out of a list being loaded.
func (s *Sim) applyDNC(g *group, now time.Time) {
	if len(s.dncPhones) == 0 && len(s.dncCustomers) == 0 {
		return
	}
	var cands []int64
	for i := int64(0); i < g.cg.Records; i++ {
		_, p := s.dncPhones[Phone(i)]
		_, c := s.dncCustomers[CustomerID(i)]
		if p || c {
			cands = append(cands, i)
		}
	}
	s.cancel(g, cands, now, false)
}

// Dialed lists the phones a campaign group's list has dialed, in order.
func (s *Sim) Dialed(campaign, group int32) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.groups[key{campaign, group}]
	if g == nil {
		return nil
	}
	total := g.consumed + s.dialsRun(g, time.Now())
	var out []string
	for i := int64(0); i < g.cg.Records && int64(len(out)) < total; i++ {
		if _, c := g.cancelled[i]; !c {
			out = append(out, Phone(i))
		}
	}
	return out
}

// OnDNC reports whether a phone or customer is on this OCS's DNC tables.
func (s *Sim) OnDNC(phone, customer string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, p := s.dncPhones[phone]
	_, c := s.dncCustomers[customer]
	return p || c
}
