package arena

import "os"

// Prefault writes one byte of every page of m, which must be a fresh
// mapping (its bytes are zero and nothing reads it yet), so that the
// kernel backs all of it with memory now instead of at the first write of
// each page later. A page's first write is a page fault that allocates and
// zeroes it (2 MiB at once with a transparent huge page): on the shared
// virtual machine the benchmarks run on, a new cache's first 150,000
// overwrites spent 32 ms of system time in them. Paid at Open, it is off
// every later operation's path, at the price of the whole mapping being
// resident from the start.
func Prefault(m []byte) {
	step := os.Getpagesize()
	for i := 0; i < len(m); i += step {
		m[i] = 0
	}
}
