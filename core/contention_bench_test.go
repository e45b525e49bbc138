package core_test

import (
	"encoding/binary"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/segcache/segcache/core"
)

// BenchmarkSetContended has every goroutine overwrite the same few keys,
// so writers meet on the same key stripes (and the same segment headers)
// all the time: the case where how a stripe waits matters. Run it at
// -cpu 1,2,4,8: above the machine's CPUs a holder can lose its CPU to a
// waiter.
func BenchmarkSetContended(b *testing.B) {
	for _, keys := range []int{1, 16} {
		b.Run(fmt.Sprintf("keys=%d", keys), func(b *testing.B) {
			c, err := core.Open(core.Options{HeapBytes: 64 << 20, SegmentBytes: 1 << 20})
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			val := make([]byte, 64)
			var next atomic.Uint64
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				key := make([]byte, 16)
				i := next.Add(1)
				for pb.Next() {
					binary.LittleEndian.PutUint64(key, i%uint64(keys))
					i++
					if err := c.Set(key, val, 0); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
