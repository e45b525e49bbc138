package core

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/segcache/segcache/core/internal/clock"
	"github.com/segcache/segcache/core/internal/segment"
)

// probeLookup is writersLookup that reports a missing key instead of
// failing, and returns the expiry and bucket of the item's segment as of
// the generation the lookup saw (a concurrent Expire or Clear may recycle
// it: then it looks again).
func probeLookup(t *testing.T, c *Cache, key []byte) (f found, exp int64, bucket int32, ok bool) {
	t.Helper()
	var k keyed
	mu, err := c.lockKey(&k, key)
	if err != nil {
		t.Fatal(err)
	}
	defer mu.Unlock()
	for c.find(&k, &f) {
		exp, bucket = f.hdr.Expire.Load(), f.hdr.Bucket.Load()
		if f.hdr.Gen.Load() == f.gen {
			return f, exp, bucket, true
		}
	}
	return f, 0, 0, false
}

// checkOpenCount checks that openSegs equals the segments in state Open,
// and that no segment was recycled with nonzero counters.
func checkOpenCount(t *testing.T, c *Cache, when string) {
	t.Helper()
	c.evictMu.Lock()
	defer c.evictMu.Unlock()
	open := 0
	for i := range c.segs.Headers {
		if c.segs.Headers[i].State() == segment.Open {
			open++
		}
	}
	if got := int(c.ev.openSegs.Load()); got != open {
		t.Errorf("%s: openSegs %d, %d segments open", when, got, open)
	}
	if n := c.ev.accountingErrors.Load(); n != 0 {
		t.Errorf("%s: %d accounting errors", when, n)
	}
}

// probeCache opens a cache of segs segments of 4 KiB under policy p,
// closed when the test ends (or before, by the caller).
func probeCache(t *testing.T, p Policy, segs int, seed uint64) *Cache {
	t.Helper()
	return openCache(t, Options{HeapBytes: uint64(segs) * 4096, SegmentBytes: 4096, Eviction: p, Seed: seed})
}

// expiring calls c.Expire in a loop on another goroutine, and each(i)
// after the i-th call if each is not nil, until the stop it returns is
// called; stop waits for the goroutine.
func expiring(c *Cache, each func(i int)) (stop func()) {
	var done atomic.Bool
	var bg sync.WaitGroup
	bg.Go(func() {
		for i := 0; !done.Load(); i++ {
			c.Expire()
			if each != nil {
				each(i)
			}
			runtime.Gosched()
		}
	})
	return func() {
		done.Store(true)
		bg.Wait()
	}
}

// probeTTL draws a TTL mixing never, sub-second (linear buckets), seconds
// and hours.
func probeTTL(r *rand.Rand) time.Duration {
	switch r.IntN(6) {
	case 0:
		return 0
	case 1:
		return time.Duration(1+r.IntN(40)) * time.Millisecond
	case 2:
		return time.Duration(30+r.IntN(2000)) * time.Millisecond
	case 3:
		return time.Duration(1+r.IntN(120)) * time.Second
	default:
		return time.Duration(60+r.IntN(86400)) * time.Second
	}
}

// TestProbeTTLNeverLate writes items with widely spread TTLs (never,
// sub-second, seconds, a day) into tiny and small caches under every
// policy, from one writer and from four, with Expire (and for some runs
// Clear) running concurrently, and checks that each item still linked
// expires no later than its deadline (clock before the set + TTL), that
// never-expiring items are never put in an expiring segment under
// PolicyNone, and that openSegs matches the Open segments at quiescence.
func TestProbeTTLNeverLate(t *testing.T) {
	prev := runtime.GOMAXPROCS(4)
	defer runtime.GOMAXPROCS(prev)
	policies := []Policy{PolicyFIFO, PolicyS3FIFO, PolicyMerge, PolicyRandom, PolicyRandomFIFO, PolicyCTE, PolicyUtil, PolicyNone}
	for _, p := range policies {
		for _, segs := range []int{2, 4, 8, 16, 64} {
			for _, writers := range []int{1, 4} {
				for _, clearToo := range []bool{false, true} {
					name := fmt.Sprintf("%v/segs=%d/writers=%d/clear=%v", p, segs, writers, clearToo)
					t.Run(name, func(t *testing.T) { probeRun(t, p, segs, writers, clearToo) })
				}
			}
		}
	}
}

