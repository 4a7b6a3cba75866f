package schedule

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/sequencer-dev/sequencer/schedule/cron"
	"github.com/sequencer-dev/sequencer/specs"
)

var propZones = []string{"UTC", "America/New_York", "Europe/London", "Europe/Berlin", "Australia/Sydney",
	"Pacific/Chatham", "America/Santiago", "Australia/Lord_Howe", "Asia/Kolkata"}

// transitions2026 are the 2026 changes of propZones (UTC), to aim times at.
var transitions2026 = []string{"2026-03-08T07:00:00Z", "2026-11-01T06:00:00Z", "2026-03-29T01:00:00Z", "2026-10-25T01:00:00Z",
	"2026-04-04T16:00:00Z", "2026-10-03T16:00:00Z", "2026-04-04T14:00:00Z", "2026-09-26T14:00:00Z",
	"2026-04-05T03:00:00Z", "2026-09-06T04:00:00Z", "2026-04-04T15:00:00Z", "2026-10-03T15:30:00Z"}

func genTime(t *rapid.T, label string) time.Time {
	if rapid.Bool().Draw(t, label+"-nearTransition") {
		base, _ := time.Parse(time.RFC3339, rapid.SampledFrom(transitions2026).Draw(t, label+"-transition"))
		return base.Add(time.Duration(rapid.Int64Range(-3*86400, 3*86400).Draw(t, label+"-offset")) * time.Second)
	}
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	return base.Add(time.Duration(rapid.Int64Range(0, 365*86400).Draw(t, label+"-second")) * time.Second)
}

func genCron(t *rapid.T) string {
	minute := rapid.SampledFrom([]string{"*", "*/15", "0", "30", "45", "0,30", "15,45", "59"}).Draw(t, "minute")
	hour := rapid.SampledFrom([]string{"*", "0", "1", "2", "3", "23", "1-3", "0,2", "2,3", "18", "*/6"}).Draw(t, "hour")
	dom := rapid.SampledFrom([]string{"*", "*", "*", "1", "15", "29", "1-7"}).Draw(t, "dom")
	dow := rapid.SampledFrom([]string{"*", "*", "1-5", "0,6", "0"}).Draw(t, "dow")
	return strings.Join([]string{minute, hour, dom, "*", dow}, " ")
}

func genSeq(t *rapid.T, name string) *specs.Sequence {
	tz := rapid.SampledFrom(propZones).Draw(t, "zone")
	loc, _ := time.LoadLocation(tz)
	seq := &specs.Sequence{Name: name, TimeZone: tz, Location: loc}
	switch rapid.IntRange(0, 5).Draw(t, "startKind") {
	case 0:
		seq.Start.At = genTime(t, "at")
	case 1: // immediate
	default:
		seq.Start.Schedule = genCron(t)
	}
	seq.Start.StartingDeadline = time.Duration(rapid.SampledFrom([]int{0, 1, 30, 600}).Draw(t, "deadline")) * time.Minute
	if rapid.Bool().Draw(t, "hasWindow") {
		from := rapid.IntRange(0, 23*60).Draw(t, "from")
		to := rapid.IntRange(from+1, 24*60).Draw(t, "to")
		w := &specs.Window{From: specs.TimeOfDay{Hour: from / 60, Minute: from % 60}, To: specs.TimeOfDay{Hour: to / 60, Minute: to % 60}}
		for d := time.Sunday; d <= time.Saturday; d++ {
			if rapid.IntRange(0, 3).Draw(t, "day") > 0 {
				w.Days = append(w.Days, d)
			}
		}
		if rapid.Bool().Draw(t, "except") {
			x := genTime(t, "except").In(loc)
			w.ExceptDates = []specs.Date{{Year: x.Year(), Month: x.Month(), Day: x.Day()}}
		}
		seq.Window = w
	}
	n := rapid.IntRange(1, 3).Draw(t, "items")
	for i := 0; i < n; i++ {
		it := specs.Item{Name: fmt.Sprintf("i%d", i), SleepBeforeNextStart: time.Duration(rapid.IntRange(0, 120).Draw(t, "sleep")) * time.Minute}
		switch rapid.IntRange(0, 4).Draw(t, "stopKind") {
		case 0:
			m := rapid.IntRange(0, 24*60-1).Draw(t, "stopTOD")
			it.StopAt.Time = specs.StopTime{Kind: specs.StopTimeOfDay, TimeOfDay: specs.TimeOfDay{Hour: m / 60, Minute: m % 60}}
		case 1:
			it.StopAt.Time = specs.StopTime{Kind: specs.StopAfter, After: time.Duration(rapid.IntRange(1, 600).Draw(t, "after")) * time.Minute}
		case 2:
			it.StopAt.Time = specs.StopTime{Kind: specs.StopAbsolute, At: genTime(t, "stopAt")}
		case 3:
			it.StopAt.Contacts = 100
		}
		seq.Items = append(seq.Items, it)
	}
	return seq
}

