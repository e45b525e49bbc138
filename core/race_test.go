//go:build race

package core_test

// raceEnabled shrinks the stress tests under the race detector, which slows
// memory accesses by an order of magnitude.
const raceEnabled = true
