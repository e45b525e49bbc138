package core

import (
	"math/rand/v2"
	"sync"
	"sync/atomic"

	"github.com/segcache/segcache/core/internal/evict"
	"github.com/segcache/segcache/core/internal/hashtable"
	"github.com/segcache/segcache/core/internal/item"
	"github.com/segcache/segcache/core/internal/segment"
	"github.com/segcache/segcache/core/internal/ttl"
)

// evictState is the eviction policies' memory, guarded by evictMu. Every
// structure here is updated in O(1) (O(log n) for the expiry heaps) when a
// segment opens, is sealed or is claimed, so no eviction, merge or expiry
// ever scans the segment headers.
type evictState struct {
	c *Cache

	// stamp is the logical clock that orders segments: it advances by one
	// every time a segment opens. Ages compared in milliseconds made dozens
	// of segments opened in one millisecond tie, so "oldest first" was not.
	stamp int64
	rng   *rand.Rand // the random policies' choices, seeded by Options.Seed

	chains   *segment.Chains // listed: Open, Sealed and Relocating segments
	sealed   *evict.Index    // the evictable (Sealed) segments
	expiring *evict.Heap     // listed segments that expire, by expiry time
	cte      *evict.Heap     // PolicyCTE only: sealed segments by expiry, "never" last
	cursor   []int32         // merge: per chain, the segment the next run starts at (None: head)
	promo    map[int32]int32 // S3-FIFO: per TTL bucket, the main-pool segment promotions go to
	// promoTail is, per TTL bucket, the promotion segment before promo's,
	// kept for the items that fit the room an item too large for it left
	// at its end (see promoDest).
	promoTail map[int32]int32
	pass      mergePass // merge: the pass in progress, advanced one source per step

	// Segments that may have lost their last live item. Writers queue them
	// (under emptyMu, a leaf lock, once per segment thanks to queued); the
	// evictor reclaims them before evicting anything.
	emptyMu sync.Mutex
	empties []int32
	queued  []atomic.Bool

	// Scratch space reused by every eviction, so that sets that evict
	// allocate nothing in steady state.
	segs     []evict.Segment
	items    []liveItem
	moved    []bool
	emptying []int32

	accountingErrors atomic.Int64 // segments recycled with nonzero counters (must stay 0)

	// openSegs counts the Open segments (see laneShare): changed under
	// evictMu, read by writers without it.
	openSegs atomic.Int32
}

// utilSample is how many random sealed segments util compares: the least
// utilized of them is evicted. An exact minimum needs an index updated by
// every delete and overwrite, on the writers' path; sampling costs O(1) and
// picks a segment among the emptiest ~3% with probability 1 − 0.97^32 ≈ 62%,
// from the emptiest ~10% with 97%. Fully empty segments never depend on the
// sample: they are reclaimed first, whatever the policy.
const utilSample = 32

// anyPool asks leastUtilized for a segment of either pool.
const anyPool = -1

func (e *evictState) init(c *Cache) {
	e.c = c
	seed := c.opts.Seed
	e.rng = rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	e.chains = segment.NewChains(c.nseg, ttl.Count)
	e.sealed = evict.NewIndex(c.nseg)
	e.expiring = evict.NewHeap(c.nseg)
	if c.policy == PolicyCTE {
		e.cte = evict.NewHeap(c.nseg)
	}
	e.cursor = make([]int32, ttl.Count*segment.Pools)
	for i := range e.cursor {
		e.cursor[i] = segment.None
	}
	e.promo = map[int32]int32{}
	e.promoTail = map[int32]int32{}
	e.pass.dest = segment.None
	// A segment is queued at most once at a time: these never grow.
	e.queued = make([]atomic.Bool, c.nseg)
	e.empties = make([]int32, 0, c.nseg)
	e.emptying = make([]int32, 0, c.nseg)
}

// nextStamp returns the opening stamp of a new segment: strictly
// increasing, so segments never tie on age.
func (e *evictState) nextStamp() int64 {
	e.stamp++
	return e.stamp
}

// isPromo reports whether segment id is a TTL bucket's promotion
// destination.
func (e *evictState) isPromo(id int32) bool {
	for _, m := range [...]map[int32]int32{e.promo, e.promoTail} {
		for _, d := range m {
			if d == id {
				return true
			}
		}
	}
	return false
}

func (e *evictState) dropPromo(id int32) {
	for _, m := range [...]map[int32]int32{e.promo, e.promoTail} {
		for b, d := range m {
			if d == id {
				delete(m, b)
			}
		}
	}
}

// list adds a segment the caller just initialized (segment.Table.Init) to
// the ordering structures: as the newest of its chain and pool, or, for a
// merge destination, just before at (it takes its first source's age).
func (c *Cache) list(id, at int32) {
	e := &c.ev
	h := &c.segs.Headers[id]
	if at != segment.None {
		e.chains.InsertBefore(id, at)
	} else {
		e.chains.Append(id, h.Bucket.Load(), h.Pool.Load())
	}
	if x := h.Expire.Load(); x != 0 {
		e.expiring.Push(id, x, h.Seq.Load())
	}
}

