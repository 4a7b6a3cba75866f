package reconcile

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sequencer-dev/sequencer/ocs"
	"github.com/sequencer-dev/sequencer/ocs/bridge"
	"github.com/sequencer-dev/sequencer/ocs/ocssim"
	"github.com/sequencer-dev/sequencer/schedule"
	"github.com/sequencer-dev/sequencer/specs"
	"github.com/sequencer-dev/sequencer/store"
)

var (
	diffSpecs = flag.Int("diff-specs", 500, "random specs the plan-equals-run test runs")
	diffSeed  = flag.Uint64("diff-seed", 0, "first seed of the plan-equals-run test (0: fixed default)")
)

// diffLoop is the loop timing of the differential test, in both the live
// loop and the projection: a long resync keeps 8 virtual days cheap, and
// it is the same rules either way.
var diffAssume = func() Assumptions {
	a := DefaultAssumptions()
	// Polls 7 µs off the whole second: a poll at the very instant OCS ends
	// an item of its own sequence sees either state, in the daemon too, so
	// the test keeps the two apart rather than guess the order.
	a.Resync, a.PollInterval = time.Hour, 15*time.Minute+7*time.Microsecond
	return a
}()

// The dates synctest's clock is moved to before a spec runs: DST changes
// of 2000 in the zones below, and a plain week.
var diffStarts = []string{
	"2000-03-24T00:00:17Z", // EU spring forward (26 Mar), Chile's, Sydney's autumn
	"2000-03-30T00:00:17Z", // US spring forward (2 Apr)
	"2000-10-25T00:00:17Z", // EU and US fall back (29 Oct)
	"2000-08-22T00:00:17Z", // Sydney's spring forward (27 Aug)
	"2000-01-10T00:00:17Z",
}

var diffZones = []string{"UTC", "America/New_York", "Europe/Berlin", "Australia/Sydney", "Asia/Kolkata", "America/Santiago", "Australia/Lord_Howe"}

// randomSpec draws one sequence: a cron, at or immediate start, maybe a
// window with except dates, one to three items with sleeps, HH:MM and
// +duration stops and small counts, either engine; and stored progress
// that may have missed starts.
func randomSpec(rng *rand.Rand, t0 time.Time) (*specs.Sequence, *store.Progress) {
	tz := diffZones[rng.IntN(len(diffZones))]
	loc, _ := time.LoadLocation(tz)
	s := &specs.Sequence{Name: "s", TimeZone: tz, Location: loc, Engine: specs.EngineSequencer, OnDelete: specs.OnDeleteStop, Generation: 1}
	if rng.IntN(4) == 0 {
		s.Engine = specs.EngineOCS
	}
	switch k := rng.IntN(10); {
	case k == 0:
		// immediate
	case k == 1:
		s.Start.At = t0.Add(time.Duration(rng.IntN(5*24*60)) * time.Minute).Truncate(time.Minute)
	default:
		// At most three starts a day: a week of hourly runs costs as much
		// as a hundred specs and exercises nothing more.
		hours := []string{fmt.Sprint(rng.IntN(24)), fmt.Sprintf("%d,%d", rng.IntN(12), 12+rng.IntN(12)), "1-3", "2"}
		days := []string{"*", "1-5", "0,6", fmt.Sprint(rng.IntN(7))}
		s.Start.Schedule = fmt.Sprintf("%d %s * * %s", rng.IntN(60), hours[rng.IntN(len(hours))], days[rng.IntN(len(days))])
		if rng.IntN(2) == 0 {
			s.Start.StartingDeadline = time.Duration(1+rng.IntN(120)) * time.Minute
		}
	}
	if s.Engine == specs.EngineSequencer && rng.IntN(2) == 0 {
		from := rng.IntN(20)
		w := &specs.Window{From: specs.TimeOfDay{Hour: from, Minute: 30 * rng.IntN(2)}, To: specs.TimeOfDay{Hour: from + 1 + rng.IntN(24-from)}}
		if rng.IntN(2) == 0 {
			w.Days = weekdays
		}
		for range rng.IntN(3) {
			d := t0.In(loc).AddDate(0, 0, rng.IntN(8))
			w.ExceptDates = append(w.ExceptDates, specs.Date{Year: d.Year(), Month: d.Month(), Day: d.Day()})
		}
		s.Window = w
	}
	n := 1 + rng.IntN(3)
	group, base := int32(732), int32(101)
	if rng.IntN(2) == 0 {
		group, base = 733, 104
	}
	modes := []ocs.DialMode{ocs.DialModeProgress, ocs.DialModePredict, ocs.DialModePreview}
	for i := 0; i < n; i++ {
		it := specs.Item{Name: fmt.Sprintf("i%d", i), CampaignDBID: base + int32(i), GroupDBID: group, DialMode: modes[rng.IntN(len(modes))]}
		if i > 0 || rng.IntN(3) == 0 {
			it.SleepBeforeNextStart = time.Duration(rng.IntN(30)) * time.Minute
			if s.Engine == specs.EngineSequencer && rng.IntN(3) == 0 {
				it.SleepBeforeNextStart += time.Duration(rng.IntN(60)) * time.Second
			}
		}
		switch rng.IntN(4) {
		case 0:
			it.StopAt.Time = tod(rng.IntN(24), 15*rng.IntN(4))
		case 1, 2:
			it.StopAt.Time = after(time.Duration(5+rng.IntN(180)) * time.Minute)
		}
		if it.StopAt.Time.Kind == specs.StopNone || rng.IntN(3) == 0 {
			if rng.IntN(2) == 0 {
				it.StopAt.Dials = int32(20 + rng.IntN(2000))
			} else {
				it.StopAt.Contacts = int32(10 + rng.IntN(300))
			}
		}
		s.Items = append(s.Items, it)
	}
	rehash(s)
	var p *store.Progress
	if s.Start.Schedule != "" && rng.IntN(3) == 0 {
		// Down for up to three days before t0: missed starts.
		p = &store.Progress{Sequence: s.Name, SpecHash: s.Hash, Generation: s.Generation,
			LastScheduled: t0.Add(-time.Duration(1+rng.IntN(3*24*60)) * time.Minute)}
	}
	return s, p
}

