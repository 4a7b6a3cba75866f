package specs

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"
)

// IsSpecFile reports whether a directory entry name is a spec file: .yaml
// or .yml, not hidden, and not an editor's swap, backup or probe file.
func IsSpecFile(name string) bool {
	if strings.HasPrefix(name, ".") || strings.HasPrefix(name, "#") || strings.HasSuffix(name, "~") || name == "4913" {
		return false
	}
	ext := strings.ToLower(filepath.Ext(name))
	return ext == ".yaml" || ext == ".yml"
}

// fileState is what one file held the last time it was valid.
type fileState struct {
	seqs  []*Sequence
	dncs  []*DoNotCallList
	halts []*Halt
	valid bool
}

// DefaultMaxFileBytes caps a spec file unless told otherwise: real specs
// are kilobytes, and a runaway file (a log written into the directory, a
// 50 MB paste) must not take the daemon's memory with it on every rescan.
const DefaultMaxFileBytes = 4 << 20

// LoadOptions tune Load. Zero values take the defaults.
type LoadOptions struct {
	// MaxFileBytes: a larger file is an invalid file [DefaultMaxFileBytes].
	MaxFileBytes int64
	// Overlap decides whether two sequences that share a campaign group
	// can dial it at the same time [WindowOverlap]. Package schedule's
	// RunsOverlap also reads their start times and stop conditions; it is
	// passed in because schedule imports this package.
	Overlap OverlapFunc
	// CacheFile keeps what each file meant across processes, so that a
	// load parses only the files that changed since it was written (see
	// cache.go). "" for none. Load writes it before returning.
	CacheFile string
	// Logger hears about the cache [discard].
	Logger *slog.Logger
}

// OverlapFunc says whether the runs of a and b can dial at the same time
// at or after now.
type OverlapFunc func(a, b *Sequence, now time.Time) Overlap

// Overlap is an OverlapFunc's answer.
type Overlap struct {
	Verdict OverlapVerdict
	// Why is the reason for Can and IfLate, to be read after "their runs
	// can overlap: ".
	Why string
}

// OverlapVerdict grades how two sequences that share a campaign group can
// meet.
type OverlapVerdict uint8

const (
	OverlapNever  OverlapVerdict = iota // no run of one can dial while the other does
	OverlapIfLate                       // only if a one-shot without startingDeadline starts late: a warning
	OverlapCan                          // they can: an error
)

// WindowOverlap is the rule that needs no time maths: two sequences can
// overlap unless both have calling windows in one time zone that never
// share a minute (days × hours).
func WindowOverlap(a, b *Sequence, _ time.Time) Overlap {
	switch {
	case a.Window == nil:
		return Overlap{OverlapCan, fmt.Sprintf("%q has no calling window", a.Name)}
	case b.Window == nil:
		return Overlap{OverlapCan, fmt.Sprintf("%q has no calling window", b.Name)}
	case a.TimeZone != b.TimeZone:
		return Overlap{OverlapCan, fmt.Sprintf("their windows are in different time zones (%s, %s), which are not compared", a.TimeZone, b.TimeZone)}
	case WindowsCanMeet(a.Window, b.Window):
		return Overlap{OverlapCan, "their calling windows share days and hours"}
	}
	return Overlap{Verdict: OverlapNever}
}

// racyWindow is how close to its read a file's mtime may be before the
// stat alone no longer proves the file unchanged: a filesystem with coarse
// timestamps (1 s on some, 2 s on FAT) gives a write just after our read
// the mtime we recorded, with the same size if an edit kept its length.
const racyWindow = 2 * time.Second

// parsed is what a file's content meant when it was last read, and how to
// tell that the file has not changed since.
type parsed struct {
	size     int64
	mtime    time.Time
	racy     bool // mtime too close to the read: re-read and compare sums
	sum      [sha256.Size]byte
	hasSum   bool       // false when the file was refused unread (too large)
	state    *fileState // what it holds, when it has no errors
	problems []Problem
	// cacheable: state and problems are what its content parses to, and
	// would be on any host (the parse cache may keep them).
	cacheable bool
}

