package specs

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

// logBuffer collects log lines from any goroutine.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// cachedLoader is a loader with a parse cache in file, as a build whose
// executable identity is id ("" for the real one).
func cachedLoader(t *testing.T, file, id string, log *slog.Logger) *loader {
	t.Helper()
	if executableID() == "" {
		t.Skip("the test executable has no identity: no cache")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	l := newLoader(LoadOptions{CacheFile: file, Logger: log})
	if id != "" {
		l.cache.id = id
	}
	return l
}

// specDir writes n one-sequence files, aged so that nothing is racy.
func specDir(t *testing.T, n int) string {
	t.Helper()
	dir := t.TempDir()
	for i := range n {
		p := filepath.Join(dir, fmt.Sprintf("s%02d.yaml", i))
		if err := os.WriteFile(p, []byte(spec(fmt.Sprintf("s%02d", i), 1000+i, 10)), 0o644); err != nil {
			t.Fatal(err)
		}
		age(t, p)
	}
	return dir
}

func TestACachedLoadOfEveryExampleAndFixtureEqualsAFreshLoad(t *testing.T) {
	for _, dir := range []string{"../examples", "testdata/good", "testdata/bad"} {
		t.Run(dir, func(t *testing.T) {
			files, _ := filepath.Glob(filepath.Join(dir, "*.y*ml"))
			// A file with an unknown time zone is parsed every time (see
			// TestAFileWithAnUnknownTimeZoneIsParsedAtEveryStart).
			hostDependent := 0
			if dir == "testdata/bad" {
				hostDependent = 1
			}
			cache := filepath.Join(t.TempDir(), "specs.cache")
			fresh := Load(LoadOptions{}, dir)
			if first := cachedLoader(t, cache, "", nil); !reflect.DeepEqual(first.loadOnce(dir), fresh) {
				t.Fatal("the load that wrote the cache differs from a fresh one")
			}
			l := cachedLoader(t, cache, "", nil)
			got := l.loadOnce(dir)
			if l.cached != len(files)-hostDependent || l.parses != hostDependent || l.reads != len(files) {
				t.Errorf("%d files: %d cached, %d parsed, %d read", len(files), l.cached, l.parses, l.reads)
			}
			if !reflect.DeepEqual(got, fresh) {
				t.Errorf("a cached load differs from a fresh one:\n got %+v\nwant %+v", got, fresh)
			}
			if len(fresh.Problems) == 0 && dir == "testdata/bad" {
				t.Error("the bad fixtures gave no problems: the comparison proves little")
			}
		})
	}
}

func TestASecondLoaderWithTheSameCacheParsesNothing(t *testing.T) {
	dir := specDir(t, 20)
	cache := filepath.Join(t.TempDir(), "specs.cache")
	l := cachedLoader(t, cache, "", nil)
	l.loadOnce(dir)
	if l.parses != 20 || l.cached != 0 {
		t.Fatalf("first load: %d parses, %d cached", l.parses, l.cached)
	}
	l = cachedLoader(t, cache, "", nil)
	s := l.loadOnce(dir)
	if l.parses != 0 || l.cached != 20 || l.reads != 20 || len(s.Sequences) != 20 {
		t.Errorf("second load: %d parses, %d cached, %d reads, %d sequences", l.parses, l.cached, l.reads, len(s.Sequences))
	}
	// Its entries served the first load; the loader's own memory serves
	// the next ones.
	l.cached = 0
	l.load(true, dir)
	if l.parses != 0 || l.cached != 0 {
		t.Errorf("a rescan of the same loader: %d parses, %d cached", l.parses, l.cached)
	}
}

func TestAnEditThatKeepsSizeAndMtimeIsParsedAgainAndTheOthersAreNot(t *testing.T) {
	dir := specDir(t, 10)
	cache := filepath.Join(t.TempDir(), "specs.cache")
	cachedLoader(t, cache, "", nil).loadOnce(dir)
	p := filepath.Join(dir, "s03.yaml")
	fi, _ := os.Stat(p)
	os.WriteFile(p, []byte(spec("s03", 1003, 20)), 0o644) // 10 → 20 dials: same size
	os.Chtimes(p, fi.ModTime(), fi.ModTime())
	if fi2, _ := os.Stat(p); fi2.Size() != fi.Size() || !fi2.ModTime().Equal(fi.ModTime()) {
		t.Fatal("the edit changed the size or mtime")
	}
	l := cachedLoader(t, cache, "", nil)
	s := l.loadOnce(dir)
	if l.parses != 1 || l.cached != 9 {
		t.Errorf("%d parses, %d cached; want 1 and 9", l.parses, l.cached)
	}
	if dials(s, "s03") != 20 || dials(s, "s04") != 10 {
		t.Errorf("dials %d and %d, want 20 and 10", dials(s, "s03"), dials(s, "s04"))
	}
	// That load wrote the cache again: the next start parses nothing.
	l = cachedLoader(t, cache, "", nil)
	if s := l.loadOnce(dir); l.parses != 0 || dials(s, "s03") != 20 {
		t.Errorf("after the rewrite: %d parses, dials %d", l.parses, dials(s, "s03"))
	}
}

func TestACacheFromAnotherBuildIsIgnoredWhole(t *testing.T) {
	dir := specDir(t, 5)
	cache := filepath.Join(t.TempDir(), "specs.cache")
	cachedLoader(t, cache, "build-a", nil).loadOnce(dir)
	var logs logBuffer
	l := cachedLoader(t, cache, "build-b", logs.logger())
	l.loadOnce(dir)
	if l.parses != 5 || l.cached != 0 {
		t.Errorf("another build: %d parses, %d cached", l.parses, l.cached)
	}
	if !strings.Contains(logs.String(), "another build") {
		t.Errorf("not logged: %s", logs.String())
	}
	// build-b rewrote it for itself.
	l = cachedLoader(t, cache, "build-b", nil)
	if l.loadOnce(dir); l.cached != 5 {
		t.Errorf("build-b's own cache: %d cached", l.cached)
	}
	l = cachedLoader(t, cache, "build-a", nil)
	if l.loadOnce(dir); l.cached != 0 {
		t.Errorf("build-a read build-b's cache: %d cached", l.cached)
	}
}

func TestADeletedFileLeavesTheCacheAtTheNextWrite(t *testing.T) {
	dir := specDir(t, 3)
	cache := filepath.Join(t.TempDir(), "specs.cache")
	cachedLoader(t, cache, "", nil).loadOnce(dir)
	os.Remove(filepath.Join(dir, "s01.yaml"))
	cachedLoader(t, cache, "", nil).loadOnce(dir)
	data, err := os.ReadFile(cache)
	if err != nil {
		t.Fatal(err)
	}
	entries, err := readCacheFile(data, executableID())
	if err != nil || len(entries) != 2 || entries[filepath.Join(dir, "s01.yaml")].path != "" {
		t.Errorf("entries %d (%v), want the two files left", len(entries), err)
	}
}

func TestOnlyFilesWhoseContentParsedAreCached(t *testing.T) {
	dir := specDir(t, 2)
	os.WriteFile(filepath.Join(dir, "bin.yaml"), []byte("kind: \x00\x01"), 0o644)
	os.WriteFile(filepath.Join(dir, "big.yaml"), []byte(spec("big", 2000, 10)+strings.Repeat("#", 4096)), 0o644)
	os.WriteFile(filepath.Join(dir, "broken.yaml"), []byte("apiVersion: sequencer/v1\nkind: [\n"), 0o644)
	cache := filepath.Join(t.TempDir(), "specs.cache")
	l := cachedLoader(t, cache, "", nil)
	l.maxBytes = 1024
	l.loadOnce(dir)
	data, _ := os.ReadFile(cache)
	entries, err := readCacheFile(data, executableID())
	var names []string
	for p := range entries {
		names = append(names, filepath.Base(p))
	}
	if err != nil || len(entries) != 3 || entries[filepath.Join(dir, "broken.yaml")].path == "" {
		t.Errorf("cached %v (%v); want the two specs and broken.yaml, not the binary or the too-large file", names, err)
	}
}

func TestAFileWithAnUnknownTimeZoneIsParsedAtEveryStart(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "tz.yaml"), []byte(strings.Replace(spec("tz", 101, 10), "spec:\n", "spec:\n  timeZone: Mars/Olympus_Mons\n", 1)), 0o644)
	cache := filepath.Join(t.TempDir(), "specs.cache")
	cachedLoader(t, cache, "", nil).loadOnce(dir)
	// The zone may be known once tzdata is installed: that is not in the
	// file's bytes, so its problem must not be kept.
	l := cachedLoader(t, cache, "", nil)
	s := l.loadOnce(dir)
	if l.parses != 1 || l.cached != 0 || !HasErrors(s.Problems) {
		t.Errorf("%d parses, %d cached, problems %v", l.parses, l.cached, s.Problems)
	}
}

