package main

import (
	"fmt"
	"math"
	"slices"
	"strconv"
)

// physical writes §1c: core's get against the physical limit of a get,
// two dependent random loads into a table as large as core's memory
// (BenchmarkPhysical in bench/throughput).
func physical(w func(string, ...any), path string, behind *[]string) error {
	w("## 1c. Physical limit: core's get against two dependent random loads (ns per key, median of the runs)\n\n")
	b, err := readNamed(w, path)
	if err != nil {
		return err
	}
	res, conf := b.cells, b.conf
	med := func(name string) (float64, string) {
		r := res[namedKey{"Physical/" + name, 1}]
		if r == nil {
			return math.NaN(), "—"
		}
		huge := "—"
		if h := r.Other["huge%"]; len(h) > 0 {
			huge = ns(median(h)) + "%"
			if median(h) < 0 { // the benchmark could not read /proc/self/smaps
				huge = "unknown"
			}
		}
		return median(r.NsOp), huge
	}
	tableMiB := "?"
	if b, err := strconv.ParseFloat(conf["physical-table-bytes"], 64); err == nil {
		tableMiB = fmt.Sprintf("%.0f MiB", b/(1<<20))
	}
	w("The reference reads a %s table (core's heap + hashtable in §1) at uniformly random 64-byte lines: per key a\n", tableMiB)
	w("first load whose content gives the line of a second load (a slot, then its item), each key waiting for the one\n")
	w("before, so nothing overlaps; then the same keys in batches of 16 issued as a batch lookup does (prefetch the\n")
	w("16 first lines, read them and prefetch the 16 second lines, read those). `thp` maps it with MADV_HUGEPAGE, `nothp`\n")
	w("with MADV_NOHUGEPAGE (huge pages = the share of the table the kernel backed with them). core's arena asks for\n")
	w("huge pages, so its ratios use the `thp` reference. core reads present keys chosen uniformly from the §1 cache\n")
	w("(cold: the working set is the whole cache); GetBatch is per key at batches of 16. One goroutine.\n\n")
	w("| case | ns per key | huge pages |\n|---|---|---|\n")
	for _, c := range []struct{ name, title string }{
		{"ref-2loads/thp", "reference, 2 dependent loads, huge pages"},
		{"ref-2loads/nothp", "reference, 2 dependent loads, no huge pages"},
		{"ref-2loads-prefetch16/thp", "reference, batches of 16 with prefetch, huge pages"},
		{"ref-2loads-prefetch16/nothp", "reference, batches of 16 with prefetch, no huge pages"},
		{"core/get-uniform", "core Get, uniform keys, cold"},
		{"core/getbatch16-uniform", "core GetBatch(16), uniform keys, cold, per key"},
	} {
		v, huge := med(c.name)
		if c.name[:4] == "core" {
			huge = "(core's arena)"
		}
		w("| %s | %s | %s |\n", c.title, ns(v), huge)
	}
	get, _ := med("core/get-uniform")
	batch, _ := med("core/getbatch16-uniform")
	refT, _ := med("ref-2loads/thp")
	refN, _ := med("ref-2loads/nothp")
	preT, _ := med("ref-2loads-prefetch16/thp")
	preN, _ := med("ref-2loads-prefetch16/nothp")
	w("\n| ratio | huge pages | no huge pages | target |\n|---|---|---|---|\n")
	w("| core Get ÷ 2 dependent loads | **%s** | %s | ≤ 1.3 |\n", ratio(get/refT), ratio(get/refN))
	w("| core GetBatch per key ÷ the prefetched batch reference | **%s** | %s | — |\n\n", ratio(batch/preT), ratio(batch/preN))
	if !(get <= 1.3*refT) {
		*behind = append(*behind, fmt.Sprintf("physical limit: core Get (uniform, cold) %s ns is %s × two dependent loads (%s ns, huge pages; target 1.3)", ns(get), ratio(get/refT), ns(refT)))
	}
	if slices.ContainsFunc([]float64{get, batch, refT, refN, preT, preN}, math.IsNaN) {
		return fmt.Errorf("%s: some cases missing", path)
	}
	return nil
}
