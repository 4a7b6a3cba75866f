package specs

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"
)

// WatchOptions tune Watch. Zero values take the defaults in brackets.
type WatchOptions struct {
	Debounce time.Duration // quiet time before a reload [250ms]
	Rescan   time.Duration // reload anyway this often [30s]
	// MaxFileBytes: a larger spec file is invalid [DefaultMaxFileBytes].
	MaxFileBytes int64
	// Overlap decides shared campaign groups, as in LoadOptions.
	Overlap OverlapFunc
	Logger  *slog.Logger
	// CacheFile is the parse cache, as in LoadOptions ("" for none). It
	// is written in the background after a load that parsed anything,
	// never before that load's snapshot is delivered.
	CacheFile string
}

// maxRepoll bounds the wait between looks for a directory that vanished.
const maxRepoll = time.Second

// Watcher delivers snapshots of a directory; see NewWatcher.
type Watcher struct {
	out    chan Snapshot
	rescan chan struct{}
}

// Snapshots is the channel of snapshots; it closes when the watcher's
// context is done. One consumer.
func (w *Watcher) Snapshots() <-chan Snapshot { return w.out }

// Rescan asks for a reload now, without the debounce, that reads every
// file again (an edit that kept a file's size and mtime is seen too) and
// delivers a snapshot if what the directory means changed. It never
// blocks; requests made while one is pending merge into it.
func (w *Watcher) Rescan() {
	select {
	case w.rescan <- struct{}{}:
	default:
	}
}

// Watch is NewWatcher for callers that only need the snapshots.
func Watch(ctx context.Context, dir string, opts WatchOptions) (<-chan Snapshot, error) {
	w, err := NewWatcher(ctx, dir, opts)
	if err != nil {
		return nil, err
	}
	return w.Snapshots(), nil
}

// NewWatcher delivers a snapshot of dir now and again whenever what it
// means changes. It watches the directory, not the files, so atomic saves
// (write and rename), vim's backup-and-rename, sed -i, git checkouts and
// Kubernetes ConfigMap ..data swaps all end in one reload after the burst;
// a periodic rescan recovers from lost events and filesystems without
// notifications. CHMOD-only events are ignored. If the directory itself is
// removed, renamed or replaced, or the notifier fails, the watcher looks
// for it again (every 50 ms, backing off to 1 s) and watches it anew; in
// the meantime snapshots carry Err and the last good specs, as for any
// unreadable directory. dir must exist at the start.
func NewWatcher(ctx context.Context, dir string, opts WatchOptions) (*Watcher, error) {
	return newWatcher(ctx, dir, opts, watchDir, nil)
}

// newWatcher is NewWatcher with the notifier and the cache writer a test
// may replace (nil: the real one).
func newWatcher(ctx context.Context, dir string, opts WatchOptions, notify func(string) (*notifier, error),
	write func(context.Context, *cacheImage) error) (*Watcher, error) {
	if opts.Debounce <= 0 {
		opts.Debounce = 250 * time.Millisecond
	}
	if opts.Rescan <= 0 {
		opts.Rescan = 30 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	dir = filepath.Clean(dir)
	l := newLoader(LoadOptions{MaxFileBytes: opts.MaxFileBytes, Overlap: opts.Overlap, CacheFile: opts.CacheFile, Logger: opts.Logger})
	if write == nil {
		write = writeCache
	}
	wl := &watchLoop{dir: dir, opts: opts, l: l, notify: notify,
		w: &Watcher{out: make(chan Snapshot, 1), rescan: make(chan struct{}, 1)}}
	if l.cache != nil {
		wl.saver = &cacheSaver{write: write, done: l.cache.wrote}
	}
	if err := wl.establish(); err != nil {
		return nil, fmt.Errorf("watch %s: %w", dir, err)
	}
	go wl.run(ctx)
	return wl.w, nil
}

type watchLoop struct {
	dir  string
	opts WatchOptions
	l    *loader
	w    *Watcher
	last snapPrint // fingerprint of the last snapshot delivered
	sent bool      // one was: the first is sent even when it is empty

	notify  func(dir string) (*notifier, error) // watchDir, or a test's fake
	fsw     *notifier                           // nil while the directory is lost
	watched os.FileInfo                         // the directory fsw watches
	saver   *cacheSaver                         // nil without a parse cache
}

// notifier is what the loop needs of fsnotify.
type notifier struct {
	Events <-chan fsnotify.Event
	Errors <-chan error
	Close  func() error
}

func watchDir(dir string) (*notifier, error) {
	fsw, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, err
	}
	if err := fsw.Add(dir); err != nil {
		fsw.Close()
		return nil, err
	}
	return &notifier{Events: fsw.Events, Errors: fsw.Errors, Close: fsw.Close}, nil
}

