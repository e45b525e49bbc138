// Command synthtrace writes stand-ins for the real traces (orm-busy,
// web12) in their format: a gzip of big-endian uint32 key ids, keys drawn
// Zipf(s) from a fixed seed, so every run writes the same bytes. make test's
// smoke run of the harness uses them when the real traces are not beside
// the repository (a fresh clone), so that the harness is still exercised
// end to end; its miss ratios mean nothing. make bench needs the real ones.
//
//	synthtrace -out DIR [-requests N] [-keys K]
package main

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"flag"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
)

func main() {
	out := flag.String("out", "", "directory to write orm-busy.u32be.gz and web12.u32be.gz into")
	requests := flag.Int("requests", 50000, "requests per trace")
	keys := flag.Uint64("keys", 5000, "distinct key ids to draw from")
	flag.Parse()
	if *out == "" || *requests <= 0 || *keys < 2 {
		fmt.Fprintln(os.Stderr, "usage: synthtrace -out DIR [-requests N>0] [-keys K>1]")
		os.Exit(2)
	}
	for i, name := range []string{"orm-busy", "web12"} {
		if err := write(filepath.Join(*out, name+".u32be.gz"), int64(i+1), *requests, *keys); err != nil {
			fmt.Fprintln(os.Stderr, "synthtrace:", err)
			os.Exit(1)
		}
	}
}

func write(path string, seed int64, requests int, keys uint64) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	zw := gzip.NewWriter(f)
	bw := bufio.NewWriter(zw)
	z := rand.NewZipf(rand.New(rand.NewSource(seed)), 1.1, 1, keys-1)
	var b [4]byte
	for i := 0; i < requests; i++ {
		binary.BigEndian.PutUint32(b[:], uint32(z.Uint64()))
		bw.Write(b[:]) // errors surface at Flush
	}
	if err := bw.Flush(); err != nil {
		f.Close()
		return err
	}
	if err := zw.Close(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