// bruteStarts is the reference for Starts: it walks the local clock minute
// by minute and fires at the first instant the clock shows, or has passed,
// each matching slot (the rule resolve implements).
func bruteStarts(seq *specs.Sequence, after, until time.Time) []time.Time {
	e, err := cron.Parse(seq.Start.Schedule)
	if err != nil {
		return nil
	}
	slot := map[int]bool{}
	for _, hm := range e.Times() {
		slot[hm[0]*60+hm[1]] = true
	}
	wall := func(u time.Time) int64 { _, off := u.In(seq.Location).Zone(); return u.Unix() + int64(off) }
	u := after.Add(-24 * time.Hour).Truncate(time.Minute)
	maxWall := wall(u)
	var out []time.Time
	for ; !u.After(until); u = u.Add(time.Minute) {
		w := wall(u)
		fire := false
		for x := maxWall + 60; x <= w; x += 60 {
			n := floorDiv(x, secondsPerDay)
			_, m, d := civil(n)
			if slot[int((x-n*secondsPerDay)/60)] && e.MatchesDate(m, d, weekday(n)) {
				fire = true
			}
		}
		if w > maxWall {
			maxWall = w
		}
		if fire && u.After(after) {
			out = append(out, u)
		}
	}
	return out
}

func TestPropertyStartsEqualAMinuteByMinuteWalkOfTheLocalClock(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		seq := genSeq(t, "p")
		if seq.Start.Schedule == "" {
			seq.Start = specs.Start{Schedule: genCron(t)}
		}
		after := genTime(t, "after")
		until := after.Add(time.Duration(rapid.IntRange(1, 72*60).Draw(t, "minutes")) * time.Minute)
		got := Starts(seq, after, until, 1<<20)
		for i, s := range got {
			if !s.After(after) || s.After(until) || (i > 0 && !s.After(got[i-1])) {
				t.Fatalf("start %d %v out of order or range (%v, %v]", i, s, after, until)
			}
		}
		want := bruteStarts(seq, after, until)
		if len(got) != len(want) {
			t.Fatalf("%q in %s: got %d starts %v, reference %d %v", seq.Start.Schedule, seq.TimeZone, len(got), got, len(want), want)
		}
		for i := range got {
			if !got[i].Equal(want[i]) {
				t.Fatalf("%q in %s: start %d = %v, reference %v", seq.Start.Schedule, seq.TimeZone, i, got[i], want[i])
			}
		}
		if n, ok := NextStart(seq, after); len(got) > 0 && (!ok || !n.Equal(got[0])) {
			t.Fatalf("NextStart = %v %v, Starts[0] = %v", n, ok, got[0])
		}
		if r := Due(seq, after, time.Time{}, until); r.SkippedCount+b2i(r.OK) != len(got) {
			t.Fatalf("Due counted %d+%v, Starts listed %d", r.SkippedCount, r.OK, len(got))
		}
	})
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestPropertyNextWindowChangeIsTheFirstFlipAfterT(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		seq := genSeq(t, "w")
		if seq.Window == nil {
			seq.Window = &specs.Window{From: specs.TimeOfDay{Hour: 8}, To: specs.TimeOfDay{Hour: 21}}
		}
		at := genTime(t, "t")
		in := InWindow(seq, at)
		c, ok := NextWindowChange(seq, at)
		if !ok {
			if len(seq.Window.Days) > 0 {
				t.Fatalf("no change although the window has days %v", seq.Window.Days)
			}
			return
		}
		if !c.After(at) || InWindow(seq, c) == in {
			t.Fatalf("change %v after %v does not flip (in=%v)", c, at, in)
		}
		// No flip on the minute grid between t and c (edges are whole minutes).
		for u := at.Truncate(time.Minute).Add(time.Minute); u.Before(c) && u.Sub(at) < 8*24*time.Hour; u = u.Add(time.Minute) {
			if InWindow(seq, u) != in {
				t.Fatalf("flip at %v before the reported change %v", u, c)
			}
		}
		o, ok := NextWindowOpen(seq, at)
		if !ok || (in && !o.Equal(at)) || (!in && (!o.Equal(c) || !InWindow(seq, o))) {
			t.Fatalf("NextWindowOpen = %v %v (in=%v, change %v)", o, ok, in, c)
		}
	})
}
