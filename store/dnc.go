package store

import (
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// DNCState is where one Do-Not-Call entry stands.
type DNCState string

const (
	DNCPending   DNCState = "pending"   // not processed by OCS yet (never sent, or to be retried)
	DNCProcessed DNCState = "processed" // every answering OCS processed it
	DNCFailed    DNCState = "failed"    // an OCS refused it (invalid parameters): not retried
)

// DNCEntry is the outcome of one Do-Not-Call entry of a DoNotCallList
// spec, keyed by target application, phone and customer id so that moving
// an entry between files or lists does not submit it again.
type DNCEntry struct {
	Key        string     `json:"key"`
	List       string     `json:"list"`
	Target     int32      `json:"target"`
	Phone      string     `json:"phone,omitempty"`
	CustomerID string     `json:"customerID,omitempty"`
	State      DNCState   `json:"state"`
	Attempts   int        `json:"attempts,omitempty"`
	LastError  string     `json:"lastError,omitempty"`
	NextTry    time.Time  `json:"nextTry,omitzero"`
	Outcomes   []string   `json:"outcomes,omitempty"` // one line per answering OCS
	Processed  time.Time  `json:"processed,omitzero"`
	Removed    *time.Time `json:"removed,omitempty"` // gone from the spec; OCS keeps it
}

// DNCEntries returns every stored entry by key.
func (s *Store) DNCEntries() (map[string]DNCEntry, error) {
	out := map[string]DNCEntry{}
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketDNC).ForEach(func(k, v []byte) error {
			e, err := decode[DNCEntry](bucketDNC, k, v)
			if err != nil {
				return err
			}
			out[string(k)] = e
			return nil
		})
	})
	return out, err
}

// PutDNCEntries stores entries in one transaction.
func (s *Store) PutDNCEntries(es []DNCEntry) error {
	if len(es) == 0 {
		return nil
	}
	// bbolt inserts sorted keys without moving the rest of a page.
	es = slices.Clone(es)
	slices.SortFunc(es, func(a, b DNCEntry) int { return strings.Compare(a.Key, b.Key) })
	raws := make([][]byte, len(es))
	for i, e := range es {
		raw, err := encode(e)
		if err != nil {
			return err
		}
		raws[i] = raw
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketDNC)
		for i, e := range es {
			if err := b.Put([]byte(e.Key), raws[i]); err != nil {
				return err
			}
		}
		return nil
	})
}
