package core

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/segcache/segcache/core/internal/hashtable"
	"github.com/segcache/segcache/core/internal/item"
	"github.com/segcache/segcache/core/internal/segment"
)

var allPolicies = []Policy{PolicyNone, PolicyRandom, PolicyRandomFIFO, PolicyFIFO, PolicyCTE, PolicyUtil, PolicyMerge, PolicyS3FIFO}

// checkedValue makes a value that carries its key and a checksum.
func checkedValue(key []byte, n, size int) []byte {
	v := make([]byte, size)
	binary.LittleEndian.PutUint32(v[4:], uint32(n))
	copy(v[8:], key)
	for i := 8 + len(key); i < size; i++ {
		v[i] = byte(n + i)
	}
	binary.LittleEndian.PutUint32(v, crc32.ChecksumIEEE(v[4:]))
	return v
}

func valueOK(key, v []byte) error {
	if len(v) < 8+len(key) {
		return fmt.Errorf("value of %d bytes too short", len(v))
	}
	if crc32.ChecksumIEEE(v[4:]) != binary.LittleEndian.Uint32(v) {
		return fmt.Errorf("checksum mismatch")
	}
	if string(v[8:8+len(key)]) != string(key) {
		return fmt.Errorf("value belongs to key %q", v[8:8+len(key)])
	}
	return nil
}

// integrity checks that the segment counters agree with the hashtable:
// every linked slot points at a live item of its segment, and each
// segment's live counts equal what links to it.
func (c *Cache) integrity(t *testing.T) {
	t.Helper()
	items := make([]int32, c.nseg)
	bytes := make([]int32, c.nseg)
	// The size of the item at each item boundary of a segment, indexed
	// once per segment (a walk per slot would make the check quadratic).
	sizes := make(map[int32]map[int]int)
	sizeAt := func(seg int32, off int) int {
		m, ok := sizes[seg]
		if !ok {
			m = make(map[int]int)
			c.forEachItemUnclaimed(seg, func(o, sz int) { m[o] = sz })
			sizes[seg] = m
		}
		return m[off]
	}
	for i := range c.table().Buckets {
		for _, s := range c.table().Buckets[i] {
			if s == 0 || hashtable.IsGhost(s) {
				continue
			}
			seg, _, off := hashtable.SplitLoc(hashtable.Loc(s))
			size := sizeAt(seg, off)
			if size == 0 {
				t.Fatalf("slot %#x points at no item boundary of segment %d", s, seg)
			}
			items[seg]++
			bytes[seg] += int32(size)
		}
	}
	for id := range c.segs.Headers {
		h := &c.segs.Headers[id]
		n, b := h.Live()
		if n != items[id] || b != bytes[id] {
			t.Errorf("segment %d (state %d): counters %d items / %d bytes, hashtable links %d / %d",
				id, h.State(), n, b, items[id], bytes[id])
		}
		if p := h.Pins(); p != 0 {
			t.Errorf("segment %d still pinned (%d)", id, p)
		}
	}
	if n := c.ev.accountingErrors.Load(); n != 0 {
		t.Errorf("%d segments recycled with nonzero counters", n)
	}
	c.checkOrder(t)
}

func (c *Cache) forEachItemUnclaimed(id int32, fn func(off, size int)) {
	c.forEachItem(id, func(off int, ih item.Header, data []byte) { fn(off, len(data)) })
}

