package core

import (
	"math"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/segcache/segcache/core/internal/arena"
	"github.com/segcache/segcache/core/internal/hashtable"
)

// grower is the state of hashtable growth.
//
// The table doubles when a fresh key finds both its buckets full and no
// entry there can move to its other bucket, the table is at least half
// full (so a pair filled by chance in a sparse table does not double it),
// and the doubling pays: the segments retired to pay for it (see
// retireFor) would still hold every item live now. Otherwise the insert
// does what it did before growth existed: it evicts the coldest entry of
// the pair, or fails with ErrNoSpace under PolicyNone. Growth on failure,
// not at a load-factor threshold, because one-level displacement fills
// the table to about 95% before a pair stays full: a threshold would
// double it earlier and spend memory on empty slots.
type grower struct {
	mu sync.Mutex // serializes growths

	copying      atomic.Bool // a growth is under way
	growths      atomic.Uint64
	retiredCount atomic.Uint64 // len(retired), for Stats
	retired      []int32       // segments that pay for the table; guarded by evictMu

	// After a refused growth, full pairs are counted and growth is looked
	// at again only after nextCheck of them, so that a cache whose table
	// may not grow does not count its items on every insert (the
	// policies that evict; PolicyNone looks every time).
	fullPairs atomic.Uint64
	nextCheck atomic.Uint64

	// unmapping counts growths waiting for the readers of the table they
	// replaced; Close waits for them before it unmaps the arena, which
	// those readers may also be reading.
	unmapping sync.WaitGroup
}

// wantGrow is asked by an insert that found its bucket pair in t full and
// could not displace anything: should it let go of its lock and grow the
// table (grow) instead of evicting or failing?
func (c *Cache) wantGrow(t *hashtable.Table) bool {
	if t.Power() >= hashtable.MaxPower {
		return false
	}
	// While a growth makes its passes, the insert waits for it (grow
	// blocks on its lock, then finds the table changed) unless its policy
	// may evict and the cache is evicting anyway (see full). A cache with
	// free memory must not lose an item to a growth (a bulk load lost
	// 0.3% of its items when every policy but none evicted here), and a
	// full cache should not stall a writer for the growth of a table
	// whose items it evicts anyway.
	if c.grower.copying.Load() {
		return c.policy == PolicyNone || !c.full()
	}
	// PolicyNone fails the write instead of evicting: that must mean the
	// table really may not grow now, so it looks every time.
	return c.grower.fullPairs.Add(1) >= c.grower.nextCheck.Load() || c.policy == PolicyNone
}

// full reports whether the cache opens segments by evicting: no more
// segments are free than those held back for relocation, give or take a
// margin of 1/32 of all of them (a full cache's free list comes and goes
// by a few at a time: a merge step frees a source, the reclaim of emptied
// segments frees several).
func (c *Cache) full() bool {
	return c.segs.FreeCount() <= c.keepFree+max(2, c.nseg/32)
}

// coolingDown reports whether a growth was refused within the last
// nextCheck full pairs: the table is not going to grow soon.
func (g *grower) coolingDown() bool { return g.fullPairs.Load() < g.nextCheck.Load() }

// refuse notes that growing seen does not pay now: look again after a
// number of full pairs proportional to the table's size.
func (g *grower) refuse(seen *hashtable.Table) {
	g.nextCheck.Store(g.fullPairs.Load() + max(16, seen.Slots()/64))
}

// grow doubles the table if it is still seen and doubling pays. The
// caller holds no lock. It reports whether the table changed since seen
// (by this call or another), in which case the caller's insert should
// look again.
//
// Growth makes its copy in passes (see hashtable.CopyInto) so that
// writers wait only for the last, which visits only the buckets they
// changed since the pass before it. First, holding no lock but evictMu
// for a moment, it retires the segments the bigger table costs, has the
// old table mark every bucket a transition changes (Track), and copies
// every entry into the new table while writers go on changing the old
// one (on GOMAXPROCS-1 goroutines, and on any writer about to wait for
// the growth, see hashtable.HelpCopy; this pass reads every entry's item
// for its hash and takes most of the time). Then, still beside the writers,
// it passes once over every bucket (carrying the frequencies over) and
// then over the marked ones, while each pass finds fewer. Last, it stops
// every writer and every drain (all stripes, then evictMu, the order
// writers take them in), brings the buckets still marked up to date, and
// publishes the new table with one atomic store of Cache.ht and of
// Cache.live. Frequency bumps mark nothing: a bucket the last passes did
// not visit keeps the frequencies of the full pass. An insert that finds
// its pair full while the passes run waits for the growth, unless the
// cache is evicting anyway (no segment free beyond those held back) and
// its policy may evict: then it evicts as if growth had been refused
// (see wantGrow).
//
// Lock-free readers keep using the old table until the publish: writers
// change it until the last pass, and nothing does then, so what they
// find there is what the new table holds. A reader that loaded the old
// table before the publish and misses looks again in the new one (read's
// errTableMoved), and what it finds in the old one after the publish was
// current when it started. The old table is unmapped once no reader holds
// the memory object that pointed to it.
func (c *Cache) grow(seen *hashtable.Table) bool {
	old, grew, changed := c.growAndPublish(seen)
	if !grew {
		return changed
	}
	// An unmap error (only with a corrupted range) leaves the old table
	// mapped: address space lost, but nothing faults.
	_ = unmapUnused(old, seen.Memory())
	c.grower.unmapping.Done()
	return true
}

