//go:build purego || !(amd64 || arm64)

package tagscan

import "unsafe"

// No assembly in this build: the pure-Go path is the only one, and the
// compiler drops the assembly branches of Match, MatchBatch and Classify.
const (
	useAsm       = false
	asmAvailable = false
	asmImpl      = Go
)

func setAsm(on bool) {
	if on {
		panic("tagscan: no assembly in this build")
	}
}

func matchAsm(b0, b1 *Bucket, tag uint64) uint32 { panic("unreachable") }

func classifyAsm(b0, b1 *Bucket, tag uint64) uint64 { panic("unreachable") }

func matchBatchAsm(table *Bucket, m uint64, hashes *uint64, masks *uint32, n int) {
	panic("unreachable")
}

// Prefetch asks the CPU to bring the cache line at p into all cache levels.
// Pure Go has no prefetch instruction, so here it does nothing.
func Prefetch(p unsafe.Pointer) {}
