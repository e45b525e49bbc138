package core

import (
	"fmt"
	"testing"
	"time"
	"unsafe"

	"github.com/google/go-cmp/cmp"
	"github.com/segcache/segcache/core/internal/hashtable"
)

// keysOfOnePair returns n keys whose two candidate buckets in c's table are
// the same pair, so that they alone fill it (16 slots) and none of them can
// be displaced to a bucket outside it.
func keysOfOnePair(t *testing.T, c *Cache, n int) [][]byte {
	t.Helper()
	type pair struct{ b0, b1 *uint64 }
	groups := map[pair][][]byte{}
	var k hashtable.Key
	for i := 0; i < 1<<22; i++ {
		key := []byte(fmt.Sprintf("pair-key-%d", i))
		c.table().SetKey(&k, hashKey(key))
		p := pair{k.Slot(0), k.Slot(8)}
		if p.b1 == p.b0 {
			continue
		}
		if uintptr(unsafe.Pointer(p.b1)) < uintptr(unsafe.Pointer(p.b0)) {
			p.b0, p.b1 = p.b1, p.b0
		}
		if groups[p] = append(groups[p], key); len(groups[p]) == n {
			return groups[p]
		}
	}
	t.Fatalf("no bucket pair shared by %d keys", n)
	return nil
}

// TestFullPairGivesUpAnExpiredEntryFirst: an evicting policy's full bucket
// pair gives up an entry whose item has expired before its coldest live
// one. The pair holds 8 items that expired (read often, so warm) and 8
// live ones never read (the coldest); a 17th key, whose only room is that
// pair and for which the table does not grow (it is nearly empty), took
// the slot of a live item, counted it as an eviction, and that key then
// missed, while an item nobody could read kept its slot.
func TestFullPairGivesUpAnExpiredEntryFirst(t *testing.T) {
	evicting := allPolicies[1:]
	underPolicies(t, evicting, Options{HeapBytes: 64 << 16, SegmentBytes: 1 << 16, HashPower: 10}, func(t *testing.T, c *Cache) {
		keys := keysOfOnePair(t, c, 17)
		expiring, live, last := keys[:8], keys[8:16], keys[16]
		val := []byte("value")
		for _, k := range expiring {
			if err := c.Set(k, val, 10*time.Millisecond); err != nil {
				t.Fatal(err)
			}
			for range 30 {
				c.Get(nil, k)
			}
		}
		for _, k := range live {
			if err := c.Set(k, val, 0); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(100 * time.Millisecond)
		if err := c.Set(last, val, 0); err != nil {
			t.Fatal(err)
		}
		type outcome struct {
			LiveHeld        int
			LastHeld        bool
			Evicted         uint64
			ExpiredAtLeast1 bool
		}
		got := outcome{}
		for _, k := range live {
			if _, ok := c.Get(nil, k); ok {
				got.LiveHeld++
			}
		}
		_, got.LastHeld = c.Get(nil, last)
		s := c.Stats()
		got.Evicted, got.ExpiredAtLeast1 = s.EvictedItems, s.ExpiredItems >= 1
		if diff := cmp.Diff(outcome{8, true, 0, true}, got); diff != "" {
			t.Errorf("a new key into a full pair with 8 expired entries (-want +got):\n%s", diff)
		}
	})
}