// growAndPublish is grow without the unmapping: it reports whether it
// published a new table (and the memory object it replaced), and whether
// the table changed since seen, by this call or another. Every lock is
// released by a deferred call: a panic here (only a bug could raise one)
// reaches the caller, where the C exports recover it, and must not leave
// every writer of the cache blocked on a stripe forever, nor segments
// retired for a table that was never published.
func (c *Cache) growAndPublish(seen *hashtable.Table) (old *memory, grew, changed bool) {
	g := &c.grower
	if g.copying.Load() {
		if growWaiting != nil {
			growWaiting()
		}
		// About to wait for a growth: copy some of it meanwhile (its
		// first pass takes most of its time, on one goroutine fewer than
		// GOMAXPROCS: a waiting writer's P is free).
		seen.HelpCopy()
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if c.table() != seen {
		return nil, false, true
	}
	if c.closed.Load() || !c.growthPays(seen) {
		g.refuse(seen)
		return nil, false, false
	}
	g.copying.Store(true)
	defer g.copying.Store(false)
	gr, ok := c.startGrowth(seen)
	if !ok {
		g.refuse(seen)
		return nil, false, false
	}
	published := false
	defer func() { // after the locks below are released
		if !published {
			c.abandonGrowth(gr)
		}
	}()
	c.lockAll()
	defer c.unlockAll()
	if !c.finishGrowthLocked(gr) {
		g.refuse(seen)
		return nil, false, false
	}
	c.ht.Store(gr.next)
	old = c.live.Swap(&memory{arena: c.arena, ht: gr.next})
	published = true
	seen.Untrack() // no writer can reach it any more
	g.growths.Add(1)
	g.nextCheck.Store(0)
	g.unmapping.Add(1)
	return old, true, true
}

// lockAll takes every stripe, then evictMu: it waits out every writer and
// every drain.
func (c *Cache) lockAll() {
	for i := range c.stripes {
		c.stripes[i].Lock()
	}
	c.evictMu.Lock()
}

// unlockAll releases what lockAll took.
func (c *Cache) unlockAll() {
	c.evictMu.Unlock()
	for i := range c.stripes {
		c.stripes[i].Unlock()
	}
}

// maxLivePasses bounds the CatchUpLive passes over marked buckets of a
// growth, and minLiveMarked is the number of marked buckets below which
// one more would not shorten the last pass by much (some tens of
// microseconds).
const (
	maxLivePasses = 8
	minLiveMarked = 256
)

// growth is a doubling between its first passes and its last.
type growth struct {
	seen, next *hashtable.Table
	had        int // segments retired before this growth
}

// Test hooks, nil unless a test sets them: growCopied runs after the
// passes beside the writers, holding no lock; growHook runs under every
// lock, before the last pass; growWaiting runs when a caller of grow is
// about to wait for a growth under way.
var growCopied, growHook, growWaiting func()

// startGrowth maps the doubled table of seen, retires segments to pay for
// it (holding evictMu, so that their drains, which use the current table,
// are done before the copy starts), and makes the passes of the copy that
// run beside the writers, holding no lock. On failure, and on a panic, it
// undoes what it did.
func (c *Cache) startGrowth(seen *hashtable.Table) (gr *growth, ok bool) {
	// The first pass reads the table and the arena without a lock: a
	// Close meanwhile unmaps neither while m is reachable (unmapUnused).
	m := c.live.Load()
	if m == nil || m.ht != seen {
		return nil, false
	}
	next, err := hashtable.New(seen.Power() + 1)
	if err != nil {
		return nil, false
	}
	gr = &growth{seen: seen, next: next}
	defer func() {
		if !ok {
			c.abandonGrowth(gr)
		}
	}()
	if !c.retireForGrowth(gr) {
		return gr, false
	}
	// One P fewer than the process has: the writers go on meanwhile (a
	// cgo call from a C thread needs a P too), and with every P copying
	// a writer waited for the scheduler's time slice, 10 ms.
	workers := max(1, runtime.GOMAXPROCS(0)-1)
	// From here on every transition marks the bucket it changed.
	seen.Track()
	err = seen.CopyLive(next, c.hashOfEntry, c.prefetchEntry, workers)
	// Then bring the copy up to date with what writers changed meanwhile,
	// again beside them: once over every bucket, which also carries the
	// frequencies over, then over the marked ones while each pass finds
	// fewer (a pass takes about half as long as the one before when a
	// writer changes a bucket per set as fast as it can), so that the
	// pass writers wait for (CatchUp) has few to visit.
	if err == nil {
		_, err = seen.CatchUpLive(next, c.hashOfEntry, c.prefetchEntry, workers, true)
	}
	for pass, last := 0, math.MaxInt; err == nil && pass < maxLivePasses; pass++ {
		var marked int
		marked, err = seen.CatchUpLive(next, c.hashOfEntry, c.prefetchEntry, workers, false)
		if marked < minLiveMarked || marked >= last {
			break
		}
		last = marked
	}
	runtime.KeepAlive(m)
	if err != nil {
		return gr, false
	}
	if growCopied != nil {
		growCopied()
	}
	return gr, true
}

// retireForGrowth retires the segments gr's table costs, holding evictMu.
func (c *Cache) retireForGrowth(gr *growth) bool {
	c.evictMu.Lock()
	defer c.evictMu.Unlock()
	gr.had = len(c.grower.retired)
	return c.retireLocked(c.retireFor(gr.next.Bytes())) == nil
}

// finishGrowthLocked makes the last pass of the copy, unless the cache
// was closed meanwhile (its arena and table may be unmapped once the
// locks are released). The caller holds every lock (lockAll).
func (c *Cache) finishGrowthLocked(gr *growth) bool {
	if c.closed.Load() {
		return false
	}
	if growHook != nil {
		growHook()
	}
	return gr.seen.CatchUp(gr.next, c.hashOfEntry, c.prefetchEntry, runtime.GOMAXPROCS(0)) == nil
}

// abandonGrowth gives back the segments retired for gr's table and unmaps
// it (nobody has seen it). The caller holds no lock.
func (c *Cache) abandonGrowth(gr *growth) {
	gr.seen.Untrack()
	c.evictMu.Lock()
	c.unretireLocked(gr.had)
	c.evictMu.Unlock()
	_ = arena.Unmap(gr.next.Memory())
}

// growthPays reports whether doubling seen is worth its memory: the table
// is at least half full of live items (a full pair is not chance), and the
// segments left after retiring those the new table costs still hold every
// live item, with room for the open and spare segments.
func (c *Cache) growthPays(seen *hashtable.Table) bool {
	items, bytes, _ := c.liveTotals()
	if uint64(items) < seen.Slots()/2 {
		return false
	}
	c.evictMu.Lock()
	retired := len(c.grower.retired)
	c.evictMu.Unlock()
	need := c.retireFor(2 * seen.Bytes())
	if need <= retired {
		return true // the budget already pays for it
	}
	left := c.nseg - need
	return left >= 2+c.keepFree && bytes <= int64(left-1-c.keepFree)*int64(c.segSize)
}

// retireFor is how many segments must be retired in total while the table
// is tableBytes large: the table's growth beyond tableBudget, in
// whole segments rounded up, so that segments plus table never take more
// than HeapBytes plus tableBudget.
func (c *Cache) retireFor(tableBytes uint64) int {
	if tableBytes <= c.tableBudget {
		return 0
	}
	seg := uint64(c.segSize)
	return int((tableBytes - c.tableBudget + seg - 1) / seg)
}

// retireLocked takes segments out of use until n are retired: each is
// taken like a segment for new items (evicting if the policy does, never
// under PolicyNone), kept off the free list, and its pages returned to
// the system. The caller holds evictMu.
func (c *Cache) retireLocked(n int) error {
	g := &c.grower
	for len(g.retired) < n {
		id, err := c.allocLocked(c.keepFree)
		if err != nil {
			return err
		}
		// Pages only: readers may still follow stale locations here,
		// and the generation bumped by its last recycle fails them.
		_ = arena.Release(c.segBytes(id))
		g.retired = append(g.retired, id)
		g.retiredCount.Store(uint64(len(g.retired)))
	}
	return nil
}

// unretireLocked returns the segments retired beyond the first keep to
// the free list (a growth that failed after retiring them).
func (c *Cache) unretireLocked(keep int) {
	g := &c.grower
	for len(g.retired) > keep {
		id := g.retired[len(g.retired)-1]
		g.retired = g.retired[:len(g.retired)-1]
		c.segs.Recycle(id) // ours alone: off the free list, never opened
	}
	g.retiredCount.Store(uint64(len(g.retired)))
}

// prefetchEntry starts loading the item slot s links (a hint: a stale
// location only costs a useless load).
func (c *Cache) prefetchEntry(s uint64) { c.prefetchItemLine(s, false) }
