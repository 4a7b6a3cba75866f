package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime/debug"
	"text/tabwriter"
)

func init() {
	register("version", "print the module version, VCS revision and Go version of this binary", cmdVersion)
}

// readBuildInfo is debug.ReadBuildInfo; tests replace it, because a test
// binary carries no VCS stamp.
var readBuildInfo = debug.ReadBuildInfo

func cmdVersion(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("version", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = usageFunc(fs, "version")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return errSilent(2)
	}
	if fs.NArg() > 0 {
		return usageError("version: unexpected argument %q", fs.Arg(0))
	}
	bi, ok := readBuildInfo()
	if !ok {
		// Only a binary built without module support lands here.
		fmt.Fprintln(stdout, "sequencer: no build information in this binary")
		return nil
	}
	version := bi.Main.Version
	if version == "" {
		version = "(devel)"
	}
	settings := map[string]string{}
	for _, s := range bi.Settings {
		settings[s.Key] = s.Value
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 1, ' ', 0)
	fmt.Fprintf(tw, "sequencer\t%s\n", version)
	if bi.Main.Path != "" {
		fmt.Fprintf(tw, "module\t%s\n", bi.Main.Path)
	}
	if rev := settings["vcs.revision"]; rev != "" {
		if settings["vcs.modified"] == "true" {
			// Built from a work tree with uncommitted changes: the revision
			// alone does not say what is in the binary.
			rev += " (modified)"
		}
		fmt.Fprintf(tw, "revision\t%s\n", rev)
	}
	if t := settings["vcs.time"]; t != "" {
		fmt.Fprintf(tw, "committed\t%s\n", t)
	}
	fmt.Fprintf(tw, "go\t%s\n", bi.GoVersion)
	if p := settings["GOOS"] + "/" + settings["GOARCH"]; p != "/" {
		fmt.Fprintf(tw, "platform\t%s\n", p)
	}
	return tw.Flush()
}
