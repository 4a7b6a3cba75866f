package api

import (
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics implements reconcile.Metrics with Prometheus and exports the
// per-scrape gauges (sequences by phase, groups by status, queue depth).
type Metrics struct {
	reg          *prometheus.Registry
	passes       *prometheus.CounterVec
	passDuration prometheus.Histogram
	requests     *prometheus.CounterVec
	latency      *prometheus.HistogramVec
	lateness     prometheus.Histogram
	stopLate     prometheus.Histogram
	commits      *prometheus.CounterVec
	commitWrites prometheus.Histogram
	commitTime   prometheus.Histogram
	reloads      *prometheus.CounterVec
	bypasses     *prometheus.CounterVec
	dropped      prometheus.Counter
	lead         leaderMetrics
	leading      atomic.Int32 // 0 unknown, 1 standby, 2 leader
}

// NewMetrics registers every sequencer_ metric on a fresh registry.
func NewMetrics() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		passes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sequencer_reconcile_passes_total", Help: "Reconcile passes over one sequence, by result (idle, request, error).",
		}, []string{"result"}),
		passDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "sequencer_reconcile_pass_duration_seconds", Help: "Time spent deciding one pass.",
			Buckets: prometheus.ExponentialBuckets(0.00001, 4, 10),
		}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sequencer_ocs_requests_total", Help: "OCS requests by message type and result.",
		}, []string{"type", "result"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "sequencer_ocs_request_duration_seconds", Help: "Time from sending an OCS request to its answer.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2.5, 10),
		}, []string{"type"}),
		lateness: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "sequencer_start_lateness_seconds", Help: "From a run's scheduled instant to the moment its first request left for OCS.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 10),
		}),
		stopLate: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "sequencer_stop_lateness_seconds", Help: "From an item's stop time to the moment its StopDialing left for OCS.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 10),
		}),
		commits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sequencer_store_commits_total", Help: "Durable commits of one loop turn's progress, intents and outcomes, by result (ok, error).",
		}, []string{"result"}),
		commitWrites: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "sequencer_store_commit_writes", Help: "Writes (progress, intents, outcomes) per commit: how much one fsync carries.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 9),
		}),
		commitTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "sequencer_store_commit_duration_seconds", Help: "Time of one commit, fsync included; requests wait for it.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 4, 10),
		}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sequencer_spec_reloads_total", Help: "Spec snapshots applied, by result (ok, error).",
		}, []string{"result"}),
		bypasses: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sequencer_journal_bypass_total", Help: "Requests that reduce dialing sent although their journal entry could not be written (full disk, I/O error), by action.",
		}, []string{"action"}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sequencer_history_dropped_total", Help: "History events given up on because the store kept refusing writes.",
		}),
	}
	m.reg.MustRegister(m.passes, m.passDuration, m.requests, m.latency, m.lateness, m.stopLate, m.commits, m.commitWrites, m.commitTime, m.reloads, m.bypasses, m.dropped)
	m.lead = newLeaderMetrics(m.reg)
	return m
}

// JournalBypass and HistoryDropped implement reconcile.SafetyMetrics.
func (m *Metrics) JournalBypass(action string) { m.bypasses.WithLabelValues(action).Inc() }
func (m *Metrics) HistoryDropped(n int)        { m.dropped.Add(float64(n)) }

func (m *Metrics) Pass(result string, d time.Duration) {
	m.passes.WithLabelValues(result).Inc()
	m.passDuration.Observe(d.Seconds())
}

func (m *Metrics) Request(typ, result string, latency time.Duration) {
	m.requests.WithLabelValues(typ, result).Inc()
	m.latency.WithLabelValues(typ).Observe(latency.Seconds())
}

func (m *Metrics) StartLateness(d time.Duration) { m.lateness.Observe(d.Seconds()) }
func (m *Metrics) StopLateness(d time.Duration)  { m.stopLate.Observe(d.Seconds()) }

func (m *Metrics) Commit(writes int, d time.Duration, err error) {
	if err != nil {
		m.commits.WithLabelValues("error").Inc()
		return
	}
	m.commits.WithLabelValues("ok").Inc()
	m.commitWrites.Observe(float64(writes))
	m.commitTime.Observe(d.Seconds())
}

func (m *Metrics) SpecReload(ok bool) {
	if ok {
		m.reloads.WithLabelValues("ok").Inc()
	} else {
		m.reloads.WithLabelValues("error").Inc()
	}
}

