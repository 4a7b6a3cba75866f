package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/sequencer-dev/sequencer/etcdstore"
	"github.com/sequencer-dev/sequencer/store"
)

const migrateSynopsis = "db migrate (--from DIR --to-etcd URL[,URL...] | --from-etcd URL[,URL...] --to DIR) [--etcd-prefix P] [--etcd-ca F --etcd-cert F --etcd-key F]"

// migrationSource is what a migration reads: everything durable.
type migrationSource interface {
	AllProgress() ([]store.Progress, error)
	AllIntents() ([]store.Intent, error)
	AllHistory() ([]store.Event, error)
	GroupStatuses() ([]store.GroupStatus, error)
	Halt() (store.Halt, bool, error)
	DNCEntries() (map[string]store.DNCEntry, error)
}

// migrationTarget is what it writes.
type migrationTarget interface {
	AllProgress() ([]store.Progress, error)
	AllIntents() ([]store.Intent, error)
	PutProgress(store.Progress) error
	BeginIntent(store.Intent) (store.Intent, bool, error)
	Append(...store.Event) error
	PutGroupStatus(...store.GroupStatus) error
	PutHalt(*store.Halt) error
	PutDNCEntries([]store.DNCEntry) error
}

// cmdDBMigrate copies a whole progress database between bbolt and etcd,
// with every daemon stopped, into an empty destination.
func cmdDBMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("db migrate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	from := fs.String("from", "", "data directory of the bbolt database to copy into etcd")
	toEtcd := fs.String("to-etcd", "", "etcd endpoints to copy it to")
	fromEtcd := fs.String("from-etcd", "", "etcd endpoints to copy from")
	to := fs.String("to", "", "data directory to create the bbolt database in")
	prefix := fs.String("etcd-prefix", etcdstore.DefaultPrefix, "key prefix of the daemons in etcd")
	ca := fs.String("etcd-ca", "", "CA file verifying the etcd members")
	cert := fs.String("etcd-cert", "", "client certificate file")
	key := fs.String("etcd-key", "", "client key file")
	fs.Usage = usageFunc(fs, migrateSynopsis)
	if err := parseInterleaved(fs, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return errSilent(2)
	}
	if fs.NArg() > 0 {
		return usageError("db migrate: unexpected argument %q", fs.Arg(0))
	}
	toEtcdDir := *from != "" && *toEtcd != "" && *fromEtcd == "" && *to == ""
	fromEtcdDir := *fromEtcd != "" && *to != "" && *from == "" && *toEtcd == ""
	if !toEtcdDir && !fromEtcdDir {
		return usageError("db migrate: give --from DIR --to-etcd URL, or --from-etcd URL --to DIR")
	}
	endpoints := *toEtcd + *fromEtcd
	cli, err := etcdstore.NewClient(etcdstore.ClientConfig{Endpoints: strings.Split(endpoints, ","), CAFile: *ca, CertFile: *cert, KeyFile: *key})
	if err != nil {
		return usageError("db migrate: %v", err)
	}
	defer cli.Close()
	// The bbolt side says which OCS link the outcomes stand for, and the
	// copy records the same one, so that Do-Not-Call outcomes stay that
	// OCS's.
	var link *store.LinkIdentity
	var bs *store.Store
	if toEtcdDir {
		path := filepath.Join(*from, store.FileName)
		if _, err := os.Stat(path); err != nil {
			return usageError("db migrate: --from: %v", err)
		}
		bs, err = store.Open(path, store.Options{ReadOnly: true, LockTimeout: 2 * time.Second})
		if errors.Is(err, store.ErrLocked) {
			return fmt.Errorf("db migrate: %s is held by a running daemon: stop it first: %w", path, err)
		}
		if err != nil {
			return fmt.Errorf("db migrate: %w", err)
		}
		defer bs.Close()
		if id, ok := bs.Identity(); ok {
			link = &id
		}
	}
	es, err := etcdstore.Open(ctx, cli, etcdstore.Options{Prefix: *prefix, Link: link})
	if err != nil {
		return fmt.Errorf("db migrate: etcd %s: %w", endpoints, err)
	}
	if leader, err := es.Leader(ctx); err != nil {
		return fmt.Errorf("db migrate: %w", err)
	} else if leader != "" {
		return fmt.Errorf("db migrate: daemon %q leads under %s in etcd: stop every daemon first", leader, es.Prefix())
	}
	var src migrationSource
	var dst migrationTarget
	var what string
	if toEtcdDir {
		src, dst, what = bs, es, fmt.Sprintf("%s to etcd %s under %s", bs.Path(), endpoints, es.Prefix())
	} else {
		if err := os.MkdirAll(*to, 0o750); err != nil {
			return fmt.Errorf("db migrate: %w", err)
		}
		path := filepath.Join(*to, store.FileName)
		if _, err := os.Stat(path); err == nil {
			return fmt.Errorf("db migrate: %s already exists: migrate into a new data directory", path)
		}
		opts := store.Options{}
		if id, ok := es.Identity(); ok {
			opts.Link = &id
		}
		bs, err := store.Open(path, opts)
		if err != nil {
			return fmt.Errorf("db migrate: %w", err)
		}
		defer bs.Close()
		src, dst, what = es, bs, fmt.Sprintf("etcd %s under %s to %s", endpoints, es.Prefix(), path)
	}
	n, err := migrate(src, dst)
	if err != nil {
		return fmt.Errorf("db migrate %s: %w", what, err)
	}
	fmt.Fprintf(stdout, "migrated %s: %s\n", what, n)
	return nil
}

