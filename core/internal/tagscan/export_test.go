package tagscan

// SetPrefetchDist sets the prefetch distance of the assembly MatchBatch,
// for tests and benchmarks, and returns a function that restores it.
func SetPrefetchDist(d int) (restore func()) {
	prev := prefetchDist
	prefetchDist = d
	return func() { prefetchDist = prev }
}
