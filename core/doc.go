// Package core is the Segcache engine: a segment-structured key-value cache
// (Yang, Yue, Rashmi, NSDI'21) that stores small items with a few bytes of
// overhead each, expires them a whole segment at a time, and serves lookups
// without taking a lock.
//
// Items live in an arena of fixed-size segments mapped outside the Go heap,
// so the garbage collector neither scans nor paces on cached data. A
// lock-free hashtable of 64-byte buckets maps keys to item locations. Items
// with similar TTLs share segments (TTL buckets), so expiry frees whole
// segments. When memory runs out, one of eight eviction policies picks the
// segments to reclaim (see Policy).
//
// The hashtable grows by doubling while the cache runs, so that neither
// its initial size nor the item size caps the number of items: when a new
// key finds both its buckets full and nothing can be displaced, the table
// doubles if it is at least half full and the memory left would still
// hold the live items. The table is part of the cache's memory: the cache
// takes at most HeapBytes plus the larger of the initial table and one
// segment, because each growth beyond that retires segments worth the
// difference (evicted through the policy like any segment, their pages
// returned to the system, never used again). Stats reports the table's
// size, its growths and the retired segments.
//
// Every method of Cache is safe for concurrent use. Reads take no lock:
// they copy the value out of the segment and validate the segment's
// generation afterwards; a lookup uses the table it loaded, and one that
// misses after a growth looks again in the new table. Writers of one key
// are serialized by a striped lock, but drains move and drop items under
// them, so a writer too judges what it found (its bytes, its segment's
// expiry) at the generation its lookup saw, and waits for a drain that owns
// the item rather than answer for it; space is reserved in a segment with
// an atomic add, and the hashtable slot is published only after the bytes
// are written. The room a segment has left when an item does not fit is
// kept for smaller items, under a lock of its own (see tail.go), so items
// of varied sizes fill the heap. Growth copies the table while writers go on, then holds every
// stripe and the maintenance lock only for a last pass over the buckets
// they changed since the pass before, so writers and drains wait for that
// pass alone (well under a millisecond); readers never wait.
//
// Every write of a key gives its item a new CAS token (GetCAS reads it;
// relocation by a drain keeps it), but a touch (Store with StoreTouch),
// whose item keeps the token it checked, as memcached's touch keeps an
// item's CAS unique. The writes that check one (CAS, the touch,
// DeleteCAS) check it under the key's stripe, and the writes that return
// one (Store, IncrCAS, DecrCAS) return their own item's, taken under the
// stripe too: a read back after the write could already see a later
// writer's item.
//
// Go programs import this package directly; the C ABI in capi wraps it.
package core
