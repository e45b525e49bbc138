// Package ttl maps item TTLs to TTL buckets and decides how long a bucket's
// open segment may accept writes.
//
// Items share a segment with items of a similar TTL and expire with it, so
// an item's real lifetime is its segment's. The contract kept here is
// stricter than the published engine's: an item set with TTL t is never
// served after t, and is served for at least 0.9·t − 1 s. Buckets are
// therefore narrow (width at most 1/32 of their lower bound: 32 buckets per
// power of two of milliseconds), a segment expires at its creation time plus
// its bucket's lower bound, and it stops accepting writes (is sealed) once
// it is too old for a late item to meet the 0.9·t − 1 s promise.
//
// The published engine's 1024 buckets of widths 8 s, 128 s, 2048 s and
// 32768 s truncate TTLs of 1–7 s to 1 s and make items dead on arrival
// when a bucket's open segment is old; these tests are in ttl_test.go.
package ttl
