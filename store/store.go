// Package store keeps the daemon's durable state in one bbolt file: the
// progress of every sequence, the intent journal written before each OCS
// request, an append-only history, and the last observed status of every
// campaign group. It is the only package that imports bbolt.
//
// Values are JSON objects carrying a format version, {"v":1,...}; the field
// names are those of the Go types below (they are part of the backup
// contract). Keys: progress and intents by name/id; history by
// sequence + 0x00 + big-endian Unix nanoseconds + big-endian sequence
// number, so a sequence's events scan in time order; group status by
// big-endian campaign and group DBIDs. meta/link is the OCS link the file
// was made with (LinkIdentity); Do-Not-Call outcomes live in a bucket per
// link inside dnc, named kind|address|targetAppDBID, so that what one OCS
// processed is still to do for another.
package store

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// FileName is the database file inside the data directory.
const FileName = "sequencer.db"

// SchemaVersion is the layout this build writes.
const SchemaVersion = 1

// Errors; match with errors.Is.
var (
	ErrLocked        = errors.New("database is locked by another process")
	ErrCorrupt       = errors.New("corrupt value")
	ErrSchemaTooNew  = errors.New("database schema is newer than this build")
	ErrClosed        = errors.New("store is closed")
	ErrUnknownIntent = errors.New("unknown intent")
	// ErrFenced: the write was refused because this daemon is no longer
	// the leader (HA). Unlike a full disk, nothing may be sent after it,
	// not even a stop: it would stop the new leader's item.
	ErrFenced  = errors.New("not the leader: write fenced")
	ErrDamaged = errors.New("database file is damaged")
)

var (
	bucketMeta     = []byte("meta")
	bucketProgress = []byte("progress")
	bucketIntents  = []byte("intents")
	bucketHistory  = []byte("history")
	bucketGroups   = []byte("groups")
	bucketDNC      = []byte("dnc")
	keySchema      = []byte("schema")
	allBuckets     = [][]byte{bucketMeta, bucketProgress, bucketIntents, bucketHistory, bucketGroups, bucketDNC}
)

// Options of Open. Zero values take the defaults in brackets.
type Options struct {
	LockTimeout           time.Duration // [1s] then ErrLocked
	HistoryMaxAge         time.Duration // [30 days]
	HistoryMaxPerSequence int           // [10000]
	BatchDelay            time.Duration // group-commit window [2ms]
	NoSync                bool          // tests only: no fsync
	ReadOnly              bool
	Logger                *slog.Logger
	// Link is the OCS this run talks to. A database made with another is
	// refused (ErrLinkMismatch) unless AdoptLink; one that has none yet
	// (older builds) takes it. Nil: no check (the offline db tools).
	Link      *LinkIdentity
	AdoptLink bool
}

// Store is an open database. Its methods are safe for concurrent use.
type Store struct {
	db   *bolt.DB
	opts Options
	log  *slog.Logger
	path string
	link *LinkIdentity // scopes the Do-Not-Call outcomes; nil: none recorded
	seq  atomic.Uint64 // history tiebreaker within one nanosecond
	// broken is the first ErrDamaged a method met; from then on every
	// method returns it without touching bbolt.
	broken atomic.Pointer[error]
	begun  begunIntents // for Commit's settlements
}

// upgrades[n] moves a schema from version n to n+1.
var upgrades = map[int]func(tx *bolt.Tx) error{}

