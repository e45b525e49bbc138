package core

import (
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/segcache/segcache/core/internal/clock"
)

// Items whose TTLs spread over more TTL buckets than the cache has
// segments must still fill the cache's memory. Every bucket written to
// holds an open segment; unbounded, each set that opened a bucket evicted
// another bucket's open segment, and a default cache (64 MiB of 1 MiB
// segments) written 25 MB of items with TTLs of 1 minute to 1 day (336
// buckets) kept about 100 of them. Here 64 segments of 64 KiB get a third
// of the heap with such TTLs, from one writer and from four: an evicting
// policy must keep every item written by one writer, none expiring later
// than its TTL allows (an item may go to a shorter bucket's segment and
// expire earlier, as if evicted). PolicyNone keeps TTLs whole and refuses
// sets instead, and loses no item it accepted.
//
// Four writers must keep at least 80% (the bug kept 1%), not all: under
// the race detector and load, about one run in 250 of merge's evicted a
// segment or two. The heap then held a dozen sealed segments of the
// longest TTL buckets with 1 to 20 items each, sealed while segments were
// scarce (by sealLongestOpen, as far as a dump shows; counted in ordinary
// runs, four writers do not call it more often than one). Merge keeps a
// segment free for its destinations, so it runs out first, and cannot
// merge segments of different buckets, so it drops whole ones, the oldest:
// a full one of 546 items (5%). Dropping a nearly empty one first kept
// every item here, but in steady state (BenchmarkManyTTLsMissRatio,
// merge, 64 segments) it missed 19.3% of gets against 18.6%: those
// segments hold the newest items. So merge keeps its order.
func TestManyTTLsFitWhatFits(t *testing.T) {
	for _, p := range []Policy{PolicyFIFO, PolicyS3FIFO, PolicyMerge, PolicyRandom, PolicyNone} {
		for _, writers := range []int{1, 4} {
			t.Run(fmt.Sprintf("%v/writers=%d", p, writers), func(t *testing.T) {
				testManyTTLs(t, p, writers)
			})
		}
	}
}

