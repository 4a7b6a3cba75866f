package ocssim

import (
	"time"

	"github.com/sequencer-dev/sequencer/ocs"
	"github.com/sequencer-dev/sequencer/ocs/bridge"
)

// DropRequests makes the simulator ignore the next n requests of type t
// (0: of any type), as if they were lost on the way.
func (s *Sim) DropRequests(t ocs.MessageType, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.dropRequest[t] += n
}

// DropAnswers processes the next n requests but loses their answers.
func (s *Sim) DropAnswers(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.dropAnswer += n
}

// DelayAnswers delays every answer by d (0 turns it off).
func (s *Sim) DelayAnswers(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.delay = d
}

// FailNext answers the next request of type t with CM_EvError code.
func (s *Sim) FailNext(t ocs.MessageType, code ocs.ErrorCode) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.failNext[t] = code
}

// DropStatusEvents drops this share (0–1) of unsolicited status events.
func (s *Sim) DropStatusEvents(share float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.dropStatus = share
}

// DelayStatusEvents delivers unsolicited status events d late (0 turns it
// off): a slow status stream, so a client's view lags OCS's.
func (s *Sim) DelayStatusEvents(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.statusDelay = d
}

// Disconnect closes every client connection; clients may reconnect.
func (s *Sim) Disconnect() {
	s.mu.Lock()
	conns := s.conns
	s.conns = map[*bridge.Conn]struct{}{}
	s.queues = map[*bridge.Conn]*answerQueue{}
	s.mu.Unlock()
	for c := range conns {
		c.Close()
	}
}

// Restart behaves like an OCS restart: every campaign group is unloaded
// and forgets its runtime dial parameters, auto-completion and counters,
// OCS-side sequences are lost, and clients are disconnected; no event says
// so, and events or late answers still in flight are never delivered to a
// later connection. Calling lists keep what was dialed and cancelled, and
// the DoNotCall tables keep their entries: those live in the database.
func (s *Sim) Restart() {
	s.mu.Lock()
	now := time.Now()
	s.actor = actor{cause: CauseRestart}
	for _, g := range s.groups {
		if g.status != ocs.StatusNotLoaded {
			s.pause(g, now)
			s.setStatus(g, ocs.StatusNotLoaded, now)
		}
		g.stopTimer()
		g.gen++
		g.owner, g.auto, g.dials, g.rate = 0, false, 0, 0
		g.runSince, g.stopped = time.Time{}, time.Time{}
		g.pacing = g.cg.configured()
	}
	for k, q := range s.seqs {
		q.stopTimer()
		delete(s.seqs, k)
	}
	s.mu.Unlock()
	s.Disconnect()
}
