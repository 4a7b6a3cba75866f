package ocs

import "context"

// Link is the one way the reconciler talks to an OCS. Implementations assign
// GSW_CM_AttrReferenceID, correlate answers, time out and reconnect.
type Link interface {
	// Request validates req, sends it, and waits for its answer. An
	// EvError answer is returned as *OCSError. Failures are wrapped
	// ErrTimeout/ErrDisconnected (transient) or ErrInvalidRequest/ErrClosed.
	Request(ctx context.Context, req Message) (Message, error)
	// Events delivers unsolicited events (CM_EvCampaignStatus, the
	// stop/unload notices of auto-completion) and answers that matched no
	// pending request. It is closed when the link is closed.
	Events() <-chan Message
	// Capabilities says what this link can observe.
	Capabilities() Capabilities
	Close() error
}

// Capabilities of a link.
type Capabilities struct {
	// Counters: status events carry PropStatistics (dials, contacts,
	// records left), so stopAt.contacts/dials can be enforced.
	Counters bool
}
