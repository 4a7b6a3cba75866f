package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"slices"
	"text/tabwriter"

	"github.com/sequencer-dev/sequencer/api"
	"github.com/sequencer-dev/sequencer/dnc"
)

func init() {
	registerGroup("dnc", "Do-Not-Call: 'dnc add --phone P' adds to OCS's DNC tables; 'dnc lists' shows DoNotCallList specs", cmdDNC, dncSubcommands)
	register("cancel-record", "cancel a phone's records in OCS's calling lists", cmdCancelRecord)
}

const dncUsage = `usage:
  sequencer dnc add --phone P | --customer-id C [--target-app N]   add to OCS's Do-Not-Call tables
  sequencer dnc lists [NAME] [--format table|json]                the DoNotCallList specs and their entries

Run 'sequencer dnc <subcommand> -h' for its flags.`

const (
	dncAddSynopsis       = "dnc add --phone P | --customer-id C [--target-app N]"
	cancelRecordSynopsis = "cancel-record --phone P [--customer-id C] [--campaign NAME] [--chain AllChain|RecordOnly] [--target-app N]"
)

// dncSubcommands is what `dnc` dispatches on (and completion offers).
var dncSubcommands = map[string]runFunc{
	"add": func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
		return recordCommand(ctx, "dnc add", args, stdout, stderr)
	},
	"lists": dncLists,
}

func cmdDNC(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, dncUsage)
		return usageError("dnc: want a subcommand: add or lists")
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprintln(stderr, dncUsage)
		return nil
	}
	if run, ok := dncSubcommands[args[0]]; ok {
		return run(ctx, args[1:], stdout, stderr)
	}
	fmt.Fprintln(stderr, dncUsage)
	return usageError("dnc: unknown subcommand %q (want add or lists)", args[0])
}

func cmdCancelRecord(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return recordCommand(ctx, "cancel-record", args, stdout, stderr)
}

// recordCommand sends one record request through the daemon and prints
// every OCS's answer; it fails if any OCS refused or none answered.
func recordCommand(ctx context.Context, name string, args []string, stdout, stderr io.Writer) error {
	cancel := name == "cancel-record"
	var req api.RecordRequest
	var target int
	synopsis := dncAddSynopsis
	if cancel {
		synopsis = cancelRecordSynopsis
	}
	fs, c, err := parseClientFlags(name, synopsis, args, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&req.Phone, "phone", "", "phone number (digits, optionally a leading +)")
		fs.StringVar(&req.CustomerID, "customer-id", "", "customer id (the calling lists' customer_id field)")
		fs.IntVar(&target, "target-app", 0, "OCS application DBID (0: every OCS on the Communication DN)")
		if cancel {
			fs.StringVar(&req.Campaign, "campaign", "", "cancel only in this campaign (by name)")
			fs.StringVar(&req.Chain, "chain", "", "scope: AllChain (default) or RecordOnly")
		}
	})
	if err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError("%s: unexpected argument %q", name, fs.Arg(0))
	}
	switch {
	case cancel && req.Phone == "":
		return usageError("%s: --phone is required", name)
	case !cancel && req.Phone == "" && req.CustomerID == "":
		return usageError("%s: --phone or --customer-id is required", name)
	}
	req.TargetAppDBID = int32(target)
	path := "/api/v1/dnc"
	if cancel {
		path = "/api/v1/cancel-record"
	}
	var res api.RecordResult
	if err := c.do(ctx, http.MethodPost, path, req, &res); err != nil {
		return err
	}
	for _, o := range res.Outcomes {
		fmt.Fprintln(stdout, o)
	}
	if res.Error != "" {
		fmt.Fprintln(stdout, res.Error)
	}
	if res.Failed {
		return &exitError{code: 1, err: errors.New(name + ": not every OCS processed the request")}
	}
	return nil
}

func dncLists(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var format string
	fs, c, err := parseClientFlags("dnc lists", "dnc lists [NAME] [--format table|json]", args, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&format, "format", "table", "output: table or json")
	})
	if err != nil {
		return err
	}
	if format != "table" && format != "json" {
		return usageError("dnc lists: --format %q: want table or json", format)
	}
	if fs.NArg() > 1 {
		return usageError("dnc lists: at most one list name")
	}
	var out struct {
		Lists []dnc.ListStatus `json:"lists"`
	}
	if err := c.do(ctx, http.MethodGet, "/api/v1/dnc-lists", nil, &out); err != nil {
		return err
	}
	lists := out.Lists
	if lists == nil {
		lists = []dnc.ListStatus{}
	}
	if fs.NArg() == 1 {
		name := fs.Arg(0)
		i := slices.IndexFunc(lists, func(l dnc.ListStatus) bool { return l.Name == name })
		if i < 0 {
			return fmt.Errorf("dnc lists: no DoNotCallList named %q", name)
		}
		lists = lists[i : i+1]
	}
	if format == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		// One list by name is an object, as `status NAME` answers.
		if fs.NArg() == 1 {
			return enc.Encode(lists[0])
		}
		return enc.Encode(lists)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "LIST\tTARGET\tENTRIES\tPROCESSED\tPENDING\tFAILED\tREMOVED")
	for _, l := range lists {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\n", l.Name, l.Target, l.Entries, l.Processed, l.Pending, l.Failed, l.Removed)
	}
	tw.Flush()
	for _, l := range lists {
		for _, p := range l.Problems {
			fmt.Fprintf(stdout, "%s: %s\n", l.Name, p)
		}
		if l.Note != "" {
			fmt.Fprintf(stdout, "%s: %s\n", l.Name, l.Note)
		}
	}
	return nil
}
