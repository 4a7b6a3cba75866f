// Package ocssim simulates an Outbound Contact Server as the Communication
// DN API describes it: campaign groups that load, dial, stop and unload with
// the seed's answers and error codes, calling lists that deplete, auto-
// completion, OCS-side campaign sequences, the connection rule, and faults.
// It reads time only through package time, so it runs inside a
// testing/synctest bubble, and it speaks the bridge framing over any
// net.Conn. It is the embedded default of `sequencer run` and the OCS every
// end-to-end test talks to.
//
// Its default profile sends more than the seed promises (dial counters, a
// status event on every change); the seed profile sends only what the seed
// lists, so that tests can show the daemon does not depend on the rest
// (docs/protocol-keys.md). Options for a deterministic simulation harness
// (WithRand and the knobs in knobs.go) make it misbehave in the ways a real
// OCS may, reproducibly, and Changes and Dialing give the ground truth.
package ocssim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/sequencer-dev/sequencer/ocs"
)

// Config describes the simulated OCS and its configuration database.
type Config struct {
	AppDBID        int32           `json:"appDBID"`
	Connections    []int32         `json:"connections,omitempty"` // origin apps allowed; empty: all
	Campaigns      []Campaign      `json:"campaigns"`
	Groups         []Group         `json:"groups"`
	CampaignGroups []CampaignGroup `json:"campaignGroups"`
	Rates          Rates           `json:"rates"`
	ContactRate    float64         `json:"contactRate"`             // share of dials that become contacts
	LicensedModes  []ocs.DialMode  `json:"licensedModes,omitempty"` // empty: all
	DrainTime      Duration        `json:"drainTime"`               // WaitingUnload → NotLoaded
	// TalkTime is how long a dialed record stays on an agent's desktop:
	// cancelling it then answers "Incomplete processing".
	TalkTime Duration `json:"talkTime"`
	// Profile is what the simulator sends beyond the seed: full (the
	// default) or seed.
	Profile Profile `json:"profile,omitempty"`
}

// Campaign, Group and CampaignGroup mirror the configuration objects.
type Campaign struct {
	DBID int32  `json:"dbid"`
	Name string `json:"name"`
}

type Group struct {
	DBID int32  `json:"dbid"`
	Name string `json:"name"`
}

// DBID is the campaign group's own configuration DBID, which OCS's HTTP
// interface addresses (/campaigngroups/<DBID>); 0 keeps it off HTTP.
type CampaignGroup struct {
	DBID         int32  `json:"dbid,omitempty"`
	CampaignDBID int32  `json:"campaignDBID"`
	GroupDBID    int32  `json:"groupDBID"`
	Records      int64  `json:"records"`
	Name         string `json:"name,omitempty"` // default "<campaign>@<group>"
	// The dial parameters configured on the campaign group object: what
	// OCS reports for it while it is not loaded, and what an operator's
	// load in OCM uses. Dial mode 0 means progressive.
	DialMode     ocs.DialMode       `json:"dialMode,omitempty"`
	OptimizeBy   ocs.OptimizeMethod `json:"optimizeBy,omitempty"`
	OptimizeGoal int32              `json:"optimizeGoal,omitempty"`
}

// configured is the campaign group's pacing as configured.
func (cg CampaignGroup) configured() ocs.Pacing {
	p := ocs.Pacing{DialMode: cg.DialMode, OptimizeBy: cg.OptimizeBy, OptimizeGoal: cg.OptimizeGoal}
	if p.DialMode == 0 {
		p.DialMode = ocs.DialModeProgress
	}
	return p
}

// Rates are dial attempts per second by dial mode family.
type Rates struct {
	Predictive  float64 `json:"predictive"`
	Progressive float64 `json:"progressive"`
	Preview     float64 `json:"preview"`
}

func (r Rates) of(m ocs.DialMode) float64 {
	switch {
	case m.IsPredictive():
		return r.Predictive
	case m.IsPreview():
		return r.Preview
	}
	return r.Progressive
}

// Duration reads "2s" from JSON.
type Duration time.Duration

func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration: want a string such as \"2s\": %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// Default is the built-in configuration; its DBIDs are the ones the specs
// in examples/ use.
func Default() Config {
	cg := func(c, g int32, n int64) CampaignGroup {
		return CampaignGroup{DBID: 5000 + c, CampaignDBID: c, GroupDBID: g, Records: n}
	}
	return Config{
		AppDBID: 120,
		Campaigns: []Campaign{{101, "Fresh Leads"}, {102, "Retries"}, {103, "Callbacks"},
			{104, "Demo Warm-up"}, {105, "Demo Drain"}, {106, "Sales Follow-up"}},
		Groups:         []Group{{732, "Collections Team"}, {733, "Sales Team"}},
		CampaignGroups: []CampaignGroup{cg(101, 732, 1000), cg(102, 732, 1000), cg(103, 732, 1000), cg(104, 733, 300), cg(105, 733, 100), cg(106, 733, 1000)},
		Rates:          Rates{Predictive: 10, Progressive: 5, Preview: 1},
		ContactRate:    0.3,
		DrainTime:      Duration(2 * time.Second),
		TalkTime:       Duration(30 * time.Second),
	}
}

// LoadConfig reads a JSON configuration file; see ParseConfig.
func LoadConfig(path string) (Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Default(), err
	}
	cfg, err := ParseConfig(b)
	if err != nil {
		return cfg, fmt.Errorf("simulator config %s: %w", path, err)
	}
	return cfg, nil
}

// ParseConfig reads a JSON configuration; fields left out keep the
// defaults, unknown fields are errors (a misspelt "records" must not pass
// silently).
func ParseConfig(b []byte) (Config, error) {
	cfg := Default()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cfg); err != nil {
		return cfg, err
	}
	seen := map[int32]bool{}
	for i, cg := range cfg.CampaignGroups {
		if cg.DBID != 0 && seen[cg.DBID] {
			return cfg, fmt.Errorf("campaignGroups[%d]: dbid %d used twice", i, cg.DBID)
		}
		seen[cg.DBID] = true
		if cg.Records < 0 {
			return cfg, fmt.Errorf("campaignGroups[%d]: records must not be negative", i)
		}
	}
	p, err := ParseProfile(string(cfg.Profile))
	if err != nil {
		return cfg, err
	}
	cfg.Profile = p
	if cfg.ContactRate < 0 || cfg.ContactRate > 1 {
		return cfg, fmt.Errorf("contactRate %v: want a share between 0 and 1", cfg.ContactRate)
	}
	return cfg, nil
}
