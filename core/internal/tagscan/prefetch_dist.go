package tagscan

// prefetchDist is how many hashes ahead the assembly MatchBatch prefetches
// buckets. Chosen by BenchmarkPrefetchDist on a table much larger than the
// cache (see the report in bench_test.go); a variable so that the benchmark
// can sweep it.
var prefetchDist = 8
