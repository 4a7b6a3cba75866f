package schedule

import (
	"fmt"
	"sync"
	"time"

	"github.com/sequencer-dev/sequencer/schedule/cron"
	"github.com/sequencer-dev/sequencer/specs"
)

// Caps that bound every loop.
const (
	// DefaultMaxStarts is the most Starts returns when asked for max <= 0.
	DefaultMaxStarts = 10000
	// SkipCap is the most skipped starts Due lists; SkippedCount is exact.
	SkipCap = 100
	// searchDays is how far NextStart looks: every expression cron.Parse
	// accepts fires at least once in 8 years (29 February skips 2100).
	searchDays = 8*366 + 7
)

// compiled is a parsed cron expression with its slots as minutes of the day.
type compiled struct {
	expr  *cron.Expr
	slots []int64 // seconds after local midnight, ascending
}

var exprCache sync.Map // schedule string → *compiled (nil on a parse error)

// compile parses expr once per process: the decision functions run for
// every sequence on every pass, and cron.Parse checks two years of days.
func compile(expr string) *compiled {
	if v, ok := exprCache.Load(expr); ok {
		return v.(*compiled)
	}
	var c *compiled
	if e, err := cron.Parse(expr); err == nil {
		c = &compiled{expr: e}
		for _, hm := range e.Times() {
			c.slots = append(c.slots, int64(hm[0]*3600+hm[1]*60))
		}
	}
	exprCache.Store(expr, c)
	return c
}

func (c *compiled) matches(n int64) bool {
	_, m, d := civil(n)
	return c.expr.MatchesDate(m, d, weekday(n))
}

// walk calls fn with the start instants of local days from..to (inclusive),
// strictly increasing, until fn returns false. Slots are local wall-clock
// times; resolve applies the DST rules, and a slot that resolves to the
// same instant as the one before (two slots in one gap) runs once.
func (c *compiled) walk(z *zone, from, to int64, fn func(u int64) bool) {
	last := int64(minI)
	for n := from; n <= to; n++ {
		if !c.matches(n) {
			continue
		}
		ds := n * secondsPerDay
		off, plain := z.plainDay(n)
		for _, s := range c.slots {
			var u int64
			if plain {
				u = ds + s - off
			} else {
				u = z.resolve(ds + s)
			}
			if u <= last {
				continue
			}
			last = u
			if !fn(u) {
				return
			}
		}
	}
}

// count counts the starts in (after, until] exactly, without listing them:
// a day without a transition near it and wholly inside the range counts
// its slots at once.
func (c *compiled) count(z *zone, after, until int64) int {
	if until <= after {
		return 0
	}
	from, to := z.localDay(after)-1, z.localDay(until)+1
	total := 0
	last := int64(minI)
	for n := from; n <= to; n++ {
		if !c.matches(n) {
			continue
		}
		ds := n * secondsPerDay
		if off, plain := z.plainDay(n); plain && ds-margin > after && ds+secondsPerDay+margin <= until {
			total += len(c.slots)
			last = ds + c.slots[len(c.slots)-1] - off
			continue
		}
		for _, s := range c.slots {
			u := z.resolve(ds + s)
			if u <= last {
				continue
			}
			last = u
			if u > after && u <= until {
				total++
			}
		}
	}
	return total
}

// Starts returns the scheduled start instants (UTC) of seq in (after,
// until], in order, at most max (max <= 0: DefaultMaxStarts).
//
// A cron schedule is evaluated on local wall-clock slots in seq.Location:
// for each local day the expression matches, each of its times of day. A
// slot in a spring-forward gap runs at the first instant after the gap
// (02:30 → 03:00 local); a slot in the repeated fall-back hour runs once, at
// its first occurrence. Start.At gives that one instant if it is in range.
// An immediate sequence (neither) has no scheduled starts.
func Starts(seq *specs.Sequence, after, until time.Time, max int) []time.Time {
	if max <= 0 {
		max = DefaultMaxStarts
	}
	a, b := unix(after), unix(until)
	if seq == nil || b <= a {
		return nil
	}
	if !seq.Start.At.IsZero() {
		if at := seq.Start.At; at.After(after) && !at.After(until) {
			return []time.Time{at.UTC()}
		}
		return nil
	}
	c := compileStart(seq)
	if c == nil {
		return nil
	}
	z := newZone(seq.Location)
	var out []time.Time
	c.walk(z, z.localDay(a)-1, z.localDay(b)+1, func(u int64) bool {
		if u <= a {
			return true
		}
		if u > b {
			return false
		}
		out = append(out, utc(u))
		return len(out) < max
	})
	return out
}

func compileStart(seq *specs.Sequence) *compiled {
	if seq.Start.Schedule == "" {
		return nil
	}
	return compile(seq.Start.Schedule)
}

// NextStart returns the first scheduled start strictly after after.
func NextStart(seq *specs.Sequence, after time.Time) (time.Time, bool) {
	if seq == nil {
		return time.Time{}, false
	}
	if !seq.Start.At.IsZero() {
		if seq.Start.At.After(after) {
			return seq.Start.At.UTC(), true
		}
		return time.Time{}, false
	}
	c := compileStart(seq)
	if c == nil {
		return time.Time{}, false
	}
	return c.next(newZone(seq.Location), unix(after))
}

