//go:build arm64 && !purego

package fence

// Load orders every load before it before every load (and store) after it.
//
// On arm64 it is DMB ISHLD (fence_arm64.s). The architecture may perform
// loads out of program order, and the generation re-read that follows the
// copy is an acquire load (LDAR), which only keeps *later* accesses after
// it, not the copy's earlier loads; DMB ISHLD closes that gap. Being an
// assembly call, it is also a compiler barrier.
func Load()