func probeRun(t *testing.T, p Policy, segs, writers int, clearToo bool) {
	c := probeCache(t, p, segs, 7)
	type rec struct {
		deadline int64 // 0: never
		ttl      time.Duration
	}
	recs := make([]map[string]rec, writers)
	var strictLate, maxStrict atomic.Int64
	defer func() {
		if n := strictLate.Load(); n > 0 {
			t.Logf("%d items expire after their TTL counted from the set's start, up to %d ms (segment opened during the set)", n, maxStrict.Load())
		}
	}()
	stopExpiring := expiring(c, func(i int) {
		if clearToo && i%50 == 49 {
			c.Clear()
		}
	})
	var wg sync.WaitGroup
	const perWriter = 3000
	for w := range writers {
		recs[w] = map[string]rec{}
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), uint64(segs)))
			for i := range perWriter {
				k := fmt.Sprintf("w%d-%d", w, r.IntN(400))
				val := make([]byte, 8+r.IntN(200))
				if r.IntN(10) == 0 {
					val = []byte("12345")
				}
				ttlD := probeTTL(r)
				written := clock.Now()
				err := c.Set([]byte(k), val, ttlD)
				done := clock.Now()
				if err != nil {
					if p != PolicyNone {
						t.Errorf("set %d: %v", i, err)
						return
					}
					// A refused set drops the old value? Not here: the
					// model forgets the key either way.
					delete(recs[w], k)
					continue
				}
				d, strict := int64(0), int64(0)
				if ttlD > 0 {
					// The segment's expiry is fixed when it opens, during
					// the set: d is the bound any placement must keep,
					// strict the one from the set's start.
					d, strict = done+ttlD.Milliseconds(), written+ttlD.Milliseconds()
				}
				recs[w][k] = rec{d, ttlD}
				if r.IntN(20) == 0 {
					c.Incr([]byte(k), 1)
				}
				// Reads, so that S3-FIFO promotes and merge keeps items.
				for range 2 {
					c.Get(nil, []byte(fmt.Sprintf("w%d-%d", w, r.IntN(400))))
				}
				// Check now, while the item is fresh: its segment must not
				// expire after its deadline.
				if f, e, bk, ok := probeLookup(t, c, []byte(k)); ok {
					if d != 0 && (e == 0 || e > d) {
						t.Errorf("%s ttl %v set at %d-%d: segment %d (bucket %d, pool %d) expires at %d, deadline %d",
							k, ttlD, written, done, f.seg, bk, f.hdr.Pool.Load(), e, d)
					} else if d != 0 && e > strict {
						strictLate.Add(1)
						for m := maxStrict.Load(); e-strict > m && !maxStrict.CompareAndSwap(m, e-strict); m = maxStrict.Load() {
						}
					}
					if d == 0 && e != 0 && p == PolicyNone {
						t.Errorf("%s never expires but its segment expires at %d", k, e)
					}
				}
			}
		})
	}
	wg.Wait()
	stopExpiring()
	late := 0
	for _, m := range recs {
		for k, rc := range m {
			f, e, bk, ok := probeLookup(t, c, []byte(k))
			if !ok {
				continue
			}
			if rc.deadline != 0 && (e == 0 || e > rc.deadline) {
				late++
				if late < 5 {
					t.Errorf("%s ttl %v: segment %d bucket %d expires at %d, deadline %d", k, rc.ttl, f.seg, bk, e, rc.deadline)
				}
			}
		}
	}
	if late > 0 {
		t.Errorf("%d items late", late)
	}
	if s := c.Stats(); s.HashtableGrowths > 0 || s.PromotedItems > 0 || s.MergedSegments > 0 {
		t.Logf("%d growths, %d retired, %d promoted, %d merged", s.HashtableGrowths, s.SegmentsRetired, s.PromotedItems, s.MergedSegments)
	}
	checkOpenCount(t, c, "after writes")
	// Every item counted live is linked, and every linked item counted.
	linked := 0
	for w := range writers {
		for i := range 400 {
			if _, _, _, ok := probeLookup(t, c, []byte(fmt.Sprintf("w%d-%d", w, i))); ok {
				linked++
			}
		}
	}
	if s := c.Stats(); int(s.Items) != linked {
		t.Errorf("Stats.Items %d, %d items linked", s.Items, linked)
	}
	c.Expire()
	checkOpenCount(t, c, "after Expire")
	c.Clear()
	checkOpenCount(t, c, "after Clear")
	if s := c.Stats(); s.Items != 0 {
		t.Errorf("after Clear: %d items", s.Items)
	}
}

