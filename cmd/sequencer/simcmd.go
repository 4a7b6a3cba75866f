package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/sequencer-dev/sequencer/ocs/ocssim"
	"github.com/sequencer-dev/sequencer/specs"
)

func init() {
	register("ocs-sim", "run the OCS simulator standalone: the bridge framing on TCP, optionally OCS's HTTP interface", cmdSimulator)
}

func cmdSimulator(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("ocs-sim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:7410", "address for the bridge framing")
	config := fs.String("config", "", "simulator configuration (JSON, or YAML by extension); default: the built-in one matching examples/")
	records := fs.Int64("records", 0, "records per calling list (0: as configured)")
	rate := fs.Float64("dials-per-second", 0, "dial rate of every dial mode (0: as configured)")
	contact := fs.Float64("contact-rate", -1, "share of dials that become contacts, 0-1 (-1: as configured)")
	httpAddr := fs.String("http", "", "also serve OCS's HTTP interface (/campaigngroups/<DBID>?req=<Action>) on this address")
	statesURI := fs.String("states-uri", "", "POST campaign-group states to this URI, as OCS's campaigngroup-states-uri")
	statesEvery := fs.Duration("states-interval", 10*time.Second, "period of the state POSTs of loaded groups (campaigngroup-states-interval)")
	profile := fs.String("profile", "", "what the simulator sends: full (dial counters, a status event on every change) or seed (only what the Communication DN API chapter lists); default: the configuration's, else full")
	instances := fs.Int("instances", 1, "OCS servers on the one Communication DN (application DBIDs AppDBID, AppDBID+1, …); the HTTP interface and state POSTs are the first one's")
	var flt faultFlags
	fs.DurationVar(&flt.delay, "delay-answers", 0, "fault: delay every answer by this long")
	fs.IntVar(&flt.dropAnswers, "drop-answers", 0, "fault: process the next N requests but lose their answers")
	fs.IntVar(&flt.dropRequests, "drop-requests", 0, "fault: lose the next N requests")
	fs.Float64Var(&flt.dropStatus, "drop-status", 0, "fault: drop this share (0-1) of unsolicited status events")
	fs.DurationVar(&flt.delayStatus, "delay-status", 0, "fault: deliver unsolicited status events this late")
	fs.DurationVar(&flt.disconnectEvery, "disconnect-every", 0, "fault: close every client connection this often")
	fs.DurationVar(&flt.restartEvery, "restart-every", 0, "fault: behave like an OCS restart this often (all groups unloaded, sequences lost)")
	logFormat := fs.String("log-format", "auto", "log format: text, json or auto")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return errSilent(2)
	}
	cfg := ocssim.Default()
	if *config != "" {
		c, err := loadSimConfig(*config)
		if err != nil {
			return usageError("ocs-sim: %v", err)
		}
		cfg = c
	}
	if *profile != "" {
		p, err := ocssim.ParseProfile(*profile)
		if err != nil {
			return usageError("ocs-sim: --profile: %v", err)
		}
		cfg.Profile = p
	}
	if *records > 0 {
		for i := range cfg.CampaignGroups {
			cfg.CampaignGroups[i].Records = *records
		}
	}
	if *rate > 0 {
		cfg.Rates = ocssim.Rates{Predictive: *rate, Progressive: *rate, Preview: *rate}
	}
	if *contact >= 0 {
		if *contact > 1 {
			return usageError("ocs-sim: --contact-rate must be between 0 and 1")
		}
		cfg.ContactRate = *contact
	}
	log, err := newLogger(stderr, *logFormat, "info")
	if err != nil {
		return usageError("ocs-sim: %v", err)
	}
	if *instances < 1 || *instances > 32 {
		return usageError("ocs-sim: --instances must be between 1 and 32")
	}
	if flt.dropStatus < 0 || flt.dropStatus > 1 {
		return usageError("ocs-sim: --drop-status must be between 0 and 1")
	}
	var sims []*ocssim.Sim
	for i := range *instances {
		c := cfg
		c.AppDBID = cfg.AppDBID + int32(i)
		sims = append(sims, ocssim.New(c, ocssim.WithLogger(log.With("ocs", c.AppDBID))))
	}
	sim := sims[0]
	dn := ocssim.NewDN(sims...)
	flt.apply(ctx, sims, log)
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("ocs-sim: %w", err)
	}
	log.Info("OCS simulator listening", "addr", ln.Addr().String(), "app", cfg.AppDBID, "instances", len(sims), "profile", cfg.Profile)
	var wg sync.WaitGroup
	if *httpAddr != "" {
		hl, err := net.Listen("tcp", *httpAddr)
		if err != nil {
			ln.Close()
			return fmt.Errorf("ocs-sim: %w", err)
		}
		srv := &http.Server{Handler: sim.HTTPHandler(), ReadHeaderTimeout: 10 * time.Second}
		go srv.Serve(hl)
		defer srv.Close()
		log.Info("OCS simulator HTTP interface listening", "addr", hl.Addr().String())
	}
	if *statesURI != "" {
		wg.Add(1)
		go func() { defer wg.Done(); sim.ReportStates(ctx, *statesURI, *statesEvery, nil) }()
		log.Info("posting campaign-group states", "uri", *statesURI, "interval", *statesEvery)
	}
	go func() {
		<-ctx.Done()
		ln.Close()
	}()
	for {
		c, err := ln.Accept()
		if err != nil {
			break
		}
		wg.Add(1)
		go func() { defer wg.Done(); dn.Serve(c) }()
	}
	for _, s := range sims {
		s.Close()
	}
	wg.Wait()
	log.Info("OCS simulator stopped")
	return nil
}

