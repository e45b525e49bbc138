// Command keystream writes the §1 throughput workload (harness.
// NewThroughputWorkload: the keys, the miss keys, the Zipf 0.99 sequence,
// the value) and core's §1 cache configuration (harness.FitSpec) to a
// file, so that a program outside Go drives exactly the same workload: the
// Rust peer in bench/rust-peer reads it.
//
//	keystream -keys 1000000 -out build/bench-keystream.bin
package main

import (
	"flag"
	"log"
	"os"

	"github.com/segcache/segcache/bench/harness"
)

func main() {
	keys := flag.Int("keys", 1_000_000, "distinct keys (the throughput benchmark's -keys)")
	fill := flag.Float64("hashfill", harness.DefaultHashFill, "core's hashtable fill target (the throughput benchmark's -hashfill)")
	out := flag.String("out", "", "file to write")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("keystream: ")
	if *out == "" || *keys <= 0 {
		log.Fatal("usage: keystream -keys N -out FILE")
	}
	f, err := os.Create(*out)
	if err != nil {
		log.Fatal(err)
	}
	w := harness.NewThroughputWorkload(*keys)
	if err := harness.WriteKeyStream(f, w, harness.FitSpec(*keys, *fill).Core); err != nil {
		log.Fatal(err)
	}
	if err := f.Close(); err != nil {
		log.Fatal(err)
	}
}
