package core_test

// Eviction cost against the number of segments. Run:
//
//	go test -run '^$' -bench 'SetEvicting|ExpireOne' -count 5 ./core/
//
// BenchmarkSetEvicting: unique 16-byte keys and 64-byte values into 4 KiB
// segments; the cache is first filled with twice its capacity (so every
// set of the timed part evicts in steady state), then b.N more sets are
// timed. The cost of a set should not depend on the number of segments.
//
// Both report cpu-ns/op, the process's CPU time per operation, beside the
// wall time: on a loaded machine the wall time mostly measures waiting.
// BenchmarkSetEvicting also reports noevict-cpu-ns/op, the CPU per set of
// the same key stream into the same cache, warm but emptied (no eviction):
// a set into a larger heap costs more memory misses whatever the policy,
// and the difference of the two is what eviction adds.
//
// BenchmarkExpireOne: a cache full of items that never expire, and one
// segment of a 1 ms TTL that has expired; Expire() is timed. It should
// cost about the same among 65,536 segments as among 256.

import (
	"encoding/binary"
	"flag"
	"fmt"
	"testing"
	"time"

	"github.com/segcache/segcache/core"
)

// evictBenchSegments are the heap sizes measured. A smoke run
// (-benchtime=1x, as make test runs the benchmarks) only checks that they
// work, at the smallest sizes: filling the largest caches takes minutes.
func evictBenchSegments() []int {
	if smokeRun() {
		return []int{256, 1024}
	}
	return []int{256, 1024, 4096, 16384, 65536}
}

func smokeRun() bool {
	f := flag.Lookup("test.benchtime")
	return f != nil && f.Value.String() == "1x"
}

var evictBenchPolicies = []core.Policy{core.PolicyRandom, core.PolicyRandomFIFO, core.PolicyFIFO,
	core.PolicyCTE, core.PolicyUtil, core.PolicyMerge, core.PolicyS3FIFO}

// seqKey writes the i-th unique 16-byte key into k.
func seqKey(k []byte, i uint64) {
	binary.BigEndian.PutUint64(k[0:8], 0x6b65792d00000000) // "key-"
	binary.BigEndian.PutUint64(k[8:16], i)
}

// fillUnique sets times × the capacity of nseg 4 KiB segments in unique
// keys that never expire, and returns how many keys it used.
func fillUnique(b *testing.B, c *core.Cache, nseg, times int, key, val []byte, from uint64) uint64 {
	n := from + uint64(times)*uint64(nseg)*4096/uint64(itemSize(16, 64))
	for i := from; i < n; i++ {
		seqKey(key, i)
		if err := c.Set(key, val, 0); err != nil {
			b.Fatal(err)
		}
	}
	return n
}

// noEvictCPU fills the cache once, so that every page of its heap and
// table has been touched, then clears it and sets the next half capacity
// of unique keys (timed), as many rounds as make 500,000 sets (small caches
// take many rounds, so their figure is not a few thousand sets' noise). It
// returns the next key and the CPU ns per timed set: the cost of a set that
// evicts nothing, into a heap of that size, to compare with. (Measured on a
// fresh cache instead, it would mostly count the kernel zeroing pages.)
func noEvictCPU(b *testing.B, c *core.Cache, nseg int, key, val []byte) (uint64, float64) {
	i := fillUnique(b, c, nseg, 1, key, val, 0)
	half := uint64(nseg) * 4096 / uint64(itemSize(16, 64)) / 2
	var cpu int64
	var sets uint64
	want := uint64(500_000)
	if smokeRun() {
		want = 1
	}
	for sets < want {
		if err := c.Clear(); err != nil {
			b.Fatal(err)
		}
		cpu0 := cpuNanos()
		for end := i + half; i < end; i++ {
			seqKey(key, i)
			if err := c.Set(key, val, 0); err != nil {
				b.Fatal(err)
			}
		}
		cpu += cpuNanos() - cpu0
		sets += half
	}
	return i, float64(cpu) / float64(sets)
}

func BenchmarkSetEvicting(b *testing.B) {
	for _, p := range evictBenchPolicies {
		for _, nseg := range evictBenchSegments() {
			// The rounds of one sub-benchmark (b.N = 1, 100, ...) share
			// the cache, so it is filled once, not once per round.
			var c *core.Cache
			var i uint64
			var fillCPU float64
			key, val := make([]byte, 16), make([]byte, 64)
			b.Run(fmt.Sprintf("%v/segs=%d", p, nseg), func(b *testing.B) {
				if c == nil {
					var err error
					if c, err = core.Open(core.Options{HeapBytes: uint64(nseg) * 4096, SegmentBytes: 4096, Eviction: p}); err != nil {
						b.Fatal(err)
					}
					i, fillCPU = noEvictCPU(b, c, nseg, key, val)
					i = fillUnique(b, c, nseg, 2, key, val, i)
					b.ResetTimer()
				}
				cpu0 := cpuNanos()
				for n := 0; n < b.N; n++ {
					seqKey(key, i)
					i++
					if err := c.Set(key, val, 0); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(cpuNanos()-cpu0)/float64(b.N), "cpu-ns/op")
				b.ReportMetric(fillCPU, "noevict-cpu-ns/op")
			})
			if c != nil {
				c.Close()
			}
		}
	}
}

func BenchmarkExpireOne(b *testing.B) {
	sizes := []int{256, 65536}
	if smokeRun() {
		sizes = sizes[:1]
	}
	for _, nseg := range sizes {
		b.Run(fmt.Sprintf("segs=%d", nseg), func(b *testing.B) {
			c, err := core.Open(core.Options{HeapBytes: uint64(nseg) * 4096, SegmentBytes: 4096, Eviction: core.PolicyFIFO})
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			key, val := make([]byte, 16), make([]byte, 64)
			i := fillUnique(b, c, nseg, 1, key, val, 0)
			var cpu int64
			b.ResetTimer()
			for n := 0; n < b.N; n++ {
				b.StopTimer()
				seqKey(key, i)
				i++
				if err := c.Set(key, val, time.Millisecond); err != nil {
					b.Fatal(err)
				}
				time.Sleep(2 * time.Millisecond)
				before := c.Stats().ExpiredSegments
				b.StartTimer()
				cpu0 := cpuNanos()
				if err := c.Expire(); err != nil {
					b.Fatal(err)
				}
				cpu += cpuNanos() - cpu0
				b.StopTimer()
				if c.Stats().ExpiredSegments != before+1 {
					b.Fatalf("expired %d segments, want 1", c.Stats().ExpiredSegments-before)
				}
				b.StartTimer()
			}
			b.ReportMetric(float64(cpu)/float64(b.N), "cpu-ns/op")
		})
	}
}
