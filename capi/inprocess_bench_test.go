package main

import (
	"fmt"
	"math"
	"sync/atomic"
	"testing"

	"github.com/segcache/segcache/core"
)

// BenchmarkInProcess runs the workload of bench/c/bench.c against core
// directly, in Go, so that bench/c/report.sh can put the cost of the C ABI
// side by side with the same operations without it (BENCHMARKS.md
// section 4): 1,000,000 keys of 16 bytes, 64-byte values, Zipf 0.99, get
// (hit) into a caller buffer, set (overwrite), GetBatch of 16 and 64 keys
// (ns/op per key). Run with -cpu 1,2.
func BenchmarkInProcess(b *testing.B) {
	const nkeys = 1_000_000
	keys := make([][]byte, nkeys)
	for i := range keys {
		keys[i] = fmt.Appendf(nil, "key:%012d", i)
	}
	c, err := core.Open(core.Options{HeapBytes: nkeys*256 + 64<<20})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	val := make([]byte, 64)
	for i := range val {
		val[i] = 'v'
	}
	for _, k := range keys {
		if err := c.Set(k, val, 0); err != nil {
			b.Fatal(err)
		}
	}
	z := newZipf(nkeys, 0.99)
	var seed atomic.Uint64

	b.Run("get", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			rng := 0x9E3779B97F4A7C15 * (seed.Add(1))
			buf := make([]byte, 64)
			for pb.Next() {
				if _, _, err := c.GetInto(buf, keys[z.next(&rng)]); err != nil { // every lookup must hit
					b.Error(err)
					return
				}
			}
		})
	})
	for _, n := range []int{16, 64} {
		b.Run(fmt.Sprintf("get_multi%d", n), func(b *testing.B) {
			b.RunParallel(func(pb *testing.PB) {
				rng := 0x9E3779B97F4A7C15 * (seed.Add(1))
				ks := make([][]byte, n)
				bufs := make([][]byte, n)
				for i := range bufs {
					bufs[i] = make([]byte, 64)
				}
				lens := make([]int, n)
				errs := make([]error, n)
				// One b.N iteration is one key, as bench.c reports per key.
				for {
					for i := range ks {
						if !pb.Next() {
							return
						}
						ks[i] = keys[z.next(&rng)]
					}
					c.GetBatch(ks, bufs, lens, errs)
					for _, err := range errs {
						if err != nil {
							b.Error(err)
							return
						}
					}
				}
			})
		})
	}
	// set runs last: the eviction that reclaims overwritten versions may
	// drop live keys and turn later lookups into misses.
	b.Run("set", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			rng := 0x9E3779B97F4A7C15 * (seed.Add(1))
			for pb.Next() {
				if err := c.Set(keys[z.next(&rng)], val, 0); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// zipf is YCSB's Zipfian generator, as in bench/c/bench.c.
type zipf struct {
	n                        uint64
	theta, alpha, zetan, eta float64
}

func newZipf(n uint64, theta float64) *zipf {
	z := &zipf{n: n, theta: theta}
	for i := uint64(1); i <= n; i++ {
		z.zetan += 1 / math.Pow(float64(i), theta)
	}
	zeta2 := 1 + 1/math.Pow(2, theta)
	z.alpha = 1 / (1 - theta)
	z.eta = (1 - math.Pow(2/float64(n), 1-theta)) / (1 - zeta2/z.zetan)
	return z
}

func (z *zipf) next(rng *uint64) uint64 {
	s := *rng
	s ^= s >> 12
	s ^= s << 25
	s ^= s >> 27
	*rng = s
	u := float64((s*2685821657736338717)>>11) / (1 << 53)
	uz := u * z.zetan
	if uz < 1 {
		return 0
	}
	if uz < 1+math.Pow(0.5, z.theta) {
		return 1
	}
	v := uint64(float64(z.n) * math.Pow(z.eta*u-z.eta+1, z.alpha))
	return min(v, z.n-1)
}
