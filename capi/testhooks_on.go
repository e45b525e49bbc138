//go:build segcache_testhooks

package main

// testHooks is true only in the library built with -tags
// segcache_testhooks for tests/c/test_recover.c: a call with the key
// panicKey, or segcache_open with heap_bytes panicHeapBytes, panics inside
// the export, to prove that every export recovers and returns
// SEGCACHE_EINTERNAL and that the library keeps working afterwards.
const testHooks = true
