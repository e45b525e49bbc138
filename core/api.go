package core

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Limits of the item format.
const (
	// MaxKeyLen is the longest key accepted, in bytes. Keys are 1 to 255 bytes.
	MaxKeyLen = 255
	// MaxSegmentBytes is the largest segment size: an item's offset in its
	// segment is stored in 20 bits of 8-byte units.
	MaxSegmentBytes = 8 << 20
	// MinSegmentBytes is the smallest segment size accepted.
	MinSegmentBytes = 4096
	// MaxSegments bounds the segment count: a location holds an 18-bit
	// segment id, and the all-ones id is reserved for ghost entries.
	MaxSegments = 1<<18 - 1
	// DefaultHeapBytes and DefaultSegmentBytes are the defaults of Options.
	DefaultHeapBytes    = 64 << 20
	DefaultSegmentBytes = 1 << 20
)

// Errors returned by the engine. Compare with errors.Is: returned errors
// may wrap these with detail.
var (
	ErrNotFound     = errors.New("segcache: not found")
	ErrExists       = errors.New("segcache: exists")
	ErrNotNumeric   = errors.New("segcache: value is not a canonical unsigned decimal number")
	ErrKeyEmpty     = errors.New("segcache: empty key")
	ErrKeyTooLarge  = errors.New("segcache: key longer than 255 bytes")
	ErrItemTooLarge = errors.New("segcache: item larger than a segment")
	ErrNoSpace      = errors.New("segcache: no space (nothing could be evicted or expired)")
	ErrInvalid      = errors.New("segcache: invalid option or argument")
	ErrClosed       = errors.New("segcache: cache is closed")
	ErrNoMemory     = errors.New("segcache: cannot allocate memory")
	ErrBufferSmall  = errors.New("segcache: buffer too small")
)

// Policy selects how segments are chosen for eviction when the cache is full.
type Policy int

// The eviction policies. The zero value, PolicyDefault, means DefaultPolicy.
const (
	PolicyDefault    Policy = iota
	PolicyNone              // never evict: writes fail with ErrNoSpace once full and nothing expired (full for the item's size: a smaller one may still fit the room a larger one left)
	PolicyRandom            // evict a random sealed segment
	PolicyRandomFIFO        // pick a random TTL bucket, evict its oldest segment
	PolicyFIFO              // evict the oldest segment
	PolicyCTE               // evict the segment closest to expiration
	PolicyUtil              // evict the segment with the fewest live bytes
	PolicyMerge             // the paper's: merge consecutive segments keeping frequent items
	PolicyS3FIFO            // admission and main pools with a ghost set (S3-FIFO over segments)
)

// DefaultPolicy is the policy of PolicyDefault: of the policies, S3-FIFO
// misses least on the hit-ratio benchmark's real traces at every budget,
// with fixed and with variable value sizes.
const DefaultPolicy = PolicyS3FIFO

var policyNames = [...]string{"default", "none", "random", "random_fifo", "fifo", "cte", "util", "merge", "s3fifo"}

// String returns the policy's name as accepted by ParsePolicy.
func (p Policy) String() string {
	if p < 0 || int(p) >= len(policyNames) {
		return fmt.Sprintf("Policy(%d)", int(p))
	}
	return policyNames[p]
}

// ParsePolicy maps a policy name ("none", "random", "random_fifo", "fifo",
// "cte", "util", "merge", "s3fifo"; case-insensitive, "-" allowed for "_")
// to its Policy.
func ParsePolicy(name string) (Policy, error) {
	n := strings.ReplaceAll(strings.ToLower(name), "-", "_")
	for i, s := range policyNames {
		if s == n {
			return Policy(i), nil
		}
	}
	return 0, fmt.Errorf("%w: unknown eviction policy %q", ErrInvalid, name)
}

