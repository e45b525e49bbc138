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

// matchBatchGo is the pure-Go MatchBatch. Go has no prefetch instruction;
// the out-of-order core overlaps the independent bucket loads of
// consecutive keys by itself.
func matchBatchGo(table []Bucket, m uint64, hashes []uint64, masks []uint32) {
	masks = masks[:len(hashes)]
	for i, h := range hashes {
		b0, b1, tag := Candidates(h, m)
		masks[i] = matchGo(&table[b0], &table[b1], tag)
	}
}
