package schedule

import (
	"math"
	"time"
)

// Local wall-clock times are handled as "wall seconds": the seconds since
// 1970-01-01 00:00 of the local calendar, as if the zone were UTC. A local
// day n spans wall seconds [n*86400, (n+1)*86400). Turning a wall time into
// an instant is the one place where DST rules apply (resolve).

const (
	secondsPerDay = 86400
	// margin is more than any UTC offset ever used (LMT offsets reach
	// ±15:56), so the zone periods that can show a wall time w all lie
	// within [w-margin, w+margin].
	margin = 18 * 3600
	minI   = math.MinInt64
	maxI   = math.MaxInt64
)

// zone caches the last zone period looked up, so that walking days through
// a stretch without transitions costs no time-zone lookups.
type zone struct {
	loc             *time.Location
	off, start, end int64 // the cached period [start, end) with UTC offset off
	ok              bool
}

func newZone(loc *time.Location) *zone {
	if loc == nil {
		loc = time.UTC
	}
	return &zone{loc: loc}
}

// period returns the zone period that contains instant u (unix seconds):
// its offset and bounds, minI/maxI where the zone has no transition.
func (z *zone) period(u int64) (off, start, end int64) {
	if z.ok && u >= z.start && u < z.end {
		return z.off, z.start, z.end
	}
	t := time.Unix(u, 0).In(z.loc)
	_, o := t.Zone()
	s, e := t.ZoneBounds()
	off, start, end = int64(o), minI, maxI
	if !s.IsZero() {
		start = s.Unix()
	}
	if !e.IsZero() {
		end = e.Unix()
	}
	z.off, z.start, z.end, z.ok = off, start, end, true
	return off, start, end
}

// offset returns the UTC offset in effect at instant u.
func (z *zone) offset(u int64) int64 {
	off, _, _ := z.period(u)
	return off
}

// resolve turns local wall time w into an instant: the first instant at
// which the local clock shows w or has already passed it. That gives the two
// DST rules of docs/spec-reference.md at once: a wall time in the repeated fall-back hour
// resolves to its first occurrence, and a wall time in a spring-forward gap
// resolves to the first instant after the gap (02:30 → the 03:00 transition).
// The result is monotonic in w.
func (z *zone) resolve(w int64) int64 {
	u := w - margin
	for i := 0; i < 64; i++ {
		off, start, end := z.period(u)
		// Within a period the clock runs from start+off to end+off.
		if end == maxI || w-off < end {
			if v := w - off; v >= start {
				return v
			}
			return start // w fell in the gap before this period
		}
		u = end
	}
	return w - z.offset(w) // only for a zone with absurdly many transitions
}

// plainDay reports whether local day n has one offset throughout (with the
// margin on both sides), so that every wall time w of the day resolves to
// w-off with no DST question. It is the fast path of day walks.
func (z *zone) plainDay(n int64) (off int64, ok bool) {
	ds := n * secondsPerDay
	off, start, end := z.period(ds - margin)
	_ = start
	return off, end == maxI || end > ds+secondsPerDay+margin
}

// localDay returns the local day number of instant u.
func (z *zone) localDay(u int64) int64 {
	return floorDiv(u+z.offset(u), secondsPerDay)
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// civil returns the calendar date of day number n (days since 1970-01-01),
// after Howard Hinnant's days_from_civil inverse.
func civil(n int64) (y int, m time.Month, d int) {
	z := n + 719468
	era := floorDiv(z, 146097)
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = int(doy - (153*mp+2)/5 + 1)
	mm := mp + 3
	if mm > 12 {
		mm -= 12
	}
	yy := yoe + era*400
	if mm <= 2 {
		yy++
	}
	return int(yy), time.Month(mm), d
}

// weekday of day number n (1970-01-01 was a Thursday).
func weekday(n int64) time.Weekday {
	return time.Weekday(((n % 7) + 7 + 4) % 7)
}

// unix converts an instant to whole seconds, rounding down: since every
// schedule instant is a whole second, s > after ⇔ s > unix(after) and
// s ≤ until ⇔ s ≤ unix(until).
func unix(t time.Time) int64 { return t.Unix() }

func utc(u int64) time.Time { return time.Unix(u, 0).UTC() }
