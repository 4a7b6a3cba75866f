package reconcile

import (
	"context"
	"time"

	"github.com/sequencer-dev/sequencer/schedule"
	"github.com/sequencer-dev/sequencer/specs"
	"github.com/sequencer-dev/sequencer/store"
)

// ETA is the projection of a sequence's run in progress to its end, from
// what the daemon knows now: the current item and its start, its counters
// and the dial and contact rates observed so far.
type ETA struct {
	Sequence string    `json:"sequence"`
	TimeZone string    `json:"timeZone"`
	At       time.Time `json:"at"` // when the projection was made
	Run      string    `json:"run,omitempty"`
	Item     string    `json:"item,omitempty"` // the current item
	// End is when the run ends; zero when it does not within the horizon
	// (or no run is in progress). EndEstimate: it depends on a rate.
	End         time.Time `json:"end,omitzero"`
	EndEstimate bool      `json:"endEstimate,omitempty"`
	// The current item's rates: Measured when the daemon observed them,
	// else the assumptions' (simulator's).
	DialsPerMinute float64 `json:"dialsPerMinute"`
	ContactShare   float64 `json:"contactShare"`
	Measured       bool    `json:"measured"`
	// Events are what remains of the run, in order; an event marked
	// estimate depends on the rates above, the others on time rules only.
	Events []schedule.Event `json:"events"`
}

// etaHorizon bounds how far a run is projected.
const etaHorizon = 8 * 24 * time.Hour

// ETA projects name's run in progress to its end.
func (r *Reconciler) ETA(ctx context.Context, name string, a Assumptions) (ETA, error) {
	var (
		spec *specs.Sequence
		prog store.Progress
		seed groupSeed
		key  groupKey
		now  time.Time
	)
	err := r.do(ctx, name, func(s *seqState, n time.Time) error {
		spec, now = s.spec, n
		prog = s.prog // a suspend --for ends in the projection as it will in the run
		if run := s.prog.Run; run != nil {
			c := *run
			c.Items = append([]store.ItemResult(nil), run.Items...)
			prog.Run = &c
			key = runGroup(run)
			if o := r.obs[key]; o != nil && o.has {
				seed.stats = o.stats
				seed.dialRate = o.dialRate
				if o.dialRate > 0 {
					seed.contactRate = o.contactRate / o.dialRate
				}
			}
		}
		prog.Engine = cloneMap(s.prog.Engine)
		return nil
	})
	if err != nil {
		return ETA{}, err
	}
	e := ETA{Sequence: name, TimeZone: spec.TimeZone, At: now}
	if prog.Run == nil {
		return e, nil
	}
	e.Run, e.Item = prog.Run.ID, prog.Run.ItemName
	cur := itemNamed(spec, prog.Run.ItemName)
	ideal := newIdealOCS(a)
	if cur != nil {
		e.DialsPerMinute = ideal.rateOf(key, cur.DialMode) * 60
	}
	e.ContactShare = ideal.contactRate(key)
	if seed.dialRate > 0 {
		e.DialsPerMinute, e.ContactShare, e.Measured = seed.dialRate*60, seed.contactRate, true
	}
	var seeds map[groupKey]groupSeed
	if key.group != 0 {
		seeds = map[groupKey]groupSeed{key: seed}
	}
	// Rules only, no estimates, until the current item's count or list
	// decides; PlanEvents starts a run clean, so say where this one is.
	for _, ev := range project([]*specs.Sequence{spec}, []store.Progress{prog}, now, etaHorizon, a, seeds) {
		if cur != nil && (countStops(cur) || cur.AutoCompletion) {
			ev.Estimate = true
		}
		e.Events = append(e.Events, ev)
		if ev.Action == schedule.ActSequenceEnd {
			e.End, e.EndEstimate = ev.At, ev.Estimate
			break
		}
		if ev.Action == schedule.ActSequenceStart {
			e.Events = e.Events[:len(e.Events)-1]
			break // the next run: not this one's
		}
	}
	return e, nil
}

func cloneMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	c := make(map[string]string, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}
