package core

import (
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/segcache/segcache/core/internal/hashtable"
	"github.com/segcache/segcache/core/internal/item"
	"github.com/segcache/segcache/core/internal/segment"
)

// parkOpenSegment seals the never-expiring bucket's open segment and
// claims it as a drainer would, leaving it Draining with its items
// linked. The caller holds evictMu.
func parkOpenSegment(t *testing.T, c *Cache) int32 {
	t.Helper()
	id := c.buckets[0].open[segment.PoolMain][0].Load()
	if id < 0 {
		t.Fatal("no open segment")
	}
	c.segs.Headers[id].Transition(segment.Open, segment.Sealed)
	if !c.claim(id) {
		t.Fatal("claim failed")
	}
	return id
}

// relocateAll moves every live item of a claimed segment into a fresh
// destination and recycles the source, as a merge does.
func relocateAll(t *testing.T, c *Cache, src int32) {
	t.Helper()
	dest := c.segs.Take(0)
	if dest < 0 {
		t.Fatal("no spare segment")
	}
	c.segs.Init(dest, segment.Relocating, 0, segment.PoolMain, c.ev.nextStamp(), 0, 0, 0)
	c.list(dest, segment.None)
	items := c.liveItems(src, nil)
	var u drainCount
	for i := range items {
		if !c.relocate(src, dest, &items[i], 1, &u) {
			t.Fatal("relocation failed")
		}
	}
	c.recycle(src, u)
	c.seal(dest, segment.Relocating)
}

func smallCache(t *testing.T, p Policy, segs int) *Cache {
	t.Helper()
	return openCache(t, Options{HeapBytes: uint64(segs) * 4096, SegmentBytes: 4096, Eviction: p, HashPower: 10})
}

func key(i int) []byte { return []byte(fmt.Sprintf("key-%03d", i)) }

// Bugs of the published engine: while a drain owns a segment, get still finds its
// items, and a delete or cas waits for the drain and then acts on the
// relocated item: the delete is never undone and cas never says NotFound.
func TestParkedDrain(t *testing.T) {
	c := smallCache(t, PolicyMerge, 8)
	for i := 0; i < 10; i++ {
		if err := c.Set(key(i), []byte(fmt.Sprintf("value-%d", i)), 0); err != nil {
			t.Fatal(err)
		}
	}
	_, token, _ := c.GetCAS(nil, key(5))
	c.evictMu.Lock()
	src := parkOpenSegment(t, c)
	if v, ok := c.Get(nil, key(2)); !ok || string(v) != "value-2" {
		t.Fatalf("get during drain: %q %v (no false miss)", v, ok)
	}
	deleted := make(chan error)
	casDone := make(chan error)
	go func() { deleted <- c.Delete(key(3)) }()
	go func() { casDone <- c.CAS(key(5), []byte("swapped"), 0, token) }()
	time.Sleep(20 * time.Millisecond) // let both reach the wait; the outcome does not depend on it
	relocateAll(t, c, src)
	c.evictMu.Unlock()
	if err := <-deleted; err != nil {
		t.Fatalf("delete during drain: %v", err)
	}
	if err := <-casDone; err != nil && !errors.Is(err, ErrExists) {
		t.Fatalf("cas during drain: %v (Ok or Exists, never NotFound)", err)
	}
	if v, ok := c.Get(nil, key(3)); ok {
		t.Fatalf("deleted key came back after relocation: %q (a delete the relocation undid)", v)
	}
	for _, i := range []int{0, 2, 9} {
		if v, ok := c.Get(nil, key(i)); !ok || string(v) != fmt.Sprintf("value-%d", i) {
			t.Fatalf("key %d after relocation: %q %v", i, v, ok)
		}
	}
	c.evictMu.Lock()
	c.integrity(t)
	c.evictMu.Unlock()
}

// An increment racing a relocation is neither lost nor torn.
func TestIncrDuringRelocation(t *testing.T) {
	c := smallCache(t, PolicyMerge, 8)
	if err := c.Set([]byte("n"), []byte("0"), 0); err != nil {
		t.Fatal(err)
	}
	const rounds, perRound = 20, 200
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < rounds*perRound; i++ {
			if _, err := c.Incr([]byte("n"), 1); err != nil {
				t.Errorf("incr: %v", err)
				return
			}
		}
	}()
	for r := 0; r < rounds; r++ {
		c.evictMu.Lock()
		// Park whatever segment holds n and move it.
		var f found
		k := c.table().Key(hashKey([]byte("n")))
		if c.locate([]byte("n"), &k, 0xffff, &f) && c.claim(f.seg) {
			relocateAll(t, c, f.seg)
		}
		c.evictMu.Unlock()
	}
	wg.Wait()
	if v, _ := c.Get(nil, []byte("n")); string(v) != fmt.Sprint(rounds*perRound) {
		t.Fatalf("counter = %s, want %d", v, rounds*perRound)
	}
}