// seal moves a listed segment from Open or Relocating to Sealed, which
// makes it evictable. A segment sealed with no live item (all deleted or
// overwritten while it was open) is queued for reclaiming.
func (c *Cache) seal(id int32, from segment.State) {
	h := &c.segs.Headers[id]
	if !h.Transition(from, segment.Sealed) {
		return
	}
	if from == segment.Open {
		c.untail(id)
	}
	if !c.ev.chains.Listed(id) {
		return
	}
	c.ev.sealed.Add(id)
	if c.ev.cte != nil {
		c.ev.cte.Push(id, evict.Expiry(h.Expire.Load()), h.Seq.Load())
	}
	// After the state change (sequentially consistent), so that either this
	// sees a writer's last decrement or the writer sees Sealed and queues.
	if n, _ := h.Live(); n == 0 {
		c.ev.queueEmpty(id)
	}
}

// unlist takes a claimed segment out of every ordering structure. A merge
// cursor on it moves to the next segment of its chain.
func (e *evictState) unlist(id int32) {
	if ch := e.chains.Chain(id); ch != segment.None && e.cursor[ch] == id {
		e.cursor[ch] = e.chains.Next(id)
	}
	e.chains.Remove(id)
	e.sealed.Remove(id)
	e.expiring.Remove(id)
	if e.cte != nil {
		e.cte.Remove(id)
	}
}

// noteUnlinked is called by a writer that took an item off segment id's
// counters (delete, overwrite, displacement): a sealed or open segment
// left with no live item is queued, so its space comes back before
// anything is evicted (with PolicyNone, it is the only way deleted items'
// space comes back). Open ones too: a cache whose segments were all open,
// one per TTL, and emptied by deletes answered ErrNoSpace under
// PolicyNone with no item in it.
func (c *Cache) noteUnlinked(id int32, h *segment.Header) {
	if n, _ := h.Live(); n == 0 {
		if st := h.State(); st == segment.Sealed || st == segment.Open || st == segment.Relocating {
			c.ev.queueEmpty(id)
		}
	}
}

func (e *evictState) queueEmpty(id int32) {
	if !e.queued[id].CompareAndSwap(false, true) {
		return
	}
	e.emptyMu.Lock()
	e.empties = append(e.empties, id)
	e.emptyMu.Unlock()
}

// reclaimEmpty frees the queued segments that are sealed (or S3-FIFO
// promotion destinations) and hold no live item, and returns how many it
// freed. Nothing is evicted: a sealed segment gains no item once no writer
// holds a pin taken while it was open.
func (c *Cache) reclaimEmpty() int {
	e := &c.ev
	e.emptyMu.Lock()
	ids := append(e.emptying[:0], e.empties...)
	e.empties = e.empties[:0]
	e.emptyMu.Unlock()
	e.emptying = ids
	n := 0
	for _, id := range ids {
		e.queued[id].Store(false)
		h := &c.segs.Headers[id]
		if h.State() == segment.Open && e.chains.Listed(id) {
			// An open segment emptied by deletes and overwrites: seal it
			// (its bucket opens another when it next takes a write), then
			// reclaim it as a sealed one, below, unless a writer reserved
			// in it meanwhile.
			if n, _ := h.Live(); n != 0 || h.Pins() != 0 {
				continue
			}
			c.sealOpen(id)
		}
		if h.State() == segment.Relocating {
			// An S3-FIFO promotion destination emptied by deletes and
			// overwrites: freed like a sealed segment (its bucket's next
			// promotion opens another). Drains fill it under evictMu,
			// which the caller holds, so none is adding to it now. A
			// merge pass's destination stays the pass's: endPass frees it
			// if it is empty then.
			if items, _ := h.Live(); items == 0 && h.Pins() == 0 && e.isPromo(id) && c.drainWhole(id, dropEmpty, false) {
				n++
			}
			continue
		}
		// State, then pins, then counters: a writer that reserved space
		// while the segment was open holds a pin until it has published,
		// and a writer that pins it now fails (it is not open any more).
		if h.State() != segment.Sealed || !e.chains.Listed(id) {
			continue
		}
		if h.Pins() != 0 {
			e.queueEmpty(id) // a writer is unlinking from it: look again later
			continue
		}
		if items, _ := h.Live(); items != 0 {
			continue
		}
		if c.drainWhole(id, dropEmpty, false) {
			n++
		}
	}
	return n
}

// sealOpen seals open segment id and takes it off its bucket's lanes, as
// openSegment does with a full one. The caller holds evictMu, under which
// alone a segment leaves Open.
func (c *Cache) sealOpen(id int32) {
	h := &c.segs.Headers[id]
	c.ev.openSegs.Add(-1)
	c.seal(id, segment.Open)
	open := &c.buckets[h.Bucket.Load()].open[h.Pool.Load()]
	for l := range open {
		open[l].CompareAndSwap(id, -1)
	}
}

