package core_test

// Regression tests for the bugs of the published Segcache engines (fixed
// in their history, or still open there) that are not already covered by
// behaviour_test.go, ttl_test.go and concurrency_test.go. Each names the
// bug it guards against.

import (
	"errors"
	"math/rand/v2"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/segcache/segcache/core"
)

// Guards against a published-engine bug (insert livelock on a full merge pool): a full Merge{8,4,0} cache of 8 small segments takes 3000
// distinct inserts without livelock; at least 2900 succeed. (The original
// used 264-byte segments; ours are at least 4 KiB, so the items are scaled
// up to keep about 8 per segment.)
func TestMergeFullPoolNoLivelock(t *testing.T) {
	defer watchdog(t, time.Minute, "merge full pool")()
	c := openT(t, core.Options{HeapBytes: 8 * 4096, SegmentBytes: 4096, Eviction: core.PolicyMerge,
		MergeMax: 8, MergeTarget: 4, MergeCompact: 0})
	ok := 0
	for i := 0; i < 3000; i++ {
		k := keyN("k", i)
		err := c.Set([]byte(k), mkVal(k, uint64(i), 400+i%100), 0)
		if err == nil {
			ok++
		} else if !errors.Is(err, core.ErrNoSpace) {
			t.Fatalf("Set #%d: %v", i, err)
		}
		if i%3 == 0 { // make some items frequent, so merge keeps some and drops others
			c.Get(nil, []byte(keyN("k", i/2)))
		}
	}
	if ok < 2900 {
		t.Fatalf("only %d of 3000 inserts succeeded", ok)
	}
	s := c.Stats()
	sane(t, s)
	t.Logf("%d/3000 inserts; merged %d segments, evicted %d, promoted %d items", ok, s.MergedSegments, s.EvictedSegments, s.PromotedItems)
}

// relocPolicies move live items between segments.
var relocPolicies = []core.Policy{core.PolicyMerge, core.PolicyS3FIFO}

// churnUntil writes distinct keys with ttl into c from 2 goroutines until
// stop returns true, so that every segment is eventually evicted, merged
// or promoted. It counts the bytes written in written (if not nil) and
// returns a wait function.
func churnUntil(c *core.Cache, ttl time.Duration, stop func() bool, written ...*atomic.Uint64) (wait func()) {
	var wg sync.WaitGroup
	for w := 0; w < 2; w++ {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 11))
			for i := 0; !stop(); i++ {
				k := keyN("churn"+strconv.Itoa(w)+"-", i)
				v := mkVal(k, uint64(i), 40+r.IntN(120))
				c.Set([]byte(k), v, ttl)
				for _, n := range written {
					n.Add(uint64(itemSize(len(k), len(v))))
				}
			}
		})
	}
	return wg.Wait
}

// Guards against a published-engine bug (in-place compaction moved bytes under pinned readers): a frequently read item that survives merge or
// promotion keeps its bytes and its CAS token: relocation is not a new
// version, so a client's CAS with a token read before the move succeeds.
// The churn is paced at about one heap per second, because frequencies
// rise at most once per key per second: a faster churn would rightly
// treat every key as cold. Once more than two heaps were written after
// the hot keys, each of their original segments was recycled, so a hot
// key still present has been moved at least once.
func TestRelocationKeepsValueAndToken(t *testing.T) {
	t.Parallel()
	for _, p := range relocPolicies {
		t.Run(p.String(), func(t *testing.T) {
			t.Parallel()
			defer watchdog(t, time.Minute, "relocation")()
			c := openT(t, churnOpts(p))
			const nhot = 24
			tokens := make([]uint64, nhot)
			for i := 0; i < nhot; i++ {
				k := keyN("hot", i)
				mustSet(t, c, k, string(mkVal(k, 7, 48)), 0)
				tokens[i] = mustToken(t, c, k)
			}
			heap := c.Stats().HeapBytes
			var written uint64
			moved := 0   // reads of a hot key after every original segment was recycled
			changed := 0 // reads that returned another token than the first
			r := rand.New(rand.NewPCG(3, 3))
			for round := 0; written < 4*heap; round++ {
				for i := 0; i < nhot; i++ {
					k := keyN("hot", i)
					v, tok, found := c.GetCAS(nil, []byte(k))
					if !found {
						continue
					}
					if seq, err := checkVal(k, v); err != nil || seq != 7 {
						t.Fatalf("%s: seq %d, %v", k, seq, err)
					}
					if tok != tokens[i] {
						changed++
						if changed == 1 {
							t.Errorf("%s: CAS token changed from %#x to %#x without a write (relocation made a new version)", k, tokens[i], tok)
						}
					}
					if written > 2*heap {
						moved++
					}
				}
				for j := 0; j < 4; j++ {
					k := keyN("churn", round*4+j)
					v := mkVal(k, 0, 40+r.IntN(120))
					if err := c.Set([]byte(k), v, 0); err != nil {
						t.Fatal(err)
					}
					written += uint64(itemSize(len(k), len(v)))
				}
				time.Sleep(2 * time.Millisecond)
			}
			s := c.Stats()
			if s.MergedSegments+s.PromotedItems == 0 {
				t.Fatalf("%v: no merge and no promotion happened (MergedSegments %d, PromotedItems %d)", p, s.MergedSegments, s.PromotedItems)
			}
			survivors := 0
			for i := 0; i < nhot; i++ {
				k := keyN("hot", i)
				if _, found := get(c, k); !found {
					continue
				}
				survivors++
				if err := c.CAS([]byte(k), []byte("new"), 0, tokens[i]); err != nil {
					if survivors == 1 {
						t.Errorf("%s was moved, but CAS with its original token = %v", k, err)
					}
				}
			}
			if moved == 0 {
				t.Errorf("%v kept none of %d keys read several times a second once two heaps had been written after them", p, nhot)
			}
			t.Logf("%v: %d/%d hot keys at the end, %d reads after relocation, %d with a changed token; merged %d, promoted %d, evicted segs %d",
				p, survivors, nhot, moved, changed, s.MergedSegments, s.PromotedItems, s.EvictedSegments)
		})
	}
}

