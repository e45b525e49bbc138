package core

import (
	"encoding/binary"
	"slices"
	"testing"
	"time"
)

// growBenchItems is how many items of 16 + 64 bytes the growth benchmarks
// load into a table of 2^20 slots (86% full) before doubling it.
const growBenchItems = 900_000

// openForGrowth opens a PolicyNone cache with a table of 2^20 slots and
// loads growBenchItems items into it without growing it.
func openForGrowth(b *testing.B) *Cache {
	// A heap far larger than the items: the writers of BenchmarkGrowWriterLatency
	// overwrite (PolicyNone never reclaims the old copies) for as long as
	// the growth runs, and only the pages they touch are resident.
	c, err := Open(Options{HeapBytes: 1 << 30, SegmentBytes: 1 << 20, HashPower: 20, Eviction: PolicyNone})
	if err != nil {
		b.Fatal(err)
	}
	key, val := make([]byte, 16), make([]byte, 64)
	for j := range growBenchItems {
		growBenchKey(key, j)
		// Through storeOnce without growth: the table stays at 2^20.
		if _, _, err := c.storeOnce(key, val, 0, modeSet, 0, false); err != nil {
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

// BenchmarkGrowPause measures a growth with no writer running, per
// million items: copy-ms, the passes that run beside the writers
// (retiring segments, copying every entry, bringing the copy up to date),
// and pause-ms, the last pass, for which every writer waits (the buckets
// still marked changed, then the exceptions to the split). The GC wait
// that follows the publish, with no lock held, is in neither.
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
// holding growBenchItems items. max-set-ms is the slowest of its sets
// while the growth ran, and sets the number it made meanwhile; then the
// same writer runs as long again with no growth, and quiet-max-set-ms is
// its slowest set then (what the machine alone costs: scheduling, page
// faults). Each is the median over b.N growths.
func BenchmarkGrowWriterLatency(b *testing.B) {
	var worst, quiet []time.Duration
	var sets int
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		c := openForGrowth(b)
		took, r := growBeside(b, c, func(stop <-chan struct{}, result chan<- writerRun) {
			overwriteUntil(c, uint64(i), stop, result)
		})
		worst = append(worst, r.slowest)
		sets += r.sets
		stop := make(chan struct{})
		result := make(chan writerRun)
		go overwriteUntil(c, uint64(i)+1<<32, stop, result)
		time.Sleep(took)
		close(stop)
		if r = <-result; r.err != nil {
			b.Fatal(r.err)
		}
		quiet = append(quiet, r.slowest)
		c.Close()
	}
	b.ReportMetric(medianMs(worst), "max-set-ms")
	b.ReportMetric(medianMs(quiet), "quiet-max-set-ms")
	b.ReportMetric(float64(sets)/float64(b.N), "sets")
}

// BenchmarkGrowInsertWait measures what an insert that finds its bucket
// pair full during a growth waits (PolicyNone waits, as every policy does
// while the cache has free memory): one goroutine inserts fresh keys
// while another doubles the table holding growBenchItems items; once the
// table is full enough, an insert finds its pair full and waits for the
// growth, lending itself to the copy meanwhile. max-insert-ms is the
// inserter's slowest set, growth-ms the growth as a whole, inserts the
// inserter's sets meanwhile; medians over b.N growths.
func BenchmarkGrowInsertWait(b *testing.B) {
	var worst, growth []time.Duration
	var inserts int
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		c := openForGrowth(b)
		// Fill the table up to its first full pair, where a growth
		// starts: the inserter then soon finds another.
		key, val := make([]byte, 16), make([]byte, 64)
		next := growBenchItems
		for ; ; next++ {
			growBenchKey(key, next)
			if _, _, err := c.storeOnce(key, val, 0, modeSet, 0, false); err != nil {
				break
			}
		}
		took, r := growBeside(b, c, func(stop <-chan struct{}, result chan<- writerRun) {
			insertUntil(c, next+1, stop, result)
		})
		growth = append(growth, took)
		worst = append(worst, r.slowest)
		inserts += r.sets
		c.Close()
	}
	b.ReportMetric(medianMs(worst), "max-insert-ms")
	b.ReportMetric(medianMs(growth), "growth-ms")
	b.ReportMetric(float64(inserts)/float64(b.N), "inserts")
}

// medianMs returns the median of ds in milliseconds (sorting ds).
func medianMs(ds []time.Duration) float64 {
	slices.Sort(ds)
	return float64(ds[len(ds)/2].Microseconds()) / 1e3
}

// growBeside doubles c's table while writer runs in another goroutine,
// and returns how long the growth took and what the writer reported.
func growBeside(b *testing.B, c *Cache, writer func(stop <-chan struct{}, result chan<- writerRun)) (time.Duration, writerRun) {
	stop := make(chan struct{})
	result := make(chan writerRun)
	go writer(stop, result)
	start := time.Now()
	if !c.grow(c.table()) {
		b.Fatal("no growth")
	}
	took := time.Since(start)
	close(stop)
	r := <-result
	if r.err != nil {
		b.Fatal(r.err)
	}
	return took, r
}

// writerRun is what writeUntil reports.
type writerRun struct {
	slowest time.Duration
	sets    int
	err     error
}

// overwriteUntil overwrites random loaded keys of c (from the seed) until
// stop is closed, then sends its slowest set and its count.
func overwriteUntil(c *Cache, seed uint64, stop <-chan struct{}, result chan<- writerRun) {
	x := seed + 1
	writeUntil(c, func() int {
		x = x*6364136223846793005 + 1442695040888963407
		return int(x>>33) % growBenchItems
	}, stop, result)
}

// insertUntil inserts keys c does not hold, from the first-th, until stop
// is closed, then sends its slowest set and its count.
func insertUntil(c *Cache, first int, stop <-chan struct{}, result chan<- writerRun) {
	j := first - 1
	writeUntil(c, func() int { j++; return j }, stop, result)
}

// writeUntil sets the keys whose numbers next returns (see growBenchKey)
// until stop is closed, then sends its slowest set and its count.
func writeUntil(c *Cache, next func() int, stop <-chan struct{}, result chan<- writerRun) {
	var r writerRun
	key, val := make([]byte, 16), make([]byte, 64)
	for {
		select {
		case <-stop:
			result <- r
			return
		default:
		}
		growBenchKey(key, next())
		t := time.Now()
		if r.err = c.Set(key, val, 0); r.err != nil {
			result <- r
			<-stop
			return
		}
		r.slowest = max(r.slowest, time.Since(t))
		r.sets++
	}
}
