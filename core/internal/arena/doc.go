// Package arena maps memory outside the Go heap for segments and the
// hashtable, so the garbage collector neither scans nor paces on it, and asks
// the kernel for transparent huge pages on it.
//
// Unmap returns a mapping's address range at once: no pool of retired
// mappings is kept, so caches of ever-changing sizes do not accumulate
// reserved address space. Because an access to an unmapped range kills the
// process, the owner unmaps only once it knows every reader is done (the
// cache waits for its lock-free readers to let go of the memory).
//
// That is on Unix systems (mmap; huge pages are asked for on Linux only).
// Elsewhere (Windows) the memory is a pointer-free slice of the Go heap,
// which the collector does not scan but does pace on, and Unmap and
// Release leave it to the collector.
package arena
