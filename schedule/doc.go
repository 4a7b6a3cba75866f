// Package schedule is the pure time maths of sequences: when runs start
// (cron in the sequence's time zone, with explicit DST rules), which missed
// starts run or are skipped, calling windows, item stop times, and the
// text and JSON form of a plan. It never reads the clock and never does
// I/O: every function takes the instants it needs. It decides nothing: the
// sequencing rules (sleeps, pauses, stop times, overlapping starts) live
// once, in package reconcile, whose loop `sequencer plan` runs forward on a
// virtual clock (reconcile.Project).
//
// The rules (docs/spec-reference.md, "spec.start"), the time maths of each
// computed here and tested, the ones about runs and items applied by
// reconcile:
//   - Cron fields are matched against local wall-clock slots in the
//     sequence's time zone (tzdata is embedded). robfig/cron only parses
//     (schedule/cron); its Next is never called, because it skips starts in
//     a spring-forward gap, fires twice in a repeated hour, and can return
//     its own argument forever.
//   - Spring-forward: a slot inside the skipped hour runs at the first valid
//     instant after the gap (02:30 on the transition day runs at 03:00).
//     Several slots in one gap collapse into that one instant.
//   - Fall-back: a slot in the repeated hour runs once, at its first
//     occurrence.
//   - Starts are identified by their UTC instant and callers keep the last
//     handled one, so a clock step or a restart never fires a start twice.
//   - Missed starts: only the latest missed start may run, and only within
//     startingDeadline of it; every other one is reported as skipped. The
//     count is exact; the list is capped (SkipCap).
//   - A start that comes while a run of the same sequence is in progress is
//     skipped and reported: runs of one sequence never overlap.
//   - Items: sleepBeforeNextStart before each item (the first too); stopAt
//     time as a local time of day (the next one strictly after the item
//     started), "+duration" after the start, or an absolute instant. A stop
//     time that has passed before the item could start ends it at once,
//     with a reason.
//   - Calling windows: outside the window no item dials. A dialing item
//     pauses at window close and resumes at the next opening unless its stop
//     time has passed; an item due while the window is closed waits for the
//     next opening. Except dates close whole local days. Window edges follow
//     the same DST rule as cron slots.
//   - Every loop is bounded: day walks stop after a fixed horizon.
package schedule

import _ "time/tzdata" // zone rules must not depend on the host
