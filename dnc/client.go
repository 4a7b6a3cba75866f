// Package dnc stops OCS from dialing people: it adds phone numbers and
// customers to OCS's Do-Not-Call tables and cancels records over the
// Communication DN, as one-off requests (the CLI and the API) and as the
// declarative DoNotCallList specs, whose entries are each submitted once.
//
// With TargetAppDBID 0 every OCS watching the DN processes a request and
// answers, so each call reports every server's outcome.
package dnc

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sequencer-dev/sequencer/ocs"
)

// Outcome is one OCS's answer to a record request.
type Outcome struct {
	OCS      int32         `json:"ocs"`
	OK       bool          `json:"ok"`
	Code     ocs.ErrorCode `json:"code,omitempty"`
	Message  string        `json:"message,omitempty"`  // GSW_MESSAGE, or the error text
	NoAnswer bool          `json:"noAnswer,omitempty"` // an OCS that answered before stayed silent
}

func (o Outcome) String() string {
	switch {
	case o.NoAnswer:
		return fmt.Sprintf("OCS %d: %s", o.OCS, o.Message)
	case o.OK && o.Message != "":
		return fmt.Sprintf("OCS %d: done, %s", o.OCS, o.Message)
	case o.OK:
		return fmt.Sprintf("OCS %d: done", o.OCS)
	}
	return fmt.Sprintf("OCS %d: error %d %s: %s", o.OCS, o.Code, o.Code, o.Message)
}

// Failed reports whether any outcome is an error, or there is none.
func Failed(os []Outcome) bool {
	return len(os) == 0 || slices.ContainsFunc(os, func(o Outcome) bool { return !o.OK })
}

// Client sends record requests over a link that can collect answers.
type Client struct {
	link   ocs.Collector
	origin int32
	window time.Duration

	mu sync.Mutex
	// known are the OCS applications that answered a target-0 request:
	// a later request waits for all of them, and one that stays silent is
	// reported rather than forgotten.
	known map[int32]bool
}

// NewClient returns a client that sends as application origin and waits up
// to window for the answers of a request to every OCS.
func NewClient(link ocs.Collector, origin int32, window time.Duration) *Client {
	if window <= 0 {
		window = 5 * time.Second
	}
	return &Client{link: link, origin: origin, window: window, known: map[int32]bool{}}
}

// DoNotCall adds r.Phone and/or r.CustomerID to the DNC tables of OCS
// target (0: every OCS on the DN).
func (c *Client) DoNotCall(ctx context.Context, target int32, r ocs.Record) ([]Outcome, error) {
	if r.Phone == "" && r.CustomerID == "" {
		return nil, fmt.Errorf("do not call: %w: a phone or a customer id is required", ocs.ErrInvalidRequest)
	}
	return c.send(ctx, ocs.NewDoNotCall(c.origin, target, r))
}

// CancelRecord cancels the records of r.Phone (and r.CustomerID,
// r.CampaignName, r.Chain) in OCS target (0: every OCS on the DN).
func (c *Client) CancelRecord(ctx context.Context, target int32, r ocs.Record) ([]Outcome, error) {
	if r.Phone == "" {
		return nil, fmt.Errorf("cancel record: %w: a phone is required", ocs.ErrInvalidRequest)
	}
	return c.send(ctx, ocs.NewCancelRecord(c.origin, target, r))
}

func (c *Client) send(ctx context.Context, req ocs.Message) ([]Outcome, error) {
	var expect []int32
	if req.TargetAppDBID == 0 {
		c.mu.Lock()
		for app := range c.known {
			expect = append(expect, app)
		}
		c.mu.Unlock()
	}
	ans, err := c.link.Collect(ctx, req, ocs.CollectOptions{Window: c.window, Expect: expect})
	if err != nil && len(ans) == 0 {
		return nil, err
	}
	out := make([]Outcome, 0, len(ans))
	answered := map[int32]bool{}
	for _, m := range ans {
		answered[m.OriginAppDBID] = true
		o := Outcome{OCS: m.OriginAppDBID, OK: m.Type != ocs.EvError}
		if m.Type == ocs.EvError {
			o.Code, o.Message = m.Error, m.ErrorMessage
		} else if r, _, _ := m.Record(); r.Message != "" {
			o.Message = r.Message
		}
		out = append(out, o)
	}
	for _, app := range expect {
		if !answered[app] {
			hint := (&ocs.NoAnswerError{Request: req.Type, OriginAppDBID: req.OriginAppDBID, TargetAppDBID: app, After: c.window}).Error()
			out = append(out, Outcome{OCS: app, NoAnswer: true, Message: strings.TrimPrefix(hint, req.Type.String()+": ")})
		}
	}
	slices.SortFunc(out, func(a, b Outcome) int { return int(a.OCS) - int(b.OCS) })
	if req.TargetAppDBID == 0 {
		c.mu.Lock()
		for app := range answered {
			c.known[app] = true
		}
		c.mu.Unlock()
	}
	return out, err
}

// OnlySilence reports whether every failure is an OCS that did not
// answer: worth retrying, unlike a refusal.
func OnlySilence(os []Outcome) bool {
	silent := false
	for _, o := range os {
		switch {
		case o.NoAnswer:
			silent = true
		case !o.OK:
			return false
		}
	}
	return silent
}

// permanent reports whether err will not go away by retrying.
func permanent(err error) bool {
	return err != nil && !ocs.IsTransient(err) && !errors.Is(err, context.Canceled)
}