type migrated struct{ progress, intents, events, groups, dnc, halt int }

func (m migrated) String() string {
	return strings.Join([]string{plural(m.progress, "sequence"), plural(m.intents, "intent"), plural(m.events, "history event"),
		plural(m.groups, "campaign-group status"), plural(m.dnc, "Do-Not-Call outcome"), plural(m.halt, "halt")}, ", ")
}

// migrate copies src into dst, which must hold no progress or intents: a
// merge could pair one database's run with the other's journal.
func migrate(src migrationSource, dst migrationTarget) (migrated, error) {
	var n migrated
	if ps, err := dst.AllProgress(); err != nil {
		return n, fmt.Errorf("read the destination: %w", err)
	} else if ins, err := dst.AllIntents(); err != nil {
		return n, fmt.Errorf("read the destination: %w", err)
	} else if len(ps)+len(ins) > 0 {
		return n, fmt.Errorf("the destination already holds %s and %s: migrate into an empty one", plural(len(ps), "sequence"), plural(len(ins), "intent"))
	}
	ps, err := src.AllProgress()
	if err != nil {
		return n, err
	}
	for _, p := range ps {
		if err := dst.PutProgress(p); err != nil {
			return n, err
		}
		n.progress++
	}
	ins, err := src.AllIntents()
	if err != nil {
		return n, err
	}
	for _, in := range ins {
		// BeginIntent stores the intent as given, state and outcome too.
		if _, _, err := dst.BeginIntent(in); err != nil {
			return n, err
		}
		n.intents++
	}
	evs, err := src.AllHistory()
	if err != nil {
		return n, err
	}
	for len(evs) > 0 {
		k := min(len(evs), 500)
		if err := dst.Append(evs[:k]...); err != nil {
			return n, err
		}
		n.events += k
		evs = evs[k:]
	}
	gs, err := src.GroupStatuses()
	if err != nil {
		return n, err
	}
	if err := dst.PutGroupStatus(gs...); err != nil {
		return n, err
	}
	n.groups = len(gs)
	dncs, err := src.DNCEntries()
	if err != nil {
		return n, err
	}
	es := make([]store.DNCEntry, 0, len(dncs))
	for k, e := range dncs {
		e.Key = k
		es = append(es, e)
	}
	if err := dst.PutDNCEntries(es); err != nil {
		return n, err
	}
	n.dnc = len(es)
	if h, found, err := src.Halt(); err != nil {
		return n, err
	} else if found {
		if err := dst.PutHalt(&h); err != nil {
			return n, err
		}
		n.halt = 1
	}
	return n, nil
}
