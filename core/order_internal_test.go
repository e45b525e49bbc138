package core

// Tests of the eviction order structures (chains, sealed index, expiry
// heaps): their integrity after churn, each policy's victim order on
// constructed cases, and expiry freeing exactly the expired segments.

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/segcache/segcache/core/internal/clock"
	"github.com/segcache/segcache/core/internal/evict"
	"github.com/segcache/segcache/core/internal/hashtable"
	"github.com/segcache/segcache/core/internal/segment"
)

// checkOrder verifies the ordering structures against the headers: every
// Open, Sealed or Relocating segment is in exactly its chain and its
// pool's list, in strictly increasing opening stamps, and nothing else is;
// the sealed index, the expiry heap and the cte heap hold exactly the
// segments they should. The caller holds evictMu.
func (c *Cache) checkOrder(t *testing.T) {
	t.Helper()
	e := &c.ev
	seen := make([]int, c.nseg)
	walk := func(name string, head int32, next func(int32) int32, want func(int32) bool) int {
		n := 0
		last := int64(-1 << 62)
		for id := head; id != segment.None; id = next(id) {
			if n++; n > c.nseg {
				t.Fatalf("%s: a cycle", name)
			}
			h := &c.segs.Headers[id]
			if !want(id) {
				t.Errorf("%s: segment %d (bucket %d pool %d state %d) does not belong", name, id, h.Bucket.Load(), h.Pool.Load(), h.State())
			}
			if s := h.Seq.Load(); s <= last {
				t.Errorf("%s: segment %d stamp %d after %d: not in opening order", name, id, s, last)
			} else {
				last = s
			}
			seen[id]++
		}
		return n
	}
	for p := int32(0); p < segment.Pools; p++ {
		n := walk(fmt.Sprintf("pool %d", p), e.chains.PoolHead(p), e.chains.PoolNext,
			func(id int32) bool { return c.segs.Headers[id].Pool.Load() == p })
		if n != e.chains.Len(p) {
			t.Errorf("pool %d: %d listed, count says %d", p, n, e.chains.Len(p))
		}
	}
	for ch := int32(0); ch < int32(len(e.cursor)); ch++ {
		walk(fmt.Sprintf("chain %d", ch), e.chains.Head(ch), e.chains.Next,
			func(id int32) bool {
				h := &c.segs.Headers[id]
				return segment.ChainOf(h.Bucket.Load(), h.Pool.Load()) == ch
			})
		if cur := e.cursor[ch]; cur != segment.None && e.chains.Chain(cur) != ch {
			t.Errorf("chain %d: merge cursor on segment %d of chain %d", ch, cur, e.chains.Chain(cur))
		}
	}
	sealed, expiring := 0, 0
	for id := range c.segs.Headers {
		h := &c.segs.Headers[id]
		st := h.State()
		listed := st == segment.Open || st == segment.Sealed || st == segment.Relocating
		want := 0
		if listed {
			want = 2
		}
		if seen[id] != want {
			t.Errorf("segment %d (state %d) is in %d lists, want %d", id, st, seen[id], want)
		}
		isSealed := listed && st == segment.Sealed
		if e.sealed.Has(int32(id)) != isSealed {
			t.Errorf("segment %d (state %d): in the sealed index %v", id, st, e.sealed.Has(int32(id)))
		}
		if isSealed {
			sealed++
		}
		exp := listed && h.Expire.Load() != 0
		if e.expiring.Has(int32(id)) != exp {
			t.Errorf("segment %d (state %d, expire %d): in the expiry heap %v", id, st, h.Expire.Load(), e.expiring.Has(int32(id)))
		}
		if exp {
			expiring++
		}
		if e.cte != nil && e.cte.Has(int32(id)) != isSealed {
			t.Errorf("segment %d (state %d): in the cte heap %v", id, st, e.cte.Has(int32(id)))
		}
	}
	if e.sealed.Len() != sealed || e.expiring.Len() != expiring {
		t.Errorf("index sizes: sealed %d want %d, expiring %d want %d", e.sealed.Len(), sealed, e.expiring.Len(), expiring)
	}
}

