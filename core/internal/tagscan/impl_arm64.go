//go:build arm64 && !purego

package tagscan

import (
	"unsafe"

	"github.com/segcache/segcache/core/internal/cpu"
)

// On arm64 the kernels are NEON (match_arm64.s, hand-written).
var (
	asmAvailable = cpu.HasASIMD
	useAsm       = asmAvailable
)

const asmImpl = NEON

func setAsm(on bool) { useAsm = on }

func matchAsm(b0, b1 *Bucket, tag uint64) uint32 {
	return matchNEON((*[8]uint64)(b0), (*[8]uint64)(b1), tag)
}

func classifyAsm(b0, b1 *Bucket, tag uint64) uint64 {
	return classifyNEON((*[8]uint64)(b0), (*[8]uint64)(b1), tag)
}

func matchBatchAsm(table *Bucket, m uint64, hashes *uint64, masks *uint32, n int) {
	matchBatchNEON((*[8]uint64)(table), m, hashes, masks, n, prefetchDist)
}

// Go declarations of match_arm64.s. Each is tested against the reference
// named beside it.

// matchNEON is Match with NEON. Go reference: MatchRef.
//
//go:noescape
func matchNEON(b0, b1 *[8]uint64, tag uint64) uint32

// matchBatchNEON is MatchBatch with NEON for n >= 1 hashes, prefetching the
// buckets of hashes[i+dist] while it scans those of hashes[i].
// Go reference: MatchBatchRef.
//
//go:noescape
func matchBatchNEON(table *[8]uint64, m uint64, hashes *uint64, masks *uint32, n int, dist int)

// classifyNEON is Classify with NEON. Go reference: ClassifyRef.
//
//go:noescape
func classifyNEON(b0, b1 *[8]uint64, tag uint64) uint64

// prefetch is PRFM PLDL1KEEP. Go reference: none (a hint).
//
//go:noescape
func prefetch(p *byte)

// Prefetch asks the CPU to bring the cache line at p into all cache levels
// (PRFM PLDL1KEEP). It is only a hint: it never faults, whatever p is.
func Prefetch(p unsafe.Pointer) { prefetch((*byte)(p)) }
