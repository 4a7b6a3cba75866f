//go:build race

package reconcile

// Under the race detector a seed costs several times more: fewer seeds
// keep `go test -race ./reconcile/` within its budget.
const dstDefaultSeeds = 40