func testManyTTLs(t *testing.T, p Policy, writers int) {
	prev := runtime.GOMAXPROCS(max(writers, 2))
	defer runtime.GOMAXPROCS(prev)
	const segs, segSize = 64, 64 << 10
	c := openCache(t, Options{HeapBytes: segs * segSize, SegmentBytes: segSize, Eviction: p})
	const n = segs * segSize / 3 / 128 // 128-byte items
	deadlines := make([]map[string]int64, writers)
	refused := make([]int, writers)
	var wg sync.WaitGroup
	for w := range writers {
		deadlines[w] = make(map[string]int64)
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), uint64(p)))
			val := make([]byte, 100)
			for i := w; i < n; i += writers {
				k := fmt.Sprintf("key%06d", i)
				ttlD := time.Duration(60+r.IntN(86400-60+1)) * time.Second
				switch err := c.Set([]byte(k), val, ttlD); {
				case err == nil:
					// The TTL runs from the write, which happens inside
					// Set: the clock after Set bounds it. Read before
					// Set, it was a millisecond early when Set opened
					// the item's segment a tick later (an item whose TTL
					// is its bucket's lower bound then expired 1 ms after
					// that deadline).
					deadlines[w][k] = clock.Now() + ttlD.Milliseconds()
				case p == PolicyNone && errors.Is(err, ErrNoSpace):
					refused[w]++
				default:
					t.Errorf("set %d: %v", i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	deadline := map[string]int64{}
	for _, d := range deadlines {
		maps.Copy(deadline, d)
	}
	s := c.Stats()
	switch {
	case p == PolicyNone:
	case writers == 1 && (s.Items != n || s.EvictedItems != 0):
		t.Errorf("%d items kept, %d evicted, want all %d kept", s.Items, s.EvictedItems, n)
	case s.Items < n*8/10:
		t.Errorf("%d items kept, %d evicted, want at least 80%% of %d kept", s.Items, s.EvictedItems, n)
	case s.EvictedItems != 0:
		t.Logf("%d items kept, %d evicted (see the test's comment)", s.Items, s.EvictedItems)
	}
	if int(s.Items+s.EvictedItems) != len(deadline) {
		t.Errorf("%d items kept and %d evicted of the %d stored", s.Items, s.EvictedItems, len(deadline))
	}
	late, found := 0, 0
	for k, d := range deadline {
		f, _, _, ok := probeLookup(t, c, []byte(k))
		if !ok {
			continue // evicted (counted above)
		}
		found++
		if e := f.hdr.Expire.Load(); e == 0 || e > d {
			late++
		}
	}
	if found != int(s.Items) {
		t.Errorf("%d of the stored keys are there, Stats.Items %d", found, s.Items)
	}
	if late != 0 {
		t.Errorf("%d of %d items expire after their TTL", late, len(deadline))
	}
	// How many stay open depends on when free segments ran short (buckets
	// open freely while a quarter of the segments are free): that no open
	// segment was evicted for another is what the counts above check.
}

// In steady state too, with reads, eviction and S3-FIFO's promotions, the
// segments that are neither sealed nor free (open ones, and S3-FIFO's
// promotion destinations, one per TTL bucket that promotes) must leave
// most of the heap to sealed segments full of items. Zipf cache-aside over
// keys with TTLs of 1 minute to 1 day into 16 segments: before the bounds
// of ttlShare, 15 or 16 segments were open or promotion destinations and
// items took 0.2% of the heap (15 of them) under each policy; bounding
// the open segments alone left S3-FIFO at 20% (now fifo 88%, s3fifo 74%,
// merge 71%).
func TestManyTTLsSteadyState(t *testing.T) {
	const segs, segSize = 16, 64 << 10
	underPolicies(t, []Policy{PolicyFIFO, PolicyS3FIFO, PolicyMerge}, Options{HeapBytes: segs * segSize, SegmentBytes: segSize}, func(t *testing.T, c *Cache) {
		r := rand.New(rand.NewPCG(1, 2))
		z := rand.NewZipf(r, 1.01, 1, 40000-1)
		val := make([]byte, 100)
		for range 300000 {
			k := z.Uint64()
			key := []byte(fmt.Sprintf("key%07d", k))
			if _, ok := c.Get(nil, key); !ok {
				ttlD := time.Duration(60+k*7919%(86400-60)) * time.Second
				if err := c.Set(key, val, ttlD); err != nil {
					t.Fatal(err)
				}
			}
		}
		s := c.Stats()
		if held := float64(s.ItemBytes) / float64(s.HeapBytes); held < 0.5 {
			t.Errorf("items take %.1f%% of the heap (%d items), want at least half", 100*held, s.Items)
		}
		c.evictMu.Lock()
		unsealed := int(c.ev.openSegs.Load()) + len(c.ev.promo)
		c.evictMu.Unlock()
		if unsealed > segs/2 {
			t.Errorf("%d of %d segments open or taking promotions", unsealed, segs)
		}
	})
}

// Open segments that have expired hold nothing a read may return: they
// must not keep segments scarce. Sixteen keys set once with TTLs of 1 to
// 16 ms leave 16 expired open segments in a cache of 64 (a quarter) that
// nothing drains while segments are free; every later write to a bucket
// with no open segment then went to the 16 ms bucket's, which it replaced
// with a fresh one, and items set for an hour expired 16 ms later in a
// cache with 45 free segments, for as long as no one called Expire. (A
// write sent to a shorter bucket whose segment is gone also opened a
// segment of that bucket for itself: it now decides again from its own.)
func TestExpiredOpenSegmentsAreNotScarcity(t *testing.T) {
	const segs, segSize = 64, 4096
	underPolicies(t, []Policy{PolicyFIFO, PolicyS3FIFO, PolicyMerge}, Options{HeapBytes: segs * segSize, SegmentBytes: segSize}, func(t *testing.T, c *Cache) {
		val := make([]byte, 100)
		for j := 1; j <= segs/ttlShare; j++ {
			if err := c.Set([]byte(fmt.Sprintf("short%d", j)), val, time.Duration(j)*time.Millisecond); err != nil {
				t.Fatal(err)
			}
		}
		const ttlD = time.Hour
		// While they live, an hour's item goes to the 16 ms bucket
		// (segments are short), which the hour's bucket remembers.
		if err := c.Set([]byte("first"), val, ttlD); err != nil {
			t.Fatal(err)
		}
		time.Sleep(40 * time.Millisecond) // every one of them expired
		short := 0
		for i := range 100 {
			k := []byte(fmt.Sprintf("hour%d", i))
			set := clock.Now()
			if err := c.Set(k, val, ttlD); err != nil {
				t.Fatal(err)
			}
			f := writersLookup(t, c, k)
			// The promise when segments are not short: 0.9·t − 1 s.
			if e := f.hdr.Expire.Load(); e < set+ttlD.Milliseconds()*9/10-1000 {
				if short++; short <= 3 {
					t.Errorf("%s set at %d for %v: segment of bucket %d expires at %d", k, set, ttlD, f.hdr.Bucket.Load(), e)
				}
			}
		}
		if short > 0 {
			t.Errorf("%d of 100 items set for an hour expire early, %d segments free", short, c.Stats().SegmentsFree)
		}
	})
}

// Sharing segments between TTLs is for a cache short of segments, not for
// one with many TTLs in use: with 20 short TTLs (1 to 20 s) kept open and
// two thirds of a 64-segment cache free, items set for a day must keep
// their day. When scarcity counted only open segments, every such item
// whose bucket had none went to a 16-20 s bucket's segment.
func TestFreeMemoryKeepsTTLsWhole(t *testing.T) {
	const segs, segSize = 64, 64 << 10
	underPolicies(t, []Policy{PolicyFIFO, PolicyS3FIFO, PolicyMerge}, Options{HeapBytes: segs * segSize, SegmentBytes: segSize}, func(t *testing.T, c *Cache) {
		val := make([]byte, 100)
		for j := range 20 { // the short TTLs' buckets open first
			if err := c.Set([]byte(fmt.Sprintf("s%d", j)), val, time.Duration(1+j)*time.Second); err != nil {
				t.Fatal(err)
			}
		}
		for i := range 4000 {
			ttlD := 24 * time.Hour
			if i%2 == 0 {
				ttlD = time.Duration(1+i/2%20) * time.Second
			}
			if err := c.Set([]byte(fmt.Sprintf("k%d", i)), val, ttlD); err != nil {
				t.Fatal(err)
			}
		}
		if free := c.Stats().SegmentsFree; free < segs/2 {
			t.Fatalf("%d of %d segments free: the cache is not the roomy one this test is about", free, segs)
		}
		shortened := 0
		for i := 1; i < 4000; i += 2 {
			f := writersLookup(t, c, []byte(fmt.Sprintf("k%d", i)))
			if e := f.hdr.Expire.Load(); e != 0 && e-clock.Now() < 20*3600_000 {
				shortened++
			}
		}
		if shortened != 0 {
			t.Errorf("%d of 2000 items set for a day expire within 20 hours", shortened)
		}
	})
}
