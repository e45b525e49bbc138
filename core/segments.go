package core

import (
	"sync/atomic"
	"unsafe"

	"github.com/segcache/segcache/core/internal/clock"
	"github.com/segcache/segcache/core/internal/hashtable"
	"github.com/segcache/segcache/core/internal/item"
	"github.com/segcache/segcache/core/internal/segment"
	"github.com/segcache/segcache/core/internal/ttl"
)

// reserve finds room for size bytes in the open segment of TTL bucket b
// and pool, opening a new segment when the current one is full or too old.
// It returns the segment pinned and the item already counted in its live
// counts: the caller writes the item, publishes it and unpins, or
// uncounts it as it unpins if it gives the reservation up. The space is
// taken with an atomic add on the write offset, so writers into one
// segment never wait for each other.
func (c *Cache) reserve(b int, pool int32, lane uint64, size int) (id int32, off int, gen uint32, err error) {
	// The bucket's tail first, if the item fits there (see tail): one
	// load from a line that only a segment's end and a tail's writes
	// change, and no tail in a cache of items of one size.
	if size <= tailOf(c.tails.slot(b, pool).Load(), b, pool) {
		if id, off, gen, ok := c.reserveTail(b, pool, size); ok {
			return id, off, gen, nil
		}
	}
	l := lane & c.laneMask.Load()
	open := &c.buckets[b].open[pool][l]
	own := b // the write's own bucket; b may be a shorter one (ttlShare)
	for {
		id = open.Load()
		if id < 0 && l != 0 && !c.mayOpenLane() {
			// No segment in this lane, and the open segments already
			// take the lanes' share of the cache: write where a single
			// writer would (checked here without the lock, so that such
			// sets do not all take evictMu).
			l, open = 0, &c.buckets[b].open[pool][0]
			continue
		}
		if id < 0 && l == 0 {
			if b != own {
				// The shorter bucket this write was sent to has no
				// segment any more: decide again from the write's own
				// bucket, rather than open the shorter one's for it.
				b, open = own, &c.buckets[own].open[pool][0]
				continue
			}
			// No segment in this bucket: with the open segments at their
			// share, write into the shorter bucket openSegment chose (see
			// ttlShare), found here without the lock.
			if nb := c.redirected(b, pool); nb != b {
				b, open = nb, &c.buckets[nb].open[pool][0]
				continue
			}
		}
		if id >= 0 {
			hdr := &c.segs.Headers[id]
			gen = hdr.Gen.Load()
			// Pin and count the item in one add (see segment.Header's
			// acct): whoever unlinks it once it is published never takes
			// the count below zero.
			if hdr.PinCounting(1<<segment.Open, gen&(1<<segment.GenBits-1), 1, size) {
				if hdr.Bucket.Load() != int32(b) || hdr.Pool.Load() != pool {
					// The segment was recycled and opened for another
					// bucket or pool between the load of its id and that
					// of its generation: its expiry is not this item's
					// (it may be later, or never). Pinned, it keeps
					// this incarnation (Init stores the bucket before
					// it opens), and open no longer holds it.
					hdr.UnpinCounting(-1, -size)
					c.noteUnlinked(id, hdr)
					continue
				}
				if c.laneMask.Load() == 0 && c.nseg >= lanesOnCollision && hdr.Pins() > 1 {
					// Another writer holds this segment now: writers
					// collide, so every lane opens (see lanes). A writer
					// holds one pin when it reserves, so a single
					// writer never gets here. Stored once: the mask
					// shares its line with fields every lookup reads.
					c.laneMask.Store(lanes - 1)
				}
				// writesStopped, written out: the function is
				// over the inliner's budget (clock.Now), and every
				// set passes here.
				if seal := hdr.Seal.Load(); seal == 0 || !clock.Reached(seal) {
					end := int(hdr.WriteOff.Add(uint32(size)))
					off = end - size
					if end <= c.segSize {
						return id, off, gen, nil
					}
					// The first writer past the end marks where the
					// items stop (the bytes after are an old
					// incarnation's), unless no header fits there.
					if off+item.HeaderSize <= c.segSize {
						clear(c.segBytes(id)[off : off+item.HeaderSize])
						// Published after the mark: whoever fills
						// the tail writes after it (see tail).
						hdr.TailOff.Store(uint32(off))
					}
				}
				hdr.UnpinCounting(-1, -size)
			}
			// The item was counted for a moment, by a pin that failed
			// (the segment was sealed or recycled since we read its id)
			// or by a reservation given up. A sealer that saw that count
			// did not queue the segment as empty (seal); whoever takes
			// the last such count back does (noteUnlinked), or, under
			// PolicyNone, an emptied segment's space would never come
			// back.
			c.noteUnlinked(id, hdr)
		}
		nb, opened, err := c.openSegment(b, pool, open, id, l != 0)
		if err != nil {
			return -1, 0, 0, err
		}
		if nb != b || !opened {
			b, l, open = nb, 0, &c.buckets[nb].open[pool][0]
		}
	}
}

