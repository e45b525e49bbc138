package core

import (
	"fmt"
	"math/bits"
	"testing"

	"github.com/segcache/segcache/core/internal/hashtable"
)

// plainMiss answers a miss without read's loop only when read's loop would
// call it one: not when an entry was displaced since the lookup read its
// move counter (the key could have slipped past the scan), and not when
// growth replaced the table (TestLookupAfterGrowthLooksInNewTable).
func TestPlainMissWaitsForDisplacements(t *testing.T) {
	c, err := Open(Options{HeapBytes: 1 << 20, SegmentBytes: 64 << 10, HashPower: 10, Eviction: PolicyNone})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	key := []byte("absent")
	k := c.table().Key(hashKey(key))
	moves := k.Moves()
	if k.Match() != 0 || !c.plainMiss(&k, moves) {
		t.Fatal("an absent key in a quiet table is not a plain miss")
	}
	// Displace other keys' entries until one shares the absent key's move
	// counter (keys are striped over 64 counters by their first bucket).
	for i := 0; k.Moves() == moves; i++ {
		if i == 10000 {
			t.Fatal("no displacement reached the absent key's move counter")
		}
		other := []byte(fmt.Sprintf("other:%d", i))
		if err := c.Set(other, other, 0); err != nil {
			t.Fatal(err)
		}
		h := hashKey(other)
		ko := c.table().Key(h)
		for j := 0; j < 16; j++ {
			if s := hashtable.Load(ko.Slot(j)); ko.IsKeys(s) && !hashtable.IsGhost(s) && ko.Displace(j, s, h) {
				break
			}
		}
	}
	if c.plainMiss(&k, moves) {
		t.Error("a scan that a displacement may have raced was taken for a miss")
	}
	if !c.plainMiss(&k, k.Moves()) {
		t.Error("a scan after the displacement is not a plain miss")
	}
}

// prefetchTail and prefetchEntry take any slot value: a ghost, a location
// past the heap.
func TestPrefetchTailAnySlot(t *testing.T) {
	c, err := Open(Options{HeapBytes: 1 << 20, SegmentBytes: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Set([]byte("k"), []byte("v"), 0); err != nil {
		t.Fatal(err)
	}
	k := c.table().Key(hashKey([]byte("k")))
	live := hashtable.Load(k.Slot(bits.TrailingZeros32(k.Match())))
	for _, s := range []uint64{0, live, live | hashtable.LocMask, hashtable.GhostLoc, ^uint64(0)} {
		c.prefetchTail(s) // must not panic
		c.prefetchEntry(s)
	}
}