// Open opens or creates the store at path. A file bbolt cannot read is
// ErrDamaged, never a panic, and an empty one is refused rather than made
// into a fresh database: progress would silently restart from nothing.
func Open(path string, opts Options) (*Store, error) {
	if opts.LockTimeout <= 0 {
		opts.LockTimeout = time.Second
	}
	if opts.HistoryMaxAge <= 0 {
		opts.HistoryMaxAge = 30 * 24 * time.Hour
	}
	if opts.HistoryMaxPerSequence <= 0 {
		opts.HistoryMaxPerSequence = 10000
	}
	if opts.BatchDelay <= 0 {
		opts.BatchDelay = 2 * time.Millisecond
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	fresh, err := checkFile(path)
	if err != nil {
		return nil, err
	}
	db, err := openBolt(path, &bolt.Options{Timeout: opts.LockTimeout, NoSync: opts.NoSync, ReadOnly: opts.ReadOnly})
	if err != nil {
		return nil, err
	}
	db.MaxBatchDelay = opts.BatchDelay
	db.MaxBatchSize = 1000
	s := &Store{db: db, opts: opts, log: opts.Logger, path: path}
	var change *linkChange
	start := func(tx *bolt.Tx) error {
		if err := checkLength(tx, path); err != nil {
			return err
		}
		if tx.Writable() {
			if err := s.migrate(tx); err != nil {
				return err
			}
		} else if err := checkSchema(tx); err != nil {
			return err
		}
		if opts.Link == nil {
			l, err := storedLink(tx)
			s.link = l
			return err
		}
		ch, err := s.checkLink(tx, *opts.Link, opts.AdoptLink, fresh)
		change = ch
		return err
	}
	if opts.ReadOnly {
		err = s.view(start)
	} else {
		err = s.updateNow(start)
	}
	if err != nil {
		db.Close()
		if errors.Is(err, ErrLinkMismatch) || errors.Is(err, ErrDamaged) {
			return nil, err // they name the file already
		}
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	s.logLinkChange(change)
	return s, nil
}

// checkFile refuses an empty file and says whether path is to be made.
func checkFile(path string) (fresh bool, err error) {
	info, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return true, nil
	case err != nil:
		return false, fmt.Errorf("open %s: %w", path, err)
	case info.Size() == 0:
		return false, fmt.Errorf("open %s: %w: the file is empty (0 bytes); restore the latest backup (`sequencer db backup` makes them), or remove the file to start again with no progress",
			path, ErrDamaged)
	}
	return false, nil
}

// openBolt opens the file, turning bbolt's panics and its errors about
// unreadable meta pages into ErrDamaged.
func openBolt(path string, o *bolt.Options) (db *bolt.DB, err error) {
	if err := preflight(path); err != nil {
		return nil, err
	}
	defer catch(path, &err)()
	db, err = bolt.Open(path, 0o600, o)
	switch {
	case err == nil:
		return db, nil
	case errors.Is(err, bolterrors.ErrTimeout):
		return nil, fmt.Errorf("open %s: %w (waited %s)", path, ErrLocked, o.Timeout)
	case errors.Is(err, bolterrors.ErrInvalid), errors.Is(err, bolterrors.ErrChecksum),
		errors.Is(err, bolterrors.ErrVersionMismatch), strings.Contains(err.Error(), "file size too small"):
		return nil, damaged(path, err)
	}
	return nil, fmt.Errorf("open %s: %w", path, err)
}

// checkLength refuses a file shorter than its pages: bbolt would read past
// the end of the mapping, a fault that its own checker (which runs on a
// goroutine of its own) cannot recover from.
func checkLength(tx *bolt.Tx, path string) error {
	info, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	if need := tx.Size(); info.Size() < need {
		ps := int64(tx.DB().Info().PageSize)
		return damaged(path, fmt.Sprintf("the file is %d bytes long but holds %d pages of %d bytes: it was truncated", info.Size(), need/ps, ps))
	}
	return nil
}

// damaged is the error for a file bbolt cannot read: it says what to do.
func damaged(path string, cause any) error {
	return fmt.Errorf("%s: %w (%v): run `sequencer db check --data %s` for details, or restore the latest backup (`sequencer db backup` makes them)",
		path, ErrDamaged, cause, filepath.Dir(path))
}

// catch turns a panic of bbolt reading a damaged page, or a fault on a
// mapped page past the end of a truncated file, into ErrDamaged. Use it
// as defer catch(path, &err)().
func catch(path string, err *error) func() {
	old := debug.SetPanicOnFault(true)
	return func() {
		debug.SetPanicOnFault(old)
		if r := recover(); r != nil {
			*err = damaged(path, r)
		}
	}
}

// view, updateNow and update are the only ways into bbolt, so that every
// exported method reports a damaged file as an error.
func (s *Store) view(fn func(tx *bolt.Tx) error) (err error) {
	if err := s.broken.Load(); err != nil {
		return *err
	}
	defer s.catch(&err)()
	return s.db.View(fn)
}

func (s *Store) updateNow(fn func(tx *bolt.Tx) error) (err error) {
	if err := s.broken.Load(); err != nil {
		return *err
	}
	defer s.catch(&err)()
	return s.db.Update(fn)
}

// catch is the package's catch, and after a panic the store refuses all
// further work: a panic in a write can leave bbolt's writer lock held
// (its rollback panics too), and the next write would wait forever.
func (s *Store) catch(err *error) func() {
	old := debug.SetPanicOnFault(true)
	return func() {
		debug.SetPanicOnFault(old)
		if r := recover(); r != nil { // recover works only here, in the deferred call itself
			*err = damaged(s.path, r)
			first := *err
			s.broken.CompareAndSwap(nil, &first)
		}
	}
}

func checkSchema(tx *bolt.Tx) error {
	b := tx.Bucket(bucketMeta)
	if b == nil {
		return nil
	}
	if v := b.Get(keySchema); v != nil {
		var n int
		if err := json.Unmarshal(v, &n); err != nil {
			return fmt.Errorf("meta/schema: %w: %v", ErrCorrupt, err)
		}
		if n > SchemaVersion {
			return fmt.Errorf("%w: file has %d, this build knows %d", ErrSchemaTooNew, n, SchemaVersion)
		}
	}
	return nil
}

func (s *Store) migrate(tx *bolt.Tx) error {
	for _, name := range allBuckets {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return err
		}
	}
	meta := tx.Bucket(bucketMeta)
	ver := 0
	if v := meta.Get(keySchema); v != nil {
		if err := json.Unmarshal(v, &ver); err != nil {
			return fmt.Errorf("meta/schema: %w: %v", ErrCorrupt, err)
		}
	} else {
		ver = SchemaVersion // a new file starts current
	}
	if ver > SchemaVersion {
		return fmt.Errorf("%w: file has %d, this build knows %d", ErrSchemaTooNew, ver, SchemaVersion)
	}
	for ; ver < SchemaVersion; ver++ {
		up, ok := upgrades[ver]
		if !ok {
			return fmt.Errorf("no upgrade from schema %d", ver)
		}
		if err := up(tx); err != nil {
			return fmt.Errorf("upgrade schema %d: %w", ver, err)
		}
	}
	v, _ := json.Marshal(SchemaVersion)
	return meta.Put(keySchema, v)
}