// writesStopped reports whether an open segment's writes must have
// stopped: its seal time passed, after which an item written there would
// expire before its TTL's promise (reserve has it written out).
func writesStopped(h *segment.Header) bool {
	seal := h.Seal.Load()
	return seal != 0 && clock.Reached(seal)
}

// prefetchReserve starts loading the bytes the next write into the main
// pool's open segment for bucket b and lane is likely to land on, so that
// their cache miss overlaps the lookup of the key's old entry instead of
// stalling the publish (an item is written to memory no one has touched
// for a whole cycle of the heap). A guess: another writer may get there
// first, and S3-FIFO may write to the admission pool.
func (c *Cache) prefetchReserve(b int, lane uint64, size int) {
	id := c.buckets[b].open[segment.PoolMain][lane&c.laneMask.Load()].Load()
	if id < 0 {
		return
	}
	off := int(c.segs.Headers[id].WriteOff.Load())
	if off+size <= c.segSize {
		seg := c.segBytes(id)
		hashtable.Prefetch(unsafe.Pointer(&seg[off]))
		hashtable.Prefetch(unsafe.Pointer(&seg[off+size-1]))
	}
}

// openSegment replaces the open segment of bucket b, pool and lane (open),
// which the caller saw as observed (-1: none), with a fresh one: it seals
// the old one and takes a free segment, expiring or evicting to make one.
// For a lane other than the first (extra), it only seals: it opens nothing
// and returns false if the open segments already take the lanes' share of
// the cache (mayOpenLane); the caller then writes to the first lane. For
// a bucket with no segment to replace, it may open nothing and return a
// shorter bucket to write into instead (see ttlShare). It returns the
// bucket the caller should write into.
func (c *Cache) openSegment(b int, pool int32, open *atomic.Int32, observed int32, extra bool) (int, bool, error) {
	c.evictMu.Lock()
	defer c.evictMu.Unlock()
	if c.closed.Load() {
		return b, false, ErrClosed
	}
	if c.ttlScarce(b) {
		// Expired open segments hold nothing a read returns, but count
		// as open until drained, which nothing does while segments are
		// free: sixteen keys with TTLs of 1 to 16 ms in a cache of 64
		// kept segments scarce, and every later item whose bucket had no
		// open segment expired within 16 ms.
		c.expireLocked()
	}
	if cur := open.Load(); cur != observed {
		return b, true, nil // another writer already did it
	}
	if observed >= 0 {
		// Sealed, unless the room at its end stays open as the
		// bucket's tail.
		if !c.keepTail(b, pool, observed) {
			if c.segs.Headers[observed].State() == segment.Open {
				c.ev.openSegs.Add(-1)
			}
			c.seal(observed, segment.Open)
		}
		open.CompareAndSwap(observed, -1)
	}
	if extra && !c.mayOpenLane() {
		return b, false, nil
	}
	// Under scarcity a bucket that replaces its full segment gives it up
	// too while the open segments are over their share (the seal above
	// counted), so their number comes back down after a fill that opened
	// many while memory was free.
	if !extra && c.ttlScarce(b) {
		if nb := c.shorterOpen(b, pool); nb > 0 {
			c.redirect[redirectIndex(b, pool)].Store(int32(nb))
			return nb, true, nil
		}
		// b opens as the shortest bucket with an open segment; the longest
		// gives its segment up, so the count stays, and its writes go to
		// the next shorter bucket.
		c.sealLongestOpen(b, pool)
	}
	id, err := c.allocLocked(c.keepFree)
	if err != nil {
		return b, false, err
	}
	// Expiry and sealing follow the real clock (the TTL contract); the
	// segment's age among the others is its opening stamp.
	p := ttl.PlanFor(b, clock.Now())
	c.segs.Init(id, segment.Open, int32(b), pool, c.ev.nextStamp(), p.Expire, p.NeedUntil, p.Seal)
	c.ev.openSegs.Add(1)
	c.list(id, segment.None)
	open.Store(id)
	return b, true, nil
}

