package main

// Fault injection for tests; see testhooks_on.go. These values are inert
// unless testHooks is true.
const (
	panicKey       = "segcache-test-panic"
	panicHeapBytes = 0xDEAD0000
)
