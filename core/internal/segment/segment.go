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
	// TailOff is where the items stop once WriteOff passed the segment
	// size: stored by the one writer whose reservation straddled the end
	// (after it marked the end), 0 until then. The cache fills the tail
	// after it with smaller items (see core's tail).
	TailOff atomic.Uint32
	acct    atomic.Uint64 // pins, live items, live bytes: see the acct constants
	_       [64 - 16]byte
}

// acct packs three counters into one word, so that a writer takes its pin
// and counts the item it is about to write in one atomic add, and gives
// the pin back and uncounts an item it unlinked in another: two locked
// instructions fewer on a set that overwrites a key in another segment.
// Each field is never negative (items are counted before they are
// published and uncounted after they are unlinked; a pin is taken before
// it is given back), so adding a combined signed delta gives each field
// its own sum, as long as each fits its width:
//   - bytes, bits 0-31: the live bytes, at most the segment size (8 MiB)
//     plus what writers racing past the end of a full segment count for a
//     moment;
//   - items, bits 32-51: at most 8 MiB / 16 bytes (the smallest item) =
//     2^19, plus the same racing writers;
//   - pins, bits 52-63: only writers holding a key stripe pin, at most two
//     segments each (a set pins the segment it writes and the one its old
//     item lives in), so at most twice the number of stripes (1,024):
//     2,048 of the 4,095 the field holds.
const (
	acctItemShift = 32
	acctPinShift  = 52
	acctOneItem   = 1 << acctItemShift
	acctOnePin    = 1 << acctPinShift
	acctBytesMask = acctOneItem - 1
	acctItemsMask = acctOnePin - acctOneItem
	// MaxPins is how many pins the field holds: more concurrent pinners
	// than this would carry into nothing and corrupt the count.
	MaxPins = 1<<(64-acctPinShift) - 1
)

// acctDelta is the word to add for a change of pins, items and bytes.
func acctDelta(pins, items, bytes int) uint64 {
	return uint64(int64(pins)<<acctPinShift + int64(items)<<acctItemShift + int64(bytes))
}

func acctFields(v uint64) (pins, items, bytes int32) {
	return int32(v >> acctPinShift), int32(v & acctItemsMask >> acctItemShift), int32(v & acctBytesMask)
}

// AddLive adds to the live item and byte counts in one atomic operation
// (a set changes both; one read-modify-write instead of two matters on
// the write path). Neither count is ever taken below zero: items are
// counted before they are published.
func (h *Header) AddLive(items, bytes int) { h.acct.Add(acctDelta(0, items, bytes)) }

// Live returns the live item and byte counts.
func (h *Header) Live() (items, bytes int32) {
	_, items, bytes = acctFields(h.acct.Load())
	return items, bytes
}

// Pins returns how many pins are held.
func (h *Header) Pins() int32 {
	pins, _, _ := acctFields(h.acct.Load())
	return pins
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
	return h.PinCounting(allowed, gen, 0, 0)
}

// PinCounting is Pin that also counts items and bytes live in the same
// atomic add: a writer counts the item it will write when it pins the
// segment to reserve its space, before it publishes the item. If the pin
// fails it takes both back; a drain may meanwhile see the count, as it
// sees the pin (see Recycle).
func (h *Header) PinCounting(allowed uint32, gen uint32, items, bytes int) bool {
	h.acct.Add(acctDelta(1, items, bytes))
	if allowed&(1<<h.state.Load()) != 0 && h.Gen.Load()&(1<<GenBits-1) == gen {
		return true
	}
	h.acct.Add(acctDelta(-1, -items, -bytes))
	return false
}

// Unpin releases a pin.
func (h *Header) Unpin() { h.acct.Add(acctDelta(-1, 0, 0)) }

// UnpinCounting releases a pin and adds items and bytes to the live
// counts in the same atomic add: an unlinker uncounts the item it
// unlinked, a writer uncounts the item it failed to publish.
func (h *Header) UnpinCounting(items, bytes int) { h.acct.Add(acctDelta(-1, items, bytes)) }

// WaitUnpinned spins until no pin is held. Pin holders never block while
// pinned, so the wait is short; yielding keeps it from starving them on an
// oversubscribed machine.
func (h *Header) WaitUnpinned() {
	for i := 0; h.Pins() != 0; i++ {
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

	mu    sync.Mutex
	free  []int32      // stack of free ids
	nfree atomic.Int32 // len(free), read without mu
}

// NewTable makes n headers, all Free, generation 1.
func NewTable(n, size int) *Table {
	t := &Table{Headers: lineAligned(n), Size: size, free: make([]int32, 0, n)}
	for i := n - 1; i >= 0; i-- {
		t.Headers[i].Gen.Store(1)
		t.free = append(t.free, int32(i))
	}
	t.nfree.Store(int32(n))
	return t
}

// FreeCount returns the number of free segments (without the lock, so a
// writer deciding where to write can read it).
func (t *Table) FreeCount() int { return int(t.nfree.Load()) }

// Take pops a free segment if more than keep are free, else returns -1.
func (t *Table) Take(keep int) int32 {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.free) <= keep {
		return -1
	}
	id := t.free[len(t.free)-1]
	t.free = t.free[:len(t.free)-1]
	t.nfree.Store(int32(len(t.free)))
	return id
}

// Recycle bumps a drained segment's generation, which invalidates every
// location and every in-flight read into it, resets its header and puts it
// on the free list. The caller owns the segment (Draining, unpinned).
//
// It returns the live counts it found, which a drain that accounted for
// every item expects to be zero. It zeroes them only once no pin is held:
// a writer that pinned the segment after the drain claimed it (it had read
// the segment's id before) counted its item in the same add and is about
// to take pin and count back; zeroing under it would make that take-back
// underflow into the pins.
func (t *Table) Recycle(id int32) (items, bytes int32) {
	h := &t.Headers[id]
	h.Gen.Add(1)
	h.WriteOff.Store(0)
	for i := 0; ; i++ {
		v := h.acct.Load()
		pins, n, b := acctFields(v)
		if pins == 0 && h.acct.CompareAndSwap(v, 0) {
			items, bytes = n, b
			break
		}
		if i > 16 {
			runtime.Gosched()
		}
	}
	h.Expire.Store(0)
	h.NeedUntil.Store(0)
	h.SetState(Free)
	t.mu.Lock()
	t.free = append(t.free, id)
	t.nfree.Store(int32(len(t.free)))
	t.mu.Unlock()
	return items, bytes
}

// Init prepares a segment taken from the free list.
func (t *Table) Init(id int32, state State, bucket, pool int32, seq, expire, needUntil, seal int64) {
	h := &t.Headers[id]
	h.WriteOff.Store(0)
	h.TailOff.Store(0)
	// The live counts are zero: Recycle zeroed them, and a writer that
	// pinned the segment since (it had read its id before) takes back what
	// it counted.
	h.Bucket.Store(bucket)
	h.Pool.Store(pool)
	h.Seq.Store(seq)
	h.Expire.Store(expire)
	h.NeedUntil.Store(needUntil)
	h.Seal.Store(seal)
	h.SetState(state)
}
