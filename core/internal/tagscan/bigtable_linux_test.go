//go:build linux

package tagscan_test

import (
	"syscall"
	"unsafe"

	"github.com/segcache/segcache/core/internal/tagscan"
)

// bigTable maps n buckets outside the Go heap and asks for transparent huge
// pages, as the engine does for its hashtable. The mapping lives for the
// rest of the benchmark process.
func bigTable(n int) []tagscan.Bucket {
	size := n * int(unsafe.Sizeof(tagscan.Bucket{}))
	mem, err := syscall.Mmap(-1, 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		panic(err)
	}
	_ = syscall.Madvise(mem, 14) // MADV_HUGEPAGE; only a hint
	return unsafe.Slice((*tagscan.Bucket)(unsafe.Pointer(&mem[0])), n)
}
