package core_test

import (
	"fmt"
	"testing"

	"github.com/segcache/segcache/core"
	"github.com/segcache/segcache/core/internal/tagscan"
)

// BenchmarkEngineKernels measures the tag-scan implementations through the
// whole engine (issue 3): get hit and miss, and batches of 16 and 64 keys
// per GetBatch call against the same keys fetched one Get at a time. Each
// implementation runs side by side in one binary; ns/op is per key.
func BenchmarkEngineKernels(b *testing.B) {
	const nkeys = 1 << 20
	c, err := core.Open(core.Options{HeapBytes: 128 << 20, HashPower: 21})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	keys := make([][]byte, nkeys)
	misses := make([][]byte, nkeys)
	val := make([]byte, 64)
	for i := range keys {
		keys[i] = []byte(fmt.Sprintf("key-%011d", i))
		misses[i] = []byte(fmt.Sprintf("nok-%011d", i))
		if err := c.Set(keys[i], val, 0); err != nil {
			b.Fatal(err)
		}
	}
	// A fixed pseudo-random order, so every implementation reads the
	// same keys and the table is visited all over.
	order := make([]int, 1<<16)
	x := uint64(88172645463325252)
	for i := range order {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		order[i] = int(x % nkeys)
	}
	for _, impl := range tagscan.Impls() {
		restore := tagscan.Force(impl)
		b.Run("impl="+string(impl)+"/op=get-hit", func(b *testing.B) {
			buf := make([]byte, 0, 64)
			for i := 0; i < b.N; i++ {
				buf, _ = c.Get(buf[:0], keys[order[i&(len(order)-1)]])
			}
		})
		b.Run("impl="+string(impl)+"/op=get-miss", func(b *testing.B) {
			buf := make([]byte, 0, 64)
			for i := 0; i < b.N; i++ {
				buf, _ = c.Get(buf[:0], misses[order[i&(len(order)-1)]])
			}
		})
		for _, n := range []int{16, 64} {
			batch := make([][]byte, n)
			bufs := make([][]byte, n)
			for j := range bufs {
				bufs[j] = make([]byte, 64)
			}
			lens := make([]int, n)
			errs := make([]error, n)
			b.Run(fmt.Sprintf("impl=%s/op=batch%d", impl, n), func(b *testing.B) {
				for i := 0; i < b.N; i += n {
					for j := range batch {
						batch[j] = keys[order[(i+j)&(len(order)-1)]]
					}
					c.GetBatch(batch, bufs, lens, errs)
				}
			})
			b.Run(fmt.Sprintf("impl=%s/op=single%d", impl, n), func(b *testing.B) {
				for i := 0; i < b.N; i += n {
					for j := 0; j < n; j++ {
						c.GetInto(bufs[j], keys[order[(i+j)&(len(order)-1)]])
					}
				}
			})
		}
		restore()
	}
}
