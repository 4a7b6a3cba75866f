package ocssim

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/sequencer-dev/sequencer/ocs"
)

// knobs are the adversarial behaviours a deterministic simulation harness
// turns on; every choice they make is drawn from the simulator's rand.
type knobs struct {
	delayMin, delayMax time.Duration // per-request answer delay
	eventsFirst        float64       // share of requests whose events precede their answer
	staleWindow        time.Duration
	staleShare         float64
	status             StatusEvents
}

// WithRand makes every random choice of the simulator come from r, so that
// a run is reproduced from r's seed (in a synctest bubble, and as long as
// no two of the simulator's timers fire at the same instant, whose order
// Go does not fix). Without it the simulator uses a fixed seed. Give each
// simulator its own r: a rand.Rand is not safe for concurrent use.
func WithRand(r *rand.Rand) Option { return func(s *Sim) { s.rnd = r } }

// WithAnswerDelay delays each answer by a duration drawn evenly from
// [lo, hi] (hi below lo counts as lo), on top of DelayAnswers. Answers to
// one connection still keep the order of their requests: one waits for
// the answer before it. Events the request causes are not delayed: they
// arrive before the answer.
func WithAnswerDelay(lo, hi time.Duration) Option {
	return func(s *Sim) { s.knobs.delayMin, s.knobs.delayMax = lo, max(lo, hi) }
}

// WithEventsBeforeAnswer sends the unsolicited events a request causes
// before its answer for this share (0–1) of requests, chosen per request.
func WithEventsBeforeAnswer(share float64) Option {
	return func(s *Sim) { s.knobs.eventsFirst = share }
}

// WithStaleStatus answers a share (0–1) of status requests about a
// running auto-completion group whose list runs dry within window with
// the state as it stands (Running), then at once stops and unloads the
// group by auto-completion, its events right behind the answer: the
// answer is stale as soon as it is read. The list runs dry early by up to
// window.
func WithStaleStatus(window time.Duration, share float64) Option {
	return func(s *Sim) { s.knobs.staleWindow, s.knobs.staleShare = window, share }
}

func (s *Sim) answerDelay() time.Duration {
	if s.knobs.delayMax <= 0 {
		return 0
	}
	return s.knobs.delayMin + time.Duration(s.rnd.Int64N(int64(s.knobs.delayMax-s.knobs.delayMin)+1))
}

// staleCompletion decides whether a status request just answered is
// overtaken by an auto-completion, and makes it happen if so.
func (s *Sim) staleCompletion(m ocs.Message, now time.Time) []ocs.Message {
	if s.knobs.staleShare <= 0 || m.CampaignDBID == 0 {
		return nil
	}
	g := s.groups[key{m.CampaignDBID, m.GroupDBID}]
	if g == nil || g.status != ocs.StatusRunning || !g.auto || g.owner != 0 || g.rate <= 0 {
		return nil
	}
	left := g.left() - s.dialsRun(g, now)
	if time.Duration(float64(left)/g.rate*float64(time.Second)) > s.knobs.staleWindow {
		return nil
	}
	if s.rnd.Float64() >= s.knobs.staleShare {
		return nil
	}
	s.actor = actor{cause: CauseAutoCompletion}
	return s.autoComplete(g, now, true)
}

// LoadByHand is an operator loading a campaign group in OCM (or Genesys
// Administrator) with its current dial parameters, without
// auto-completion. The error is OCS's refusal, as the daemon would get it.
func (s *Sim) LoadByHand(campaign, group int32) error {
	return s.byHand(ocs.ReqLoadCampaign, campaign, group)
}

// StartByHand is an operator starting a loaded campaign group in OCM.
func (s *Sim) StartByHand(campaign, group int32) error {
	return s.byHand(ocs.ReqStartDialing, campaign, group)
}

// StopByHand is an operator stopping a campaign group in OCM.
func (s *Sim) StopByHand(campaign, group int32) error {
	return s.byHand(ocs.ReqStopDialing, campaign, group)
}

// UnloadByHand is an operator unloading a campaign group in OCM; it drains
// like a CommDN unload.
func (s *Sim) UnloadByHand(campaign, group int32) error {
	return s.byHand(ocs.ReqUnloadCampaign, campaign, group)
}

// byHand applies an operator's action. It is not a CommDN request, so it
// stays out of the transcript; the state log says "hand".
func (s *Sim) byHand(t ocs.MessageType, campaign, group int32) error {
	s.mu.Lock()
	now := time.Now()
	g := s.groups[key{campaign, group}]
	if g == nil {
		s.mu.Unlock()
		return fmt.Errorf("%s by hand: campaign group %d/%d is not configured", t, campaign, group)
	}
	m := ocs.Message{Type: t, Has: ocs.AttrCampaign | ocs.AttrGroup, CampaignDBID: campaign, GroupDBID: group}
	if t == ocs.ReqLoadCampaign || t == ocs.ReqStartDialing {
		m = m.WithPacing(g.pacing)
	}
	s.actor = actor{cause: CauseHand}
	var ans ocs.Message
	var evs []ocs.Message
	if g.owner != 0 {
		ans = ocs.NewError(m, s.partOfSequence(), "")
	} else {
		ans, evs = s.applyGroup(g, m, now)
	}
	s.mu.Unlock()
	s.broadcast(evs)
	if err := ans.AsError(t); err != nil {
		return fmt.Errorf("by hand on %d/%d: %w", campaign, group, err)
	}
	return nil
}
