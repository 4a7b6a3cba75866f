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

// dncEntries is the bucket of the outcomes of the database's OCS link:
// what the simulator processed is still to do for a real OCS. Nil when a
// read finds none yet.
func (s *Store) dncEntries(tx *bolt.Tx) (*bolt.Bucket, error) {
	b := tx.Bucket(bucketDNC)
	if s.link == nil {
		return b, nil // a database of an older build, opened by a tool
	}
	name := s.link.dncBucket()
	if nb := b.Bucket(name); nb != nil || !tx.Writable() {
		return nb, nil
	}
	return b.CreateBucket(name)
}

// DNCEntries returns every stored entry of the database's OCS link by key.
func (s *Store) DNCEntries() (map[string]DNCEntry, error) {
	out := map[string]DNCEntry{}
	err := s.view(func(tx *bolt.Tx) error {
		b, err := s.dncEntries(tx)
		if b == nil {
			return err
		}
		return b.ForEach(func(k, v []byte) error {
			if v == nil {
				return nil // another link's bucket
			}
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

// PutDNCEntries stores entries of the database's OCS link in one
// transaction.
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
	return s.updateNow(func(tx *bolt.Tx) error {
		b, err := s.dncEntries(tx)
		if err != nil {
			return err
		}
		for i, e := range es {
			if err := b.Put([]byte(e.Key), raws[i]); err != nil {
				return err
			}
		}
		return nil
	})
}
