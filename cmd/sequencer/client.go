package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/sequencer-dev/sequencer/api"
	"github.com/sequencer-dev/sequencer/reconcile"
)

func init() {
	register("status", "show sequences of a running daemon", cmdStatus)
	register("history", "show a sequence's history from a running daemon", cmdHistory)
	register("suspend", "suspend a sequence (an override that survives restarts)", cmdSuspend)
	register("resume", "resume a sequence suspended with 'suspend'", cmdResume)
	register("reconcile", "ask the daemon to look at a sequence now", cmdReconcile)
}

// client talks to a running daemon's API.
type client struct {
	base  string
	token string
	http  *http.Client
}

func clientFlags(fs *flag.FlagSet) (server, tokenFile *string) {
	server = fs.String("server", envOr("SEQUENCER_SERVER", "http://127.0.0.1:8080"), "daemon API URL ($SEQUENCER_SERVER)")
	tokenFile = fs.String("token-file", os.Getenv("SEQUENCER_TOKEN_FILE"), "file holding the API bearer token ($SEQUENCER_TOKEN_FILE)")
	return
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func newClient(server, tokenFile string) (*client, error) {
	c := &client{base: strings.TrimRight(server, "/"), http: &http.Client{Timeout: 15 * time.Second}}
	if tokenFile != "" {
		b, err := os.ReadFile(tokenFile)
		if err != nil {
			return nil, fmt.Errorf("token file: %w", err)
		}
		c.token = strings.TrimSpace(string(b))
	}
	return c, nil
}

func (c *client) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return err
	}
	if rd != nil || method != http.MethodGet {
		// The API refuses a state change that is not JSON, bodiless ones
		// too, so that no browser form can make one.
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("daemon at %s: %w (is 'sequencer run' running?)", c.base, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode >= 300 {
		var eb api.ErrorBody
		if json.Unmarshal(data, &eb) == nil && eb.Error.Message != "" {
			return fmt.Errorf("%s (%s)", eb.Error.Message, eb.Error.Code)
		}
		return fmt.Errorf("%s %s: %s", method, path, resp.Status)
	}
	if out != nil {
		return json.Unmarshal(data, out)
	}
	return nil
}

// parseClientFlags parses a client command's flags; synopsis is what follows
// "sequencer " in its usage line, naming the arguments as well as the flags.
func parseClientFlags(name, synopsis string, args []string, stderr io.Writer, setup func(*flag.FlagSet)) (*flag.FlagSet, *client, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	server, tokenFile := clientFlags(fs)
	if setup != nil {
		setup(fs)
	}
	fs.Usage = usageFunc(fs, synopsis+" [--server URL] [--token-file F]")
	if err := parseInterleaved(fs, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, nil, errSilent(0)
		}
		return nil, nil, errSilent(2)
	}
	c, err := newClient(*server, *tokenFile)
	if err != nil {
		return nil, nil, usageError("%s: %v", name, err)
	}
	return fs, c, nil
}

// usageFunc prints "usage: sequencer SYNOPSIS" and the flags, to the
// flag set's output; -h then exits 0 and a bad flag 2.
func usageFunc(fs *flag.FlagSet, synopsis string) func() {
	return func() {
		fmt.Fprintf(fs.Output(), "usage: sequencer %s\n\nflags:\n", synopsis)
		fs.PrintDefaults()
	}
}

// parseInterleaved parses flags that may come before or after the
// positional arguments (`history demo --since 2h`); fs.Args() then holds
// the positionals only.
func parseInterleaved(fs *flag.FlagSet, args []string) error {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
	return fs.Parse(append([]string{"--"}, pos...))
}

