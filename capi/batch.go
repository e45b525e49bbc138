package main

/*
#include "segcache_types.h"
*/
import "C"

import (
	"unsafe"

	"github.com/segcache/segcache/core"
)

// batchChunk is how many keys one core.GetBatch call handles. The scratch
// of a chunk lives on the stack of getMulti (core.GetBatch lets none of its
// slices escape), so a batch of any size allocates nothing, needs no pool,
// and no view of caller memory outlives the call: the frame is dead once
// getMulti returns, so there is nothing to clear. 32 is core's own chunk:
// a bigger one only makes the frame bigger.
const batchChunk = 32

// getMulti is the body of segcache_get_multi over validated arrays of
// length n. Hot keys cost little more than core.GetBatch itself: the per
// key work here is two argument checks, two slice headers and the status.
func getMulti(c *core.Cache, n int, keys []unsafe.Pointer, klens []C.size_t, bufs []unsafe.Pointer, caps []C.size_t, vlens []C.size_t, statuses []C.int) C.int {
	var (
		ks, bs [batchChunk][]byte
		lens   [batchChunk]int
		errs   [batchChunk]error
		idx    [batchChunk]int32 // caller index of each scratch entry
	)
	rc := C.int(C.SEGCACHE_OK)
	for start := 0; start < n; start += batchChunk {
		end := min(start+batchChunk, n)
		m := 0
		for i := start; i < end; i++ {
			k, st := keyArg(keys[i], klens[i])
			if st == C.SEGCACHE_OK {
				var b []byte
				if b, st = bufArg(bufs[i], caps[i]); st == C.SEGCACHE_OK {
					ks[m], bs[m], idx[m] = k, b, int32(i)
					m++
					continue
				}
			}
			vlens[i] = 0
			statuses[i] = st
		}
		if m == 0 {
			continue
		}
		c.GetBatch(ks[:m], bs[:m], lens[:m], errs[:m])
		for j := 0; j < m; j++ {
			i := idx[j]
			if errs[j] == nil { // a hit: the common case, no status lookup
				vlens[i], statuses[i] = C.size_t(lens[j]), C.SEGCACHE_OK
				continue
			}
			st := statusOf(errs[j])
			switch st {
			case C.SEGCACHE_ERANGE:
				vlens[i] = C.size_t(lens[j])
			case C.SEGCACHE_EBADHANDLE:
				vlens[i] = 0
				rc = C.SEGCACHE_EBADHANDLE
			default:
				vlens[i] = 0
			}
			statuses[i] = st
		}
	}
	return rc
}