// loader keeps the last good version of every file across loads, and the
// generation of every sequence, so that a broken file never takes a
// running sequence away and a renamed file is not a delete and create.
// It also remembers what each file meant, so that a rescan of files that
// did not change reads and parses nothing.
type loader struct {
	maxBytes int64
	overlap  OverlapFunc
	good     map[string]*fileState // path → last valid content
	gens     map[string]genEntry   // sequence or list name → hash and generation
	seen     map[string]*parsed    // path → its last read
	cache    *parseCache           // nil without LoadOptions.CacheFile
	// Counted for tests and benchmarks: files opened and read, parsed,
	// and served by the parse cache instead (read, not parsed).
	reads, parses, cached int
}

type genEntry struct {
	hash string
	gen  int64
}

func newLoader(opts LoadOptions) *loader {
	if opts.MaxFileBytes <= 0 {
		opts.MaxFileBytes = DefaultMaxFileBytes
	}
	if opts.Overlap == nil {
		opts.Overlap = WindowOverlap
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	var cache *parseCache
	if opts.CacheFile != "" {
		cache = newParseCache(opts.CacheFile, executableID(), opts.Logger)
	}
	return &loader{maxBytes: opts.MaxFileBytes, overlap: opts.Overlap, good: map[string]*fileState{}, gens: map[string]genEntry{}, seen: map[string]*parsed{},
		cache: cache}
}

// LoadDir loads files and directories (not recursively) into a snapshot,
// with the default options.
func LoadDir(paths ...string) Snapshot { return Load(LoadOptions{}, paths...) }

// Load loads files and directories (not recursively) into a snapshot.
func Load(opts LoadOptions, paths ...string) Snapshot { return newLoader(opts).loadOnce(paths...) }

// loadOnce is a load for a loader that will not load again: it writes
// the parse cache, if any, before returning.
func (l *loader) loadOnce(paths ...string) Snapshot {
	snap := l.load(false, paths...)
	if img := l.cacheImage(); img != nil {
		l.cache.wrote(writeCache(context.Background(), img))
	}
	return snap
}

// specFile is a file to load and what a stat said about it.
type specFile struct {
	path string
	info os.FileInfo
}

// listFiles expands the paths into spec files, sorted.
func listFiles(paths []string) ([]specFile, []Problem, error) {
	var files []specFile
	var problems []Problem
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			return nil, nil, fmt.Errorf("read specs: %w", err)
		}
		if !fi.IsDir() {
			files = append(files, specFile{p, fi})
			continue
		}
		ents, err := os.ReadDir(p)
		if err != nil {
			return nil, nil, fmt.Errorf("read specs directory: %w", err)
		}
		for _, e := range ents {
			if !IsSpecFile(e.Name()) {
				continue
			}
			full := filepath.Join(p, e.Name())
			st, err := os.Stat(full) // follows symlinks (ConfigMap ..data)
			if err != nil {
				if os.IsNotExist(err) {
					continue // deleted while listing
				}
				problems = append(problems, Problem{Path: full, Line: 1, Column: 1, Severity: SeverityError, Message: "cannot read: " + err.Error()})
				continue
			}
			if st.Mode().IsRegular() {
				files = append(files, specFile{full, st})
			}
		}
	}
	sort.Slice(files, func(i, j int) bool { return files[i].path < files[j].path })
	return files, problems, nil
}

