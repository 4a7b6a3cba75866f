package schedule

import (
	"fmt"
	"strings"
	"time"

	"github.com/sequencer-dev/sequencer/specs"
)

// ItemStopTime returns when an item that started at itemStarted must stop by
// time: stopAt.time as a local time of day is the next such local time
// strictly after itemStarted (resolved like cron slots: in a gap, the end of
// the gap; in a repeated hour, the first occurrence); "+duration" is that
// long after itemStarted; an RFC 3339 time is that instant. ok is false
// when the item has no time stop.
func ItemStopTime(seq *specs.Sequence, it *specs.Item, itemStarted time.Time) (time.Time, bool) {
	if it == nil {
		return time.Time{}, false
	}
	st := it.StopAt.Time
	switch st.Kind {
	case specs.StopAfter:
		return itemStarted.Add(st.After).UTC(), true
	case specs.StopAbsolute:
		return st.At.UTC(), true
	case specs.StopTimeOfDay:
		var loc *time.Location
		if seq != nil {
			loc = seq.Location
		}
		z := newZone(loc)
		u := unix(itemStarted)
		tod := int64(st.TimeOfDay.Minutes() * 60)
		d := z.localDay(u)
		for n := d - 1; n <= d+3; n++ {
			if x := z.resolve(n*secondsPerDay + tod); x > u {
				return utc(x), true
			}
		}
	}
	return time.Time{}, false
}

// Bound describes how an item that starts at started will end, for plans
// and status: "until 500 contacts or 20:30". Counts come first, then the
// time, in the sequence's local time (with the weekday when the stop is on a
// later local day, the date when more than a week later).
func Bound(seq *specs.Sequence, it *specs.Item, started time.Time) string {
	var parts []string
	if it.StopAt.Contacts > 0 {
		parts = append(parts, counted(it.StopAt.Contacts, "contact"))
	}
	if it.StopAt.Dials > 0 {
		parts = append(parts, counted(it.StopAt.Dials, "dial"))
	}
	if stop, ok := ItemStopTime(seq, it, started); ok {
		parts = append(parts, localShort(seq, started, stop))
	}
	if len(parts) == 0 {
		return "until the list is depleted"
	}
	return "until " + strings.Join(parts, " or ")
}

// counted writes "1 dial", "2 dials".
func counted(n int32, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// localShort formats t in the sequence's zone as briefly as is unambiguous
// next to ref: "20:30", "Tue 02:00", "2026-12-01 20:30".
func localShort(seq *specs.Sequence, ref, t time.Time) string {
	loc := time.UTC
	if seq != nil && seq.Location != nil {
		loc = seq.Location
	}
	lt, lr := t.In(loc), ref.In(loc)
	switch {
	case sameDay(lt, lr):
		return lt.Format("15:04")
	case lt.After(lr) && lt.Sub(lr) < 6*24*time.Hour:
		return lt.Format("Mon 15:04")
	}
	return lt.Format("2006-01-02 15:04")
}

func sameDay(a, b time.Time) bool {
	ay, am, ad := a.Date()
	by, bm, bd := b.Date()
	return ay == by && am == bm && ad == bd
}
