package core

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
)

// TestSmallKeySpaceMix is the C ABI's checksum stress in Go: a few hot
// keys in a small merge cache, so that overwrites, deletes and batch reads
// of the same keys keep racing merges of the segments that hold them.
func TestSmallKeySpaceMix(t *testing.T) {
	for _, p := range []Policy{PolicyMerge, PolicyS3FIFO, PolicyFIFO} {
		t.Run(p.String(), func(t *testing.T) {
			c, err := Open(Options{HeapBytes: 256 << 10, SegmentBytes: 16 << 10, Eviction: p})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			var wg sync.WaitGroup
			for w := 0; w < 4; w++ {
				wg.Add(1)
				go func(w int) {
					defer wg.Done()
					r := rand.New(rand.NewPCG(uint64(w), 7))
					keys := make([][]byte, 4)
					bufs := make([][]byte, 4)
					for j := range bufs {
						bufs[j] = make([]byte, 256)
					}
					lens := make([]int, 4)
					errs := make([]error, 4)
					for i := 0; i < 20000; i++ {
						k := r.IntN(64)
						key := []byte(fmt.Sprintf("mix-%02d", k))
						switch op := r.IntN(16); {
						case op < 5:
							if err := c.Set(key, checkedValue(key, i, 30+r.IntN(200)), 0); err != nil {
								t.Errorf("set: %v", err)
								return
							}
						case op < 6:
							c.Delete(key)
						case op < 8:
							for j := range keys {
								keys[j] = []byte(fmt.Sprintf("mix-%02d", (k+j*17)%64))
							}
							c.GetBatch(keys, bufs, lens, errs)
							for j := range keys {
								if errs[j] == nil {
									if err := valueOK(keys[j], bufs[j][:lens[j]]); err != nil {
										t.Errorf("batch %s: %v", keys[j], err)
										return
									}
								}
							}
						default:
							if v, ok := c.Get(nil, key); ok {
								if err := valueOK(key, v); err != nil {
									t.Errorf("get %s: %v", key, err)
									return
								}
							}
						}
					}
				}(w)
			}
			wg.Wait()
			c.evictMu.Lock()
			c.integrity(t)
			c.evictMu.Unlock()
		})
	}
}