// A writer reads the id of its bucket's open segment, then its
// generation, then pins it. If the segment is evicted, recycled and opened
// for another TTL bucket between the two reads, the generation read is the
// new incarnation's and the pin succeeds: the item went into a segment of
// another bucket, which may expire long after its TTL (an item of 11 ms in
// a segment of bucket 701, expiring 17 hours later), or never (bucket 0).
// Two to four segments written by eight goroutines with TTLs of 1 ms to
// a day and never, with Expire draining the short TTLs' open segments,
// make the window common enough to hit in 8 s under the race detector (3
// runs of 4 failed without the check; hardly ever without the detector).
// Every item just set must be in a segment that expires no later than the
// set's end plus its TTL.
func TestReserveNeverWritesIntoAnotherBucket(t *testing.T) {
	prev := runtime.GOMAXPROCS(4)
	defer runtime.GOMAXPROCS(prev)
	d := time.Second
	if raceOn {
		d = 8 * time.Second // the detector's slower atomics widen the window
	}
	deadline := time.Now().Add(d)
	for round := 0; time.Now().Before(deadline) && !t.Failed(); round++ {
		p := []Policy{PolicyRandom, PolicyFIFO, PolicyS3FIFO, PolicyMerge}[round%4]
		segs := 2 + round%3
		c := probeCache(t, p, segs, uint64(round))
		// Expire drains the open segments of the short TTLs as they
		// expire, and writers reopen their segments for other buckets.
		stopExpiring := expiring(c, nil)
		var wg sync.WaitGroup
		for w := range 8 {
			wg.Go(func() {
				r := rand.New(rand.NewPCG(uint64(w), uint64(round)))
				val := make([]byte, 300)
				for i := 0; i < 2000 && !t.Failed(); i++ {
					k := []byte(fmt.Sprintf("w%d-%d", w, r.IntN(64)))
					ttlD := []time.Duration{0, time.Millisecond * time.Duration(1+r.IntN(40)), time.Hour * time.Duration(1+r.IntN(24))}[r.IntN(3)]
					if err := c.Set(k, val, ttlD); err != nil {
						t.Errorf("set: %v", err)
						return
					}
					done := clock.Now()
					f, e, bk, ok := probeLookup(t, c, k)
					if !ok || ttlD == 0 {
						continue
					}
					if d := done + ttlD.Milliseconds(); e == 0 || e > d {
						t.Errorf("%v, %d segments: %s set with ttl %v by %d went to segment %d of bucket %d, which expires at %d",
							p, segs, k, ttlD, done, f.seg, bk, e)
					}
				}
			})
		}
		wg.Wait()
		stopExpiring()
		checkOpenCount(t, c, fmt.Sprintf("%v, %d segments", p, segs))
		c.Close()
	}
}

// PolicyNone drops no item it accepted before its TTL: with TTLs of an
// hour to a day and never, from four writers into tiny caches, with
// Expire running, every key whose last successful set was not followed by
// a refused one is readable at the end, with the value last stored.
func TestProbeNoneKeepsAccepted(t *testing.T) {
	prev := runtime.GOMAXPROCS(4)
	defer runtime.GOMAXPROCS(prev)
	for _, segs := range []int{2, 4, 8, 16, 64} {
		t.Run(fmt.Sprint(segs), func(t *testing.T) {
			c := probeCache(t, PolicyNone, segs, 0)
			stopExpiring := expiring(c, nil)
			last := make([]map[string]string, 4)
			var wg sync.WaitGroup
			for w := range 4 {
				last[w] = map[string]string{}
				wg.Go(func() {
					r := rand.New(rand.NewPCG(uint64(w), uint64(segs)))
					for i := range 3000 {
						k := fmt.Sprintf("w%d-%d", w, r.IntN(300))
						v := fmt.Sprintf("%d-%0*d", i, r.IntN(100), 0)
						ttlD := time.Duration(0)
						if r.IntN(3) != 0 {
							ttlD = time.Duration(1+r.IntN(24)) * time.Hour
						}
						switch err := c.Set([]byte(k), []byte(v), ttlD); {
						case err == nil:
							last[w][k] = v
						case errors.Is(err, ErrNoSpace):
						default:
							t.Errorf("set: %v", err)
							return
						}
						if r.IntN(8) == 0 {
							k := fmt.Sprintf("w%d-%d", w, r.IntN(300))
							c.Delete([]byte(k))
							delete(last[w], k)
						}
					}
				})
			}
			wg.Wait()
			stopExpiring()
			lost := 0
			for _, m := range last {
				for k, v := range m {
					if got, ok := c.Get(nil, []byte(k)); !ok || string(got) != v {
						if lost++; lost < 4 {
							t.Errorf("%s: got %q, %v; want %q", k, got, ok, v)
						}
					}
				}
			}
			if lost > 0 {
				t.Errorf("%d accepted items lost", lost)
			}
			n := 0
			for _, m := range last {
				n += len(m)
			}
			if s := c.Stats(); int(s.Items) != n {
				t.Errorf("Stats.Items %d, %d live", s.Items, n)
			}
			checkOpenCount(t, c, "end")
		})
	}
}