// snapshot returns the evictable view of a segment header.
func (c *Cache) snapshot(id int32) evict.Segment {
	h := &c.segs.Headers[id]
	return evict.Segment{
		ID: id, State: h.State(), Bucket: h.Bucket.Load(), Pool: h.Pool.Load(),
		Seq: h.Seq.Load(), Expire: h.Expire.Load(), NeedUntil: h.NeedUntil.Load(),
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
		if !force && c.mergeStep() {
			return nil
		}
	case PolicyS3FIFO:
		if !force && c.s3fifo() {
			return nil
		}
	}
	victim := c.pickVictim()
	if victim < 0 {
		return ErrNoSpace
	}
	c.drainWhole(victim, dropEvict, c.policy != PolicyS3FIFO)
	return nil
}

// pickVictim chooses the segment a whole-segment policy drops: a sealed
// one; when none is sealed (more TTL buckets in use than segments), the
// oldest open one, then the oldest relocation destination.
func (c *Cache) pickVictim() int32 {
	e := &c.ev
	if n := e.sealed.Len(); n > 0 {
		switch c.policy {
		case PolicyRandom:
			return e.sealed.At(e.rng.IntN(n))
		case PolicyRandomFIFO:
			s := e.sealed.At(e.rng.IntN(n))
			return c.firstIn(e.chains.Head(e.chains.Chain(s)), (*segment.Chains).Next, segment.Sealed)
		case PolicyCTE:
			id, _ := e.cte.Min()
			return id
		case PolicyUtil:
			return c.leastUtilized(anyPool)
		}
		// fifo, and the fallback of merge and s3fifo. (Merge dropping a
		// nearly empty segment first, when every sealed segment is alone
		// in its TTL bucket, kept every item of a fill but missed more
		// in steady state: those segments hold new items. See
		// TestManyTTLsFitWhatFits.)
		return c.oldest(segment.Sealed)
	}
	if id := c.oldest(segment.Open); id >= 0 {
		return id
	}
	return c.oldest(segment.Relocating)
}

// firstIn walks a list from id and returns the first segment in state st,
// or None. The walk passes only segments that are not in st: for Sealed,
// the open and relocation segments, a few per TTL bucket in use.
func (c *Cache) firstIn(id int32, next func(*segment.Chains, int32) int32, st segment.State) int32 {
	for ; id != segment.None; id = next(c.ev.chains, id) {
		if c.segs.Headers[id].State() == st {
			return id
		}
	}
	return segment.None
}

// oldest returns the first-opened segment in state st over both pools.
func (c *Cache) oldest(st segment.State) int32 {
	best := segment.None
	for p := int32(0); p < segment.Pools; p++ {
		id := c.firstIn(c.ev.chains.PoolHead(p), (*segment.Chains).PoolNext, st)
		if id != segment.None && (best == segment.None || c.segs.Headers[id].Seq.Load() < c.segs.Headers[best].Seq.Load()) {
			best = id
		}
	}
	return best
}

// atMostFull reports whether segment id (None: no) holds at most 1/share
// of a segment in live bytes.
func (c *Cache) atMostFull(id int32, share int) bool {
	return id != segment.None && int(c.segs.Headers[id].LiveBytes())*share <= c.segSize
}

// leastUtilized returns the sealed segment of pool (anyPool: either) with
// the fewest live bytes among utilSample drawn at random (all of them when
// there are no more), the older one on a tie; None if no draw is in pool.
//
// In a large heap the sample is memory misses: the index entry of each
// draw, then its header's two lines (live count, opening stamp), 65,536
// headers taking 8 MiB. Read one draw after another they came in a chain,
// and util's set under eviction cost 1.85× more at 65,536 segments than at
// 256 (fifo's 1.50×). So the draws are made first, then every index
// entry is loaded and its header prefetched in a loop short enough for the
// CPU to keep many misses in flight, and only then are the headers
// compared. The draws are the same as before, so the victim is too.
func (c *Cache) leastUtilized(pool int32) int32 {
	e := &c.ev
	n := e.sealed.Len()
	var ids [utilSample]int32
	m := min(n, utilSample)
	if n > utilSample {
		for i := range ids {
			ids[i] = int32(e.rng.IntN(n))
		}
	} else {
		for i := range m {
			ids[i] = int32(i)
		}
	}
	for i := range m {
		ids[i] = e.sealed.At(int(ids[i]))
		c.segs.Headers[ids[i]].Prefetch()
	}
	best, bestLive, bestSeq := segment.None, int32(0), int64(0)
	for _, id := range ids[:m] {
		h := &c.segs.Headers[id]
		if pool != anyPool && h.Pool.Load() != pool {
			continue
		}
		live, seq := h.LiveBytes(), h.Seq.Load()
		if best == segment.None || live < bestLive || live == bestLive && seq < bestSeq {
			best, bestLive, bestSeq = id, live, seq
		}
	}
	return best
}

