// Package reconcile is the daemon's loop: it compares the desired state of
// every sequence (its spec, the schedule and the stored progress) with what
// OCS reports, and sends OCS the next request that closes the gap.
//
// The loop is level-triggered. Spec snapshots, OCS events, request results,
// API calls and timers only mark a sequence dirty; a pass over a dirty
// sequence reads the clock once, decides from scratch, writes the intent to
// the store, and sends at most one mutating request for it. One goroutine
// owns all state; requests run in their own goroutines and report back as
// messages, so a slow OCS answer for one sequence never holds up another.
//
// Restart safety comes from two rules: progress and the intent are durable
// before a request leaves, and every action is keyed by sequence, run, item,
// segment and action, so a repeated request after a crash is the same
// request, which OCS answers idempotently (AlreadyLoaded, AlreadyStarted,
// NotLoaded on unload). Read-only status polls are not journaled.
package reconcile
