package core

import (
	"fmt"
	"testing"
	"time"

	"github.com/segcache/segcache/core/internal/clock"
	"github.com/segcache/segcache/core/internal/item"
	"github.com/segcache/segcache/core/internal/segment"
	"github.com/segcache/segcache/core/internal/ttl"
)

// TestTailTakesSmallerItems follows one tail through its life: a write too
// large for the room left in the open segment leaves that segment as its
// bucket's tail; a smaller item then goes into the room, right after the
// last item, and one too large for what is left goes to the open segment;
// the tail is sealed once the next segment is filled past its end. The
// drain's walk finds every item (integrity), and clearing the cache takes
// every count back.
func TestTailTakesSmallerItems(t *testing.T) {
	c := openCache(t, Options{HeapBytes: 64 * 4096, SegmentBytes: 4096, Eviction: PolicyFIFO})
	const big = 1000 - item.HeaderSize - 5 // an item of 1,000 bytes with a 5-byte key
	set := func(key string, vlen int) found { t.Helper(); return setFound(t, c, key, vlen, 0) }
	first := set("big-0", big)
	for i := 1; i < 4; i++ {
		set(fmt.Sprintf("big-%d", i), big)
	}
	// 4,000 bytes written: the fifth item does not fit in the 96 left.
	fifth := set("big-4", big)
	if fifth.seg == first.seg {
		t.Fatalf("the fifth 1,000-byte item went into the first segment")
	}
	if st := first.hdr.State(); st != segment.Open {
		t.Fatalf("the first segment is in state %d, want open (the bucket's tail)", st)
	}
	small := set("small", 96-item.HeaderSize-5) // exactly the room left
	if small.seg != first.seg || small.off != 4000 {
		t.Errorf("a 96-byte item went to segment %d offset %d, want the tail: segment %d offset 4000", small.seg, small.off, first.seg)
	}
	other := set("other", 64-item.HeaderSize-5) // no room left in the tail
	if other.seg != fifth.seg {
		t.Errorf("a 64-byte item went to segment %d, want the open segment %d", other.seg, fifth.seg)
	}
	for i := 5; i < 9; i++ { // fill the second segment past its end
		set(fmt.Sprintf("big-%d", i), big)
	}
	if st := first.hdr.State(); st != segment.Sealed {
		t.Errorf("the first segment is in state %d once the second became the tail, want sealed", st)
	}
	for _, k := range []string{"big-0", "big-3", "small", "other", "big-8"} {
		v, ok := c.Get(nil, []byte(k))
		if !ok {
			t.Fatalf("%s is lost", k)
		}
		if err := valueOK([]byte(k), v); err != nil {
			t.Errorf("%s: %v", k, err)
		}
	}
	c.evictMu.Lock()
	c.integrity(t)
	c.evictMu.Unlock()
	// The third segment: 4,000 bytes, then a tail of 96.
	for i := 9; i < 13; i++ {
		set(fmt.Sprintf("big-%d", i), big)
	}
	if v := c.tails.slot(int(first.hdr.Bucket.Load()), segment.PoolMain).Load(); v == 0 {
		t.Fatalf("no tail before Clear")
	}
	if err := c.Clear(); err != nil {
		t.Fatal(err)
	}
	// Clear drained the tail: its bucket must forget it, or a small
	// write would go into a free (or reopened) segment's bytes.
	for i := range c.tails {
		if v := c.tails[i].Load(); v != 0 {
			t.Errorf("tail slot %d still names segment %d after Clear", i, tailID(v))
		}
	}
	if s := c.Stats(); s.Items != 0 || s.ItemBytes != 0 {
		t.Errorf("after Clear: %d items of %d bytes", s.Items, s.ItemBytes)
	}
	if n := c.ev.accountingErrors.Load(); n != 0 {
		t.Errorf("%d segments recycled with nonzero counters", n)
	}
	again := set("small", 96-item.HeaderSize-5)
	if v, ok := c.Get(nil, []byte("small")); !ok || valueOK([]byte("small"), v) != nil {
		t.Errorf("small after Clear: found %v", ok)
	}
	if again.hdr.State() != segment.Open {
		t.Errorf("small after Clear went to a segment in state %d", again.hdr.State())
	}
}

