package ocssim

import (
	"fmt"
	"time"

	"github.com/sequencer-dev/sequencer/ocs"
)

// Profile says how much beyond the seed (the Communication DN API chapter)
// the simulator sends.
type Profile string

const (
	// ProfileFull is the simulator the daemon was written against: dial
	// counters in every answer and event (PropStatistics), the group's
	// status in every answer, a status event on every change, and error
	// 17 for a group that belongs to an OCS-side sequence.
	ProfileFull Profile = "full"
	// ProfileSeed sends only what the seed describes: no counters, status
	// only in CM_EvCampaignStatus, status events only on request, error
	// codes 0-15 only. Answers still echo GSW_CM_AttrReferenceID: the
	// bridge correlates answers by it, and without it no request could be
	// answered (docs/protocol-keys.md).
	ProfileSeed Profile = "seed"
)

// ParseProfile accepts "seed" or "full" ("" is full).
func ParseProfile(s string) (Profile, error) {
	switch Profile(s) {
	case "", ProfileFull:
		return ProfileFull, nil
	case ProfileSeed:
		return ProfileSeed, nil
	}
	return "", fmt.Errorf("profile %q: want seed or full", s)
}

// WithProfile overrides Config.Profile.
func WithProfile(p Profile) Option { return func(s *Sim) { s.cfg.Profile = p } }

// StatusEvents is when OCS sends CM_EvCampaignStatus unasked. The seed
// allows every choice: "Response or Notification when campaign mode is
// changed".
type StatusEvents int

const (
	StatusEventsDefault   StatusEvents = iota // the profile's: on change (full), on request only (seed)
	StatusEventsOnChange                      // one for every state change
	StatusEventsOnRequest                     // never unasked
	StatusEventsRandom                        // each change's event sent or not, evenly, by the simulator's rand
)

// WithStatusEvents sets when unsolicited status events are sent.
func WithStatusEvents(p StatusEvents) Option { return func(s *Sim) { s.knobs.status = p } }

func (s *Sim) seed() bool { return s.cfg.Profile == ProfileSeed }

// sendsStatus decides whether one unsolicited status event goes out.
func (s *Sim) sendsStatus() bool {
	switch s.knobs.status {
	case StatusEventsOnChange:
		return true
	case StatusEventsOnRequest:
		return false
	case StatusEventsRandom:
		return s.rnd.IntN(2) == 0
	}
	return !s.seed()
}

// partOfSequence is the code for a single-group request about a group an
// OCS-side sequence owns. 17 is not in the seed, which names no code for
// it; the seed profile answers with its catch-all, 10.
func (s *Sim) partOfSequence() ocs.ErrorCode {
	if s.seed() {
		return ocs.ErrInvalidParameter
	}
	return ocs.ErrPartOfSequence
}

// answer builds the answer t to req about g. It carries the dial
// parameters wherever the seed's Communication Structure table lists them
// (loaded, started, mode changed, status), whatever the group's state.
func (s *Sim) answer(req ocs.Message, g *group, t ocs.MessageType, now time.Time) ocs.Message {
	m := ocs.NewAnswer(req, t)
	if s.seed() {
		if pacedAnswer(t) {
			m = m.WithPacing(g.pacing)
		}
		if t == ocs.EvCampaignStatus {
			m = m.WithStatus(g.status)
		}
		return m
	}
	m = m.WithStatus(g.status).WithStats(s.stats(g, now))
	if pacedAnswer(t) || g.status != ocs.StatusNotLoaded {
		m = m.WithPacing(g.pacing)
	}
	return m
}

// pacedAnswer: the seed lists DialMode, OptimizeBy and OptimizeGoal as
// mandatory for these answers.
func pacedAnswer(t ocs.MessageType) bool {
	switch t {
	case ocs.EvCampaignLoaded, ocs.EvDialingStarted, ocs.EvDialingModeChanged, ocs.EvCampaignStatus:
		return true
	}
	return false
}

// notice is an unsolicited event about a group. The seed's stop and unload
// events carry the campaign group only.
func (s *Sim) notice(g *group, t ocs.MessageType, now time.Time) ocs.Message {
	m := ocs.Message{Type: t, Has: ocs.AttrOriginApp | ocs.AttrTargetApp | ocs.AttrCampaign | ocs.AttrGroup,
		OriginAppDBID: s.cfg.AppDBID, CampaignDBID: g.cg.CampaignDBID, GroupDBID: g.cg.GroupDBID}
	if s.seed() {
		return m
	}
	return m.WithStatus(g.status).WithStats(s.stats(g, now))
}

func (s *Sim) statusEvent(g *group, now time.Time) ocs.Message {
	return s.notice(g, ocs.EvCampaignStatus, now).WithStatus(g.status).WithPacing(g.pacing)
}