// Close closes the file.
func (s *Store) Close() error {
	broken := s.broken.Load()
	if broken == nil {
		return s.db.Close()
	}
	// bbolt's close waits for the writer lock, which a panicked write may
	// hold for ever: give it a moment, then leave the file to the exit.
	closed := make(chan error, 1)
	go func() { closed <- s.db.Close() }()
	select {
	case err := <-closed:
		return err
	case <-time.After(time.Second):
		return fmt.Errorf("close: %w", *broken)
	}
}

// Damaged is the ErrDamaged the store met since Open, or nil. From then on
// every method fails: a daemon should stop rather than run without a
// memory.
func (s *Store) Damaged() error {
	if err := s.broken.Load(); err != nil {
		return *err
	}
	return nil
}

// Path is the database file.
func (s *Store) Path() string { return s.db.Path() }

// envelope versions every value.
type envelope[T any] struct {
	V    int `json:"v"`
	Data T   `json:"data"`
}

func encode[T any](v T) ([]byte, error) {
	switch x := any(v).(type) { // the two written for every request: jsonenc.go
	case Progress:
		return encodeProgress(&x)
	case Intent:
		return encodeIntent(&x)
	}
	return json.Marshal(envelope[T]{V: 1, Data: v})
}

// decode copies out of the transaction by unmarshalling; the error names
// the bucket and key.
func decode[T any](bucket, key []byte, raw []byte) (T, error) {
	var e envelope[T]
	if err := json.Unmarshal(raw, &e); err != nil {
		return e.Data, fmt.Errorf("decode %s %q: %w: %v", bucket, printableKey(key), ErrCorrupt, err)
	}
	if e.V != 1 {
		return e.Data, fmt.Errorf("decode %s %q: %w: unknown value version %d", bucket, printableKey(key), ErrCorrupt, e.V)
	}
	return e.Data, nil
}

func printableKey(k []byte) string {
	if i := bytes.IndexByte(k, 0); i >= 0 {
		return fmt.Sprintf("%s@%x", k[:i], k[i+1:])
	}
	return string(k)
}

// update runs fn in a batched transaction: concurrent callers within
// BatchDelay share one commit and one fsync. The reconciler's progress and
// intent writes do not use it: they come from one goroutine, one at a time,
// so a batch window would only add latency before each OCS request.
func (s *Store) update(fn func(tx *bolt.Tx) error) (err error) {
	if err := s.broken.Load(); err != nil {
		return *err
	}
	// bbolt runs a batch's functions under its own recover and retries a
	// panicking one alone on this goroutine, where catch sees it. A panic
	// in the shared commit (rebalancing reads sibling pages), on bbolt's
	// timer goroutine, is beyond reach.
	defer s.catch(&err)()
	return s.db.Batch(fn)
}

