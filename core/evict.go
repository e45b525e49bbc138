package core

import (
	"math/rand/v2"
	"slices"
	"sync/atomic"

	"github.com/segcache/segcache/core/internal/clock"
	"github.com/segcache/segcache/core/internal/evict"
	"github.com/segcache/segcache/core/internal/hashtable"
	"github.com/segcache/segcache/core/internal/item"
	"github.com/segcache/segcache/core/internal/segment"
)

// evictState is the eviction policies' memory, guarded by evictMu.
type evictState struct {
	c           *Cache
	mergeCursor map[int32]int64 // per TTL bucket: create time merged up to
	promo       map[int32]int32 // S3-FIFO: per TTL bucket, the main-pool segment promotions go to

	// Scratch space reused by every eviction, so that sets that evict
	// allocate nothing in steady state.
	segs  []evict.Segment
	items []liveItem
	moved []bool

	accountingErrors atomic.Int64 // segments recycled with nonzero counters (must stay 0)
}

func (e *evictState) init(c *Cache) {
	e.c = c
	e.mergeCursor = map[int32]int64{}
	e.promo = map[int32]int32{}
}

func (e *evictState) dropPromo(id int32) {
	for b, d := range e.promo {
		if d == id {
			delete(e.promo, b)
		}
	}
}

// snapshot returns the evictable view of a segment header.
func (c *Cache) snapshot(id int32) evict.Segment {
	h := &c.segs.Headers[id]
	return evict.Segment{
		ID: id, State: h.State(), Bucket: h.Bucket.Load(), Pool: h.Pool.Load(),
		Create: h.CreateAt.Load(), Expire: h.Expire.Load(), NeedUntil: h.NeedUntil.Load(),
		LiveBytes: h.LiveBytes(),
	}
}

// evictLocked frees at least one segment's worth of space or returns
// ErrNoSpace. With force, relocating policies drop whole segments.
func (c *Cache) evictLocked(force bool) error {
	switch c.policy {
	case PolicyNone:
		return ErrNoSpace
	case PolicyMerge:
		if !force && (c.compact() || c.merge()) {
			return nil
		}
	case PolicyS3FIFO:
		if !force && c.s3fifo() {
			return nil
		}
	}
	segs := c.ev.segs[:0]
	for id := range c.segs.Headers {
		segs = append(segs, c.snapshot(int32(id)))
	}
	c.ev.segs = segs
	victim := evict.Pick(c.policy.evictKind(), segs, rand.Uint64())
	if victim < 0 {
		return ErrNoSpace
	}
	c.drainWhole(victim, dropEvict, c.policy != PolicyS3FIFO)
	return nil
}

func (p Policy) evictKind() evict.Kind {
	switch p {
	case PolicyRandom:
		return evict.Random
	case PolicyRandomFIFO:
		return evict.RandomFIFO
	case PolicyCTE:
		return evict.CTE
	case PolicyUtil:
		return evict.Util
	}
	return evict.FIFO // fifo, and the fallback of merge and s3fifo
}

// relocate copies an item of a claimed segment into dest (a Relocating
// segment this goroutine fills) and moves its slot there, with the
// frequency set to freq. The copy is complete before the slot points at
// it (copy, then publish: LESSONS #5). It returns false if dest is full or
// the slot changed meanwhile (a writer replaced or deleted the key); then
// the copy is dead bytes and the caller treats the item as gone.
func (c *Cache) relocate(src, dest int32, p *uint64, s uint64, data []byte, freq uint64) bool {
	dh := &c.segs.Headers[dest]
	size := len(data)
	off := int(dh.WriteOff.Load())
	if off+size > c.segSize {
		return false
	}
	copy(c.segBytes(dest)[off:off+size], data)
	dh.WriteOff.Store(uint32(off + size))
	dh.AddLive(1, size)
	if !hashtable.Move(hashtable.MakeLoc(dest, dh.Gen.Load(), off), freq).Apply(p, s) {
		item.MarkDeleted(c.segBytes(dest)[off:])
		dh.AddLive(-1, -size)
		return false
	}
	c.segs.Headers[src].AddLive(-1, -size)
	c.promotedItems.Add(1)
	return true
}

// liveItem is an item of a claimed segment that is still linked.
type liveItem struct {
	p    *uint64
	s    uint64
	data []byte
}

func (c *Cache) liveItems(id int32, out []liveItem) []liveItem {
	out = out[:0]
	c.forEachItem(id, func(off int, ih item.Header, data []byte) {
		if p, s := c.slotOf(id, off, data, ih); p != nil {
			out = append(out, liveItem{p, s, data})
		}
	})
	return out
}

// merge is the paper's policy: take a run of consecutive segments of one
// TTL bucket, keep from each the items whose frequency per byte passes a
// cutoff chosen to retain about 1/MergeTarget of a segment, copy them into
// a spare segment, and free the run. The merged segment keeps the oldest
// source's creation time and an expiry no later than any source's (items
// never outlive their TTL), and the run only joins segments whose expiry
// promises are compatible (ttl.Plan).
func (c *Cache) merge() bool {
	run := c.pickRun(false)
	if len(run) < 2 {
		return false
	}
	return c.mergeRun(run, true) >= 2
}