// relocate copies an item of a claimed segment into dest (a Relocating
// segment this goroutine fills) and moves its slot there, with the
// frequency set to freq. The copy is complete before the slot points at
// it (copy, then publish: a reader that follows the new location must
// find the whole item). It returns false if dest is full or a writer
// replaced or deleted the key meanwhile; then the copy is dead bytes and
// the caller treats the item as gone. (A slot that a displacement moved
// is looked up again: the item is still live.)
func (c *Cache) relocate(src, dest int32, it *liveItem, freq uint64, u *drainCount) bool {
	if it.p == nil { // a relook found it gone
		return false
	}
	dh := &c.segs.Headers[dest]
	size := len(it.data)
	off := int(dh.WriteOff.Load())
	if off+size > c.segSize {
		return false
	}
	copy(c.segBytes(dest)[off:off+size], it.data)
	dh.WriteOff.Store(uint32(off + size))
	dh.AddLive(1, size)
	move := hashtable.Move(hashtable.MakeLoc(dest, dh.Gen.Load(), off), freq)
	for !move.Apply(c.table(), it.p, it.s) {
		if !c.relook(src, it) {
			item.MarkDeleted(c.segBytes(dest)[off:])
			dh.AddLive(-1, -size)
			return false
		}
	}
	u.add(size)
	u.promoted++
	return true
}

func (c *Cache) liveItems(id int32, out []liveItem) []liveItem {
	out = out[:0]
	c.forEachLinked(id, func(it liveItem) {
		out = append(out, it)
	})
	return out
}

// mergeStep advances merge, the paper's policy: take a run of consecutive
// segments of one TTL bucket, keep from each the items whose frequency per
// byte passes a cutoff chosen to retain about 1/MergeTarget of a segment,
// copy them into a spare segment, and free the run. The merged segment
// keeps the oldest source's creation time and an expiry no later than any
// source's (items never outlive their TTL), and the run only joins
// segments whose expiry promises are compatible (ttl.Plan).
//
// A pass is incremental: each call merges one source segment of the pass
// in progress (starting a pass when none is) and reports whether it merged
// one, so the set that needs a free segment pays for one or two sources
// (the first source of a pass only fills the destination it took), not for
// the whole run of up to MergeMax. The run, what each source keeps and the
// order are those of a pass done at once; only the time at which each
// source is merged differs. With MergeCompact, a compaction pass (no
// pruning) is tried first.
func (c *Cache) mergeStep() bool {
	for attempt := 0; attempt < 2; attempt++ {
		if c.ev.pass.dest == segment.None && !c.startPass() {
			return false
		}
		if c.advancePass() {
			return true
		}
		// The pass ended without merging anything (its next source was
		// taken by expiry or reclaiming meanwhile): start another once.
	}
	return false
}

// mergePass is the merge or compaction pass in progress, guarded by
// evictMu like the rest of evictState. dest is None when there is none.
type mergePass struct {
	dest    int32
	destGen uint32
	run     []evict.Segment // the sources, oldest first
	gens    []uint32        // their generations when the run was chosen
	next    int             // the index in run of the next source to merge
	chain   int32
	prune   bool
	keep    int // bytes each source keeps (prune)
	stop    int // the pass ends once dest holds this many bytes
	merged  int
}

// startPass chooses a run (a compaction run first, with MergeCompact) and
// opens its destination.
func (c *Cache) startPass() bool {
	if c.opts.MergeCompact > 0 {
		if run := c.pickRun(true); len(run) >= 2 && c.openPass(run, false) {
			return true
		}
	}
	run := c.pickRun(false)
	return len(run) >= 2 && c.openPass(run, true)
}

// openPass takes a spare segment as the destination of merging run (with
// pruning, or a plain copy) and makes it the pass in progress.
func (c *Cache) openPass(run []evict.Segment, prune bool) bool {
	dest := c.segs.Take(0)
	if dest < 0 {
		return false
	}
	exp, need := evict.Envelope(run)
	c.segs.Init(dest, segment.Relocating, run[0].Bucket, segment.PoolMain, run[0].Seq, exp, need, 0)
	c.list(dest, run[0].ID)
	p := &c.ev.pass
	p.dest, p.destGen = dest, c.segs.Headers[dest].Gen.Load()
	p.run = append(p.run[:0], run...)
	p.gens = p.gens[:0]
	for _, src := range run {
		p.gens = append(p.gens, c.segs.Headers[src.ID].Gen.Load())
	}
	p.chain = segment.ChainOf(run[0].Bucket, segment.PoolMain)
	p.next, p.keep, p.stop, p.merged = 0, c.segSize, c.segSize, 0
	if prune {
		p.keep = c.segSize / min(c.opts.MergeTarget, len(run))
		p.stop = c.segSize*(c.opts.MergeTarget-1)/c.opts.MergeTarget + c.segSize/20
		// When the run's live items fit in one segment (overwrites and
		// deletes left mostly dead bytes), merging them all frees
		// len(run)-1 segments without evicting anything: prune only when
		// they do not.
		live := 0
		for _, src := range run {
			live += int(src.LiveBytes)
		}
		if live <= p.stop {
			prune, p.keep = false, c.segSize
		}
	}
	p.prune = prune
	return true
}

