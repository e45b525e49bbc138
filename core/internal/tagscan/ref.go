package tagscan

// MatchRef is the reference for Match: a direct transcription of its
// specification, kept simple so that every kernel can be tested against it.
func MatchRef(b0, b1 *Bucket, tag uint64) uint32 {
	var mask uint32
	for i := 0; i < 8; i++ {
		if b0[i]>>52 == tag && b0[i]&GhostLoc != GhostLoc {
			mask |= 1 << i
		}
		if b1[i]>>52 == tag && b1[i]&GhostLoc != GhostLoc {
			mask |= 1 << (8 + i)
		}
	}
	return mask
}

// MatchBatchRef is the reference for MatchBatch.
func MatchBatchRef(table []Bucket, m uint64, hashes []uint64, masks []uint32) {
	for i, h := range hashes {
		b0, b1, tag := Candidates(h, m)
		masks[i] = MatchRef(&table[b0], &table[b1], tag)
	}
}

// ClassifyRef is the reference for Classify.
func ClassifyRef(b0, b1 *Bucket, tag uint64) uint64 {
	var own, ghost, empty uint64
	for i := 0; i < 16; i++ {
		s := b0[i%8]
		if i >= 8 {
			s = b1[i-8]
		}
		switch {
		case s == 0:
			empty |= 1 << i
		case s&GhostLoc == GhostLoc:
			ghost |= 1 << i
			if s>>52 == tag {
				own |= 1 << i
			}
		}
	}
	return own | ghost<<16 | empty<<32
}