// A tail takes no item once its segment's writes must have stopped (its
// Seal, which keeps an item from expiring before its TTL's promise): an
// item written there later would expire with the segment, too early.
func TestTailTakesNoItemAfterItsSeal(t *testing.T) {
	c := openCache(t, Options{HeapBytes: 64 * 4096, SegmentBytes: 4096, Eviction: PolicyFIFO})
	const big = 1000 - item.HeaderSize - 5
	// Seal comes about a second before the segment expires with a TTL of
	// 2 s (see ttl.PlanFor); with one below a second they coincide, and
	// the expiry, not the seal, would keep the item out of the tail.
	const ttl = 2 * time.Second
	set := func(key string, vlen int) found { t.Helper(); return setFound(t, c, key, vlen, ttl) }
	first := set("big-0", big)
	for i := 1; i < 5; i++ {
		set(fmt.Sprintf("big-%d", i), big)
	}
	if v := c.tails.slot(int(first.hdr.Bucket.Load()), segment.PoolMain).Load(); v == 0 || tailID(v) != first.seg {
		t.Fatalf("the first segment is not its bucket's tail")
	}
	seal := first.hdr.Seal.Load()
	if seal == 0 || seal >= first.hdr.Expire.Load() {
		t.Fatalf("seal time %d, expiry %d: want a seal before the expiry", seal, first.hdr.Expire.Load())
	}
	for !clock.Reached(seal) {
		time.Sleep(5 * time.Millisecond)
	}
	small := set("small", 96-item.HeaderSize-5)
	if small.seg == first.seg {
		t.Errorf("an item written after the tail's seal time went into the tail")
	}
	if _, ok := c.Get(nil, []byte("small")); !ok {
		t.Errorf("an item written after the tail's seal time is not served")
	}
}

// Two TTL buckets whose tails share a slot of the table (2 s and 4 s: an
// octave is 32 buckets, and 2 x 32 slots wrap around): the second to keep
// a tail takes the slot and seals the first's, and no item goes into the
// other bucket's tail, where it would expire with the wrong TTL. Two
// guards keep it out: the slot's word names its bucket, and reserveTail
// checks the pinned segment's bucket (the test fails with both removed).
func TestTailSlotSharedByTwoBuckets(t *testing.T) {
	c := openCache(t, Options{HeapBytes: 64 * 4096, SegmentBytes: 4096, Eviction: PolicyFIFO})
	const big = 1000 - item.HeaderSize - 5
	const short, long = 2 * time.Second, 4 * time.Second
	bs, bl := ttl.Bucket(short.Milliseconds()), ttl.Bucket(long.Milliseconds())
	if c.tails.slot(bs, segment.PoolMain) != c.tails.slot(bl, segment.PoolMain) {
		t.Fatalf("buckets %d and %d do not share a tail slot", bs, bl)
	}
	set := func(key string, vlen int, ttl time.Duration) found { t.Helper(); return setFound(t, c, key, vlen, ttl) }
	fill := func(prefix string, ttl time.Duration) found {
		first := set(prefix+"-0", big, ttl)
		for i := 1; i < 5; i++ {
			set(fmt.Sprintf("%s-%d", prefix, i), big, ttl)
		}
		if v := c.tails.slot(bs, segment.PoolMain).Load(); tailID(v) != first.seg {
			t.Fatalf("%s: the tail slot names segment %d, want %d", prefix, tailID(v), first.seg)
		}
		return first
	}
	shortTail := fill("s", short)
	longTail := fill("l", long)
	if st := shortTail.hdr.State(); st != segment.Sealed {
		t.Errorf("the 2 s bucket's tail is in state %d once the 4 s bucket took its slot, want sealed", st)
	}
	small := set("small", 96-item.HeaderSize-5, short)
	if small.seg == longTail.seg || small.seg == shortTail.seg {
		t.Errorf("a 2 s item went into segment %d, a tail it must not use (4 s tail %d, sealed 2 s tail %d)", small.seg, longTail.seg, shortTail.seg)
	}
	if b := int(small.hdr.Bucket.Load()); b != bs {
		t.Errorf("a 2 s item went into a segment of bucket %d, want %d", b, bs)
	}
	other := set("other", 96-item.HeaderSize-5, long)
	if other.seg != longTail.seg {
		t.Errorf("a 4 s item that fits the 4 s bucket's tail went to segment %d, want %d", other.seg, longTail.seg)
	}
	c.evictMu.Lock()
	c.integrity(t)
	c.evictMu.Unlock()
}

// setFound sets key to a checked value of vlen bytes with ttl and returns
// where the item went.
func setFound(t *testing.T, c *Cache, key string, vlen int, ttl time.Duration) found {
	t.Helper()
	if err := c.Set([]byte(key), checkedValue([]byte(key), 0, vlen), ttl); err != nil {
		t.Fatalf("Set(%s): %v", key, err)
	}
	return writersLookup(t, c, []byte(key))
}