// Counters are dial counts.
type Counters struct {
	Dials    int64 `json:"dials"`
	Contacts int64 `json:"contacts"`
}

// ItemResult is a finished item of a run.
type ItemResult struct {
	Name     string    `json:"name"`
	Started  time.Time `json:"started"`
	Ended    time.Time `json:"ended"`
	Reason   string    `json:"reason"`
	Dials    int64     `json:"dials"`
	Contacts int64     `json:"contacts"`
}

// SkippedStart is a start that did not run.
type SkippedStart struct {
	Scheduled time.Time `json:"scheduled"`
	Reason    string    `json:"reason"`
	Count     int       `json:"count"`
}

// RunSummary is a finished run.
type RunSummary struct {
	ID        string       `json:"id"`
	Scheduled time.Time    `json:"scheduled"`
	Started   time.Time    `json:"started"`
	Ended     time.Time    `json:"ended"`
	Items     []ItemResult `json:"items"`
}

// Override is an API suspend or resume, with who, why, when, and an
// optional expiry.
type Override struct {
	Suspended bool      `json:"suspended"`
	Who       string    `json:"who"`
	Why       string    `json:"why"`
	At        time.Time `json:"at"`
	Until     time.Time `json:"until,omitzero"`
}

// Run is the run in progress of a sequence. ItemState and the fields after
// it belong to the reconciler, which documents their meaning.
type Run struct {
	ID              string       `json:"id"` // sequence@scheduled start (RFC 3339, UTC)
	Scheduled       time.Time    `json:"scheduled"`
	Started         time.Time    `json:"started"`
	Item            int          `json:"item"`
	ItemName        string       `json:"itemName"`
	ItemState       string       `json:"itemState"`
	ItemStarted     time.Time    `json:"itemStarted,omitzero"`
	SleepUntil      time.Time    `json:"sleepUntil,omitzero"`
	PausedAt        time.Time    `json:"pausedAt,omitzero"`
	CountersAtStart Counters     `json:"countersAtStart"`
	Carried         Counters     `json:"carried"` // counts of earlier loads of this item (OCS restarts)
	Items           []ItemResult `json:"items,omitempty"`
	Segment         int          `json:"segment"` // bumps at each stop, so each start/stop has its own intent id
	CampaignDBID    int32        `json:"campaignDBID,omitempty"`
	GroupDBID       int32        `json:"groupDBID,omitempty"`
	DialMode        int32        `json:"dialMode,omitempty"`
	OptimizeBy      int32        `json:"optimizeBy,omitempty"`
	OptimizeGoal    int32        `json:"optimizeGoal,omitempty"`
	StopGoal        string       `json:"stopGoal,omitempty"`
	EndReason       string       `json:"endReason,omitempty"`
	PauseReason     string       `json:"pauseReason,omitempty"`
	// ReloadedAt: when the item was last loaded again after OCS lost it,
	// so that a second loss at once is not met with a reload loop.
	ReloadedAt time.Time `json:"reloadedAt,omitzero"`
	// OutsideSince: when a Load of this item was refused because someone
	// else had the group loaded. A crash during the next Load must not
	// take the group found loaded for ours.
	OutsideSince time.Time `json:"outsideSince,omitzero"`
}

// Progress is everything durable about one sequence.
type Progress struct {
	Sequence      string            `json:"sequence"`
	SpecHash      string            `json:"specHash"`
	Generation    int64             `json:"generation"`
	Run           *Run              `json:"run,omitempty"`
	LastScheduled time.Time         `json:"lastScheduled,omitzero"` // latest scheduled start handled (fired or skipped)
	FiredStarts   []time.Time       `json:"firedStarts,omitempty"`
	SkippedStarts []SkippedStart    `json:"skippedStarts,omitempty"`
	Completed     []RunSummary      `json:"completed,omitempty"`
	Override      *Override         `json:"override,omitempty"`
	Engine        map[string]string `json:"engine,omitempty"`
	UpdatedAt     time.Time         `json:"updatedAt"`
}

// Clone returns a copy of p that shares nothing mutable with it: the loop
// hands progress to a commit running on another goroutine and goes on
// changing its own.
func (p Progress) Clone() Progress {
	c := p
	if p.Run != nil {
		run := *p.Run
		run.Items = slices.Clone(p.Run.Items)
		c.Run = &run
	}
	c.FiredStarts = slices.Clone(p.FiredStarts)
	c.SkippedStarts = slices.Clone(p.SkippedStarts)
	if p.Completed != nil {
		c.Completed = make([]RunSummary, len(p.Completed))
		for i, rs := range p.Completed {
			rs.Items = slices.Clone(rs.Items)
			c.Completed[i] = rs
		}
	}
	if p.Override != nil {
		o := *p.Override
		c.Override = &o
	}
	c.Engine = maps.Clone(p.Engine)
	return c
}

