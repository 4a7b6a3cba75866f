package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/sequencer-dev/sequencer/api"
	"github.com/sequencer-dev/sequencer/reconcile"
)

func init() {
	register("halt", "stop the dialing of every sequence at once, until 'unhalt'", cmdHalt)
	register("unhalt", "lift a halt made with 'halt' (halt spec files stay in force)", cmdUnhalt)
}

func cmdHalt(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var reason string
	fs, c, err := parseClientFlags("halt", "halt --reason R", args, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&reason, "reason", "", "why dialing stops (required; shown in status, history and /readyz)")
	})
	if err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return usageError("halt: takes no arguments, got %q", strings.Join(fs.Args(), " "))
	}
	if strings.TrimSpace(reason) == "" {
		return usageError("halt: --reason is required: say why dialing stops")
	}
	var st reconcile.HaltStatus
	if err := c.do(ctx, http.MethodPost, "/api/v1/halt", api.HaltRequest{Reason: reason, By: currentUser()}, &st); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "dialing halted by %s since %s: %s\n", st.Who, st.Since.Local().Format(time.DateTime), st.Reason)
	return nil
}

func cmdUnhalt(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, c, err := parseClientFlags("unhalt", "unhalt", args, stderr, nil)
	if err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return usageError("unhalt: takes no arguments, got %q", strings.Join(fs.Args(), " "))
	}
	var st reconcile.HaltStatus
	if err := c.do(ctx, http.MethodDelete, "/api/v1/halt", api.HaltRequest{By: currentUser()}, &st); err != nil {
		return err
	}
	if st.Halted {
		fmt.Fprintf(stdout, "halt lifted, but dialing stays halted by spec %s: %s\n", strings.Join(st.Specs, ", "), st.Reason)
		return nil
	}
	fmt.Fprintln(stdout, "halt lifted: sequences dial again")
	return nil
}