// compact copies (no pruning) a run of neighbouring segments that are each
// at most 1/MergeCompact full into one, when MergeCompact is set.
func (c *Cache) compact() bool {
	if c.opts.MergeCompact == 0 {
		return false
	}
	run := c.pickRun(true)
	if len(run) < 2 {
		return false
	}
	return c.mergeRun(run, false) >= 2
}

// pickRun chooses the segments to merge: the TTL bucket of a random
// sealed segment, and in it the sealed segments after the bucket's merge
// cursor, oldest first, while their expiries stay compatible. With
// sparse, only segments at most 1/MergeCompact full qualify.
func (c *Cache) pickRun(sparse bool) []evict.Segment {
	e := &c.ev
	start := rand.IntN(c.nseg)
	bucket := int32(-1)
	for i := 0; i < c.nseg && bucket < 0; i++ {
		id := int32((start + i) % c.nseg)
		s := c.snapshot(id)
		if s.State == segment.Sealed && (!sparse || int(s.LiveBytes)*c.opts.MergeCompact <= c.segSize) {
			bucket = s.Bucket
		}
	}
	if bucket < 0 {
		return nil
	}
	segs := c.ev.segs[:0]
	for id := range c.segs.Headers {
		s := c.snapshot(int32(id))
		if s.State == segment.Sealed && s.Bucket == bucket && (!sparse || int(s.LiveBytes)*c.opts.MergeCompact <= c.segSize) {
			segs = append(segs, s)
		}
	}
	slices.SortFunc(segs, func(a, b evict.Segment) int {
		if a.Create != b.Create {
			return int(a.Create - b.Create)
		}
		return int(a.ID - b.ID)
	})
	cursor, ok := e.mergeCursor[bucket]
	i0 := 0
	if ok {
		i0 = slices.IndexFunc(segs, func(s evict.Segment) bool { return s.Create > cursor })
		if i0 < 0 {
			i0 = 0
		}
	}
	c.ev.segs = segs
	run := evict.CompatibleRun(segs[i0:], c.opts.MergeMax)
	if len(run) < 2 && i0 > 0 {
		run = evict.CompatibleRun(segs, c.opts.MergeMax) // wrap around
	}
	return run
}

// mergeRun merges run into a spare segment and returns how many sources
// it freed.
func (c *Cache) mergeRun(run []evict.Segment, prune bool) int {
	dest := c.segs.Take(0)
	if dest < 0 {
		return 0
	}
	exp, need := evict.Envelope(run)
	c.segs.Init(dest, segment.Relocating, run[0].Bucket, segment.PoolMain, run[0].Create, exp, need, 0)
	keep := c.segSize
	stop := c.segSize
	if prune {
		keep = c.segSize / min(c.opts.MergeTarget, len(run))
		stop = c.segSize*(c.opts.MergeTarget-1)/c.opts.MergeTarget + c.segSize/20
	}
	// When the run's live items fit in one segment (overwrites and
	// deletes left mostly dead bytes), merging them all frees len(run)-1
	// segments without evicting anything: prune only when they do not.
	if prune {
		live := 0
		for _, src := range run {
			live += int(src.LiveBytes)
		}
		if live <= stop {
			prune, keep = false, c.segSize
		}
	}
	dh := &c.segs.Headers[dest]
	merged := 0
	items := c.ev.items
	for _, src := range run {
		if int(dh.WriteOff.Load()) >= stop || !c.claim(src.ID) {
			break
		}
		items = c.liveItems(src.ID, items)
		var dropped uint64
		if prune {
			dropped = c.pruneInto(src.ID, dest, items, keep)
		} else {
			for _, it := range items {
				if !c.relocate(src.ID, dest, it.p, it.s, it.data, hashtable.Freq(it.s)) &&
					c.dropSlot(src.ID, it.p, it.s, len(it.data), true) {
					dropped++
				}
			}
		}
		c.evictedItems.Add(dropped)
		c.recycle(src.ID)
		merged++
	}
	c.ev.items = items[:0]
	if n, _ := dh.Live(); n == 0 {
		// Nothing survived (or nothing was merged): free the spare again.
		dh.SetState(segment.Draining)
		c.recycle(dest)
	} else {
		dh.Transition(segment.Relocating, segment.Sealed)
	}
	c.mergedSegments.Add(uint64(merged))
	// Next time start after what was merged: the merged segment carries
	// the first source's creation time, so it is skipped too.
	if merged > 0 {
		c.ev.mergeCursor[run[0].Bucket] = run[merged-1].Create
	}
	return merged
}

