package chunked

import (
	"slices"
	"testing"
)

func TestAListKeepsEveryItemInOrderAcrossItsChunks(t *testing.T) {
	var l List[int]
	var want []int
	for i := range 3*maxChunk + 5 {
		l.Add(i)
		want = append(want, i)
		if l.Len() != len(want) {
			t.Fatalf("Len %d after %d adds", l.Len(), len(want))
		}
	}
	if got := l.All(); !slices.Equal(got, want) {
		t.Fatalf("All differs from what was added (%d items, want %d)", len(got), len(want))
	}
	for _, c := range l.chunks {
		if cap(c) > maxChunk {
			t.Errorf("a chunk of %d, more than %d", cap(c), maxChunk)
		}
	}
}

func TestAllIsACopyTheCallerMayChange(t *testing.T) {
	var l List[int]
	l.Add(1)
	l.Add(2)
	got := l.All()
	got[0] = 99
	if again := l.All(); again[0] != 1 {
		t.Errorf("changing what All returned changed the list: %v", again)
	}
}

func TestAnEmptyListHasNothing(t *testing.T) {
	var l List[string]
	if l.Len() != 0 || len(l.All()) != 0 {
		t.Errorf("Len %d, All %v", l.Len(), l.All())
	}
}
