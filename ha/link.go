package ha

import (
	"context"
	"fmt"

	"github.com/sequencer-dev/sequencer/ocs"
)

// Link passes a term's requests to OCS only while the term certainly
// holds: a leader resumed after its lease expired sends nothing, not even
// a stop, which would stop the new leader's item.
type Link struct {
	ocs.Link
	term *Term
}

// GuardLink wraps l for the term t.
func GuardLink(l ocs.Link, t *Term) *Link { return &Link{Link: l, term: t} }

// Request sends req if the term still holds.
func (l *Link) Request(ctx context.Context, req ocs.Message) (ocs.Message, error) {
	if err := l.term.Check(); err != nil {
		return ocs.Message{}, fmt.Errorf("%s not sent: %w", req.Type, err)
	}
	return l.Link.Request(ctx, req)
}

// Collect gathers every OCS's answer if the term still holds and the link
// can.
func (l *Link) Collect(ctx context.Context, req ocs.Message, o ocs.CollectOptions) ([]ocs.Message, error) {
	c, ok := l.Link.(ocs.Collector)
	if !ok {
		return nil, fmt.Errorf("%s not sent: the OCS link cannot collect answers", req.Type)
	}
	if err := l.term.Check(); err != nil {
		return nil, fmt.Errorf("%s not sent: %w", req.Type, err)
	}
	return c.Collect(ctx, req, o)
}

// Up reports the wrapped link's connection, when it knows it.
func (l *Link) Up() bool {
	if u, ok := l.Link.(interface{ Up() bool }); ok {
		return u.Up()
	}
	return true
}
