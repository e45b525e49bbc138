//go:build linux

package core

// What one eviction's drain costs, per item, as the heap grows. Run:
//
//	go test -run '^$' -bench 'Drain' -count 5 ./core/
//
// A cache of nseg 4 KiB segments is kept 90% full of unique 16-byte keys
// with 64-byte values (so nothing evicts by itself); each round drains the
// oldest sealed segment (timed: claim, look up and unlink every item,
// recycle) and refills its items (not timed). Rounds alternate between
// drains that prefetch the buckets of the items ahead and drains that do
// not, so the two figures share the machine's load; the clock is the
// thread's CPU time, so being descheduled is not counted.

import (
	"encoding/binary"
	"flag"
	"fmt"
	"runtime"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/segcache/segcache/core/internal/segment"
)

func threadNanos() int64 {
	var ts unix.Timespec
	if unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts) != nil {
		return 0
	}
	return ts.Nano()
}

func BenchmarkDrain(b *testing.B) {
	sizes := []int{256, 65536}
	if f := flag.Lookup("test.benchtime"); f != nil && f.Value.String() == "1x" {
		sizes = sizes[:1]
	}
	for _, nseg := range sizes {
		b.Run(fmt.Sprintf("segs=%d", nseg), func(b *testing.B) {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			c, err := Open(Options{HeapBytes: uint64(nseg) * 4096, SegmentBytes: 4096, Eviction: PolicyFIFO})
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			key, val := make([]byte, 16), make([]byte, 64)
			next := uint64(0)
			set := func() {
				binary.BigEndian.PutUint64(key[8:], next)
				next++
				if err := c.Set(key, val, 0); err != nil {
					b.Fatal(err)
				}
			}
			perSeg := 4096 / 88
			for next < uint64(nseg*perSeg*9/10) {
				set()
			}
			var ns, items [2]int64 // [0]: no prefetch, [1]: prefetch
			b.ResetTimer()
			for n := 0; n < b.N; n++ {
				ahead := n%2 == 1
				drainPrefetch = ahead
				c.evictMu.Lock()
				id := c.oldest(segment.Sealed)
				live, _ := c.segs.Headers[id].Live()
				t0 := threadNanos()
				c.drainWhole(id, dropEvict, false)
				ns[n%2] += threadNanos() - t0
				c.evictMu.Unlock()
				items[n%2] += int64(live)
				b.StopTimer()
				for i := 0; i < int(live); i++ {
					set()
				}
				b.StartTimer()
			}
			drainPrefetch = true
			per := func(i int) float64 { return float64(ns[i]) / float64(max(items[i], 1)) }
			b.ReportMetric(per(0), "plain-ns/item")
			b.ReportMetric(per(1), "prefetch-ns/item")
			b.ReportMetric(per(1)/per(0), "prefetch/plain")
		})
	}
}