func TestADamagedCacheCostsParsesNeverACorrectLoad(t *testing.T) {
	dir := specDir(t, 10)
	fresh := Load(LoadOptions{}, dir)
	for name, c := range map[string]struct {
		// hurt damages the good cache file written at cache and returns
		// the cache path to load with.
		hurt      func(cache string) string
		log       string
		minCached int // entries still good
		maxParsed int
		rewritten bool // the next load finds a good cache
	}{
		"truncated": {
			hurt: func(cache string) string {
				fi, _ := os.Stat(cache)
				os.Truncate(cache, fi.Size()/2)
				return cache
			},
			log: "cut short after", minCached: 3, maxParsed: 7, rewritten: true,
		},
		"cut in its header": {
			hurt: func(cache string) string { os.Truncate(cache, 10); return cache },
			log:  "cut short in its header", maxParsed: 10, rewritten: true,
		},
		"not a cache": {
			hurt: func(cache string) string { os.WriteFile(cache, []byte("hello"), 0o644); return cache },
			log:  "not a spec parse cache", maxParsed: 10, rewritten: true,
		},
		"a flipped byte in the last blob": {
			hurt: func(cache string) string {
				// In a string of the last blob: it still decodes, to
				// another path; only the checksum can tell.
				data, _ := os.ReadFile(cache)
				data[bytes.LastIndex(data, []byte("s09.yaml"))+1] ^= 0x40
				os.WriteFile(cache, data, 0o644)
				return cache
			},
			log: "damaged entries", minCached: 9, maxParsed: 1, rewritten: true,
		},
		"a directory": {
			hurt: func(cache string) string {
				os.Remove(cache)
				os.Mkdir(cache, 0o755)
				return cache
			},
			log: "not written", maxParsed: 10,
		},
		"in an unwritable directory": {
			// Under a regular file: neither read nor written, even as root.
			hurt: func(cache string) string {
				parent := filepath.Join(filepath.Dir(cache), "file")
				os.WriteFile(parent, nil, 0o644)
				return filepath.Join(parent, "specs.cache")
			},
			log: "not written", maxParsed: 10,
		},
	} {
		t.Run(name, func(t *testing.T) {
			cache := filepath.Join(t.TempDir(), "specs.cache")
			cachedLoader(t, cache, "", nil).loadOnce(dir)
			cache = c.hurt(cache)
			var logs logBuffer
			l := cachedLoader(t, cache, "", logs.logger())
			if s := l.loadOnce(dir); !reflect.DeepEqual(s, fresh) {
				t.Errorf("the load differs from a fresh one: %v", s.Problems)
			}
			if l.cached < c.minCached || l.parses > c.maxParsed || l.cached+l.parses != 10 {
				t.Errorf("%d cached, %d parsed", l.cached, l.parses)
			}
			if !strings.Contains(logs.String(), c.log) {
				t.Errorf("log lacks %q:\n%s", c.log, logs.String())
			}
			if c.rewritten {
				l := cachedLoader(t, cache, "", nil)
				if l.loadOnce(dir); l.cached != 10 {
					t.Errorf("the damaged cache was not rewritten: %d cached next time", l.cached)
				}
			}
		})
	}
}

