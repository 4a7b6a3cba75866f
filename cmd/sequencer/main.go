// Command sequencer is the campaign-sequence scheduler for Genesys OCS: the
// daemon (run), the offline tools (validate, plan, db) and the clients of a
// running daemon (status, history, suspend, resume, reconcile).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		// A second signal exits at once, whatever is under way.
		<-ctx.Done()
		stop()
		c := make(chan os.Signal, 1)
		signal.Notify(c, os.Interrupt, syscall.SIGTERM)
		<-c
		fmt.Fprintln(os.Stderr, "sequencer: second signal, exiting now")
		os.Exit(130)
	}()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(exitCode(err, os.Stderr))
}

// exitError carries a process exit code: 1 for "the input is bad" (validate,
// plan), 2 for a usage error.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}
func (e *exitError) Unwrap() error { return e.err }

func usageError(format string, a ...any) error {
	return &exitError{code: 2, err: fmt.Errorf(format, a...)}
}

// errSilent is an exit code whose message has already been printed.
func errSilent(code int) error { return &exitError{code: code} }

func exitCode(err error, stderr io.Writer) int {
	if err == nil {
		return 0
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintln(stderr, "sequencer:", ee.err)
		}
		return ee.code
	}
	if errors.Is(err, context.Canceled) {
		return 0
	}
	fmt.Fprintln(stderr, "sequencer:", err)
	return 1
}

type runFunc func(ctx context.Context, args []string, stdout, stderr io.Writer) error

type command struct {
	summary string
	run     runFunc
	// subs are the words a command group dispatches on (db backup, dnc
	// lists), sorted; nil for a plain command. Shell completion offers them.
	subs []string
}

// commands is filled by each subcommand's file, so that subcommands live
// side by side without editing one table.
var commands = map[string]command{}

func register(name, summary string, run runFunc) {
	commands[name] = command{summary: summary, run: run}
}

// registerGroup registers a command whose first argument is a subcommand.
// subs is the very table its run dispatches on, so that the words shell
// completion offers cannot drift from the ones the command accepts.
func registerGroup[F any](name, summary string, run runFunc, subs map[string]F) {
	words := make([]string, 0, len(subs))
	for w := range subs {
		words = append(words, w)
	}
	sort.Strings(words)
	commands[name] = command{summary: summary, run: run, subs: words}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		printUsage(stderr)
		return errSilent(2)
	}
	name := args[0]
	switch name {
	case "-h", "--help", "help":
		printUsage(stdout)
		return nil
	}
	c, ok := commands[name]
	if !ok {
		printUsage(stderr)
		return usageError("unknown command %q", name)
	}
	return c.run(ctx, args[1:], stdout, stderr)
}

func printUsage(w io.Writer) {
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString("usage: sequencer <command> [flags]\n\ncommands:\n")
	for _, n := range names {
		fmt.Fprintf(&b, "  %-14s %s\n", n, commands[n].summary)
	}
	b.WriteString("\nRun 'sequencer <command> -h' for a command's flags.\n")
	io.WriteString(w, b.String())
}