// Progress returns one sequence's progress.
func (s *Store) Progress(seq string) (Progress, bool, error) {
	var p Progress
	var found bool
	err := s.view(func(tx *bolt.Tx) error {
		raw := tx.Bucket(bucketProgress).Get([]byte(seq))
		if raw == nil {
			return nil
		}
		var err error
		p, err = decode[Progress](bucketProgress, []byte(seq), raw)
		found = err == nil
		return err
	})
	return p, found, err
}

// AllProgress returns every sequence's progress, by name.
func (s *Store) AllProgress() ([]Progress, error) {
	var out []Progress
	err := s.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketProgress).ForEach(func(k, v []byte) error {
			p, err := decode[Progress](bucketProgress, k, v)
			if err != nil {
				return err
			}
			out = append(out, p)
			return nil
		})
	})
	return out, err
}

// PutProgress stores p durably (group commit).
func (s *Store) PutProgress(p Progress) error {
	if p.Sequence == "" {
		return errors.New("put progress: empty sequence name")
	}
	raw, err := encode(p)
	if err != nil {
		return fmt.Errorf("put progress %q: %w", p.Sequence, err)
	}
	return s.updateNow(func(tx *bolt.Tx) error { return tx.Bucket(bucketProgress).Put([]byte(p.Sequence), raw) })
}

// DeleteProgress removes a sequence's progress; its history stays.
func (s *Store) DeleteProgress(seq string) error {
	return s.update(func(tx *bolt.Tx) error { return tx.Bucket(bucketProgress).Delete([]byte(seq)) })
}

// IntentState is the life of a journaled request.
type IntentState string

const (
	IntentOpen   IntentState = "open"
	IntentDone   IntentState = "done"
	IntentFailed IntentState = "failed"
)

// Intent is one journaled OCS request.
type Intent struct {
	ID       string      `json:"id"`
	Sequence string      `json:"sequence"`
	Run      string      `json:"run"`
	Item     int         `json:"item"`
	Action   string      `json:"action"`
	Request  string      `json:"request,omitempty"`
	Created  time.Time   `json:"created"`
	State    IntentState `json:"state"`
	Outcome  string      `json:"outcome,omitempty"`
	Settled  time.Time   `json:"settled,omitzero"`
}

// BeginIntent writes in unless an intent with its ID exists, which it
// returns instead (fresh false): the journal never holds a step twice.
func (s *Store) BeginIntent(in Intent) (Intent, bool, error) {
	if in.ID == "" {
		return in, false, errors.New("begin intent: empty id")
	}
	if in.State == "" {
		in.State = IntentOpen
	}
	var existing Intent
	fresh := false
	err := s.updateNow(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketIntents)
		if raw := b.Get([]byte(in.ID)); raw != nil {
			var err error
			existing, err = decode[Intent](bucketIntents, []byte(in.ID), raw)
			return err
		}
		raw, err := encode(in)
		if err != nil {
			return err
		}
		existing, fresh = in, true
		return b.Put([]byte(in.ID), raw)
	})
	if err != nil {
		return Intent{}, false, fmt.Errorf("begin intent %s: %w", in.ID, err)
	}
	return existing, fresh, nil
}

// SettleIntent records the outcome of an intent (it may be settled again:
// a retry of a failed step ends done).
func (s *Store) SettleIntent(id string, state IntentState, outcome string, at time.Time) error {
	err := s.updateNow(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketIntents)
		raw := b.Get([]byte(id))
		if raw == nil {
			return ErrUnknownIntent
		}
		in, err := decode[Intent](bucketIntents, []byte(id), raw)
		if err != nil {
			return err
		}
		in.State, in.Outcome, in.Settled = state, outcome, at
		enc, err := encode(in)
		if err != nil {
			return err
		}
		return b.Put([]byte(id), enc)
	})
	if err != nil {
		return fmt.Errorf("settle intent %s: %w", id, err)
	}
	return nil
}

// Intent returns one intent.
func (s *Store) Intent(id string) (Intent, bool, error) {
	var in Intent
	var ok bool
	err := s.view(func(tx *bolt.Tx) error {
		raw := tx.Bucket(bucketIntents).Get([]byte(id))
		if raw == nil {
			return nil
		}
		var err error
		in, err = decode[Intent](bucketIntents, []byte(id), raw)
		ok = err == nil
		return err
	})
	return in, ok, err
}

