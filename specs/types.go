// Package specs is the declarative input of the daemon: the CampaignSequence
// and DoNotCallList types, strict YAML decoding with file:line:col errors,
// semantic validation, the directory loader (with a parse cache that spares
// a restart the parsing of unchanged files), and the watcher that hands the
// reconciler whole, valid snapshots. It alone imports yaml and fsnotify.
package specs

import (
	"fmt"
	"time"

	"github.com/sequencer-dev/sequencer/ocs"
)

// APIVersion is the only spec version this build reads.
const APIVersion = "sequencer/v1"

// Kinds of documents.
const (
	KindCampaignSequence = "CampaignSequence"
	KindDoNotCallList    = "DoNotCallList"
	KindHalt             = "Halt"
)

// Engine says who runs the items of a sequence (docs/protocol.md, "Two engines").
type Engine string

const (
	EngineSequencer Engine = "sequencer" // the daemon drives each item
	EngineOCS       Engine = "ocs"       // one campaign_schedule, OCS runs the items
)

// OnDelete says what happens to OCS when a sequence disappears from the specs.
type OnDelete string

const (
	OnDeleteStop   OnDelete = "stop"   // stop and unload what we loaded
	OnDeleteOrphan OnDelete = "orphan" // leave OCS as it is
)

// Position is where something was written.
type Position struct {
	Path   string
	Line   int
	Column int
}

func (p Position) String() string { return fmt.Sprintf("%s:%d:%d", p.Path, p.Line, p.Column) }

// Sequence is one validated CampaignSequence document, with defaults applied
// and names resolved (time zone loaded, dial modes parsed).
type Sequence struct {
	Name   string
	Labels map[string]string
	Pos    Position // of the document
	// NamePos is where metadata.name is written, for problems about the
	// name. Left out of the hash (json "-") like every position.
	NamePos Position `json:"-"`

	Description    string
	TimeZone       string         // IANA name as written ("UTC" by default)
	Location       *time.Location // loaded TimeZone; never nil after decoding
	Start          Start
	Window         *Window // nil: no calling-hours restriction
	Engine         Engine
	OCS            OCSRef
	Suspend        bool
	AutoCompletion bool // sequence default for items
	OnDelete       OnDelete
	Items          []Item

	// Hash is a content hash of the document's meaning (not its bytes:
	// comments and formatting do not change it). Generation is assigned by
	// the watcher and grows by one whenever Hash changes.
	Hash       string
	Generation int64
}

// Start says when runs begin. Exactly one of Schedule, At, or neither
// (start once, as soon as loaded).
type Start struct {
	Schedule         string        // 5-field cron or @daily/@weekly/…; "" if none
	At               time.Time     // zero if none
	StartingDeadline time.Duration // 0: no deadline (a missed start may run any time later)
}

// Immediate reports whether the sequence starts once, as soon as loaded.
func (s Start) Immediate() bool { return s.Schedule == "" && s.At.IsZero() }

// Window is the calling hours, in the sequence's time zone. From is before To
// (windows do not cross midnight).
type Window struct {
	Days        []time.Weekday // empty: every day
	From, To    TimeOfDay
	ExceptDates []Date
}

// TimeOfDay is a wall-clock time, minutes after midnight.
type TimeOfDay struct{ Hour, Minute int }

// Minutes since midnight.
func (t TimeOfDay) Minutes() int { return t.Hour*60 + t.Minute }

func (t TimeOfDay) String() string { return fmt.Sprintf("%02d:%02d", t.Hour, t.Minute) }

// Date is a calendar day.
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

func (d Date) String() string { return fmt.Sprintf("%04d-%02d-%02d", d.Year, int(d.Month), d.Day) }

// OCSRef names the link and the OCS application a sequence addresses.
type OCSRef struct {
	Link          string // link name from daemon configuration; "default"
	TargetAppDBID int32
}

