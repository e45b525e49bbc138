package main

import (
	"syscall"
	"unsafe"
)

// threadCPUAvailable reports whether threadCPU measures anything.
const threadCPUAvailable = true

// threadCPU returns the CPU time the calling thread has used, in ns. The
// caller locks its goroutine to the thread. Unlike the wall clock, it does
// not count the time the thread waits for a core, which on a loaded
// machine is most of a set's tail latency.
func threadCPU() int64 {
	const clockThreadCPUTimeID = 3
	var ts syscall.Timespec
	syscall.RawSyscall(syscall.SYS_CLOCK_GETTIME, clockThreadCPUTimeID, uintptr(unsafe.Pointer(&ts)), 0)
	return ts.Nano()
}
