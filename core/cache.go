package core

import (
	"fmt"
	"math/bits"
	"sync"
	"sync/atomic"

	"github.com/segcache/segcache/core/internal/arena"
	"github.com/segcache/segcache/core/internal/hashtable"
	"github.com/segcache/segcache/core/internal/proc"
	"github.com/segcache/segcache/core/internal/segment"
	"github.com/segcache/segcache/core/internal/ttl"
)

// stripes serialize the writers of one key (fresh inserts, check-then-act
// of add/replace/cas, in-place increments). Readers never take them.
const stripeCount = 1024

// statShards spread the hit/miss/set counters so that two threads never
// write one cache line per read (see shard).
const statShards = 64

type paddedMutex struct {
	sync.Mutex
	stamp uint32 // stamps of this stripe's writes; guarded by the mutex
	_     [52]byte
}

type statShard struct {
	hits, misses, sets, deletes atomic.Uint64
	_                           [32]byte
}

// lanes is how many segments of one TTL bucket and pool take writes at
// once in a large cache. A writer uses the lane of the P it runs on, so
// writers on different cores append to different segments and update
// different headers instead of bouncing the same cache lines.
const lanes = 4

// ttlBucket holds a TTL bucket's open segment for each pool and lane
// (-1 = none).
type ttlBucket struct {
	open [2][lanes]atomic.Int32
}

// Cache is a Segcache instance. Its methods are safe for concurrent use by
// any number of goroutines (and, through capi, threads).
type Cache struct {
	closed atomic.Bool

	opts     Options
	policy   Policy
	segSize  int
	nseg     int
	keepFree int // free segments held back for relocation (merge, s3fifo)
	laneMask uint64

	arena []byte
	segs  *segment.Table
	ht    *hashtable.Table

	buckets []ttlBucket
	stripes []paddedMutex
	stats   [statShards]statShard

	// evictMu serializes segment allocation, eviction, expiry and clear:
	// all rare next to reads and writes.
	evictMu sync.Mutex
	ev      evictState

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
		o.Eviction = PolicyMerge
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
	switch {
	case o.SegmentBytes%8 != 0 || o.SegmentBytes < MinSegmentBytes || o.SegmentBytes > MaxSegmentBytes:
		return fmt.Errorf("%w: segment size %d: want a multiple of 8 in [%d, %d]", ErrInvalid, o.SegmentBytes, MinSegmentBytes, MaxSegmentBytes)
	case o.HeapBytes/uint64(o.SegmentBytes) < 2:
		return fmt.Errorf("%w: heap of %d bytes holds fewer than 2 segments of %d", ErrInvalid, o.HeapBytes, o.SegmentBytes)
	case o.HeapBytes/uint64(o.SegmentBytes) > MaxSegments:
		return fmt.Errorf("%w: heap of %d bytes needs more than %d segments of %d", ErrInvalid, o.HeapBytes, MaxSegments, o.SegmentBytes)
	case o.Eviction < PolicyNone || o.Eviction > PolicyS3FIFO:
		return fmt.Errorf("%w: unknown eviction policy %d", ErrInvalid, int(o.Eviction))
	case o.HashPower != 0 && (o.HashPower < hashtable.MinPower || o.HashPower > hashtable.MaxPower):
		return fmt.Errorf("%w: hash power %d outside [%d, %d]", ErrInvalid, o.HashPower, hashtable.MinPower, hashtable.MaxPower)
	case o.MergeMax < 2 || o.MergeMax > 64:
		return fmt.Errorf("%w: MergeMax %d outside [2, 64]", ErrInvalid, o.MergeMax)
	case o.MergeTarget < 2 || o.MergeTarget > o.MergeMax:
		return fmt.Errorf("%w: MergeTarget %d outside [2, MergeMax %d]", ErrInvalid, o.MergeTarget, o.MergeMax)
	case o.MergeCompact < 0 || o.MergeCompact > 64:
		return fmt.Errorf("%w: MergeCompact %d outside [0, 64]", ErrInvalid, o.MergeCompact)
	case !(o.S3FIFOAdmissionRatio >= 0.01 && o.S3FIFOAdmissionRatio <= 0.9):
		return fmt.Errorf("%w: s3fifo admission ratio %v outside [0.01, 0.9]", ErrInvalid, o.S3FIFOAdmissionRatio)
	}
	if o.HashPower == 0 {
		o.HashPower = autoHashPower(o.HeapBytes)
	}
	return nil
}

// autoHashPower sizes the table for items of about 64 bytes: one slot per
// 64 heap bytes, rounded up to a power of two.
func autoHashPower(heap uint64) uint32 {
	p := uint32(bits.Len64(heap/64 - 1))
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
	if c.ht, err = hashtable.New(opts.HashPower); err != nil {
		arena.Release(c.arena)
		return nil, fmt.Errorf("%w: %v", ErrNoMemory, err)
	}
	c.segs = segment.NewTable(c.nseg, c.segSize)
	c.buckets = make([]ttlBucket, ttl.Count)
	for i := range c.buckets {
		for p := range c.buckets[i].open {
			for l := range c.buckets[i].open[p] {
				c.buckets[i].open[p][l].Store(-1)
			}
		}
	}
	// Small caches keep one lane: partly filled open segments would be a
	// large share of their memory.
	if c.nseg >= 64*lanes {
		c.laneMask = lanes - 1
	}
	c.stripes = make([]paddedMutex, stripeCount)
	c.ev.init(c)
	return c, nil
}

// Close releases the cache's memory. Calls racing with Close either finish
// normally or return ErrClosed (Get reports a miss); none touches freed
// memory. A second Close returns ErrClosed.
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
	// read fail its validation instead of returning bytes of a reused range.
	for i := range c.segs.Headers {
		c.segs.Headers[i].Gen.Add(1)
	}
	arena.Release(c.arena)
	c.ht.Release()
	c.evictMu.Unlock()
	for i := range c.stripes {
		c.stripes[i].Unlock()
	}
	return nil
}

// shard picks the stat shard of the caller's P: goroutines running at
// the same time use different shards, so no counter line is written by
// every read on every thread.
func (c *Cache) shard() *statShard {
	return &c.stats[proc.ID()&(statShards-1)]
}

// Stats returns a snapshot of the counters.
func (c *Cache) Stats() Stats {
	var s Stats
	for i := range c.stats {
		sh := &c.stats[i]
		s.Hits += sh.hits.Load()
		s.Misses += sh.misses.Load()
		s.Sets += sh.sets.Load()
		s.Deletes += sh.deletes.Load()
	}
	s.Gets = s.Hits + s.Misses
	var items, bytes int64
	free := 0
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
	s.Items, s.ItemBytes = uint64(max(items, 0)), uint64(max(bytes, 0))
	s.HeapBytes = uint64(c.nseg * c.segSize)
	s.HashtableBytes = c.ht.Bytes()
	s.SegmentsTotal = uint64(c.nseg)
	s.SegmentsFree = uint64(free)
	s.EvictedItems = c.evictedItems.Load()
	s.ExpiredItems = c.expiredItems.Load()
	s.EvictedSegments = c.evictedSegments.Load()
	s.ExpiredSegments = c.expiredSegments.Load()
	s.MergedSegments = c.mergedSegments.Load()
	s.PromotedItems = c.promotedItems.Load()
	return s
}

// Len returns the number of live items.
func (c *Cache) Len() int { return int(c.Stats().Items) }

// segBytes returns segment id's bytes.
func (c *Cache) segBytes(id int32) []byte {
	o := int(id) * c.segSize
	return c.arena[o : o+c.segSize : o+c.segSize]
}
