// Package arena maps memory outside the Go heap for segments and the
// hashtable, so the garbage collector neither scans nor paces on it, and asks
// the kernel for transparent huge pages on it.
//
// Unmap returns a mapping's address range at once: no pool of retired
// mappings is kept, so caches of ever-changing sizes do not accumulate
// reserved address space. Because an access to an unmapped range kills the
// process, the owner unmaps only once it knows every reader is done (the
// cache waits for its lock-free readers to let go of the memory).
package arena