// ttlShare bounds the segments that distinct TTLs keep open. Every TTL
// bucket written to holds an open segment, partly filled, until it fills
// or ages; items whose TTLs spread over more buckets than the cache has
// segments (1 minute to 1 day in whole seconds is 336 buckets) made every
// set that opened a bucket evict another bucket's open segment, and a
// default cache (64 segments) written 25 MB with such TTLs kept about 100
// items (TestManyTTLsFitWhatFits). So once 1/ttlShare of the segments are
// open and fewer than that are free, under an evicting policy, a bucket
// with no open segment opens none: its items go to the nearest shorter
// bucket that has one, and expire with it, earlier than their TTL, as if
// evicted, never later. While segments are free every bucket opens its
// own, and TTLs stay whole (TestFreeMemoryKeepsTTLsWhole). PolicyNone
// keeps TTLs whole always and answers ErrNoSpace instead. A bucket that
// replaces its full or aged segment keeps its place while the open
// segments are within their share, and gives it up to a shorter bucket
// beyond it, so that the count comes back to the share after a fill that
// opened many; a bucket that must open one (no shorter bucket has one)
// takes the place of the longest (sealLongestOpen). S3-FIFO's promotion
// destinations, one per bucket that promotes, count too and are shared
// the same way (sharedPromoDest, sealLongestPromo).
const ttlShare = 4

// ttlScarce reports whether a write into bucket b, which has no open
// segment, should go to a shorter bucket rather than open one.
func (c *Cache) ttlScarce(b int) bool {
	share := c.nseg / ttlShare
	return b != ttl.Never && c.policy != PolicyNone && int(c.ev.openSegs.Load()) >= share &&
		c.segs.FreeCount() < share
}

// redirectIndex is the index in Cache.redirect of bucket b's pool.
func redirectIndex(b int, pool int32) int { return 2*b + int(pool) }

// redirected returns the bucket a write into bucket b's pool goes to: a
// shorter one openSegment chose while segments were scarce, if it still
// has an open segment and they still are; else b.
func (c *Cache) redirected(b int, pool int32) int {
	if !c.ttlScarce(b) {
		return b
	}
	nb := int(c.redirect[redirectIndex(b, pool)].Load())
	if nb > 0 && nb < b && c.buckets[nb].open[pool][0].Load() >= 0 {
		return nb
	}
	return b
}

// sealLongestOpen seals the open segment of pool's first lane in the
// longest bucket above b that has one, if any. The caller holds evictMu.
func (c *Cache) sealLongestOpen(b int, pool int32) {
	for lb := ttl.Count - 1; lb > b; lb-- {
		open := &c.buckets[lb].open[pool][0]
		if id := open.Load(); id >= 0 {
			if c.segs.Headers[id].State() == segment.Open {
				c.ev.openSegs.Add(-1)
			}
			c.seal(id, segment.Open)
			open.CompareAndSwap(id, -1)
			return
		}
	}
}

