package schedule

import (
	"strings"
	"testing"
)

func TestTextShowsSecondsOnlyForEventsOffTheMinuteAndMarksEstimates(t *testing.T) {
	ny := mustLoc(t, "America/New_York")
	evs := []Event{
		{At: ts(t, "2026-11-02T23:00:00Z"), Sequence: "n", Action: ActItemStart, Item: "a", Location: ny},
		{At: ts(t, "2026-11-02T23:02:53Z"), Sequence: "n", Action: ActItemStop, Item: "a", Reason: "500 contacts reached", Estimate: true, Location: ny},
	}
	got := Text(evs)
	want := "Mon 2026-11-02 18:00 EST     n  item-start  a\n" +
		"Mon 2026-11-02 18:02:53 EST  n  item-stop   a  [estimate]  500 contacts reached\n"
	if got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	js, err := JSON(evs)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(string(js), `"estimate": true`) != 1 {
		t.Fatalf("JSON marks %d estimates, want 1:\n%s", strings.Count(string(js), `"estimate": true`), js)
	}
}