// advancePass merges the next source of the pass in progress into its
// destination, and ends the pass after its last source or once the
// destination is full enough. It returns false, ending the pass, when
// nothing could be merged: the destination or the next source is no
// longer the segment the run was chosen with (expired, reclaimed, cleared
// or evicted by force between two steps: each recycling bumps the
// generation). A pruning pass that kept nothing before its last source
// leaves that source in place and ends by freeing its destination: that
// step returns true (a segment was freed) having merged nothing.
func (c *Cache) advancePass() bool {
	p := &c.ev.pass
	dh := &c.segs.Headers[p.dest]
	if dh.Gen.Load() != p.destGen || dh.State() != segment.Relocating {
		p.dest = segment.None // someone else drained it: nothing to finish
		return false
	}
	src := p.run[p.next]
	if int(dh.WriteOff.Load()) >= p.stop || c.segs.Headers[src.ID].Gen.Load() != p.gens[p.next] {
		c.endPass()
		return false
	}
	// The last source of a pruning pass (a run has at least two, so
	// one was merged before it).
	last := p.prune && p.next == len(p.run)-1
	if last {
		if n, _ := dh.Live(); n == 0 {
			// Nothing read was kept: merged, the last source would
			// only fill the destination with its own items (see
			// below). Left in place, it keeps them without a copy, and
			// the destination is freed.
			c.endPass()
			return true
		}
	}
	next := c.ev.chains.Next(src.ID)
	if !c.claim(src.ID) {
		c.endPass()
		return false
	}
	items := c.liveItems(src.ID, c.ev.items)
	c.ev.items = items[:0]
	var dropped uint64
	var u drainCount
	if p.prune {
		// The run's last source may fill all the room the destination
		// has left (a whole segment taken either way): its read items
		// first, then the others (see pruneInto).
		keep := p.keep
		if last {
			keep = max(keep, c.segSize-int(dh.WriteOff.Load()))
		}
		dropped = c.pruneInto(src.ID, p.dest, items, keep, last, &u)
	} else {
		for i := range items {
			it := &items[i]
			if !c.relocate(src.ID, p.dest, it, hashtable.Freq(it.s), &u) && c.dropSlot(src.ID, it, true, &u) {
				dropped++
			}
		}
	}
	c.evictedItems.Add(dropped)
	c.recycle(src.ID, u)
	c.mergedSegments.Add(1)
	p.merged++
	// The next pass starts after what was merged; the destination took
	// the first source's place in the chain, before the cursor.
	c.ev.cursor[p.chain] = next
	if p.next++; p.next == len(p.run) || int(dh.WriteOff.Load()) >= p.stop {
		c.endPass()
	}
	return true
}

// endPass seals the destination of the pass in progress, or frees it if
// nothing survived in it (or nothing was merged).
func (c *Cache) endPass() {
	p := &c.ev.pass
	dest := p.dest
	p.dest = segment.None
	if n, _ := c.segs.Headers[dest].Live(); n == 0 && c.claim(dest) {
		c.recycle(dest, drainCount{})
		return
	}
	c.seal(dest, segment.Relocating)
}

// mergeRun merges run into a spare segment in one go and returns how many
// sources it freed.
func (c *Cache) mergeRun(run []evict.Segment, prune bool) int {
	if c.ev.pass.dest != segment.None || !c.openPass(run, prune) {
		return 0
	}
	for c.ev.pass.dest != segment.None && c.advancePass() {
	}
	return c.ev.pass.merged
}

// pickRun chooses the segments to merge: the TTL bucket of a random
// sealed segment, and in its chain the sealed segments from the bucket's
// merge cursor on, oldest first, while their expiries stay compatible;
// from the chain's head again when fewer than two remain after the cursor.
// With sparse, only segments at most 1/MergeCompact full qualify: the
// bucket is that of one of sparseTries random sealed segments that is
// sparse, and the run's walk passes at most sparseWalk segments (a bound
// the old full scan did not have: a run of sparse segments spread thinly
// over a long chain is not found).
func (c *Cache) pickRun(sparse bool) []evict.Segment {
	e := &c.ev
	n := e.sealed.Len()
	if n == 0 {
		return nil
	}
	s := segment.None
	tries := 1
	if sparse {
		tries = sparseTries
	}
	for i := 0; i < tries && s == segment.None; i++ {
		if id := e.sealed.At(e.rng.IntN(n)); !sparse || c.sparse(id) {
			s = id
		}
	}
	if s == segment.None {
		return nil
	}
	ch := e.chains.Chain(s)
	head := e.chains.Head(ch)
	from := e.cursor[ch]
	if from == segment.None {
		from = head
	}
	run := c.collectRun(from, sparse)
	if len(run) < 2 && from != head {
		run = c.collectRun(head, sparse) // wrap around
	}
	return run
}