// load reads the paths into a snapshot. Unless force is set, a file whose
// size and mtime match its last read is not read again; with force every
// file is read, but one whose content is unchanged is still not parsed.
func (l *loader) load(force bool, paths ...string) Snapshot {
	snap := Snapshot{Sequences: map[string]*Sequence{}, DNCLists: map[string]*DoNotCallList{},
		Halts: map[string]*Halt{}, Files: map[string]string{}, Invalid: map[string]string{}}
	files, problems, err := listFiles(paths)
	if err != nil {
		snap.Err = err
		// Keep everything that was good: an unreadable directory is not a deletion.
		for path, st := range l.good {
			l.install(&snap, path, st)
		}
		return snap
	}
	snap.Problems = append(snap.Problems, problems...)
	present := map[string]bool{}
	if l.cache != nil {
		l.cache.open()
	}
	parses := l.parses
	outs := l.readAll(files, force)
	if l.cache != nil {
		l.cache.afterLoad(l.parses - parses)
	}
	// Sized once: growing these maps (and the generations') entry by entry
	// showed in the profile of a cached load of 100,000 sequences.
	nseq, ndnc := 0, 0
	for _, o := range outs {
		if o.res != nil && o.res.state != nil {
			nseq, ndnc = nseq+len(o.res.state.seqs), ndnc+len(o.res.state.dncs)
		}
	}
	snap.Sequences, snap.DNCLists, snap.Files = make(map[string]*Sequence, nseq), make(map[string]*DoNotCallList, ndnc), make(map[string]string, nseq+ndnc)
	if len(l.gens) == 0 {
		l.gens = make(map[string]genEntry, nseq+ndnc)
	}
	for i, sf := range files {
		path := sf.path
		present[path] = true
		res, err := outs[i].res, outs[i].err
		if err == nil && outs[i].keep {
			l.remember(sf, res)
		}
		if err != nil {
			delete(l.seen, path)
			snap.Problems = append(snap.Problems, Problem{Path: path, Line: 1, Column: 1, Severity: SeverityError, Message: "cannot read: " + err.Error()})
			if st := l.good[path]; st != nil {
				l.install(&snap, path, st)
				markInvalid(&snap, st, "cannot read "+path+": "+err.Error())
			}
			continue
		}
		ps := res.problems
		snap.Problems = append(snap.Problems, ps...)
		if HasErrors(ps) {
			if st := l.good[path]; st != nil {
				l.install(&snap, path, st)
				first := ""
				for _, p := range ps {
					if p.Severity == SeverityError {
						first = p.String()
						break
					}
				}
				markInvalid(&snap, st, first)
			}
			continue
		}
		l.good[path] = res.state
		l.install(&snap, path, res.state)
	}
	for path := range l.good {
		if !present[path] {
			delete(l.good, path) // a deleted file deletes its sequences
		}
	}
	for path := range l.seen {
		if !present[path] {
			delete(l.seen, path)
		}
	}
	crossCheck(&snap, l.overlap, time.Now())
	l.generations(&snap)
	sort.SliceStable(snap.Problems, func(i, j int) bool {
		a, b := snap.Problems[i], snap.Problems[j]
		if a.Path != b.Path {
			return a.Path < b.Path
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Column < b.Column
	})
	return snap
}

// readOut is what reading one file gave.
type readOut struct {
	res    *parsed
	err    error
	keep   bool // remember res for the next load
	read   bool // the file was opened and read
	parse  bool // its content was parsed
	cached bool // its content's meaning came from the parse cache
}

// readAll reads and parses files on every core: at start-up, 100,000
// sequences in YAML are seconds of parsing on one. The loader's own maps
// are only read here; what to remember is applied afterwards, in order.
func (l *loader) readAll(files []specFile, force bool) []readOut {
	outs := make([]readOut, len(files))
	workers := min(runtime.GOMAXPROCS(0), len(files))
	if workers <= 1 {
		for i, sf := range files {
			outs[i] = l.read(sf, l.seen[sf.path], force)
		}
	} else {
		var next atomic.Int64
		var wg sync.WaitGroup
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					i := int(next.Add(1) - 1)
					if i >= len(files) {
						return
					}
					outs[i] = l.read(files[i], l.seen[files[i].path], force)
				}
			}()
		}
		wg.Wait()
	}
	for _, o := range outs {
		if o.read {
			l.reads++
		}
		if o.parse {
			l.parses++
		}
		if o.cached {
			l.cached++
		}
	}
	return outs
}

