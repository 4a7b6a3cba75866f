package specs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const haltDoc = "apiVersion: sequencer/v1\nkind: Halt\nmetadata: {name: regulator}\nspec:\n  reason: regulator call at 14:02\n"

func TestAHaltFileIsParsedWithItsReasonAndPosition(t *testing.T) {
	p := Parse("halt.yaml", []byte(haltDoc))
	if HasErrors(p.Problems) || len(p.Halts) != 1 {
		t.Fatalf("halts %+v problems %v", p.Halts, p.Problems)
	}
	h := p.Halts[0]
	if h.Name != "regulator" || h.Reason != "regulator call at 14:02" || h.Pos.String() != "halt.yaml:1:1" {
		t.Errorf("halt %+v at %s", h, h.Pos)
	}
}

func TestAHaltWithoutAReasonOrWithAnUnknownFieldIsAnErrorWithItsPosition(t *testing.T) {
	for doc, want := range map[string]string{
		"apiVersion: sequencer/v1\nkind: Halt\nmetadata: {name: x}\nspec: {}\n":                        "x.yaml:4:7: spec.reason: a Halt needs a reason",
		"apiVersion: sequencer/v1\nkind: Halt\nmetadata: {name: x}\nspec:\n  reason: r\n  raeson: r\n": "x.yaml:6:3: spec.raeson: unknown field",
	} {
		p := Parse("x.yaml", []byte(doc))
		if len(p.Halts) != 0 || !HasErrors(p.Problems) || !strings.HasPrefix(p.Problems[0].String(), want) {
			t.Errorf("%q: halts %d problems %v, want %q", doc, len(p.Halts), p.Problems, want)
		}
	}
}

func TestATypoInAHaltFileNeverLiftsTheHalt(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "halt.yaml")
	os.WriteFile(path, []byte(haltDoc), 0o644)
	l := newLoader(LoadOptions{})
	if s := l.load(false, dir); s.Halts["regulator"] == nil {
		t.Fatalf("halt not in the snapshot: %+v", s.Halts)
	}
	os.WriteFile(path, []byte(strings.Replace(haltDoc, "reason:", "reason", 1)), 0o644)
	future := time.Now().Add(time.Hour)
	os.Chtimes(path, future, future)
	s := l.load(false, dir)
	if !HasErrors(s.Problems) {
		t.Fatal("the broken halt file was accepted")
	}
	if s.Halts["regulator"] == nil {
		t.Error("a typo lifted the halt: want the last good version kept")
	}
	os.Remove(path)
	if s := l.load(false, dir); len(s.Halts) != 0 {
		t.Errorf("deleting the file did not lift the halt: %+v", s.Halts)
	}
}
