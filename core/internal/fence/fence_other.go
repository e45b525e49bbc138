//go:build purego || !(amd64 || arm64)

package fence

import "sync/atomic"

// Load orders every load before it before every load after it.
//
// Portable version: an atomic read-modify-write on a local variable. Go's
// sync/atomic operations are sequentially consistent, and every port
// implements an RMW with barriers on both sides (LDADDAL or LDAXR/STLXR on
// arm64, AMO*.AQRL on riscv64, SYNC/LWSYNC around the LL/SC loop on ppc64,
// DBAR on loong64, SYNC on mips, LOCK XADD on x86), so no load can be
// satisfied across it in either direction. The variable is local so that
// concurrent readers do not contend on one cache line; the Go compiler does
// not elide atomic operations, even on a variable that does not escape.
// It costs an atomic instruction, which is why amd64 and arm64 do better.
func Load() {
	var x atomic.Uint32
	x.Add(1)
}
