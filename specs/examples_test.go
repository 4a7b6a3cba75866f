package specs

import (
	"os"
	"path/filepath"
	"testing"
)

func TestEveryExampleValidatesWithoutErrors(t *testing.T) {
	ents, err := os.ReadDir("../examples")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range ents {
		if !IsSpecFile(e.Name()) {
			continue
		}
		n++
		path := filepath.Join("../examples", e.Name())
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		seqs, dncs, ps := ParseFile(path, data)
		for _, p := range ps {
			t.Errorf("%s", p)
		}
		if len(seqs)+len(dncs) == 0 {
			t.Errorf("%s: no documents", path)
		}
	}
	if n < 3 {
		t.Errorf("only %d example files", n)
	}
	snap := LoadDir("../examples")
	for _, p := range snap.Problems {
		t.Errorf("cross-file: %s", p)
	}
}
