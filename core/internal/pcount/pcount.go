package pcount

import (
	"sync/atomic"

	"github.com/segcache/segcache/core/internal/proc"
)

// Shards is how many Ps have a shard of their own. Ps with a larger index
// (GOMAXPROCS above Shards) share one set of counters, added to
// atomically.
const Shards = 64

// Fields is how many counters a Counters holds.
const Fields = 4

// A shard is two cache lines with its counters in the first 32 bytes:
// Go aligns the array to 8 bytes only, and at 128 bytes apart the counters
// of two shards can never share a 64-byte line, wherever the array starts
// (at 64 bytes apart they could).
type shard struct {
	v [Fields]atomic.Uint64 // written only by the goroutine pinned to the shard's P (add)
	_ [128 - 8*Fields]byte
}

// Counters is Fields counters, sharded by P. The zero value is ready.
type Counters struct {
	shards [Shards]shard
	shared [Fields]atomic.Uint64 // the Ps with an index ≥ Shards
}

// Add adds n to counter i.
func (c *Counters) Add(i int, n uint64) {
	if p := proc.Pin(); p < Shards {
		add(&c.shards[p].v[i], n)
	} else {
		c.shared[i].Add(n)
	}
	proc.Unpin()
}

// Add2 adds a to counter i and b to counter j under one pin (a zero is not
// written).
func (c *Counters) Add2(i int, a uint64, j int, b uint64) {
	if p := proc.Pin(); p < Shards {
		sh := &c.shards[p]
		if a != 0 {
			add(&sh.v[i], a)
		}
		if b != 0 {
			add(&sh.v[j], b)
		}
	} else {
		c.shared[i].Add(a)
		c.shared[j].Add(b)
	}
	proc.Unpin()
}

// Sum returns counter i: exact once the adds are over (after whatever
// synchronization orders them before the call); while they run, some
// value between the counts at the start and at the end of the call.
func (c *Counters) Sum(i int) uint64 {
	s := c.shared[i].Load()
	for p := range c.shards {
		s += c.shards[p].v[i].Load()
	}
	return s
}
