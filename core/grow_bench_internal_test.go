package core

import (
	"encoding/binary"
	"testing"
	"time"
)

// BenchmarkGrowPause measures the pause growth imposes on writers: the time
// from taking every lock to publishing the doubled table (retiring
// segments, copying every entry), for a table of 2^20 slots holding
// holding 900,000 items of 16 + 64 bytes (86% full), reported as
// ms per million items. The GC wait that follows, with no lock held, is
// not in it.
func BenchmarkGrowPause(b *testing.B) {
	const items = 900_000
	var pause time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		c, err := Open(Options{HeapBytes: 100 << 20, SegmentBytes: 1 << 20, HashPower: 20, Eviction: PolicyNone})
		if err != nil {
			b.Fatal(err)
		}
		key := make([]byte, 16)
		val := make([]byte, 64)
		for j := 0; j < items; j++ {
			binary.LittleEndian.PutUint64(key, uint64(j)*0x9E3779B97F4A7C15)
			binary.LittleEndian.PutUint64(key[8:], uint64(j))
			// Through storeOnce without growth: the table stays at 2^20.
			if _, err := c.storeOnce(key, val, 0, modeSet, 0, false); err != nil {
				b.Fatalf("fill #%d: %v", j, err)
			}
		}
		seen := c.table()
		for s := range c.stripes {
			c.stripes[s].Lock()
		}
		c.evictMu.Lock()
		b.StartTimer()
		start := time.Now()
		next, ok := c.growLocked(seen)
		pause += time.Since(start)
		b.StopTimer()
		c.evictMu.Unlock()
		for s := range c.stripes {
			c.stripes[s].Unlock()
		}
		if !ok {
			b.Fatal("growth failed")
		}
		c.ht.Store(next)
		c.live.Store(&memory{arena: c.arena, ht: next})
		_ = unmapUnused(&memory{}, seen.Memory()) // nobody reads it: this test never published it to readers after the swap
		c.Close()
	}
	b.ReportMetric(float64(pause.Milliseconds())/float64(b.N)/(items/1e6), "ms/Mitems")
}
