package core

import (
	"sync/atomic"

	"github.com/segcache/segcache/core/internal/item"
	"github.com/segcache/segcache/core/internal/segment"
	"github.com/segcache/segcache/core/internal/ttl"
)

// A segment's tail is the space a write could not use: a write reserves
// its bytes with an atomic add on the segment's write offset, and the one
// whose item does not fit in what is left takes the segment past its end,
// so the bytes between the last item and the end go unused. With items of
// a few hundred bytes in segments of a few KiB that was 6-9% of the heap.
//
// So a segment filled past its end is not sealed at once: its bucket
// keeps it, open, as the bucket's tail (one per pool), and a write whose
// item fits in what is left goes there instead of the open segment. The
// tail is written under tailMu, not by the add (the write offset stays
// past the end, so the add's writers never get bytes there); each write
// marks the new end of the items before it publishes the tail's smaller
// room, so a drain's walk stops after the last item. A bucket keeps one
// tail: the next segment its writes fill replaces it, and the old one is
// sealed then, so a tail stays open for one segment's worth of writes,
// and the order of segments by age barely changes.
//
// S3-FIFO's promotions, which copy items into a destination segment under
// evictMu, keep the destination an item did not fit in the same way, as
// the bucket's promotion tail (promoDest).

// tailShare bounds the segments held open for their tails: a bucket keeps
// a tail only while the open segments and promotion destinations,
// tails included, are fewer than 1/tailShare of the cache's segments.
// Tails are for caches with many segments for the buckets they use; in one
// of 16 segments with a TTL bucket per item (TestManyTTLsSteadyState), every
// segment kept for a tail was one less sealed and full.
const tailShare = 8

// mayKeepTail reports whether a bucket may keep a segment open for its
// tail (see tailShare), counting one open segment less if replacing is
// set: the caller seals the bucket's current tail in its place. The
// caller holds evictMu.
func (c *Cache) mayKeepTail(replacing bool) bool {
	e := &c.ev
	n := int(e.openSegs.Load()) + len(e.promo) + len(e.promoTail)
	if replacing {
		n--
	}
	return n < c.nseg/tailShare
}

// tailTable holds the tails by bucket and pool, direct-mapped: a cache
// writes to a few TTL buckets at a time, and a slot per bucket and pool
// (2,432 of them) would have added 19 KiB to every cache's fixed memory. A
// slot names the bucket and pool whose tail it holds; a bucket whose slot
// holds another's has no tail, and keepTail may take the slot over
// (sealing the other's tail, which then only loses its room early).
type tailTable [tailSlots]atomic.Uint64

const tailSlots = 64

// A tail word packs, from the top: the bucket and pool (2b + pool, below
// 2 x ttl.Count), the segment id + 1 (at most MaxSegments), and the bytes
// left at its end (less than a segment, at most 8 MiB). 0: none.
const (
	tailRoomBits = 24
	tailIDBits   = 18
	tailKeyShift = tailRoomBits + tailIDBits
)

// The fields fit their bits (this fails to compile otherwise).
var (
	_ [1<<tailIDBits - 1 - MaxSegments]struct{}
	_ [1<<tailRoomBits - MaxSegmentBytes]struct{}
	_ [1<<(64-tailKeyShift) - 2*ttl.Count]struct{}
)

// tailKey is the key of bucket b's pool in a tail word.
func tailKey(b int, pool int32) uint64 { return uint64(2*b + int(pool)) }

// slot is the slot of bucket b's pool.
func (t *tailTable) slot(b int, pool int32) *atomic.Uint64 {
	return &t[tailKey(b, pool)&(tailSlots-1)]
}

// packTail packs the tail of bucket b's pool: segment id with room bytes
// left at its end.
func packTail(b int, pool int32, id int32, room int) uint64 {
	return tailKey(b, pool)<<tailKeyShift | uint64(id+1)<<tailRoomBits | uint64(room)
}

// ownTail reports whether tail word v is a tail of bucket b's pool.
func ownTail(v uint64, b int, pool int32) bool {
	return v != 0 && v>>tailKeyShift == tailKey(b, pool)
}

