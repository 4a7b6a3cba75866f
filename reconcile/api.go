package reconcile

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/sequencer-dev/sequencer/store"
)

// Sequences returns the published status of every sequence, by name.
func (r *Reconciler) Sequences() []SequenceStatus {
	r.pubMu.RLock()
	out := make([]SequenceStatus, 0, len(r.published))
	for _, s := range r.published {
		out = append(out, s)
	}
	r.pubMu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Sequence returns one sequence's published status.
func (r *Reconciler) Sequence(name string) (SequenceStatus, bool) {
	r.pubMu.RLock()
	defer r.pubMu.RUnlock()
	s, ok := r.published[name]
	return s, ok
}

// Groups returns the last observed status of every campaign group.
func (r *Reconciler) Groups() []GroupObservation {
	r.pubMu.RLock()
	out := make([]GroupObservation, 0, len(r.pubGroups))
	for _, g := range r.pubGroups {
		out = append(out, g)
	}
	r.pubMu.RUnlock()
	sort.Slice(out, func(i, j int) bool {
		if out[i].CampaignDBID != out[j].CampaignDBID {
			return out[i].CampaignDBID < out[j].CampaignDBID
		}
		return out[i].GroupDBID < out[j].GroupDBID
	})
	return out
}

// QueueDepth is the number of sequences waiting for a pass.
func (r *Reconciler) QueueDepth() int {
	r.pubMu.RLock()
	defer r.pubMu.RUnlock()
	return r.queue
}

// Running reports whether the loop is up.
func (r *Reconciler) Running() bool {
	r.pubMu.RLock()
	defer r.pubMu.RUnlock()
	return r.running
}

// Suspend records an API override that stops dialing (until zero: until
// resumed). It survives restarts; the spec's own suspend: true still wins.
func (r *Reconciler) Suspend(ctx context.Context, name, who, why string, until time.Time) error {
	return r.do(ctx, name, func(s *seqState, now time.Time) error {
		s.prog.Override = &store.Override{Suspended: true, Who: who, Why: why, At: now, Until: until}
		r.history(s, now, store.Event{Kind: "override", Message: fmt.Sprintf("suspended by %s: %s", who, why)})
		if err := r.persistNow(s, now); err != nil {
			return fmt.Errorf("save override for %s: %w", name, err)
		}
		return nil
	})
}

// Resume clears an API suspend override. A spec with suspend: true stays
// suspended.
func (r *Reconciler) Resume(ctx context.Context, name, who, why string) error {
	return r.do(ctx, name, func(s *seqState, now time.Time) error {
		s.prog.Override = nil
		r.history(s, now, store.Event{Kind: "override", Message: fmt.Sprintf("resumed by %s: %s", who, why)})
		if err := r.persistNow(s, now); err != nil {
			return fmt.Errorf("save override for %s: %w", name, err)
		}
		return nil
	})
}

// ReconcileNow asks for a pass over one sequence at once, clearing backoff.
func (r *Reconciler) ReconcileNow(ctx context.Context, name string) error {
	return r.do(ctx, name, func(s *seqState, now time.Time) error {
		s.retryAt = time.Time{}
		return nil
	})
}

func (r *Reconciler) do(ctx context.Context, name string, f func(*seqState, time.Time) error) error {
	return r.send1(ctx, command{name: name, apply: f, reply: make(chan error, 1)})
}

// send1 hands one command to the loop and waits for its answer.
func (r *Reconciler) send1(ctx context.Context, c command) error {
	select {
	case r.cmds <- c:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-c.reply:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (r *Reconciler) onCommand(c command, now time.Time) {
	if c.global != nil {
		err := c.global(now)
		for name := range r.seqs {
			r.markDirty(name)
		}
		r.processDirty(now)
		r.publish(now)
		c.reply <- err
		return
	}
	s, ok := r.seqs[c.name]
	if !ok || s.spec == nil || s.deleted {
		c.reply <- fmt.Errorf("%q: %w", c.name, ErrUnknownSequence)
		return
	}
	err := c.apply(s, now)
	r.markDirty(c.name)
	// Decide at once, so the status the caller reads back already shows
	// the effect (a suspend answers with phase Suspended).
	r.processDirty(now)
	r.publish(now)
	c.reply <- err
}

// publish copies the status of sequences that changed for readers.
func (r *Reconciler) publish(now time.Time) {
	if len(r.pubSet) == 0 {
		return
	}
	upd := make([]SequenceStatus, 0, len(r.pubSet))
	for _, s := range r.pubSet {
		if s.pubQueued && s.spec != nil {
			upd = append(upd, r.statusOf(s, now))
		}
		s.pubQueued = false
	}
	r.pubSet = reuse(r.pubSet)
	r.pubMu.Lock()
	for _, st := range upd {
		r.published[st.Name] = st
	}
	r.pubMu.Unlock()
}

func (r *Reconciler) statusOf(s *seqState, now time.Time) SequenceStatus {
	st := SequenceStatus{
		Name: s.name, File: s.file, Engine: string(s.spec.Engine), Phase: s.phase,
		NextAction: s.nextAction, NextActionAt: s.nextAt,
		ObservedGeneration: s.spec.Generation, SpecHash: s.spec.Hash,
	}
	st.Labels, st.TimeZone = s.spec.Labels, s.spec.TimeZone
	if run := s.prog.Run; run != nil {
		st.Run, st.Item, st.ItemIndex, st.ItemState = run.ID, run.ItemName, run.Item, run.ItemState
		st.CampaignDBID, st.GroupDBID = run.CampaignDBID, run.GroupDBID
		if o := r.obs[runGroup(run)]; o != nil && o.has && loadedState(run.ItemState) {
			st.Dials, st.Contacts = itemCounters(run, o)
		}
		if o := r.obs[runGroup(run)]; o != nil && loadedState(run.ItemState) {
			st.OCSStatistics = statisticsOf(o.rates)
		}
	}
	st.Suspended, st.SuspendedBy = r.suspended(s, now)
	if o := s.prog.Override; st.Suspended && o != nil && o.Suspended && strings.HasPrefix(st.SuspendedBy, "api:") {
		st.SuspendReason, st.SuspendedUntil = o.Why, o.Until
	}
	if st.Suspended {
		st.Phase = PhaseSuspended
	}
	if s.deleted {
		st.Phase = PhaseDeleting
	}
	stalled := s.conds[CondStalled] != nil && s.conds[CondStalled].Status
	conflict := s.conds[CondConflict] != nil && s.conds[CondConflict].Status
	if s.inflight != "" {
		r.setCondQuiet(s, CondReconciling, true, "RequestInFlight", s.inflight, now)
	} else {
		r.setCondQuiet(s, CondReconciling, false, "", "", now)
	}
	r.setCondQuiet(s, CondReady, !stalled && !conflict, readyReason(stalled, conflict), "", now)
	for _, typ := range []string{CondReady, CondReconciling, CondStalled, CondSpecInvalid, CondConflict, CondCountersUnavailable} {
		if c := s.conds[typ]; c != nil {
			st.Conditions = append(st.Conditions, *c)
		}
	}
	return st
}

func readyReason(stalled, conflict bool) string {
	switch {
	case stalled:
		return "Stalled"
	case conflict:
		return "Conflict"
	}
	return "AsExpected"
}

// setCondQuiet sets a condition without writing history (Ready and
// Reconciling flip on every request).
func (r *Reconciler) setCondQuiet(s *seqState, typ string, status bool, reason, msg string, now time.Time) {
	c := s.conds[typ]
	if c == nil {
		c = &Condition{Type: typ, Since: now}
		s.conds[typ] = c
	}
	if c.Status != status {
		c.Since = now
	}
	c.Status, c.Reason, c.Message = status, reason, msg
}
