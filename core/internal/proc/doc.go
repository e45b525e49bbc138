// Package proc tells which scheduler slot (P) the calling goroutine runs
// on, so that per-CPU state (write lanes, stat shards) can be picked
// without a shared counter: two goroutines running at the same time are on
// different Ps.
//
// It uses runtime.procPin through linkname. The runtime keeps that symbol
// for outside users ("do not remove or change the type signature"); the
// pin of ID is released at once, so its answer is a hint: the goroutine
// may move right after, which costs only a little sharing, never
// correctness. Pin holds the pin until Unpin: until then nothing else runs
// on that P, which makes per-P state exclusively the caller's.
package proc
