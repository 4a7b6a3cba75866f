//go:build !race

package reconcile

const dstDefaultSeeds = 2000