func cmdStatus(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var format string
	var watch time.Duration
	fs, c, err := parseClientFlags("status", "status [NAME] [--format table|json] [--watch 2s]", args, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&format, "format", "table", "output: table or json")
		fs.DurationVar(&watch, "watch", 0, "refresh every interval (e.g. 2s) until interrupted")
	})
	if err != nil {
		return err
	}
	if format != "table" && format != "json" {
		return usageError("status: --format %q: want table or json", format)
	}
	if fs.NArg() > 1 {
		return usageError("status: at most one sequence name")
	}
	show := func() error {
		var seqs []reconcile.SequenceStatus
		if fs.NArg() == 1 {
			var one reconcile.SequenceStatus
			if err := c.do(ctx, http.MethodGet, "/api/v1/sequences/"+url.PathEscape(fs.Arg(0)), nil, &one); err != nil {
				return err
			}
			seqs = append(seqs, one)
		} else {
			var all struct {
				Sequences []reconcile.SequenceStatus `json:"sequences"`
			}
			if err := c.do(ctx, http.MethodGet, "/api/v1/sequences", nil, &all); err != nil {
				return err
			}
			seqs = all.Sequences
		}
		if format == "json" {
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "  ")
			if fs.NArg() == 1 {
				return enc.Encode(seqs[0])
			}
			return enc.Encode(seqs)
		}
		var halt reconcile.HaltStatus
		if err := c.do(ctx, http.MethodGet, "/api/v1/halt", nil, &halt); err == nil && halt.Halted {
			fmt.Fprintf(stdout, "DIALING HALTED by %s since %s: %s\n\n", halt.Who, halt.Since.Local().Format(time.DateTime), halt.Reason)
		}
		printStatusTable(stdout, seqs, time.Now())
		if fs.NArg() == 1 && seqs[0].Run != "" {
			printRunETA(ctx, c, seqs[0].Name, stdout)
		}
		return nil
	}
	if watch <= 0 {
		return show()
	}
	t := time.NewTicker(watch)
	defer t.Stop()
	for {
		fmt.Fprint(stdout, "\x1b[H\x1b[2J")
		if err := show(); err != nil {
			fmt.Fprintln(stdout, "error:", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// printStatusTable fits an 80-column terminal: long names are cut with "…".
func printStatusTable(w io.Writer, seqs []reconcile.SequenceStatus, now time.Time) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tPHASE\tITEM\tNEXT\tWHEN\tCOND")
	for _, s := range seqs {
		item := s.Item
		if item != "" {
			item = fmt.Sprintf("%d:%s", s.ItemIndex+1, item)
		}
		when := ""
		if !s.NextActionAt.IsZero() {
			when = humanUntil(s.NextActionAt.Sub(now))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", cut(s.Name, 20), s.Phase, cut(item, 14), cut(s.NextAction, 14), when, cut(badConditions(s), 12))
	}
	tw.Flush()
}

func badConditions(s reconcile.SequenceStatus) string {
	var out []string
	for _, c := range s.Conditions {
		if c.Status && c.Type != reconcile.CondReady && c.Type != reconcile.CondReconciling {
			out = append(out, c.Type)
		}
	}
	if len(out) == 0 {
		return "-"
	}
	return strings.Join(out, ",")
}

func humanUntil(d time.Duration) string {
	if d < 0 {
		return "now"
	}
	switch {
	case d < time.Minute:
		return fmt.Sprintf("in %ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("in %dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("in %dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("in %dd", int(d.Hours()/24))
}

func cut(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

func cmdHistory(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var since, format, specHash, run string
	var limit int
	fs, c, err := parseClientFlags("history", "history NAME [--since 24h|RFC3339] [--limit N] [--spec-hash H] [--run ID] [--format text|json]", args, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&since, "since", "24h", "how far back: a duration (24h) or RFC 3339")
		fs.StringVar(&specHash, "spec-hash", "", "only events of this spec version (a hash or its prefix, as status shows it)")
		fs.StringVar(&run, "run", "", "only events of this run (NAME@scheduled, as status shows it)")
		fs.IntVar(&limit, "limit", 200, "at most this many events")
		fs.StringVar(&format, "format", "text", "output: text or json")
	})
	if err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageError("history: want exactly one sequence name")
	}
	var out struct {
		Events []api.HistoryEvent `json:"events"`
	}
	q := url.Values{"since": {since}, "limit": {fmt.Sprint(limit)}}
	if specHash != "" {
		q.Set("specHash", specHash)
	}
	if run != "" {
		q.Set("run", run)
	}
	if err := c.do(ctx, http.MethodGet, "/api/v1/sequences/"+url.PathEscape(fs.Arg(0))+"/history?"+q.Encode(), nil, &out); err != nil {
		return err
	}
	if format == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out.Events)
	}
	for _, e := range out.Events {
		what := e.Kind
		if e.Action != "" {
			what += " " + e.Action
		}
		fmt.Fprintf(stdout, "%s  %-16s %s\n", e.At.Local().Format("2006-01-02 15:04:05 MST"), what, e.Message)
	}
	return nil
}

var overrideSynopsis = map[string]string{
	"suspend": "suspend NAME [--for DURATION] [--reason R]",
	"resume":  "resume NAME [--reason R]",
}

func cmdSuspend(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return override(ctx, "suspend", args, stdout, stderr)
}

func cmdResume(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return override(ctx, "resume", args, stdout, stderr)
}

func override(ctx context.Context, verb string, args []string, stdout, stderr io.Writer) error {
	var reason string
	var dur time.Duration
	fs, c, err := parseClientFlags(verb, overrideSynopsis[verb], args, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&reason, "reason", "", "why (recorded in history)")
		if verb == "suspend" {
			fs.DurationVar(&dur, "for", 0, "suspend for this long, then resume by itself (default: until resumed)")
		}
	})
	if err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageError("%s: want exactly one sequence name", verb)
	}
	body := api.OverrideRequest{Reason: reason, By: currentUser()}
	if dur > 0 {
		body.For = dur.String()
	}
	var st reconcile.SequenceStatus
	if err := c.do(ctx, http.MethodPost, "/api/v1/sequences/"+url.PathEscape(fs.Arg(0))+"/"+verb, body, &st); err != nil {
		return err
	}
	done := map[string]string{"suspend": "suspended", "resume": "resumed"}[verb]
	fmt.Fprintf(stdout, "%s: %s (phase %s)\n", st.Name, done, st.Phase)
	return nil
}

