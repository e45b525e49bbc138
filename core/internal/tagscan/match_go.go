package tagscan

// matchGo is the pure-Go Match: the reference loop itself, which
// benchmarked faster than the branch-free variants we tried (bit tricks
// and bool-to-int selects, 1.5-2.5x slower on random buckets).
//
// In builds with assembly, Match (a test and two possible calls) is over
// the inlining budget either way; the pure-Go build inlines it whole.
func matchGo(b0, b1 *Bucket, tag uint64) uint32 {
	return MatchRef(b0, b1, tag)
}

// touchGroup is how many keys matchBatchGo touches ahead of scanning.
const touchGroup = 8

// matchBatchGo is the pure-Go MatchBatch. Go has no prefetch instruction,
// so it does the next best thing: for a group of keys it first loads one
// word of each candidate bucket, loads whose results feed only a sum, so
// the core issues all of them at once and their cache misses overlap; then
// it scans the group, whose buckets are now (or soon) in cache. Scanning
// key by key instead serializes the misses behind the scan's data-dependent
// branches.
func matchBatchGo(table []Bucket, m uint64, hashes []uint64, masks []uint32) {
	masks = masks[:len(hashes)]
	for base := 0; base < len(hashes); base += touchGroup {
		group := hashes[base:min(base+touchGroup, len(hashes))]
		var touch uint64
		for _, h := range group {
			b0, b1, _ := Candidates(h, m)
			touch += table[b0][0] + table[b1][0]
		}
		if touch == touchNever {
			keepTouch() // uses touch, so the compiler keeps the loads
		}
		for i, h := range group {
			b0, b1, tag := Candidates(h, m)
			masks[base+i] = matchGo(&table[b0], &table[b1], tag)
		}
	}
}

// touchNever is a sum the touch loads are most unlikely to produce; the
// branch on it is predicted not taken, so it does not wait for the loads.
const touchNever = 0x9E3779B97F4A7C15

//go:noinline
func keepTouch() {}

// classifyGo is the pure-Go Classify: three compares per slot turned into
// mask bits without a branch (the slots of a table under eviction mix live
// entries and ghosts at random, and a branch per kind mispredicts).
func classifyGo(b0, b1 *Bucket, tag uint64) uint64 {
	var own, ghost, empty uint64
	for i := range 8 {
		for j, s := range [2]uint64{b0[i], b1[i]} {
			at := uint(i + 8*j)
			g := bit(s&GhostLoc == GhostLoc)
			ghost |= g << at
			own |= (g & bit(s>>52 == tag)) << at
			empty |= bit(s == 0) << at
		}
	}
	return own | ghost<<16 | empty<<32
}

// bit is 1 for true: the compiler sets it from the flags, no branch.
func bit(b bool) uint64 {
	var x uint64
	if b {
		x = 1
	}
	return x
}
