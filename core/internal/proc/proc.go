package proc

import _ "unsafe" // for go:linkname

//go:linkname procPin runtime.procPin
func procPin() int

//go:linkname procUnpin runtime.procUnpin
func procUnpin()

// ID returns the index of the P the caller is running on (0 to
// GOMAXPROCS-1).
func ID() int {
	p := procPin()
	procUnpin()
	return p
}

// Pin returns the index of the caller's P and keeps the goroutine on it,
// not preemptible, until Unpin: until then no other goroutine runs on that
// P, so state owned by the P is the caller's alone. Keep the pinned
// section short, and never block or allocate in it.
func Pin() int { return procPin() }

// Unpin ends Pin.
func Unpin() { procUnpin() }
