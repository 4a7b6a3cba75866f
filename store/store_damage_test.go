package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// validFile writes a database with enough progress, intents, history and
// DNC outcomes to fill several pages, and returns its bytes.
func validFile(t *testing.T) []byte {
	t.Helper()
	path := filepath.Join(t.TempDir(), FileName)
	s, err := Open(path, Options{NoSync: true, Link: &LinkIdentity{Kind: "sim", TargetAppDBID: 120}})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	for i := range 40 {
		seq := fmt.Sprintf("sequence-%02d", i)
		if err := s.PutProgress(Progress{Sequence: seq, SpecHash: strings.Repeat("h", 200), Run: &Run{ID: seq + "@x", ItemState: "dialing"}}); err != nil {
			t.Fatal(err)
		}
		s.BeginIntent(Intent{ID: seq + "@x/0/0/load", Sequence: seq, Action: "load", Created: at})
		s.Append(Event{Sequence: seq, At: at, Kind: "run-start", Message: strings.Repeat("m", 300)})
		s.PutDNCEntries([]DNCEntry{{Key: seq, State: DNCProcessed}})
	}
	s.Close()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// meta reads the current meta page's root and freelist page ids.
func meta(b []byte, pageSize int) (root, freelist, pages uint64) {
	var txid uint64
	for _, off := range []int{0, pageSize} {
		m := b[off+16:]
		if id := binary.LittleEndian.Uint64(m[48:]); id >= txid {
			txid = id
			root = binary.LittleEndian.Uint64(m[16:])
			freelist = binary.LittleEndian.Uint64(m[32:])
			pages = binary.LittleEndian.Uint64(m[40:])
		}
	}
	return root, freelist, pages
}

func garbage(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, 17))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// useDamaged opens a damaged file as the daemon and as the db tools do and
// reads everything; it returns the first error. A panic fails the test.
func useDamaged(t *testing.T, path string) error {
	t.Helper()
	var first error
	note := func(err error) {
		if err != nil && first == nil {
			first = err
		}
	}
	if ro, err := Open(path, Options{ReadOnly: true}); err != nil {
		note(err)
	} else {
		note(ro.Check())
		ro.Close()
	}
	s, err := Open(path, Options{NoSync: true, Link: &LinkIdentity{Kind: "sim", TargetAppDBID: 120}})
	if err != nil {
		note(err)
		return first
	}
	defer s.Close()
	_, err = s.AllProgress()
	note(err)
	_, err = s.OpenIntents()
	note(err)
	_, err = s.DNCEntries()
	note(err)
	_, err = s.History("sequence-07", time.Time{}, time.Time{}, 0)
	note(err)
	_, err = s.GroupStatuses()
	note(err)
	note(s.PutProgress(Progress{Sequence: "sequence-07"}))
	return first
}

func TestADamagedFileIsAnErrorNamingItNeverAPanic(t *testing.T) {
	valid := validFile(t)
	ps := os.Getpagesize()
	root, freelist, pages := meta(valid, ps)
	if pages < 8 {
		t.Fatalf("the valid file has only %d pages: the damage would miss the data", pages)
	}
	overwrite := func(page uint64, seed uint64) func([]byte) []byte {
		return func(b []byte) []byte {
			copy(b[int(page)*ps:], garbage(seed, ps))
			return b
		}
	}
	shapes := map[string]func([]byte) []byte{
		"truncated to half":     func(b []byte) []byte { return b[:len(b)/2] },
		"truncated to one page": func(b []byte) []byte { return b[:ps] },
		"all zeros":             func(b []byte) []byte { return make([]byte, len(b)) },
		"both meta pages garbage": func(b []byte) []byte {
			return overwrite(1, 2)(overwrite(0, 1)(b))
		},
		"freelist page garbage":    overwrite(freelist, 3),
		"root bucket page garbage": overwrite(root, 4),
		// A branch page whose first child is itself, and one whose first
		// child is the root: bbolt's cursor would descend forever.
		"a branch page pointing at itself": func(b []byte) []byte {
			p := branchPage(t, b, ps)
			binary.LittleEndian.PutUint64(b[p*ps+pageHeader+8:], uint64(p))
			return b
		},
		"a branch page pointing at the root": func(b []byte) []byte {
			p := branchPage(t, b, ps)
			binary.LittleEndian.PutUint64(b[p*ps+pageHeader+8:], root)
			return b
		},
		"every data page garbage": func(b []byte) []byte {
			copy(b[2*ps:], garbage(5, len(b)-2*ps))
			return b
		},
	}
	for name, damage := range shapes {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), FileName)
			if err := os.WriteFile(path, damage(append([]byte(nil), valid...)), 0o600); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- useDamaged(t, path) }()
			var err error
			select {
			case err = <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("the store hung on the damaged file")
			}
			if err == nil {
				t.Fatal("no error from a damaged file")
			}
			if !strings.Contains(err.Error(), path) {
				t.Errorf("the error does not name the file: %v", err)
			}
			if errors.Is(err, ErrDamaged) && !strings.Contains(err.Error(), "sequencer db check") {
				t.Errorf("the error does not say what to do: %v", err)
			}
			checkNotLocked(t, path)
		})
	}
	// Every page in turn: damage to a free page may go unnoticed, but no
	// page may make the store panic, and whatever is found names the file.
	for page := uint64(2); page < pages; page++ {
		path := filepath.Join(t.TempDir(), FileName)
		os.WriteFile(path, overwrite(page, 100+page)(append([]byte(nil), valid...)), 0o600)
		if err := useDamaged(t, path); err != nil && !strings.Contains(err.Error(), path) {
			t.Errorf("page %d: the error does not name the file: %v", page, err)
		}
		checkNotLocked(t, path)
	}
}

