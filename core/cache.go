package core

import (
	"errors"
	"fmt"
	"math/bits"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"weak"

	"github.com/segcache/segcache/core/internal/arena"
	"github.com/segcache/segcache/core/internal/hashtable"
	"github.com/segcache/segcache/core/internal/pcount"
	"github.com/segcache/segcache/core/internal/segment"
	"github.com/segcache/segcache/core/internal/spinlock"
	"github.com/segcache/segcache/core/internal/ttl"
)

// stripes serialize the writers of one key (fresh inserts, check-then-act
// of add/replace/cas, in-place increments). Readers never take them.
const stripeCount = 1024

// A set pins at most two segments while it holds its stripe, and only
// writers holding a stripe pin: the segment header's pin count must hold
// twice the stripes (this fails to compile otherwise).
var _ [segment.MaxPins - 2*stripeCount]struct{}

// paddedMutex is a stripe: a lock whose release is a plain store, since
// every write takes and releases one (see package spinlock), alone on its
// cache line.
type paddedMutex struct {
	spinlock.Mutex
	stamp uint32 // stamps of this stripe's writes; guarded by the mutex
	_     [56]byte
}

// The operation counters of Cache.stats.
const (
	statHits = iota
	statMisses
	statSets
	statDeletes
)

// lanes is how many segments of one TTL bucket and pool take writes at
// once in a large cache. A writer uses the lane of the P it runs on, so
// writers on different cores append to different segments and update
// different headers instead of bouncing the same cache lines.
//
// A cache of at least lanesOnCollision segments starts with one lane and
// opens the others the first time two writers hold its open segment at
// once (reserve): a single writer then keeps one lane, so its placements,
// and a single-threaded replay's results, do not depend on the P it runs
// on (Options.Seed), while concurrent writers stop sharing one header
// line (2 goroutines overwriting Zipf keys in 96 segments: 313 -> 240 ns
// per set). Caches of 256 segments or more used to have every lane from
// the start, and two replays into one differed (TestReplayIsDeterministic-
// InALargeCache). Smaller caches keep one lane: partly filled open
// segments would be a large share of their memory.
const (
	lanes            = 4
	lanesOnCollision = 16 * lanes
)

// ttlBucket holds a TTL bucket's open segment for each pool and lane
// (-1 = none).
type ttlBucket struct {
	open [2][lanes]atomic.Int32
}

// Cache is a Segcache instance. Its methods are safe for concurrent use by
// any number of goroutines (and, through capi, threads).
type Cache struct {
	closed atomic.Bool
	live   atomic.Pointer[memory] // nil once closed; see reading

	opts     Options
	policy   Policy
	segSize  int
	nseg     int
	keepFree int           // free segments held back for relocation (merge, s3fifo)
	laneMask atomic.Uint64 // lanes-1 once the cache uses every lane, else 0 (see lanes)

	arena []byte
	segs  *segment.Table
	// ht is the current hashtable. Writers and maintenance read it here:
	// growth holds every stripe and evictMu, so it cannot change while
	// they hold theirs. Lock-free readers read it from live instead, once
	// per operation (see reading).
	ht atomic.Pointer[hashtable.Table]
	// tableBudget is the larger of the initial table and one segment: the
	// cache's memory is at most its segments plus this; growing the table
	// beyond it retires segments worth the difference (see grow).
	tableBudget uint64
	grower      grower

	buckets []ttlBucket
	// tails are the segments that writes filled past their end, kept open
	// for smaller items (see tail), by bucket and pool. The pointer is
	// read by every set, so it sits with the fields that do not change,
	// not beside tailMu.
	tails *tailTable
	// redirect is, per TTL bucket and pool, the shorter bucket its writes
	// go to while open segments are scarce (see ttlShare); 0: none.
	redirect []atomic.Int32
	stripes  []paddedMutex
	stats    pcount.Counters // statHits...: per P, so reads write no shared line and run no atomic RMW

	// evictMu serializes segment allocation, eviction, expiry and clear:
	// all rare next to reads and writes.
	evictMu sync.Mutex
	ev      evictState
	// tailMu serializes the writes into the tails (see tail).
	tailMu sync.Mutex

	evictedItems, expiredItems       atomic.Uint64
	evictedSegments, expiredSegments atomic.Uint64
	mergedSegments, promotedItems    atomic.Uint64
}

