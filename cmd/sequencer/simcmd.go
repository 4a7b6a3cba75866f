package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/sequencer-dev/sequencer/ocs/ocssim"
)

func init() {
	register("ocs-sim", "run the OCS simulator standalone: the bridge framing on TCP, optionally OCS's HTTP interface", cmdSimulator)
}

func cmdSimulator(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("ocs-sim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:7410", "address for the bridge framing")
	config := fs.String("config", "", "simulator configuration (JSON); default: the built-in one matching examples/")
	records := fs.Int64("records", 0, "records per calling list (0: as configured)")
	rate := fs.Float64("dials-per-second", 0, "dial rate of every dial mode (0: as configured)")
	contact := fs.Float64("contact-rate", -1, "share of dials that become contacts, 0-1 (-1: as configured)")
	httpAddr := fs.String("http", "", "also serve OCS's HTTP interface (/campaigngroups/<DBID>?req=<Action>) on this address")
	statesURI := fs.String("states-uri", "", "POST campaign-group states to this URI, as OCS's campaigngroup-states-uri")
	statesEvery := fs.Duration("states-interval", 10*time.Second, "period of the state POSTs of loaded groups (campaigngroup-states-interval)")
	logFormat := fs.String("log-format", "auto", "log format: text, json or auto")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return errSilent(2)
	}
	cfg := ocssim.Default()
	if *config != "" {
		c, err := ocssim.LoadConfig(*config)
		if err != nil {
			return usageError("ocs-sim: %v", err)
		}
		cfg = c
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
	sim := ocssim.New(cfg, ocssim.WithLogger(log))
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("ocs-sim: %w", err)
	}
	log.Info("OCS simulator listening", "addr", ln.Addr().String(), "app", cfg.AppDBID)
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
		go func() { defer wg.Done(); sim.Serve(c) }()
	}
	sim.Close()
	wg.Wait()
	log.Info("OCS simulator stopped")
	return nil
}