// read returns what a file means, reading it only when its size or mtime
// changed (or force, or its last read was racy) and parsing it only when
// its content did. It never reads more than the size limit and one byte.
// It does not change the loader: several run at once (readAll).
func (l *loader) read(sf specFile, prev *parsed, force bool) readOut {
	regular := sf.info.Mode().IsRegular()
	if prev != nil && regular && !force && !prev.racy && sf.info.Size() == prev.size && sf.info.ModTime().Equal(prev.mtime) {
		return readOut{res: prev}
	}
	f, err := os.Open(sf.path)
	if err != nil {
		return readOut{err: err}
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return readOut{err: err}
	}
	res := &parsed{size: fi.Size(), mtime: fi.ModTime()}
	if fi.Mode().IsRegular() && fi.Size() > l.maxBytes {
		res.problems = []Problem{tooLarge(sf.path, fmt.Sprintf("file is %d bytes, over the %s limit (--max-spec-bytes)", fi.Size(), sizeString(l.maxBytes)))}
		return readOut{res: res, keep: true}
	}
	readAt := time.Now()
	data, err := readUpTo(f, fi.Size(), l.maxBytes+1)
	if err != nil {
		return readOut{err: err, read: true}
	}
	res.racy = readAt.Sub(fi.ModTime()) < racyWindow
	if int64(len(data)) > l.maxBytes {
		// It grew while being read, or it is a device or pipe with no size.
		res.problems = []Problem{tooLarge(sf.path, fmt.Sprintf("file is over the %s limit (--max-spec-bytes)", sizeString(l.maxBytes)))}
		return readOut{res: res, keep: true, read: true}
	}
	res.sum, res.hasSum = sha256.Sum256(data), true
	if prev != nil && prev.hasSum && prev.sum == res.sum {
		res.state, res.problems, res.cacheable = prev.state, prev.problems, prev.cacheable
		return readOut{res: res, keep: true, read: true}
	}
	out := readOut{res: res, keep: true, read: true}
	if l.cache != nil {
		// Only a file that parsed is in the cache, so a hit is not binary.
		if pf, ok := l.cache.lookup(sf.path, res.sum); ok {
			res.takeParsed(pf)
			out.cached = true
			return out
		}
	}
	if p, bad := binaryProblem(sf.path, data); bad {
		res.problems = []Problem{p}
	} else {
		out.parse = true
		res.takeParsed(Parse(sf.path, data))
	}
	return out
}

// takeParsed records what the file's content parses to: its documents
// only when none has errors (the loader keeps the last good version of a
// file, never part of one).
func (res *parsed) takeParsed(pf Parsed) {
	res.problems = pf.Problems
	if !HasErrors(pf.Problems) {
		res.state = &fileState{seqs: pf.Sequences, dncs: pf.DNCLists, halts: pf.Halts, valid: true}
	}
	res.cacheable = !hostDependent(pf.Problems)
}

// readUpTo reads r to its end or to limit bytes, in a buffer sized for
// the size a stat gave: io.ReadAll starts small and grows, copying as it
// goes, which showed in the profile of a cached load (where reading is
// most of the work left).
func readUpTo(r io.Reader, size, limit int64) ([]byte, error) {
	data := make([]byte, 0, max(min(size+1, limit), 512))
	for int64(len(data)) < limit {
		if len(data) == cap(data) {
			data = append(data, 0)[:len(data)] // it grew since the stat
		}
		n, err := r.Read(data[len(data):min(int64(cap(data)), limit)])
		data = data[:len(data)+n]
		if err == io.EOF {
			return data, nil
		}
		if err != nil {
			return data, err
		}
	}
	return data, nil
}

func (l *loader) remember(sf specFile, res *parsed) {
	if sf.info.Mode().IsRegular() {
		l.seen[sf.path] = res
	}
}

func tooLarge(path, msg string) Problem {
	return Problem{Path: path, Line: 1, Column: 1, Severity: SeverityError, Message: msg}
}

