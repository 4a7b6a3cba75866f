// Package cron wraps robfig/cron/v3 for the one thing the project uses it
// for: parsing a 5-field expression (or a @descriptor) into field sets. It is
// the only importer of robfig/cron. It never evaluates an expression in a
// time zone: package schedule works out local wall-clock slots from Fields
// itself, because the library's Next mishandles DST transitions
// (docs/architecture.md, "Time").
package cron

import (
	"errors"
	"fmt"
	"strings"
	"time"

	rcron "github.com/robfig/cron/v3"
)

var parser = rcron.NewParser(rcron.Minute | rcron.Hour | rcron.Dom | rcron.Month | rcron.Dow | rcron.Descriptor)

// Errors returned by Parse; match with errors.Is.
var (
	ErrTimeZonePrefix = errors.New("a TZ= or CRON_TZ= prefix is not allowed; set spec.timeZone instead")
	ErrNeverFires     = errors.New("the schedule never fires")
	ErrSyntax         = errors.New("invalid cron expression")
	ErrUnsupported    = errors.New("unsupported cron expression")
)

// Expr is a parsed expression: bit sets of the minutes (0–59), hours (0–23),
// days of month (1–31), months (1–12) and weekdays (0–6, Sunday 0) it fires
// on, with cron's rule that when both day fields are restricted a day
// matches if either does.
type Expr struct {
	Source                        string
	Minute, Hour, Dom, Month, Dow uint64
	domStar, dowStar              bool
}

// starBit is robfig's marker for a field written as * or ?.
const starBit = 1 << 63

// Parse parses expr. It recovers a panic in the library and reports it as
// ErrSyntax, rejects TZ= prefixes, and rejects expressions that can never
// fire (such as 0 0 31 2 *).
func Parse(expr string) (e *Expr, err error) {
	s := strings.TrimSpace(expr)
	if s == "" {
		return nil, fmt.Errorf("%w: empty", ErrSyntax)
	}
	if up := strings.ToUpper(s); strings.HasPrefix(up, "TZ=") || strings.HasPrefix(up, "CRON_TZ=") {
		return nil, ErrTimeZonePrefix
	}
	if strings.HasPrefix(s, "@every") {
		return nil, fmt.Errorf("%w: @every is an interval, not a calendar schedule; use a 5-field expression", ErrUnsupported)
	}
	defer func() {
		if r := recover(); r != nil {
			e, err = nil, fmt.Errorf("%w: %q: parser failed: %v", ErrSyntax, s, r)
		}
	}()
	sched, perr := parser.Parse(s)
	if perr != nil {
		return nil, fmt.Errorf("%w: %v", ErrSyntax, perr)
	}
	spec, ok := sched.(*rcron.SpecSchedule)
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnsupported, s)
	}
	e = &Expr{
		Source: s,
		Minute: spec.Minute &^ starBit, Hour: spec.Hour &^ starBit,
		Dom: spec.Dom &^ starBit, Month: spec.Month &^ starBit, Dow: spec.Dow &^ starBit,
		domStar: spec.Dom&starBit != 0, dowStar: spec.Dow&starBit != 0,
	}
	if !e.canFire() {
		return nil, fmt.Errorf("%w: %q matches no calendar day", ErrNeverFires, s)
	}
	return e, nil
}

// MatchesDay reports whether the expression fires on the given calendar day
// (in whatever zone the caller works in).
func (e *Expr) MatchesDay(y int, m time.Month, d int) bool {
	return e.MatchesDate(m, d, time.Date(y, m, d, 12, 0, 0, 0, time.UTC).Weekday())
}

// MatchesDate is MatchesDay for a caller that already knows the weekday of
// the day (package schedule walks days by number and computes it cheaply).
func (e *Expr) MatchesDate(m time.Month, d int, wd time.Weekday) bool {
	if m < 1 || m > 12 || d < 1 || d > 31 || e.Month&(1<<uint(m)) == 0 {
		return false
	}
	domOK := e.Dom&(1<<uint(d)) != 0
	dowOK := e.Dow&(1<<uint(wd)) != 0
	if e.domStar || e.dowStar {
		return domOK && dowOK
	}
	return domOK || dowOK
}

// Times returns the wall-clock times of day (hour, minute) the expression
// fires at on a matching day, in order.
func (e *Expr) Times() [][2]int {
	var out [][2]int
	for h := 0; h < 24; h++ {
		if e.Hour&(1<<uint(h)) == 0 {
			continue
		}
		for m := 0; m < 60; m++ {
			if e.Minute&(1<<uint(m)) != 0 {
				out = append(out, [2]int{h, m})
			}
		}
	}
	return out
}

// canFire checks every day of a leap year and a common year: a day-of-month
// and month combination that exists in neither never fires.
func (e *Expr) canFire() bool {
	if len(e.Times()) == 0 {
		return false
	}
	for _, y := range []int{2028, 2027} {
		for d := time.Date(y, 1, 1, 0, 0, 0, 0, time.UTC); d.Year() == y; d = d.AddDate(0, 0, 1) {
			if e.MatchesDay(d.Year(), d.Month(), d.Day()) {
				return true
			}
		}
	}
	return false
}
