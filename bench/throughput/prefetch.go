//go:build amd64 || arm64

package throughput

import "unsafe"

// prefetch asks the CPU to start loading the cache line at p (PREFETCHT0 on
// amd64, PRFM PLDL1KEEP on arm64) and returns without waiting for it: the
// physical-limit reference issues a batch's loads this way, as core's
// batch path does, so that their misses overlap.
//
//go:noescape
func prefetch(p unsafe.Pointer)