// sizeString says a byte limit the way it was most likely given.
func sizeString(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// binaryProblem finds the first NUL byte or invalid UTF-8 sequence: the
// YAML parser would report either as a puzzling syntax error, when the
// real news is that this is not a text file (or not UTF-8: a UTF-16 file
// is full of NULs).
func binaryProblem(path string, data []byte) (Problem, bool) {
	for i := 0; i < len(data); {
		c := data[i]
		if c == 0 {
			line, col := position(data, i)
			return Problem{Path: path, Line: line, Column: col, Severity: SeverityError,
				Message: fmt.Sprintf("binary file: NUL byte at offset %d; a spec must be UTF-8 text", i)}, true
		}
		if c < utf8.RuneSelf {
			i++
			continue
		}
		r, size := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && size == 1 {
			line, col := position(data, i)
			return Problem{Path: path, Line: line, Column: col, Severity: SeverityError,
				Message: fmt.Sprintf("not UTF-8 text: invalid byte 0x%02x at offset %d; a spec must be UTF-8 text", c, i)}, true
		}
		i += size
	}
	return Problem{}, false
}

// position turns a byte offset into a 1-based line and column (in
// characters, as the YAML positions are).
func position(data []byte, off int) (line, col int) {
	start := bytes.LastIndexByte(data[:off], '\n') + 1
	return bytes.Count(data[:off], []byte{'\n'}) + 1, utf8.RuneCount(data[start:off]) + 1
}

func markInvalid(snap *Snapshot, st *fileState, msg string) {
	for _, s := range st.seqs {
		snap.Invalid[s.Name] = msg
	}
	for _, d := range st.dncs {
		snap.Invalid[d.Name] = msg
	}
}

// install adds a file's sequences; a name already taken by another file is
// a duplicate, reported at the name of each file involved, so that each
// file's own report (and an editor jumping to it) shows the clash.
func (l *loader) install(snap *Snapshot, path string, st *fileState) {
	for _, s := range st.seqs {
		if prev, dup := snap.Sequences[s.Name]; dup {
			duplicateName(snap, "sequence", s.Name, prev.NamePos, s.NamePos)
			continue
		}
		snap.Sequences[s.Name] = s
		snap.Files[s.Name] = path
	}
	for _, d := range st.dncs {
		if prev, dup := snap.DNCLists[d.Name]; dup {
			duplicateName(snap, "DoNotCallList", d.Name, prev.NamePos, d.NamePos)
			continue
		}
		snap.DNCLists[d.Name] = d
		snap.Files[d.Name] = path
	}
	for _, h := range st.halts {
		if prev, dup := snap.Halts[h.Name]; dup {
			duplicateName(snap, "Halt", h.Name, prev.NamePos, h.NamePos)
			continue
		}
		snap.Halts[h.Name] = h
	}
}

// duplicateName reports a name defined at first and again at again: one
// error at each place, each naming the other.
func duplicateName(snap *Snapshot, kind, name string, first, again Position) {
	for _, p := range [2][2]Position{{again, first}, {first, again}} {
		at, other := p[0], p[1]
		snap.Problems = append(snap.Problems, Problem{Path: at.Path, Line: at.Line, Column: at.Column, Field: "metadata.name",
			Severity: SeverityError, Message: fmt.Sprintf("duplicate %s name %q: also defined at %s", kind, name, other)})
	}
}

// generations carries generation numbers across loads: same name and hash,
// same generation (whatever file it lives in); a new hash, one more.
func (l *loader) generations(snap *Snapshot) {
	for name, s := range snap.Sequences {
		e, ok := l.gens[name]
		switch {
		case !ok:
			e = genEntry{s.Hash, 1}
		case e.hash != s.Hash:
			e = genEntry{s.Hash, e.gen + 1}
		}
		l.gens[name] = e
		if s.Generation != e.gen {
			c := *s
			c.Generation = e.gen
			snap.Sequences[name] = &c
		}
	}
	for name, d := range snap.DNCLists {
		e, ok := l.gens["dnc/"+name]
		switch {
		case !ok:
			e = genEntry{d.Hash, 1}
		case e.hash != d.Hash:
			e = genEntry{d.Hash, e.gen + 1}
		}
		l.gens["dnc/"+name] = e
		if d.Generation != e.gen {
			c := *d
			c.Generation = e.gen
			snap.DNCLists[name] = &c
		}
	}
}

// crossCheck reports a campaign group used by two sequences whose runs can
// dial it at the same time, as overlap decides: an error where they can, a
// warning where they can only if a one-shot starts late. The items are
// sorted by campaign group, so the check costs a sort of the items plus
// the pairs that share a group.
func crossCheck(snap *Snapshot, overlap OverlapFunc, now time.Time) {
	type use struct {
		group [2]int32
		seq   *Sequence
		item  *Item
		index int // of item in seq.Items
	}
	// One sorted list rather than a map of lists: at 100,000 sequences
	// the allocations of the map were most of the check.
	n := 0
	for _, s := range snap.Sequences {
		n += len(s.Items)
	}
	uses := make([]use, 0, n)
	for _, s := range snap.Sequences {
		for i := range s.Items {
			uses = append(uses, use{[2]int32{s.Items[i].CampaignDBID, s.Items[i].GroupDBID}, s, &s.Items[i], i})
		}
	}
	// By group, then sequence name, then item: each group's sequences in
	// name order, each with its first item on the group.
	slices.SortFunc(uses, func(a, b use) int {
		if c := cmp.Compare(a.group[0], b.group[0]); c != 0 {
			return c
		}
		if c := cmp.Compare(a.group[1], b.group[1]); c != 0 {
			return c
		}
		if a.seq != b.seq {
			return strings.Compare(a.seq.Name, b.seq.Name)
		}
		return cmp.Compare(a.index, b.index)
	})
	for start := 0; start < len(uses); {
		end := start + 1
		for end < len(uses) && uses[end].group == uses[start].group {
			end++
		}
		k := uses[start].group
		us := uses[start:start:end]
		for _, u := range uses[start:end] {
			if len(us) == 0 || us[len(us)-1].seq != u.seq {
				us = append(us, u)
			}
		}
		start = end
		for i := 1; i < len(us); i++ {
			for j := 0; j < i; j++ {
				if p, ok := sharedGroup(k, us[j].seq, us[j].item, us[i].seq, us[i].item, overlap, now); ok {
					snap.Problems = append(snap.Problems, p)
				}
			}
		}
	}
}

// sharedGroup is the problem, if any, of sequence b's item bi on
// campaign group k, which sequence a's item ai (earlier by name) also uses.
func sharedGroup(k [2]int32, a *Sequence, ai *Item, b *Sequence, bi *Item, overlap OverlapFunc, now time.Time) (Problem, bool) {
	o := overlap(a, b, now)
	p := Problem{Path: bi.Pos.Path, Line: bi.Pos.Line, Column: bi.Pos.Column, Field: "campaignDBID"}
	switch o.Verdict {
	case OverlapNever:
		return p, false
	case OverlapIfLate:
		p.Severity = SeverityWarning
		p.Message = fmt.Sprintf("campaign group %d/%d is also used by sequence %q (%s); their runs overlap only if %s",
			k[0], k[1], a.Name, ai.Pos, o.Why)
	default:
		p.Severity = SeverityError
		p.Message = fmt.Sprintf("campaign group %d/%d is also used by sequence %q (%s) and their runs can overlap: %s; give them calling windows or start times that never meet, or use one sequence",
			k[0], k[1], a.Name, ai.Pos, o.Why)
	}
	return p, true
}

// WindowsCanMeet reports whether two calling windows in one time zone
// share a minute on some day (except dates aside: they pass). A nil
// window is always open.
func WindowsCanMeet(a, b *Window) bool {
	if a == nil || b == nil {
		return true
	}
	days := func(w *Window) map[int]bool {
		m := map[int]bool{}
		if len(w.Days) == 0 {
			for d := 0; d < 7; d++ {
				m[d] = true
			}
		}
		for _, d := range w.Days {
			m[int(d)] = true
		}
		return m
	}
	da, db := days(a), days(b)
	shareDay := false
	for d := range da {
		if db[d] {
			shareDay = true
		}
	}
	if !shareDay {
		return false
	}
	return a.From.Minutes() < b.To.Minutes() && b.From.Minutes() < a.To.Minutes()
}
