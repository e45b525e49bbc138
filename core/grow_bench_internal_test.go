package core

import (
	"encoding/binary"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// growBenchItems is how many items of 16 + 64 bytes the growth benchmarks
// load into a table of 2^20 slots (86% full) before doubling it.
const growBenchItems = 900_000

// openForGrowth opens a PolicyNone cache with a table of 2^20 slots and
// loads growBenchItems items into it without growing it.
func openForGrowth(b *testing.B) *Cache {
	c, err := Open(Options{HeapBytes: 256 << 20, SegmentBytes: 1 << 20, HashPower: 20, Eviction: PolicyNone})
	if err != nil {
		b.Fatal(err)
	}
	key, val := make([]byte, 16), make([]byte, 64)
	for j := range growBenchItems {
		growBenchKey(key, j)
		// Through storeOnce without growth: the table stays at 2^20.
		if _, err := c.storeOnce(key, val, 0, modeSet, 0, false); err != nil {
			b.Fatalf("fill #%d: %v", j, err)
		}
	}
	return c
}

// growBenchKey writes the j-th key of the growth benchmarks into key.
func growBenchKey(key []byte, j int) {
	binary.LittleEndian.PutUint64(key, uint64(j)*0x9E3779B97F4A7C15)
	binary.LittleEndian.PutUint64(key[8:], uint64(j))
}

// BenchmarkGrowPause measures a growth's two passes with no writer
// running, per million items: copy-ms, the first pass (retiring segments,
// copying every entry while writers may run), and pause-ms, the second,
// for which every writer waits (comparing the tables, carrying the
// frequencies over, copying again what changed). The GC wait that follows
// the publish, with no lock held, is in neither.
func BenchmarkGrowPause(b *testing.B) {
	var copying, pause time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		c := openForGrowth(b)
		seen := c.table()
		start := time.Now()
		gr, ok := c.startGrowth(seen)
		if !ok {
			b.Fatal("first pass failed")
		}
		c.lockAll()
		locked := time.Now()
		ok = c.finishGrowthLocked(gr)
		pause += time.Since(locked)
		copying += locked.Sub(start)
		c.unlockAll()
		if !ok {
			b.Fatal("second pass failed")
		}
		c.ht.Store(gr.next)
		c.live.Store(&memory{arena: c.arena, ht: gr.next})
		_ = unmapUnused(&memory{}, seen.Memory()) // nobody reads it: this benchmark published no reader of it
		c.Close()
	}
	perM := float64(b.N) * growBenchItems / 1e6
	b.ReportMetric(float64(copying.Microseconds())/1e3/perM, "copy-ms/Mitems")
	b.ReportMetric(float64(pause.Microseconds())/1e3/perM, "pause-ms/Mitems")
}

// BenchmarkGrowWriterLatency measures what a writer sees of a growth: one
// goroutine overwrites random loaded keys while another doubles the table
// holding growBenchItems items; max-set-ms is the slowest of its sets
// while the growth ran (the median over b.N growths), and sets the number
// it made meanwhile.
func BenchmarkGrowWriterLatency(b *testing.B) {
	var worst []time.Duration
	var sets int
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		c := openForGrowth(b)
		var done atomic.Bool
		var slowest time.Duration
		var n int
		var wg sync.WaitGroup
		started := make(chan struct{})
		wg.Go(func() {
			key, val := make([]byte, 16), make([]byte, 64)
			x := uint64(i + 1)
			close(started)
			for !done.Load() {
				x = x*6364136223846793005 + 1442695040888963407
				growBenchKey(key, int(x>>33)%growBenchItems)
				t := time.Now()
				if err := c.Set(key, val, 0); err != nil {
					b.Errorf("Set: %v", err)
					return
				}
				slowest = max(slowest, time.Since(t))
				n++
			}
		})
		<-started
		if !c.grow(c.table()) {
			b.Fatal("no growth")
		}
		done.Store(true)
		wg.Wait()
		worst = append(worst, slowest)
		sets += n
		c.Close()
	}
	slices.Sort(worst)
	b.ReportMetric(float64(worst[len(worst)/2].Microseconds())/1e3, "max-set-ms")
	b.ReportMetric(float64(sets)/float64(b.N), "sets")
}
