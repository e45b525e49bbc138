package core_test

import (
	"runtime"
	"testing"

	"github.com/segcache/segcache/core"
)

// TestSegmentMetadataBytes checks that SegmentMetadataBytes covers what a
// cache allocates per segment outside its heap and hashtable (both are
// mapped outside the Go heap, so the Go heap's growth is the metadata),
// and is not a loose bound: the hit-ratio benchmark charges it to core's
// memory budget.
func TestSegmentMetadataBytes(t *testing.T) {
	// TotalAlloc is the process's: the least of three tries leaves out
	// anything another goroutine allocated meanwhile.
	alloc := func(segs int) uint64 {
		least := uint64(1<<64 - 1)
		for range 3 {
			least = min(least, allocOpen(t, segs))
		}
		return least
	}
	const small, large = 1 << 12, 1 << 16
	a, b := alloc(small), alloc(large)
	perSeg := float64(b-a) / (large - small)
	t.Logf("Go heap allocated by Open: %d B with %d segments, %d B with %d: %.1f B per segment", a, small, b, large, perSeg)
	if perSeg > core.SegmentMetadataBytes || perSeg < core.SegmentMetadataBytes-32 {
		t.Errorf("Open allocates %.1f B per segment; SegmentMetadataBytes is %d", perSeg, core.SegmentMetadataBytes)
	}
}

// allocOpen returns the Go heap bytes allocated while opening a cache of
// segs segments of 4 KiB.
func allocOpen(t *testing.T, segs int) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	// PolicyCTE keeps the most per segment (a second expiry heap).
	c, err := core.Open(core.Options{HeapBytes: uint64(segs) * 4096, SegmentBytes: 4096,
		HashPower: 12, Eviction: core.PolicyCTE})
	if err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	c.Close()
	return after.TotalAlloc - before.TotalAlloc
}
