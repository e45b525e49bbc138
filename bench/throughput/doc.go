// Package throughput holds the throughput benchmarks (§1 of bench/results.md): get (hit),
// get (miss), set (overwrite) and the 90/10 and 50/50 get/set mixes over
// 1,000,000 16-byte keys with 64-byte values, keys chosen Zipf(0.99), for
// core and every peer through the same harness, in one test binary so the
// systems are measured side by side. Run with -cpu 1,2 -count 5; the
// report command turns the output into medians and ratios.
//
// Flags (after -args or directly): -keys N (default 1,000,000), -systems
// a,b (default all), -hashfill f (core's hashtable fill target).
package throughput