// Guards against a published-engine bug (relocation extended TTLs): an item moved by merge or
// promotion keeps its original expiry. Hot keys with TTL 2 s are read all
// the time (so they survive relocation) while keys of the same TTL churn
// through a small cache; no read may return them after their TTL.
func TestRelocationKeepsExpiry(t *testing.T) {
	t.Parallel()
	for _, p := range relocPolicies {
		t.Run(p.String(), func(t *testing.T) {
			t.Parallel()
			defer watchdog(t, time.Minute, "relocation expiry")()
			c := openT(t, churnOpts(p))
			const ttl = 2 * time.Second
			const nhot = 16
			items := make([]ttlItem, nhot)
			for i := range items {
				it := ttlItem{key: keyN("hot", i), ttl: ttl}
				it.set0 = time.Now()
				mustSet(t, c, it.key, string(mkVal(it.key, 1, 48)), ttl)
				it.set1 = time.Now()
				items[i] = it
			}
			end := items[nhot-1].deadAfter().Add(300 * time.Millisecond)
			wait := churnUntil(c, ttl, func() bool { return time.Now().After(end) })
			servedLate := 0
			for n := 0; time.Now().Before(end); n++ {
				it := items[n%nhot]
				g0 := time.Now()
				_, found := c.Get(nil, []byte(it.key))
				if found && g0.After(it.deadAfter()) {
					servedLate++
					if servedLate == 1 {
						t.Errorf("%s (TTL %v) served %v after it was set", it.key, ttl, g0.Sub(it.set1))
					}
				}
				if n%32 == 0 {
					runtime.Gosched()
				}
			}
			wait()
			s := c.Stats()
			if s.MergedSegments+s.PromotedItems == 0 {
				t.Errorf("%v: nothing was relocated (the test proves nothing)", p)
			}
			t.Logf("%v: merged %d, promoted %d; late serves %d", p, s.MergedSegments, s.PromotedItems, servedLate)
		})
	}
}