// A location whose generation is stale (its segment was
// recycled) is rejected by every consumer, and the generation advances
// only when a segment is recycled.
func TestStaleLocationRejected(t *testing.T) {
	c := smallCache(t, PolicyFIFO, 4)
	k := []byte("stale")
	if err := c.Set(k, []byte("7"), 0); err != nil {
		t.Fatal(err)
	}
	id := c.buckets[0].open[0][0].Load()
	g := c.segs.Headers[id].Gen.Load()
	for i := 0; i < 100; i++ {
		c.Set(k, []byte("7"), 0) // writes do not move the generation
	}
	if got := c.segs.Headers[id].Gen.Load(); got != g {
		t.Fatalf("generation moved from %d to %d without a recycle", g, got)
	}
	c.segs.Headers[id].Gen.Add(1) // as if recycled under a stalled slot
	if _, ok := c.Get(nil, k); ok {
		t.Error("get served a stale location")
	}
	if err := c.Delete(k); !errors.Is(err, ErrNotFound) {
		t.Errorf("delete on stale location: %v", err)
	}
	if _, err := c.Incr(k, 1); !errors.Is(err, ErrNotFound) {
		t.Errorf("incr on stale location: %v", err)
	}
	if err := c.Replace(k, []byte("x"), 0); !errors.Is(err, ErrNotFound) {
		t.Errorf("replace on stale location: %v", err)
	}
}

// A two-segment random cache with TTLs keeps accepting writes (a published
// engine refused them while its segments were younger than 20 s).
func TestTinyCacheKeepsAccepting(t *testing.T) {
	for _, p := range []Policy{PolicyRandom, PolicyFIFO, PolicyMerge, PolicyS3FIFO} {
		c := smallCache(t, p, 2)
		for i := 0; i < 3000; i++ {
			if err := c.Set(key(i), make([]byte, 100), 10*time.Second); err != nil {
				t.Fatalf("%v: insert %d: %v", p, i, err)
			}
		}
	}
}

// A full merge cache under distinct inserts neither livelocks
// nor refuses: every insert succeeds (segments of 4 KiB, our minimum).
func TestMergeFullNoLivelock(t *testing.T) {
	c, err := Open(Options{HeapBytes: 8 * 4096, SegmentBytes: 4096, Eviction: PolicyMerge, MergeMax: 8, MergeTarget: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ok := 0
	for i := 0; i < 3000; i++ {
		if c.Set([]byte(fmt.Sprintf("distinct-%d", i)), make([]byte, 240), 0) == nil {
			ok++
		}
	}
	if ok < 2900 {
		t.Fatalf("%d of 3000 inserts succeeded", ok)
	}
	c.evictMu.Lock()
	c.integrity(t)
	c.evictMu.Unlock()
}

// Writers hammer one TTL bucket (replacing keys,
// cas, incr) while Clear and Expire loop; everything finishes, every
// surviving key has its own value, and no pin is left.
func TestWritersVersusClear(t *testing.T) {
	c := smallCache(t, PolicyMerge, 16)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < 3; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				k := key(i % 50)
				c.Set(k, checkedValue(k, i, 40), time.Hour)
				if _, tok, ok := c.GetCAS(nil, k); ok {
					c.CAS(k, checkedValue(k, i+1, 40), time.Hour, tok)
				}
			}
		}(w)
	}
	done := make(chan struct{})
	go func() {
		for i := 0; i < 200; i++ {
			c.Clear()
			c.Expire()
		}
		close(stop)
		wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("clear or writers did not finish: deadlock between writers and clear")
	}
	for i := 0; i < 50; i++ {
		if v, ok := c.Get(nil, key(i)); ok {
			if err := valueOK(key(i), v); err != nil {
				t.Fatalf("key %d: %v", i, err)
			}
		}
	}
	c.evictMu.Lock()
	c.integrity(t)
	c.evictMu.Unlock()
}

