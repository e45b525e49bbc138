//go:build race

package tagscan

import (
	"runtime"
	"unsafe"
)

// The race detector instruments Go code only. Memory read by the assembly
// kernels is reported here, so that a lookup racing an unsynchronized write
// to a bucket is caught like it would be in Go. (The engine's own table is
// mmap'd outside the Go heap, where the detector tracks nothing anyway; its
// slots are written with atomics.)
const raceEnabled = true

func raceReadBucket(b *Bucket) {
	runtime.RaceReadRange(unsafe.Pointer(b), int(unsafe.Sizeof(*b)))
}

// raceBatch reports what the assembly MatchBatch reads (the hashes and the
// two candidate buckets of each) and writes (the masks).
func raceBatch(table []Bucket, m uint64, hashes []uint64, masks []uint32) {
	if len(hashes) == 0 {
		return
	}
	runtime.RaceReadRange(unsafe.Pointer(&hashes[0]), len(hashes)*8)
	runtime.RaceWriteRange(unsafe.Pointer(&masks[0]), len(hashes)*4)
	for _, h := range hashes {
		b0, b1, _ := Candidates(h, m)
		raceReadBucket(&table[b0])
		raceReadBucket(&table[b1])
	}
}