// TestOrderAfterChurn runs every policy through sets of several TTLs,
// overwrites, deletes, reads (which feed merge and S3-FIFO), expiry and
// clear, and checks the structures and the counters after each phase.
func TestOrderAfterChurn(t *testing.T) {
	for _, p := range allPolicies {
		t.Run(p.String(), func(t *testing.T) {
			c, err := Open(Options{HeapBytes: 48 * 4096, SegmentBytes: 4096, Eviction: p, HashPower: 12, MergeCompact: 4})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			r := rand.New(rand.NewPCG(7, uint64(p)))
			ttls := []time.Duration{0, 0, time.Hour, 2 * time.Hour, 30 * time.Millisecond, 90 * time.Millisecond}
			val := make([]byte, 120)
			for phase := 0; phase < 6; phase++ {
				for i := 0; i < 4000; i++ {
					k := []byte(fmt.Sprintf("k%05d", r.IntN(3000)))
					switch x := r.IntN(10); {
					case x < 6:
						err := c.Set(k, val[:r.IntN(len(val))], ttls[r.IntN(len(ttls))])
						if err != nil && !(p == PolicyNone && err == ErrNoSpace) {
							t.Fatalf("set: %v", err)
						}
					case x < 8:
						c.Get(nil, k)
					default:
						c.Delete(k)
					}
				}
				if phase == 2 {
					time.Sleep(100 * time.Millisecond) // the short TTLs pass
				}
				if phase%2 == 1 {
					if err := c.Expire(); err != nil {
						t.Fatal(err)
					}
				}
				if phase == 4 {
					if err := c.Clear(); err != nil {
						t.Fatal(err)
					}
				}
				c.evictMu.Lock()
				c.integrity(t)
				c.evictMu.Unlock()
				if t.Failed() {
					t.Fatalf("after phase %d", phase)
				}
			}
		})
	}
}

// mkSeg opens a segment by hand, as openSegment would, and seals it
// unless open is set; live is its live byte count. The caller holds
// evictMu.
func (c *Cache) mkSeg(t *testing.T, bucket, pool int32, expire int64, live int, open bool) int32 {
	t.Helper()
	id := c.segs.Take(0)
	if id < 0 {
		t.Fatal("no free segment")
	}
	c.segs.Init(id, segment.Open, bucket, pool, c.ev.nextStamp(), expire, expire, 0)
	c.list(id, segment.None)
	if live > 0 {
		c.segs.Headers[id].AddLive(1, live)
	}
	if !open {
		c.seal(id, segment.Open)
	}
	return id
}

// victims picks (with pick) and claims victims until none is left, and
// returns them in order; their counters are then cleared and they are
// recycled.
func (c *Cache) victims(t *testing.T, n int, pick func() int32) []int32 {
	t.Helper()
	var out []int32
	for i := 0; i < n; i++ {
		id := pick()
		if id < 0 {
			break
		}
		if !c.claim(id) {
			t.Fatalf("victim %d could not be claimed", id)
		}
		out = append(out, id)
		n, b := c.segs.Headers[id].Live()
		c.recycle(id, drainCount{items: int(n), bytes: int(b)})
	}
	return out
}

func orderCache(t *testing.T, p Policy) *Cache {
	t.Helper()
	c := openCache(t, Options{HeapBytes: 16 * 4096, SegmentBytes: 4096, Eviction: p, HashPower: 10, Seed: 1})
	c.evictMu.Lock()
	t.Cleanup(c.evictMu.Unlock)
	return c
}

