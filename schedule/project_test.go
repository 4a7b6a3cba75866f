package schedule

import (
	"strings"
	"testing"
	"time"

	"github.com/sequencer-dev/sequencer/specs"
)

func render(evs []Event) []string {
	var out []string
	for _, e := range evs {
		loc := e.Location
		if loc == nil {
			loc = time.UTC
		}
		s := e.At.In(loc).Format("Mon 15:04 MST") + " " + e.Sequence + " " + string(e.Action)
		if e.Item != "" {
			s += " " + e.Item
		}
		if e.Bound != "" {
			s += " (" + e.Bound + ")"
		}
		if e.Reason != "" {
			s += ": " + e.Reason
		}
		out = append(out, s)
	}
	return out
}

func TestProjectWalksARunThroughItsItemsAndTheWindow(t *testing.T) {
	seq := nightly(t)
	got := render(Project([]*specs.Sequence{seq}, ts(t, "2026-11-02T00:00:00-05:00"), 33*time.Hour))
	want := []string{
		"Mon 18:00 EST nightly sequence-start",
		"Mon 18:00 EST nightly item-start fresh (until 500 contacts or 20:30)",
		"Mon 20:30 EST nightly item-stop fresh: stop time 20:30 reached",
		"Mon 20:40 EST nightly item-start retries (until 22:10)",
		"Mon 21:00 EST nightly window-pause retries: calling window closed (08:00–21:00 Mon–Fri)",
		"Mon 22:10 EST nightly item-stop retries: stop after 1h30m0s reached while paused by the calling window",
		"Tue 08:00 EST nightly item-start callbacks (until 100 contacts): " + UnknownEnd,
	}
	if !equalStrings(got, want) {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestProjectShowsStartsDuringARunAsSkips(t *testing.T) {
	seq := nightly(t)
	seq.Items = seq.Items[:1]
	seq.Items[0].StopAt = specs.StopAt{Time: specs.StopTime{Kind: specs.StopAfter, After: 30 * time.Hour}}
	seq.Window = nil
	got := render(Project([]*specs.Sequence{seq}, ts(t, "2026-11-02T00:00:00-05:00"), 48*time.Hour))
	want := []string{
		"Mon 18:00 EST nightly sequence-start",
		"Mon 18:00 EST nightly item-start fresh (until Wed 00:00)",
		"Tue 18:00 EST nightly skip: the run that started 2026-11-02T18:00:00-05:00 is still in progress; runs of one sequence never overlap",
		"Wed 00:00 EST nightly item-stop fresh: stop after 30h0m0s reached",
		"Wed 00:00 EST nightly sequence-end",
	}
	if !equalStrings(got, want) {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestProjectIsSortedByTimeThenSequenceAndSkipsPastAndSuspendedSequences(t *testing.T) {
	a, b := nightly(t), nightly(t)
	a.Name, b.Name = "b-seq", "a-seq"
	past := nightly(t)
	past.Name, past.Start = "past", specs.Start{At: ts(t, "2026-01-01T00:00:00Z")}
	off := nightly(t)
	off.Name, off.Suspend = "off", true
	now := nightly(t)
	now.Name, now.Start, now.Window = "now", specs.Start{}, nil
	evs := Project([]*specs.Sequence{a, past, b, off, now, nil}, ts(t, "2026-11-02T12:00:00-05:00"), 7*time.Hour)
	got := render(evs)
	want := []string{
		"Mon 12:00 EST now sequence-start",
		"Mon 12:00 EST now item-start fresh (until 500 contacts or 20:30)",
		"Mon 18:00 EST a-seq sequence-start",
		"Mon 18:00 EST a-seq item-start fresh (until 500 contacts or 20:30)",
		"Mon 18:00 EST b-seq sequence-start",
		"Mon 18:00 EST b-seq item-start fresh (until 500 contacts or 20:30)",
	}
	if !equalStrings(got, want) {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestProjectAcrossTheUSFallBackKeepsLocalTimes(t *testing.T) {
	seq := nightly(t)
	seq.Start.Schedule = "30 1 * * *"
	seq.Window = nil
	seq.Items = seq.Items[:1]
	seq.Items[0].StopAt = specs.StopAt{Time: specs.StopTime{Kind: specs.StopTimeOfDay, TimeOfDay: tod("01:45")}}
	var starts []string
	for _, e := range Project([]*specs.Sequence{seq}, ts(t, "2026-10-31T00:00:00-04:00"), 72*time.Hour) {
		starts = append(starts, e.At.In(seq.Location).Format("Jan 2 15:04 MST")+" "+string(e.Action))
	}
	want := []string{
		"Oct 31 01:30 EDT sequence-start", "Oct 31 01:30 EDT item-start", "Oct 31 01:45 EDT item-stop", "Oct 31 01:45 EDT sequence-end",
		"Nov 1 01:30 EDT sequence-start", "Nov 1 01:30 EDT item-start", "Nov 1 01:45 EDT item-stop", "Nov 1 01:45 EDT sequence-end",
		"Nov 2 01:30 EST sequence-start", "Nov 2 01:30 EST item-start", "Nov 2 01:45 EST item-stop", "Nov 2 01:45 EST sequence-end",
	}
	if !equalStrings(starts, want) {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(starts, "\n"), strings.Join(want, "\n"))
	}
}
