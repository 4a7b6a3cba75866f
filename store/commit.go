package store

import (
	"errors"
	"fmt"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Batch is the durable writes of one reconciler turn: the progress of
// every sequence that moved, the intents of the requests about to leave and
// the outcomes of the answers that came back. Commit writes them in one
// transaction with one fsync, so a burst of thousands of sequences costs a
// handful of commits instead of one per request; a request leaves only
// after the commit that journals it.
type Batch struct {
	Progress []Progress
	Begin    []Intent     // written unless an intent with the same ID exists
	Settle   []Settlement // applied after Begin, in order
	// Fresh is set by Commit: Fresh[i] reports whether Begin[i] was new
	// (false: the journal already held that step, so an earlier attempt
	// may have reached OCS).
	Fresh []bool
}

// Settlement is the outcome of one intent.
type Settlement struct {
	ID      string
	State   IntentState
	Outcome string
	At      time.Time
}

// Len is the number of writes in b.
func (b *Batch) Len() int { return len(b.Progress) + len(b.Begin) + len(b.Settle) }

// Reset empties b for reuse, keeping its capacity.
func (b *Batch) Reset() {
	clear(b.Progress)
	clear(b.Begin)
	clear(b.Settle)
	b.Progress, b.Begin, b.Settle, b.Fresh = b.Progress[:0], b.Begin[:0], b.Settle[:0], b.Fresh[:0]
}

// Commit writes b in one transaction: all of it or, on error, none of it.
// A settlement of an intent the journal does not hold is skipped (it was
// pruned, or written by a build that did not journal it): it must not cost
// the rest of the batch.
func (s *Store) Commit(b *Batch) error {
	if b.Len() == 0 {
		return nil
	}
	progress := make([][]byte, len(b.Progress))
	for i, p := range b.Progress {
		if p.Sequence == "" {
			return errors.New("commit: progress with an empty sequence name")
		}
		raw, err := encode(p)
		if err != nil {
			return fmt.Errorf("commit: progress %q: %w", p.Sequence, err)
		}
		progress[i] = raw
	}
	fresh := make([]bool, len(b.Begin))
	err := s.updateNow(func(tx *bolt.Tx) error {
		pb := tx.Bucket(bucketProgress)
		for i, p := range b.Progress {
			if err := pb.Put([]byte(p.Sequence), progress[i]); err != nil {
				return err
			}
		}
		ib := tx.Bucket(bucketIntents)
		for i, in := range b.Begin {
			if in.ID == "" {
				return errors.New("begin intent: empty id")
			}
			if ib.Get([]byte(in.ID)) != nil {
				continue
			}
			if in.State == "" {
				in.State = IntentOpen
			}
			raw, err := encode(in)
			if err != nil {
				return err
			}
			if err := ib.Put([]byte(in.ID), raw); err != nil {
				return err
			}
			fresh[i] = true
		}
		for _, st := range b.Settle {
			raw := ib.Get([]byte(st.ID))
			if raw == nil {
				continue
			}
			in, ok := s.begun.get(st.ID)
			if !ok {
				var err error
				if in, err = decode[Intent](bucketIntents, []byte(st.ID), raw); err != nil {
					return err
				}
			}
			in.State, in.Outcome, in.Settled = st.State, st.Outcome, st.At
			enc, err := encode(in)
			if err != nil {
				return err
			}
			if err := ib.Put([]byte(st.ID), enc); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("commit %d writes: %w", b.Len(), err)
	}
	b.Fresh = append(b.Fresh[:0], fresh...)
	s.begun.update(b)
	return nil
}

// begunIntents keeps the intents Commit wrote until Commit settles them,
// so that a settlement re-encodes the intent instead of decoding it first
// (in a burst, the decoding was a fifth of a commit). Only what Begin
// wrote is kept, and only what never changes after it (a settlement
// replaces state, outcome and time); the record must still exist for the
// settlement to apply, as without the cache.
type begunIntents struct {
	mu sync.Mutex
	m  map[string]Intent
}

// maxBegun bounds the cache: intents whose answers never come (a crash
// of OCS, a lost link) would otherwise stay for ever.
const maxBegun = 1 << 16

func (c *begunIntents) get(id string) (Intent, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	in, ok := c.m[id]
	return in, ok
}

// update records what a committed batch began and forgets what it settled.
func (c *begunIntents) update(b *Batch) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) > maxBegun {
		c.m = map[string]Intent{}
	}
	for i, in := range b.Begin {
		if b.Fresh[i] {
			c.m[in.ID] = in // its state is replaced at its settlement
		}
	}
	for _, st := range b.Settle {
		delete(c.m, st.ID)
	}
}