// establish watches dir afresh. A new notifier rather than a re-added
// path: the old one may still hold state for the vanished directory.
func (wl *watchLoop) establish() error {
	wl.drop()
	fi, err := os.Stat(wl.dir) // before Add: a swap in between shows as a mismatch later
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return errors.New("not a directory")
	}
	fsw, err := wl.notify(wl.dir)
	if err != nil {
		return err
	}
	wl.fsw, wl.watched = fsw, fi
	return nil
}

func (wl *watchLoop) drop() {
	if wl.fsw != nil {
		wl.fsw.Close()
		wl.fsw, wl.watched = nil, nil
	}
}

// current says whether the watch is still on what dir names now: a
// directory replaced by another (a symlink swap, a rename over it) sends
// no event for its path.
func (wl *watchLoop) current() bool {
	if wl.fsw == nil {
		return false
	}
	fi, err := os.Stat(wl.dir)
	return err == nil && os.SameFile(fi, wl.watched)
}

// deliver loads dir and sends the snapshot if its meaning changed; false
// means ctx is done.
func (wl *watchLoop) deliver(ctx context.Context, force bool) bool {
	snap := wl.l.load(force, wl.dir)
	// The cache is written after the snapshot is handed over: a restart
	// waits for its first snapshot, not for the cache.
	defer wl.saveCache(ctx)
	fp := fingerprint(snap)
	if force {
		wl.opts.Logger.Info("specs rescanned", "sequences", len(snap.Sequences), "problems", len(snap.Problems),
			"changed", fp != wl.last)
	}
	if fp == wl.last && wl.sent {
		return true
	}
	wl.last, wl.sent = fp, true
	for _, p := range snap.Problems {
		wl.opts.Logger.Warn("spec problem", "problem", p.String())
	}
	// A newer snapshot replaces one the consumer has not taken yet.
	select {
	case <-wl.w.out:
	default:
	}
	select {
	case wl.w.out <- snap:
		return true
	case <-ctx.Done():
		return false
	}
}

// saveCache has the parse cache written, if the last load changed what it
// should hold.
func (wl *watchLoop) saveCache(ctx context.Context) {
	if wl.saver == nil {
		return
	}
	if img := wl.l.cacheImage(); img != nil {
		wl.saver.save(ctx, img)
	}
}