// loadSimConfig reads a simulator configuration in JSON or, by its
// extension, YAML.
func loadSimConfig(path string) (ocssim.Config, error) {
	ext := strings.ToLower(filepath.Ext(path))
	if ext != ".yaml" && ext != ".yml" {
		return ocssim.LoadConfig(path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return ocssim.Config{}, err
	}
	j, err := specs.YAMLToJSON(b)
	if err != nil {
		return ocssim.Config{}, fmt.Errorf("simulator config %s: %w", path, err)
	}
	cfg, err := ocssim.ParseConfig(j)
	if err != nil {
		return cfg, fmt.Errorf("simulator config %s: %w", path, err)
	}
	return cfg, nil
}

// faultFlags are the simulator's faults, switched on from the command line
// so that a staging daemon can be shown a bad night.
type faultFlags struct {
	delay                         time.Duration
	dropAnswers, dropRequests     int
	dropStatus                    float64
	delayStatus                   time.Duration
	disconnectEvery, restartEvery time.Duration
}

func (f faultFlags) apply(ctx context.Context, sims []*ocssim.Sim, log *slog.Logger) {
	for _, s := range sims {
		if f.delay > 0 {
			s.DelayAnswers(f.delay)
		}
		if f.dropAnswers > 0 {
			s.DropAnswers(f.dropAnswers)
		}
		if f.dropRequests > 0 {
			s.DropRequests(0, f.dropRequests)
		}
		if f.dropStatus > 0 {
			s.DropStatusEvents(f.dropStatus)
		}
		if f.delayStatus > 0 {
			s.DelayStatusEvents(f.delayStatus)
		}
	}
	every := func(d time.Duration, what string, do func(*ocssim.Sim)) {
		if d <= 0 {
			return
		}
		go func() {
			t := time.NewTicker(d)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
					log.Warn("fault: " + what)
					for _, s := range sims {
						do(s)
					}
				}
			}
		}()
	}
	every(f.disconnectEvery, "disconnecting every client", (*ocssim.Sim).Disconnect)
	every(f.restartEvery, "restarting like OCS (all campaign groups unloaded)", (*ocssim.Sim).Restart)
}
