package etcdstore

import (
	"cmp"
	"errors"
	"fmt"
	"slices"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/sequencer-dev/sequencer/store"
)

// maxTxnBytes keeps one transaction under etcd's default
// --max-request-bytes (1.5 MiB) with room for the keys and framing.
const maxTxnBytes = 1 << 20

// unit is the writes of one sequence in a batch. A unit is never split
// between transactions: a sequence's progress and the intents it journals
// are durable together or not at all.
type unit struct {
	seq      string
	progress *string // encoded, nil: none in this batch
	intents  []string
	size     int
}

// Commit writes b as one transaction conditioned on the fence (ErrFenced
// when deposed), with the bbolt store's contract: Begin writes only
// absent intents and reports Fresh[i], Settle is applied after Begin, and a
// settlement of an intent the journal does not hold is skipped.
//
// etcd bounds a transaction (128 operations, 1.5 MiB by default): a batch
// larger than that is committed as several transactions, one after the
// other, each all-or-nothing. The writes of one sequence (its progress and
// its intents) always share one transaction, so a failure part-way leaves
// every sequence either wholly before or wholly after the batch: the state
// a crash right after the last transaction that went through would leave,
// which the reconciler already recovers from (no request has left for any
// of those sequences: requests leave only after Commit returns nil).
func (s *Store) Commit(b *store.Batch) error {
	if b.Len() == 0 {
		b.Fresh = b.Fresh[:0]
		return nil
	}
	// Refuse the whole batch before anything is sent.
	for _, p := range b.Progress {
		if p.Sequence == "" {
			return errors.New("commit: progress with an empty sequence name")
		}
	}
	for _, in := range b.Begin {
		if in.ID == "" {
			return errors.New("commit: begin intent: empty id")
		}
	}
	what := fmt.Sprintf("commit %d writes", b.Len())
	ids := make([]string, 0, len(b.Begin)+len(b.Settle))
	for _, in := range b.Begin {
		ids = append(ids, in.ID)
	}
	for _, st := range b.Settle {
		ids = append(ids, st.ID)
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	have, err := s.readIntents(ids)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	begun := make(map[string]string, len(b.Begin)) // id → sequence; the first begin of an id counts
	for _, in := range slices.Backward(b.Begin) {
		begun[in.ID] = in.Sequence
	}
	// Which sequence each intent belongs to decides its transaction.
	units := map[string]*unit{}
	unitOf := func(seq string) *unit {
		u := units[seq]
		if u == nil {
			u = &unit{seq: seq}
			units[seq] = u
		}
		return u
	}
	for _, p := range b.Progress {
		raw, err := encode(p)
		if err != nil {
			return fmt.Errorf("commit: progress %q: %w", p.Sequence, err)
		}
		u := unitOf(p.Sequence)
		if u.progress != nil {
			u.size -= len(*u.progress)
		}
		u.progress = &raw // the last one of a sequence wins, as in bbolt
		u.size += len(raw)
	}
	for _, id := range ids {
		seq, ok := begun[id]
		if h, stored := have[id]; stored {
			seq = h.in.Sequence
		} else if !ok {
			continue // a settlement of an unknown intent
		}
		u := unitOf(seq)
		u.intents = append(u.intents, id)
	}
	order := make([]*unit, 0, len(units))
	for _, u := range units {
		if n := len(u.intents) + 1; n > maxOps {
			return fmt.Errorf("%s: sequence %q has %d writes, more than one etcd transaction holds (%d)", what, u.seq, n, maxOps)
		}
		order = append(order, u)
	}
	slices.SortFunc(order, func(a, b *unit) int { return cmp.Compare(a.seq, b.seq) })
	fresh := make([]bool, len(b.Begin))
	for len(order) > 0 {
		n, ops, size := 0, 0, 0
		for n < len(order) {
			u := order[n]
			add := len(u.intents)
			if u.progress != nil {
				add++
			}
			if n > 0 && (ops+add > maxOps || size+u.size > maxTxnBytes) {
				break
			}
			ops, size, n = ops+add, size+u.size, n+1
		}
		if err := s.commitChunk(what, b, order[:n], have, fresh); err != nil {
			return err
		}
		order = order[n:]
	}
	b.Fresh = append(b.Fresh[:0], fresh...)
	return nil
}

// stored is an intent as read, with the revision a write compares against
// (0: absent).
type stored struct {
	in  store.Intent
	rev int64
}

// readIntents reads the intents named in ids, maxOps to a request; absent
// ones are not in the map.
func (s *Store) readIntents(ids []string) (map[string]stored, error) {
	out := make(map[string]stored, len(ids))
	for chunk := range slices.Chunk(ids, maxOps) {
		ops := make([]clientv3.Op, len(chunk))
		for i, id := range chunk {
			ops[i] = clientv3.OpGet(s.key("intents/", id))
		}
		ctx, cancel := s.ctx()
		resp, err := s.cli.Txn(ctx).Then(ops...).Commit()
		cancel()
		if err != nil {
			return nil, fmt.Errorf("read intents: %w", err)
		}
		for i, r := range resp.Responses {
			kvs := r.GetResponseRange().Kvs
			if len(kvs) == 0 {
				continue
			}
			k := s.key("intents/", chunk[i])
			in, err := decode[store.Intent](k, kvs[0].Value)
			if err != nil {
				return nil, err
			}
			out[chunk[i]] = stored{in, kvs[0].ModRevision}
		}
	}
	return out, nil
}

// commitChunk writes the units in one transaction: the fence outside, and
// inside "every intent is as read", so that a refusal says which failed.
// When an intent changed since it was read (another writer settled it),
// it reads those intents again and retries.
func (s *Store) commitChunk(what string, b *store.Batch, units []*unit, have map[string]stored, fresh []bool) error {
	mine := map[string]bool{}
	for _, u := range units {
		for _, id := range u.intents {
			mine[id] = true
		}
	}
	for range 5 {
		// The bbolt store's rules, run on what was read: Begin then
		// Settle, in order.
		cur := map[string]*store.Intent{}
		for id := range mine {
			if h, ok := have[id]; ok {
				in := h.in
				cur[id] = &in
			}
		}
		changed := map[string]bool{}
		chunkFresh := map[int]bool{}
		for i, in := range b.Begin {
			if !mine[in.ID] || cur[in.ID] != nil {
				continue
			}
			in.State = cmp.Or(in.State, store.IntentOpen)
			cur[in.ID], changed[in.ID], chunkFresh[i] = &in, true, true
		}
		for _, st := range b.Settle {
			in := cur[st.ID]
			if !mine[st.ID] || in == nil {
				continue
			}
			in.State, in.Outcome, in.Settled = st.State, st.Outcome, st.At
			changed[st.ID] = true
		}
		var cmps []clientv3.Cmp
		var ops []clientv3.Op
		for _, u := range units {
			if u.progress != nil {
				ops = append(ops, clientv3.OpPut(s.key("progress/", u.seq), *u.progress))
			}
			for _, id := range u.intents {
				if !changed[id] {
					continue
				}
				k := s.key("intents/", id)
				raw, err := encode(*cur[id])
				if err != nil {
					return fmt.Errorf("%s: intent %s: %w", what, id, err)
				}
				cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(k), "=", have[id].rev))
				ops = append(ops, clientv3.OpPut(k, raw))
			}
		}
		ctx, cancel := s.ctx()
		resp, err := s.cli.Txn(ctx).If(s.guard()...).Then(clientv3.OpTxn(cmps, ops, nil)).Commit()
		cancel()
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		if !resp.Succeeded {
			return s.fenced(what)
		}
		if resp.Responses[0].GetResponseTxn().Succeeded {
			for i := range chunkFresh {
				fresh[i] = true
			}
			return nil
		}
		ids := make([]string, 0, len(mine))
		for id := range mine {
			ids = append(ids, id)
		}
		again, err := s.readIntents(ids)
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		for _, id := range ids {
			if h, ok := again[id]; ok {
				have[id] = h
			} else {
				delete(have, id)
			}
		}
	}
	return fmt.Errorf("%s: intents changed by another writer five times in a row", what)
}

// Fencing reports that this store refuses the writes of a deposed leader,
// so the loop sends nothing, a stop included, before the write that proves
// it still leads.
func (s *Store) Fencing() bool { return true }