// TestChurnIntegrity runs writers, deleters and readers on a small cache
// under every policy, then checks every value and the accounting.
func TestChurnIntegrity(t *testing.T) {
	configs := []struct {
		name       string
		segs, keys int
		hashPower  uint32
	}{
		{"small", 16, 600, 10},
		{"lanes", 64 * lanes, 30000, 14}, // large enough for several write lanes
	}
	for _, cf := range configs {
		for _, p := range allPolicies {
			t.Run(cf.name+"/"+p.String(), func(t *testing.T) {
				c, err := Open(Options{HeapBytes: uint64(cf.segs) * 4096, SegmentBytes: 4096, Eviction: p, HashPower: cf.hashPower})
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				keys := cf.keys
				var wg sync.WaitGroup
				errs := make(chan error, 8)
				for w := 0; w < 4; w++ {
					wg.Add(1)
					go func(w int) {
						defer wg.Done()
						r := rand.New(rand.NewPCG(uint64(w), 1))
						var buf []byte
						for i := 0; i < 4000*cf.segs/16/8+4000; i++ {
							k := []byte(fmt.Sprintf("key-%d", r.IntN(keys)))
							switch op := r.IntN(10); {
							case op < 4:
								ttl := time.Duration(0)
								if r.IntN(4) == 0 {
									ttl = time.Duration(1+r.IntN(3)) * time.Second
								}
								err := c.Set(k, checkedValue(k, i, 24+r.IntN(100)), ttl)
								if err != nil && !(p == PolicyNone && err == ErrNoSpace) {
									errs <- fmt.Errorf("set: %v", err)
									return
								}
							case op < 5:
								c.Delete(k)
							default:
								var ok bool
								buf, ok = c.Get(buf[:0], k)
								if ok {
									if err := valueOK(k, buf); err != nil {
										errs <- fmt.Errorf("get %s: %v", k, err)
										return
									}
								}
							}
							if i%500 == 0 && w == 0 {
								c.Expire()
							}
						}
					}(w)
				}
				wg.Wait()
				close(errs)
				for err := range errs {
					t.Fatal(err)
				}
				c.evictMu.Lock()
				c.integrity(t)
				c.evictMu.Unlock()
				st := c.Stats()
				t.Logf("%+v", st)
				if st.SegmentsFree > st.SegmentsTotal || int64(st.Items) < 0 {
					t.Errorf("stats out of range: %+v", st)
				}
			})
		}
	}
}

var _ = segment.Free

// Sets that evict allocate nothing in steady state: eviction reuses its
// scratch space (the bench harness saw 31 B/op from a per-merge slice).
//
// The count is the process's (runtime.MemStats.Mallocs), so it includes
// what the runtime's own goroutines allocate (the scavenger grows a timer
// heap now and then), and the scratch space grows by doubling until the
// fullest segment an eviction reads fits. Neither recurs: the test
// measures windows of 20,000 sets until one allocates nothing, at most
// maxWindows. An allocation made per eviction shows in every window.
func TestEvictingSetsAllocateNothing(t *testing.T) {
	if raceOn {
		t.Skip("the race detector's instrumentation allocates; this checks the normal build")
	}
	const maxWindows = 5
	for _, p := range []Policy{PolicyMerge, PolicyS3FIFO, PolicyFIFO} {
		c, err := Open(Options{HeapBytes: 64 * 4096, SegmentBytes: 4096, Eviction: p, HashPower: 12})
		if err != nil {
			t.Fatal(err)
		}
		keys := make([][]byte, 20000)
		for i := range keys {
			keys[i] = []byte(fmt.Sprintf("key-%06d", i))
		}
		val := make([]byte, 100)
		i := 0
		set := func() {
			if err := c.Set(keys[i%len(keys)], val, 0); err != nil {
				t.Fatal(err)
			}
			i++
		}
		for j := 0; j < 40000; j++ { // fill, and let scratch space grow
			set()
		}
		var counts []uint64
		for w := 0; w < maxWindows; w++ {
			before := c.Stats().EvictedItems + c.Stats().MergedSegments
			// Count every allocation (AllocsPerRun rounds the average
			// down to an integer, which would hide one allocation per
			// eviction).
			var m0, m1 runtime.MemStats
			runtime.ReadMemStats(&m0)
			for j := 0; j < 20000; j++ {
				set()
			}
			runtime.ReadMemStats(&m1)
			if after := c.Stats().EvictedItems + c.Stats().MergedSegments; after == before {
				t.Fatalf("%v: nothing was evicted during window %d", p, w)
			}
			counts = append(counts, m1.Mallocs-m0.Mallocs)
			if counts[w] == 0 {
				break
			}
		}
		if counts[len(counts)-1] != 0 {
			t.Errorf("%v: allocations in each of %d windows of 20000 evicting sets: %v", p, maxWindows, counts)
		}
		c.Close()
	}
}