const (
	sparseTries = 16
	sparseWalk  = 256
)

// sparse reports whether a segment is at most 1/MergeCompact full.
func (c *Cache) sparse(id int32) bool {
	return c.atMostFull(id, c.opts.MergeCompact)
}

// collectRun walks a chain from id and returns the longest compatible run
// of its first MergeMax sealed (and, with sparse, sparse) segments.
func (c *Cache) collectRun(id int32, sparse bool) []evict.Segment {
	segs := c.ev.segs[:0]
	for steps := 0; id != segment.None && len(segs) < c.opts.MergeMax; id = c.ev.chains.Next(id) {
		if steps++; sparse && steps > sparseWalk {
			break
		}
		if c.segs.Headers[id].State() == segment.Sealed && (!sparse || c.sparse(id)) {
			segs = append(segs, c.snapshot(id))
		}
	}
	c.ev.segs = segs
	return evict.CompatibleRun(segs, c.opts.MergeMax)
}

// pruneInto keeps at most keep bytes of src's live items, the ones with
// the best frequency per byte, and drops the rest. Without fill it keeps
// only items read at least once per mean item size of theirs (a score of
// 1 or more); with fill, the others (not read, or read too little for
// their size) fill what keep leaves, the newest first: the older ones had
// longer to be read. Relocated items keep half their frequency, so they
// must be read again to survive the next merge.
//
// Why fill: a pass's destination is a whole segment, and its sources keep
// only their read items, so with overwrites or many TTL buckets (sources
// already part empty) destinations were sealed half empty, and a merge
// cache held as little as 35% of its heap in live items (values of 16 to
// 1,015 bytes, 30% overwrites, 64 segments). With the last source of a
// pass filling the room left, that cache holds 72% and misses 31.5% of
// gets instead of 32.2%, and merge misses less in all eleven cases of
// BenchmarkOverwritesMissRatio and BenchmarkManyTTLsMissRatio (many TTLs
// at 16 segments: 22.2% -> 21.0%); the real traces' replays miss up to
// 1.5% less in eight cells and 0.02 and 0.04% more in two. Where nothing
// read was kept, the last source stays in place instead (advancePass):
// filling the destination with it copied a whole segment per pass and
// cost 6 to 14% per set in a cache whose items are never read
// (BenchmarkSetEvicting); now that costs nothing. Filling at most twice
// a source's share bounded the copy but left those destinations half
// full: a fill of never-read items held 72% of what memory allows instead
// of 91 to 97%. Filling oldest first missed more than newest first in
// eight of the ten cells of the traces that changed (less in one:
// orm-busy, variable values, 1 MiB). Every source filling its share held
// more still but missed more on web12 with variable values (1.2% at 512
// KiB): a destination then fills after fewer sources, so a pass frees
// fewer segments.
func (c *Cache) pruneInto(src, dest int32, items []liveItem, keep int, fill bool, u *drainCount) (dropped uint64) {
	var hist [hashtable.MaxFreq + 1]int
	mean := meanSize(items)
	score := func(it liveItem) int {
		return min(int(hashtable.Freq(it.s))*mean/len(it.data), hashtable.MaxFreq)
	}
	for _, it := range items {
		hist[score(it)] += len(it.data)
	}
	floor := 1
	if fill {
		floor = 0
	}
	cutoff, acc := floor, 0
	for k := hashtable.MaxFreq; k >= floor; k-- {
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
	// cutoff's own bin fills what is left (newest first when that bin is
	// the unread items').
	for pass := 0; pass < 2; pass++ {
		newestFirst := pass == 1 && cutoff == 0
		for j := range items {
			i := j
			if newestFirst {
				i = len(items) - 1 - j
			}
			it := &items[i]
			sc := score(*it)
			if sc < cutoff || (pass == 0) != (sc > cutoff) || kept+len(it.data) > keep {
				continue
			}
			if c.relocate(src, dest, it, hashtable.Freq(it.s)/2, u) {
				kept += len(it.data)
				moved[i] = true
			}
		}
	}
	for i := range items {
		if !moved[i] && c.dropSlot(src, &items[i], true, u) {
			dropped++
		}
	}
	return dropped
}

// s3fifo evicts one segment the S3-FIFO way: from the admission pool while
// it holds more than its share of segments (or main has nothing sealed),
// else from main. Items read often enough for their size (s3fifoCredit >
// 0) are copied to the main pool with that credit less one as their
// frequency (CLOCK's second chance); the others are dropped, leaving a
// ghost, so a key that comes
// back goes straight to main. (S3-FIFO proper ghosts only admission
// evictions; ghosting main evictions too remembers more history and
// measured slightly better on the orm-busy and web12 traces.)
func (c *Cache) s3fifo() bool {
	id, compact := c.s3fifoVictim()
	if id == segment.None {
		return false
	}
	victim := c.snapshot(id)
	if !c.claim(id) {
		return false
	}
	var dropped uint64
	var u drainCount
	items := c.liveItems(victim.ID, c.ev.items)
	c.ev.items = items[:0]
	mean := meanSize(items)
	for i := range items {
		it := &items[i]
		// Compaction moves every item with its frequency; eviction
		// moves those with credit left, with one round less.
		freq, move := hashtable.Freq(it.s), compact
		if !compact {
			if credit := s3fifoCredit(freq, len(it.data), mean); credit > 0 {
				freq, move = credit-1, true
			}
		}
		if move {
			if d := c.promoDest(victim, len(it.data)); d >= 0 && c.relocate(victim.ID, d, it, freq, &u) {
				continue
			}
		}
		if c.dropSlot(victim.ID, it, true, &u) {
			dropped++
		}
	}
	c.recycle(victim.ID, u)
	c.evictedItems.Add(dropped)
	if compact {
		c.mergedSegments.Add(1)
	} else {
		c.evictedSegments.Add(1)
	}
	return true
}

// s3fifoVictim returns the segment s3fifo takes: the oldest sealed one of
// the admission pool while it holds more than its share (or main has none
// sealed); else a sparse main segment, to compact (see sparseMainShare);
// else the oldest sealed one of main. None if nothing is sealed.
func (c *Cache) s3fifoVictim() (id int32, compact bool) {
	e := &c.ev
	adm := e.chains.Len(segment.PoolAdmission)
	oldestAdm := c.firstIn(e.chains.PoolHead(segment.PoolAdmission), (*segment.Chains).PoolNext, segment.Sealed)
	oldestMain := c.firstIn(e.chains.PoolHead(segment.PoolMain), (*segment.Chains).PoolNext, segment.Sealed)
	if oldestAdm != segment.None && (float64(adm) > c.opts.S3FIFOAdmissionRatio*float64(c.nseg) || oldestMain == segment.None) {
		return oldestAdm, false
	}
	if oldestMain != segment.None {
		if sp := c.leastUtilized(segment.PoolMain); c.atMostFull(sp, sparseMainShare) {
			return sp, true
		}
	}
	return oldestMain, false
}

const s3fifoMaxFreq = 3

// sparseMainShare: before it evicts main's oldest segment, S3-FIFO
// compacts a sealed main segment at most half full (the least utilized of
// utilSample drawn): every live item moves to the bucket's promotion
// destination with its frequency, and the segment is free. At most half a
// segment is copied for at least half a segment freed. Main segments lose
// items to overwrites (a hot key's new copy goes to main's open segment)
// and, with TTLs spread over more buckets than the cache has segments, are
// sealed partly filled when their buckets give them up while memory is
// scarce (sealLongestOpen, sealLongestPromo; which of the two was not
// traced). Until its turn came, such a segment held a whole segment's
// memory for a few items: with 30% of requests overwriting Zipf keys,
// items took 52 to 59% of the heap; now 65 to 72%, and 7 to 10% fewer
// gets miss (BenchmarkOverwritesMissRatio; BenchmarkManyTTLsMissRatio for
// the TTLs; their comments have the figures). Compacting segments up to a
// quarter full gained nothing with overwrites, up to a third a third as
// much; up to 70 or 80% gained more, but copies 2.3 to 4 bytes per byte
// freed (the replays took 3.9 and 4.8% longer, against 1.2%). Evicting
// the sparse segment the S3-FIFO way instead of compacting it gained
// less. Without overwrites or TTLs no main segment is that sparse: the
// hit-ratio replays of the real traces did not change.
const sparseMainShare = 2

// s3fifoCredit is how many more rounds in main an item of size bytes read
// freq times earns, in a segment whose items average mean bytes: its reads
// per byte, scaled to an item of the mean size, counted to s3fifoMaxFreq
// (an item read a hundred times earns three rounds, not a hundred). With
// sizes that vary, a read of a small item costs less memory per hit than a
// read of a large one: an item larger than mean/freq bytes is dropped.
// With equal sizes it is plain S3-FIFO's min(freq, 3).
func s3fifoCredit(freq uint64, size, mean int) uint64 {
	return min(freq*uint64(mean)/uint64(size), s3fifoMaxFreq)
}

// meanSize returns the mean size of items (1 if there are none).
func meanSize(items []liveItem) int {
	total := 0
	for _, it := range items {
		total += len(it.data)
	}
	return max(total/max(len(items), 1), 1)
}

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

// promoScarce reports whether open segments and promotion destinations
// together take their share of the cache (see ttlShare). The caller holds
// evictMu.
func (c *Cache) promoScarce() bool {
	share := c.nseg / ttlShare
	return len(c.ev.promo)+len(c.ev.promoTail)+int(c.ev.openSegs.Load()) >= share && c.segs.FreeCount() < share
}

// sharedPromoDest returns, while open and promotion segments take their
// share of the cache (see ttlShare), another bucket's promotion segment
// for src's items: of those with room that expire no later than src (an
// item never outlives its TTL), the one that expires last; -1 if none.
// Each TTL bucket that promotes keeps such a segment, partly filled, so
// with TTLs spread over many buckets a small cache held hardly any sealed
// segment. An item that moves there may expire before src promised, as
// if evicted. The choice does not depend on the map's order.
func (c *Cache) sharedPromoDest(src evict.Segment, size int) int32 {
	e := &c.ev
	if src.Expire == 0 || !c.promoScarce() {
		return -1
	}
	best, bestExp := int32(-1), int64(0)
	for _, d := range e.promo {
		dh := &c.segs.Headers[d]
		exp := dh.Expire.Load()
		if exp == 0 || exp > src.Expire || int(dh.WriteOff.Load())+size > c.segSize {
			continue
		}
		if exp > bestExp || exp == bestExp && d < best {
			best, bestExp = d, exp
		}
	}
	if best >= 0 {
		dh := &c.segs.Headers[best]
		dh.NeedUntil.Store(max(dh.NeedUntil.Load(), min(src.NeedUntil, bestExp)))
	}
	return best
}

// sealLongestPromo seals, while open and promotion segments take their
// share of the cache (see ttlShare), the promotion segment that expires
// last, so that one about to be opened keeps the count (its bucket's
// promotions then go to a shorter one's, sharedPromoDest). The choice does
// not depend on the map's order.
func (c *Cache) sealLongestPromo() {
	e := &c.ev
	if !c.promoScarce() {
		return
	}
	b, d, exp := int32(-1), int32(-1), int64(0)
	for pb, pd := range e.promo {
		pe := evict.Expiry(c.segs.Headers[pd].Expire.Load())
		if d < 0 || pe > exp || pe == exp && pd < d {
			b, d, exp = pb, pd, pe
		}
	}
	if d >= 0 {
		c.seal(d, segment.Relocating)
		delete(e.promo, b)
		c.sealPromoTail(b)
	}
}

// sealPromoTail seals bucket b's promotion tail, if it has one.
func (c *Cache) sealPromoTail(b int32) {
	if t, ok := c.ev.promoTail[b]; ok {
		c.seal(t, segment.Relocating)
		delete(c.ev.promoTail, b)
	}
}

// promoFits reports whether promotion segment d takes an item of size
// bytes from src (room, expiry), and if so extends d's promise to src's.
func (c *Cache) promoFits(d int32, src evict.Segment, size int) bool {
	dh := &c.segs.Headers[d]
	if int(dh.WriteOff.Load())+size > c.segSize || !evict.Fits(c.snapshot(d), src) {
		return false
	}
	dh.NeedUntil.Store(max(dh.NeedUntil.Load(), src.NeedUntil))
	return true
}

// promoDest returns the main-pool segment that takes promotions from src's
// TTL bucket, opening a new one when the current one is full or its expiry
// does not fit src's items; the bucket's promotion tail, the destination
// before, first if the item fits there (see tail.go).
func (c *Cache) promoDest(src evict.Segment, size int) int32 {
	e := &c.ev
	if d, ok := e.promoTail[src.Bucket]; ok && c.promoFits(d, src, size) {
		return d
	}
	if d, ok := e.promo[src.Bucket]; ok {
		if c.promoFits(d, src, size) {
			return d
		}
		// Full for this item: the room left at its end may still take
		// smaller ones, so it becomes the bucket's tail (sealing the one
		// before) rather than sealed at once, unless the room is too
		// small to be worth a segment held back from eviction, or the
		// segments kept open already take their share (mayKeepTail).
		delete(e.promo, src.Bucket)
		c.sealPromoTail(src.Bucket)
		dh := &c.segs.Headers[d]
		if c.segSize-int(dh.WriteOff.Load()) >= c.minTail() && c.mayKeepTail(false) {
			e.promoTail[src.Bucket] = d
		} else {
			c.seal(d, segment.Relocating)
		}
	}
	if d := c.sharedPromoDest(src, size); d >= 0 {
		return d
	}
	c.sealLongestPromo()
	d := c.segs.Take(0)
	if d < 0 {
		return -1
	}
	c.segs.Init(d, segment.Relocating, src.Bucket, segment.PoolMain, e.nextStamp(), src.Expire, src.NeedUntil, 0)
	c.list(d, segment.None)
	e.promo[src.Bucket] = d
	return d
}
