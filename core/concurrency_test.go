package core_test

// Concurrency regression tests, meant for -race. Each uses more goroutines
// than cores, checks invariants that hold whatever the interleaving (values
// carry their own key and checksum, counters balance, acknowledged writes
// are never lost), and fails with a stack dump instead of hanging.

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/segcache/segcache/core"
)

// failer reports the first few errors from many goroutines.
type failer struct {
	t *testing.T
	n atomic.Int64
}

func (f *failer) errorf(format string, args ...any) {
	if f.n.Add(1) <= 5 {
		f.t.Errorf(format, args...)
	}
}

func (f *failer) failed() bool { return f.n.Load() > 0 }

// Guards against a published-engine bug (lost increments): 8 goroutines × 10,000 Incr end at exactly 80,000, and every
// Incr returns a distinct number (each saw its own increment). Decr is
// symmetric and saturates at 0 without wrapping.
func TestConcurrentIncrDecrExact(t *testing.T) {
	defer watchdog(t, time.Minute, "incr/decr")()
	c := openT(t, core.Options{HeapBytes: 4 << 20, SegmentBytes: 64 << 10})
	const G, N = 8, 10000
	mustSet(t, c, "n", "0", 0)
	f := &failer{t: t}
	results := make([][]uint64, G)
	var wg sync.WaitGroup
	for g := 0; g < G; g++ {
		wg.Go(func() {
			for i := 0; i < N; i++ {
				v, err := c.Incr([]byte("n"), 1)
				if err != nil {
					f.errorf("Incr: %v", err)
					return
				}
				results[g] = append(results[g], v)
			}
		})
	}
	wg.Wait()
	if v, _ := get(c, "n"); v != strconv.Itoa(G*N) {
		t.Fatalf("after %d concurrent increments the value is %s", G*N, v)
	}
	all := slices.Concat(results...)
	slices.Sort(all)
	for i, v := range all {
		if v != uint64(i+1) {
			t.Fatalf("Incr results are not 1..%d: position %d holds %d (two increments saw the same value)", G*N, i, v)
		}
	}
	for g := 0; g < G; g++ {
		wg.Go(func() {
			for i := 0; i < N; i++ {
				if _, err := c.Decr([]byte("n"), 1); err != nil {
					f.errorf("Decr: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	if v, _ := get(c, "n"); v != "0" {
		t.Fatalf("after as many decrements the value is %s, want 0", v)
	}
	// Saturation under contention: 1000 − 8×500 stays at 0, never wraps.
	mustSet(t, c, "n", "1000", 0)
	for g := 0; g < G; g++ {
		wg.Go(func() {
			for i := 0; i < 500; i++ {
				if v, err := c.Decr([]byte("n"), 1); err != nil || v > 1000 {
					f.errorf("Decr = %d, %v", v, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if v, _ := get(c, "n"); v != "0" {
		t.Fatalf("saturating decrements ended at %s, want 0", v)
	}
	// Big deltas wrap exactly: 8 × 2^61 = 2^64 ≡ 0, plus 8 × 10,000 ones.
	mustSet(t, c, "w", "0", 0)
	for g := 0; g < G; g++ {
		wg.Go(func() {
			c.Incr([]byte("w"), 1<<61)
			for i := 0; i < N/10; i++ {
				c.Incr([]byte("w"), 1)
			}
		})
	}
	wg.Wait()
	if v, _ := get(c, "w"); v != strconv.Itoa(G*N/10) {
		t.Fatalf("wrapping increments ended at %s, want %d", v, G*N/10)
	}
}

// logical clock for ordering events across goroutines: an event that ends
// before another begins has a smaller end stamp than the other's start.
type clock struct{ n atomic.Uint64 }

func (c *clock) now() uint64 { return c.n.Add(1) }

// Guards against a published-engine bug (cas checked the token, then overwrote (lost update)): cas racing set never overwrites a set that completed after
// the cas read its token; a token is consumed at most once.
func TestConcurrentCASvsSet(t *testing.T) {
	defer watchdog(t, time.Minute, "cas vs set")()
	c := openT(t, core.Options{HeapBytes: 64 << 20, SegmentBytes: 1 << 20})
	mustSet(t, c, "k", "init", 0)
	var clk clock
	type window struct{ start, end uint64 }
	type casAck struct {
		readEnd, casStart uint64
		tok               uint64
		read              string
	}
	nSet, nCAS := 3, workers()
	iters := scale(4000, 4)
	sets := make([][]window, nSet)
	acks := make([][]casAck, nCAS)
	f := &failer{t: t}
	var wg sync.WaitGroup
	for g := 0; g < nSet; g++ {
		wg.Go(func() {
			for i := 0; i < iters; i++ {
				s := clk.now()
				if err := c.Set([]byte("k"), []byte(fmt.Sprintf("set-%d-%d", g, i)), 0); err != nil {
					f.errorf("Set: %v", err)
					return
				}
				sets[g] = append(sets[g], window{s, clk.now()})
			}
		})
	}
	for g := 0; g < nCAS; g++ {
		wg.Go(func() {
			for i := 0; i < iters; i++ {
				v, tok, found := c.GetCAS(nil, []byte("k"))
				readEnd := clk.now()
				if !found {
					f.errorf("GetCAS: a key that is only overwritten is absent")
					return
				}
				casStart := clk.now()
				err := c.CAS([]byte("k"), []byte(fmt.Sprintf("cas-%d-%d<%s", g, i, v)), 0, tok)
				switch {
				case err == nil:
					acks[g] = append(acks[g], casAck{readEnd, casStart, tok, string(v)})
				case !errors.Is(err, core.ErrExists):
					f.errorf("CAS: %v, want nil or ErrExists", err)
					return
				}
			}
		})
	}
	wg.Wait()
	if f.failed() {
		return
	}
	tokens := map[uint64]string{}
	nAcked := 0
	for g, list := range acks {
		for _, a := range list {
			nAcked++
			if prev, dup := tokens[a.tok]; dup {
				t.Fatalf("token %d consumed twice: by a cas that read %q and by one that read %q", a.tok, prev, a.read)
			}
			tokens[a.tok] = a.read
			for s := range sets {
				// The first set of setter s that started after the read.
				i := sort.Search(len(sets[s]), func(i int) bool { return sets[s][i].start > a.readEnd })
				if i < len(sets[s]) && sets[s][i].end < a.casStart {
					t.Fatalf("cas worker %d: CAS with a token read before set-%d-%d succeeded although that set completed before the CAS began (lost update)", g, s, i)
				}
			}
		}
	}
	if nAcked == 0 {
		t.Fatalf("no CAS ever succeeded")
	}
	v, found := get(c, "k")
	if !found || !(len(v) > 4 && (v[:4] == "set-" || v[:4] == "cas-")) {
		t.Fatalf("final value %q, %v", v, found)
	}
	if s := c.Stats(); s.Items != 1 || s.Sets != uint64(nSet*iters+nAcked+1) {
		t.Errorf("Stats Items %d Sets %d; want 1, %d", s.Items, s.Sets, nSet*iters+nAcked+1)
	}
	t.Logf("%d of %d CAS acknowledged", nAcked, nCAS*iters)
}

// Guards against a published-engine bug (cas racing incr lost an acknowledged increment): cas racing incr on a number: final = initial + every
// acknowledged increment, by either path.
func TestConcurrentCASvsIncr(t *testing.T) {
	defer watchdog(t, time.Minute, "cas vs incr")()
	c := openT(t, core.Options{HeapBytes: 64 << 20, SegmentBytes: 1 << 20})
	const initial = 1000
	mustSet(t, c, "n", strconv.Itoa(initial), 0)
	iters := scale(5000, 4)
	var total atomic.Uint64
	f := &failer{t: t}
	var wg sync.WaitGroup
	for g := 0; g < workers(); g++ {
		wg.Go(func() {
			for i := 0; i < iters; i++ {
				if g%2 == 0 {
					if _, err := c.Incr([]byte("n"), 1); err != nil {
						f.errorf("Incr: %v", err)
						return
					}
					total.Add(1)
					continue
				}
				v, tok, found := c.GetCAS(nil, []byte("n"))
				if !found {
					f.errorf("GetCAS: counter absent")
					return
				}
				n, err := strconv.ParseUint(string(v), 10, 64)
				if err != nil {
					f.errorf("counter reads %q", v)
					return
				}
				switch err := c.CAS([]byte("n"), []byte(strconv.FormatUint(n+100, 10)), 0, tok); {
				case err == nil:
					total.Add(100)
				case !errors.Is(err, core.ErrExists):
					f.errorf("CAS: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	want := strconv.FormatUint(initial+total.Load(), 10)
	if v, _ := get(c, "n"); v != want {
		t.Fatalf("counter = %s, want %s (initial %d + acknowledged increments)", v, want, initial)
	}
}

// Guards against a published-engine bug (a retry budget gave false misses on a hot key): a get of a key that 24 goroutines keep rewriting (cas and
// set) never misses and never returns a value that was not written.
func TestHotKeyNeverAbsent(t *testing.T) {
	defer watchdog(t, time.Minute, "hot key")()
	c := openT(t, core.Options{HeapBytes: 64 << 20, SegmentBytes: 1 << 20})
	mustSet(t, c, "hot", string(mkVal("hot", 0, 64)), 0)
	const writers = 24
	iters := scale(2000, 4)
	var stop atomic.Bool
	f := &failer{t: t}
	var wg, rg sync.WaitGroup
	for r := 0; r < 2; r++ {
		rg.Go(func() {
			buf := make([]byte, 0, 256)
			for n := 0; !stop.Load() || n < 100; n++ {
				v, found := c.Get(buf[:0], []byte("hot"))
				if !found {
					f.errorf("Get(hot) missed while writers rewrite it (read #%d)", n)
					return
				}
				if _, err := checkVal("hot", v); err != nil {
					f.errorf("%v", err)
					return
				}
			}
		})
	}
	for g := 0; g < writers; g++ {
		wg.Go(func() {
			for i := 0; i < iters; i++ {
				seq := uint64(g*iters + i + 1)
				if g%3 == 0 {
					if err := c.Set([]byte("hot"), mkVal("hot", seq, 40+i%60), 0); err != nil {
						f.errorf("Set: %v", err)
						return
					}
					continue
				}
				_, tok, found := c.GetCAS(nil, []byte("hot"))
				if !found {
					f.errorf("GetCAS(hot) missed while writers rewrite it")
					return
				}
				if err := c.CAS([]byte("hot"), mkVal("hot", seq, 40+i%60), 0, tok); err != nil && !errors.Is(err, core.ErrExists) {
					f.errorf("CAS: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	stop.Store(true)
	rg.Wait()
	if s := c.Stats(); s.Items != 1 {
		t.Errorf("Stats.Items = %d after rewriting one key, want 1", s.Items)
	}
}

// Guards against a published-engine bug (duplicate entries for one key; two first inserts each published an entry): concurrent first inserts of a key create one entry.
// Add: exactly one goroutine wins each key. Set: one item per key, and a
// single Delete removes the key for good (a duplicate entry would surface).
func TestConcurrentFirstInsert(t *testing.T) {
	defer watchdog(t, time.Minute, "first insert")()
	c := openT(t, core.Options{HeapBytes: 16 << 20, SegmentBytes: 256 << 10})
	nkeys := scale(3000, 3)
	G := workers()
	wins := make([]atomic.Int32, nkeys)
	f := &failer{t: t}
	var wg sync.WaitGroup
	for g := 0; g < G; g++ {
		wg.Go(func() {
			for i := 0; i < nkeys; i++ {
				k := keyN("add", i)
				switch err := c.Add([]byte(k), mkVal(k, uint64(g), 32), 0); {
				case err == nil:
					wins[i].Add(1)
				case !errors.Is(err, core.ErrExists):
					f.errorf("Add: %v", err)
				}
				k = keyN("set", i)
				if err := c.Set([]byte(k), mkVal(k, uint64(g), 32+g), 0); err != nil {
					f.errorf("Set: %v", err)
				}
			}
		})
	}
	wg.Wait()
	for i := range wins {
		if n := wins[i].Load(); n != 1 {
			t.Fatalf("add%d: %d concurrent Adds succeeded, want exactly 1", i, n)
		}
	}
	s := c.Stats()
	sane(t, s)
	if s.Items != uint64(2*nkeys) || c.Len() != 2*nkeys {
		t.Fatalf("Stats.Items %d, Len %d after first inserts of %d keys, want %d", s.Items, c.Len(), 2*nkeys, 2*nkeys)
	}
	for i := 0; i < nkeys; i++ {
		for _, p := range []string{"add", "set"} {
			k := keyN(p, i)
			v, found := c.Get(nil, []byte(k))
			if !found {
				t.Fatalf("%s absent", k)
			}
			if g, err := checkVal(k, v); err != nil || g >= uint64(G) {
				t.Fatalf("%s: writer %d, %v", k, g, err)
			}
			if err := c.Delete([]byte(k)); err != nil {
				t.Fatalf("Delete(%s): %v", k, err)
			}
			if v, found := c.Get(nil, []byte(k)); found {
				t.Fatalf("%s still readable after Delete (a second entry?): %q", k, v)
			}
		}
	}
	if s := c.Stats(); s.Items != 0 || s.ItemBytes != 0 {
		t.Errorf("after deleting every key: Items %d ItemBytes %d, want 0, 0", s.Items, s.ItemBytes)
	}
}

// churnPolicies are the policies under which relocation (merge, s3fifo) or
// whole-segment eviction happen concurrently with readers.
var churnPolicies = []core.Policy{core.PolicyMerge, core.PolicyS3FIFO, core.PolicyRandom, core.PolicyFIFO}

// churnOpts is a small cache that evicts all the time.
func churnOpts(p core.Policy) core.Options {
	return core.Options{HeapBytes: 48 * 4096, SegmentBytes: 4096, Eviction: p}
}

// Guards against a published-engine bug (a torn read while relocating; a false miss during a merge drain; a stale location read another key as absent): under heavy churn, in a small cache with merge or
// S3-FIFO relocation, a Get either misses or returns the exact latest (or,
// while a write is in flight, the new) value of that key: never torn bytes,
// another key's value, or a value older than the last acknowledged write.
// Keys written once and then only read must not come back after a miss (a
// false miss during relocation, or a resurrection).
func TestNoTornOrForeignValuesUnderChurn(t *testing.T) {
	for _, p := range churnPolicies {
		t.Run(p.String(), func(t *testing.T) {
			defer watchdog(t, time.Minute, "churn "+p.String())()
			c := openT(t, churnOpts(p))
			const nkeys, nstatic = 1500, 64
			W := 3
			R := workers() - W
			iters := scale(60000, 20)
			// Per key: pending = seq of the write in flight or last started,
			// acked = seq of the last acknowledged write.
			pending := make([]atomic.Uint64, nkeys)
			acked := make([]atomic.Uint64, nkeys)
			for i := 0; i < nstatic; i++ {
				k := keyN("static", i)
				if err := c.Set([]byte(k), mkVal(k, 1, 48), 0); err != nil {
					t.Fatal(err)
				}
			}
			f := &failer{t: t}
			var done atomic.Bool
			var wg, rg sync.WaitGroup
			for w := 0; w < W; w++ {
				wg.Go(func() {
					r := rand.New(rand.NewPCG(uint64(w), 1))
					for i := 0; i < iters && !f.failed(); i++ {
						ki := r.IntN(nkeys/W)*W + w // each key has one writer
						k := keyN("churn", ki)
						seq := pending[ki].Load() + 1
						pending[ki].Store(seq)
						if err := c.Set([]byte(k), mkVal(k, seq, 24+r.IntN(200)), 0); err != nil {
							f.errorf("Set(%s): %v", k, err)
							return
						}
						acked[ki].Store(seq)
					}
				})
			}
			for rd := 0; rd < R; rd++ {
				rg.Go(func() {
					r := rand.New(rand.NewPCG(uint64(rd), 2))
					buf := make([]byte, 0, 512)
					missed := make([]bool, nstatic)
					for n := 0; (!done.Load() || n < 1000) && !f.failed(); n++ {
						if n%4 == 0 {
							si := r.IntN(nstatic)
							k := keyN("static", si)
							v, found := c.Get(buf[:0], []byte(k))
							switch {
							case !found:
								missed[si] = true
							case missed[si]:
								f.errorf("%s: missed, then found again; nothing wrote it (false miss or resurrection)", k)
							default:
								if seq, err := checkVal(k, v); err != nil || seq != 1 {
									f.errorf("%s: seq %d, %v", k, seq, err)
								}
							}
							continue
						}
						ki := r.IntN(nkeys)
						k := keyN("churn", ki)
						lo := acked[ki].Load()
						v, found := c.Get(buf[:0], []byte(k))
						hi := pending[ki].Load()
						if !found {
							continue
						}
						seq, err := checkVal(k, v)
						if err != nil {
							f.errorf("%v", err)
							continue
						}
						if seq < lo || seq > hi {
							f.errorf("%s: got the value of write %d; acknowledged before the read: %d, started by its end: %d", k, seq, lo, hi)
						}
					}
				})
			}
			wg.Wait()
			done.Store(true)
			rg.Wait()
			if f.failed() {
				return
			}
			// Quiescent: every readable key holds its last acknowledged value,
			// and the gauges count exactly the readable keys.
			readable := 0
			for ki := 0; ki < nkeys; ki++ {
				k := keyN("churn", ki)
				if v, found := c.Get(nil, []byte(k)); found {
					readable++
					if seq, err := checkVal(k, v); err != nil || seq != acked[ki].Load() {
						t.Fatalf("%s after quiescence: seq %d (last acknowledged %d), %v", k, seq, acked[ki].Load(), err)
					}
				}
			}
			for i := 0; i < nstatic; i++ {
				if _, found := get(c, keyN("static", i)); found {
					readable++
				}
			}
			s := c.Stats()
			sane(t, s)
			if s.Items != uint64(readable) {
				t.Errorf("Stats.Items = %d, but %d keys are readable", s.Items, readable)
			}
			if s.EvictedSegments+s.MergedSegments == 0 {
				t.Errorf("no segment was evicted or merged: the test did not churn")
			}
			t.Logf("%v: readable %d, evicted segs %d, merged %d, promoted %d", p, readable, s.EvictedSegments, s.MergedSegments, s.PromotedItems)
		})
	}
}

// Guards against a published-engine bug (an acknowledged delete came back after a merge; a frequency bump failed an unlink CAS): an acknowledged delete never comes back, even when the
// deleted item sat in a segment being merged or promoted, and while other
// goroutines read the key in a hot loop. Keys are written in generations
// (the value's seq is the generation); once the delete of generation g of a
// key is acknowledged, no read that starts later may return a value of
// generation <= g.
func TestAckedDeleteNeverComesBack(t *testing.T) {
	for _, p := range churnPolicies {
		t.Run(p.String(), func(t *testing.T) {
			defer watchdog(t, time.Minute, "delete under churn")()
			c := openT(t, churnOpts(p))
			const nchurn, ndel = 1200, 200
			rounds := scale(400, 5)
			delGen := make([]atomic.Uint64, ndel) // last generation deleted (or found absent)
			gen := uint64(1)
			for i := 0; i < ndel; i++ {
				k := keyN("del", i)
				if err := c.Set([]byte(k), mkVal(k, gen, 64), 0); err != nil {
					t.Fatal(err)
				}
			}
			f := &failer{t: t}
			var done atomic.Bool
			var bg sync.WaitGroup
			for w := 0; w < 2; w++ { // churn: keeps segments being evicted and merged
				bg.Go(func() {
					r := rand.New(rand.NewPCG(uint64(w), 3))
					for i := 0; !done.Load(); i++ {
						k := keyN("c", r.IntN(nchurn))
						c.Set([]byte(k), mkVal(k, uint64(i), 40+r.IntN(100)), 0)
					}
				})
			}
			for rd := 0; rd < 3; rd++ { // hot readers of the keys being deleted
				bg.Go(func() {
					r := rand.New(rand.NewPCG(uint64(rd), 4))
					buf := make([]byte, 0, 256)
					for !done.Load() {
						i := r.IntN(ndel)
						gone := delGen[i].Load()
						k := keyN("del", i)
						v, found := c.Get(buf[:0], []byte(k))
						if !found {
							continue
						}
						g, err := checkVal(k, v)
						switch {
						case err != nil:
							f.errorf("%v", err)
						case g <= gone:
							f.errorf("%s: generation %d readable after the delete of generation %d was acknowledged", k, g, gone)
						}
					}
				})
			}
			r := rand.New(rand.NewPCG(9, 5))
			for round := 0; round < rounds && !f.failed(); round++ {
				left := 0
				for i := 0; i < ndel; i++ {
					if delGen[i].Load() == gen {
						continue
					}
					left++
					if r.IntN(3) > 0 {
						continue
					}
					switch err := c.Delete([]byte(keyN("del", i))); {
					case err == nil, errors.Is(err, core.ErrNotFound): // deleted, or evicted: gone for good
						delGen[i].Store(gen)
					default:
						f.errorf("Delete: %v", err)
					}
				}
				// Churn from this goroutine too, so that every round moves
				// segments whatever the scheduler does with the others.
				for j := 0; j < 100; j++ {
					k := keyN("c", r.IntN(nchurn))
					c.Set([]byte(k), mkVal(k, uint64(j), 40+r.IntN(100)), 0)
				}
				if left == 0 { // all deleted: write the next generation
					gen++
					for i := 0; i < ndel; i++ {
						k := keyN("del", i)
						if err := c.Set([]byte(k), mkVal(k, gen, 64), 0); err != nil {
							f.errorf("Set: %v", err)
						}
					}
				}
			}
			done.Store(true)
			bg.Wait()
			for i := 0; i < ndel; i++ {
				if delGen[i].Load() == gen {
					if _, found := get(c, keyN("del", i)); found {
						t.Fatalf("del%d came back after quiescence", i)
					}
				}
			}
			s := c.Stats()
			sane(t, s)
			t.Logf("%v: %d generations, evicted segs %d, merged %d, deletes %d", p, gen, s.EvictedSegments, s.MergedSegments, s.Deletes)
		})
	}
}

// Guards against a published-engine bug (a double decrement of segment counters; item gauges leaked on relocation; a dead-item gauge that counted up forever): after a storm of every operation from more
// goroutines than cores in an evicting cache, the gauges balance exactly:
// Items equals the readable keys, and deleting them all brings Items and
// ItemBytes to 0.
func TestCountersBalanceAfterStorm(t *testing.T) {
	for _, p := range []core.Policy{core.PolicyMerge, core.PolicyS3FIFO, core.PolicyUtil, core.PolicyNone} {
		t.Run(p.String(), func(t *testing.T) {
			defer watchdog(t, time.Minute, "storm")()
			c := openT(t, churnOpts(p))
			const nkeys = 800
			iters := scale(20000, 5)
			var wg sync.WaitGroup
			f := &failer{t: t}
			for g := 0; g < workers(); g++ {
				wg.Go(func() {
					r := rand.New(rand.NewPCG(uint64(g), 6))
					for i := 0; i < iters; i++ {
						k := keyN("s", r.IntN(nkeys))
						kb := []byte(k)
						var err error
						switch r.IntN(10) {
						case 0:
							err = c.Set(kb, []byte(strconv.Itoa(r.IntN(1000))), 0)
						case 1, 2:
							err = c.Set(kb, mkVal(k, uint64(i), 20+r.IntN(300)), 0)
						case 3:
							err = c.Add(kb, mkVal(k, uint64(i), 30), 0)
						case 4:
							err = c.Delete(kb)
						case 5:
							_, err = c.Incr(kb, 1)
						case 6:
							if _, tok, ok := c.GetCAS(nil, kb); ok {
								err = c.CAS(kb, mkVal(k, uint64(i), 50), 0, tok)
							}
						case 7:
							err = c.Replace(kb, []byte("7"), time.Duration(r.IntN(2))*time.Hour)
						default:
							v, found := c.Get(nil, kb)
							if found && len(v) > 20 {
								if _, e := checkVal(k, v); e != nil {
									f.errorf("%v", e)
								}
							}
						}
						if err != nil && !errors.Is(err, core.ErrNotFound) && !errors.Is(err, core.ErrExists) &&
							!errors.Is(err, core.ErrNotNumeric) && !(p == core.PolicyNone && errors.Is(err, core.ErrNoSpace)) {
							f.errorf("%s: %v", k, err)
						}
					}
				})
			}
			wg.Wait()
			readable := 0
			for i := 0; i < nkeys; i++ {
				if _, found := get(c, keyN("s", i)); found {
					readable++
				}
			}
			s := c.Stats()
			sane(t, s)
			if s.Items != uint64(readable) || c.Len() != readable {
				t.Fatalf("after the storm: Stats.Items %d, Len %d, readable keys %d", s.Items, c.Len(), readable)
			}
			for i := 0; i < nkeys; i++ {
				c.Delete([]byte(keyN("s", i)))
			}
			s = c.Stats()
			sane(t, s)
			if s.Items != 0 || s.ItemBytes != 0 {
				t.Fatalf("after deleting every key: Items %d ItemBytes %d, want 0", s.Items, s.ItemBytes)
			}
		})
	}
}

// API: Close while other goroutines use the cache never crashes; each call
// either succeeds or reports ErrClosed (a Get just misses); exactly one of
// several concurrent Close calls succeeds.
func TestCloseRacingOperations(t *testing.T) {
	for round := 0; round < 20; round++ {
		c, err := core.Open(smallOpts(core.PolicyMerge, 16))
		if err != nil {
			t.Fatal(err)
		}
		f := &failer{t: t}
		var wg sync.WaitGroup
		start := make(chan struct{})
		for g := 0; g < workers(); g++ {
			wg.Go(func() {
				<-start
				r := rand.New(rand.NewPCG(uint64(g), uint64(round)))
				closed := false
				for i := 0; i < 5000 && !closed; i++ {
					k := []byte(keyN("k", r.IntN(300)))
					var err error
					switch r.IntN(6) {
					case 0:
						err = c.Set(k, mkVal(string(k), 1, 80), 0)
					case 1:
						_, err = c.Incr(k, 1)
					case 2:
						err = c.Delete(k)
					case 3:
						_, _, err = c.GetInto(make([]byte, 128), k)
					case 4:
						errs := make([]error, 2)
						c.GetBatch([][]byte{k, k}, [][]byte{make([]byte, 128), nil}, make([]int, 2), errs)
						err = errs[0]
					default:
						if v, found := c.Get(nil, k); found {
							if _, e := checkVal(string(k), v); e != nil {
								f.errorf("%v", e)
							}
						}
					}
					if errors.Is(err, core.ErrClosed) {
						closed = true
					} else if err != nil && !errors.Is(err, core.ErrNotFound) && !errors.Is(err, core.ErrNotNumeric) && !errors.Is(err, core.ErrBufferSmall) {
						f.errorf("op before/while closing: %v", err)
					}
				}
			})
		}
		var closers sync.WaitGroup
		var okCloses atomic.Int32
		for i := 0; i < 3; i++ {
			closers.Go(func() {
				<-start
				time.Sleep(time.Duration(round%5) * time.Millisecond)
				if err := c.Close(); err == nil {
					okCloses.Add(1)
				} else if !errors.Is(err, core.ErrClosed) {
					f.errorf("Close: %v", err)
				}
			})
		}
		close(start)
		closers.Wait()
		wg.Wait()
		if n := okCloses.Load(); n != 1 {
			t.Fatalf("round %d: %d of 3 concurrent Close calls succeeded, want 1", round, n)
		}
		if err := c.Set([]byte("k"), []byte("v"), 0); !errors.Is(err, core.ErrClosed) {
			t.Fatalf("Set after Close: %v", err)
		}
		if f.failed() {
			return
		}
	}
}

// Guards against a published-engine bug (concurrent tail expansion leaked segments): concurrent writers that fill many segments of one TTL bucket
// get disjoint space: every key keeps its own value, and the segments used
// are what the bytes need (no segment leaked by a lost seal election).
func TestConcurrentTailExpansion(t *testing.T) {
	defer watchdog(t, time.Minute, "tail expansion")()
	const seg = 4096
	c := openT(t, core.Options{HeapBytes: 512 * seg, SegmentBytes: seg, Eviction: core.PolicyNone})
	G := workers()
	per := scale(1200, 3)
	var wg sync.WaitGroup
	f := &failer{t: t}
	for g := 0; g < G; g++ {
		wg.Go(func() {
			for i := 0; i < per; i++ {
				k := keyN("g"+strconv.Itoa(g)+"-", i)
				if err := c.Set([]byte(k), mkVal(k, uint64(i), 60+i%64), 0); err != nil {
					f.errorf("Set: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	if f.failed() {
		return
	}
	var bytes uint64
	for g := 0; g < G; g++ {
		for i := 0; i < per; i++ {
			k := keyN("g"+strconv.Itoa(g)+"-", i)
			v, found := c.Get(nil, []byte(k))
			if !found {
				t.Fatalf("%s lost (PolicyNone, nothing may be evicted)", k)
			}
			if seq, err := checkVal(k, v); err != nil || seq != uint64(i) {
				t.Fatalf("%s: seq %d, %v", k, seq, err)
			}
			bytes += uint64(itemSize(len(k), len(v)))
		}
	}
	s := c.Stats()
	sane(t, s)
	used := s.SegmentsTotal - s.SegmentsFree
	// Each segment wastes less than one item (at most 8+14+127 bytes rounded).
	maxUsed := bytes/(seg-160) + 1 + uint64(G)
	if used < bytes/seg || used > maxUsed {
		t.Errorf("%d segments in use for %d bytes of items; want between %d and %d", used, bytes, bytes/seg, maxUsed)
	}
	if s.Items != uint64(G*per) {
		t.Errorf("Stats.Items = %d, want %d", s.Items, G*per)
	}
}

// Guards against a published-engine bug (writers raced a drain; a lock-order deadlock (writer pin held across a chain lock); a replace-vs-drain wedge): writers hammer one TTL bucket (set, cas, replace)
// while Expire and Clear loop on it. Everything finishes (watchdog), and
// afterwards every readable key holds a value written for it, and the
// gauges match.
func TestWritersVersusClearAndExpire(t *testing.T) {
	defer watchdog(t, time.Minute, "writers vs clear")()
	for _, p := range []core.Policy{core.PolicyMerge, core.PolicyS3FIFO, core.PolicyFIFO} {
		c := openT(t, churnOpts(p))
		const nkeys = 400
		iters := scale(20000, 5)
		var done atomic.Bool
		f := &failer{t: t}
		var wg, mg sync.WaitGroup
		mg.Go(func() {
			for i := 0; !done.Load(); i++ {
				var err error
				if i%3 == 0 {
					err = c.Clear()
				} else {
					err = c.Expire()
				}
				if err != nil {
					f.errorf("Clear/Expire: %v", err)
				}
				time.Sleep(time.Millisecond)
			}
		})
		for g := 0; g < workers(); g++ {
			wg.Go(func() {
				r := rand.New(rand.NewPCG(uint64(g), 7))
				for i := 0; i < iters; i++ {
					k := keyN("w", r.IntN(nkeys))
					kb := []byte(k)
					var err error
					switch r.IntN(3) {
					case 0:
						err = c.Set(kb, mkVal(k, uint64(i), 30+r.IntN(150)), time.Minute)
					case 1:
						if _, tok, ok := c.GetCAS(nil, kb); ok {
							err = c.CAS(kb, mkVal(k, uint64(i), 30+r.IntN(150)), time.Minute, tok)
						}
					default:
						err = c.Replace(kb, mkVal(k, uint64(i), 30+r.IntN(150)), time.Minute)
					}
					if err != nil && !errors.Is(err, core.ErrNotFound) && !errors.Is(err, core.ErrExists) {
						f.errorf("%s: %v", k, err)
					}
				}
			})
		}
		wg.Wait()
		done.Store(true)
		mg.Wait()
		readable := 0
		for i := 0; i < nkeys; i++ {
			k := keyN("w", i)
			if v, found := c.Get(nil, []byte(k)); found {
				readable++
				if _, err := checkVal(k, v); err != nil {
					t.Fatalf("%v: %v", p, err)
				}
			}
		}
		s := c.Stats()
		sane(t, s)
		if s.Items != uint64(readable) {
			t.Errorf("%v: Stats.Items %d, readable %d", p, s.Items, readable)
		}
		if err := c.Clear(); err != nil {
			t.Fatal(err)
		}
		if s := c.Stats(); s.Items != 0 || s.ItemBytes != 0 || s.SegmentsFree != s.SegmentsTotal {
			t.Errorf("%v: after a final Clear: Items %d ItemBytes %d free %d/%d", p, s.Items, s.ItemBytes, s.SegmentsFree, s.SegmentsTotal)
		}
	}
}

// Every lookup is counted once, as a hit or a miss, whichever goroutine
// and path (Get, GetInto, GetBatch) made it: the counters are per P and
// written without atomics, so a lost or doubled add would show here.
func TestStatsCountEveryLookupUnderConcurrency(t *testing.T) {
	c := openT(t, core.Options{HeapBytes: 4 << 20, SegmentBytes: 64 << 10})
	const present = 200
	for i := 0; i < present; i++ {
		k := []byte(fmt.Sprintf("p%d", i))
		if err := c.Set(k, k, 0); err != nil {
			t.Fatal(err)
		}
	}
	before := c.Stats()
	const goroutines, rounds = 8, 300
	var wg sync.WaitGroup
	var hits, misses atomic.Uint64
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			buf := make([]byte, 64)
			keys, bufs := make([][]byte, 8), make([][]byte, 8)
			lens, errs := make([]int, 8), make([]error, 8)
			for r := 0; r < rounds; r++ {
				hk := []byte(fmt.Sprintf("p%d", (g*rounds+r)%present))
				mk := []byte(fmt.Sprintf("absent:%d:%d", g, r))
				if _, ok := c.Get(nil, hk); !ok {
					t.Errorf("Get %s missed", hk)
				}
				if _, _, err := c.GetInto(buf, mk); !errors.Is(err, core.ErrNotFound) {
					t.Errorf("GetInto %s: %v", mk, err)
				}
				for i := range keys {
					if i%2 == 0 {
						keys[i] = []byte(fmt.Sprintf("p%d", (r+i)%present))
					} else {
						keys[i] = []byte(fmt.Sprintf("absent:%d:%d:%d", g, r, i))
					}
					bufs[i] = make([]byte, 64)
				}
				c.GetBatch(keys, bufs, lens, errs)
				for _, err := range errs {
					if err == nil {
						hits.Add(1)
					} else {
						misses.Add(1)
					}
				}
				hits.Add(1)
				misses.Add(1)
			}
		}(g)
	}
	wg.Wait()
	after := c.Stats()
	got := []uint64{after.Hits - before.Hits, after.Misses - before.Misses, after.Gets - before.Gets}
	want := []uint64{hits.Load(), misses.Load(), hits.Load() + misses.Load()}
	if want[0] != goroutines*rounds*5 || want[1] != goroutines*rounds*5 {
		t.Fatalf("the lookups' own results: %d hits, %d misses; want %d each", want[0], want[1], goroutines*rounds*5)
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("Stats hits, misses, gets (-want +got):\n%s", d)
	}
}

// DeleteCAS racing a writer removes only the item whose token it read: a
// writer that reads its key back after its set finds its own value until
// it finds the key gone, and then a DeleteCAS read that very value; it
// never loses a value no deleter saw, and never sees another one. A token is
// consumed at most once, and the delete counter balances.
func TestConcurrentDeleteCASvsSet(t *testing.T) {
	defer watchdog(t, time.Minute, "delete-cas vs set")()
	c := openT(t, core.Options{HeapBytes: 64 << 20, SegmentBytes: 1 << 20})
	k := []byte("k")
	// Two deleters, not workers(): they loop for as long as the setter
	// runs, and more busy goroutines than CPUs left the setter waiting
	// whole scheduler slices for its stripe (a minute for 40,000 sets in
	// the purego build on 2 CPUs).
	nDel := 2
	iters := scale(10000, 4)
	deleted := make([][]string, nDel) // the values each deleter removed
	tokens := make([][]uint64, nDel)
	var missed []string // the setter's values it saw deleted
	f := &failer{t: t}
	var wg sync.WaitGroup
	var setting atomic.Bool // the deleters run as long as the setter
	setting.Store(true)
	wg.Go(func() {
		defer setting.Store(false)
		for i := 0; i < iters; i++ {
			v := fmt.Sprintf("set-%d", i)
			if err := c.Set(k, []byte(v), 0); err != nil {
				f.errorf("Set: %v", err)
				return
			}
			// A few reads, so that the deleters have time to take a
			// token and use it before the next set; each must show v
			// until one finds it deleted.
			for range 8 {
				got, found := c.Get(nil, k)
				if !found {
					missed = append(missed, v)
					break
				}
				if string(got) != v {
					f.errorf("read %q after setting %q, and only deleters run beside", got, v)
					return
				}
			}
		}
	})
	for g := 0; g < nDel; g++ {
		wg.Go(func() {
			for setting.Load() {
				v, tok, found := c.GetCAS(nil, k)
				if !found {
					continue
				}
				switch err := c.DeleteCAS(k, tok); {
				case err == nil:
					deleted[g] = append(deleted[g], string(v))
					tokens[g] = append(tokens[g], tok)
				case !errors.Is(err, core.ErrExists) && !errors.Is(err, core.ErrNotFound):
					f.errorf("DeleteCAS: %v, want nil, ErrExists or ErrNotFound", err)
					return
				}
			}
		})
	}
	wg.Wait()
	if f.failed() {
		return
	}
	removed := map[string]bool{}
	consumed := map[uint64]bool{}
	for g := range deleted {
		for i, v := range deleted[g] {
			if removed[v] {
				t.Fatalf("%q was removed twice", v)
			}
			removed[v] = true
			if consumed[tokens[g][i]] {
				t.Fatalf("token %d consumed twice", tokens[g][i])
			}
			consumed[tokens[g][i]] = true
		}
	}
	for _, v := range missed {
		if !removed[v] {
			t.Fatalf("%q vanished after it was set, but no DeleteCAS read it (a delete with an older token removed it)", v)
		}
	}
	if len(removed) == 0 {
		t.Fatalf("no DeleteCAS ever succeeded: the race was not run")
	}
	if s := c.Stats(); s.Deletes != uint64(len(removed)) {
		t.Errorf("Stats Deletes %d, want %d (the acknowledged DeleteCAS)", s.Deletes, len(removed))
	}
	t.Logf("%d DeleteCAS acknowledged; the setter saw %d of its %d values deleted", len(removed), len(missed), iters)
}
