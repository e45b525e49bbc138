// Package proc tells which scheduler slot (P) the calling goroutine runs
// on, so that per-CPU state (write lanes, stat shards) can be picked
// without a shared counter: two goroutines running at the same time are on
// different Ps.
//
// It uses runtime.procPin through linkname. The runtime keeps that symbol
// for outside users ("do not remove or change the type signature"); the
// pin is released at once, so the answer is a hint: the goroutine may
// move right after, which costs only a little sharing, never correctness.
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
