package reconcile

import (
	"time"

	"github.com/sequencer-dev/sequencer/ocs"
)

// Phase is the coarse state of a sequence shown to operators (docs/architecture.md).
type Phase string

const (
	PhaseWaiting   Phase = "Waiting"   // no run; next start ahead
	PhaseStarting  Phase = "Starting"  // a run began; loading its first item
	PhaseRunning   Phase = "Running"   // an item is loaded or dialing
	PhaseSleeping  Phase = "Sleeping"  // sleepBeforeNextStart of the next item
	PhasePaused    Phase = "Paused"    // outside the calling window
	PhaseSuspended Phase = "Suspended" // spec or API suspend
	PhaseCompleted Phase = "Completed" // ran once and has no further start
	PhaseFailed    Phase = "Failed"    // cannot proceed without an operator
	PhaseDeleting  Phase = "Deleting"  // removed from specs, stopping what it loaded
)

// Condition types.
const (
	CondReady       = "Ready"
	CondReconciling = "Reconciling"
	CondStalled     = "Stalled"
	CondSpecInvalid = "SpecInvalid"
	CondConflict    = "Conflict"
	// CountersUnavailable: an item has stopAt.contacts/dials on a link
	// without dial counters.
	CondCountersUnavailable = "CountersUnavailable"
)

// Condition is one observation about a sequence, Kubernetes style.
type Condition struct {
	Type    string    `json:"type"`
	Status  bool      `json:"status"`
	Reason  string    `json:"reason,omitempty"`
	Message string    `json:"message,omitempty"`
	Since   time.Time `json:"since"`
}

// SequenceStatus is the externally visible state of one sequence.
type SequenceStatus struct {
	Name               string    `json:"name"`
	File               string    `json:"file,omitempty"`
	Engine             string    `json:"engine"`
	Phase              Phase     `json:"phase"`
	Run                string    `json:"run,omitempty"`
	Item               string    `json:"item,omitempty"`
	ItemIndex          int       `json:"itemIndex"`
	ItemState          string    `json:"itemState,omitempty"`
	NextAction         string    `json:"nextAction,omitempty"`
	NextActionAt       time.Time `json:"nextActionAt,omitzero"`
	ObservedGeneration int64     `json:"observedGeneration"`
	SpecHash           string    `json:"specHash,omitempty"`
	Suspended          bool      `json:"suspended"`
	SuspendedBy        string    `json:"suspendedBy,omitempty"`
	// SuspendReason and SuspendedUntil come with an API suspend (until
	// zero: until resumed).
	SuspendReason  string            `json:"suspendReason,omitempty"`
	SuspendedUntil time.Time         `json:"suspendedUntil,omitzero"`
	Labels         map[string]string `json:"labels,omitempty"`
	TimeZone       string            `json:"timeZone,omitempty"`
	// The current item's campaign group and its counts so far (with
	// counters; carried across OCS restarts).
	CampaignDBID int32 `json:"campaignDBID,omitempty"`
	GroupDBID    int32 `json:"groupDBID,omitempty"`
	Dials        int64 `json:"dials,omitempty"`
	Contacts     int64 `json:"contacts,omitempty"`
	// OCS's own statistics of that group, where its link reports them.
	OCSStatistics
	Conditions []Condition `json:"conditions"`
}

// OCSStatistics are the campaign-group statistics OCS documents for its
// HTTP state POSTs (8.1.517.04+): fractions (0.85 is 85 %) and seconds.
// Each is left out while unknown: links other than HTTP never carry them.
type OCSStatistics struct {
	BusyFactor     *float64 `json:"busyFactor,omitempty"`
	HitRatio       *float64 `json:"hitRatio,omitempty"`
	OverdialRate   *float64 `json:"overdialRate,omitempty"`
	TimeToComplete *float64 `json:"timeToComplete,omitempty"` // seconds
}

func statisticsOf(r ocs.Rates) OCSStatistics {
	v := func(bit ocs.RateAttr, f float64) *float64 {
		if r.Has&bit == 0 {
			return nil
		}
		return &f
	}
	return OCSStatistics{BusyFactor: v(ocs.RateBusyFactor, r.BusyFactor), HitRatio: v(ocs.RateHitRatio, r.HitRatio),
		OverdialRate: v(ocs.RateOverdialRate, r.OverdialRate), TimeToComplete: v(ocs.RateTimeToComplete, r.TimeToComplete)}
}

// keptRates is what a group's statistics are after an observation: those it
// carries if any (OCS sends them all in one state POST), else the last ones
// while the group stays loaded (answers to polls may lack them), and none
// once it is unloaded.
func keptRates(last, got ocs.Rates, st ocs.GroupCampStatus) ocs.Rates {
	switch {
	case st == ocs.StatusNotLoaded:
		return ocs.Rates{}
	case got.Has != 0:
		return got
	}
	return last
}

// GroupObservation is the last status OCS reported for a campaign group.
type GroupObservation struct {
	CampaignDBID int32     `json:"campaignDBID"`
	GroupDBID    int32     `json:"groupDBID"`
	Status       string    `json:"status"`
	DialMode     string    `json:"dialMode,omitempty"`
	Dials        int64     `json:"dials"`
	Contacts     int64     `json:"contacts"`
	RecordsLeft  int64     `json:"recordsLeft"`
	Sequence     string    `json:"sequence,omitempty"`
	At           time.Time `json:"at"`
	OCSStatistics
}
