//go:build race || !(amd64 || arm64 || loong64 || mips64 || mips64le || ppc64 || ppc64le || riscv64 || s390x)

package pcount

import "sync/atomic"

// atomicAdds tells the tests which add this build uses.
const atomicAdds = true

// add is an atomic add: the race detector would report a plain one racing
// with Sum, and a platform with 32-bit words could tear it.
func add(v *atomic.Uint64, n uint64) { v.Add(n) }
