package specs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"
)

// WatchOptions tune Watch. Zero values take the defaults in brackets.
type WatchOptions struct {
	Debounce time.Duration // quiet time before a reload [250ms]
	Rescan   time.Duration // reload anyway this often [30s]
	Logger   *slog.Logger
}

// Watch delivers a snapshot of dir now and again whenever what it means
// changes. It watches the directory, not the files, so atomic saves
// (write and rename), vim's backup-and-rename, sed -i, git checkouts and
// Kubernetes ConfigMap ..data swaps all end in one reload after the burst;
// a periodic rescan recovers from lost events and filesystems without
// notifications. CHMOD-only events are ignored. The channel closes when
// ctx is done. One consumer.
func Watch(ctx context.Context, dir string, opts WatchOptions) (<-chan Snapshot, error) {
	if opts.Debounce <= 0 {
		opts.Debounce = 250 * time.Millisecond
	}
	if opts.Rescan <= 0 {
		opts.Rescan = 30 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("watch %s: %w", dir, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("watch %s: not a directory", dir)
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, fmt.Errorf("watch %s: %w", dir, err)
	}
	if err := w.Add(dir); err != nil {
		w.Close()
		return nil, fmt.Errorf("watch %s: %w", dir, err)
	}
	out := make(chan Snapshot, 1)
	go watchLoop(ctx, w, dir, opts, out)
	return out, nil
}

func watchLoop(ctx context.Context, w *fsnotify.Watcher, dir string, opts WatchOptions, out chan Snapshot) {
	defer close(out)
	defer w.Close()
	l := newLoader(LoadOptions{})
	last := ""
	deliver := func() bool {
		snap := l.load(false, dir)
		fp := fingerprint(snap)
		if fp == last {
			return true
		}
		last = fp
		for _, p := range snap.Problems {
			opts.Logger.Warn("spec problem", "problem", p.String())
		}
		// A newer snapshot replaces one the consumer has not taken yet.
		select {
		case <-out:
		default:
		}
		select {
		case out <- snap:
			return true
		case <-ctx.Done():
			return false
		}
	}
	if !deliver() {
		return
	}
	debounce := time.NewTimer(time.Hour)
	debounce.Stop()
	rescan := time.NewTicker(opts.Rescan)
	defer rescan.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-w.Events:
			if !ok {
				return
			}
			if ev.Op == fsnotify.Chmod {
				continue
			}
			name := filepath.Base(ev.Name)
			if !IsSpecFile(name) && !strings.HasPrefix(name, "..") {
				continue // swap files, backups, probes; ..data swaps count
			}
			debounce.Reset(opts.Debounce)
		case err, ok := <-w.Errors:
			if !ok {
				return
			}
			if errors.Is(err, fsnotify.ErrEventOverflow) {
				opts.Logger.Warn("spec watcher overflowed; rescanning")
			} else {
				opts.Logger.Warn("spec watcher error; rescanning", "err", err)
			}
			debounce.Reset(opts.Debounce)
		case <-debounce.C:
			if !deliver() {
				return
			}
		case <-rescan.C:
			if !deliver() {
				return
			}
		}
	}
}

// fingerprint says whether two snapshots mean the same thing.
func fingerprint(s Snapshot) string {
	var b strings.Builder
	keys := make([]string, 0, len(s.Sequences))
	for n, q := range s.Sequences {
		keys = append(keys, "s/"+n+"="+q.Hash+"@"+s.Files[n])
	}
	for n, d := range s.DNCLists {
		keys = append(keys, "d/"+n+"="+d.Hash+"@"+s.Files[n])
	}
	for n, m := range s.Invalid {
		keys = append(keys, "i/"+n+"="+m)
	}
	for _, p := range s.Problems {
		keys = append(keys, "p/"+p.String())
	}
	if s.Err != nil {
		keys = append(keys, "e/"+s.Err.Error())
	}
	sort.Strings(keys)
	for _, k := range keys {
		b.WriteString(k)
		b.WriteByte('\n')
	}
	return b.String()
}
