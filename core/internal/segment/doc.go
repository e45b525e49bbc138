// Package segment holds the segment headers: a pointer-free array, two
// cache lines per segment (one readers load, one writers change), beside the arena that holds the segments' bytes.
//
// A segment moves through states: Free → Open (a TTL bucket's tail, taking
// writes) → Sealed (full or too old; may be evicted) → Draining (claimed by
// one evictor, expirer or merger; its live items are being unlinked or
// relocated) → Free. A merge or promotion destination is Relocating: it is
// readable but neither evictable nor open to writers.
//
// Pins: a writer reserving space, and an updater changing an item in place
// or unlinking one (which changes the segment's counters), pins the segment
// first: it increments the pin count, then checks that the segment is still
// in a state it may touch and still the same generation. A drainer first
// moves the segment to Draining, then waits for the pin count to reach
// zero. The pin count shares one word with the live item and byte counts,
// so that a writer pins and counts the item it reserves for in one atomic
// add, and an unlinker unpins and uncounts in one. Both sides use
// sequentially consistent atomics, so one of them sees the other (Dekker):
// no pin survives into a drain's scan, and nothing is written into a segment
// after it has been recycled.
//
// Chains orders the segments for eviction: per TTL bucket and pool, and
// per pool, in opening order. Only the evictor touches it, under its lock.
//
// Readers take no pin: they copy the item and then check that the
// generation has not moved, which Recycle bumps before the segment is
// reused.
package segment