func cmdReconcile(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, c, err := parseClientFlags("reconcile", "reconcile NAME", args, stderr, nil)
	if err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageError("reconcile: want exactly one sequence name")
	}
	var st reconcile.SequenceStatus
	if err := c.do(ctx, http.MethodPost, "/api/v1/sequences/"+url.PathEscape(fs.Arg(0))+"/reconcile", nil, &st); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: reconcile requested (phase %s)\n", st.Name, st.Phase)
	return nil
}

func currentUser() string {
	if u := os.Getenv("USER"); u != "" {
		return u
	}
	return "cli"
}

// printRunETA adds the end of a sequence's run in progress, as the daemon
// projects it (GET .../plan); a daemon that cannot says nothing.
func printRunETA(ctx context.Context, c *client, name string, stdout io.Writer) {
	var e reconcile.ETA
	if err := c.do(ctx, http.MethodGet, "/api/v1/sequences/"+url.PathEscape(name)+"/plan", nil, &e); err != nil || e.Run == "" {
		return
	}
	loc, err := time.LoadLocation(e.TimeZone)
	if err != nil {
		loc = time.UTC
	}
	switch {
	case e.End.IsZero():
		fmt.Fprintf(stdout, "\nETA: run %s does not end within %s\n", e.Run, "8 days")
	case e.EndEstimate:
		fmt.Fprintf(stdout, "\nETA: run %s ends about %s (estimate at %.0f dials/min)\n", e.Run, e.End.In(loc).Format("Mon 15:04:05 MST"), e.DialsPerMinute)
	default:
		fmt.Fprintf(stdout, "\nETA: run %s ends %s\n", e.Run, e.End.In(loc).Format("Mon 15:04:05 MST"))
	}
}
