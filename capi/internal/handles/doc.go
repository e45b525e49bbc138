// Package handles maps opaque 64-bit handles to values for the C ABI.
//
// C code cannot hold Go pointers, so capi gives C an integer that names an
// open cache. A handle is the slot index in its low 32 bits and a random
// non-zero generation in its high 32 bits: 0 is never a handle, a forged
// handle names no slot or the wrong generation, and a handle kept after
// Close names a slot whose generation has changed (a reused slot draws a new
// generation, different from the last one). Lookups are lock-free (two
// atomic loads); Insert and Remove take a mutex. Freed slots are reused in
// FIFO order so that a stale handle meets its old slot reused as late as
// possible.
package handles