// pruneInto keeps at most keep bytes of src's live items, the ones with
// the best frequency per byte (never one seen only once), and drops the
// rest. Relocated items keep half their frequency, so they must be read
// again to survive the next merge.
func (c *Cache) pruneInto(src, dest int32, items []liveItem, keep int) (dropped uint64) {
	var hist [hashtable.MaxFreq + 1]int
	total := 0
	for _, it := range items {
		total += len(it.data)
	}
	mean := 1
	if len(items) > 0 {
		mean = max(total/len(items), 1)
	}
	score := func(it liveItem) int {
		return min(int(hashtable.Freq(it.s))*mean/len(it.data), hashtable.MaxFreq)
	}
	for _, it := range items {
		hist[score(it)] += len(it.data)
	}
	cutoff, acc := 1, 0
	for k := hashtable.MaxFreq; k >= 1; k-- {
		acc += hist[k]
		if acc >= keep {
			cutoff = k
			break
		}
	}
	kept := 0
	moved := c.ev.moved
	if cap(moved) < len(items) {
		moved = make([]bool, len(items))
		c.ev.moved = moved
	}
	moved = moved[:len(items)]
	clear(moved)
	// Two passes: everything above the cutoff fits by construction; the
	// cutoff's own bin fills what is left.
	for pass := 0; pass < 2; pass++ {
		for i, it := range items {
			sc := score(it)
			if sc < cutoff || (pass == 0) != (sc > cutoff) || kept+len(it.data) > keep {
				continue
			}
			if c.relocate(src, dest, it.p, it.s, it.data, hashtable.Freq(it.s)/2) {
				kept += len(it.data)
				moved[i] = true
			}
		}
	}
	for i, it := range items {
		if !moved[i] && c.dropSlot(src, it.p, it.s, len(it.data), true) {
			dropped++
		}
	}
	return dropped
}

// s3fifo evicts one segment the S3-FIFO way: from the admission pool while
// it holds more than its share of segments (or main has nothing sealed),
// else from main. Items read since they were written (frequency > 0) are
// copied to the main pool with their frequency decremented (CLOCK's second
// chance); the others are dropped, leaving a ghost, so a key that comes
// back goes straight to main. (S3-FIFO proper ghosts only admission
// evictions; ghosting main evictions too remembers more history and
// measured slightly better on the orm-busy and web12 traces.)
func (c *Cache) s3fifo() bool {
	adm := 0
	var oldestAdm, oldestMain evict.Segment
	oldestAdm.ID, oldestMain.ID = -1, -1
	for id := range c.segs.Headers {
		s := c.snapshot(int32(id))
		if s.State == segment.Free {
			continue
		}
		if s.Pool == segment.PoolAdmission {
			adm++
			if s.State == segment.Sealed && (oldestAdm.ID < 0 || s.Create < oldestAdm.Create) {
				oldestAdm = s
			}
		} else if s.State == segment.Sealed && (oldestMain.ID < 0 || s.Create < oldestMain.Create) {
			oldestMain = s
		}
	}
	victim := oldestMain
	if oldestAdm.ID >= 0 && (float64(adm) > c.opts.S3FIFOAdmissionRatio*float64(c.nseg) || oldestMain.ID < 0) {
		victim = oldestAdm
	}
	if victim.ID < 0 || !c.claim(victim.ID) {
		return false
	}
	var dropped uint64
	items := c.liveItems(victim.ID, c.ev.items)
	c.ev.items = items[:0]
	for _, it := range items {
		// S3-FIFO counts to 3: an item read a hundred times earns three
		// more rounds in main, not a hundred.
		if f := min(hashtable.Freq(it.s), s3fifoMaxFreq); f > 0 {
			if d := c.promoDest(victim, len(it.data)); d >= 0 && c.relocate(victim.ID, d, it.p, it.s, it.data, f-1) {
				continue
			}
		}
		if c.dropSlot(victim.ID, it.p, it.s, len(it.data), true) {
			dropped++
		}
	}
	c.recycle(victim.ID)
	c.evictedItems.Add(dropped)
	c.evictedSegments.Add(1)
	return true
}

const s3fifoMaxFreq = 3

// s3fifoPool routes a write: a key that is present stays in its pool; a
// new key goes to main if a ghost remembers it, else to admission.
func (c *Cache) s3fifoPool(live bool, f *found, k *keyed) int32 {
	if live {
		return f.hdr.Pool.Load()
	}
	if p, _ := k.Ghost(); p != nil {
		return segment.PoolMain
	}
	return segment.PoolAdmission
}

// promoDest returns the main-pool segment that takes promotions from src's
// TTL bucket, opening a new one when the current one is full or its expiry
// does not fit src's items.
func (c *Cache) promoDest(src evict.Segment, size int) int32 {
	e := &c.ev
	if d, ok := e.promo[src.Bucket]; ok {
		dh := &c.segs.Headers[d]
		if int(dh.WriteOff.Load())+size <= c.segSize && evict.Fits(c.snapshot(d), src) {
			dh.NeedUntil.Store(max(dh.NeedUntil.Load(), src.NeedUntil))
			return d
		}
		dh.Transition(segment.Relocating, segment.Sealed)
		delete(e.promo, src.Bucket)
	}
	d := c.segs.Take(0)
	if d < 0 {
		return -1
	}
	c.segs.Init(d, segment.Relocating, src.Bucket, segment.PoolMain, clock.Now(), src.Expire, src.NeedUntil, 0)
	e.promo[src.Bucket] = d
	return d
}
