package schedule

import (
	"testing"
	"time"

	"github.com/sequencer-dev/sequencer/specs"
)

func TestInWindowFollowsTheLocalCallingHours(t *testing.T) {
	cases := []struct {
		name string
		tz   string
		w    *specs.Window
		at   string
		want bool
	}{
		{"a weekday window is open at its from", "America/New_York", win("08:00", "21:00", weekdays...), "2026-11-02T08:00:00-05:00", true},
		{"a weekday window is closed a second before its from", "America/New_York", win("08:00", "21:00", weekdays...), "2026-11-02T07:59:59-05:00", false},
		{"a weekday window is closed at its to", "America/New_York", win("08:00", "21:00", weekdays...), "2026-11-02T21:00:00-05:00", false},
		{"a weekday window is closed on Saturday", "America/New_York", win("08:00", "21:00", weekdays...), "2026-10-31T12:00:00-04:00", false},
		{"the window is local: 20:30 EST is open although it is Tuesday in UTC", "America/New_York", win("08:00", "21:00", weekdays...), "2026-11-03T01:30:00Z", true},
		{"a window edge in the US gap opens at the end of the gap", "America/New_York", win("02:30", "05:00"), "2026-03-08T03:00:00-04:00", true},
		{"before the end of the US gap the window is still closed", "America/New_York", win("02:30", "05:00"), "2026-03-08T01:59:59-05:00", false},
		{"a window closing in the repeated hour closes at its first occurrence", "America/New_York", win("00:00", "01:30"), "2026-11-01T01:15:00-05:00", false},
		{"Berlin's window is open an hour after the EU change as usual", "Europe/Berlin", win("08:00", "20:00"), "2026-03-29T06:00:00Z", true},
		{"Asia/Kolkata opens at 09:00 IST, 03:30 UTC", "Asia/Kolkata", win("09:00", "18:00"), "2026-03-09T03:30:00Z", true},
		{"Asia/Kolkata is closed at 03:29 UTC", "Asia/Kolkata", win("09:00", "18:00"), "2026-03-09T03:29:59Z", false},
		{"Sydney's window is local across its April change", "Australia/Sydney", win("08:00", "20:00"), "2026-04-05T08:00:00+10:00", true},
		{"Santiago's window from midnight is closed just before the midnight gap", "America/Santiago", win("00:00", "06:00"), "2026-09-05T23:59:59-04:00", false},
		{"Santiago's window from midnight opens at 01:00 on the gap day", "America/Santiago", win("00:00", "06:00"), "2026-09-06T01:00:00-03:00", true},
		{"a UTC window is plain", "UTC", win("09:00", "17:00"), "2026-06-01T16:59:59Z", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			seq := cronSeq(t, c.tz, "0 0 * * *")
			seq.Window = c.w
			if got := InWindow(seq, ts(t, c.at)); got != c.want {
				t.Fatalf("InWindow(%s) = %v, want %v", c.at, got, c.want)
			}
		})
	}
}

func TestExceptDatesCloseWholeLocalDays(t *testing.T) {
	seq := cronSeq(t, "America/New_York", "0 0 * * *")
	seq.Window = win("08:00", "21:00", weekdays...)
	seq.Window.ExceptDates = []specs.Date{{Year: 2026, Month: 12, Day: 25}}
	if InWindow(seq, ts(t, "2026-12-25T12:00:00-05:00")) {
		t.Fatal("open on an except date")
	}
	// 2026-12-25 is a Friday: Thursday's close leads to Monday.
	got, ok := NextWindowOpen(seq, ts(t, "2026-12-24T21:00:00-05:00"))
	if !ok || !got.Equal(ts(t, "2026-12-28T08:00:00-05:00")) {
		t.Fatalf("NextWindowOpen = %v %v", got, ok)
	}
	got, ok = NextWindowChange(seq, ts(t, "2026-12-24T20:00:00-05:00"))
	if !ok || !got.Equal(ts(t, "2026-12-24T21:00:00-05:00")) {
		t.Fatalf("NextWindowChange = %v %v", got, ok)
	}
}