// TestVictimOrder builds segments of several TTL buckets, expiries and
// utilizations, some left open, and checks each deterministic policy's
// whole victim sequence: sealed segments first in the policy's order, then
// the open ones oldest first (a cache with more buckets in use than
// segments must still make room).
func TestVictimOrder(t *testing.T) {
	far := clock.Now() + 3_600_000
	type spec struct {
		bucket int32
		expire int64 // 0: never
		live   int
		open   bool
	}
	specs := []spec{
		{bucket: 5, expire: far + 500, live: 900},  // 0
		{bucket: 0, expire: 0, live: 100},          // 1
		{bucket: 5, expire: far + 600, live: 300},  // 2
		{bucket: 7, expire: far + 100, live: 2000}, // 3
		{bucket: 5, expire: far + 700, live: 50, open: true},
		{bucket: 0, expire: 0, live: 300},         // 5
		{bucket: 7, expire: far + 200, live: 300}, // 6
		{bucket: 9, expire: far + 50, live: 10, open: true},
	}
	cases := []struct {
		p    Policy
		want []int // positions in specs
	}{
		{PolicyFIFO, []int{0, 1, 2, 3, 5, 6, 4, 7}},
		{PolicyMerge, []int{0, 1, 2, 3, 5, 6, 4, 7}}, // whole-segment fallback: FIFO
		{PolicyCTE, []int{3, 6, 0, 2, 1, 5, 4, 7}},   // "never" last, older first on a tie
		{PolicyUtil, []int{1, 2, 5, 6, 0, 3, 4, 7}},  // 300 B: older first
	}
	for _, tc := range cases {
		t.Run(tc.p.String(), func(t *testing.T) {
			c := orderCache(t, tc.p)
			ids := make([]int32, len(specs))
			for i, s := range specs {
				ids[i] = c.mkSeg(t, s.bucket, segment.PoolMain, s.expire, s.live, s.open)
			}
			c.checkOrder(t)
			var want []int32
			for _, i := range tc.want {
				want = append(want, ids[i])
			}
			if diff := cmp.Diff(want, c.victims(t, len(specs)+1, c.pickVictim)); diff != "" {
				t.Errorf("victim order (-want +got):\n%s", diff)
			}
			c.checkOrder(t)
		})
	}
}

// S3-FIFO compacts a main segment at most half full (sparseMainShare),
// the least utilized first, before it evicts main's oldest; admission's
// goes first while admission is over its share (here 1.6 segments of 16:
// it has one), or once main has none sealed. Sparse main segments held a
// whole segment each for a few items, until their turn came.
func TestS3FIFOCompactsSparseMainFirst(t *testing.T) {
	specs := []struct {
		pool int32
		live int
	}{
		{segment.PoolMain, 3000},     // 0
		{segment.PoolMain, 2048},     // 1: half
		{segment.PoolMain, 2000},     // 2
		{segment.PoolMain, 400},      // 3
		{segment.PoolAdmission, 100}, // 4: least utilized, but admission
		{segment.PoolMain, 2049},     // 5: just over half
	}
	c := orderCache(t, PolicyS3FIFO)
	ids := make([]int32, len(specs))
	for i, s := range specs {
		ids[i] = c.mkSeg(t, 0, s.pool, 0, s.live, false)
	}
	type choice struct {
		Spec    int
		Compact bool
	}
	pos := map[int32]int{}
	for i, id := range ids {
		pos[id] = i
	}
	var got []choice
	pick := func() int32 {
		id, compact := c.s3fifoVictim()
		if id >= 0 {
			got = append(got, choice{pos[id], compact})
		}
		return id
	}
	c.victims(t, len(specs)+1, pick)
	want := []choice{{3, true}, {2, true}, {1, true}, {0, false}, {5, false}, {4, false}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("victim order (-want +got):\n%s", diff)
	}
	c.checkOrder(t)
}

// TestRandomVictims checks the random policies' choices: random takes
// any sealed segment, and over many draws each of them; random FIFO takes
// the oldest sealed segment of the bucket of a random sealed segment.
func TestRandomVictims(t *testing.T) {
	for _, p := range []Policy{PolicyRandom, PolicyRandomFIFO} {
		t.Run(p.String(), func(t *testing.T) {
			c := orderCache(t, p)
			buckets := []int32{3, 3, 4, 3, 4, 6, 6, 3}
			heads := map[int32]int32{} // bucket -> oldest segment
			var all []int32
			for i, b := range buckets {
				id := c.mkSeg(t, b, segment.PoolMain, 0, 100, false)
				if _, ok := heads[b]; !ok {
					heads[b] = id
				}
				all = append(all, id)
				_ = i
			}
			c.mkSeg(t, 3, segment.PoolMain, 0, 100, true) // open: never a victim while sealed exist
			picked := map[int32]int{}
			for i := 0; i < 400; i++ {
				id := c.pickVictim()
				picked[id]++
				if c.segs.Headers[id].State() != segment.Sealed {
					t.Fatalf("draw %d: victim %d not sealed", i, id)
				}
				if p == PolicyRandomFIFO && heads[c.segs.Headers[id].Bucket.Load()] != id {
					t.Fatalf("draw %d: victim %d is not the oldest of its bucket", i, id)
				}
			}
			want := len(all)
			if p == PolicyRandomFIFO {
				want = len(heads)
			}
			if len(picked) != want {
				t.Errorf("%d distinct victims in 400 draws, want %d: %v", len(picked), want, picked)
			}
		})
	}
}

