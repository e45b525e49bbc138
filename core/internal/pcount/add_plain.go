//go:build !race && (amd64 || arm64 || loong64 || mips64 || mips64le || ppc64 || ppc64le || riscv64 || s390x)

package pcount

import (
	"sync/atomic"
	"unsafe"
)

// atomicAdds tells the tests which add this build uses.
const atomicAdds = false

// add is a plain add: the caller is pinned to the P that owns v, so no
// other goroutine writes v meanwhile. A concurrent Sum reads v with an
// atomic load; a 64-bit word is never torn on these platforms, so it sees
// the value before the store or after it.
func add(v *atomic.Uint64, n uint64) {
	p := (*uint64)(unsafe.Pointer(v))
	*p += n
}
