package ocs

import (
	"context"
	"fmt"
	"time"
)

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

// AsyncSender is a Link that writes requests in order, at once, and hands
// each answer to a callback: no goroutine waits per request, which at
// thousands of requests in flight is most of the cost of waiting.
type AsyncSender interface {
	// SendAsync calls done exactly once per request: at once for one
	// that could not leave, or with its answer, its timeout (at most
	// timeout, 0: the link's own) or the loss of the connection, as
	// Request would return them. done must not block.
	SendAsync(reqs []Message, timeout time.Duration, done func(i int, ans Message, err error))
}

// Capabilities of a link.
type Capabilities struct {
	// Counters: status events carry PropStatistics (dials, contacts,
	// records left), so stopAt.contacts/dials can be enforced.
	Counters bool
}

// Collector is a Link that can gather every OCS's answer to one request:
// with TargetAppDBID 0 every OCS watching the CommDN processes a record
// request and answers (CM_ReqCancelRecord, CM_ReqDoNotCall).
type Collector interface {
	Collect(ctx context.Context, req Message, o CollectOptions) ([]Message, error)
}

// CollectOptions bound a collection.
type CollectOptions struct {
	// Window is how long to wait for answers [the link's request timeout].
	Window time.Duration
	// Expect lists the OCS applications known to answer: the collection
	// ends early once all of them have. With a non-zero target the first
	// answer ends it.
	Expect []int32
}

// NoAnswerError says that no OCS answered a request in time. The usual
// cause is OCS's connection rule: a request from an application that is not
// on OCS's Connections tab is silently disregarded.
type NoAnswerError struct {
	Request       MessageType
	OriginAppDBID int32
	TargetAppDBID int32 // 0: every OCS on the CommDN
	After         time.Duration
}

func (e *NoAnswerError) Error() string {
	if e.TargetAppDBID == 0 {
		return fmt.Sprintf("%s: no answer from any OCS on the Communication DN within %s: is application %d on their Connections tabs?",
			e.Request, e.After, e.OriginAppDBID)
	}
	return fmt.Sprintf("%s: no answer from OCS %d within %s: is application %d on its Connections tab?",
		e.Request, e.TargetAppDBID, e.After, e.OriginAppDBID)
}

// Unwrap makes it an ErrTimeout: transient.
func (e *NoAnswerError) Unwrap() error { return ErrTimeout }
