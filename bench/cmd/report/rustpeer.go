package main

import (
	"fmt"
	"math"
	"os"
	"slices"
)

// rustPeerSystem is the Rust crate's name in the benchmark lines.
const rustPeerSystem = "segcache-rs"

// rustPeerRuns are the Rust crate's cells in path (nil if unreadable).
func rustPeerRuns(path string) map[benchKey]*benchRuns {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	res, _, err := parseBench(f)
	if err != nil {
		return nil
	}
	out := map[benchKey]*benchRuns{}
	for k, r := range res {
		if k.System == rustPeerSystem {
			out[k] = r
		}
	}
	return out
}

// rustPeer writes §1b: core beside the published Rust segcache crate (the
// engine core re-implements), from rounds that alternate the two on the
// same key stream and configuration, so that drift of a shared machine hits
// both alike.
func rustPeer(w func(string, ...any), path string, behind *[]string) error {
	w("## 1b. The seed's engine: the Rust `segcache` crate (ns/op, median of the runs)\n\n")
	res, keys, err := readThroughput(w, path)
	if err != nil {
		return err
	}
	w("The crates.io `segcache` crate (bench/rust-peer, its default features) driven with the §1 workload read from a\n")
	w("key stream file that Go writes (bench/cmd/keystream): the same %d keys, miss keys, Zipf 0.99 sequence and\n", keys)
	w("64-byte value, the same heap and segment size, a hash power one more than core's (the crate's table of 2^N slots\n")
	w("holds at most 7 × 2^(N−3) items, one slot per bucket of 8 being metadata: 917,504 at core's 20, fewer than the\n")
	w("keys; at 21, 16 MiB against core's 8, it holds them all), the same configuration: merge eviction (8 per pass,\n")
	w("4 into 1) in both (core runs with -policy merge; §1 runs its default, S3-FIFO), and a heap made resident before\n")
	w("the timed runs in both (the crate maps it populated; core runs with -prefault, its Options.Prefault). Rounds\n")
	w("alternate a core-only run of bench/throughput and a run of the Rust program; a get copies the value into a\n")
	w("caller buffer in both. Each run is one pass per operation on one cache, so a set there includes what the\n")
	w("first overwrites after a fill cost (§1's median of 5 passes on one cache does not). Target: core ≤ 0.6 × the\n")
	w("crate in every operation.\n\n")
	w("| operation | threads | core | segcache (Rust) | core ÷ Rust | Rust hit%% | Rust failed sets |\n|---|---|---|---|---|---|---|\n")
	for _, op := range ops {
		for _, cpu := range []int{1, 2} {
			c, r := res[benchKey{"core", op, cpu}], res[benchKey{rustPeerSystem, op, cpu}]
			if c == nil && r == nil {
				continue
			}
			cm, rm := math.NaN(), math.NaN()
			if c != nil {
				cm = median(c.NsOp)
			}
			hit, failed := "—", "0"
			if r != nil {
				rm = median(r.NsOp)
				if len(r.HitPct) > 0 {
					hit = ns(median(r.HitPct))
				}
				if len(r.FailedSets) > 0 {
					failed = fmt.Sprintf("up to %.0f (in %d of %d runs)", slices.Max(r.FailedSets), len(r.FailedSets), len(r.NsOp))
				}
			}
			w("| %s | %d | %s | %s | **%s** | %s | %s |\n", opTitle[op], cpu, ns(cm), ns(rm), ratio(cm/rm), hit, failed)
			if !(cm <= 0.6*rm) {
				*behind = append(*behind, fmt.Sprintf("vs the Rust segcache crate, %s, %d thread(s): core %s ns vs %s ns (ratio %s, target 0.6)", opTitle[op], cpu, ns(cm), ns(rm), ratio(cm/rm)))
			}
		}
	}
	w("\nFailed sets: inserts the crate refused (its hashtable bucket full, or no segment freed in time); they are\n")
	w("counted in its ns/op like any other set. A run that failed none shows 0.\n\n")
	return nil
}
