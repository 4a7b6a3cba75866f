// Package reconcile is the daemon's loop: it compares the desired state of
// every sequence (its spec, the schedule and the stored progress) with what
// OCS reports, and sends OCS the next request that closes the gap.
//
// The loop is level-triggered. Spec snapshots, OCS events, request results,
// API calls and timers only mark a sequence dirty; a pass over a dirty
// sequence reads the clock once, decides from scratch, and records at most
// one request for it in the outbox; once every dirty sequence has had its
// pass, the loop writes each request's progress and intent to the store
// and sends it (flush). One goroutine owns all state; requests run in their
// own goroutines and report back as messages, so a slow OCS answer for one
// sequence never holds up another.
//
// Deciding apart from sending is what makes plans exact: Project runs this
// same loop forward on a virtual clock against an idealised OCS that
// answers at once (Assumptions), and the history it writes is the plan.
// There is no second copy of the sequencing rules to drift.
//
// Restart safety comes from two rules: progress and the intent are durable
// before a request leaves, and every action is keyed by sequence, run, item,
// segment and action, so a repeated request after a crash is the same
// request, which OCS answers idempotently (AlreadyLoaded, AlreadyStarted,
// NotLoaded on unload). Read-only status polls are not journaled.
package reconcile
