//go:build !linux

package core_test

// cpuNanos is not measured here; benchmarks then report 0 CPU ns/op.
func cpuNanos() int64 { return 0 }