// stateCollector reads the reconciler's published state at scrape time.
type stateCollector struct {
	r      Reconciler
	phases *prometheus.Desc
	groups *prometheus.Desc
	queue  *prometheus.Desc
	halted *prometheus.Desc
	// OCS's own statistics per campaign group, where its HTTP link reports
	// them: busy factor, hit ratio, overdial rate, time to complete.
	stats [4]*prometheus.Desc
}

func (c stateCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.phases
	ch <- c.groups
	ch <- c.queue
	ch <- c.halted
	for _, d := range c.stats {
		ch <- d
	}
}

func (c stateCollector) Collect(ch chan<- prometheus.Metric) {
	phases := map[string]int{}
	for _, s := range c.r.Sequences() {
		phases[string(s.Phase)]++
	}
	for p, n := range phases {
		ch <- prometheus.MustNewConstMetric(c.phases, prometheus.GaugeValue, float64(n), p)
	}
	statuses := map[string]int{}
	for _, g := range c.r.Groups() {
		statuses[g.Status]++
	}
	for st, n := range statuses {
		ch <- prometheus.MustNewConstMetric(c.groups, prometheus.GaugeValue, float64(n), st)
	}
	for _, g := range c.r.Groups() {
		campaign, group := strconv.Itoa(int(g.CampaignDBID)), strconv.Itoa(int(g.GroupDBID))
		for i, v := range []*float64{g.BusyFactor, g.HitRatio, g.OverdialRate, g.TimeToComplete} {
			if v != nil {
				ch <- prometheus.MustNewConstMetric(c.stats[i], prometheus.GaugeValue, *v, campaign, group)
			}
		}
	}
	ch <- prometheus.MustNewConstMetric(c.queue, prometheus.GaugeValue, float64(c.r.QueueDepth()))
	halted := 0.0
	if c.r.HaltState().Halted {
		halted = 1
	}
	ch <- prometheus.MustNewConstMetric(c.halted, prometheus.GaugeValue, halted)
}

// dncCollector reports the DoNotCallList entries by list and state, so an
// alert can fire on entries OCS refused or keeps not answering.
type dncCollector struct {
	l       DNCLists
	entries *prometheus.Desc
}

func (c dncCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.entries }

func (c dncCollector) Collect(ch chan<- prometheus.Metric) {
	for _, l := range c.l.Status() {
		for state, n := range map[string]int{"processed": l.Processed, "pending": l.Pending, "failed": l.Failed, "removed": l.Removed} {
			ch <- prometheus.MustNewConstMetric(c.entries, prometheus.GaugeValue, float64(n), l.Name, state)
		}
	}
}

func (m *Metrics) handler(r Reconciler, lists DNCLists) http.Handler {
	if lists != nil {
		m.reg.MustRegister(dncCollector{l: lists,
			entries: prometheus.NewDesc("sequencer_dnc_entries", "DoNotCallList entries by list and state (removed: gone from the spec, still on OCS).", []string{"list", "state"}, nil)})
	}
	if r != nil {
		m.reg.MustRegister(stateCollector{
			r:      r,
			phases: prometheus.NewDesc("sequencer_sequences", "Sequences by phase.", []string{"phase"}, nil),
			groups: prometheus.NewDesc("sequencer_campaign_groups", "Campaign groups the daemon touches, by last observed OCS status.", []string{"status"}, nil),
			queue:  prometheus.NewDesc("sequencer_queue_depth", "Sequences waiting for a reconcile pass.", nil, nil),
			halted: prometheus.NewDesc("sequencer_halted", "1 while dialing is halted (sequencer halt, or a kind: Halt spec file).", nil, nil),
			stats: [4]*prometheus.Desc{
				prometheus.NewDesc("sequencer_ocs_busy_factor_ratio", "OCS's GSW_STAT_BUSY_FACTOR of a campaign group (0-1), while its HTTP link reports it.", []string{"campaign", "group"}, nil),
				prometheus.NewDesc("sequencer_ocs_hit_ratio", "OCS's GSW_STAT_HIT_RATIO of a campaign group (0-1), while its HTTP link reports it.", []string{"campaign", "group"}, nil),
				prometheus.NewDesc("sequencer_ocs_overdial_rate_ratio", "OCS's GSW_STAT_OVERDIAL_RATE of a campaign group (0-1), while its HTTP link reports it.", []string{"campaign", "group"}, nil),
				prometheus.NewDesc("sequencer_ocs_time_to_complete_seconds", "OCS's GSW_STAT_TIME_TO_COMPLETE of a campaign group, while its HTTP link reports it.", []string{"campaign", "group"}, nil),
			},
		})
	}
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}
