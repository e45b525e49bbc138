// Package arena maps memory outside the Go heap for segments and the
// hashtable, so the garbage collector neither scans nor paces on it, and asks
// the kernel for transparent huge pages on it.
//
// A mapping is never unmapped: a reader that raced with Close may still be
// copying from it, and a fault on an unmapped page would kill the process,
// which no recover() can stop. Release returns the pages to the kernel
// (reads then see zeros, which every reader validates away) and keeps the
// address range for reuse by a later mapping of the same size.
package arena
