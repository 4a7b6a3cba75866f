package reconcile

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/sequencer-dev/sequencer/store"
)

// SpecHalt is a halt declared by a spec file (kind: Halt).
type SpecHalt struct {
	Name, File, Reason string
}

// HaltStatus is what readers see of the stop switch.
type HaltStatus struct {
	Halted bool      `json:"halted"`
	Reason string    `json:"reason,omitempty"`
	Who    string    `json:"who,omitempty"`
	Since  time.Time `json:"since,omitzero"`
	// Specs lists the spec files that halt dialing; lifting the API halt
	// leaves them in force until the files are removed.
	Specs []string `json:"specs,omitempty"`
}

// Halt stops the dialing of every sequence at once, durably, until
// Unhalt: each running item gets a StopDialing (a request that only
// reduces dialing, so it goes out even when the journal cannot be
// written), no item or run starts, and starts that come are skipped.
func (r *Reconciler) Halt(ctx context.Context, who, reason string) error {
	return r.doGlobal(ctx, func(now time.Time) error {
		h := &store.Halt{Reason: reason, Who: who, Since: now}
		err := r.cfg.Store.PutHalt(h)
		// Halt even when it cannot be stored: stopping must never wait
		// on the disk. The caller is told it will not survive a restart.
		r.halt = h
		r.publishHalt()
		r.log.Warn("dialing halted", "by", who, "reason", reason)
		for _, s := range r.seqs {
			if s.spec != nil {
				r.history(s, now, store.Event{Kind: "halt", Message: fmt.Sprintf("dialing halted by %s: %s", who, reason)})
			}
		}
		if err != nil {
			return fmt.Errorf("halted, but the halt could not be saved and will not survive a restart: %w", err)
		}
		return nil
	})
}

// Unhalt lifts the API halt. Halts declared by spec files stay in force.
func (r *Reconciler) Unhalt(ctx context.Context, who string) error {
	return r.doGlobal(ctx, func(now time.Time) error {
		if err := r.cfg.Store.PutHalt(nil); err != nil {
			return fmt.Errorf("lift halt: %w", err)
		}
		was := r.halt
		r.halt = nil
		r.publishHalt()
		if was != nil {
			r.log.Warn("halt lifted", "by", who)
			for _, s := range r.seqs {
				if s.spec != nil {
					r.history(s, now, store.Event{Kind: "halt", Message: fmt.Sprintf("halt lifted by %s", who)})
				}
			}
		}
		return nil
	})
}

// HaltState is the published state of the stop switch.
func (r *Reconciler) HaltState() HaltStatus {
	r.pubMu.RLock()
	defer r.pubMu.RUnlock()
	return r.pubHalt
}

// haltedBy names what halts dialing, or "" when nothing does.
func (r *Reconciler) haltedBy() string {
	if r.halt != nil {
		return "halt:" + r.halt.Who
	}
	if len(r.specHalts) > 0 {
		return "halt:spec " + r.specHalts[0].File
	}
	return ""
}

func (r *Reconciler) setSpecHalts(hs []SpecHalt, now time.Time) {
	sort.Slice(hs, func(i, j int) bool { return hs[i].File < hs[j].File })
	was, is := len(r.specHalts) > 0, len(hs) > 0
	r.specHalts = hs
	r.publishHalt()
	if was == is {
		return
	}
	msg := "halt lifted: no spec file declares one any more"
	if is {
		var files []string
		for _, h := range hs {
			files = append(files, h.File)
		}
		msg = fmt.Sprintf("dialing halted by spec %s: %s", strings.Join(files, ", "), hs[0].Reason)
	}
	r.log.Warn(msg)
	for name, s := range r.seqs {
		if s.spec != nil {
			r.history(s, now, store.Event{Kind: "halt", Message: msg})
		}
		r.markDirty(name)
	}
}

func (r *Reconciler) publishHalt() {
	st := HaltStatus{}
	if r.halt != nil {
		st = HaltStatus{Halted: true, Reason: r.halt.Reason, Who: r.halt.Who, Since: r.halt.Since}
	}
	for _, h := range r.specHalts {
		st.Halted = true
		st.Specs = append(st.Specs, h.File)
		if st.Reason == "" {
			st.Reason, st.Who = h.Reason, "spec "+h.File
		}
	}
	r.pubMu.Lock()
	r.pubHalt = st
	r.pubMu.Unlock()
}

func (r *Reconciler) doGlobal(ctx context.Context, f func(now time.Time) error) error {
	return r.send1(ctx, command{global: f, reply: make(chan error, 1)})
}