// TestS3FIFOVictimOrder: the oldest sealed admission segment goes while
// the admission pool holds more than its share, then the oldest sealed
// main segment; open segments are passed over.
func TestS3FIFOVictimOrder(t *testing.T) {
	// 16 segments, admission share 0.1: the admission pool may hold 1.6.
	c := orderCache(t, PolicyS3FIFO)
	a0 := c.mkSeg(t, 0, segment.PoolAdmission, 0, 0, true) // open
	m0 := c.mkSeg(t, 0, segment.PoolMain, 0, 0, false)
	a1 := c.mkSeg(t, 2, segment.PoolAdmission, 0, 0, false)
	m1 := c.mkSeg(t, 2, segment.PoolMain, 0, 0, false)
	a2 := c.mkSeg(t, 0, segment.PoolAdmission, 0, 0, false)
	c.checkOrder(t)
	var got []int32
	for i := 0; i < 4; i++ {
		before := map[int32]bool{a0: true, m0: true, a1: true, m1: true, a2: true}
		if !c.s3fifo() {
			break
		}
		for id := range before {
			if c.segs.Headers[id].State() == segment.Free && !contains(got, id) {
				got = append(got, id)
			}
		}
	}
	// Admission holds 3 > 1.6 segments: a1, then a2 (2 > 1.6); then
	// admission (a0, open) is within its share: main, oldest first.
	if diff := cmp.Diff([]int32{a1, a2, m0, m1}, got); diff != "" {
		t.Errorf("s3fifo victims (-want +got):\n%s", diff)
	}
	c.checkOrder(t)
}

func contains(s []int32, x int32) bool {
	for _, v := range s {
		if v == x {
			return true
		}
	}
	return false
}

// TestMergeRunFollowsChain: a run is the consecutive sealed segments of
// one bucket's chain from its cursor (open ones passed over), and after a
// merge the cursor is on the segment after the last one merged, and the
// merged segment takes its first source's place.
func TestMergeRunFollowsChain(t *testing.T) {
	c := orderCache(t, PolicyMerge)
	c.opts.MergeMax = 3
	var b4 []int32
	for i := 0; i < 6; i++ {
		b4 = append(b4, c.mkSeg(t, 4, segment.PoolMain, 0, 0, i == 1))
		c.mkSeg(t, 8, segment.PoolMain, 0, 0, false) // another bucket, interleaved
	}
	ch := segment.ChainOf(4, segment.PoolMain)
	ids := func(run []evict.Segment) []int32 {
		var out []int32
		for _, s := range run {
			out = append(out, s.ID)
		}
		return out
	}
	if diff := cmp.Diff([]int32{b4[0], b4[2], b4[3]}, ids(c.collectRun(c.ev.chains.Head(ch), false))); diff != "" {
		t.Errorf("run from head (-want +got):\n%s", diff)
	}
	run := c.collectRun(c.ev.chains.Head(ch), false)
	if n := c.mergeRun(run, false); n != 3 {
		t.Fatalf("merged %d", n)
	}
	if got := c.ev.cursor[ch]; got != b4[4] {
		t.Errorf("cursor on %d, want %d", got, b4[4])
	}
	var chain []int32
	for id := c.ev.chains.Head(ch); id != segment.None; id = c.ev.chains.Next(id) {
		chain = append(chain, id)
	}
	// Empty sources merge into nothing: the destination is freed again.
	if diff := cmp.Diff([]int32{b4[1], b4[4], b4[5]}, chain); diff != "" {
		t.Errorf("chain after merge (-want +got):\n%s", diff)
	}
	c.checkOrder(t)
	if n := c.ev.accountingErrors.Load(); n != 0 {
		t.Errorf("%d segments recycled with nonzero counters", n)
	}
}

