package specs

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
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
	valid bool
}

// loader keeps the last good version of every file across loads, and the
// generation of every sequence, so that a broken file never takes a
// running sequence away and a renamed file is not a delete and create.
type loader struct {
	good map[string]*fileState // path → last valid content
	gens map[string]genEntry   // sequence or list name → hash and generation
}

type genEntry struct {
	hash string
	gen  int64
}

func newLoader() *loader { return &loader{good: map[string]*fileState{}, gens: map[string]genEntry{}} }

// LoadDir loads files and directories (not recursively) into a snapshot.
func LoadDir(paths ...string) Snapshot { return newLoader().load(paths...) }

// listFiles expands the paths into spec files, sorted.
func listFiles(paths []string) ([]string, []Problem, error) {
	var files []string
	var problems []Problem
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			return nil, nil, fmt.Errorf("read specs: %w", err)
		}
		if !fi.IsDir() {
			files = append(files, p)
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
				files = append(files, full)
			}
		}
	}
	sort.Strings(files)
	return files, problems, nil
}

func (l *loader) load(paths ...string) Snapshot {
	snap := Snapshot{Sequences: map[string]*Sequence{}, DNCLists: map[string]*DoNotCallList{},
		Files: map[string]string{}, Invalid: map[string]string{}}
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
	for _, path := range files {
		present[path] = true
		data, err := os.ReadFile(path)
		if err != nil {
			snap.Problems = append(snap.Problems, Problem{Path: path, Line: 1, Column: 1, Severity: SeverityError, Message: "cannot read: " + err.Error()})
			if st := l.good[path]; st != nil {
				l.install(&snap, path, st)
				markInvalid(&snap, st, "cannot read "+path+": "+err.Error())
			}
			continue
		}
		seqs, dncs, ps := ParseFile(path, data)
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
		st := &fileState{seqs: seqs, dncs: dncs, valid: true}
		l.good[path] = st
		l.install(&snap, path, st)
	}
	for path := range l.good {
		if !present[path] {
			delete(l.good, path) // a deleted file deletes its sequences
		}
	}
	crossCheck(&snap)
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

func markInvalid(snap *Snapshot, st *fileState, msg string) {
	for _, s := range st.seqs {
		snap.Invalid[s.Name] = msg
	}
	for _, d := range st.dncs {
		snap.Invalid[d.Name] = msg
	}
}

// install adds a file's sequences; a name already taken by another file is
// a duplicate, reported with both positions.
func (l *loader) install(snap *Snapshot, path string, st *fileState) {
	for _, s := range st.seqs {
		if prev, dup := snap.Sequences[s.Name]; dup {
			snap.Problems = append(snap.Problems, Problem{Path: s.Pos.Path, Line: s.Pos.Line, Column: s.Pos.Column, Field: "metadata.name",
				Severity: SeverityError, Message: fmt.Sprintf("duplicate sequence name %q: also defined at %s", s.Name, prev.Pos)})
			continue
		}
		snap.Sequences[s.Name] = s
		snap.Files[s.Name] = path
	}
	for _, d := range st.dncs {
		if prev, dup := snap.DNCLists[d.Name]; dup {
			snap.Problems = append(snap.Problems, Problem{Path: d.Pos.Path, Line: d.Pos.Line, Column: d.Pos.Column, Field: "metadata.name",
				Severity: SeverityError, Message: fmt.Sprintf("duplicate DoNotCallList name %q: also defined at %s", d.Name, prev.Pos)})
			continue
		}
		snap.DNCLists[d.Name] = d
		snap.Files[d.Name] = path
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

// crossCheck reports a campaign group used by two sequences whose run
// times can overlap. The rule is conservative: two sequences can overlap
// unless both have calling windows that never share a minute (days ×
// hours) in the same time zone. Sequences are indexed by campaign group, so the check is linear
// in the number of items plus the pairs that share a group.
func crossCheck(snap *Snapshot) {
	type use struct {
		seq  *Sequence
		item *Item
	}
	byGroup := map[[2]int32][]use{}
	names := make([]string, 0, len(snap.Sequences))
	for n := range snap.Sequences {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		s := snap.Sequences[n]
		seen := map[[2]int32]bool{}
		for i := range s.Items {
			k := [2]int32{s.Items[i].CampaignDBID, s.Items[i].GroupDBID}
			if seen[k] {
				continue
			}
			seen[k] = true
			byGroup[k] = append(byGroup[k], use{s, &s.Items[i]})
		}
	}
	keys := make([][2]int32, 0, len(byGroup))
	for k := range byGroup {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		return keys[i][0] < keys[j][0] || (keys[i][0] == keys[j][0] && keys[i][1] < keys[j][1])
	})
	for _, k := range keys {
		us := byGroup[k]
		for i := 1; i < len(us); i++ {
			for j := 0; j < i; j++ {
				a, b := us[j], us[i]
				if a.seq.TimeZone == b.seq.TimeZone && !windowsCanOverlap(a.seq.Window, b.seq.Window) {
					continue
				}
				snap.Problems = append(snap.Problems, Problem{Path: b.item.Pos.Path, Line: b.item.Pos.Line, Column: b.item.Pos.Column,
					Field: "campaignDBID", Severity: SeverityError,
					Message: fmt.Sprintf("campaign group %d/%d is also used by sequence %q (%s) and their run times can overlap; give them calling windows that never meet, or use one sequence",
						k[0], k[1], a.seq.Name, a.item.Pos)})
			}
		}
	}
}

func windowsCanOverlap(a, b *Window) bool {
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