// shorterOpen returns the nearest bucket below b, Never excluded (whose
// items would outlive their TTL), with an open segment in pool's first
// lane; 0 if none has one. The caller holds evictMu.
func (c *Cache) shorterOpen(b int, pool int32) int {
	for nb := b - 1; nb > ttl.Never; nb-- {
		if c.buckets[nb].open[pool][0].Load() >= 0 {
			return nb
		}
	}
	return 0
}

// laneShare bounds the segments that lanes keep open: a lane other than a
// bucket's first opens a segment only while fewer than 1/laneShare of the
// cache's segments are open. Every TTL bucket in use holds an open segment
// per lane and pool, partly filled and evicted last; unbounded, 4 lanes of
// 20 TTL buckets could keep 80 segments open in a cache of 64, and each
// segment opened then evicted another open one holding a few items (a
// default cache written by 4 goroutines kept 7 to 19% of what fitted; see
// TestLanesKeepItemsWithManyTTLs). A share of 1/8 still gives every lane
// of one bucket, in both pools, to a cache of 64 segments.
const laneShare = 8

// mayOpenLane reports whether a lane other than the first may open a
// segment (see laneShare).
func (c *Cache) mayOpenLane() bool {
	return int(c.ev.openSegs.Load()) < c.nseg/laneShare
}

// allocLocked takes a free segment, leaving keep free for relocation,
// reclaiming empty segments, expiring and then evicting until one is free.
func (c *Cache) allocLocked(keep int) (int32, error) {
	for attempt := 0; ; attempt++ {
		if id := c.segs.Take(keep); id >= 0 {
			return id, nil
		}
		if c.reclaimEmpty() > 0 || c.expireLocked() > 0 {
			continue
		}
		if attempt > 2*c.nseg+8 {
			return -1, ErrNoSpace
		}
		// After a few rounds that relocated without freeing enough,
		// drop whole segments: progress beats fidelity.
		if err := c.evictLocked(attempt > 4); err != nil {
			return -1, err
		}
	}
}

// claim moves a segment from Open, Sealed or Relocating to Draining, so
// that this goroutine owns it, and detaches it from its bucket, from the
// eviction order and from the promotion destinations. The caller holds
// evictMu.
func (c *Cache) claim(id int32) bool {
	hdr := &c.segs.Headers[id]
	st := hdr.State()
	if st != segment.Open && st != segment.Sealed && st != segment.Relocating {
		return false
	}
	if !hdr.Transition(st, segment.Draining) {
		return false
	}
	if st == segment.Open {
		c.ev.openSegs.Add(-1)
		c.untail(id)
	}
	c.ev.unlist(id)
	b := hdr.Bucket.Load()
	for l := range c.buckets[b].open[hdr.Pool.Load()] {
		c.buckets[b].open[hdr.Pool.Load()][l].CompareAndSwap(id, -1)
	}
	if st == segment.Relocating {
		c.ev.dropPromo(id)
	}
	hdr.WaitUnpinned()
	return true
}

// segmentAhead is how far ahead of the item it decodes a segment walk
// prefetches the segment's bytes.
const segmentAhead = 1024

// forEachItem calls fn for every item written into a claimed segment and
// not marked deleted.
func (c *Cache) forEachItem(id int32, fn func(off int, ih item.Header, data []byte)) {
	hdr := &c.segs.Headers[id]
	end := min(int(hdr.WriteOff.Load()), c.segSize)
	seg := c.segBytes(id)
	pf := 0 // the segment's lines before pf are prefetched
	for off := 0; off+item.HeaderSize <= end; {
		// Where the next item starts is in this item's header: the walk is
		// a chain of dependent loads through memory nobody touched for a
		// whole cycle of the heap. Prefetching the lines ahead keeps it
		// from waiting a memory latency per line.
		for ; drainPrefetch && pf < min(end, off+segmentAhead); pf += 64 {
			hashtable.Prefetch(unsafe.Pointer(&seg[pf]))
		}
		ih, ok := item.Decode(item.LoadHeader(seg[off:]))
		if !ok {
			return
		}
		size := ih.SizeOf()
		if off+size > end {
			return
		}
		if !ih.Deleted() {
			fn(off, ih, seg[off:off+size])
		}
		off += size
	}
}

