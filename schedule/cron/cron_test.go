package cron

import (
	"errors"
	"testing"
	"time"
)

func TestMatchesDateAgreesWithMatchesDayOnEveryDayOfTwoYears(t *testing.T) {
	for _, s := range []string{"0 0 * * *", "0 0 13 * 5", "0 0 * * 1-5", "0 0 29 2 *", "0 0 1,15 * *", "@weekly"} {
		e, err := Parse(s)
		if err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		for d := time.Date(2027, 1, 1, 12, 0, 0, 0, time.UTC); d.Year() < 2029; d = d.AddDate(0, 0, 1) {
			if e.MatchesDate(d.Month(), d.Day(), d.Weekday()) != e.MatchesDay(d.Year(), d.Month(), d.Day()) {
				t.Fatalf("%q disagrees on %s", s, d.Format("2006-01-02"))
			}
		}
	}
}

func TestWhenBothDayFieldsAreRestrictedEitherMatches(t *testing.T) {
	e, err := Parse("0 0 13 * 5") // the 13th, or any Friday
	if err != nil {
		t.Fatal(err)
	}
	if !e.MatchesDay(2026, 11, 13) || !e.MatchesDay(2026, 11, 6) || e.MatchesDay(2026, 11, 7) {
		t.Fatal("cron's either-day rule is not applied")
	}
}

func TestMatchesDateRejectsOutOfRangeDatesWithoutPanicking(t *testing.T) {
	e, _ := Parse("* * * * *")
	if e.MatchesDate(0, 1, 0) || e.MatchesDate(13, 1, 0) || e.MatchesDate(1, 0, 0) || e.MatchesDate(1, 32, 0) {
		t.Fatal("an impossible date matched")
	}
}

func TestParseRejectsWhatScheduleCannotEvaluate(t *testing.T) {
	for s, want := range map[string]error{
		"TZ=UTC 0 0 * * *": ErrTimeZonePrefix, "CRON_TZ=UTC 0 0 * * *": ErrTimeZonePrefix,
		"0 0 31 2 *": ErrNeverFires, "@every 1h": ErrUnsupported, "": ErrSyntax, "61 * * * *": ErrSyntax,
	} {
		if _, err := Parse(s); !errors.Is(err, want) {
			t.Errorf("Parse(%q) = %v, want %v", s, err, want)
		}
	}
}
