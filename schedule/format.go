package schedule

import (
	"encoding/json"
	"strings"
	"time"
)

// Text renders a timeline one line per event, in each sequence's local
// time with its zone abbreviation, columns aligned:
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
		if e.Bound != "" {
			detail = "(" + e.Bound + ")"
		}
		if e.Reason != "" {
			if detail != "" {
				detail += "  "
			}
			detail += e.Reason
		}
		rows[i] = [5]string{e.At.In(loc).Format("Mon 2006-01-02 15:04 MST"), e.Sequence, string(e.Action), e.Item, detail}
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