func TestTheCacheSaverWritesOneImageAtATimeAndTheLatestWins(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	started, release := make(chan string, 10), make(chan struct{})
	var mu sync.Mutex
	var written []string
	s := &cacheSaver{
		write: func(ctx context.Context, img *cacheImage) error {
			started <- img.file
			<-release
			mu.Lock()
			written = append(written, img.file)
			mu.Unlock()
			return nil
		},
		done: func(error) {},
	}
	s.save(ctx, &cacheImage{file: "1"})
	<-started
	s.save(ctx, &cacheImage{file: "2"})
	s.save(ctx, &cacheImage{file: "3"})
	close(release)
	s.wait()
	if strings.Join(written, ",") != "1,3" {
		t.Errorf("written %v, want 1 then 3", written)
	}
}

func TestTheWatcherDeliversItsFirstSnapshotBeforeTheCacheIsWritten(t *testing.T) {
	if executableID() == "" {
		t.Skip("no executable identity: no cache")
	}
	dir := specDir(t, 3)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	writing, returned := make(chan struct{}), make(chan struct{})
	// A write that never ends by itself: a hung disk.
	hang := func(ctx context.Context, img *cacheImage) error {
		close(writing)
		<-ctx.Done()
		time.Sleep(20 * time.Millisecond) // slow to wind down, too
		close(returned)
		return ctx.Err()
	}
	wr, err := newWatcher(ctx, dir, WatchOptions{Debounce: 50 * time.Millisecond, Rescan: time.Hour,
		CacheFile: filepath.Join(t.TempDir(), "specs.cache")}, watchDir, hang)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-writing:
	case <-time.After(10 * time.Second):
		t.Fatal("the cache write never began")
	}
	select {
	case s := <-wr.Snapshots():
		if len(s.Sequences) != 3 {
			t.Errorf("first snapshot: %d sequences", len(s.Sequences))
		}
	default:
		t.Fatal("the cache write began before the first snapshot was delivered")
	}
	// The watch goes on while the write hangs.
	w := &watched{t: t, dir: dir, ch: wr.Snapshots()}
	w.write("s01.yaml", spec("s01", 1001, 33))
	w.until("s01 has 33 dials", func(s Snapshot) bool { return dials(s, "s01") == 33 })
	// Its context ends the write, and the channel closes only after it.
	cancel()
	for range wr.Snapshots() {
	}
	select {
	case <-returned:
	default:
		t.Error("the snapshot channel closed while a cache write was still running")
	}
}

