//go:build !segcache_testhooks

package main

// testHooks is false in the library we ship: the fault-injection branches
// guarded by it compile to nothing.
const testHooks = false
