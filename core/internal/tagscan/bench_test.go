package tagscan_test

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/segcache/segcache/core/internal/tagscan"
	"github.com/segcache/segcache/core/internal/tagscan/tagscantest"
)

// Benchmarks. Run `make bench-kernels`: 5 interleaved runs, summarized by
// benchstat with the implementations (and batch vs single) side by side;
// the sub-benchmarks of one benchmark run in the same process on the same
// data.
//
//   BenchmarkMatch            one Match on buckets in L1, per implementation
//   BenchmarkLookup           n keys over a table much larger than the cache:
//                             MatchBatch vs n single Match calls
//   BenchmarkPrefetchDist     the assembly MatchBatch at several distances

var sinkMask uint32

// benchKeys returns n random hashes and a table of 2^logn buckets (in
// huge pages where the OS allows, like the engine's table) whose
// candidate buckets hold a live slot with each hash's tag, as a hit would.
func benchKeys(logn, n int, seed uint64) (table []tagscan.Bucket, m uint64, hashes []uint64) {
	r := rand.New(rand.NewPCG(seed, seed+1))
	m = uint64(1)<<logn - 1
	table = bigTable(1 << logn)
	for i := range table {
		for j := 0; j < 6; j++ { // 6 of 8 slots used, random other tags
			table[i][j] = r.Uint64()&^(tagscan.GhostLoc>>1) | (1+r.Uint64N(4095))<<52
		}
	}
	hashes = make([]uint64, n)
	for i := range hashes {
		hashes[i] = r.Uint64()
		b0, _, tag := tagscan.Candidates(hashes[i], m)
		table[b0][6] = tag<<52 | uint64(i)
	}
	return table, m, hashes
}

func BenchmarkMatch(b *testing.B) {
	// 256 buckets (16 KiB): a scan of buckets already in L1, which is
	// what Match costs once the batch has prefetched them.
	table, m, hashes := benchKeys(8, 1<<12, 1)
	tagscantest.ForEachImplB(b, func(b *testing.B) {
		var acc uint32
		for i := 0; i < b.N; i++ {
			b0, b1, tag := tagscan.Candidates(hashes[i&(len(hashes)-1)], m)
			acc += tagscan.Match(&table[b0], &table[b1], tag)
		}
		sinkMask = acc
	})
}

func BenchmarkClassify(b *testing.B) {
	// The buckets of BenchmarkMatch, in L1: the cost of the sort itself.
	table, m, hashes := benchKeys(8, 1<<12, 1)
	tagscantest.ForEachImplB(b, func(b *testing.B) {
		var acc uint64
		for i := 0; i < b.N; i++ {
			b0, b1, tag := tagscan.Candidates(hashes[i&(len(hashes)-1)], m)
			acc += tagscan.Classify(&table[b0], &table[b1], tag)
		}
		sinkMask = uint32(acc)
	})
}

var (
	bigOnce   sync.Once
	bigTab    []tagscan.Bucket
	bigMask   uint64
	bigHashes []uint64
)

// bigKeys is the table of BenchmarkLookup: 2^24 buckets (1 GiB), several
// times the 300 MiB L3 of the benchmark machine, so that nearly every
// bucket access misses the cache; 2^12 buckets with -short (smoke runs).
func bigKeys(b *testing.B) ([]tagscan.Bucket, uint64, []uint64) {
	bigOnce.Do(func() {
		logn := 24
		if testing.Short() {
			logn = 12
		}
		bigTab, bigMask, bigHashes = benchKeys(logn, 1<<20, 2)
	})
	b.ResetTimer()
	return bigTab, bigMask, bigHashes
}

func BenchmarkLookup(b *testing.B) {
	for _, n := range []int{16, 64} {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			b.Run("kind=batch", func(b *testing.B) {
				tagscantest.ForEachImplB(b, func(b *testing.B) {
					table, m, hashes := bigKeys(b)
					masks := make([]uint32, n)
					off := 0
					for i := 0; i < b.N; i++ {
						tagscan.MatchBatch(table, m, hashes[off:off+n], masks)
						off = (off + n) & (len(hashes) - 1)
					}
					b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/key")
				})
			})
			b.Run("kind=single", func(b *testing.B) {
				tagscantest.ForEachImplB(b, func(b *testing.B) {
					table, m, hashes := bigKeys(b)
					masks := make([]uint32, n)
					off := 0
					for i := 0; i < b.N; i++ {
						for j, h := range hashes[off : off+n] {
							b0, b1, tag := tagscan.Candidates(h, m)
							masks[j] = tagscan.Match(&table[b0], &table[b1], tag)
						}
						off = (off + n) & (len(hashes) - 1)
					}
					b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/key")
				})
			})
		})
	}
}

// BenchmarkPrefetchDist chose prefetchDist: the assembly MatchBatch of 64
// keys over the big table at each distance (0 = the prefetch is for the
// key being scanned, i.e. none ahead).
func BenchmarkPrefetchDist(b *testing.B) {
	const n = 64
	for _, impl := range tagscan.Impls() {
		if impl == tagscan.Go {
			continue // pure Go cannot prefetch
		}
		for _, d := range []int{0, 2, 4, 8, 12, 16, 24, 32} {
			b.Run(fmt.Sprintf("impl=%s/dist=%d", impl, d), func(b *testing.B) {
				defer tagscan.Force(impl)()
				defer tagscan.SetPrefetchDist(d)()
				table, m, hashes := bigKeys(b)
				masks := make([]uint32, n)
				off := 0
				for i := 0; i < b.N; i++ {
					tagscan.MatchBatch(table, m, hashes[off:off+n], masks)
					off = (off + n) & (len(hashes) - 1)
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/key")
			})
		}
	}
}
