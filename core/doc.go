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
// Every method of Cache is safe for concurrent use. Reads take no lock:
// they copy the value out of the segment and validate the segment's
// generation afterwards. Writers of one key are serialized by a striped
// lock; space is reserved in a segment with an atomic add, and the
// hashtable slot is published only after the bytes are written.
//
// Go programs import this package directly; the C ABI in capi wraps it.
package core
