//go:build amd64 && !race && !purego

package spinlock

import (
	"sync/atomic"
	"unsafe"
)

// plainRelease tells the tests which release this build uses.
const plainRelease = true

// release stores 0 with a plain MOV, no locked instruction, and that is a
// release on amd64:
//   - The hardware: x86-TSO never reorders a store with an older load or
//     store (Intel SDM vol. 3, 9.2.2), so every access of the critical
//     section is performed before the next holder can see the lock free.
//     (Linux's spin_unlock on x86 is the same plain store.)
//   - The compiler: Go's SSA threads every store, and every atomic
//     operation, through one memory chain, and schedules each load before
//     the next store of that chain; it neither moves the critical
//     section's loads or stores after this store nor drops it.
//
// The race detector cannot see a plain store as a release, so -race
// builds use release_atomic.go, as do purego builds (which keep the
// portable path tested on amd64).
func release(v *atomic.Uint32) {
	*(*uint32)(unsafe.Pointer(v)) = 0
}
