// Package pcount keeps counters that every operation adds to and that are
// read rarely (hits, misses, sets, deletes): one shard per scheduler slot
// (P), written with a plain load, add and store by the goroutine pinned to
// that P, and summed with atomic loads.
//
// Why not an atomic add: a locked read-modify-write is a full fence on
// x86. It waits for the operation's own memory misses, and the next
// operation's loads wait for it, so operations one after another overlap
// their misses less. On a Zipf get benchmark over a million keys, three
// alternating runs of each build: a hit took 229-251 ns with plain adds
// against 246-282 with atomic ones, a miss 75-77 against 79-103.
//
// Under the race detector, and on platforms whose words are narrower than
// a counter, adds are atomic: the detector would otherwise report the
// plain add racing with Sum, and a narrow platform could tear it.
package pcount
