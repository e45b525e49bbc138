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