// slotOf finds the slot that links the item at (id, off), whose key has
// hash h, or nil if the item is dead (overwritten, deleted or evicted).
func (c *Cache) slotOf(id int32, off int, h uint64) (*uint64, uint64) {
	var k hashtable.Key
	c.table().SetKey(&k, h)
	return k.Linking(hashtable.MakeLoc(id, c.segs.Headers[id].Gen.Load(), off))
}

// drainBatch is how many items of a segment a drain looks up together.
// Looking up an item's slot is a random memory access (two buckets) once
// the table outgrows the CPU caches. A drain hashes a batch of items and
// prefetches all their buckets before it looks up and unlinks the first,
// so the misses overlap: the batch waits about one memory latency instead
// of one per item. BenchmarkDrain (65,536 segments of 4 KiB, 88-byte
// items) measured per item: 8: 0.53, 16: 0.47, 64: 0.48 of the cost
// without prefetching.
const drainBatch = 16

// drainPrefetch turns the prefetch off for a benchmark that compares.
var drainPrefetch = true

// forEachLinked calls fn for every item of claimed segment id that a slot
// still links, in segment order, with that slot and its content. fn may
// change that slot (unlink, relocate) but no other item's.
func (c *Cache) forEachLinked(id int32, fn func(it liveItem)) {
	var batch [drainBatch]liveItem // hashed and prefetched, slots not yet looked up
	n := 0
	flush := func() {
		for i := range batch[:n] {
			if c.relook(id, &batch[i]) {
				fn(batch[i])
			}
		}
		n = 0
	}
	c.forEachItem(id, func(off int, ih item.Header, data []byte) {
		h := hashKey(data[item.HeaderSize : item.HeaderSize+ih.Klen])
		if drainPrefetch {
			c.table().PrefetchKey(h)
		}
		// Field by field: a composite literal is built on the stack and
		// copied out, and the copy's wide loads stalled on the narrow
		// stores just made (perf: half of this closure's samples). p and
		// s are set by relook before anything reads them.
		it := &batch[n]
		it.off, it.h, it.data = off, h, data
		if n++; n == drainBatch {
			flush()
		}
	})
	flush()
}

// liveItem is an item of a claimed segment that a slot links: the slot,
// what it held when the drain looked, and where the item is.
type liveItem struct {
	p    *uint64
	s    uint64
	off  int
	h    uint64
	data []byte
}

// relook finds the slot that links claimed segment id's item it, and
// reports whether one does (if not, it.p is nil: dropSlot and relocate
// then leave the item alone). A drain uses it to look the slot up first,
// and again after a transition on that slot failed. A failed transition means a writer replaced or
// deleted the key (the item is gone; the writer took it off the
// counters), or a displacement moved the entry to the key's other bucket
// (the item is still linked, from another slot). In the second case the
// drain must still unlink or move it: giving up would recycle the
// segment under a live link and leave its counters nonzero.
func (c *Cache) relook(id int32, it *liveItem) bool {
	it.p, it.s = c.slotOf(id, it.off, it.h)
	return it.p != nil
}

// drainCount counts the items a drain unlinked from its claimed segment (by
// dropping or relocating them), to take them off the segment's counters
// in one read-modify-write when it recycles the segment (recycle) instead
// of one per item: a locked instruction per item was 4% of an evicting
// set. Until then the counters of a segment being drained are high, never
// low, so no count goes below zero; nothing reads a claimed segment's
// counters but Stats, which is exact again once the drain returns.
// promoted counts the items it relocated, for Stats.PromotedItems, added
// at the same time for the same reason.
type drainCount struct{ items, bytes, promoted int }