// A CAS token survives relocation: the cache moving an item (merge,
// promotion) is not a change the client can see, so it must not make a
// CAS fail; any real change (set, incr) does.
func TestTokenStableAcrossRelocation(t *testing.T) {
	c := smallCache(t, PolicyMerge, 8)
	c.Set([]byte("doc"), []byte("v1"), 0)
	c.Set([]byte("n"), []byte("5"), 0)
	_, docTok, _ := c.GetCAS(nil, []byte("doc"))
	_, nTok, _ := c.GetCAS(nil, []byte("n"))
	c.evictMu.Lock()
	relocateAll(t, c, parkOpenSegment(t, c))
	c.evictMu.Unlock()
	if _, tok, _ := c.GetCAS(nil, []byte("doc")); tok != docTok {
		t.Fatalf("token changed by relocation: %#x -> %#x", docTok, tok)
	}
	if err := c.CAS([]byte("doc"), []byte("v2"), 0, docTok); err != nil {
		t.Fatalf("cas after relocation: %v", err)
	}
	if err := c.CAS([]byte("doc"), []byte("v3"), 0, docTok); !errors.Is(err, ErrExists) {
		t.Fatalf("cas with a used token: %v", err)
	}
	c.Incr([]byte("n"), 1)
	if err := c.CAS([]byte("n"), []byte("0"), 0, nTok); !errors.Is(err, ErrExists) {
		t.Fatalf("cas on a number incremented since the token: %v", err)
	}
}

// A displacement that moves an entry to its key's other bucket while a
// drain holds the slot it looked up (the drain reads a whole segment's
// slots before it acts on them) must not make the drain skip the item:
// the drain looks again and unlinks or relocates it where it now is. A
// skipped item would stay linked to a recycled segment, and the segment
// would be recycled with nonzero counters.
func TestDrainFollowsDisplacedSlot(t *testing.T) {
	c := smallCache(t, PolicyMerge, 8)
	for i := 0; i < 10; i++ {
		if err := c.Set(key(i), []byte(fmt.Sprintf("value-%d", i)), 0); err != nil {
			t.Fatal(err)
		}
	}
	c.evictMu.Lock()
	defer c.evictMu.Unlock()
	src := parkOpenSegment(t, c)
	items := c.liveItems(src, nil)
	if len(items) != 10 {
		t.Fatalf("%d live items, want 10", len(items))
	}
	keyOf := func(it *liveItem) []byte {
		ih, _ := item.Decode(item.LoadHeader(it.data))
		return it.data[item.HeaderSize : item.HeaderSize+ih.Klen]
	}
	// Move the slots of the first two items behind the drain's back (no
	// writer runs, so the test holds every key's write lock).
	for i := range items[:2] {
		it := &items[i]
		k := c.table().Key(it.h)
		moved := false
		for j := 0; j < 16 && !moved; j++ {
			if k.Slot(j) == it.p {
				moved = k.Displace(j, it.s, it.h)
			}
		}
		if !moved {
			t.Fatalf("could not displace %q", keyOf(it))
		}
	}
	dropped, kept, taken := keyOf(&items[0]), keyOf(&items[1]), keyOf(&items[2])
	var u drainCount
	if !c.dropSlot(src, &items[0], true, &u) {
		t.Fatalf("drop of displaced %q reported the item gone", dropped)
	}
	// The third item is taken off the table behind the drain's back, as a
	// writer's unlink does (slot, then counters): the drain must leave it
	// alone, whether it tries to move it first or to drop it.
	gone := &items[2]
	if !hashtable.Unlink().Apply(c.table(), gone.p, gone.s) {
		t.Fatal("could not unlink the third item")
	}
	c.segs.Headers[src].AddLive(-1, -len(gone.data))
	dest := c.segs.Take(0)
	if dest < 0 {
		t.Fatal("no spare segment")
	}
	c.segs.Init(dest, segment.Relocating, 0, segment.PoolMain, c.ev.nextStamp(), 0, 0, 0)
	c.list(dest, segment.None)
	if c.relocate(src, dest, gone, 1, &u) || c.dropSlot(src, gone, true, &u) {
		t.Fatalf("the drain moved or dropped %q, which was no longer linked", taken)
	}
	for i := range items[1:] {
		if it := &items[1+i]; it != gone && !c.relocate(src, dest, it, 1, &u) {
			t.Fatalf("relocation of %q failed", keyOf(it))
		}
	}
	c.recycle(src, u)
	c.seal(dest, segment.Relocating)
	for _, k := range [][]byte{dropped, taken} {
		if v, ok := c.Get(nil, k); ok {
			t.Errorf("key %q still found: %q", k, v)
		}
	}
	n, err := strconv.Atoi(string(kept[len("key-"):]))
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := c.Get(nil, kept); !ok || string(v) != fmt.Sprintf("value-%d", n) {
		t.Errorf("relocated key %q: %q %v", kept, v, ok)
	}
	c.integrity(t)
}
