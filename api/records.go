package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/sequencer-dev/sequencer/dnc"
	"github.com/sequencer-dev/sequencer/ocs"
	"github.com/sequencer-dev/sequencer/specs"
)

// Records is what the API needs to send record requests.
type Records interface {
	DoNotCall(ctx context.Context, target int32, r ocs.Record) ([]dnc.Outcome, error)
	CancelRecord(ctx context.Context, target int32, r ocs.Record) ([]dnc.Outcome, error)
}

// DNCLists is what the API needs of the declarative DNC lists.
type DNCLists interface {
	Status() []dnc.ListStatus
}

// RecordRequest is the body of POST /api/v1/dnc and /api/v1/cancel-record.
type RecordRequest struct {
	Phone         string `json:"phone,omitempty"`
	CustomerID    string `json:"customerID,omitempty"`
	Campaign      string `json:"campaign,omitempty"` // cancel-record only
	Chain         string `json:"chain,omitempty"`    // cancel-record only: AllChain (default) or RecordOnly
	TargetAppDBID int32  `json:"targetAppDBID"`      // 0: every OCS on the Communication DN
}

// RecordResult is their answer: one outcome per OCS that answered. Failed
// is true when any OCS refused or none answered.
type RecordResult struct {
	Outcomes []dnc.Outcome `json:"outcomes"`
	Failed   bool          `json:"failed"`
	Error    string        `json:"error,omitempty"`
}

func (s *Server) readRecord(w http.ResponseWriter, r *http.Request, cancel bool) (RecordRequest, bool) {
	var req RecordRequest
	if !decodeBody(w, r, &req, true) {
		return req, false
	}
	bad := func(msg string) (RecordRequest, bool) {
		writeError(w, http.StatusBadRequest, "bad_request", msg)
		return req, false
	}
	switch {
	case req.Phone != "" && !specs.ValidPhone(req.Phone):
		return bad(fmt.Sprintf("phone: %q is not a phone number: digits only, optionally with a leading +, 7 to 15 digits", req.Phone))
	case cancel && req.Phone == "":
		return bad("phone: required to cancel records")
	case !cancel && req.Phone == "" && req.CustomerID == "":
		return bad("phone or customerID: at least one is required")
	case !cancel && (req.Campaign != "" || req.Chain != ""):
		return bad("campaign and chain apply to cancel-record only")
	case req.Chain != "" && req.Chain != string(ocs.ChainAll) && req.Chain != string(ocs.ChainRecordOnly):
		return bad(fmt.Sprintf("chain: %q is not AllChain or RecordOnly", req.Chain))
	case req.TargetAppDBID < 0:
		return bad("targetAppDBID: must be 0 (every OCS) or an application DBID")
	}
	return req, true
}

func (s *Server) recordRequest(cancel bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.cfg.Records == nil {
			writeError(w, http.StatusNotImplemented, "not_supported", "this daemon's OCS link cannot carry record requests (they need the Communication DN: sim or bridge://)")
			return
		}
		req, ok := s.readRecord(w, r, cancel)
		if !ok {
			return
		}
		rec := ocs.Record{Phone: req.Phone, CustomerID: req.CustomerID, CampaignName: req.Campaign, Chain: ocs.ChainAttr(req.Chain)}
		var out []dnc.Outcome
		var err error
		if cancel {
			out, err = s.cfg.Records.CancelRecord(r.Context(), req.TargetAppDBID, rec)
		} else {
			out, err = s.cfg.Records.DoNotCall(r.Context(), req.TargetAppDBID, rec)
		}
		res := RecordResult{Outcomes: out, Failed: dnc.Failed(out)}
		if out == nil {
			res.Outcomes = []dnc.Outcome{}
		}
		if err != nil {
			res.Error, res.Failed = err.Error(), true
		}
		if errors.Is(err, ocs.ErrInvalidRequest) {
			writeError(w, http.StatusBadRequest, "bad_request", err.Error())
			return
		}
		// 200 whatever OCS said: the outcomes (or the missing answer) are
		// the result; Failed tells a script whether to worry.
		s.cfg.Logger.Info("record request", "cancel", cancel, "phone", req.Phone, "customer_id", req.CustomerID,
			"target", req.TargetAppDBID, "outcomes", len(out), "failed", res.Failed, "by", r.RemoteAddr)
		writeJSON(w, http.StatusOK, res)
	}
}

func (s *Server) dncLists(w http.ResponseWriter, r *http.Request) {
	var lists []dnc.ListStatus
	if s.cfg.DNCLists != nil {
		lists = s.cfg.DNCLists.Status()
	}
	if lists == nil {
		lists = []dnc.ListStatus{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"lists": lists})
}