// Options configure a cache. The zero value of every field means its default.
type Options struct {
	// HeapBytes bounds the memory for items (default 64 MiB). It is rounded
	// down to a whole number of segments and must hold at least 2 segments.
	HeapBytes uint64
	// SegmentBytes is the segment size: a multiple of 8 between 4 KiB and
	// 8 MiB (default 1 MiB). No item may be larger than a segment.
	SegmentBytes uint32
	// HashPower is the initial size of the hashtable: 2^HashPower slots
	// (8 per bucket, 8 bytes each). 0 sizes it from HeapBytes for items
	// of about 256 bytes (one slot per 256 heap bytes). The table doubles
	// while the cache runs when it fills (a new key finds both its buckets
	// full and the table is at least half full), if the remaining memory
	// still holds the live items: the cache's memory is at most HeapBytes
	// plus the larger of the initial table and one segment, because every
	// doubling retires segments worth the table's growth beyond that
	// (Stats.SegmentsRetired). A doubling copies the table while reads
	// and writes go on; writers wait only for its last pass, over the
	// buckets they changed during the copy. The initial table may not be
	// larger than the heap: items take at least 16 bytes, so such slots
	// could never be used.
	HashPower uint32
	// Eviction is the eviction policy (default DefaultPolicy, S3-FIFO).
	Eviction Policy

	// MergeMax is the most segments one merge pass combines (default 8).
	MergeMax int
	// MergeTarget is how many source segments one merged segment is meant
	// to absorb (default min(4, MergeMax)): each source keeps about
	// 1/MergeTarget of its bytes, and the last of a pass fills what room
	// the merged segment has left.
	MergeTarget int
	// MergeCompact, if > 0, compacts neighbouring segments that are each at
	// most 1/MergeCompact full after deletes (default 0: off).
	MergeCompact int
	// S3FIFOAdmissionRatio is the share of segments given to the admission
	// pool under PolicyS3FIFO (default 0.1; between 0.01 and 0.9).
	S3FIFOAdmissionRatio float64
	// Prefault makes the whole heap and the initial hashtable resident at
	// Open (one write per page) instead of as writes first reach each
	// page. Without it, the first write into a never-used segment takes
	// page faults that allocate and zero the memory (2 MiB at a time with
	// huge pages): a cost on the write path, once per page, while a new
	// cache fills. With it, Open pays that up front and the cache's
	// resident memory is its full size from the start, as with memcached's
	// preallocation (-L) or the Rust segcache crate's populated heap
	// (segments retired to pay for a growth of the table are still given
	// back to the system).
	Prefault bool
	// Seed drives the random choices of the eviction policies (random,
	// random_fifo, util's sample, merge's choice of bucket). The default, 0,
	// is a seed like any other: the same workload replayed on the same
	// options evicts the same segments, so runs and bugs reproduce.
	Seed uint64
}

// SegmentMetadataBytes is the most memory a cache keeps per segment beside
// its heap and hashtable: the segment's header (two cache lines) and its
// places in the eviction structures (queues, index, expiry heaps, free
// list; PolicyCTE keeps the most). A cache's memory is its segments in
// use ((SegmentsTotal − SegmentsRetired) × SegmentBytes, at most
// HeapBytes) + HashtableBytes + SegmentsTotal × SegmentMetadataBytes, plus
// a fixed ~165 KiB of Go heap whatever its size (key stripes 64 KiB, TTL
// buckets 40 KiB, stat shards, eviction lists). A test measures it.
const SegmentMetadataBytes = 224

// Stats is a snapshot of a cache's counters. After all operations have
// returned, the gauges (Items, ItemBytes, SegmentsFree) are exact.
//
// Live items are the items stored and not yet deleted, overwritten or
// evicted. An item past its expiry stays counted until its segment is
// dropped, by Expire or by eviction: expiry is by segment, and a read
// only reports such an item absent.
type Stats struct {
	Items           uint64 // live items
	ItemBytes       uint64 // bytes of live items (headers, keys and values)
	HeapBytes       uint64 // configured item memory (a whole number of segments)
	HashtableBytes  uint64 // memory of the hashtable
	SegmentsTotal   uint64
	SegmentsFree    uint64
	Gets            uint64 // lookups (get, get-many keys)
	Hits            uint64
	Misses          uint64
	Sets            uint64 // successful stores: set, add, replace, cas
	Deletes         uint64 // successful deletes
	EvictedItems    uint64 // live items dropped by eviction
	ExpiredItems    uint64 // items dropped because their segment expired
	EvictedSegments uint64
	ExpiredSegments uint64
	MergedSegments  uint64 // segments reclaimed by merge or S3-FIFO's compaction (their survivors copied)
	PromotedItems   uint64 // items copied by merge, compaction or S3-FIFO promotion
	// HashtableGrowths counts the doublings of the hashtable since Open.
	HashtableGrowths uint64
	// SegmentsRetired is how many segments pay for the table's growth:
	// they hold no items and their pages are returned to the system, so
	// the cache's memory stays within the heap plus the initial table.
	SegmentsRetired uint64
}

// TTL note: a TTL is a time.Duration; 0 means the item never expires. An
// item set with TTL t is never returned after t has elapsed, and is
// returned for at least 0.9·t − 1s unless it is evicted, overwritten or
// deleted. The resolution is one millisecond. TTLs share segments by
// bucket (3% wide); once a quarter of the segments are open and fewer than
// a quarter free, under an evicting policy, a TTL whose bucket has no open
// segment is written with
// the nearest shorter bucket's and expires with it, earlier, and S3-FIFO
// promotes into shorter buckets' destinations likewise (see ttlShare):
// items with widely spread TTLs then fill the memory instead of evicting
// each other's open segments.
var _ = time.Millisecond
