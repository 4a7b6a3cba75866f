package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"sort"
	"time"

	"github.com/sequencer-dev/sequencer/reconcile"
	"github.com/sequencer-dev/sequencer/schedule"
	"github.com/sequencer-dev/sequencer/specs"
)

func init() {
	register("plan", "print the projected timeline of starts, stops, pauses and skips (text or JSON)", cmdPlan)
}

// planNow is the clock of `plan` (the default of --from); tests replace it.
var planNow = time.Now

func cmdPlan(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("plan", flag.ContinueOnError)
	fs.SetOutput(stderr)
	from := fs.String("from", "", "start of the plan, RFC 3339 (default: now)")
	span := fs.Duration("for", 72*time.Hour, "length of the plan")
	format := fs.String("format", "text", "output format: text or json")
	def := reconcile.DefaultAssumptions()
	unload := fs.Duration("unload-time", def.UnloadTime, "assumed time OCS takes to unload a campaign group after dialing stops")
	rate := fs.Float64("rate", 0, "assumed dials per minute of a dialing item (default: the simulator's rate for its dial mode)")
	records := fs.Int64("records", 0, "assumed records in each calling list (default: lists never run dry)")
	server := fs.String("server", "", "project the run in progress of sequence NAME on this daemon (its ETA) instead of specs")
	tokenFile := fs.String("token-file", os.Getenv("SEQUENCER_TOKEN_FILE"), "with --server: file holding the API bearer token ($SEQUENCER_TOKEN_FILE)")
	contactRate := fs.Float64("contact-rate", def.ContactRate, "assumed share of dials that reach a contact")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: sequencer plan [--from RFC3339] [--for DURATION] [--format text|json] [--unload-time D] [--rate DIALS/MIN] [--contact-rate F] [--records N] [PATH...]")
		fmt.Fprintln(fs.Output(), "       sequencer plan --server URL [--token-file F] [--unload-time D] [--format text|json] NAME")
		fs.PrintDefaults()
	}
	// Flags may come before or after the paths (the issue writes them after).
	var paths []string
	for rest := args; ; {
		if err := fs.Parse(rest); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil
			}
			return &exitError{code: 2}
		}
		if fs.NArg() == 0 {
			break
		}
		paths = append(paths, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	if *server != "" {
		if len(paths) != 1 {
			return usageError("plan: with --server, give exactly one sequence NAME")
		}
		if *format != "text" && *format != "json" {
			return usageError("plan: --format must be text or json, got %q", *format)
		}
		c, err := newClient(*server, *tokenFile)
		if err != nil {
			return usageError("plan: %v", err)
		}
		return printETA(ctx, c, paths[0], *unload, *format, stdout)
	}
	start := planNow().UTC().Truncate(time.Second)
	if *from != "" {
		t, err := time.Parse(time.RFC3339, *from)
		if err != nil {
			return usageError("plan: --from %q is not an RFC 3339 time (like 2026-10-29T00:00:00Z)", *from)
		}
		start = t
	}
	if *span <= 0 {
		return usageError("plan: --for must be positive, got %s", *span)
	}
	if *unload < 0 || *rate < 0 || *records < 0 || *contactRate <= 0 || *contactRate > 1 {
		return usageError("plan: --unload-time, --rate and --records must not be negative, --contact-rate must be in (0, 1]")
	}
	if *format != "text" && *format != "json" {
		return usageError("plan: --format must be text or json, got %q", *format)
	}
	if len(paths) == 0 {
		paths = []string{defaultSpecsPath()}
	}
	seqs, problems, err := loadPlanSpecs(paths)
	if err != nil {
		return usageError("plan: %v", err)
	}
	// Problems go to stderr, in validate's form: stdout is the plan.
	for _, p := range problems {
		fmt.Fprintln(stderr, p.String())
	}
	if specs.HasErrors(problems) {
		return errSilent(1)
	}
	sort.Slice(seqs, func(i, j int) bool { return seqs[i].Name < seqs[j].Name })
	a := def
	a.UnloadTime, a.DialRate, a.ContactRate, a.Records = *unload, *rate, *contactRate, *records
	evs := reconcile.Project(seqs, nil, start, *span, a)
	if *format == "json" {
		b, err := schedule.JSON(evs)
		if err != nil {
			return fmt.Errorf("plan: %w", err)
		}
		_, err = fmt.Fprintf(stdout, "%s\n", b)
		return err
	}
	if len(evs) == 0 {
		_, err := fmt.Fprintf(stdout, "no events from %s for %s\n", start.Format(time.RFC3339), *span)
		return err
	}
	_, err = io.WriteString(stdout, schedule.Text(evs))
	return err
}

// loadPlanSpecs loads the paths like validate does and returns the
// sequences, the problems found, and a directory-level failure.
func loadPlanSpecs(paths []string) ([]*specs.Sequence, []specs.Problem, error) {
	snap := specs.Load(specs.LoadOptions{Overlap: schedule.RunsOverlap}, paths...)
	if snap.Err != nil {
		return nil, nil, snap.Err
	}
	seqs := make([]*specs.Sequence, 0, len(snap.Sequences))
	for _, s := range snap.Sequences {
		seqs = append(seqs, s)
	}
	return seqs, snap.Problems, nil
}

// printETA shows a running sequence's projection to the end of its run,
// as the daemon computes it from its real progress.
func printETA(ctx context.Context, c *client, name string, unload time.Duration, format string, stdout io.Writer) error {
	var e reconcile.ETA
	path := "/api/v1/sequences/" + url.PathEscape(name) + "/plan?unload-time=" + url.QueryEscape(unload.String())
	if err := c.do(ctx, "GET", path, nil, &e); err != nil {
		return fmt.Errorf("plan %s: %w", name, err)
	}
	if format == "json" {
		b, err := json.MarshalIndent(e, "", "  ")
		if err != nil {
			return fmt.Errorf("plan: %w", err)
		}
		_, err = fmt.Fprintf(stdout, "%s\n", b)
		return err
	}
	loc, err := time.LoadLocation(e.TimeZone)
	if err != nil {
		loc = time.UTC
	}
	if e.Run == "" {
		_, err := fmt.Fprintf(stdout, "%s: no run in progress\n", name)
		return err
	}
	basis := "assumed"
	if e.Measured {
		basis = "measured"
	}
	fmt.Fprintf(stdout, "run %s, now on item %s; %.0f dials/min and %.0f%% contacts (%s)\n", e.Run, e.Item, e.DialsPerMinute, 100*e.ContactShare, basis)
	switch {
	case e.End.IsZero():
		fmt.Fprintln(stdout, "the run does not end within the projection")
	case e.EndEstimate:
		fmt.Fprintf(stdout, "ends %s (estimate)\n", e.End.In(loc).Format("Mon 2006-01-02 15:04:05 MST"))
	default:
		fmt.Fprintf(stdout, "ends %s\n", e.End.In(loc).Format("Mon 2006-01-02 15:04:05 MST"))
	}
	for i := range e.Events {
		e.Events[i].Location = loc
	}
	_, err = io.WriteString(stdout, schedule.Text(e.Events))
	return err
}
