package specs

import (
	"bufio"
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
)

// The parse cache lets a restart skip parsing: at 100,000 sequences the
// YAML takes seconds, while reading the files and hashing them takes a
// fraction of one. Parse is a pure function of the path, the bytes and
// the code, so the cache keys each file's Parsed by path and sha256, and
// the whole file by the identity of the running executable: a new build,
// which may read the same bytes differently, reads none of an old build's
// results. The cache is only ever an accelerator: anything wrong with it
// (missing, unreadable, from another build, cut short, a damaged entry)
// costs a parse, never a failed or different load.
//
// The file: magic, format version, executable identity, the number of
// entries (fixed width, written last), then per spec file its path,
// sha256, a CRC-32C of path, sum and blob, and the blob (codec.go). Each
// blob stands alone, so the loader's workers check and decode them in
// parallel, and a damaged one is a miss for its file only.

const (
	cacheMagic = "sqspcach"
	// cacheFormat changes whenever the layout above or the codec's
	// encoding does. (A change to the types or the decoder changes the
	// executable, which is enough on its own.)
	cacheFormat = 1
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// executableID identifies the code that parsed: the Go build ID of the
// running executable, which the toolchain derives from everything that
// went into it, or failing that the sha256 of the file. "" when neither
// can be had: then there is no cache.
var executableID = sync.OnceValue(func() string {
	exe, err := os.Executable()
	if err != nil {
		return ""
	}
	if id, err := goBuildID(exe); err == nil {
		return "go:" + id
	}
	f, err := os.Open(exe)
	if err != nil {
		return ""
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return ""
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
})

// goBuildID reads the ELF note the Go linker writes: name "Go", type 4,
// the build ID as its description. Reading it costs the section headers,
// not the file.
func goBuildID(exe string) (string, error) {
	f, err := elf.Open(exe)
	if err != nil {
		return "", err
	}
	defer f.Close()
	s := f.Section(".note.go.buildid")
	if s == nil {
		return "", errors.New("no .note.go.buildid section")
	}
	note, err := s.Data()
	if err != nil {
		return "", err
	}
	if len(note) < 16 {
		return "", errors.New("short build ID note")
	}
	bo := f.ByteOrder
	nameSize, descSize, typ := bo.Uint32(note), bo.Uint32(note[4:]), bo.Uint32(note[8:])
	if nameSize != 4 || typ != 4 || string(note[12:16]) != "Go\x00\x00" || uint64(descSize) > uint64(len(note)-16) || descSize == 0 {
		return "", errors.New("not a Go build ID note")
	}
	return string(note[16 : 16+descSize]), nil
}

// cacheEntry is one spec file in the cache file as read.
type cacheEntry struct {
	path string
	sum  [sha256.Size]byte
	crc  uint32
	blob []byte
}

// parseCache is the loader's link to the cache file. It is read at the
// first load, consulted by every worker of that load, and let go of
// afterwards: from then on the loader's own memory knows more.
type parseCache struct {
	file string
	id   string // executableID, or another in tests
	log  *slog.Logger

	opened   bool
	reported bool // the first load's use of the cache was logged
	entries  map[string]cacheEntry
	dirty    bool         // the file on disk is not what the loader knows
	hits     atomic.Int64 // this load's files served from the cache
	damaged  atomic.Int64 // this load's entries that failed their check
	damage   atomic.Value // the first damage's description (string)

	writeFailed bool // said so once at info; later failures at debug
}

func newParseCache(file, id string, log *slog.Logger) *parseCache {
	if file == "" {
		return nil
	}
	if id == "" {
		log.Info("spec parse cache off: cannot identify the running executable", "file", file)
		return nil
	}
	return &parseCache{file: file, id: id, log: log}
}

// open reads the cache file, once.
func (c *parseCache) open() {
	if c.opened {
		return
	}
	c.opened, c.dirty = true, true
	data, err := os.ReadFile(c.file)
	if errors.Is(err, fs.ErrNotExist) {
		return // the first start, or someone deleted it: both fine
	}
	if err != nil {
		c.log.Info("spec parse cache unreadable; parsing every spec file", "file", c.file, "err", err)
		return
	}
	entries, err := readCacheFile(data, c.id)
	switch {
	case err != nil && len(entries) == 0:
		c.log.Info("spec parse cache ignored; parsing every spec file", "file", c.file, "why", err.Error())
	case err != nil:
		c.log.Info("spec parse cache partly usable; parsing the files it lacks", "file", c.file, "usable", len(entries), "why", err.Error())
	}
	c.entries, c.dirty = entries, err != nil
}

// readCacheFile returns the entries of a cache file written by this build,
// as many as are whole, and why it stopped early or read none.
func readCacheFile(data []byte, id string) (map[string]cacheEntry, error) {
	r := &blobReader{b: data}
	if len(data) < len(cacheMagic) || string(data[:len(cacheMagic)]) != cacheMagic {
		return nil, errors.New("not a spec parse cache")
	}
	r.b = r.b[len(cacheMagic):]
	format, err := r.uvarint()
	if err != nil {
		return nil, errors.New("cut short in its header")
	}
	if format != cacheFormat {
		return nil, fmt.Errorf("format %d, this build reads %d", format, cacheFormat)
	}
	written, err := r.bytes()
	if err != nil {
		return nil, errors.New("cut short in its header")
	}
	if string(written) != id {
		return nil, errors.New("written by another build of the executable")
	}
	if len(r.b) < 8 {
		return nil, errors.New("cut short in its header")
	}
	count := binary.LittleEndian.Uint64(r.b)
	r.b = r.b[8:]
	entries := map[string]cacheEntry{}
	for n := uint64(0); n < count; n++ {
		path, err := r.bytes()
		if err != nil || len(r.b) < sha256.Size+4 {
			return entries, fmt.Errorf("cut short after %d of %d files", n, count)
		}
		e := cacheEntry{path: string(path)}
		copy(e.sum[:], r.b)
		e.crc = binary.LittleEndian.Uint32(r.b[sha256.Size:])
		r.b = r.b[sha256.Size+4:]
		if e.blob, err = r.bytes(); err != nil {
			return entries, fmt.Errorf("cut short after %d of %d files", n, count)
		}
		entries[e.path] = e
	}
	if len(r.b) != 0 {
		return entries, fmt.Errorf("%d bytes after the last of %d files", len(r.b), count)
	}
	return entries, nil
}

func entryCRC(path string, sum [sha256.Size]byte, blob []byte) uint32 {
	crc := crc32.Update(0, castagnoli, []byte(path))
	crc = crc32.Update(crc, castagnoli, sum[:])
	return crc32.Update(crc, castagnoli, blob)
}

// lookup returns what the file at path with content sum meant when the
// cache was written. Several workers call it at once.
func (c *parseCache) lookup(path string, sum [sha256.Size]byte) (Parsed, bool) {
	e, ok := c.entries[path]
	if !ok || e.sum != sum {
		return Parsed{}, false
	}
	if entryCRC(e.path, e.sum, e.blob) != e.crc {
		c.noteDamage(path, errors.New("checksum mismatch"))
		return Parsed{}, false
	}
	p, err := decodeParsed(e.blob)
	if err != nil {
		c.noteDamage(path, err)
		return Parsed{}, false
	}
	c.hits.Add(1)
	return p, true
}

func (c *parseCache) noteDamage(path string, err error) {
	if c.damaged.Add(1) == 1 {
		c.damage.Store(path + ": " + err.Error())
	}
}

// afterLoad takes note of a load: the first one says how the cache
// served it and lets the entries go. parsed is how many files it parsed.
func (c *parseCache) afterLoad(parsed int) {
	hits := c.hits.Swap(0)
	if n := c.damaged.Swap(0); n > 0 {
		c.log.Info("spec parse cache has damaged entries; parsed those files again", "file", c.file, "damaged", n, "first", c.damage.Load())
		c.dirty = true
	}
	if !c.reported {
		c.reported = true
		c.log.Info("spec parse cache read", "file", c.file, "cached", hits, "parsed", parsed)
		if hits < int64(len(c.entries)) {
			c.dirty = true // it holds files that are gone or changed
		}
		c.entries = nil
	}
	if parsed > 0 {
		c.dirty = true
	}
}

// cacheItem is one spec file to write: its path, sum, and what it means.
type cacheItem struct {
	path   string
	sum    [sha256.Size]byte
	parsed Parsed
}

// cacheImage is what the cache file should hold.
type cacheImage struct {
	file, id string
	items    []cacheItem
}

// writeCache replaces the cache file with img, through a temporary file in the
// same directory and a rename, so that a reader sees the old file or the
// new one. No fsync: a cache lost to a crash is a slower start. A file
// whose Parsed the codec cannot carry is left out (a miss next time). It
// gives up, leaving the old file, when ctx ends.
func writeCache(ctx context.Context, img *cacheImage) (err error) {
	f, err := os.CreateTemp(filepath.Dir(img.file), "."+filepath.Base(img.file)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write spec parse cache: %w", err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	w := bufio.NewWriterSize(f, 1<<20)
	var head []byte
	head = append(head, cacheMagic...)
	head = binary.AppendUvarint(head, cacheFormat)
	head = binary.AppendUvarint(head, uint64(len(img.id)))
	head = append(head, img.id...)
	countAt := int64(len(head))
	head = binary.LittleEndian.AppendUint64(head, 0) // the count, once known
	w.Write(head)
	var count uint64
	var entry []byte
	for _, it := range img.items {
		if err := ctx.Err(); err != nil {
			return err
		}
		blob, err := encodeParsed(&it.parsed)
		if err != nil {
			continue
		}
		entry = binary.AppendUvarint(entry[:0], uint64(len(it.path)))
		entry = append(entry, it.path...)
		entry = append(entry, it.sum[:]...)
		entry = binary.LittleEndian.AppendUint32(entry, entryCRC(it.path, it.sum, blob))
		entry = binary.AppendUvarint(entry, uint64(len(blob)))
		w.Write(entry)
		w.Write(blob)
		count++
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("write spec parse cache: %w", err)
	}
	if _, err := f.WriteAt(binary.LittleEndian.AppendUint64(nil, count), countAt); err != nil {
		return fmt.Errorf("write spec parse cache: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write spec parse cache: %w", err)
	}
	if err := os.Rename(f.Name(), img.file); err != nil {
		return fmt.Errorf("write spec parse cache: %w", err)
	}
	return nil
}

// wrote reports how a write went: a failure is news once (a read-only
// data directory fails every time).
func (c *parseCache) wrote(err error) {
	switch {
	case err == nil || errors.Is(err, context.Canceled):
	case !c.writeFailed:
		c.writeFailed = true
		c.log.Info("spec parse cache not written; the next start parses every spec file", "file", c.file, "err", err)
	default:
		c.log.Debug("spec parse cache not written", "file", c.file, "err", err)
	}
}

// hostDependent says whether a file's problems depend on the host rather
// than on its bytes: an unknown time zone may be known once tzdata is
// installed, so such a file is parsed again at every start.
func hostDependent(ps []Problem) bool {
	for _, p := range ps {
		if strings.HasPrefix(p.Message, unknownZone) {
			return true
		}
	}
	return false
}

// cacheSaver writes cache images one at a time off the watcher's loop:
// while one is written, newer ones replace each other and the latest is
// written next.
type cacheSaver struct {
	mu      sync.Mutex
	pending *cacheImage
	busy    bool
	wg      sync.WaitGroup
	write   func(context.Context, *cacheImage) error
	done    func(error)
}

func (s *cacheSaver) save(ctx context.Context, img *cacheImage) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pending = img
	if s.busy {
		return
	}
	s.busy = true
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			s.mu.Lock()
			img := s.pending
			s.pending = nil
			if img == nil || ctx.Err() != nil {
				s.busy = false
				s.mu.Unlock()
				return
			}
			s.mu.Unlock()
			s.done(s.write(ctx, img))
		}
	}()
}

// wait returns once no write is in flight.
func (s *cacheSaver) wait() { s.wg.Wait() }

// cacheImage returns what the cache file should now hold, or nil when it
// holds that already (or there is no cache). Every file whose content was
// parsed is in it, valid or not; a file with errors is kept with its
// problems only, which is all the loader uses of it.
func (l *loader) cacheImage() *cacheImage {
	c := l.cache
	if c == nil || !c.dirty {
		return nil
	}
	c.dirty = false
	img := &cacheImage{file: c.file, id: c.id}
	for path, res := range l.seen {
		if !res.cacheable {
			continue
		}
		it := cacheItem{path: path, sum: res.sum, parsed: Parsed{Problems: res.problems}}
		if st := res.state; st != nil {
			it.parsed.Sequences, it.parsed.DNCLists, it.parsed.Halts = st.seqs, st.dncs, st.halts
		}
		img.items = append(img.items, it)
	}
	sort.Slice(img.items, func(i, j int) bool { return img.items[i].path < img.items[j].path })
	return img
}
