package core

import (
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
	// PolicyNone fails the write instead of evicting: that must mean the
	// table really may not grow now, so it looks every time.
	return c.grower.fullPairs.Add(1) >= c.grower.nextCheck.Load() || c.policy == PolicyNone
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
// It stops every writer and every drain (all stripes, then evictMu, the
// order writers take them in), retires the segments the bigger table
// costs, copies every entry into the new table (on GOMAXPROCS goroutines:
// every writer waits for the copy), and publishes it with one atomic
// store of Cache.ht and of Cache.live. Lock-free readers keep using
// the old table meanwhile: nothing changes it while the locks are held, so
// what they find there is what the new table holds. A reader that loaded
// the old table before the publish and misses looks again in the new one
// (read's errTableMoved), and what it finds in the old one after the
// publish was current when it started. The old table is unmapped once no
// reader holds the memory object that pointed to it.
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

// growAndPublish is grow's part under the locks: it reports whether it
// published a new table (and the memory object it replaced), and whether
// the table changed since seen, by this call or another. Every lock is
// released by a deferred call: a panic here (only a bug could raise one)
// reaches the caller, where the C exports recover it, and must not leave
// every writer of the cache blocked on a stripe forever.
func (c *Cache) growAndPublish(seen *hashtable.Table) (old *memory, grew, changed bool) {
	g := &c.grower
	g.mu.Lock()
	defer g.mu.Unlock()
	if c.table() != seen {
		return nil, false, true
	}
	if c.closed.Load() || !c.growthPays(seen) {
		g.refuse(seen)
		return nil, false, false
	}
	for i := range c.stripes {
		c.stripes[i].Lock()
	}
	c.evictMu.Lock()
	defer func() {
		c.evictMu.Unlock()
		for i := range c.stripes {
			c.stripes[i].Unlock()
		}
	}()
	next, ok := c.growLocked(seen)
	if !ok {
		g.refuse(seen)
		return nil, false, false
	}
	c.ht.Store(next)
	old = c.live.Swap(&memory{arena: c.arena, ht: next})
	g.growths.Add(1)
	g.nextCheck.Store(0)
	g.unmapping.Add(1)
	return old, true, true
}

// growHook, when set (by a test), runs in growLocked before the copy.
var growHook func()

// growLocked builds the doubled table of seen, retiring segments to pay
// for it first (so that its drains, which use the current table, finish
// before the copy). The caller holds every stripe and evictMu. On failure,
// and on a panic, it gives back what it retired and unmaps the new table
// (nobody has seen it).
func (c *Cache) growLocked(seen *hashtable.Table) (_ *hashtable.Table, ok bool) {
	if c.closed.Load() {
		return nil, false
	}
	had := len(c.grower.retired)
	next, err := hashtable.New(seen.Power() + 1)
	if err != nil {
		return nil, false
	}
	defer func() {
		if !ok {
			c.unretireLocked(had)
			_ = arena.Unmap(next.Memory())
		}
	}()
	if c.retireLocked(c.retireFor(next.Bytes())) != nil {
		return nil, false
	}
	if growHook != nil {
		growHook()
	}
	if err := seen.CopyInto(next, c.hashOfEntry, c.prefetchEntry, runtime.GOMAXPROCS(0)); err != nil {
		return nil, false
	}
	return next, true
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
