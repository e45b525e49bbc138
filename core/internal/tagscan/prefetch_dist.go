package tagscan

// prefetchDist is how many hashes ahead the assembly MatchBatch prefetches
// buckets. BenchmarkPrefetchDist (AVX2, batches of 64 keys, 2^24-bucket
// table, medians of 5) gave, in ns per key: dist 0: 287, 2: 187, 4: 140,
// 8: 111, 12: 91, 16: 71, 24: 74, 32: 116. A memory miss costs far more
// than a scan, so the prefetch must run well ahead; too far and the
// prefetched lines are evicted before use or the fill buffers overflow.
// A variable so that the benchmark can sweep it.
var prefetchDist = 16