// TestExpireFreesExactlyExpired builds segments that expired and
// segments that did not, open and sealed, in several buckets, and checks
// that expiry frees exactly the expired ones.
func TestExpireFreesExactlyExpired(t *testing.T) {
	c := orderCache(t, PolicyFIFO)
	now := clock.Now()
	var expired, alive []int32
	// now+10_000 is "soon but not yet": it must stay in the future while the
	// test runs even under qemu-user on a loaded machine (now+1 did not).
	for i, e := range []int64{now - 5, now + 60_000, 0, now - 1000, now + 10_000, now - 1} {
		id := c.mkSeg(t, int32(3+i%2), segment.PoolMain, e, 0, i%3 == 0)
		if e != 0 && e <= now {
			expired = append(expired, id)
		} else {
			alive = append(alive, id)
		}
	}
	if n := c.expireLocked(); n != len(expired) {
		t.Errorf("expired %d segments, want %d", n, len(expired))
	}
	for _, id := range expired {
		if st := c.segs.Headers[id].State(); st != segment.Free {
			t.Errorf("expired segment %d: state %d", id, st)
		}
	}
	for _, id := range alive {
		if st := c.segs.Headers[id].State(); st == segment.Free {
			t.Errorf("unexpired segment %d was freed", id)
		}
	}
	c.checkOrder(t)
}

// TestMergePassIsIncremental: a merge pass advances one source segment per
// step, with the ordering structures and counters consistent between
// steps, and keeps exactly the items a pass done at once keeps (two caches
// built alike, one merged step by step with the eviction lock released
// between steps, the other in one go). A pass whose
// next source is taken meanwhile (here: cleared) ends without harm.
func TestMergePassIsIncremental(t *testing.T) {
	build := func() *Cache {
		c, err := Open(Options{HeapBytes: 32 * 4096, SegmentBytes: 4096, Eviction: PolicyMerge, HashPower: 12, Seed: 3})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		val := make([]byte, 64)
		for i := 0; i < 20*46; i++ { // 20 of the 32 segments: nothing evicts
			k := []byte(fmt.Sprintf("key-%06d", i))
			if err := c.Set(k, val, 0); err != nil {
				t.Fatal(err)
			}
			for r := 0; r < i%5; r++ { // frequencies 0..4, so pruning chooses
				c.Get(nil, k)
			}
		}
		return c
	}
	survivors := func(c *Cache) []string {
		var out []string
		for i := 0; i < 20*46; i++ {
			k := fmt.Sprintf("key-%06d", i)
			if _, ok := c.Get(nil, []byte(k)); ok {
				out = append(out, k)
			}
		}
		return out
	}
	once, steps := build(), build()

	once.evictMu.Lock()
	run := once.pickRun(false)
	if len(run) < 3 {
		once.evictMu.Unlock()
		t.Fatalf("run of %d segments, want a longer one to step through", len(run))
	}
	merged := once.mergeRun(run, true)
	once.checkOrder(t)
	once.evictMu.Unlock()

	steps.evictMu.Lock()
	n := 0
	for n == 0 || steps.ev.pass.dest != segment.None {
		before := steps.mergedSegments.Load()
		if !steps.mergeStep() {
			t.Fatalf("step %d made no progress", n)
		}
		if got := steps.mergedSegments.Load() - before; got != 1 {
			t.Fatalf("step %d merged %d segments, want 1", n, got)
		}
		if d := steps.ev.pass.dest; d != segment.None && steps.segs.Headers[d].State() != segment.Relocating {
			t.Fatalf("step %d: destination in state %d between steps", n, steps.segs.Headers[d].State())
		}
		steps.checkOrder(t)
		n++
		steps.evictMu.Unlock() // as between two sets that need a segment
		steps.evictMu.Lock()
	}
	steps.evictMu.Unlock()
	if n != merged {
		t.Errorf("%d steps, the pass at once merged %d segments", n, merged)
	}
	steps.integrity(t)
	once.integrity(t)
	if got := len(survivors(once)); got == 20*46 {
		t.Fatal("the pass kept every item: nothing to compare")
	}
	if diff := cmp.Diff(survivors(once), survivors(steps)); diff != "" {
		t.Errorf("survivors differ (-at once +step by step):\n%s", diff)
	}

	// A pass interrupted by Clear: the next step starts afresh.
	c := build()
	c.evictMu.Lock()
	if !c.mergeStep() || c.ev.pass.dest == segment.None {
		c.evictMu.Unlock()
		t.Fatal("the first step did not leave a pass in progress")
	}
	c.evictMu.Unlock()
	if err := c.Clear(); err != nil {
		t.Fatal(err)
	}
	c.evictMu.Lock()
	if c.ev.pass.dest != segment.None {
		t.Error("a pass is still in progress after Clear")
	}
	c.checkOrder(t)
	c.evictMu.Unlock()
	c.integrity(t)
	if st := c.Stats(); st.Items != 0 {
		t.Errorf("%d items after Clear", st.Items)
	}
}

