//go:build !amd64 || race || purego

package spinlock

import "sync/atomic"

// plainRelease tells the tests which release this build uses.
const plainRelease = false

// release is sync/atomic's store: on arm64 an STLR, itself a release
// store and no full barrier; on amd64 (race and purego builds) an XCHG.
func release(v *atomic.Uint32) { v.Store(0) }
