package core

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// A single writer keeps one lane whatever P it runs on, so its placements
// (and a single-threaded replay) do not depend on scheduling; concurrent
// writers open every lane in a cache of lanesOnCollision segments or more,
// never in a smaller one.
func TestLanesOpenOnlyWhenWritersCollide(t *testing.T) {
	prev := runtime.GOMAXPROCS(4)
	defer runtime.GOMAXPROCS(prev)
	open := func(t *testing.T, segs int) *Cache {
		c, err := Open(Options{HeapBytes: uint64(segs) * 16 << 10, SegmentBytes: 16 << 10})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		if c.nseg != segs {
			t.Fatalf("%d segments, want %d", c.nseg, segs)
		}
		return c
	}
	val := make([]byte, 100)
	t.Run("single writer", func(t *testing.T) {
		c := open(t, lanesOnCollision+36)
		for i := 0; i < 200000; i++ { // several laps of the heap, evicting
			if err := c.Set([]byte(fmt.Sprintf("k%d", i%30000)), val, 0); err != nil {
				t.Fatal(err)
			}
			if i%100 == 0 {
				runtime.Gosched() // move between Ps
			}
		}
		if m := c.laneMask.Load(); m != 0 {
			t.Fatalf("a single writer opened lanes (mask %d)", m)
		}
	})
	concurrent := func(c *Cache, wait time.Duration) bool {
		var stop atomic.Bool
		var wg sync.WaitGroup
		for g := 0; g < 4; g++ {
			wg.Add(1)
			go func(g int) {
				defer wg.Done()
				for i := 0; !stop.Load(); i++ {
					if err := c.Set([]byte(fmt.Sprintf("g%d:%d", g, i%5000)), val, 0); err != nil {
						t.Error(err)
						return
					}
				}
			}(g)
		}
		deadline := time.Now().Add(wait)
		for c.laneMask.Load() == 0 && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		stop.Store(true)
		wg.Wait()
		return c.laneMask.Load() != 0
	}
	t.Run("concurrent writers", func(t *testing.T) {
		if !concurrent(open(t, lanesOnCollision+36), 5*time.Second) {
			t.Fatal("4 concurrent writers for 5 s never opened the lanes")
		}
	})
	t.Run("concurrent writers, small cache", func(t *testing.T) {
		if concurrent(open(t, lanesOnCollision-1), 300*time.Millisecond) {
			t.Fatal("concurrent writers opened lanes in a cache under lanesOnCollision segments")
		}
	})
}

// Lanes must not crowd items out of a cache that holds them all. Every TTL
// bucket in use has an open segment per lane, so 4 concurrent writers with
// 20 TTLs could keep 80 segments open in a cache of 64, and each segment
// opened evicted an open one holding a few items: a default cache (64 MiB
// of 1 MiB segments) written 48 MB by 4 goroutines with TTLs of 5 to 24 s
// kept 27,000 to 77,000 of its 400,000 items, where a cache one segment
// smaller (one lane) kept them all; under PolicyNone the sets failed with
// ErrNoSpace instead. Here 4 goroutines write half the heap with 32 TTLs:
// every write must succeed and every item stay.
func TestLanesKeepItemsWithManyTTLs(t *testing.T) {
	prev := runtime.GOMAXPROCS(4)
	defer runtime.GOMAXPROCS(prev)
	for _, p := range []Policy{PolicyFIFO, PolicyS3FIFO, PolicyNone} {
		t.Run(p.String(), func(t *testing.T) {
			const segs, segSize = lanesOnCollision, 16 << 10
			c, err := Open(Options{HeapBytes: segs * segSize, SegmentBytes: segSize, Eviction: p})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.laneMask.Store(lanes - 1)        // as concurrent writers make it
			const writers, perWriter = 4, 2048 // 8192 items of 64 bytes: half the heap
			val := make([]byte, 64-8-8)
			var wg sync.WaitGroup
			for g := 0; g < writers; g++ {
				wg.Go(func() {
					for i := 0; i < perWriter; i++ {
						// 32 TTLs of 1 to 32 hours: 32 TTL buckets, none expiring.
						ttl := time.Duration(1+i%32) * time.Hour
						if err := c.Set([]byte(fmt.Sprintf("g%d-%04d", g, i)), val, ttl); err != nil {
							t.Error(err)
							return
						}
						if i%8 == 0 {
							runtime.Gosched() // move between Ps, so between lanes
						}
					}
				})
			}
			wg.Wait()
			s := c.Stats()
			if s.Items != writers*perWriter || s.EvictedItems != 0 {
				t.Errorf("%d items kept, %d evicted (%d segments), want all %d kept", s.Items, s.EvictedItems, s.EvictedSegments, writers*perWriter)
			}
			// The count that bounds the lanes is the number of Open segments.
			checkOpenCount(t, c, "after the writes")
			c.Clear()
			checkOpenCount(t, c, "after Clear")
		})
	}
}