func TestNextWindowChangeIsTheNextFlipStrictlyAfterT(t *testing.T) {
	cases := []struct {
		name, tz string
		w        *specs.Window
		at, want string
	}{
		{"an open window changes at its close", "America/New_York", win("08:00", "21:00", weekdays...), "2026-10-30T12:00:00-04:00", "2026-10-30T21:00:00-04:00"},
		{"at the close itself the next change is the next opening, across the US fall-back weekend", "America/New_York", win("08:00", "21:00", weekdays...), "2026-10-30T21:00:00-04:00", "2026-11-02T08:00:00-05:00"},
		{"across the EU spring change the opening is 08:00 CEST", "Europe/Berlin", win("08:00", "20:00"), "2026-03-28T20:00:00+01:00", "2026-03-29T08:00:00+02:00"},
		{"back-to-back days from 00:00 to 24:00 do not flip at midnight", "UTC", win("00:00", "24:00", weekdays...), "2026-11-02T10:00:00Z", "2026-11-07T00:00:00Z"},
		{"Asia/Kolkata opens at 03:30 UTC", "Asia/Kolkata", win("09:00", "18:00"), "2026-03-09T00:00:00Z", "2026-03-09T03:30:00Z"},
		{"Lord Howe closes on local time across its half-hour change", "Australia/Lord_Howe", win("00:00", "03:00"), "2026-10-04T00:30:00+10:30", "2026-10-04T03:00:00+11:00"},
		{"Chatham opens at 08:00 local after its change", "Pacific/Chatham", win("08:00", "17:00"), "2026-04-05T01:00:00+13:45", "2026-04-05T08:00:00+12:45"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			seq := cronSeq(t, c.tz, "0 0 * * *")
			seq.Window = c.w
			got, ok := NextWindowChange(seq, ts(t, c.at))
			if !ok || !got.Equal(ts(t, c.want)) {
				t.Fatalf("NextWindowChange = %v %v, want %s", got.In(seq.Location), ok, c.want)
			}
		})
	}
}

func TestWithoutAWindowTheSequenceIsAlwaysOpen(t *testing.T) {
	seq := cronSeq(t, "UTC", "0 0 * * *")
	at := ts(t, "2026-06-01T03:00:00Z")
	if !InWindow(seq, at) {
		t.Fatal("closed")
	}
	if _, ok := NextWindowChange(seq, at); ok {
		t.Fatal("a change without a window")
	}
	if got, ok := NextWindowOpen(seq, at); !ok || !got.Equal(at) {
		t.Fatalf("NextWindowOpen = %v %v", got, ok)
	}
}

func TestAnEmptyWindowNeverOpensAndDoesNotLoop(t *testing.T) {
	seq := cronSeq(t, "UTC", "0 0 * * *")
	seq.Window = win("10:00", "10:00")
	at := ts(t, "2026-06-01T03:00:00Z")
	if InWindow(seq, at) {
		t.Fatal("open")
	}
	if _, ok := NextWindowOpen(seq, at); ok {
		t.Fatal("opens")
	}
	if _, ok := NextWindowChange(seq, at); ok {
		t.Fatal("changes")
	}
}