// OpenIntents returns the intents a crash left open, oldest first.
func (s *Store) OpenIntents() ([]Intent, error) {
	var out []Intent
	err := s.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketIntents).ForEach(func(k, v []byte) error {
			in, err := decode[Intent](bucketIntents, k, v)
			if err != nil {
				return err
			}
			if in.State == IntentOpen {
				out = append(out, in)
			}
			return nil
		})
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Created.Before(out[j].Created) })
	return out, err
}

// Event is one history entry.
type Event struct {
	Sequence string            `json:"sequence"`
	At       time.Time         `json:"at"`
	Kind     string            `json:"kind"`
	Run      string            `json:"run,omitempty"`
	Item     string            `json:"item,omitempty"`
	Action   string            `json:"action,omitempty"`
	Message  string            `json:"message"`
	SpecHash string            `json:"specHash,omitempty"`
	Fields   map[string]string `json:"fields,omitempty"`
}

func historyKey(seq string, at time.Time, n uint64) []byte {
	k := make([]byte, 0, len(seq)+17)
	k = append(k, seq...)
	k = append(k, 0)
	k = binary.BigEndian.AppendUint64(k, uint64(at.UnixNano()))
	return binary.BigEndian.AppendUint64(k, n)
}

// Append adds events to the history (group commit).
func (s *Store) Append(evs ...Event) error {
	if len(evs) == 0 {
		return nil
	}
	type kv struct{ k, v []byte }
	rows := make([]kv, 0, len(evs))
	for _, e := range evs {
		raw, err := encode(e)
		if err != nil {
			return fmt.Errorf("append history: %w", err)
		}
		rows = append(rows, kv{historyKey(e.Sequence, e.At, s.seq.Add(1)), raw})
	}
	return s.update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketHistory)
		for _, r := range rows {
			if err := b.Put(r.k, r.v); err != nil {
				return err
			}
		}
		return nil
	})
}

// History returns a sequence's events in [since, until) (zero = open), the
// newest `limit` of them (0 = all), oldest first.
func (s *Store) History(seq string, since, until time.Time, limit int) ([]Event, error) {
	var out []Event
	prefix := append([]byte(seq), 0)
	err := s.view(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketHistory).Cursor()
		start := prefix
		if !since.IsZero() {
			start = historyKey(seq, since, 0)
		}
		for k, v := c.Seek(start); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			e, err := decode[Event](bucketHistory, k, v)
			if err != nil {
				return err
			}
			if !until.IsZero() && !e.At.Before(until) {
				break
			}
			out = append(out, e)
		}
		return nil
	})
	if limit > 0 && len(out) > limit {
		out = out[len(out)-limit:]
	}
	return out, err
}

// pruneChunk is the most deletes one prune transaction makes, and
// pruneScan the most keys one of its reads walks: bbolt has one writer,
// and the reconciler's commits (each before an OCS request) must never
// wait behind the hourly prune for long.
const (
	pruneChunk = 1000
	pruneScan  = 20000
)

// pruneHook, when set (tests), runs between two prune transactions.
var pruneHook func()

// Prune drops history older than HistoryMaxAge and beyond
// HistoryMaxPerSequence per sequence, and settled intents older than
// HistoryMaxAge. It finds what to drop in short read transactions (which
// do not block writers) and deletes it in transactions of at most
// pruneChunk keys, so other writes commit in between.
func (s *Store) Prune(now time.Time) (int, error) {
	cutoff := now.Add(-s.opts.HistoryMaxAge)
	removed := 0
	// Within a sequence, keys are in time order, and both rules drop the
	// oldest: what a chunk deletes is a prefix of the sequence, so the
	// next read can start again at the sequence itself and count afresh.
	var from []byte
	for {
		drop, next, err := s.pruneHistoryScan(from, cutoff)
		if err != nil {
			return removed, fmt.Errorf("prune history: %w", err)
		}
		if err := s.deleteKeys(bucketHistory, drop); err != nil {
			return removed, fmt.Errorf("prune history: %w", err)
		}
		removed += len(drop)
		if next == nil {
			break
		}
		from = next
	}
	from = nil
	for {
		drop, next, err := s.pruneIntentsScan(from, cutoff)
		if err != nil {
			return removed, fmt.Errorf("prune intents: %w", err)
		}
		if err := s.deleteKeys(bucketIntents, drop); err != nil {
			return removed, fmt.Errorf("prune intents: %w", err)
		}
		if next == nil {
			break
		}
		from = next
	}
	return removed, nil
}

