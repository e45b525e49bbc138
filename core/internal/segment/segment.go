package segment

import (
	"runtime"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/segcache/segcache/core/internal/tagscan"
)

// State of a segment.
type State = uint32

const (
	Free State = iota
	Open
	Sealed
	Draining
	Relocating
)

// Pools used by S3-FIFO; other policies use PoolMain only.
const (
	PoolMain      = 0
	PoolAdmission = 1
)

// GenBits is how many low bits of the generation a location carries.
const GenBits = 6

// Header is one segment's metadata. Every field is atomic: readers,
// writers and the evictor touch headers concurrently.
//
// It spans two cache lines. The first holds what readers load on every
// lookup (the generation, the expiry) and what changes only when the
// segment changes state; the second holds what every write into or out of
// the segment changes (write offset, pins, live counts). So writers of a
// hot segment do not take the readers' line away from other cores. The
// header array starts on a cache line (see NewTable).
type Header struct {
	// Read-mostly.
	Gen       atomic.Uint32 // bumped when the segment is recycled
	state     atomic.Uint32
	Bucket    atomic.Int32 // TTL bucket
	Pool      atomic.Int32
	Seq       atomic.Int64 // opening stamp (logical time); a merge destination takes its first source's
	Expire    atomic.Int64 // ms; 0 = never
	NeedUntil atomic.Int64 // ms; the latest promise of any item in it
	Seal      atomic.Int64 // ms; writes stop by then (Open segments)
	_         [64 - 48]byte

	// Written by every write.
	WriteOff atomic.Uint32 // bytes reserved; may pass the segment size on overflow
	Pins     atomic.Int32
	live     atomic.Int64 // items linked from the hashtable << 32 | their bytes
	_        [64 - 16]byte
}

// AddLive adds to the live item and byte counts in one atomic operation
// (a set changes both; one read-modify-write instead of two matters on
// the write path). Neither count is ever taken below zero: items are
// counted before they are published.
func (h *Header) AddLive(items, bytes int) { h.live.Add(int64(items)<<32 + int64(bytes)) }

// Live returns the live item and byte counts.
func (h *Header) Live() (items, bytes int32) {
	v := h.live.Load()
	return int32(v >> 32), int32(uint32(v))
}

// Prefetch starts loading both lines of the header: a scan of many
// headers in a large heap issues these first, so that their misses overlap
// instead of coming one after another. The addresses are computed without
// dereferencing h (h.WriteOff would be: Go's nil check of h is a real load,
// which would wait for the very miss the prefetch is meant to overlap).
func (h *Header) Prefetch() {
	p := unsafe.Pointer(h)
	tagscan.Prefetch(p)
	tagscan.Prefetch(unsafe.Add(p, unsafe.Offsetof(h.WriteOff)))
}

// LiveBytes returns the live byte count.
func (h *Header) LiveBytes() int32 { _, b := h.Live(); return b }

// State returns the segment's state.
func (h *Header) State() State { return h.state.Load() }

// SetState sets the state unconditionally (the caller owns the segment).
func (h *Header) SetState(s State) { h.state.Store(s) }

// Transition moves the state from old to new; false if it was not old.
func (h *Header) Transition(old, new State) bool { return h.state.CompareAndSwap(old, new) }

// Pin pins the segment for a writer or in-place updater if it is in one of
// the states the mask allows (bit 1<<state) and at generation gen (low
// GenBits compared when full is false). It returns false, unpinned, otherwise.
func (h *Header) Pin(allowed uint32, gen uint32) bool {
	h.Pins.Add(1)
	if allowed&(1<<h.state.Load()) != 0 && h.Gen.Load()&(1<<GenBits-1) == gen {
		return true
	}
	h.Pins.Add(-1)
	return false
}

// Unpin releases a pin.
func (h *Header) Unpin() { h.Pins.Add(-1) }

// WaitUnpinned spins until no pin is held. Pin holders never block while
// pinned, so the wait is short; yielding keeps it from starving them on an
// oversubscribed machine.
func (h *Header) WaitUnpinned() {
	for i := 0; h.Pins.Load() != 0; i++ {
		if i > 16 {
			runtime.Gosched()
		}
	}
}

// lineAligned returns n zero headers starting on a cache line, so that
// each of a header's two lines is a whole line. The allocator already
// aligns most sizes so; one spare header makes it certain.
func lineAligned(n int) []Header {
	buf := make([]Header, n+1)
	p := unsafe.Pointer(unsafe.SliceData(buf))
	skip := (64 - uintptr(p)%64) % 64
	return unsafe.Slice((*Header)(unsafe.Add(p, skip)), n)
}

// Table is the header array and the free list.
type Table struct {
	Headers []Header
	Size    int // bytes per segment

	mu   sync.Mutex
	free []int32 // stack of free ids
}

// NewTable makes n headers, all Free, generation 1.
func NewTable(n, size int) *Table {
	t := &Table{Headers: lineAligned(n), Size: size, free: make([]int32, 0, n)}
	for i := n - 1; i >= 0; i-- {
		t.Headers[i].Gen.Store(1)
		t.free = append(t.free, int32(i))
	}
	return t
}

// FreeCount returns the number of free segments.
func (t *Table) FreeCount() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.free)
}

// Take pops a free segment if more than keep are free, else returns -1.
func (t *Table) Take(keep int) int32 {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.free) <= keep {
		return -1
	}
	id := t.free[len(t.free)-1]
	t.free = t.free[:len(t.free)-1]
	return id
}

// Recycle bumps a drained segment's generation, which invalidates every
// location and every in-flight read into it, resets its header and puts it
// on the free list. The caller owns the segment (Draining, unpinned).
func (t *Table) Recycle(id int32) {
	h := &t.Headers[id]
	h.Gen.Add(1)
	h.WriteOff.Store(0)
	h.live.Store(0)
	h.Expire.Store(0)
	h.NeedUntil.Store(0)
	h.SetState(Free)
	t.mu.Lock()
	t.free = append(t.free, id)
	t.mu.Unlock()
}

// Init prepares a segment taken from the free list.
func (t *Table) Init(id int32, state State, bucket, pool int32, seq, expire, needUntil, seal int64) {
	h := &t.Headers[id]
	h.WriteOff.Store(0)
	h.live.Store(0)
	h.Bucket.Store(bucket)
	h.Pool.Store(pool)
	h.Seq.Store(seq)
	h.Expire.Store(expire)
	h.NeedUntil.Store(needUntil)
	h.Seal.Store(seal)
	h.SetState(state)
}