// Item is one campaign group run of a sequence.
type Item struct {
	Name                 string
	Pos                  Position
	CampaignDBID         int32
	GroupDBID            int32
	DialMode             ocs.DialMode
	Optimize             Optimize
	SleepBeforeNextStart time.Duration
	AutoCompletion       bool // resolved: item override, else sequence default
	StopAt               StopAt
}

// Optimize is the pacing goal of predictive modes.
type Optimize struct {
	By   ocs.OptimizeMethod // OptimizeNone when not set
	Goal int32
}

// StopAt lists the stop conditions; the first one met ends the item. Zero
// Contacts/Dials mean "not set".
type StopAt struct {
	Time     StopTime
	Contacts int32
	Dials    int32
}

// Any reports whether any stop condition is set.
func (s StopAt) Any() bool { return s.Time.Kind != StopNone || s.Contacts > 0 || s.Dials > 0 }

// StopTimeKind says how stopAt.time was written.
type StopTimeKind uint8

const (
	StopNone      StopTimeKind = iota
	StopTimeOfDay              // "20:30": the next such local time after the item started
	StopAfter                  // "+90m": a duration after the item started
	StopAbsolute               // RFC 3339
)

// StopTime is stopAt.time.
type StopTime struct {
	Kind      StopTimeKind
	TimeOfDay TimeOfDay
	After     time.Duration
	At        time.Time
}

func (s StopTime) String() string {
	switch s.Kind {
	case StopTimeOfDay:
		return s.TimeOfDay.String()
	case StopAfter:
		return "+" + s.After.String()
	case StopAbsolute:
		return s.At.Format(time.RFC3339)
	}
	return ""
}

// DoNotCallList is one validated DoNotCallList document.
type DoNotCallList struct {
	Name          string
	Pos           Position
	NamePos       Position `json:"-"` // of metadata.name
	TargetAppDBID int32
	Entries       []DNCEntry
	Hash          string
	Generation    int64
}

// DNCEntry is one number and/or customer to add to OCS's DNC tables.
type DNCEntry struct {
	Pos        Position
	Phone      string
	CustomerID string
	Reason     string
	Date       *Date
}

// Key identifies an entry across edits (phone and customer id).
func (e DNCEntry) Key() string { return e.Phone + "\x00" + e.CustomerID }

// Severity of a problem.
type Severity string

const (
	SeverityError   Severity = "error"
	SeverityWarning Severity = "warning"
)

// Problem is one validation finding. Its String form is the one `sequencer
// validate` prints: path:line:col: field.path: message.
type Problem struct {
	Path     string   `json:"path"`
	Line     int      `json:"line"`
	Column   int      `json:"column"`
	Field    string   `json:"field"`
	Severity Severity `json:"severity"`
	Message  string   `json:"message"`
}

func (p Problem) String() string {
	prefix := fmt.Sprintf("%s:%d:%d: ", p.Path, p.Line, p.Column)
	if p.Field != "" {
		prefix += p.Field + ": "
	}
	if p.Severity == SeverityWarning {
		prefix += "warning: "
	}
	return prefix + p.Message
}

// Snapshot is what the loader and the watcher deliver: every sequence and
// DNC list that is valid now or was valid before its file broke, plus the
// problems found.
type Snapshot struct {
	Sequences map[string]*Sequence
	DNCLists  map[string]*DoNotCallList
	// Halts are the kind: Halt documents in force: while any is, no
	// sequence dials. An invalid edit of a halt file keeps its last good
	// version, like any other kind: a typo never lifts a halt.
	Halts map[string]*Halt
	// Files maps each sequence and DNC list name to the file it came from.
	Files map[string]string
	// Invalid maps the name of a sequence that keeps running on its last
	// good version to the error that stopped its newer version (the
	// SpecInvalid condition).
	Invalid  map[string]string
	Problems []Problem
	// Err is a directory-level failure (unreadable directory); the
	// sequences are then the last good ones.
	Err error
}

// Halt is the stop switch as a spec file: while it exists, no sequence
// dials (running items are stopped, nothing starts). Deleting the file
// lifts it.
type Halt struct {
	Name    string
	Pos     Position
	NamePos Position // of metadata.name
	Reason  string
}
