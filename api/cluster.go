package api

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// ClusterMember is one daemon of a highly available set.
type ClusterMember struct {
	Name string `json:"name"`
	API  string `json:"api,omitempty"`
}

// ClusterView is GET /api/v1/cluster: who leads, who campaigns, and this
// member's role.
type ClusterView struct {
	Self    ClusterMember   `json:"self"`
	Role    string          `json:"role"`             // leader or standby
	Reason  string          `json:"reason,omitempty"` // why this member is not leading
	Leader  *ClusterMember  `json:"leader"`           // nil: nobody leads right now
	Members []ClusterMember `json:"members"`          // the candidates, oldest (the leader) first
}

// Cluster is what the API needs of leader election; nil for a single
// daemon.
type Cluster interface {
	// Leading is this member's role, and why it is not leading.
	Leading() (bool, string)
	// View reads the election from the cluster.
	View(ctx context.Context) (ClusterView, error)
}

// roleLeader and roleStandby are the values of "role".
const (
	roleLeader  = "leader"
	roleStandby = "standby"
)

func role(leading bool) string {
	if leading {
		return roleLeader
	}
	return roleStandby
}

func (s *Server) cluster(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Cluster == nil {
		writeError(w, http.StatusNotFound, "not_clustered", "this daemon runs alone (no --etcd): there is no cluster")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	v, err := s.cfg.Cluster.View(ctx)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "unavailable", err.Error())
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// standbyRefusal is why a standby refuses a state-changing request: only
// the leader acts, and the caller is told where it is.
func (s *Server) standbyRefusal(r *http.Request) string {
	if s.cfg.Cluster == nil {
		return ""
	}
	leading, reason := s.cfg.Cluster.Leading()
	if leading {
		return ""
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	v, err := s.cfg.Cluster.View(ctx)
	switch {
	case err != nil:
		return fmt.Sprintf("this member is a standby (%s) and cannot read who leads: %v", reason, err)
	case v.Leader == nil:
		return fmt.Sprintf("this member is a standby (%s) and no member leads right now: retry shortly", reason)
	case v.Leader.API != "":
		return fmt.Sprintf("this member is a standby: send it to the leader, %s at %s", v.Leader.Name, v.Leader.API)
	}
	return fmt.Sprintf("this member is a standby: send it to the leader, %s", v.Leader.Name)
}

// leaderMetrics are sequencer_leader{member} and
// sequencer_leader_changes_total.
type leaderMetrics struct {
	leader  *prometheus.GaugeVec
	changes prometheus.Counter
}

func newLeaderMetrics(reg *prometheus.Registry) leaderMetrics {
	m := leaderMetrics{
		leader: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "sequencer_leader", Help: "1 while this member leads (drives OCS), 0 while it stands by.",
		}, []string{"member"}),
		changes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sequencer_leader_changes_total", Help: "Times this member became leader or stopped leading.",
		}),
	}
	reg.MustRegister(m.leader, m.changes)
	return m
}

// Leader records this member's role; each call with a new role counts a
// change.
func (m *Metrics) Leader(member string, leading bool) {
	v := 0.0
	if leading {
		v = 1
	}
	g := m.lead.leader.WithLabelValues(member)
	if prev := m.leading.Swap(int32(v) + 1); prev != 0 && prev != int32(v)+1 {
		m.lead.changes.Inc()
	}
	g.Set(v)
}