func (u *drainCount) add(size int) { u.items++; u.bytes += size }

// dropSlot unlinks an item of claimed segment id, leaving a ghost (which
// keeps the frequency) if ghost is set, and counts it in u. It returns
// false if a writer got there first (and took the item off the counters
// itself).
func (c *Cache) dropSlot(id int32, it *liveItem, ghost bool, u *drainCount) bool {
	if it.p == nil { // a relook found it gone
		return false
	}
	change := hashtable.Unlink()
	if ghost {
		change = hashtable.Bury()
	}
	for !change.Apply(c.table(), it.p, it.s) {
		if !c.relook(id, it) {
			return false
		}
	}
	u.add(len(it.data))
	return true
}

type dropReason int

const (
	dropEvict dropReason = iota
	dropExpire
	dropClear
	dropEmpty // reclaiming a segment with no live item: nothing is dropped
)

// drainWhole claims segment id, unlinks every live item and recycles it.
func (c *Cache) drainWhole(id int32, why dropReason, ghosts bool) bool {
	if !c.claim(id) {
		return false
	}
	var u drainCount
	c.forEachLinked(id, func(it liveItem) {
		c.dropSlot(id, &it, ghosts, &u)
	})
	c.recycle(id, u)
	n := uint64(u.items)
	switch why {
	case dropEvict:
		c.evictedItems.Add(n)
		c.evictedSegments.Add(1)
	case dropExpire:
		c.expiredItems.Add(n)
		c.expiredSegments.Add(1)
	case dropEmpty:
		c.evictedItems.Add(n) // 0: counted in case a writer raced the check
	}
	return true
}

// recycle takes what the drain unlinked off a drained segment's counters
// and returns it to the free list. Its counters must then be zero: every
// live item was unlinked or relocated, each by one party.
func (c *Cache) recycle(id int32, u drainCount) {
	hdr := &c.segs.Headers[id]
	hdr.AddLive(-u.items, -u.bytes)
	if u.promoted > 0 {
		c.promotedItems.Add(uint64(u.promoted))
	}
	if n, b := c.segs.Recycle(id); n != 0 || b != 0 {
		c.ev.accountingErrors.Add(1)
	}
}

// expireLocked drains every segment whose expiry has passed, in
// O(expired segments): the expiry heap holds every listed segment that
// expires, earliest first.
func (c *Cache) expireLocked() int {
	now := clock.Now()
	n := 0
	for {
		id, at := c.ev.expiring.Min()
		if id < 0 || at > now {
			return n
		}
		if c.drainWhole(id, dropExpire, false) {
			n++
		} else {
			c.ev.unlist(id) // not claimable: never look at it again
		}
	}
}

// Expire eagerly frees every expired segment, and every segment whose
// items were all deleted or overwritten (but one that a merge is still
// filling). Reads never return expired items in any case; this returns
// their memory.
func (c *Cache) Expire() error {
	c.evictMu.Lock()
	defer c.evictMu.Unlock()
	if c.closed.Load() {
		return ErrClosed
	}
	c.reclaimEmpty()
	c.expireLocked()
	return nil
}

// Clear removes every item.
func (c *Cache) Clear() error {
	c.evictMu.Lock()
	defer c.evictMu.Unlock()
	if c.closed.Load() {
		return ErrClosed
	}
	for id := range c.segs.Headers {
		if c.segs.Headers[id].State() != segment.Free {
			c.drainWhole(int32(id), dropClear, false)
		}
	}
	c.ev.pass.dest = segment.None // its destination was drained above
	// Ghosts remember evicted keys' popularity; a cleared cache starts cold.
	c.table().ClearGhosts()
	return nil
}