// branchPage finds a branch page of a bucket in use.
func branchPage(t *testing.T, b []byte, ps int) int {
	_, _, pages := meta(b, ps)
	for p := 2; p < int(pages); p++ {
		if binary.LittleEndian.Uint64(b[p*ps:]) == uint64(p) && binary.LittleEndian.Uint16(b[p*ps+8:]) == branchFlag {
			return p
		}
	}
	t.Fatal("the valid file has no branch page: write more into it")
	return 0
}

// checkNotLocked: a failed open must not leave the file locked, or the db
// tools run next in the same process would blame a running daemon.
func checkNotLocked(t *testing.T, path string) {
	t.Helper()
	s, err := Open(path, Options{ReadOnly: true, LockTimeout: 50 * time.Millisecond})
	if errors.Is(err, ErrLocked) {
		t.Errorf("%s is still locked after the failed opens", path)
	}
	if err == nil {
		s.Close()
	}
}

func TestAnEmptyFileIsRefusedNotMadeIntoAFreshDatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Open(path, Options{})
	if !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "empty") {
		t.Errorf("open of an empty file: %v", err)
	}
	if info, _ := os.Stat(path); info.Size() != 0 {
		t.Errorf("the empty file was written to (%d bytes)", info.Size())
	}
	if err := Compact(path, path+".compact"); !errors.Is(err, ErrDamaged) {
		t.Errorf("compact of an empty file: %v", err)
	}
}

// setMeta writes val into one field of both meta pages (at its offset in
// the meta record) and re-signs them, as a bug or a bad copy might.
func setMeta(b []byte, ps, field int, val uint64) []byte {
	for _, off := range []int{0, ps} {
		m := b[off+pageHeader:]
		if field == 8 { // pageSize is 32 bits
			binary.LittleEndian.PutUint32(m[8:], uint32(val))
		} else {
			binary.LittleEndian.PutUint64(m[field:], val)
		}
		h := fnv.New64a()
		h.Write(m[:metaChecksumFrom])
		binary.LittleEndian.PutUint64(m[metaChecksumFrom:], h.Sum64())
	}
	return b
}

// TestAMetaPageWithAValidChecksumButImpossibleValuesIsAnError: bbolt
// trusts a meta page whose checksum holds; none of these values may make
// it panic, fault or hang.
func TestAMetaPageWithAValidChecksumButImpossibleValuesIsAnError(t *testing.T) {
	valid := validFile(t)
	ps := os.Getpagesize()
	for name, field := range map[string]int{"page size": 8, "root page": 16, "freelist page": 32, "high water mark": 40} {
		for _, v := range []uint64{0, 1, 3, 1 << 20, 1 << 40, ^uint64(0) - 1} {
			path := filepath.Join(t.TempDir(), FileName)
			os.WriteFile(path, setMeta(append([]byte(nil), valid...), ps, field, v), 0o600)
			done := make(chan error, 1)
			go func() { done <- useDamaged(t, path) }()
			select {
			case err := <-done:
				if err == nil || !strings.Contains(err.Error(), path) {
					t.Errorf("%s %d: %v", name, v, err)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("%s %d: opening the file hung", name, v)
			}
		}
	}
}

// TestPagesDamagedUnderAnOpenStoreAreErrorsNotPanics: preflight vouches
// for the file at Open only; what goes bad later (a disk, another
// program) reaches bbolt, whose panics every method turns into errors.
func TestPagesDamagedUnderAnOpenStoreAreErrorsNotPanics(t *testing.T) {
	valid := validFile(t)
	ps := os.Getpagesize()
	_, _, pages := meta(valid, ps)
	path := filepath.Join(t.TempDir(), FileName)
	os.WriteFile(path, valid, 0o600)
	s, err := Open(path, Options{NoSync: true, Link: &LinkIdentity{Kind: "sim", TargetAppDBID: 120}})
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	for p := uint64(2); p < pages+2; p++ { // Open's own commit wrote two more
		f.WriteAt(garbage(p, ps), int64(p)*int64(ps))
	}
	f.Close()
	calls := map[string]func() error{
		"AllProgress": func() error { _, err := s.AllProgress(); return err },
		"OpenIntents": func() error { _, err := s.OpenIntents(); return err },
		"DNCEntries":  func() error { _, err := s.DNCEntries(); return err },
		"History":     func() error { _, err := s.History("sequence-01", time.Time{}, time.Time{}, 0); return err },
		"Append":      func() error { return s.Append(Event{Sequence: "sequence-01", At: time.Now(), Message: "m"}) },
		"PutProgress": func() error { return s.PutProgress(Progress{Sequence: "sequence-01"}) },
	}
	for _, name := range []string{"PutProgress", "AllProgress", "OpenIntents", "DNCEntries", "History", "Append"} {
		done := make(chan error, 1)
		go func() { done <- calls[name]() }()
		select {
		case err := <-done:
			if !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), path) {
				t.Errorf("%s: %v", name, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s hung", name)
		}
	}
	// A panicked write may hold bbolt's writer lock: Close must not wait
	// for it for ever.
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Error("Close hung")
	}
}
