package schedule

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/sequencer-dev/sequencer/specs"
)

// Action names what changed; the strings are those of `sequencer plan`.
type Action string

const (
	ActSequenceStart Action = "sequence-start"
	ActItemStart     Action = "item-start"
	ActItemStop      Action = "item-stop"
	ActWindowPause   Action = "window-pause"
	ActWindowResume  Action = "window-resume"
	ActSequenceEnd   Action = "sequence-end"
	ActSkip          Action = "skip"
)

// Event is one entry of a projected timeline.
type Event struct {
	At       time.Time `json:"at"` // UTC
	Sequence string    `json:"sequence"`
	Action   Action    `json:"action"`
	Item     string    `json:"item,omitempty"`
	Reason   string    `json:"reason,omitempty"`
	Bound    string    `json:"bound,omitempty"`
	// Estimate: the instant depends on an assumed dial or contact rate
	// (a count-bound item ended it, or one earlier in the run did).
	Estimate bool `json:"estimate,omitempty"`

	// Location is the sequence's zone, for printing At in local time.
	Location *time.Location `json:"-"`
}

// UnknownEnd is the reason attached to the start of an item that nothing
// but its list running dry can end: no time stop, no count.
const UnknownEnd = "ends when its list runs dry, which the plan cannot foresee (see --records); what follows assumes it has not"

// ClosedReason says why seq's calling window is closed at t.
func ClosedReason(seq *specs.Sequence, t time.Time) string {
	w := seq.Window
	if w == nil {
		return "calling window closed"
	}
	loc := seq.Location
	if loc == nil {
		loc = time.UTC
	}
	lt := t.In(loc)
	for _, e := range w.ExceptDates {
		if y, m, dd := lt.Date(); e.Year == y && e.Month == m && e.Day == dd {
			return "calling window closed: except date " + e.String()
		}
	}
	return "calling window closed (" + windowText(w) + ")"
}

// OpenReason says that seq's calling window opened.
func OpenReason(seq *specs.Sequence) string {
	if seq.Window == nil {
		return "calling window open"
	}
	return "calling window open (" + windowText(seq.Window) + ")"
}

// Text renders a timeline one line per event, in each sequence's local
// time with its zone abbreviation (with seconds when an event is not on a
// whole minute), columns aligned; an estimate says so first in its detail:
//
//	Mon 2026-11-23 18:00 EST  nightly-collections  item-start  fresh-leads  (until 500 contacts or 20:30)
//
// It is what `sequencer plan` prints; it is here, pure, so that the API can
// serve the same text.
func Text(evs []Event) string {
	rows := make([][5]string, len(evs))
	var width [4]int
	for i, e := range evs {
		loc := e.Location
		if loc == nil {
			loc = time.UTC
		}
		detail := ""
		if e.Estimate {
			detail = "[estimate]"
		}
		if e.Bound != "" {
			if detail != "" {
				detail += "  "
			}
			detail += "(" + e.Bound + ")"
		}
		if e.Reason != "" {
			if detail != "" {
				detail += "  "
			}
			detail += e.Reason
		}
		layout := "Mon 2006-01-02 15:04 MST"
		if e.At.Second() != 0 || e.At.Nanosecond() != 0 {
			layout = "Mon 2006-01-02 15:04:05 MST"
		}
		rows[i] = [5]string{e.At.In(loc).Format(layout), e.Sequence, string(e.Action), e.Item, detail}
		for c := 0; c < 4; c++ {
			if n := len([]rune(rows[i][c])); n > width[c] {
				width[c] = n
			}
		}
	}
	var b strings.Builder
	for _, r := range rows {
		last := 4
		for last > 0 && r[last] == "" {
			last--
		}
		for c := 0; c <= last; c++ {
			b.WriteString(r[c])
			if c < last {
				b.WriteString(strings.Repeat(" ", width[c]-len([]rune(r[c]))+2))
			}
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// JSON renders a timeline as {"events":[...]}: at (RFC 3339, UTC), sequence,
// action, and item, reason and bound where they apply.
func JSON(evs []Event) ([]byte, error) {
	if evs == nil {
		evs = []Event{}
	}
	out := make([]Event, len(evs))
	for i, e := range evs {
		e.At = e.At.UTC()
		out[i] = e
	}
	return json.MarshalIndent(struct {
		Events []Event `json:"events"`
	}{out}, "", "  ")
}
