// Package harness is the common ground of the side-by-side benchmarks: one
// adapter per cache (segcache's core and its Go peers) behind the Cache
// interface, the §1 workload (pre-generated 16-byte keys, a YCSB Zipf 0.99
// key sequence) and the §3 trace replay (cache-aside over the real traces).
//
// Every system is driven through the same interface with the same keys so
// that the figures differ only by the cache. The contract is core's: Get
// appends the value to a caller-owned buffer, Set stores a copy of the
// value. Peers whose API returns an internal slice are charged the copy;
// heap caches copy the value on Set because the caller owns it.
//
// Keys handed to an adapter are immutable for the life of the run (they are
// pre-generated). String-keyed caches (otter, the map) still store a copy
// of each key when the Spec says OwnKeys, as FitSpec's do: a cache that kept
// the harness's key would answer every lookup with that same key by pointer
// identity, never reading its stored key as a real lookup must (see
// Spec.OwnKeys). Replays leave it off: it changes no miss ratio.
package harness