// Guards against a published-engine bug (relocation tore or lost increments): a hot counter incremented while merge relocates it: every
// Incr returns exactly the previous result + 1 (no lost or torn update);
// if eviction drops the counter, Incr says ErrNotFound and we start again.
func TestIncrUnderRelocation(t *testing.T) {
	for _, p := range relocPolicies {
		t.Run(p.String(), func(t *testing.T) {
			defer watchdog(t, time.Minute, "incr under relocation")()
			c := openT(t, churnOpts(p))
			mustSet(t, c, "ctr", "0", 0)
			var stop atomic.Bool
			wait := churnUntil(c, 0, stop.Load)
			f := &failer{t: t}
			var rg sync.WaitGroup
			rg.Go(func() { // a reader sees only canonical numbers
				for !stop.Load() {
					if v, found := get(c, "ctr"); found {
						if _, err := strconv.ParseUint(v, 10, 64); err != nil || (len(v) > 1 && v[0] == '0') {
							f.errorf("counter reads %q", v)
							return
						}
					}
				}
			})
			var want uint64
			restarts := 0
			n := scale(100000, 10)
			for i := 0; i < n && !f.failed(); i++ {
				got, err := c.Incr([]byte("ctr"), 1)
				switch {
				case errors.Is(err, core.ErrNotFound):
					if _, found := get(c, "ctr"); found {
						t.Fatalf("Incr said ErrNotFound but the counter is there (false miss during relocation)")
					}
					restarts++
					mustSet(t, c, "ctr", "0", 0)
					want = 0
				case err != nil:
					t.Fatalf("Incr: %v", err)
				case got != want+1:
					t.Fatalf("Incr #%d returned %d, want %d", i, got, want+1)
				default:
					want = got
				}
			}
			stop.Store(true)
			wait()
			rg.Wait()
			if v, found := get(c, "ctr"); found && v != strconv.FormatUint(want, 10) {
				t.Fatalf("counter = %s after quiescence, want %d", v, want)
			}
			s := c.Stats()
			t.Logf("%v: final %d, %d restarts after eviction; merged %d, promoted %d", p, want, restarts, s.MergedSegments, s.PromotedItems)
		})
	}
}

// Guards against a published-engine bug (a false NotFound from cas during a drain): CAS with a valid token during relocation returns nil or
// ErrExists, never a false ErrNotFound. Each goroutine owns its keys, so a
// key that CAS reported absent must stay absent until its owner writes it.
func TestCASNoFalseNotFoundUnderChurn(t *testing.T) {
	for _, p := range relocPolicies {
		t.Run(p.String(), func(t *testing.T) {
			defer watchdog(t, time.Minute, "cas under relocation")()
			c := openT(t, churnOpts(p))
			var stop atomic.Bool
			wait := churnUntil(c, 0, stop.Load)
			f := &failer{t: t}
			var wg sync.WaitGroup
			iters := scale(20000, 5)
			for g := 0; g < 3; g++ {
				wg.Go(func() {
					for i := 0; i < iters && !f.failed(); i++ {
						k := keyN("own"+strconv.Itoa(g)+"-", i%8)
						kb := []byte(k)
						v, tok, found := c.GetCAS(nil, kb)
						if !found {
							if err := c.Set(kb, mkVal(k, uint64(i), 48), 0); err != nil {
								f.errorf("Set: %v", err)
							}
							continue
						}
						if _, err := checkVal(k, v); err != nil {
							f.errorf("%v", err)
						}
						switch err := c.CAS(kb, mkVal(k, uint64(i), 48), 0, tok); {
						case err == nil:
						case errors.Is(err, core.ErrNotFound):
							if _, found := c.Get(nil, kb); found {
								f.errorf("%s: CAS said ErrNotFound but the key is there (false NotFound)", k)
							}
						case errors.Is(err, core.ErrExists):
							// Allowed by the lesson (a retry budget ran out
							// during a drain); token stability under
							// relocation is TestRelocationKeepsValueAndToken's.
						default:
							f.errorf("CAS: %v", err)
						}
					}
				})
			}
			wg.Wait()
			stop.Store(true)
			wait()
		})
	}
}

// Guards against a published-engine bug (a leaking ghost queue): S3-FIFO's ghost set of evicted keys
// stays bounded. 300k distinct keys stream through a 48-segment cache; the
// Go heap must not grow with the number of keys seen.
func TestS3FIFOGhostBounded(t *testing.T) {
	c := openT(t, churnOpts(core.PolicyS3FIFO))
	var before, after runtime.MemStats
	val := make([]byte, 40)
	key := make([]byte, 0, 16)
	write := func(from, to int) {
		for i := from; i < to; i++ {
			key = strconv.AppendInt(append(key[:0], 'g'), int64(i), 10)
			if err := c.Set(key, val, 0); err != nil {
				t.Fatalf("Set: %v", err)
			}
		}
	}
	n := scale(300000, 3)
	write(0, n/10) // warm up: every structure at its steady size
	runtime.GC()
	runtime.ReadMemStats(&before)
	write(n/10, n)
	runtime.GC()
	runtime.ReadMemStats(&after)
	growth := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	// 48 segments hold ~3000 items; a ghost entry kept per evicted key
	// would cost at least 8 bytes (a hash) per key streamed.
	if growth > int64(4*(n-n/10)) {
		t.Errorf("Go heap grew by %d bytes while %d distinct keys streamed through a 192 KiB cache (unbounded ghost set?)", growth, n-n/10)
	}
	if s := c.Stats(); s.EvictedSegments < 100 {
		t.Errorf("only %d segments evicted: the keys did not stream through", s.EvictedSegments)
	}
	t.Logf("heap growth %d bytes over %d keys", growth, n-n/10)
}