// pruneHistoryScan returns up to pruneChunk history keys to drop, from
// the sequence that starts at from, and where the next scan starts (nil:
// done).
func (s *Store) pruneHistoryScan(from []byte, cutoff time.Time) (drop [][]byte, next []byte, err error) {
	err = s.view(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketHistory).Cursor()
		var cur []byte
		var keys [][]byte
		scanned := 0
		// flush picks the keys of the sequence just walked; it reports
		// false once the chunk is full.
		flush := func() bool {
			n := len(keys) - s.opts.HistoryMaxPerSequence
			for i, k := range keys {
				ts := int64(binary.BigEndian.Uint64(k[len(k)-16 : len(k)-8]))
				if i < n || time.Unix(0, ts).Before(cutoff) {
					drop = append(drop, k)
				}
				if len(drop) == pruneChunk {
					return false
				}
			}
			keys = keys[:0]
			return true
		}
		k, _ := c.First()
		if from != nil {
			k, _ = c.Seek(from)
		}
		for ; k != nil; k, _ = c.Next() {
			i := bytes.IndexByte(k, 0)
			if i < 0 || len(k) != i+17 {
				continue
			}
			if cur == nil || !bytes.Equal(cur, k[:i]) {
				if !flush() || scanned >= pruneScan {
					// Start again at this sequence (or at the one the
					// full chunk stopped in).
					next = append(append([]byte(nil), cur...), 0)
					if len(drop) < pruneChunk {
						next = append(append([]byte(nil), k[:i]...), 0)
					}
					return nil
				}
				cur = append(cur[:0], k[:i]...)
			}
			keys = append(keys, append([]byte(nil), k...))
			scanned++
		}
		if !flush() {
			next = append(append([]byte(nil), cur...), 0)
		}
		return nil
	})
	return drop, next, err
}

// pruneIntentsScan returns up to pruneChunk settled intents older than
// cutoff, from key from on, and where the next scan starts (nil: done).
func (s *Store) pruneIntentsScan(from []byte, cutoff time.Time) (drop [][]byte, next []byte, err error) {
	err = s.view(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketIntents).Cursor()
		k, v := c.First()
		if from != nil {
			k, v = c.Seek(from)
		}
		for scanned := 0; k != nil; k, v = c.Next() {
			if len(drop) == pruneChunk || scanned == pruneScan {
				next = append([]byte(nil), k...)
				return nil
			}
			scanned++
			in, err := decode[Intent](bucketIntents, k, v)
			if err != nil {
				return err
			}
			if in.State != IntentOpen && in.Settled.Before(cutoff) {
				drop = append(drop, append([]byte(nil), k...))
			}
		}
		return nil
	})
	return drop, next, err
}

// deleteKeys deletes keys of bucket in one transaction, then lets other
// writers in.
func (s *Store) deleteKeys(bucket []byte, keys [][]byte) error {
	if len(keys) == 0 {
		return nil
	}
	err := s.updateNow(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucket)
		for _, k := range keys {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
	if pruneHook != nil {
		pruneHook()
	}
	runtime.Gosched()
	return err
}

// GroupStatus is the last observed OCS status of a campaign group.
type GroupStatus struct {
	CampaignDBID int32     `json:"campaignDBID"`
	GroupDBID    int32     `json:"groupDBID"`
	Status       int32     `json:"status"`
	DialMode     int32     `json:"dialMode"`
	Dials        int64     `json:"dials"`
	Contacts     int64     `json:"contacts"`
	RecordsLeft  int64     `json:"recordsLeft"`
	Sequence     string    `json:"sequence,omitempty"`
	At           time.Time `json:"at"`
}

func groupKey(c, g int32) []byte {
	k := binary.BigEndian.AppendUint32(nil, uint32(c))
	return binary.BigEndian.AppendUint32(k, uint32(g))
}

// PutGroupStatus stores observations (group commit).
func (s *Store) PutGroupStatus(gs ...GroupStatus) error {
	if len(gs) == 0 {
		return nil
	}
	raws := make([][]byte, len(gs))
	for i, g := range gs {
		raw, err := encode(g)
		if err != nil {
			return err
		}
		raws[i] = raw
	}
	put := s.update
	if len(gs) > 1 {
		// A caller that already gathered many observations (the
		// reconciler's recorder) gains nothing from the batch window.
		put = s.updateNow
	}
	return put(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketGroups)
		for i, g := range gs {
			if err := b.Put(groupKey(g.CampaignDBID, g.GroupDBID), raws[i]); err != nil {
				return err
			}
		}
		return nil
	})
}