// A compaction loses nothing: the live items of a sparse main segment are
// all there after it, with their frequencies (an eviction would have taken
// one round off each), and the segment is free.
func TestS3FIFOCompactionKeepsItems(t *testing.T) {
	c := openCache(t, Options{HeapBytes: 16 * 4096, SegmentBytes: 4096, Eviction: PolicyS3FIFO, Seed: 1})
	val := make([]byte, 100)
	set := func(k string) {
		if err := c.Set([]byte(k), val, 0); err != nil {
			t.Fatal(err)
		}
	}
	// Keys read once move to main when admission evicts their segments,
	// which keys never read (fillers) make it do.
	for i := range 100 {
		k := fmt.Sprintf("p%03d", i)
		set(k)
		c.Get(nil, []byte(k))
	}
	for i := range 1000 {
		set(fmt.Sprintf("f%04d", i))
	}
	bySeg := map[int32][]string{}
	for i := range 100 {
		k := fmt.Sprintf("p%03d", i)
		if f, _, _, ok := probeLookup(t, c, []byte(k)); ok && f.hdr.State() == segment.Sealed && f.hdr.Pool.Load() == segment.PoolMain {
			bySeg[f.seg] = append(bySeg[f.seg], k)
		}
	}
	seg, keys := int32(-1), []string(nil)
	for id, ks := range bySeg {
		if len(ks) > len(keys) {
			seg, keys = id, ks
		}
	}
	if len(keys) < 10 {
		t.Fatalf("no sealed main segment of promoted keys: %v", bySeg)
	}
	// Overwrite all but three (the new copies go to main's open segment);
	// read those three twice.
	survivors := keys[:3]
	for _, k := range keys[3:] {
		set(k)
	}
	for _, k := range survivors {
		c.Get(nil, []byte(k))
		c.Get(nil, []byte(k))
	}
	freqs := func() []uint64 {
		var out []uint64
		for _, k := range survivors {
			f, _, _, ok := probeLookup(t, c, []byte(k))
			if !ok {
				t.Fatalf("%s is gone", k)
			}
			out = append(out, hashtable.Freq(f.s))
		}
		return out
	}
	before := freqs()
	c.evictMu.Lock()
	if !c.atMostFull(seg, sparseMainShare) {
		c.evictMu.Unlock()
		t.Fatalf("segment %d is not sparse: %d live bytes", seg, c.segs.Headers[seg].LiveBytes())
	}
	merged := c.mergedSegments.Load()
	for i := 0; c.segs.Headers[seg].State() != segment.Free && i < 16; i++ {
		if !c.s3fifo() {
			break
		}
	}
	state := c.segs.Headers[seg].State()
	c.evictMu.Unlock()
	if state != segment.Free {
		t.Fatalf("segment %d not taken in 16 steps (state %d)", seg, state)
	}
	if got := c.mergedSegments.Load(); got != merged+1 {
		t.Errorf("MergedSegments %d -> %d, want one compaction", merged, got)
	}
	if diff := cmp.Diff(before, freqs()); diff != "" {
		t.Errorf("frequencies of the survivors (-before +after):\n%s", diff)
	}
	for _, k := range survivors {
		if f, _, _, _ := probeLookup(t, c, []byte(k)); f.seg == seg {
			t.Errorf("%s still in segment %d", k, seg)
		}
	}
}

