package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/sequencer-dev/sequencer/schedule"
	"github.com/sequencer-dev/sequencer/specs"
)

func init() {
	register("validate", "check spec files: exit 0 valid, 1 invalid (file:line:col: field: message)", cmdValidate)
}

func cmdValidate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("validate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	format := fs.String("format", "text", "output: text or json")
	maxBytes := byteSize(specs.DefaultMaxFileBytes)
	fs.Var(&maxBytes, "max-spec-bytes", "a larger spec file is invalid (bytes, or with KiB, MiB, GiB)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: sequencer validate [--format text|json] [--max-spec-bytes 4MiB] [PATH...]   (default: ./specs if present, else examples)")
		fs.PrintDefaults()
	}
	if err := parseInterleaved(fs, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return errSilent(2)
	}
	if *format != "text" && *format != "json" {
		return usageError("validate: --format must be text or json, got %q", *format)
	}
	paths := fs.Args()
	if len(paths) == 0 {
		paths = []string{defaultSpecsPath()}
	}
	snap := specs.Load(specs.LoadOptions{MaxFileBytes: int64(maxBytes), Overlap: schedule.RunsOverlap}, paths...)
	if snap.Err != nil {
		return usageError("validate: %v", snap.Err)
	}
	if *format == "json" {
		ps := snap.Problems
		if ps == nil {
			ps = []specs.Problem{}
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(ps); err != nil {
			return err
		}
	} else {
		for _, p := range snap.Problems {
			fmt.Fprintln(stdout, p.String())
		}
	}
	if specs.HasErrors(snap.Problems) {
		return errSilent(1)
	}
	if *format == "text" {
		entries := 0
		for _, l := range snap.DNCLists {
			entries += len(l.Entries)
		}
		summary := plural(len(snap.Sequences), "sequence") + ", " + plural(len(snap.DNCLists), "DoNotCallList") +
			" (" + plural(entries, "entry") + ")"
		if n := len(snap.Halts); n > 0 {
			summary += ", " + plural(n, "Halt") + " (dialing stays halted while it exists)"
		}
		fmt.Fprintln(stdout, summary+": valid")
	}
	return nil
}

// defaultSpecsPath is ./specs when it holds spec files, else examples. (In
// this repository ./specs is the Go package, which holds none.)
func defaultSpecsPath() string {
	ents, err := os.ReadDir("specs")
	if err == nil {
		for _, e := range ents {
			if specs.IsSpecFile(e.Name()) {
				return "specs"
			}
		}
	}
	return "examples"
}

// byteSize is a flag value in bytes that also takes KiB, MiB and GiB, so
// that a limit reads the way it is written in the error it causes.
type byteSize int64

var byteUnits = []struct {
	suffix string
	shift  uint
}{{"GiB", 30}, {"MiB", 20}, {"KiB", 10}, {"B", 0}}

func (b *byteSize) String() string {
	for _, u := range byteUnits {
		if n := int64(*b); n != 0 && n%(1<<u.shift) == 0 {
			return strconv.FormatInt(n>>u.shift, 10) + u.suffix
		}
	}
	return strconv.FormatInt(int64(*b), 10)
}

func (b *byteSize) Set(s string) error {
	num, shift := strings.TrimSpace(s), uint(0)
	for _, u := range byteUnits {
		if strings.HasSuffix(num, u.suffix) {
			num, shift = strings.TrimSpace(strings.TrimSuffix(num, u.suffix)), u.shift
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n <= 0 || n > (1<<62)>>shift {
		return fmt.Errorf("want a positive byte count such as 4194304 or 4MiB")
	}
	*b = byteSize(n << shift)
	return nil
}

// plural writes "1 sequence", "2 sequences", "3 entries", "2 statuses".
func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	if strings.HasSuffix(word, "y") {
		return fmt.Sprintf("%d %sies", n, strings.TrimSuffix(word, "y"))
	}
	if strings.HasSuffix(word, "s") {
		return fmt.Sprintf("%d %ses", n, word)
	}
	return fmt.Sprintf("%d %ss", n, word)
}
