// Package chunked is an append-only list kept in chunks that never move:
// appending to one slice copies everything it holds at each growth, which
// for a list that takes tens of thousands of large records in a burst
// (pending history, a simulator's transcript) is most of the cost of
// keeping it.
package chunked

// A list's first chunk holds firstChunk items, and each next one twice
// the last, up to maxChunk: a list that holds a handful costs little.
const (
	firstChunk = 8
	maxChunk   = 4096
)

// List is an append-only list; the zero List is empty and ready.
type List[T any] struct {
	chunks [][]T
	n      int
}

// Add appends v.
func (l *List[T]) Add(v T) {
	k := len(l.chunks)
	if k == 0 || len(l.chunks[k-1]) == cap(l.chunks[k-1]) {
		size := firstChunk
		if k > 0 {
			size = min(2*cap(l.chunks[k-1]), maxChunk)
		}
		l.chunks = append(l.chunks, make([]T, 0, size))
		k++
	}
	l.chunks[k-1] = append(l.chunks[k-1], v)
	l.n++
}

// Len is the number of items.
func (l *List[T]) Len() int { return l.n }

// All returns a copy of every item, in order.
func (l *List[T]) All() []T {
	out := make([]T, 0, l.n)
	for _, c := range l.chunks {
		out = append(out, c...)
	}
	return out
}