// liveHistory runs the real loop against the simulator for span in a
// synctest bubble started at t0 and returns its history.
func liveHistory(t *testing.T, s *specs.Sequence, p *store.Progress, t0 time.Time, span time.Duration) []store.Event {
	var hist []store.Event
	synctest.Test(t, func(t *testing.T) {
		time.Sleep(time.Until(t0))
		cfg := ocssim.Default()
		for i := range cfg.CampaignGroups {
			cfg.CampaignGroups[i].Records = 1 << 30
		}
		sim := ocssim.New(cfg)
		defer sim.Close()
		link := bridge.New(func(ctx context.Context) (net.Conn, error) {
			a, b := net.Pipe()
			go sim.Serve(b)
			return a, nil
		}, bridge.Options{Counters: true, BackoffMin: time.Second})
		defer link.Close()
		st := NewMemStore()
		if p != nil {
			st.PutProgress(*p)
		}
		r := New(Config{Link: link, Store: st, Resync: diffAssume.Resync, MaxSleep: diffAssume.Resync, PollInterval: diffAssume.PollInterval})
		snaps := make(chan specs.Snapshot, 1)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- r.Run(ctx, snaps) }()
		snaps <- specs.Snapshot{Sequences: map[string]*specs.Sequence{s.Name: s}}
		time.Sleep(span)
		cancel()
		<-done
		hist = st.Events()
		if testing.Verbose() {
			t.Logf("%d requests, %d history events; %s %+v %+v %+v", len(sim.Transcript()), len(hist), s.Engine, s.Start, s.Window, s.Items)
		}
	})
	return hist
}

func eventLines(evs []schedule.Event, from, until time.Time) []string {
	var out []string
	for _, e := range evs {
		if e.At.Before(from) || !e.At.Before(until) {
			continue
		}
		out = append(out, fmt.Sprintf("%s %s %s", e.At.Format(time.RFC3339), e.Action, e.Item))
	}
	return out
}

// TestThePlanIsWhatTheDaemonDoes runs random specs through the real loop
// against the simulator for 8 virtual days and through the projector, and
// asks for the same sequence starts, item starts and stops, window pauses
// and resumes, skips and ends, to the second.
func TestThePlanIsWhatTheDaemonDoes(t *testing.T) {
	n := *diffSpecs
	if testing.Short() {
		n = min(n, 50)
	}
	const span = 8 * 24 * time.Hour
	seed := *diffSeed
	if seed == 0 {
		seed = 15
	}
	for i := 0; i < n; i++ {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			t.Parallel()
			rng := rand.New(rand.NewPCG(seed, uint64(i)))
			t0, _ := time.Parse(time.RFC3339, diffStarts[rng.IntN(len(diffStarts))])
			s, p := randomSpec(rng, t0)
			var progress []store.Progress
			if p != nil {
				progress = append(progress, *p)
			}
			plan := eventLines(Project([]*specs.Sequence{s}, progress, t0, span, diffAssume), t0, t0.Add(span))
			hist := liveHistory(t, s, p, t0, span)
			ran := eventLines(PlanEvents(map[string]*specs.Sequence{s.Name: s}, hist), t0, t0.Add(span))
			if len(ran) == 0 {
				t.Fatalf("the run wrote no history")
			}
			if d := firstDiff(plan, ran); d != "" {
				t.Errorf("spec %d (-diff-seed %d): plan and run differ: %s\nspec: engine %s zone %s start %+v window %+v items %+v progress %+v",
					i, seed, d, s.Engine, s.TimeZone, s.Start, s.Window, s.Items, p)
			}
		})
	}
}

func firstDiff(plan, ran []string) string {
	for i := 0; i < max(len(plan), len(ran)); i++ {
		var a, b string
		if i < len(plan) {
			a = plan[i]
		}
		if i < len(ran) {
			b = ran[i]
		}
		if a != b {
			lo := max(0, i-3)
			return fmt.Sprintf("at event %d: plan %q, run %q\nplan:\n  %s\nrun:\n  %s", i, a, b,
				strings.Join(plan[lo:min(len(plan), i+3)], "\n  "), strings.Join(ran[lo:min(len(ran), i+3)], "\n  "))
		}
	}
	return ""
}