func TestItemStopTimeFollowsTheThreeForms(t *testing.T) {
	at := func(k specs.StopTimeKind, s string, d time.Duration) specs.Item {
		st := specs.StopTime{Kind: k, After: d}
		if k == specs.StopTimeOfDay {
			st.TimeOfDay = tod(s)
		}
		if k == specs.StopAbsolute {
			st.At, _ = time.Parse(time.RFC3339, s)
		}
		return specs.Item{Name: "i", StopAt: specs.StopAt{Time: st}}
	}
	cases := []struct {
		name, tz string
		it       specs.Item
		started  string
		want     string // "" = no time stop
	}{
		{"a time of day later that day stops that day", "America/New_York", at(specs.StopTimeOfDay, "20:30", 0), "2026-11-02T18:00:00-05:00", "2026-11-02T20:30:00-05:00"},
		{"a time of day already past stops the next day", "America/New_York", at(specs.StopTimeOfDay, "20:30", 0), "2026-11-02T21:00:00-05:00", "2026-11-03T20:30:00-05:00"},
		{"a time of day equal to the start is the next day's", "UTC", at(specs.StopTimeOfDay, "20:30", 0), "2026-11-02T20:30:00Z", "2026-11-03T20:30:00Z"},
		{"a time of day in the US gap stops at the end of the gap", "America/New_York", at(specs.StopTimeOfDay, "02:30", 0), "2026-03-07T23:00:00-05:00", "2026-03-08T03:00:00-04:00"},
		{"a time of day in the repeated hour stops at its first occurrence", "America/New_York", at(specs.StopTimeOfDay, "01:30", 0), "2026-10-31T23:00:00-04:00", "2026-11-01T01:30:00-04:00"},
		{"a time of day in the EU gap stops at 03:00 CEST", "Europe/Berlin", at(specs.StopTimeOfDay, "02:15", 0), "2026-03-29T00:00:00+01:00", "2026-03-29T03:00:00+02:00"},
		{"a time of day in Lord Howe's half-hour gap stops at 02:30", "Australia/Lord_Howe", at(specs.StopTimeOfDay, "02:15", 0), "2026-10-04T00:00:00+10:30", "2026-10-04T02:30:00+11:00"},
		{"a time of day in Kolkata is local", "Asia/Kolkata", at(specs.StopTimeOfDay, "18:00", 0), "2026-03-09T09:00:00+05:30", "2026-03-09T18:00:00+05:30"},
		{"+duration is elapsed time across the fall-back hour", "America/New_York", at(specs.StopAfter, "", 2*time.Hour), "2026-11-01T00:30:00-04:00", "2026-11-01T01:30:00-05:00"},
		{"an absolute time is that instant", "UTC", at(specs.StopAbsolute, "2026-12-01T20:30:00-05:00", 0), "2026-11-30T00:00:00Z", "2026-12-02T01:30:00Z"},
		{"no time stop gives none", "UTC", specs.Item{StopAt: specs.StopAt{Contacts: 500}}, "2026-11-30T00:00:00Z", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			seq := cronSeq(t, c.tz, "0 0 * * *")
			got, ok := ItemStopTime(seq, &c.it, ts(t, c.started))
			if c.want == "" {
				if ok {
					t.Fatalf("got %v, want none", got)
				}
				return
			}
			if !ok || !got.Equal(ts(t, c.want)) {
				t.Fatalf("ItemStopTime = %v %v, want %s", got.In(seq.Location), ok, c.want)
			}
		})
	}
}

func TestBoundNamesCountsAndTheLocalStopTime(t *testing.T) {
	seq := cronSeq(t, "America/New_York", "0 18 * * *")
	it := specs.Item{StopAt: specs.StopAt{Contacts: 500, Time: specs.StopTime{Kind: specs.StopTimeOfDay, TimeOfDay: tod("20:30")}}}
	if got := Bound(seq, &it, ts(t, "2026-11-23T18:00:00-05:00")); got != "until 500 contacts or 20:30" {
		t.Fatalf("got %q", got)
	}
	it = specs.Item{StopAt: specs.StopAt{Dials: 5000}}
	if got := Bound(seq, &it, ts(t, "2026-11-23T18:00:00-05:00")); got != "until 5000 dials" {
		t.Fatalf("got %q", got)
	}
	it = specs.Item{}
	if got := Bound(seq, &it, ts(t, "2026-11-23T18:00:00-05:00")); got != "until the list is depleted" {
		t.Fatalf("got %q", got)
	}
	it = specs.Item{StopAt: specs.StopAt{Time: specs.StopTime{Kind: specs.StopTimeOfDay, TimeOfDay: tod("02:00")}}}
	if got := Bound(seq, &it, ts(t, "2026-11-23T18:00:00-05:00")); got != "until Tue 02:00" {
		t.Fatalf("got %q", got)
	}
}

func TestBoundSaysOneContactAndOneDialInTheSingular(t *testing.T) {
	seq := cronSeq(t, "America/New_York", "0 18 * * *")
	it := specs.Item{StopAt: specs.StopAt{Contacts: 1, Dials: 1}}
	if got := Bound(seq, &it, ts(t, "2026-11-23T18:00:00-05:00")); got != "until 1 contact or 1 dial" {
		t.Fatalf("got %q", got)
	}
}