func (o *Options) normalize() error {
	if o.HeapBytes == 0 {
		o.HeapBytes = DefaultHeapBytes
	}
	if o.SegmentBytes == 0 {
		o.SegmentBytes = DefaultSegmentBytes
	}
	if o.Eviction == PolicyDefault {
		o.Eviction = DefaultPolicy
	}
	if o.MergeMax == 0 {
		o.MergeMax = 8
	}
	if o.MergeTarget == 0 {
		// Follows MergeMax, so that MergeMax alone may be set below 4.
		o.MergeTarget = min(4, o.MergeMax)
	}
	if o.S3FIFOAdmissionRatio == 0 {
		o.S3FIFOAdmissionRatio = 0.1
	}
	heap := o.HeapBytes - o.HeapBytes%uint64(o.SegmentBytes) // whole segments
	switch {
	case o.SegmentBytes%8 != 0 || o.SegmentBytes < MinSegmentBytes || o.SegmentBytes > MaxSegmentBytes:
		return optionError("SegmentBytes", "%d: want a multiple of 8 in [%d, %d]", o.SegmentBytes, MinSegmentBytes, MaxSegmentBytes)
	case o.HeapBytes/uint64(o.SegmentBytes) < 2:
		return optionError("HeapBytes", "%d holds fewer than 2 segments of SegmentBytes %d", o.HeapBytes, o.SegmentBytes)
	case o.HeapBytes/uint64(o.SegmentBytes) > MaxSegments:
		return optionError("HeapBytes", "%d needs more than %d segments of SegmentBytes %d", o.HeapBytes, MaxSegments, o.SegmentBytes)
	case o.Eviction < PolicyNone || o.Eviction > PolicyS3FIFO:
		return optionError("Eviction", "unknown policy %d", int(o.Eviction))
	case o.HashPower != 0 && (o.HashPower < hashtable.MinPower || o.HashPower > hashtable.MaxPower):
		return optionError("HashPower", "%d outside [%d, %d]", o.HashPower, hashtable.MinPower, hashtable.MaxPower)
	case o.HashPower != 0 && hashtableBytes(o.HashPower) > heap:
		// Items take at least 16 bytes, so a table of more than one 8-byte
		// slot per 8 heap bytes can never fill; it only costs memory and
		// time (clearing a 4 GiB table for a 1 MiB heap took over a second).
		return optionError("HashPower", "%d maps a %d-byte table, larger than the %d-byte heap (HeapBytes)", o.HashPower, hashtableBytes(o.HashPower), heap)
	case o.MergeMax < 2 || o.MergeMax > 64:
		return optionError("MergeMax", "%d outside [2, 64]", o.MergeMax)
	case o.MergeTarget < 2 || o.MergeTarget > o.MergeMax:
		return optionError("MergeTarget", "%d outside [2, MergeMax %d]", o.MergeTarget, o.MergeMax)
	case o.MergeCompact < 0 || o.MergeCompact > 64:
		return optionError("MergeCompact", "%d outside [0, 64]", o.MergeCompact)
	case !(o.S3FIFOAdmissionRatio >= 0.01 && o.S3FIFOAdmissionRatio <= 0.9):
		return optionError("S3FIFOAdmissionRatio", "%v outside [0.01, 0.9]", o.S3FIFOAdmissionRatio)
	}
	if o.HashPower == 0 {
		o.HashPower = autoHashPower(o.HeapBytes)
	}
	return nil
}

