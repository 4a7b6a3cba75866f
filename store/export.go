package store

import bolt "go.etcd.io/bbolt"

// AllIntents returns every journaled intent, settled ones included, by id:
// what `sequencer db migrate` copies.
func (s *Store) AllIntents() ([]Intent, error) {
	var out []Intent
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketIntents).ForEach(func(k, v []byte) error {
			in, err := decode[Intent](bucketIntents, k, v)
			if err != nil {
				return err
			}
			out = append(out, in)
			return nil
		})
	})
	return out, err
}

// AllHistory returns every history event, by sequence and then in time
// order, including those of sequences that have no progress any more.
func (s *Store) AllHistory() ([]Event, error) {
	var out []Event
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketHistory).ForEach(func(k, v []byte) error {
			e, err := decode[Event](bucketHistory, k, v)
			if err != nil {
				return err
			}
			out = append(out, e)
			return nil
		})
	})
	return out, err
}
