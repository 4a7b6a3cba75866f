package schedule

import (
	"sort"
	"time"

	"github.com/sequencer-dev/sequencer/specs"
)

// Event is one entry of a projected timeline.
type Event struct {
	At       time.Time `json:"at"` // UTC
	Sequence string    `json:"sequence"`
	Action   Action    `json:"action"`
	Item     string    `json:"item,omitempty"`
	Reason   string    `json:"reason,omitempty"`
	Bound    string    `json:"bound,omitempty"`

	// Location is the sequence's zone, for printing At in local time.
	Location *time.Location `json:"-"`
}

// maxStepsPerSequence bounds the walk of one sequence (a start every
// minute for a week with three changes each is well under it).
const maxStepsPerSequence = 200000

// UnknownEnd is the reason attached to the start of an item that only a
// count or depletion can end: its end, and so the rest of its run, cannot
// be projected from the specs.
const UnknownEnd = "ends on a count or on depletion, so its end is unknown; later items of this run are not projected"

// Project walks every sequence forward from from for d, from the specs
// alone (as if each was loaded at from with no progress), and returns the
// timeline sorted by time, then sequence (each sequence's own events keep
// their causal order). It is Evaluate applied at each Next, so the plan and
// the daemon agree.
//
// Start.at instants before from are taken as already handled. An item
// without a time stop starts with its bound ("until 500 contacts") and the
// UnknownEnd note; the projection of that run stops there, and later starts
// of the sequence are projected as if it had ended.
func Project(seqs []*specs.Sequence, from time.Time, d time.Duration) []Event {
	until := from.Add(d)
	var out []Event
	for _, seq := range seqs {
		if seq == nil {
			continue
		}
		out = append(out, projectOne(seq, from, until)...)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].At.Equal(out[j].At) {
			return out[i].At.Before(out[j].At)
		}
		return out[i].Sequence < out[j].Sequence
	})
	return out
}

func projectOne(seq *specs.Sequence, from, until time.Time) []Event {
	var out []Event
	p := Progress{Since: from}
	if at := seq.Start.At; !at.IsZero() && at.Before(from) {
		p.LastHandled = at
	}
	now := from
	for step := 0; step < maxStepsPerSequence; step++ {
		dec := Evaluate(seq, p, now)
		abandon := false
		for _, c := range dec.Changes {
			if abandon && c.Action != ActSkip {
				continue
			}
			e := Event{At: now.UTC(), Sequence: seq.Name, Action: c.Action, Item: c.ItemName, Reason: c.Reason, Bound: c.Bound, Location: seq.Location}
			if c.Action == ActSkip {
				e.At = c.Scheduled.UTC()
				if e.At.Before(from) {
					continue // not part of the projected period
				}
			}
			if c.Action == ActItemStart {
				if _, ok := ItemStopTime(seq, &seq.Items[c.Item], now); !ok {
					e.Reason = UnknownEnd
					abandon = true
				}
			}
			out = append(out, e)
		}
		p = dec.Progress
		if abandon {
			// Forget the run: the next evaluation at the same instant only
			// looks for the next start.
			p.Running, p.Item, p.ItemStarted, p.Paused = false, 0, time.Time{}, false
			continue
		}
		if dec.Next.IsZero() || dec.Next.After(until) {
			break
		}
		now = dec.Next
	}
	return out
}
