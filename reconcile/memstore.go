package reconcile

import (
	"slices"
	"sync"
	"time"

	"github.com/sequencer-dev/sequencer/store"
)

// MemStore is a Store held in memory. The projector runs the loop on it;
// tests may too. Progress is kept as given (its Run is shared with the
// caller), which is all a loop that only writes it needs.
type MemStore struct {
	mu      sync.Mutex
	prog    map[string]store.Progress
	intents map[string]store.Intent
	events  []store.Event
	halt    *store.Halt
	// keepEvents: history is kept (a projection reads it back); otherwise
	// Append drops it.
	keepEvents bool
}

// NewMemStore returns an empty MemStore that keeps the history appended.
func NewMemStore() *MemStore {
	return &MemStore{prog: map[string]store.Progress{}, intents: map[string]store.Intent{}, keepEvents: true}
}

func (m *MemStore) AllProgress() ([]store.Progress, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]store.Progress, 0, len(m.prog))
	for _, p := range m.prog {
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b store.Progress) int {
		switch {
		case a.Sequence < b.Sequence:
			return -1
		case a.Sequence > b.Sequence:
			return 1
		}
		return 0
	})
	return out, nil
}

func (m *MemStore) PutProgress(p store.Progress) error {
	m.mu.Lock()
	m.prog[p.Sequence] = p
	m.mu.Unlock()
	return nil
}

func (m *MemStore) DeleteProgress(seq string) error {
	m.mu.Lock()
	delete(m.prog, seq)
	m.mu.Unlock()
	return nil
}

func (m *MemStore) BeginIntent(in store.Intent) (store.Intent, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if old, ok := m.intents[in.ID]; ok {
		return old, false, nil
	}
	if in.State == "" {
		in.State = store.IntentOpen
	}
	m.intents[in.ID] = in
	return in, true, nil
}

func (m *MemStore) SettleIntent(id string, state store.IntentState, outcome string, at time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	in, ok := m.intents[id]
	if !ok {
		return nil
	}
	in.State = state
	m.intents[id] = in
	return nil
}

// Commit applies b at once, as one write.
func (m *MemStore) Commit(b *store.Batch) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, p := range b.Progress {
		m.prog[p.Sequence] = p
	}
	b.Fresh = b.Fresh[:0]
	for _, in := range b.Begin {
		_, exists := m.intents[in.ID]
		if !exists {
			if in.State == "" {
				in.State = store.IntentOpen
			}
			m.intents[in.ID] = in
		}
		b.Fresh = append(b.Fresh, !exists)
	}
	for _, x := range b.Settle {
		if in, ok := m.intents[x.ID]; ok {
			in.State = x.State
			m.intents[x.ID] = in
		}
	}
	return nil
}

func (m *MemStore) OpenIntents() ([]store.Intent, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []store.Intent
	for _, in := range m.intents {
		if in.State == store.IntentOpen {
			out = append(out, in)
		}
	}
	slices.SortFunc(out, func(a, b store.Intent) int {
		switch {
		case a.ID < b.ID:
			return -1
		case a.ID > b.ID:
			return 1
		}
		return 0
	})
	return out, nil
}

func (m *MemStore) Append(evs ...store.Event) error {
	if !m.keepEvents {
		return nil
	}
	m.mu.Lock()
	m.events = append(m.events, evs...)
	m.mu.Unlock()
	return nil
}

func (m *MemStore) PutGroupStatus(gs ...store.GroupStatus) error { return nil }

func (m *MemStore) Halt() (store.Halt, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.halt == nil {
		return store.Halt{}, false, nil
	}
	return *m.halt, true, nil
}

func (m *MemStore) PutHalt(h *store.Halt) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if h == nil {
		m.halt = nil
		return nil
	}
	c := *h
	m.halt = &c
	return nil
}

// Events returns the history appended so far, in order.
func (m *MemStore) Events() []store.Event {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.events)
}

// projectionStore is the store of a projection: it hands the loop the
// progress it starts from and forgets every write, since nothing reads
// them back; every intent is fresh, as no step of an ideal OCS is retried.
type projectionStore struct {
	start []store.Progress
}

func (p *projectionStore) AllProgress() ([]store.Progress, error) { return p.start, nil }
func (p *projectionStore) PutProgress(store.Progress) error       { return nil }
func (p *projectionStore) DeleteProgress(string) error            { return nil }
func (p *projectionStore) BeginIntent(in store.Intent) (store.Intent, bool, error) {
	return in, true, nil
}
func (p *projectionStore) SettleIntent(string, store.IntentState, string, time.Time) error {
	return nil
}
func (p *projectionStore) Commit(b *store.Batch) error {
	b.Fresh = b.Fresh[:0]
	for range b.Begin {
		b.Fresh = append(b.Fresh, true)
	}
	return nil
}
func (p *projectionStore) OpenIntents() ([]store.Intent, error)      { return nil, nil }
func (p *projectionStore) Append(...store.Event) error               { return nil }
func (p *projectionStore) PutGroupStatus(...store.GroupStatus) error { return nil }
func (p *projectionStore) Halt() (store.Halt, bool, error)           { return store.Halt{}, false, nil }
func (p *projectionStore) PutHalt(*store.Halt) error                 { return nil }
