package main

import (
	"fmt"
	"math"
	"sync"
	"testing"

	"github.com/segcache/segcache/core"
)

// BenchmarkInProcess runs the workload of bench/c/bench.c against core
// directly, in Go, so that bench/c/report.sh can put the cost of the C ABI
// side by side with the same operations without it: 1,000,000 keys of 16 bytes, 64-byte values, Zipf 0.99, get
// (hit) into a caller buffer, set (overwrite), GetBatch of 16 and 64 keys
// (ns/op per key), each with 1 and 2 goroutines.
func BenchmarkInProcess(b *testing.B) {
	const nkeys = 1_000_000
	// As in bench.c: keys back to back in one array, and the Zipf key
	// sequences generated before timing (one per goroutine, cycled).
	arena := make([]byte, 0, nkeys*16)
	for i := 0; i < nkeys; i++ {
		arena = fmt.Appendf(arena, "key:%012d", i)
	}
	key := func(i uint32) []byte { return arena[i*16 : i*16+16 : i*16+16] }
	c, err := core.Open(core.Options{HeapBytes: nkeys*256 + 64<<20})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	val := make([]byte, 64)
	for i := range val {
		val[i] = 'v'
	}
	for i := uint32(0); i < nkeys; i++ {
		if err := c.Set(key(i), val, 0); err != nil {
			b.Fatal(err)
		}
	}
	z := newZipf(nkeys, 0.99)
	const seqLen = 1 << 21
	var seqs [2][]uint32
	for t := range seqs {
		rng := 0x9E3779B97F4A7C15 * uint64(t+1)
		seqs[t] = make([]uint32, seqLen)
		for i := range seqs[t] {
			seqs[t][i] = uint32(z.next(&rng))
		}
	}
	// parallel runs body on `threads` goroutines, each over its own key
	// sequence, sharing b.N operations. GOMAXPROCS stays at its default
	// (as in bench.c, where the C threads share the library's Ps), so one
	// goroutine at -cpu 1 does not compete with the engine's own
	// goroutines for a single P.
	parallel := func(b *testing.B, threads int, body func(seq []uint32, n int)) {
		var wg sync.WaitGroup
		for t := 0; t < threads; t++ {
			n := b.N / threads
			if t == 0 {
				n += b.N % threads
			}
			wg.Add(1)
			go func(seq []uint32) {
				defer wg.Done()
				body(seq, n)
			}(seqs[t%len(seqs)])
		}
		wg.Wait()
	}

	// Lookups first, set last: the eviction that reclaims overwritten
	// versions may drop live keys and turn later lookups into misses.
	for _, threads := range []int{1, 2} {
		b.Run(fmt.Sprintf("get/threads=%d", threads), func(b *testing.B) {
			parallel(b, threads, func(seq []uint32, n int) {
				buf := make([]byte, 64)
				for i := 0; i < n; i++ {
					if _, _, err := c.GetInto(buf, key(seq[i&(seqLen-1)])); err != nil { // every lookup must hit
						b.Error(err)
						return
					}
				}
			})
		})
		for _, batch := range []int{16, 64} {
			b.Run(fmt.Sprintf("get_multi%d/threads=%d", batch, threads), func(b *testing.B) {
				// One b.N iteration is one key, as bench.c reports per key.
				parallel(b, threads, func(seq []uint32, n int) {
					ks := make([][]byte, batch)
					bufs := make([][]byte, batch)
					for i := range bufs {
						bufs[i] = make([]byte, 64)
					}
					lens := make([]int, batch)
					errs := make([]error, batch)
					for i := 0; i+batch <= n; i += batch {
						for j := range ks {
							ks[j] = key(seq[(i+j)&(seqLen-1)])
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
	}
	for _, threads := range []int{1, 2} {
		b.Run(fmt.Sprintf("set/threads=%d", threads), func(b *testing.B) {
			parallel(b, threads, func(seq []uint32, n int) {
				for i := 0; i < n; i++ {
					if err := c.Set(key(seq[i&(seqLen-1)]), val, 0); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
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