// A single writer's model: sets with TTLs from 1 ms to a day and never,
// deletes, increments, reads, Expire and Clear on caches of 2 to 16
// segments under every policy. A read never returns a value after its
// set's end plus its TTL, nor any value but the last one set; under
// PolicyNone a value with an hour or more left is always returned.
func TestProbeTTLModel(t *testing.T) {
	policies := []Policy{PolicyFIFO, PolicyS3FIFO, PolicyMerge, PolicyRandom, PolicyCTE, PolicyUtil, PolicyNone}
	for _, p := range policies {
		for _, segs := range []int{2, 3, 5, 8, 16} {
			t.Run(fmt.Sprintf("%v/%d", p, segs), func(t *testing.T) { probeModel(t, p, segs) })
		}
	}
}

func probeModel(t *testing.T, p Policy, segs int) {
	c := probeCache(t, p, segs, 3)
	type entry struct {
		val      string
		deadline int64 // 0: never
	}
	model := map[string]entry{}
	r := rand.New(rand.NewPCG(uint64(p), uint64(segs)))
	ttls := []time.Duration{0, time.Millisecond, 3 * time.Millisecond, 17 * time.Millisecond, 33 * time.Millisecond,
		200 * time.Millisecond, time.Second, 61 * time.Second, time.Hour, 5 * time.Hour, 24 * time.Hour}
	for i := range 4000 {
		k := fmt.Sprintf("k%d", r.IntN(150))
		switch op := r.IntN(100); {
		case op < 50:
			v := fmt.Sprintf("v%d-%0*d", i, r.IntN(300), 0)
			ttlD := ttls[r.IntN(len(ttls))]
			if r.IntN(4) == 0 {
				ttlD = time.Duration(1+r.IntN(100000)) * time.Millisecond
			}
			err := c.Set([]byte(k), []byte(v), ttlD)
			done := clock.Now()
			switch {
			case err == nil:
				e := entry{val: v}
				if ttlD > 0 {
					e.deadline = done + ttlD.Milliseconds()
				}
				model[k] = e
			case p == PolicyNone && errors.Is(err, ErrNoSpace):
			default:
				t.Fatalf("op %d: set: %v", i, err)
			}
		case op < 55:
			c.Delete([]byte(k))
			delete(model, k)
		case op < 58:
			c.Expire()
		case op < 59:
			c.Clear()
			clear(model)
		case op < 60:
			time.Sleep(2 * time.Millisecond)
		default:
			before := clock.Now()
			got, ok := c.Get(nil, []byte(k))
			e, have := model[k]
			switch {
			case ok && !have:
				t.Fatalf("op %d: %s: got %q, want a miss", i, k, got)
			case ok && string(got) != e.val:
				t.Fatalf("op %d: %s: got %q, want %q", i, k, got, e.val)
			case ok && e.deadline != 0 && before >= e.deadline:
				t.Fatalf("op %d: %s returned %d ms after its deadline", i, k, before-e.deadline)
			case !ok && have && p == PolicyNone && (e.deadline == 0 || e.deadline-before > 3600_000):
				t.Fatalf("op %d: %s lost under PolicyNone (%d ms left)", i, k, e.deadline-before)
			case !ok && have:
				delete(model, k) // evicted or expired: gone for good
			}
		}
	}
	checkOpenCount(t, c, "end")
}