func (wl *watchLoop) run(ctx context.Context) {
	defer close(wl.w.out)
	if wl.saver != nil {
		// The channel closes once no cache write is left running.
		defer wl.saver.wait()
	}
	defer wl.drop()
	if !wl.deliver(ctx, false) {
		return
	}
	debounce := time.NewTimer(time.Hour)
	debounce.Stop()
	rescan := time.NewTicker(wl.opts.Rescan)
	defer rescan.Stop()
	repoll := time.NewTimer(time.Hour)
	repoll.Stop()
	const firstRepoll = 50 * time.Millisecond
	backoff := firstRepoll
	// lose gives up a watch that no longer works and looks for the
	// directory again soon.
	lose := func(why string, args ...any) {
		wl.opts.Logger.Warn(why, append(args, "dir", wl.dir)...)
		wl.drop()
		backoff = firstRepoll
		repoll.Reset(backoff)
		debounce.Reset(wl.opts.Debounce) // say so in a snapshot (Err, last good specs)
	}
	// reestablish watches the directory again if it is there. The reload
	// waits for the debounce rather than running at once: a directory
	// recreated by mkdir and then filled must not read as "every sequence
	// deleted" in between.
	reestablish := func() {
		if err := wl.establish(); err != nil {
			repoll.Reset(backoff)
			backoff = min(2*backoff, maxRepoll)
			return
		}
		repoll.Stop()
		wl.opts.Logger.Info("spec directory is back; watching it again", "dir", wl.dir)
		debounce.Reset(wl.opts.Debounce)
	}
	for {
		var events <-chan fsnotify.Event
		var errs <-chan error
		if wl.fsw != nil {
			events, errs = wl.fsw.Events, wl.fsw.Errors
		}
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-events:
			if !ok {
				lose("spec watcher closed; watching again")
				continue
			}
			if filepath.Clean(ev.Name) == wl.dir && ev.Op&(fsnotify.Remove|fsnotify.Rename) != 0 {
				lose("spec directory removed or renamed; waiting for it to come back", "op", ev.Op.String())
				continue
			}
			if ev.Op == fsnotify.Chmod {
				continue
			}
			name := filepath.Base(ev.Name)
			if !IsSpecFile(name) && !strings.HasPrefix(name, "..") {
				continue // swap files, backups, probes; ..data swaps count
			}
			debounce.Reset(wl.opts.Debounce)
		case err, ok := <-errs:
			if !ok {
				lose("spec watcher closed; watching again")
				continue
			}
			if errors.Is(err, fsnotify.ErrEventOverflow) {
				wl.opts.Logger.Warn("spec watcher overflowed; rescanning")
				debounce.Reset(wl.opts.Debounce)
				continue
			}
			lose("spec watcher error; watching again", "err", err)
		case <-repoll.C:
			reestablish()
		case <-wl.w.rescan:
			if !wl.current() {
				if wl.fsw == nil {
					backoff = firstRepoll // a new look, not the next in a series
				}
				reestablish()
			}
			if !wl.deliver(ctx, true) {
				return
			}
		case <-debounce.C:
			if !wl.deliver(ctx, false) {
				return
			}
		case <-rescan.C:
			if wl.fsw != nil && !wl.current() {
				lose("spec directory replaced; watching the new one")
				continue
			}
			if !wl.deliver(ctx, false) {
				return
			}
		}
	}
}

// snapPrint is a snapshot's fingerprint.
type snapPrint [2]uint64

// printSeeds make the two halves of a snapPrint independent hashes.
var printSeeds = [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()}

// fingerprint says whether two snapshots mean the same thing: every
// sequence and list with its hash and file, every invalid name with its
// reason, every problem, the error. It adds up a 128-bit hash of each (two
// seeded maphashes, seeds drawn per process), so that the maps need no
// sorting: sorting them, with the strings it took, was a tenth of a load
// at 100,000 sequences. A snapshot that holds nothing is the zero print.
func fingerprint(s Snapshot) snapPrint {
	var fp snapPrint
	var b []byte
	add := func() {
		for i := range fp {
			fp[i] += maphash.Bytes(printSeeds[i], b)
		}
	}
	for n, q := range s.Sequences {
		b = append(append(append(append(append(append(b[:0], "s/"...), n...), '='), q.Hash...), '@'), s.Files[n]...)
		add()
	}
	for n, d := range s.DNCLists {
		b = append(append(append(append(append(append(b[:0], "d/"...), n...), '='), d.Hash...), '@'), s.Files[n]...)
		add()
	}
	for n, m := range s.Invalid {
		b = append(append(append(append(b[:0], "i/"...), n...), '='), m...)
		add()
	}
	for _, p := range s.Problems {
		b = append(append(b[:0], "p/"...), p.String()...)
		add()
	}
	if s.Err != nil {
		b = append(append(b[:0], "e/"...), s.Err.Error()...)
		add()
	}
	return fp
}
