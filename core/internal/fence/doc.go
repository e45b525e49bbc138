// Package fence provides the memory barrier the engine's lock-free readers
// need and sync/atomic does not offer: a load-load barrier.
//
// A reader copies an item's bytes out of a segment with plain loads and
// then re-reads the segment's generation word to learn whether the segment
// was recycled under it (a seqlock). The copy's loads must be performed
// before that re-read; otherwise the re-read could see the old generation
// while the copy saw the new contents. An atomic load only orders the loads
// *after* it (acquire), not the ones before, so the reader calls Load
// between the copy and the re-read:
//
//	g1 := gen.Load()
//	copy(dst, src)    // plain loads
//	fence.Load()
//	if gen.Load() != g1 { retry }
//
// Implementations (why each is correct is explained in its file):
//   - amd64: nothing. x86 is TSO: loads are not reordered with older loads.
//   - arm64: DMB ISHLD, the architecture's load-load/load-store barrier.
//   - purego and other architectures: an atomic read-modify-write on a
//     local variable, which Go implements with full barriers everywhere.
package fence
