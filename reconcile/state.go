package reconcile

import (
	"strings"
	"time"

	"github.com/sequencer-dev/sequencer/specs"
	"github.com/sequencer-dev/sequencer/store"
)

// Item states stored in store.Run.ItemState. A state ending in -ing names
// a request that is under way or must be (re)sent; the others are at rest.
// Re-sending the request of an -ing state after a crash is safe: it is the
// same intent, and OCS answers a repeat with AlreadyLoaded/AlreadyStarted/
// NotLoaded, which count as success.
const (
	stSleeping  = "sleeping"  // waiting for sleepBeforeNextStart, the window, or the group
	stLoading   = "loading"   // Load sent or to send
	stLoaded    = "loaded"    // loaded, not dialing
	stStarting  = "starting"  // StartDialing sent or to send
	stDialing   = "dialing"   // running; watching stop conditions
	stStopping  = "stopping"  // StopDialing sent or to send (goal in Run.StopGoal)
	stPaused    = "paused"    // loaded, stopped by window or suspend
	stUnloading = "unloading" // Unload sent or to send
	stDraining  = "draining"  // unload accepted, OCS still WaitingUnload
)

// Stop goals: why a StopDialing was sent.
const (
	goalEnd     = "end"     // the item is over: unload next
	goalPause   = "pause"   // window closed or suspended: stay loaded
	goalRestart = "restart" // a dial-mode change OCS cannot make live
)

// pausedByWindow says whether Run.PauseReason is the calling window's
// (schedule.ClosedReason) rather than a suspend's or a halt's.
func pausedByWindow(reason string) bool { return strings.HasPrefix(reason, "calling window") }

// Actions, as written in intents and history.
const (
	actLoad        = "load"
	actStart       = "start"
	actSetMode     = "set-mode"
	actStop        = "stop"
	actUnload      = "unload"
	actForceUnload = "force-unload"
	actStatus      = "status"
)

// loadedState reports whether OCS may hold the run's campaign group loaded.
func loadedState(st string) bool {
	switch st {
	case stLoading, stLoaded, stStarting, stDialing, stStopping, stPaused, stUnloading, stDraining:
		return true
	}
	return false
}

func runGroup(r *store.Run) groupKey { return groupKey{r.CampaignDBID, r.GroupDBID} }

// seqState is the loop's view of one sequence.
type seqState struct {
	name      string
	spec      *specs.Sequence // last good spec; kept after deletion for onDelete
	file      string
	deleted   bool // gone from the specs: wind down per onDelete
	gone      bool // wound down: forget it
	prog      store.Progress
	hasProg   bool
	firstSeen time.Time

	inflight     string // action of the request under way
	observeFirst bool   // read OCS status before acting (after a restart or link loss)
	openIntents  []store.Intent
	lastPoll     time.Time
	pollRTT      time.Duration // status round trip, smoothed: how far count stops look ahead
	// loadUnknown: a Load of this item left and its outcome is unknown
	// (timeout, link lost, or a crash with its intent open). Only then may
	// a group found loaded be this daemon's own.
	loadUnknown bool
	reloadEpoch int // r.linkUps when the item was last reloaded
	// ocsBounced: the link went down and up since the OCS-side sequence
	// was last seen, so an OCS that no longer knows it most likely
	// restarted rather than finished it.
	ocsBounced bool

	due     time.Time
	heapIdx int
	// lateStart: the scheduled instant of a run whose first request has
	// not left yet; lateStop: the stop instant of a time stop about to be
	// sent (the lateness metrics).
	lateStart, lateStop time.Time
	// In the turn's work lists: progress to commit, status to publish.
	saveQueued, pubQueued bool
	// requesting: a request of its own is in the commit being made
	// (takeJob).
	requesting bool

	failures int
	retryAt  time.Time

	conds      map[string]*Condition
	phase      Phase
	nextAction string
	nextAt     time.Time
}