// The engine's hot paths allocate nothing on the Go heap. Under the race
// detector the instrumentation itself allocates (tagscan hands its arrays
// to runtime.RaceReadRange), so this runs in a normal build: make test runs
// it without -race (mk/coretests.mk, test-core-allocs).
func TestZeroAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under -race; make test-core-allocs checks them")
	}
	c := openT(t, core.Options{HeapBytes: 16 << 20, SegmentBytes: 1 << 20})
	key, val := []byte("key-0123456789ab"), make([]byte, 64)
	missing, num := []byte("missing"), []byte("num")
	mustSet(t, c, string(key), string(val), 0)
	mustSet(t, c, "num", "5", 0)
	buf := make([]byte, 0, 128)
	into := make([]byte, 128)
	keys := [][]byte{key, key, missing}
	bufs := [][]byte{make([]byte, 128), make([]byte, 128), make([]byte, 128)}
	lens := make([]int, 3)
	errs := make([]error, 3)
	cases := map[string]func(){
		"Get":      func() { c.Get(buf[:0], key) },
		"GetMiss":  func() { c.Get(buf[:0], missing) },
		"GetCAS":   func() { c.GetCAS(buf[:0], key) },
		"GetInto":  func() { c.GetInto(into, key) },
		"GetBatch": func() { c.GetBatch(keys, bufs, lens, errs) },
		"Set":      func() { c.Set(key, val, 0) },
		"Incr":     func() { c.Incr(num, 1) },
	}
	for name, fn := range cases {
		if n := testing.AllocsPerRun(200, fn); n != 0 {
			t.Errorf("%s allocates %.1f times per call, want 0", name, n)
		}
	}
}

// Guards against a published-engine bug (a replace-vs-drain wedge): one goroutine overwrites a single
// key while another streams distinct keys through a small cache, so the
// segment holding both the old and the new copy of the key gets claimed
// for eviction while the overwrite is in flight. Both must keep making
// progress. On a wedge the test fails without closing the cache (the stuck
// goroutines still use it) rather than hanging the whole binary.
func TestOverwriteDuringDrainNoWedge(t *testing.T) {
	for _, p := range []core.Policy{core.PolicyMerge, core.PolicyS3FIFO, core.PolicyFIFO, core.PolicyRandom} {
		c, err := core.Open(churnOpts(p))
		if err != nil {
			t.Fatal(err)
		}
		n := scale(200000, 5)
		var wg sync.WaitGroup
		var churned, overwrote atomic.Int64
		wg.Go(func() {
			for i := 0; i < n; i++ {
				k := keyN("churn", i)
				c.Set([]byte(k), mkVal(k, 0, 100), 0)
				churned.Add(1)
			}
		})
		wg.Go(func() {
			for i := 0; i < n; i++ {
				c.Set([]byte("hot"), mkVal("hot", uint64(i), 40), 0)
				overwrote.Add(1)
			}
		})
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
			c.Close()
		case <-time.After(20 * time.Second):
			t.Errorf("%v: wedged: after 20 s, %d of %d churn sets and %d of %d overwrites of one key had returned",
				p, churned.Load(), n, overwrote.Load(), n)
		}
	}
}

// The single-goroutine form of TestRelocationKeepsValueAndToken, as a
// minimal repro: a key read now and then survives while over two heaps of
// other keys are written (so it was moved), and its token must not change.
func TestCASTokenSurvivesRelocationSequential(t *testing.T) {
	for _, p := range relocPolicies {
		c := openT(t, churnOpts(p))
		k := []byte("hot")
		mustSet(t, c, "hot", "value", 0)
		tok := mustToken(t, c, "hot")
		var written uint64
		for i := 0; written < 3*c.Stats().HeapBytes; i++ {
			o := keyN("other", i)
			mustSet(t, c, o, string(make([]byte, 100)), 0)
			written += uint64(itemSize(len(o), 100))
			if i%100 == 0 {
				c.Get(nil, k)
			}
		}
		_, tok2, found := c.GetCAS(nil, k)
		if !found {
			t.Logf("%v: the key did not survive; nothing to check", p)
			continue
		}
		if tok2 != tok {
			t.Errorf("%v: the token of an unchanged item went from %#x to %#x when it was moved", p, tok, tok2)
		}
		if err := c.CAS(k, []byte("new"), 0, tok); err != nil {
			t.Errorf("%v: CAS with the token read before the move = %v, want success", p, err)
		}
	}
}
