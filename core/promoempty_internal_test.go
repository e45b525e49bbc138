package core

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/segcache/segcache/core/internal/segment"
)

// TestExpireFreesEmptiedPromotionDestination: Expire frees an S3-FIFO
// promotion destination whose items were all deleted, as it frees any
// other segment left empty. It kept it (a destination is Relocating, not
// Sealed), so a small cache whose promoted keys were deleted held one
// segment of nothing per TTL bucket that had promoted, until a later
// promotion filled and sealed it.
func TestExpireFreesEmptiedPromotionDestination(t *testing.T) {
	c := openCache(t, Options{HeapBytes: 16 * 4096, SegmentBytes: 4096, Eviction: PolicyS3FIFO})
	val := make([]byte, 100)
	var keys [][]byte
	for i := 0; c.Stats().PromotedItems == 0; i++ {
		if i == 100_000 {
			t.Fatal("no item was promoted")
		}
		k := []byte(fmt.Sprintf("key%06d", i))
		if err := c.Set(k, val, 0); err != nil {
			t.Fatal(err)
		}
		c.Get(nil, k) // read once: promoted when its admission segment is evicted
		keys = append(keys, k)
	}
	c.evictMu.Lock()
	dest := int32(-1)
	for _, d := range c.ev.promo {
		dest = d
	}
	c.evictMu.Unlock()
	if dest < 0 {
		t.Fatal("items were promoted, but no promotion destination is left")
	}
	deleted := 0
	for _, k := range keys {
		if f, _, _, ok := probeLookup(t, c, k); ok && f.seg == dest {
			if err := c.Delete(k); err != nil {
				t.Fatal(err)
			}
			deleted++
		}
	}
	if deleted == 0 {
		t.Fatal("no key lives in the promotion destination")
	}
	free := c.Stats().SegmentsFree
	if err := c.Expire(); err != nil {
		t.Fatal(err)
	}
	type outcome struct {
		FreedSegments uint64
		State         segment.State
		StillPromo    bool
	}
	c.evictMu.Lock()
	got := outcome{c.Stats().SegmentsFree - free, c.segs.Headers[dest].State(), c.ev.isPromo(dest)}
	c.evictMu.Unlock()
	if diff := cmp.Diff(outcome{1, segment.Free, false}, got); diff != "" {
		t.Errorf("Expire after the %d items of the promotion destination were deleted (-want +got):\n%s", deleted, diff)
	}
}