// optionError is the error of an invalid option: it wraps ErrInvalid and
// starts with the field's name, so that a caller can tell which one to fix.
func optionError(field, format string, args ...any) error {
	return fmt.Errorf("%w: %s %s", ErrInvalid, field, fmt.Sprintf(format, args...))
}

// hashtableBytes is the memory of a table of 2^power 8-byte slots.
func hashtableBytes(power uint32) uint64 { return 8 << power }

// autoHashPower is the initial table for items of about 256 bytes: one
// slot per 256 heap bytes, rounded up to a power of two, so 1/32 to 1/16
// of the heap (3-6%). Caches of smaller items grow it when it fills (paying
// with segments); caches of larger items, which would leave most slots of
// a bigger table empty, keep it.
func autoHashPower(heap uint64) uint32 {
	p := uint32(bits.Len64(heap/256 - 1))
	return min(max(p, hashtable.MinPower), hashtable.MaxPower)
}

// Open creates a cache. Zero fields of opts take their defaults; invalid
// options return an error wrapping ErrInvalid.
func Open(opts Options) (*Cache, error) {
	if err := opts.normalize(); err != nil {
		return nil, err
	}
	c := &Cache{opts: opts, policy: opts.Eviction, segSize: int(opts.SegmentBytes)}
	c.nseg = int(opts.HeapBytes / uint64(opts.SegmentBytes))
	if c.policy == PolicyMerge || c.policy == PolicyS3FIFO {
		c.keepFree = 1
	}
	var err error
	if c.arena, err = arena.Map(c.nseg * c.segSize); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoMemory, err)
	}
	ht, err := hashtable.New(opts.HashPower)
	if err != nil {
		_ = arena.Unmap(c.arena)
		return nil, fmt.Errorf("%w: %v", ErrNoMemory, err)
	}
	if opts.Prefault {
		arena.Prefault(c.arena)
		arena.Prefault(ht.Memory())
	}
	c.ht.Store(ht)
	// Retiring whole segments for a table smaller than one would give up
	// more memory than the table takes: a table up to a segment's size
	// is paid by the budget itself.
	c.tableBudget = max(ht.Bytes(), uint64(c.segSize))
	c.live.Store(&memory{arena: c.arena, ht: ht})
	c.segs = segment.NewTable(c.nseg, c.segSize)
	c.buckets = make([]ttlBucket, ttl.Count)
	c.redirect = make([]atomic.Int32, 2*ttl.Count)
	for i := range c.buckets {
		for p := range c.buckets[i].open {
			for l := range c.buckets[i].open[p] {
				c.buckets[i].open[p][l].Store(-1)
			}
		}
	}
	c.stripes = make([]paddedMutex, stripeCount)
	c.tails = new(tailTable)
	c.ev.init(c)
	return c, nil
}

// Close releases the cache's memory. Calls racing with Close either finish
// normally or return ErrClosed (Get reports a miss); none touches freed
// memory. A second Close returns ErrClosed. Close returns the memory's
// address range to the system before it returns; to know that no reader is
// still copying from it, it runs the garbage collector (see unmapUnused),
// so it costs a collection of the Go heap.
func (c *Cache) Close() error {
	if !c.closed.CompareAndSwap(false, true) {
		return ErrClosed
	}
	// Writers hold their stripe for the whole operation and check closed
	// under it; maintenance holds evictMu. Taking them all waits out every
	// writer in flight.
	for i := range c.stripes {
		c.stripes[i].Lock()
	}
	c.evictMu.Lock()
	// Readers take no lock; bumping every generation makes an in-flight
	// read fail its validation instead of returning bytes that are no
	// longer this cache's.
	for i := range c.segs.Headers {
		c.segs.Headers[i].Gen.Add(1)
	}
	m := c.live.Swap(nil)
	c.evictMu.Unlock()
	for i := range c.stripes {
		c.stripes[i].Unlock()
	}
	// A growth that published before the swap may still be waiting to
	// unmap the table it replaced; readers of that table also read the
	// arena, so the arena goes only after they are done too.
	c.grower.unmapping.Wait()
	return unmapUnused(m, m.arena, m.ht.Memory())
}

