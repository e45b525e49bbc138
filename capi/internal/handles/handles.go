package handles

import (
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"
)

const (
	chunkBits = 10
	chunkSize = 1 << chunkBits // slots per chunk
	maxChunks = 1 << 8         // chunks; MaxHandles = 262144 open at once
	// MaxHandles is how many values a Table holds at once.
	MaxHandles = chunkSize * maxChunks
)

// ErrFull is returned by Insert when MaxHandles values are already held.
var ErrFull = errors.New("handles: table full")

// entry is immutable once published: a slot's value changes by swapping the
// entry pointer, so a reader sees a generation and value that belong together.
type entry[T any] struct {
	gen uint32
	val T
}

type slot[T any] struct {
	e       atomic.Pointer[entry[T]]
	lastGen uint32 // generation of the last entry; guarded by Table.mu
}

// Table maps handles to values of type T. The zero value is ready to use.
// All methods are safe for concurrent use.
type Table[T any] struct {
	// Chunks are allocated on demand and never freed or moved, so a lookup
	// can index them without a lock.
	chunks [maxChunks]atomic.Pointer[[chunkSize]slot[T]]

	mu    sync.Mutex
	free  []uint32 // FIFO of free slot indexes
	next  uint32   // slots [0, next) have been handed out at least once
	count int
}

// Insert stores v and returns its handle (never 0).
func (t *Table[T]) Insert(v T) (uint64, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	var idx uint32
	switch {
	case len(t.free) > 0:
		idx = t.free[0]
		t.free = t.free[1:]
	case t.next < MaxHandles:
		idx = t.next
		c := idx >> chunkBits
		if t.chunks[c].Load() == nil {
			t.chunks[c].Store(new([chunkSize]slot[T]))
		}
		t.next++
	default:
		return 0, ErrFull
	}
	s := t.slot(idx)
	gen := s.lastGen
	for gen == 0 || gen == s.lastGen {
		gen = rand.Uint32()
	}
	s.lastGen = gen
	s.e.Store(&entry[T]{gen: gen, val: v})
	t.count++
	return uint64(gen)<<32 | uint64(idx), nil
}

func (t *Table[T]) slot(idx uint32) *slot[T] {
	c := t.chunks[idx>>chunkBits].Load()
	if c == nil {
		return nil
	}
	return &c[idx&(chunkSize-1)]
}

// find returns handle h's slot and its current entry, if h names a live
// value: an index within the table and the entry's generation.
func (t *Table[T]) find(h uint64) (*slot[T], *entry[T], bool) {
	idx := uint32(h)
	if idx >= MaxHandles {
		return nil, nil, false
	}
	s := t.slot(idx)
	if s == nil {
		return nil, nil, false
	}
	e := s.e.Load()
	if e == nil || e.gen != uint32(h>>32) {
		return nil, nil, false
	}
	return s, e, true
}

// Get returns the value of handle h, or false if h names no live value.
func (t *Table[T]) Get(h uint64) (T, bool) {
	if _, e, ok := t.find(h); ok {
		return e.val, true
	}
	var zero T
	return zero, false
}

// Remove takes handle h out of the table and returns its value. Exactly one
// of several concurrent Removes of the same handle succeeds; the others, and
// every later Get, fail.
func (t *Table[T]) Remove(h uint64) (T, bool) {
	s, e, ok := t.find(h)
	if !ok || !s.e.CompareAndSwap(e, nil) {
		var zero T
		return zero, false
	}
	idx := uint32(h)
	t.mu.Lock()
	t.free = append(t.free, idx)
	t.count--
	t.mu.Unlock()
	return e.val, true
}

// Len returns how many values the table holds.
func (t *Table[T]) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.count
}
