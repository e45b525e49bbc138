//go:build race

package hashtable

import "sync/atomic"

// advanceCoin steps coin's Weyl sequence and returns the new value. The
// race detector would report coin_plain.go's plain accesses, racing by
// design; atomic ones say the same thing to it.
func advanceCoin(coin *atomic.Uint64) uint64 {
	x := coin.Load() + 0x9E3779B97F4A7C15
	coin.Store(x)
	return x
}
