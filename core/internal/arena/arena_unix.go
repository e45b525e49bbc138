//go:build unix

package arena

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Map returns n bytes of zeroed, page-aligned memory outside the Go heap.
func Map(n int) ([]byte, error) {
	if n <= 0 {
		return nil, fmt.Errorf("arena: bad size %d", n)
	}
	m, err := unix.Mmap(-1, 0, n, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANON)
	if err != nil {
		return nil, fmt.Errorf("arena: mmap %d bytes: %w", n, err)
	}
	adviseHugePages(m)
	return m, nil
}

// Unmap gives m's pages and address range back to the kernel. The caller
// must know that nothing will touch m again: an access after Unmap faults
// and kills the process (or, once the range is mapped again, reads or
// corrupts someone else's memory).
func Unmap(m []byte) error {
	if len(m) == 0 {
		return nil
	}
	if err := unix.Munmap(m); err != nil {
		return fmt.Errorf("arena: munmap %d bytes: %w", len(m), err)
	}
	return nil
}

// Release gives the whole pages inside m back to the kernel but keeps the
// range mapped: a later read does not fault (Linux gives zeros; other
// systems may give the old bytes until they reclaim the pages), so
// lock-free readers that still hold a stale location into m stay safe
// (they validate what they read). The partial pages at m's ends are kept:
// they may belong to neighbours.
func Release(m []byte) error {
	page := uintptr(unix.Getpagesize())
	start := uintptr(unsafe.Pointer(unsafe.SliceData(m)))
	lo := (start + page - 1) &^ (page - 1)
	hi := (start + uintptr(len(m))) &^ (page - 1)
	if len(m) == 0 || hi <= lo {
		return nil
	}
	whole := m[lo-start : hi-start]
	if err := unix.Madvise(whole, unix.MADV_DONTNEED); err != nil {
		return fmt.Errorf("arena: madvise(DONTNEED) %d bytes: %w", len(whole), err)
	}
	return nil
}
