package core

import (
	"testing"

	"github.com/segcache/segcache/core/internal/segment"
	"github.com/segcache/segcache/core/internal/ttl"
)

// A writer that read the open segment's id before the segment was sealed
// pins it and counts its item in one add, finds it sealed and takes both
// back. If the segment holds nothing live, the sealer may have seen that
// count and not queued it as empty; the writer must then queue it, or
// under PolicyNone the space would never come back. Here the segment is
// sealed without being queued, with the writer still to come.
func TestStrayReservationQueuesEmptySealedSegment(t *testing.T) {
	c, err := Open(Options{HeapBytes: 64 << 10, SegmentBytes: 4096, Eviction: PolicyNone})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Set([]byte("gone"), make([]byte, 64), 0); err != nil {
		t.Fatal(err)
	}
	if err := c.Delete([]byte("gone")); err != nil {
		t.Fatal(err)
	}
	open := &c.buckets[ttl.Bucket(0)].open[segment.PoolMain][0]
	id := open.Load()
	h := &c.segs.Headers[id]
	if n, _ := h.Live(); n != 0 || h.State() != segment.Open {
		t.Fatalf("segment %d: %d live items, state %d; want an empty open segment", id, n, h.State())
	}
	// The delete queued the emptied open segment (noteUnlinked); forget
	// that, so that only the stray's path below can queue it again.
	c.ev.emptyMu.Lock()
	c.ev.empties = c.ev.empties[:0]
	c.ev.emptyMu.Unlock()
	c.ev.queued[id].Store(false)
	// Sealed as seal would, but with a stray's count in the way: not queued.
	c.evictMu.Lock()
	h.AddLive(1, 64)
	c.seal(id, segment.Open)
	h.AddLive(-1, -64)
	c.evictMu.Unlock()
	if c.ev.queued[id].Load() {
		t.Fatal("the seal queued the segment despite the count: the test sets up nothing")
	}
	// The next set reads the sealed id from the open slot (the sealer here
	// did not clear it), fails to pin it and must queue it.
	if err := c.Set([]byte("next"), make([]byte, 64), 0); err != nil {
		t.Fatal(err)
	}
	if !c.ev.queued[id].Load() && h.State() != segment.Free {
		t.Errorf("segment %d: empty and sealed (state %d) but neither queued nor reclaimed", id, h.State())
	}
}
