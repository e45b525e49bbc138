//go:build !race

package hashtable

import (
	"sync/atomic"
	"unsafe"
)

// advanceCoin steps coin's Weyl sequence and returns the new value, with a
// plain load and a plain store. sync/atomic's Store is an XCHG on amd64, a
// locked instruction, and Bump advances a coin on every hit of a warm key
// (frequency 16 to 126): a locked instruction per such hit, and with
// several cores one that waits for the coin's line to come back from
// another core, where a plain store waits in the store buffer instead.
// Concurrent bumps racing on one coin may both see the same value, or (on
// a 32-bit platform) a torn one: either is still a coin, and Bump asks for
// nothing more.
func advanceCoin(coin *atomic.Uint64) uint64 {
	p := (*uint64)(unsafe.Pointer(coin))
	x := *p + 0x9E3779B97F4A7C15
	*p = x
	return x
}