// memory is the cache's mapped memory. Lock-free readers hold a pointer to
// it (from Cache.live, nil once closed) for as long as they touch the arena
// or the hashtable, so the garbage collector tells when the last one is
// done: the memory object becomes unreachable. Growth publishes a new
// memory object with the new table, so the old one tells when the old
// table's last reader is done.
type memory struct {
	arena []byte
	ht    *hashtable.Table
}

// reading returns the cache's memory for a lock-free reader, or nil if the
// cache is closed, in which case the reader must not touch the arena or
// the hashtable. The reader keeps the pointer alive (runtime.KeepAlive)
// until after its last access to either.
func (c *Cache) reading() *memory { return c.live.Load() }

// unmapUnused unmaps regions (parts of m) once no reader holds m. The
// caller dropped the only other reference (Cache.live: Close cleared it,
// growth replaced it); readers that loaded it before keep it reachable
// until they are done, and a full collection is the one way to learn that
// none does any more. It usually takes one collection: reads last
// nanoseconds.
func unmapUnused(m *memory, regions ...[]byte) error {
	w := weak.Make(m)
	m = nil
	for wait := time.Microsecond; ; wait = min(2*wait, 10*time.Millisecond) {
		runtime.GC()
		if w.Value() == nil {
			break
		}
		time.Sleep(wait)
	}
	var errs []error
	for _, r := range regions {
		errs = append(errs, arena.Unmap(r))
	}
	return errors.Join(errs...)
}

// table returns the current hashtable, for writers (holding their key's
// stripe) and maintenance (holding evictMu): growth, which needs all of
// those locks, cannot replace it while they hold theirs.
func (c *Cache) table() *hashtable.Table { return c.ht.Load() }

// Stats returns a snapshot of the counters.
func (c *Cache) Stats() Stats {
	var s Stats
	s.Hits, s.Misses = c.stats.Sum(statHits), c.stats.Sum(statMisses)
	s.Sets, s.Deletes = c.stats.Sum(statSets), c.stats.Sum(statDeletes)
	s.Gets = s.Hits + s.Misses
	items, bytes, free := c.liveTotals()
	s.Items, s.ItemBytes = uint64(max(items, 0)), uint64(max(bytes, 0))
	s.HeapBytes = uint64(c.nseg * c.segSize)
	s.HashtableBytes = c.table().Bytes()
	s.SegmentsTotal = uint64(c.nseg)
	// Retired segments stay Free, so free counts them; max guards a
	// growth that retired a segment after the count.
	retired := c.grower.retiredCount.Load()
	s.SegmentsFree = uint64(max(int64(free)-int64(retired), 0))
	s.SegmentsRetired = retired
	s.HashtableGrowths = c.grower.growths.Load()
	s.EvictedItems = c.evictedItems.Load()
	s.ExpiredItems = c.expiredItems.Load()
	s.EvictedSegments = c.evictedSegments.Load()
	s.ExpiredSegments = c.expiredSegments.Load()
	s.MergedSegments = c.mergedSegments.Load()
	s.PromotedItems = c.promotedItems.Load()
	return s
}

// liveTotals sums the live items and bytes of the segments' counters, and
// counts the Free segments (retired ones included): O(segments).
func (c *Cache) liveTotals() (items, bytes int64, free int) {
	for i := range c.segs.Headers {
		h := &c.segs.Headers[i]
		if h.State() == segment.Free {
			free++
			continue
		}
		n, b := h.Live()
		items += int64(n)
		bytes += int64(b)
	}
	return items, bytes, free
}

// Len returns the number of live items (see Stats: expired items count
// until Expire drops their segments).
func (c *Cache) Len() int { return int(c.Stats().Items) }

// segBytes returns segment id's bytes.
func (c *Cache) segBytes(id int32) []byte {
	o := int(id) * c.segSize
	return c.arena[o : o+c.segSize : o+c.segSize]
}
