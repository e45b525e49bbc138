package tagscan

// matchGo is the pure-Go Match used when no assembly kernel is available.
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
