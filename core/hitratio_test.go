package core_test

// Hit ratio under a skewed workload: the paper's merge policy and S3-FIFO
// keep frequently used items, so at equal memory they must beat random
// eviction. This compares ratios measured in the same test on the same
// request sequence; it asserts no absolute figure.

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/segcache/segcache/core"
)

// zipfRequests draws n key indexes in [0, nkeys) with a Zipf(s) popularity.
func zipfRequests(n, nkeys int, s float64, seed uint64) []uint32 {
	z := rand.NewZipf(rand.New(rand.NewPCG(seed, seed^0x5eed)), s, 1, uint64(nkeys-1))
	req := make([]uint32, n)
	for i := range req {
		req[i] = uint32(z.Uint64())
	}
	return req
}

// hitRatio replays req cache-aside (get; set on a miss) and returns the hit
// ratio over the requests after the first warm ones.
func hitRatio(t *testing.T, p core.Policy, heap uint64, req []uint32, warm int) float64 {
	c := openT(t, core.Options{HeapBytes: heap, SegmentBytes: 8 << 10, Eviction: p})
	key := make([]byte, 16)
	val := make([]byte, 64)
	buf := make([]byte, 0, 64)
	hits := 0
	for i, r := range req {
		key = fmt.Appendf(key[:0], "key-%012d", r)
		var found bool
		buf, found = c.Get(buf[:0], key)
		if found {
			if i >= warm {
				hits++
			}
			continue
		}
		val[0], val[1], val[2], val[3] = byte(r), byte(r>>8), byte(r>>16), byte(r>>24)
		if err := c.Set(key, val, 0); err != nil {
			t.Fatalf("%v: Set: %v", p, err)
		}
	}
	sane(t, c.Stats())
	return float64(hits) / float64(len(req)-warm)
}

func TestHitRatioBeatsRandom(t *testing.T) {
	t.Parallel()
	const nkeys = 100_000
	// 10% of the keys' bytes (8-byte header + 16-byte key + 64-byte value).
	heap := uint64(nkeys / 10 * itemSize(16, 64))
	warm, measure := 200_000, 1_000_000
	policies := []core.Policy{core.PolicyRandom, core.PolicyMerge, core.PolicyS3FIFO,
		core.PolicyFIFO, core.PolicyRandomFIFO, core.PolicyCTE, core.PolicyUtil}
	if testing.Short() || raceEnabled {
		warm, measure = 50_000, 200_000
		policies = policies[:3]
	}
	req := zipfRequests(warm+measure, nkeys, 1.01, 1)
	ratio := map[core.Policy]float64{}
	for _, p := range policies {
		ratio[p] = hitRatio(t, p, heap, req, warm)
		t.Logf("Zipf 1.01, %d keys, heap %d B (%d segments of 8 KiB): %-12v hit ratio %.4f",
			nkeys, heap, heap/(8<<10), p, ratio[p])
	}
	for _, p := range []core.Policy{core.PolicyMerge, core.PolicyS3FIFO} {
		if ratio[p] <= ratio[core.PolicyRandom] {
			t.Errorf("%v hit ratio %.4f is not above random's %.4f", p, ratio[p], ratio[core.PolicyRandom])
		}
	}
}

// BenchmarkManyTTLsMissRatio replays Zipf(1.01) gets over 2,500 keys per
// segment cache-aside (set on a miss), each key with its own TTL of 1
// minute to 1 day (more TTL buckets than the cache has segments), 20,000
// requests per segment, and reports the miss ratio over the second half
// and the share of the heap that items take at the end. Before S3-FIFO
// evicted sparse main segments first (see sparseMainShare), its items took
// 61 to 70% of the heap here. Deterministic: one run is the figure.
func BenchmarkManyTTLsMissRatio(b *testing.B) {
	sizes := []int{16, 64, 256}
	if smokeRun() {
		sizes = sizes[:1]
	}
	for _, p := range []core.Policy{core.PolicyFIFO, core.PolicyMerge, core.PolicyS3FIFO} {
		for _, segs := range sizes {
			b.Run(fmt.Sprintf("%v/segs=%d", p, segs), func(b *testing.B) {
				var miss, held float64
				for range b.N {
					miss, held = manyTTLsReplay(b, p, segs)
				}
				b.ReportMetric(100*miss, "miss%")
				b.ReportMetric(100*held, "held%")
			})
		}
	}
}

func manyTTLsReplay(b *testing.B, p core.Policy, segs int) (miss, held float64) {
	const segSize = 64 << 10
	c := openT(b, core.Options{HeapBytes: uint64(segs * segSize), SegmentBytes: segSize, Eviction: p})
	defer c.Close()
	z := rand.NewZipf(rand.New(rand.NewPCG(1, 2)), 1.01, 1, uint64(segs*2500-1))
	key, val := make([]byte, 0, 16), make([]byte, 100)
	n := segs * 20000
	gets, misses := 0, 0
	for i := range n {
		k := z.Uint64()
		key = fmt.Appendf(key[:0], "key%07d", k)
		_, ok := c.Get(nil, key)
		if i >= n/2 {
			gets++
			if !ok {
				misses++
			}
		}
		if !ok {
			ttl := time.Duration(60+k*7919%(86400-60)) * time.Second
			if err := c.Set(key, val, ttl); err != nil {
				b.Fatal(err)
			}
		}
	}
	s := c.Stats()
	return float64(misses) / float64(gets), float64(s.ItemBytes) / float64(s.HeapBytes)
}
