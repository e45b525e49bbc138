//go:build !amd64 && !arm64

package throughput

import "unsafe"

// prefetch does nothing where no prefetch instruction is wired up: the
// prefetched reference then measures plain batched loads.
func prefetch(p unsafe.Pointer) {}
