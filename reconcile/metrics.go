package reconcile

import "time"

// Metrics receives what the loop measures. The api package implements it
// with Prometheus; nil means no metrics.
type Metrics interface {
	// Pass counts one pass over a sequence and how long it took.
	Pass(result string, d time.Duration)
	// Request counts one OCS request by message type and result (ok,
	// goal-reached, ocs-error, timeout, disconnected, error) and its latency.
	Request(typ, result string, latency time.Duration)
	// StartLateness observes how late a run started: from its scheduled
	// instant to the moment its first request left for OCS.
	StartLateness(d time.Duration)
	// StopLateness observes how late a time stop was: from the item's
	// stop instant to the moment its StopDialing left for OCS.
	StopLateness(d time.Duration)
	// Commit observes one turn's durable commit: how many writes, how
	// long, and whether it failed.
	Commit(writes int, d time.Duration, err error)
	// SpecReload counts a specs snapshot, with or without errors.
	SpecReload(ok bool)
}

// SafetyMetrics is implemented by Metrics that also count the writes the
// loop could not make durable. Optional, so a plain Metrics still works.
type SafetyMetrics interface {
	// JournalBypass counts a request that reduces dialing sent although
	// its journal entry could not be written (full disk, I/O error).
	JournalBypass(action string)
	// HistoryDropped counts history events that could not be written.
	HistoryDropped(n int)
}

func (r *Reconciler) safety() SafetyMetrics {
	if m, ok := r.cfg.Metrics.(SafetyMetrics); ok {
		return m
	}
	return noMetrics{}
}

type noMetrics struct{}

func (noMetrics) JournalBypass(string) {}
func (noMetrics) HistoryDropped(int)   {}

func (noMetrics) Pass(string, time.Duration)            {}
func (noMetrics) Request(string, string, time.Duration) {}
func (noMetrics) StartLateness(time.Duration)           {}
func (noMetrics) StopLateness(time.Duration)            {}
func (noMetrics) Commit(int, time.Duration, error)      {}
func (noMetrics) SpecReload(bool)                       {}
