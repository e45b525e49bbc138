// Package throughput holds the in-process speed benchmarks of `make bench`,
// in one test binary so that the systems are measured side by side (§N are
// the sections of bench/results.md):
//
//   - BenchmarkThroughput (§1): get (hit), get (miss), set (overwrite) and
//     the 90/10 and 50/50 get/set mixes over 1,000,000 16-byte keys with
//     64-byte values, keys chosen Zipf(0.99), for core and every peer
//     through the same harness. Run with -cpu 1,2 -count 5.
//   - BenchmarkPhysical (§1c): the physical limit of a get, two dependent
//     random loads into a table as large as core's memory, with and without
//     huge pages, and prefetched in batches, beside core's Get and GetBatch
//     of uniformly chosen keys. Run with -cpu 1.
//   - BenchmarkScaling (§5): get, set and the 90/10 mix of core, fastcache
//     and the map at any -cpu (1,2,4,8,16 on a machine with the cores),
//     with the hot keys side by side in memory and spread over it.
//
// The report command (bench/cmd/report) turns the output into medians and
// ratios.
//
// Flags (after -args or directly): -keys N (default 1,000,000), -systems
// a,b (BenchmarkThroughput; default all), -scaling-systems a,b, -hashfill f
// (core's hashtable fill target), -policy name (core's eviction policy),
// -prefault (core's Options.Prefault; §1b sets it and -policy merge, so that
// core runs as the Rust crate does: merge eviction, a heap made resident
// before the timed runs).
package throughput
