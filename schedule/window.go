package schedule

import (
	"time"

	"github.com/sequencer-dev/sequencer/specs"
)

// A calling window is a set of instant intervals, one per allowed local day
// d: [resolve(d, from), resolve(d, to)). A day is allowed when its weekday
// is in Days (empty: every day) and it is not an except date — except dates
// close the whole local day. Resolving from/to like cron slots keeps one DST
// rule everywhere: an edge in a spring-forward gap moves to the end of the
// gap, an edge in a repeated hour is its first occurrence.

type window struct {
	w *specs.Window
	z *zone
}

func newWindow(seq *specs.Sequence) (window, bool) {
	if seq == nil || seq.Window == nil {
		return window{}, false
	}
	return window{w: seq.Window, z: newZone(seq.Location)}, true
}

func (w window) allowed(n int64) bool {
	if len(w.w.Days) > 0 {
		wd := weekday(n)
		ok := false
		for _, d := range w.w.Days {
			if d == wd {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	if len(w.w.ExceptDates) > 0 {
		y, m, d := civil(n)
		for _, e := range w.w.ExceptDates {
			if e.Year == y && e.Month == m && e.Day == d {
				return false
			}
		}
	}
	return true
}

// interval returns local day n's open interval; ok=false if the day is
// closed or the window is empty.
func (w window) interval(n int64) (open, close int64, ok bool) {
	if !w.allowed(n) {
		return 0, 0, false
	}
	ds := n * secondsPerDay
	from, to := int64(w.w.From.Minutes()*60), int64(w.w.To.Minutes()*60)
	if off, plain := w.z.plainDay(n); plain && to <= secondsPerDay {
		open, close = ds+from-off, ds+to-off
	} else {
		open, close = w.z.resolve(ds+from), w.z.resolve(ds+to)
	}
	return open, close, open < close
}

func (w window) contains(u int64) bool {
	d := w.z.localDay(u)
	for n := d - 1; n <= d+1; n++ {
		if o, c, ok := w.interval(n); ok && u >= o && u < c {
			return true
		}
	}
	return false
}

// horizon bounds the days searched for the next edge: each except date
// closes at most one day, so an allowed day comes within that many weeks.
func (w window) horizon() int64 {
	return int64(7*(len(w.w.ExceptDates)+2) + 2)
}

// InWindow reports whether t is inside seq's calling window (always, when
// the sequence has none).
func InWindow(seq *specs.Sequence, t time.Time) bool {
	w, ok := newWindow(seq)
	if !ok {
		return true
	}
	return w.contains(unix(t))
}

// NextWindowChange returns the next instant strictly after t at which
// InWindow flips; false if it never does or there is no window.
func NextWindowChange(seq *specs.Sequence, t time.Time) (time.Time, bool) {
	w, ok := newWindow(seq)
	if !ok {
		return time.Time{}, false
	}
	u := unix(t)
	in := w.contains(u)
	d := w.z.localDay(u)
	for n := d - 1; n <= d+w.horizon(); n++ {
		o, c, ok := w.interval(n)
		if !ok {
			continue
		}
		for _, x := range [2]int64{o, c} {
			// Back-to-back intervals (to 24:00, from 00:00) do not flip.
			if x > u && w.contains(x) != in {
				return utc(x), true
			}
		}
	}
	return time.Time{}, false
}

// NextWindowOpen returns t itself if the window is open at t, else the next
// opening; false if it never opens again. No window: t, true.
func NextWindowOpen(seq *specs.Sequence, t time.Time) (time.Time, bool) {
	w, ok := newWindow(seq)
	if !ok {
		return t, true
	}
	u := unix(t)
	if w.contains(u) {
		return t, true
	}
	d := w.z.localDay(u)
	for n := d - 1; n <= d+w.horizon(); n++ {
		if o, _, ok := w.interval(n); ok && o > u {
			return utc(o), true
		}
	}
	return time.Time{}, false
}

// windowText describes the window for reasons: "08:00–21:00 Mon–Fri".
func windowText(w *specs.Window) string {
	s := w.From.String() + "–" + w.To.String()
	if len(w.Days) > 0 && len(w.Days) < 7 {
		s += " " + daysText(w.Days)
	}
	return s
}

func daysText(days []time.Weekday) string {
	var set [7]bool
	for _, d := range days {
		if d >= 0 && d < 7 {
			set[d] = true
		}
	}
	// Print runs in Monday-first order: Mon–Fri, Sat, Sun.
	order := [7]time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday, time.Saturday, time.Sunday}
	var out string
	for i := 0; i < 7; {
		if !set[order[i]] {
			i++
			continue
		}
		j := i
		for j+1 < 7 && set[order[j+1]] {
			j++
		}
		if out != "" {
			out += ","
		}
		out += order[i].String()[:3]
		if j > i {
			out += "–" + order[j].String()[:3]
		}
		i = j + 1
	}
	return out
}
