package main

/*
#include "segcache_types.h"
*/
import "C"

import (
	"math"
	"unsafe"

	"github.com/segcache/segcache/core"
)

// maxStructSize bounds the size field of segcache_options and
// segcache_stats: a larger value is surely an uninitialized struct, and we
// must not read or write that far.
const maxStructSize = 4096

// maxValueLen is an upper bound of any value's length (a value fits in one
// segment). Lengths above it are rejected before building a slice, and
// caller buffer capacities are clamped to it.
const maxValueLen = core.MaxSegmentBytes

// policies maps enum segcache_eviction (0..7, in the contract's order) to
// the engine's Policy (1..8; 0 is the engine's "default").
var policies = [...]core.Policy{
	C.SEGCACHE_EVICT_NONE:        core.PolicyNone,
	C.SEGCACHE_EVICT_RANDOM:      core.PolicyRandom,
	C.SEGCACHE_EVICT_RANDOM_FIFO: core.PolicyRandomFIFO,
	C.SEGCACHE_EVICT_FIFO:        core.PolicyFIFO,
	C.SEGCACHE_EVICT_CTE:         core.PolicyCTE,
	C.SEGCACHE_EVICT_UTIL:        core.PolicyUtil,
	C.SEGCACHE_EVICT_MERGE:       core.PolicyMerge,
	C.SEGCACHE_EVICT_S3FIFO:      core.PolicyS3FIFO,
}

// storeOps maps enum segcache_store_op to the engine's StoreOp.
var storeOps = [...]core.StoreOp{
	C.SEGCACHE_STORE_SET:     core.StoreSet,
	C.SEGCACHE_STORE_ADD:     core.StoreAdd,
	C.SEGCACHE_STORE_REPLACE: core.StoreReplace,
	C.SEGCACHE_STORE_CAS:     core.StoreCAS,
}

// fills reports whether a struct of size bytes holds the whole field at
// offset off of width w.
func fills(size, off, w uintptr) bool { return off+w <= size }

// optionsFromC converts caller options, reading only the fields inside
// p.size. Bytes past the fields this library knows must be zero: they are
// options of a newer header that this library cannot honour.
func optionsFromC(p *C.segcache_options) (core.Options, C.int) {
	var o core.Options
	if p == nil {
		return o, C.SEGCACHE_OK
	}
	size := uintptr(p.size)
	known := unsafe.Sizeof(*p)
	if size < C.SEGCACHE_OPTIONS_MIN_SIZE || size > maxStructSize {
		return o, C.SEGCACHE_EINVAL
	}
	if size > known {
		for _, b := range unsafe.Slice((*byte)(unsafe.Add(unsafe.Pointer(p), known)), size-known) {
			if b != 0 {
				return o, C.SEGCACHE_EINVAL
			}
		}
	}
	o.HeapBytes = uint64(p.heap_bytes)
	if testHooks && o.HeapBytes == panicHeapBytes {
		panic("segcache test hook: options")
	}
	o.SegmentBytes = uint32(p.segment_bytes)
	o.HashPower = uint32(p.hash_power)
	ev := int(p.eviction)
	if ev < 0 || ev >= len(policies) {
		return o, C.SEGCACHE_EINVAL
	}
	o.Eviction = policies[ev]
	if fills(size, unsafe.Offsetof(p.merge_max), 4) {
		o.MergeMax = int(p.merge_max)
	}
	if fills(size, unsafe.Offsetof(p.merge_target), 4) {
		o.MergeTarget = int(p.merge_target)
	}
	if fills(size, unsafe.Offsetof(p.merge_compact), 4) {
		o.MergeCompact = int(p.merge_compact)
	}
	if fills(size, unsafe.Offsetof(p.s3fifo_admission_ratio), 8) {
		o.S3FIFOAdmissionRatio = float64(p.s3fifo_admission_ratio)
	}
	if fills(size, unsafe.Offsetof(p.prefault), 4) {
		o.Prefault = p.prefault != 0
	}
	if o.MergeMax < 0 || o.MergeTarget < 0 || o.MergeCompact < 0 ||
		math.IsNaN(o.S3FIFOAdmissionRatio) || o.S3FIFOAdmissionRatio < 0 {
		return o, C.SEGCACHE_EINVAL
	}
	return o, C.SEGCACHE_OK
}

// statsToC writes s into the caller's struct, only the fields inside
// out.size, and sets out.size to the bytes filled.
func statsToC(s core.Stats, out *C.segcache_stats) C.int {
	size := uintptr(out.size)
	if size < C.SEGCACHE_STATS_MIN_SIZE || size > maxStructSize {
		return C.SEGCACHE_EINVAL
	}
	fields := [...]struct {
		dst *C.uint64_t
		v   uint64
	}{
		{&out.items, s.Items},
		{&out.item_bytes, s.ItemBytes},
		{&out.heap_bytes, s.HeapBytes},
		{&out.hashtable_bytes, s.HashtableBytes},
		{&out.segments_total, s.SegmentsTotal},
		{&out.segments_free, s.SegmentsFree},
		{&out.gets, s.Gets},
		{&out.hits, s.Hits},
		{&out.misses, s.Misses},
		{&out.sets, s.Sets},
		{&out.deletes, s.Deletes},
		{&out.evicted_items, s.EvictedItems},
		{&out.expired_items, s.ExpiredItems},
		{&out.evicted_segments, s.EvictedSegments},
		{&out.expired_segments, s.ExpiredSegments},
		{&out.merged_segments, s.MergedSegments},
		{&out.promoted_items, s.PromotedItems},
		{&out.hashtable_growths, s.HashtableGrowths},
		{&out.segments_retired, s.SegmentsRetired},
	}
	filled := unsafe.Offsetof(out.items)
	for _, f := range fields {
		off := uintptr(unsafe.Pointer(f.dst)) - uintptr(unsafe.Pointer(out))
		if !fills(size, off, 8) {
			break
		}
		*f.dst = C.uint64_t(f.v)
		filled = off + 8
	}
	out.size = C.uint32_t(filled)
	return C.SEGCACHE_OK
}
