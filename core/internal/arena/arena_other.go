//go:build !unix

package arena

import "fmt"

// Map returns n bytes of zeroed memory. Without mmap (Windows, wasm) it
// comes from the Go heap: a pointer-free slice, which the collector never
// scans but does count when it paces itself, so a large cache there makes
// collections rarer, not slower.
func Map(n int) ([]byte, error) {
	if n <= 0 {
		return nil, fmt.Errorf("arena: bad size %d", n)
	}
	return make([]byte, n), nil
}

// Unmap lets go of m. Heap memory is freed by the collector once no reader
// holds it, so an access after Unmap is harmless here (unlike with mmap).
func Unmap(m []byte) error { return nil }

// Release keeps m: the heap cannot give part of an object back. The
// memory stays readable, which is all lock-free readers need.
func Release(m []byte) error { return nil }
