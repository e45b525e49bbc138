//go:build race

package server

// raceEnabled shrinks the races the token tests run under the race
// detector, which slows every round trip by an order of magnitude; the
// full counts run without it.
const raceEnabled = true