// tailOf returns the room of tail word v if it is bucket b's pool's (0 if
// not, or if none).
func tailOf(v uint64, b int, pool int32) int {
	if !ownTail(v, b, pool) {
		return 0
	}
	return int(v & (1<<tailRoomBits - 1))
}

func tailID(v uint64) int32 { return int32(v>>tailRoomBits&(1<<tailIDBits-1)) - 1 }

// minTail is the least room worth keeping a segment open for: 64 bytes
// (a small item) up to segments of 4 KiB, a sixty-fourth of larger ones,
// whose tails are a small share of them. A segment of items of one size
// ends with room for less than one, so caches of such items (the
// benchmarks' 88-byte items in segments of 1 MiB) keep no tail at all.
func (c *Cache) minTail() int { return max(64, c.segSize/64) }

// keepTail makes observed, the open segment of bucket b and pool that a
// write just filled past its end, the bucket's tail if the room at its
// end is worth it, and seals the tail before it either way: a tail is kept
// for one segment's worth of the bucket's writes, so a segment whose tail
// no later item fits (items of one size) is not held open, out of the
// eviction order, for longer. It reports whether observed stays open as
// the tail. The caller holds evictMu.
func (c *Cache) keepTail(b int, pool int32, observed int32) bool {
	h := &c.segs.Headers[observed]
	off := int(h.TailOff.Load())
	t := c.tails.slot(b, pool)
	own := ownTail(t.Load(), b, pool)
	keep := off != 0 && c.segSize-off >= c.minTail() && h.State() == segment.Open && !writesStopped(h) && c.mayKeepTail(own)
	next := uint64(0)
	if keep {
		next = packTail(b, pool, observed, c.segSize-off)
	}
	if next == 0 && !own {
		// No tail of this bucket's to seal (only this function names
		// one, under evictMu), and none to keep: items of one size end
		// here every time.
		return false
	}
	c.tailMu.Lock()
	old := t.Swap(next)
	c.tailMu.Unlock()
	if old != 0 {
		// Open: a segment leaves the table as it leaves that state
		// (seal and claim untail it).
		c.sealOpen(tailID(old))
	}
	return keep
}

// untail takes segment id off its bucket's tail, if it is one: it is
// leaving the open state. The caller holds evictMu.
func (c *Cache) untail(id int32) {
	h := &c.segs.Headers[id]
	t := c.tails.slot(int(h.Bucket.Load()), h.Pool.Load())
	if v := t.Load(); v == 0 || tailID(v) != id {
		return // and cannot become id: only keepTail, under evictMu, names a tail
	}
	c.tailMu.Lock()
	if v := t.Load(); v != 0 && tailID(v) == id {
		t.Store(0)
	}
	c.tailMu.Unlock()
}

// reserveTail reserves size bytes at the end of bucket b's tail in pool,
// pinned and counted as reserve's are, if they fit there.
func (c *Cache) reserveTail(b int, pool int32, size int) (id int32, off int, gen uint32, ok bool) {
	t := c.tails.slot(b, pool)
	c.tailMu.Lock()
	defer c.tailMu.Unlock()
	v := t.Load()
	room := tailOf(v, b, pool)
	if size > room {
		return -1, 0, 0, false
	}
	id = tailID(v)
	hdr := &c.segs.Headers[id]
	gen = hdr.Gen.Load()
	if !hdr.PinCounting(1<<segment.Open, gen&(1<<segment.GenBits-1), 1, size) {
		c.noteUnlinked(id, hdr)
		return -1, 0, 0, false
	}
	if hdr.Bucket.Load() != int32(b) || hdr.Pool.Load() != pool || writesStopped(hdr) {
		hdr.UnpinCounting(-1, -size)
		c.noteUnlinked(id, hdr)
		return -1, 0, 0, false
	}
	off = c.segSize - room
	if end := off + size; end+item.HeaderSize <= c.segSize {
		clear(c.segBytes(id)[end : end+item.HeaderSize])
	}
	t.Store(packTail(b, pool, id, room-size))
	return id, off, gen, true
}