func TestTheWatcherWritesTheCacheAndAFailedWriteChangesNoSnapshot(t *testing.T) {
	if executableID() == "" {
		t.Skip("no executable identity: no cache")
	}
	dir := specDir(t, 3)
	for _, unwritable := range []bool{false, true} {
		cache := filepath.Join(t.TempDir(), "specs.cache")
		if unwritable {
			os.WriteFile(filepath.Join(filepath.Dir(cache), "file"), nil, 0o644)
			cache = filepath.Join(filepath.Dir(cache), "file", "specs.cache")
		}
		var logs logBuffer
		ctx, cancel := context.WithCancel(context.Background())
		ch, err := Watch(ctx, dir, WatchOptions{Debounce: 50 * time.Millisecond, Rescan: time.Hour, CacheFile: cache, Logger: logs.logger()})
		if err != nil {
			t.Fatal(err)
		}
		w := &watched{t: t, dir: dir, ch: ch}
		if s := w.next(); len(s.Sequences) != 3 || len(s.Problems) != 0 {
			t.Errorf("unwritable %v: first snapshot %d sequences, problems %v", unwritable, len(s.Sequences), s.Problems)
		}
		// The write follows in the background.
		done := func() bool {
			if unwritable {
				return strings.Contains(logs.String(), "spec parse cache not written")
			}
			_, err := os.Stat(cache)
			return err == nil
		}
		for deadline := time.Now().Add(10 * time.Second); !done() && time.Now().Before(deadline); {
			time.Sleep(10 * time.Millisecond)
		}
		if !done() {
			t.Errorf("unwritable %v: no cache written, or its failure not logged:\n%s", unwritable, logs.String())
		}
		cancel()
		for range ch {
		}
	}
}

func TestTheExecutableIsIdentifiedByItsGoBuildID(t *testing.T) {
	id := executableID()
	if !strings.HasPrefix(id, "go:") {
		t.Skipf("no Go build ID note (%q): not ELF?", id)
	}
	exe, _ := os.Executable()
	out, err := exec.Command("go", "tool", "buildid", exe).Output()
	if err != nil {
		t.Skipf("go tool buildid: %v", err)
	}
	if want := "go:" + strings.TrimSpace(string(out)); id != want {
		t.Errorf("id %q, go tool buildid says %q", id, want)
	}
	if _, err := goBuildID("cache_test.go"); err == nil {
		t.Error("a text file has a build ID")
	}
}
