package tagscan

import "fmt"

// GhostLoc is the location of a ghost entry: a slot that keeps a key's tag
// and frequency after the item itself was evicted. A ghost never matches.
const GhostLoc = 1<<44 - 1

// Bucket is one hashtable bucket: 8 slots in 64 bytes (one cache line when
// the table is 64-byte aligned, as the engine's mmap'd table is).
//
// The slot layout belongs to package hashtable; the kernels rely on two
// facts of it: the tag is the top 12 bits (never 0 in a used slot; an
// empty slot is 0), and a ghost's low 44 bits (its location) are all ones.
type Bucket [8]uint64

// Candidates derives a key's two candidate buckets and its tag from its
// 64-bit hash h and the bucket mask m (number of buckets - 1, a power of
// two >= 2 buckets, at most 2^26 buckets).
//
// The tag comes from the top 12 bits, which neither bucket index uses
// while the table has at most 2^26 buckets, so keys sharing a bucket still
// differ in tag as often as chance allows. Tag 0 is reserved for empty
// slots, so it is mapped to 1. The second bucket comes from the next 26 bits;
// if it falls on the first one it is moved to the neighbour, so a key always
// has two distinct buckets.
func Candidates(h, m uint64) (b0, b1, tag uint64) {
	tag = h >> 52
	if tag == 0 {
		tag = 1
	}
	b0 = h & m
	b1 = (h >> 26) & m
	if b1 == b0 {
		b1 = b0 ^ 1
	}
	return b0, b1, tag
}

// Match returns the mask of live slots of b0 and b1 whose tag is tag: bit i
// (0..7) is set iff b0[i]>>52 == tag and b0[i]&GhostLoc != GhostLoc; bits
// 8..15 likewise for b1. It reads each slot once, without atomics: the
// caller re-reads a matching slot atomically before it trusts it.
func Match(b0, b1 *Bucket, tag uint64) uint32 {
	if useAsm {
		if raceEnabled {
			raceReadBucket(b0)
			raceReadBucket(b1)
		}
		return matchAsm(b0, b1, tag)
	}
	return matchGo(b0, b1, tag)
}

// Classify sorts the 16 slots of b0 (bits 0..7) and b1 (bits 8..15) for an
// insert looking for room, in three masks packed in one word: bits 0..15
// mark the slots holding a ghost of tag (slot>>52 == tag and its location
// is GhostLoc), bits 16..31 every ghost, bits 32..47 the empty slots (0).
// Like Match it reads each slot once, without atomics: the caller re-reads
// the slot it picks atomically before it trusts it.
func Classify(b0, b1 *Bucket, tag uint64) uint64 {
	if useAsm {
		if raceEnabled {
			raceReadBucket(b0)
			raceReadBucket(b1)
		}
		return classifyAsm(b0, b1, tag)
	}
	return classifyGo(b0, b1, tag)
}

// MatchBatch computes, for each i, masks[i] = Match of the candidate
// buckets of hashes[i] (see Candidates) in table for the bucket mask m.
// The assembly versions prefetch the buckets of a later hash while they
// scan the current one.
//
// It panics if len(masks) < len(hashes) or if table is too short for m
// (len(table) must exceed m|1; the engine passes len(table) == m+1).
func MatchBatch(table []Bucket, m uint64, hashes []uint64, masks []uint32) {
	checkBatch(table, m, hashes, masks)
	if useAsm {
		if raceEnabled {
			raceBatch(table, m, hashes, masks)
		}
		if len(hashes) > 0 {
			matchBatchAsm(&table[0], m, &hashes[0], &masks[0], len(hashes))
		}
		return
	}
	matchBatchGo(table, m, hashes, masks)
}

// checkBatch enforces the bounds the assembly relies on: every bucket index
// Candidates can return for m is at most m|1.
func checkBatch(table []Bucket, m uint64, hashes []uint64, masks []uint32) {
	if len(masks) < len(hashes) {
		panic(fmt.Sprintf("tagscan: MatchBatch: %d masks for %d hashes", len(masks), len(hashes)))
	}
	if uint64(len(table)) <= m|1 {
		panic(fmt.Sprintf("tagscan: MatchBatch: table of %d buckets for mask %#x", len(table), m))
	}
}
