package ocs

import "sync/atomic"

// Link state notices. They are not OCS messages and never go on the wire: a
// Link puts one on its Events channel, in receive order with everything
// else, when its connection to OCS comes up or goes down. OCS says nothing
// when it restarts or fails over, and afterwards every campaign group is
// NotLoaded; a reconnect is the only hint, so the loop re-reads every group
// it owns on LinkUp, and sends nothing between LinkDown and LinkUp.
const (
	LinkUp   MessageType = -1
	LinkDown MessageType = -2
)

// IsLinkNotice reports whether m is a LinkUp or LinkDown notice.
func (m Message) IsLinkNotice() bool { return m.Type == LinkUp || m.Type == LinkDown }

// Receipts stamps messages with Recv in the order a link received them.
// One Receipts per link: stamps from two links are not comparable.
type Receipts struct{ n atomic.Uint64 }

// Stamp returns m with the next receive stamp.
func (r *Receipts) Stamp(m Message) Message {
	m.Recv = r.n.Add(1)
	return m
}

// Mark is what a request's answer carries as After: one more than the last
// stamp given before the request left.
func (r *Receipts) Mark() uint64 { return r.n.Load() + 1 }

// Notice returns a stamped LinkUp or LinkDown notice.
func (r *Receipts) Notice(t MessageType) Message { return r.Stamp(Message{Type: t}) }
