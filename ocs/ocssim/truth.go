package ocssim

import (
	"fmt"
	"strings"
	"time"

	"github.com/sequencer-dev/sequencer/ocs"
)

// Cause says who changed a campaign group's state.
type Cause string

const (
	CauseRequest        Cause = "request"         // a CommDN (or HTTP) request
	CauseAutoCompletion Cause = "auto-completion" // OCS, because the list ran dry
	CauseDrain          Cause = "drain"           // the last calls of an unloading group ended
	CauseSequence       Cause = "sequence"        // an OCS-side campaign sequence
	CauseHand           Cause = "hand"            // an operator in OCM / Genesys Administrator
	CauseRestart        Cause = "restart"         // OCS restarted
)

// actor is who is changing state while the lock is held.
type actor struct {
	cause  Cause
	req    ocs.MessageType
	origin int32
}

// Change is one state change of a campaign group: ground truth for a
// harness that checks invariants, whatever the client was told.
type Change struct {
	At              time.Time
	Campaign, Group int32
	From, To        ocs.GroupCampStatus
	Cause           Cause
	Request         ocs.MessageType // CauseRequest: the request
	Origin          int32           // CauseRequest: its OriginAppDBID
}

func (c Change) String() string {
	by := string(c.Cause)
	if c.Cause == CauseRequest {
		by = fmt.Sprintf("%s from %d", c.Request, c.Origin)
	}
	return fmt.Sprintf("%d/%d %s -> %s by %s", c.Campaign, c.Group, c.From, c.To, by)
}

// Changes returns every state change of every campaign group so far, in
// order.
func (s *Sim) Changes() []Change {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Change(nil), s.changes...)
}

// GroupChanges returns one campaign group's state changes, in order.
func (s *Sim) GroupChanges(campaign, group int32) []Change {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Change
	for _, c := range s.changes {
		if c.Campaign == campaign && c.Group == group {
			out = append(out, c)
		}
	}
	return out
}

// ChangesText renders the state log for golden files, with times since
// the simulator started.
func (s *Sim) ChangesText() string {
	var b strings.Builder
	for _, c := range s.Changes() {
		fmt.Fprintf(&b, "+%s %s\n", c.At.Sub(s.start).Round(time.Millisecond), c)
	}
	return b.String()
}

// Dialing reports whether OCS is placing calls for a campaign group now:
// it is running and its list is not exhausted.
func (s *Sim) Dialing(campaign, group int32) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.groups[key{campaign, group}]
	if g == nil || g.status != ocs.StatusRunning || g.rate <= 0 {
		return false
	}
	return g.left()-s.dialsRun(g, time.Now()) > 0
}