// TestMergeLastSourceFillsDestination: a pass keeps the read items of its
// sources, and its last source fills the room the destination has left
// with the rest of its items, newest first, so that the destination, a
// whole segment taken either way, is not sealed part empty. If nothing
// read was kept, the last source stays where it is with all its items
// (the same items, without the copy) and the destination is freed.
// Before, a pass kept only read items: here, the hot keys, and with no
// hot key nothing at all.
func TestMergeLastSourceFillsDestination(t *testing.T) {
	for _, hot := range []int{0, 10} {
		t.Run(fmt.Sprintf("hot=%d", hot), func(t *testing.T) {
			testMergeFill(t, hot)
		})
	}
}

// testMergeFill writes 20 segments of keys in order, reads the first hot
// of them twice, merges the oldest run with pruning, and checks which keys
// are left.
func testMergeFill(t *testing.T, hot int) {
	c, err := Open(Options{HeapBytes: 32 * 4096, SegmentBytes: 4096, Eviction: PolicyMerge, HashPower: 12, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	const n = 20 * 46 // 20 of the 32 segments: nothing evicts
	key := func(i int) []byte { return []byte(fmt.Sprintf("key-%06d", i)) }
	val := make([]byte, 64)
	for i := range n {
		if err := c.Set(key(i), val, 0); err != nil {
			t.Fatal(err)
		}
	}
	for i := range hot {
		c.Get(nil, key(i))
		c.Get(nil, key(i))
	}
	free := c.Stats().SegmentsFree
	c.evictMu.Lock()
	run := c.pickRun(false)
	if len(run) < 3 {
		c.evictMu.Unlock()
		t.Fatalf("run of %d segments, want at least 3", len(run))
	}
	if run[0].ID != c.ev.chains.Head(c.ev.chains.Chain(run[0].ID)) {
		c.evictMu.Unlock()
		t.Fatal("the run does not start with the oldest segment")
	}
	lastItems, lastBytes := c.segs.Headers[run[len(run)-1].ID].Live()
	size := int(lastBytes / lastItems) // every item has the same size
	inRun := 0
	for _, s := range run {
		k, _ := c.segs.Headers[s.ID].Live()
		inRun += int(k)
	}
	merged := c.mergeRun(run, true)
	c.checkOrder(t)
	c.evictMu.Unlock()
	c.integrity(t)

	// Keys were written in order, so the run's are the oldest. Kept: the
	// hot ones, then the newest of the last source's that fit beside
	// them (all of them when none is hot: it stayed in place), then
	// every key after the run.
	fill := min(int(lastItems), (c.segSize-hot*size)/size)
	want := make([]int, 0, n)
	for i := range hot {
		want = append(want, i)
	}
	for i := inRun - fill; i < n; i++ {
		want = append(want, i)
	}
	var present []int
	for i := range n {
		if _, ok := c.Get(nil, key(i)); ok {
			present = append(present, i)
		}
	}
	if diff := cmp.Diff(want, present); diff != "" {
		t.Errorf("keys present after the pass (-want +got):\n%s", diff)
	}
	// Either way the pass frees all the run's segments but one.
	wantMerged := len(run)
	if hot == 0 {
		wantMerged-- // the last source stayed in place
	}
	if merged != wantMerged {
		t.Errorf("merged %d of %d sources, want %d", merged, len(run), wantMerged)
	}
	if got, want := c.Stats().SegmentsFree, free+uint64(len(run))-1; got != want {
		t.Errorf("%d segments free, want %d", got, want)
	}
}
