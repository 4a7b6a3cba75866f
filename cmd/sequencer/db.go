package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/sequencer-dev/sequencer/store"
)

func init() {
	registerGroup("db", "progress database tools: backup, compact, check, migrate", cmdDB, dbSubcommands)
}

const dbUsage = `usage:
  sequencer db backup  --data DIR OUT            consistent copy of DIR/sequencer.db to OUT
  sequencer db compact --data DIR [--out FILE]   rewrite the file without free pages (daemon stopped)
  sequencer db check   --data DIR                verify pages and decode every value
  sequencer db migrate --from DIR --to-etcd URL  copy everything into etcd (and back:
                                                 --from-etcd URL --to DIR); daemons stopped

Run 'sequencer db <subcommand> -h' for its flags.`

// dbSubcommands is what `db` dispatches on (and completion offers).
var dbSubcommands = map[string]runFunc{
	"backup":  dbFileCommand("backup", "db backup [--data DIR] OUT"),
	"compact": dbFileCommand("compact", "db compact [--data DIR] [--out FILE]"),
	"check":   dbFileCommand("check", "db check [--data DIR]"),
	"migrate": cmdDBMigrate,
}

func cmdDB(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, dbUsage)
		return errSilent(2)
	}
	sub := args[0]
	switch sub {
	case "-h", "-help", "--help", "help":
		fmt.Fprintln(stderr, dbUsage)
		return nil
	}
	run, ok := dbSubcommands[sub]
	if !ok {
		fmt.Fprintln(stderr, dbUsage)
		return usageError("db: unknown subcommand %q", sub)
	}
	return run(ctx, args[1:], stdout, stderr)
}

// dbFileCommand is one of the subcommands that work on the bbolt file of
// a data directory.
func dbFileCommand(sub, synopsis string) runFunc {
	return func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
		return dbFile(sub, synopsis, args, stdout, stderr)
	}
}

func dbFile(sub, synopsis string, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("db "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := fs.String("data", defaultDataDir(), "data directory")
	var out *string
	if sub == "compact" {
		out = fs.String("out", "", "write here instead of replacing the file")
	}
	fs.Usage = usageFunc(fs, synopsis)
	if err := parseInterleaved(fs, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return errSilent(2)
	}
	if sub != "backup" && fs.NArg() > 0 {
		return usageError("db %s: unexpected argument %q", sub, fs.Arg(0))
	}
	path := filepath.Join(*data, store.FileName)
	if _, err := os.Stat(path); err != nil {
		return usageError("db %s: %v", sub, err)
	}
	// A read-only open shares bbolt's lock with other readers but not with
	// the running daemon: say so rather than wait.
	openRO := func() (*store.Store, error) {
		s, err := store.Open(path, store.Options{ReadOnly: true, LockTimeout: 2 * time.Second})
		if errors.Is(err, store.ErrLocked) {
			return nil, fmt.Errorf("%s is held by a running daemon: stop it first (or snapshot its volume): %w", path, err)
		}
		return s, err
	}
	switch sub {
	case "backup":
		if fs.NArg() != 1 {
			return usageError("db backup: want exactly one output file")
		}
		s, err := openRO()
		if err != nil {
			return err
		}
		defer s.Close()
		tmp := fs.Arg(0) + ".tmp"
		f, err := os.OpenFile(tmp, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err != nil {
			return fmt.Errorf("db backup: %w", err)
		}
		n, err := s.Backup(f)
		if err == nil {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = os.Rename(tmp, fs.Arg(0))
		}
		if err != nil {
			os.Remove(tmp)
			return fmt.Errorf("db backup: %w", err)
		}
		fmt.Fprintf(stdout, "backed up %d bytes to %s\n", n, fs.Arg(0))
		return nil
	case "check":
		s, err := openRO()
		if err != nil {
			return err
		}
		defer s.Close()
		if err := s.Check(); err != nil {
			fmt.Fprintln(stdout, err)
			return errSilent(1)
		}
		fmt.Fprintln(stdout, "ok")
		return nil
	case "compact":
		dst := *out
		replace := dst == ""
		if replace {
			dst = path + ".compact"
		}
		if err := store.Compact(path, dst); err != nil {
			if errors.Is(err, store.ErrLocked) {
				return fmt.Errorf("%s is held by a running daemon: stop it first: %w", path, err)
			}
			return err
		}
		if replace {
			if err := os.Rename(dst, path); err != nil {
				return fmt.Errorf("db compact: %w", err)
			}
			dst = path
		}
		fmt.Fprintf(stdout, "compacted into %s\n", dst)
		return nil
	}
	return fmt.Errorf("db %s: listed in dbSynopsis but not implemented", sub)
}
