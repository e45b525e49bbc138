// Package linearizability checks that the engine's operations, run from
// many goroutines at once, are linearizable: that every history they
// produce can be explained by the operations taking effect one at a time,
// each at some instant between its call and its return, on a simple model
// of a key-value map (checked by porcupine, a linearizability checker).
//
// The model knows values, not CAS tokens: every write of a plain key stores
// a value never stored before, so a token stands for the value it was read
// (or written) with, and a compare-and-set or a conditional delete with it
// must succeed exactly when the key still holds that value. Counters,
// whose values repeat, get no tokens.
//
// With a cache too small for what is written, a key may lose its item at
// any moment (eviction): the model then allows, before each operation,
// that the key became absent, and nothing else.
//
// It is a module of its own so that the engine's go.mod keeps its short
// list of dependencies.
package linearizability