// GroupStatuses returns every stored observation.
func (s *Store) GroupStatuses() ([]GroupStatus, error) {
	var out []GroupStatus
	err := s.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketGroups).ForEach(func(k, v []byte) error {
			g, err := decode[GroupStatus](bucketGroups, k, v)
			if err != nil {
				return err
			}
			out = append(out, g)
			return nil
		})
	})
	return out, err
}

// Backup writes a consistent copy of the database to w while the store is
// in use.
func (s *Store) Backup(w io.Writer) (int64, error) {
	var n int64
	err := s.view(func(tx *bolt.Tx) error {
		var err error
		n, err = tx.WriteTo(w)
		return err
	})
	return n, err
}

// Check verifies bbolt's page structure and decodes every value; the
// errors name the bucket and key.
func (s *Store) Check() error {
	err := s.view(func(tx *bolt.Tx) error {
		if err := checkLength(tx, s.path); err != nil {
			return err
		}
		if err := preflight(s.path); err != nil {
			return err
		}
		var errs []error
		if _, err := storedLink(tx); err != nil {
			errs = append(errs, err)
		}
		if err := checkSchema(tx); err != nil {
			errs = append(errs, err)
		}
		checks := map[string]func(k, v []byte) error{
			string(bucketProgress): func(k, v []byte) error { _, err := decode[Progress](bucketProgress, k, v); return err },
			string(bucketIntents):  func(k, v []byte) error { _, err := decode[Intent](bucketIntents, k, v); return err },
			string(bucketHistory):  func(k, v []byte) error { _, err := decode[Event](bucketHistory, k, v); return err },
			string(bucketGroups):   func(k, v []byte) error { _, err := decode[GroupStatus](bucketGroups, k, v); return err },
			string(bucketDNC):      func(k, v []byte) error { _, err := decode[DNCEntry](bucketDNC, k, v); return err },
		}
		var walk func(b *bolt.Bucket, fn func(k, v []byte) error)
		walk = func(b *bolt.Bucket, fn func(k, v []byte) error) {
			_ = b.ForEach(func(k, v []byte) error {
				if v == nil { // the Do-Not-Call outcomes of one OCS link
					if nb := b.Bucket(k); nb != nil {
						walk(nb, fn)
					}
					return nil
				}
				if err := fn(k, v); err != nil {
					errs = append(errs, err)
				}
				return nil
			})
		}
		// The walk reads every page in use on this goroutine, where a bad
		// one is caught; bbolt's own check runs on a goroutine of its own,
		// where a page past the end of the mapping would crash the process.
		for _, name := range []string{string(bucketProgress), string(bucketIntents), string(bucketHistory), string(bucketGroups), string(bucketDNC)} {
			b := tx.Bucket([]byte(name))
			if b == nil {
				errs = append(errs, fmt.Errorf("bucket %s missing", name))
				continue
			}
			walk(b, checks[name])
		}
		for err := range tx.Check() {
			errs = append(errs, err)
		}
		return errors.Join(errs...)
	})
	if err != nil && !errors.Is(err, ErrDamaged) { // ErrDamaged names the file
		return fmt.Errorf("check %s: %w", s.path, err)
	}
	return err
}

// Compact copies src into a new, compacted dst (offline: src must not be
// open elsewhere).
func Compact(src, dst string) (err error) {
	if _, err := os.Stat(dst); err == nil {
		return fmt.Errorf("compact: %s already exists", dst)
	}
	if fresh, err := checkFile(src); err != nil || fresh {
		return cmp.Or(err, fmt.Errorf("compact %s: no such file", src))
	}
	from, err := openBolt(src, &bolt.Options{Timeout: time.Second, ReadOnly: true})
	if err != nil {
		return fmt.Errorf("compact: %w", err)
	}
	defer from.Close()
	if err := from.View(func(tx *bolt.Tx) error { return checkLength(tx, src) }); err != nil {
		return fmt.Errorf("compact: %w", err)
	}
	to, err := bolt.Open(dst, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		return fmt.Errorf("compact %s: %w", dst, err)
	}
	err = func() (err error) {
		defer catch(src, &err)()
		return bolt.Compact(to, from, 1<<20)
	}()
	if err != nil {
		to.Close()
		os.Remove(dst)
		return fmt.Errorf("compact: %w", err)
	}
	return to.Close()
}
