package main

/*
#include "segcache_types.h"
*/
import "C"

import (
	"sync"
	"unsafe"

	"github.com/segcache/segcache/core"
)

// batchChunk is how many keys one core.GetBatch call handles. A batch of
// any size reuses one pooled scratch of this size, so get_multi allocates
// nothing in the steady state.
const batchChunk = 64

type batchScratch struct {
	keys, bufs [batchChunk][]byte
	lens       [batchChunk]int
	errs       [batchChunk]error
	idx        [batchChunk]int // caller index of each scratch entry
}

// clear drops the views of caller memory before the scratch goes back to
// the pool: Go must keep no C pointer after the call returns.
func (s *batchScratch) clear(m int) {
	for j := 0; j < m; j++ {
		s.keys[j], s.bufs[j], s.errs[j] = nil, nil, nil
	}
}

var batchPool = sync.Pool{New: func() any { return new(batchScratch) }}

// getMulti is the body of segcache_get_multi over validated arrays of
// length n.
func getMulti(c *core.Cache, n int, keys []unsafe.Pointer, klens []C.size_t, bufs []unsafe.Pointer, caps []C.size_t, vlens []C.size_t, statuses []C.int) (rc C.int) {
	s := batchPool.Get().(*batchScratch)
	m := 0
	defer func() {
		// Also on panic: the scratch must not keep C pointers. At most
		// min(n, batchChunk) entries were used.
		s.clear(min(n, batchChunk))
		batchPool.Put(s)
	}()
	rc = C.SEGCACHE_OK
	flush := func() {
		if m == 0 {
			return
		}
		c.GetBatch(s.keys[:m], s.bufs[:m], s.lens[:m], s.errs[:m])
		for j := 0; j < m; j++ {
			i := s.idx[j]
			st := statusOf(s.errs[j])
			switch st {
			case C.SEGCACHE_OK, C.SEGCACHE_ERANGE:
				vlens[i] = C.size_t(s.lens[j])
			default:
				vlens[i] = 0
			}
			if st == C.SEGCACHE_EBADHANDLE {
				rc = C.SEGCACHE_EBADHANDLE
			}
			statuses[i] = st
		}
		s.clear(m)
		m = 0
	}
	for i := 0; i < n; i++ {
		k, st := keyArg(keys[i], klens[i])
		if st == C.SEGCACHE_OK {
			var b []byte
			if b, st = bufArg(bufs[i], caps[i]); st == C.SEGCACHE_OK {
				s.keys[m], s.bufs[m], s.idx[m] = k, b, i
				m++
				if m == batchChunk {
					flush()
				}
				continue
			}
		}
		vlens[i] = 0
		statuses[i] = st
	}
	flush()
	return rc
}
