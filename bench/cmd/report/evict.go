package main

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// eviction writes §6: ns per set under steady eviction by segment count for
// every policy, the largest ÷ the smallest count, the tail latency at the
// largest, and Expire() with one expired segment (bench/cmd/evict).
func eviction(w func(string, ...any), path, expirePath string, behind *[]string) error {
	w("## 6. Eviction and expiry cost by number of segments\n\n")
	rows, err := readTSV(w, path)
	if err != nil {
		return err
	}
	var segs []int
	var pols []string
	cell := map[string]map[int]map[string]string{}
	for _, r := range rows {
		n, err := strconv.Atoi(r["segments"])
		if err != nil {
			return fmt.Errorf("%s: segments %q", path, r["segments"])
		}
		if !slices.Contains(segs, n) {
			segs = append(segs, n)
		}
		if cell[r["policy"]] == nil {
			cell[r["policy"]] = map[int]map[string]string{}
			pols = append(pols, r["policy"])
		}
		cell[r["policy"]][n] = r
	}
	slices.Sort(segs)
	lo, hi := segs[0], segs[len(segs)-1]
	w("4 KiB segments; unique 16-byte keys with 64-byte values: 2 × the cache's capacity in items, then a timed window\n")
	w("of its capacity again or 1,000,000 sets, whichever is more (ns per set, median of the runs; key generation\n")
	w("included). `none` never evicts: once full it refuses sets, so its figure is the cost of a refused set. A cell\n")
	w("marked * was cut by the per-run time budget: its window is the second half of the sets done after the heap\n")
	w("filled (the note in bench-evict.tsv says how many runs). p99.9 and max: one more run at %s segments timing\n", comma(hi))
	w("each set of the window alone. The runs of a policy are interleaved (round r runs every segment count once,\n")
	w("smallest first), and the ratio is the median over the rounds of each round's own ratio: runs seconds apart,\n")
	w("not minutes, so that the drift of a shared machine's speed cancels out of it. The cells are each count's median.\n")
	w("CPU: the same ratio by the process's CPU time per set over the same windows\n")
	w("(every thread, GC included). Where the two agree, the spread between runs is the speed of the CPU the\n")
	w("machine gives the process (shared caches, memory bandwidth), not time spent waiting for a core.\n")
	w("Targets: %s ÷ %s segments ≤ 1.5 for every policy; p99.9 of a set under eviction ≤ 20 µs.\n\n", comma(hi), comma(lo))
	w("| policy |")
	for _, n := range segs {
		w(" %s |", comma(n))
	}
	w(" %s ÷ %s | %s ÷ %s, CPU | p99 at %s (µs) | p99.9 at %s (µs) | max at %s (µs) |\n|---|%s---|---|---|---|---|\n",
		comma(hi), comma(lo), comma(hi), comma(lo), comma(hi), comma(hi), comma(hi), strings.Repeat("---|", len(segs)))
	val := func(r map[string]string, k string) float64 {
		if r == nil {
			return math.NaN()
		}
		v, err := strconv.ParseFloat(r[k], 64)
		if err != nil {
			return math.NaN()
		}
		return v
	}
	us := func(v float64) string {
		if math.IsNaN(v) {
			return "—"
		}
		return strconv.FormatFloat(v/1000, 'f', 1, 64)
	}
	for _, p := range pols {
		w("| %s |", p)
		for _, n := range segs {
			r := cell[p][n]
			mark := ""
			if r != nil && r["truncated_runs"] != "0" {
				mark = "*"
			}
			w(" %s%s |", ns(val(r, "ns_per_set")), mark)
		}
		top := cell[p][hi]
		// The paired ratio (median of each round's own ratio) where the
		// TSV has it; the ratio of the medians for one written before.
		rat := val(top, "ratio_to_smallest")
		if math.IsNaN(rat) {
			rat = val(top, "ns_per_set") / val(cell[p][lo], "ns_per_set")
		}
		cpuRat := val(top, "cpu_ratio_to_smallest")
		if math.IsNaN(cpuRat) {
			cpuRat = val(top, "cpu_ns_per_set") / val(cell[p][lo], "cpu_ns_per_set")
		}
		cpuCell := "—"
		if !math.IsNaN(cpuRat) {
			cpuCell = ratio(cpuRat)
		}
		p999 := val(top, "p999_ns")
		w(" **%s** | %s | %s | %s | %s |\n", ratio(rat), cpuCell, us(val(top, "p99_ns")), us(p999), us(val(top, "max_ns")))
		if !(rat <= 1.5) {
			*behind = append(*behind, fmt.Sprintf("eviction, %s: ns per set at %s segments is %s × that at %s (CPU time: %s; target 1.5)", p, comma(hi), ratio(rat), comma(lo), cpuCell))
		}
		if !(p999 <= 20000) && p != "none" {
			*behind = append(*behind, fmt.Sprintf("eviction, %s: p99.9 of a set at %s segments %s µs (target 20)", p, comma(hi), us(p999)))
		}
	}
	w("\n")
	erows, err := readTSV(w, expirePath)
	if err != nil {
		return err
	}
	w("`Expire()` with exactly one expired segment (checked through Stats) among a cache 90%% full of items that\n")
	w("never expire, and a second call with nothing left to expire (median of the rounds, µs). Target: the cost at\n")
	w("%s segments ≤ 10 × the cost at %s.\n\n| segments | rounds | Expire, 1 expired segment | Expire, none expired | note |\n|---|---|---|---|---|\n", comma(hi), comma(lo))
	var one []float64
	for _, r := range erows {
		n, _ := strconv.Atoi(r["segments"])
		w("| %s | %s | %s | %s | %s |\n", comma(n), r["rounds"], us(val(r, "expire_one_ns")), us(val(r, "expire_none_ns")), r["note"])
		one = append(one, val(r, "expire_one_ns"))
	}
	if len(one) == 2 {
		rat := one[1] / one[0]
		w("\nExpire with one expired segment, %s ÷ %s segments: **%s**.\n\n", comma(hi), comma(lo), ratio(rat))
		if !(rat <= 10) {
			*behind = append(*behind, fmt.Sprintf("expiry: Expire() with 1 expired segment at %s segments is %s × the cost at %s (target 10)", comma(hi), ratio(rat), comma(lo)))
		}
	}
	return nil
}

// comma writes n with thousands separators (65,536).
func comma(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