func (c *compiled) next(z *zone, a int64) (time.Time, bool) {
	var found int64
	ok := false
	d := z.localDay(a)
	c.walk(z, d-1, d+searchDays, func(u int64) bool {
		if u <= a {
			return true
		}
		found, ok = u, true
		return false
	})
	if !ok {
		return time.Time{}, false
	}
	return utc(found), true
}

// prev returns the last start in (after, until], walking days backwards.
func (c *compiled) prev(z *zone, after, until int64) (int64, bool) {
	lo := z.localDay(after) - 1
	hi := z.localDay(until) + 1
	if hi-lo > searchDays {
		lo = hi - searchDays
	}
	// Walk one day at a time from the end: resolve is monotonic, so the
	// first day (from the end) that yields a start in range holds the latest.
	for n := hi; n >= lo; n-- {
		best, ok := int64(0), false
		c.walk(z, n, n, func(u int64) bool {
			if u > after && u <= until {
				best, ok = u, true
			}
			return u <= until
		})
		if ok {
			return best, true
		}
	}
	return 0, false
}

// Skip is a scheduled start that will not run, and why.
type Skip struct {
	Scheduled time.Time // UTC
	Reason    string
}

// DueResult is what Due decided.
type DueResult struct {
	Run          time.Time // the scheduled start to run now (UTC), if OK
	OK           bool
	Skipped      []Skip    // the earliest SkipCap skipped starts, in order
	SkippedCount int       // exact number of skipped starts
	Next         time.Time // the next scheduled start after now; zero if none
}

// Latest returns the latest scheduled instant Due handled (run or skipped),
// which becomes the caller's lastHandled; zero if none.
func (r DueResult) Latest() time.Time {
	if r.OK {
		return r.Run
	}
	if r.SkippedCount > 0 && len(r.Skipped) > 0 {
		// The latest skipped start is always listed: see Due.
		return r.Skipped[len(r.Skipped)-1].Scheduled
	}
	return time.Time{}
}

// Due decides what to do about the scheduled starts up to now, given the
// last handled scheduled instant (fired or skipped). With lastHandled zero,
// since (when the spec was first loaded) bounds the look-back, inclusively:
// a cron start before the spec existed is not "missed". An explicit
// start.at is looked back without that bound — an operator who writes a
// time a minute ago and deploys means it — but its deadline still applies.
// With both zero, nothing before now counts as missed.
//
// Only the latest missed start may run, and only if now is within
// StartingDeadline of it (0: no limit); every other missed start is
// skipped with a reason. Missed starts are enumerated exactly: the first
// SkipCap are listed (and the latest one, when it is skipped, always is, as
// the last element), SkippedCount is exact.
func Due(seq *specs.Sequence, lastHandled, since, now time.Time) DueResult {
	var r DueResult
	if seq == nil {
		return r
	}
	r.Next, _ = NextStart(seq, now)
	nowU := unix(now)
	lb := lastHandled
	if lb.IsZero() {
		lb = since.Add(-time.Nanosecond)
		if since.IsZero() {
			lb = now
		}
	}
	deadline := seq.Start.StartingDeadline

	var latest int64
	var found bool
	var c *compiled
	var z *zone
	switch {
	case !seq.Start.At.IsZero():
		at := seq.Start.At
		if (lastHandled.IsZero() || at.After(lastHandled)) && !at.After(now) {
			latest, found = unix(at), true
		}
	default:
		c = compileStart(seq)
		if c == nil {
			return r
		}
		z = newZone(seq.Location)
		latest, found = c.prev(z, unix(lb), nowU)
	}
	if !found {
		return r
	}
	late := now.Sub(utc(latest))
	if deadline <= 0 || late <= deadline {
		r.Run, r.OK = utc(latest), true
	}
	if c != nil {
		lbU := unix(lb)
		reason := fmt.Sprintf("missed: a later start (%s) superseded it; only the latest missed start may run", inLoc(seq, utc(latest)).Format(time.RFC3339))
		r.SkippedCount = c.count(z, lbU, latest-1)
		if r.SkippedCount > 0 {
			for _, t := range Starts(seq, utc(lbU), utc(latest-1), SkipCap) {
				r.Skipped = append(r.Skipped, Skip{Scheduled: t, Reason: reason})
			}
		}
	}
	if !r.OK {
		s := Skip{Scheduled: utc(latest), Reason: fmt.Sprintf("missed by %s, more than startingDeadline %s", late.Round(time.Second), deadline)}
		if len(r.Skipped) >= SkipCap {
			r.Skipped[len(r.Skipped)-1] = s
		} else {
			r.Skipped = append(r.Skipped, s)
		}
		r.SkippedCount++
	}
	return r
}

func inLoc(seq *specs.Sequence, t time.Time) time.Time {
	if seq.Location == nil {
		return t.UTC()
	}
	return t.In(seq.Location)
}
