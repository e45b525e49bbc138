// Package hashtable is the engine's lock-free index: 64-byte buckets of
// eight 64-bit slots, two candidate buckets per key, every change a CAS.
//
// A slot packs tag (12 bits, never 0 in a used slot) | frequency (8 bits) |
// location (44 bits: segment id 18 | generation 6 | offset/8 20). There is
// no metadata slot: all eight slots hold items. The tag comes from hash bits
// independent of both bucket indices (tagscan.Candidates). A ghost is a slot
// whose location is the all-ones sentinel: it keeps a key's frequency after
// its item was evicted, so a key that comes back resumes where it was, and
// S3-FIFO routes it to the main pool.
//
// This package knows nothing of items; the engine verifies keys in the
// segments and decides what to CAS. The table lives outside the Go heap.
package hashtable
