// Package tagscan finds the hashtable slots whose tag matches a key's tag,
// and the slots an insert may take.
//
// The engine's hashtable is an array of 64-byte buckets of eight uint64
// slots (see Bucket for the slot layout). A key has two candidate buckets
// and a 12-bit tag, all derived from its 64-bit hash by Candidates. A lookup
// scans both buckets for live slots carrying the key's tag and then checks
// each such slot's key in its segment; this package does the scan.
//
// Match scans the two candidate buckets of one key (16 slots) in one call.
// MatchBatch does the whole first half of a lookup for many keys: derive
// the buckets from each hash, prefetch the buckets of keys a few positions
// ahead, and scan. Batching is where assembly pays: a call into assembly
// cannot be inlined, and a table much larger than the cache costs a memory
// miss per bucket, which prefetching overlaps. Classify sorts the same 16
// slots for an insert looking for room (the key's ghosts, any ghost, the
// empty slots): the scalar loop over a pair that mixes live entries and
// ghosts at random mispredicts, and it ran on every insert into a full
// cache.
//
// Implementations: AVX2 on amd64 (generated with avo from core/_asm), NEON
// on arm64 (hand-written Go assembly), and pure Go everywhere else and
// under the purego build tag. The choice is made once from package cpu's
// flags; Force lets tests run every available implementation (see
// tagscantest.ForEachImpl). MatchRef, MatchBatchRef and ClassifyRef are the
// plain Go references every implementation is tested against.
//
// In -race builds, memory that assembly reads is reported to the race
// detector (race.go), so a lookup racing a plain write is still caught.
package tagscan
