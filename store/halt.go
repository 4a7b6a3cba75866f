package store

import (
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

var keyHalt = []byte("halt")

// Halt is the operator's stop switch: while one is stored, no sequence
// dials. It outlives restarts until it is lifted.
type Halt struct {
	Reason string    `json:"reason"`
	Who    string    `json:"who"`
	Since  time.Time `json:"since"`
}

// Halt returns the stored halt, if any.
func (s *Store) Halt() (Halt, bool, error) {
	var h Halt
	var found bool
	err := s.db.View(func(tx *bolt.Tx) error {
		raw := tx.Bucket(bucketMeta).Get(keyHalt)
		if raw == nil {
			return nil
		}
		var err error
		h, err = decode[Halt](bucketMeta, keyHalt, raw)
		found = err == nil
		return err
	})
	return h, found, err
}

// PutHalt stores h, or lifts the halt when h is nil.
func (s *Store) PutHalt(h *Halt) error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketMeta)
		if h == nil {
			return b.Delete(keyHalt)
		}
		raw, err := encode(*h)
		if err != nil {
			return err
		}
		return b.Put(keyHalt, raw)
	})
	if err != nil {
		return fmt.Errorf("put halt: %w", err)
	}
	return nil
}
