package store

import (
	"errors"
	"fmt"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
)

// ErrLinkMismatch: the database was made with another OCS link. Its
// progress and Do-Not-Call outcomes say what that OCS did, not this one.
var ErrLinkMismatch = errors.New("OCS link mismatch")

var keyLink = []byte("link")

// LinkIdentity names the OCS a database was made with, so that progress
// made against the simulator is never taken for a real OCS's (a sequence
// the simulator completed would never run on the real one, and its
// Do-Not-Call entries never reach it).
type LinkIdentity struct {
	Kind          string `json:"kind"`              // "sim", "bridge" or "http"
	Address       string `json:"address,omitempty"` // HOST:PORT (bridge) or URL (http); empty for sim
	TargetAppDBID int32  `json:"targetAppDBID"`     // the OCS application addressed by default
}

func (l LinkIdentity) String() string {
	where := l.Kind
	switch l.Kind {
	case "bridge":
		where = "bridge://" + l.Address
	case "http":
		where = l.Address
	}
	return fmt.Sprintf("%s (OCS application %d)", where, l.TargetAppDBID)
}

// dncBucket is the name of the nested bucket holding this link's
// Do-Not-Call outcomes.
func (l LinkIdentity) dncBucket() []byte {
	return fmt.Appendf(nil, "%s|%s|%d", l.Kind, l.Address, l.TargetAppDBID)
}

// Identity is the OCS link the database was made with (false: none
// recorded, a database of an older build opened without Options.Link).
func (s *Store) Identity() (LinkIdentity, bool) {
	if s.link == nil {
		return LinkIdentity{}, false
	}
	return *s.link, true
}

func storedLink(tx *bolt.Tx) (*LinkIdentity, error) {
	b := tx.Bucket(bucketMeta)
	if b == nil {
		return nil, nil
	}
	raw := b.Get(keyLink)
	if raw == nil {
		return nil, nil
	}
	l, err := decode[LinkIdentity](bucketMeta, keyLink, raw)
	if err != nil {
		return nil, err
	}
	return &l, nil
}

// linkChange is what checkLink did, logged once the transaction commits.
type linkChange struct {
	from      *LinkIdentity // nil: the database had none
	to        LinkIdentity
	legacyDNC int // Do-Not-Call outcomes recorded before identities were kept
	sequences int // histories that got an event
	newlyMade bool
}

// checkLink compares the stored identity with want: a database without
// one adopts want, one with another is refused unless adopt.
func (s *Store) checkLink(tx *bolt.Tx, want LinkIdentity, adopt, fresh bool) (*linkChange, error) {
	have, err := storedLink(tx)
	if err != nil {
		return nil, err
	}
	if have != nil && *have == want {
		s.link = have
		return nil, nil
	}
	if have != nil && !adopt {
		return nil, fmt.Errorf("%w: database %s was made with OCS link %s; this run uses %s. If OCS really moved, run again with --adopt-link; a simulator run uses its own data directory by default",
			ErrLinkMismatch, filepath.Dir(s.path), have, want)
	}
	s.link = &want
	if !tx.Writable() {
		return nil, nil // a read-only open records nothing
	}
	raw, err := encode(want)
	if err != nil {
		return nil, err
	}
	if err := tx.Bucket(bucketMeta).Put(keyLink, raw); err != nil {
		return nil, err
	}
	ch := &linkChange{from: have, to: want, newlyMade: fresh}
	if have == nil {
		// Outcomes of an older build do not say which OCS processed them:
		// they are submitted again, which OCS's Do-Not-Call tables (sets)
		// absorb, rather than taken as done by this one.
		if b := tx.Bucket(bucketDNC); b != nil {
			_ = b.ForEach(func(k, v []byte) error {
				if v != nil {
					ch.legacyDNC++
				}
				return nil
			})
		}
		return ch, nil
	}
	// Each sequence's history says from when its progress stands for the
	// new OCS.
	now := time.Now()
	hist := tx.Bucket(bucketHistory)
	err = tx.Bucket(bucketProgress).ForEach(func(k, _ []byte) error {
		e := Event{Sequence: string(k), At: now, Kind: "link-adopted",
			Message: fmt.Sprintf("OCS link changed from %s to %s (--adopt-link): this progress now stands for %s", have, want, want)}
		raw, err := encode(e)
		if err != nil {
			return err
		}
		ch.sequences++
		return hist.Put(historyKey(e.Sequence, e.At, s.seq.Add(1)), raw)
	})
	return ch, err
}

func (s *Store) logLinkChange(ch *linkChange) {
	if ch == nil || ch.newlyMade {
		return
	}
	if ch.from == nil {
		s.log.Info("database records its OCS link", "path", s.path, "link", ch.to.String())
		if ch.legacyDNC > 0 {
			s.log.Warn("Do-Not-Call outcomes recorded before the OCS link was kept will be submitted again (a repeat changes nothing on OCS)",
				"entries", ch.legacyDNC)
		}
		return
	}
	s.log.Warn("database adopts a new OCS link (--adopt-link)", "path", s.path, "from", ch.from.String(), "to", ch.to.String(),
		"histories", ch.sequences)
}
