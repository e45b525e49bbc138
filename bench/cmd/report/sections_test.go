package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// section runs one report section on files written to a temporary
// directory and returns its Markdown and the cells it listed as behind.
func section(t *testing.T, files map[string]string, run func(w func(string, ...any), dir string, behind *[]string) error) (string, []string) {
	t.Helper()
	dir := t.TempDir()
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var b strings.Builder
	var behind []string
	if err := run(func(f string, a ...any) { fmt.Fprintf(&b, f, a...) }, dir, &behind); err != nil {
		t.Fatal(err)
	}
	return b.String(), behind
}

// fileSection runs a section that reads one file, holding text.
func fileSection(t *testing.T, text string, run func(w func(string, ...any), path string, behind *[]string) error) (string, []string) {
	t.Helper()
	return section(t, map[string]string{"in": text}, func(w func(string, ...any), dir string, b *[]string) error {
		return run(w, filepath.Join(dir, "in"), b)
	})
}

func wantBehind(t *testing.T, want, got []string) {
	t.Helper()
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("behind (-want +got):\n%s", d)
	}
}

func wantLines(t *testing.T, got string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("missing %q in:\n%s", w, got)
		}
	}
}

// §1b puts core beside the Rust crate from the alternated rounds and
// checks the 0.6 target.
func TestRustPeer(t *testing.T) {
	in := `keys: 1000
BenchmarkThroughput/core/get-hit 	 1	 100 ns/op	 100 hit%	 0 B/op	 0 allocs/op
keys: 1000
BenchmarkThroughput/segcache-rs/get-hit	1	200.0 ns/op	100.00 hit%
BenchmarkThroughput/core/get-hit 	 1	 120 ns/op	 100 hit%	 0 B/op	 0 allocs/op
BenchmarkThroughput/segcache-rs/get-hit	1	220.0 ns/op	100.00 hit%
BenchmarkThroughput/core/set-2 	 1	 300 ns/op	 0 B/op	 0 allocs/op
BenchmarkThroughput/segcache-rs/set-2	1	400.0 ns/op	7 failed-sets
BenchmarkThroughput/segcache-rs/set-2	1	410.0 ns/op
`
	got, behind := fileSection(t, in, rustPeer)
	wantLines(t, got,
		"| get (hit) | 1 | 110 | 210 | **0.52** | 100 | 0 |",
		"| set (overwrite) | 2 | 300 | 405 | **0.74** | — | up to 7 (in 1 of 2 runs) |",
		"the same 1000 keys")
	want := []string{"vs the Rust segcache crate, set (overwrite), 2 thread(s): core 300 ns vs 405 ns (ratio 0.74, target 0.6)"}
	wantBehind(t, want, behind)
}

// §1c divides core's get by the huge-page reference and GetBatch by the
// prefetched one.
func TestPhysical(t *testing.T) {
	in := `physical-table-bytes: 117440512
BenchmarkPhysical/ref-2loads/thp 	 1	 200 ns/op	 100.0 huge%
BenchmarkPhysical/ref-2loads-prefetch16/thp 	 1	 25 ns/op	 100.0 huge%
BenchmarkPhysical/ref-2loads/nothp 	 1	 300 ns/op	 0 huge%
BenchmarkPhysical/ref-2loads-prefetch16/nothp 	 1	 40 ns/op	 -1 huge%
BenchmarkPhysical/core/get-uniform 	 1	 500 ns/op	 100.0 hit%
BenchmarkPhysical/core/getbatch16-uniform 	 1	 100 ns/op	 100.0 hit%
`
	got, behind := fileSection(t, in, physical)
	wantLines(t, got,
		"a 112 MiB table",
		"| reference, 2 dependent loads, huge pages | 200 | 100% |",
		"| reference, batches of 16 with prefetch, no huge pages | 40.0 | unknown |",
		"| reference, 2 dependent loads, no huge pages | 300 | 0.0% |",
		"| core Get ÷ 2 dependent loads | **2.50** | 1.67 | ≤ 1.3 |",
		"| core GetBatch per key ÷ the prefetched batch reference | **4.00** | 2.50 | — |")
	want := []string{"physical limit: core Get (uniform, cold) 500 ns is 2.50 × two dependent loads (200 ns, huge pages; target 1.3)"}
	wantBehind(t, want, behind)
}

// §5 gives every goroutine count measured and the speed-up.
func TestScaling(t *testing.T) {
	in := `BenchmarkScaling/hot-first/core/get-hit 	 1	 200 ns/op
BenchmarkScaling/hot-first/core/get-hit-2 	 1	 100 ns/op
BenchmarkScaling/hot-first/core/get-hit-4 	 1	 80 ns/op
BenchmarkScaling/hot-first/map/get-hit 	 1	 100 ns/op
BenchmarkScaling/hot-first/map/get-hit-2 	 1	 90 ns/op
BenchmarkScaling/hot-first/map/get-hit-4 	 1	 70 ns/op
BenchmarkThroughput/core/get-hit 	 1	 1 ns/op
`
	got, behind := fileSection(t, in, scaling)
	wantLines(t, got,
		"| operation | system | layout | ×1 | ×2 | ×4 | speed-up |",
		"| get (hit) | core | hot-first | 200 | 100 | 80.0 | 2.50 |",
		"| get (hit) | map | hot-first | 100 | 90.0 | 70.0 | 1.43 |")
	want := []string{"scaling, get (hit), hot-first, 4 goroutines: core 80.0 ns vs map+RWMutex 70.0 ns"}
	wantBehind(t, want, behind)
}

// §6 gives the largest ÷ smallest segment count per policy, marks cells
// cut by the budget, and the expiry ratio.
func TestEviction(t *testing.T) {
	evict := `policy	segments	runs	ns_per_set	ns_min	ns_max	truncated_runs	sets_timed	refused_sets	p99_ns	p999_ns	max_ns	note	cpu_p99_ns	cpu_p999_ns	cpu_max_ns	cpu_ns_per_set
fifo	256	5	300.0	290.0	310.0	0	100	0	-	-	-		-	-	-	250.0
fifo	65536	3	18000.0	17000.0	19000.0	3	100	0	30000	45000	90000	truncated: 3 of 3 runs hit the 8s budget	-	-	-	10000.0
merge	256	5	400.0	390.0	410.0	0	100	0	-	-	-		-	-	-	NaN
merge	65536	5	480.0	470.0	490.0	0	100	0	1000	15000	40000		-	-	-	NaN
`
	expire := `segments	rounds	expire_one_ns	expire_none_ns	note
256	21	10000	500	
65536	21	150000	90000	
`
	got, behind := section(t, map[string]string{"e.tsv": evict, "x.tsv": expire}, func(w func(string, ...any), dir string, b *[]string) error {
		return eviction(w, filepath.Join(dir, "e.tsv"), filepath.Join(dir, "x.tsv"), b)
	})
	wantLines(t, got,
		"| policy | 256 | 65,536 | 65,536 ÷ 256 | 65,536 ÷ 256, CPU | p99 at 65,536 (µs) | p99.9 at 65,536 (µs) | max at 65,536 (µs) |",
		"| fifo | 300 | 18000* | **60.00** | 40.00 | 30.0 | 45.0 | 90.0 |",
		"| merge | 400 | 480 | **1.20** | — | 1.0 | 15.0 | 40.0 |",
		"| 65,536 | 21 | 150.0 | 90.0 |  |",
		"Expire with one expired segment, 65,536 ÷ 256 segments: **15.00**.")
	want := []string{
		"eviction, fifo: ns per set at 65,536 segments is 60.00 × that at 256 (CPU time: 40.00; target 1.5)",
		"eviction, fifo: p99.9 of a set at 65,536 segments 45.0 µs (target 20)",
		"expiry: Expire() with 1 expired segment at 65,536 segments is 15.00 × the cost at 256 (target 10)",
	}
	wantBehind(t, want, behind)
}

// With the paired ratio in the TSV (bench/cmd/evict today), §6 shows it,
// not the ratio of the medians: here the medians give 2.00 and the rounds
// 1.40.
func TestEvictionPairedRatio(t *testing.T) {
	evict := `policy	segments	runs	ns_per_set	ns_min	ns_max	truncated_runs	sets_timed	refused_sets	p99_ns	p999_ns	max_ns	note	cpu_p99_ns	cpu_p999_ns	cpu_max_ns	cpu_ns_per_set	ratio_to_smallest	cpu_ratio_to_smallest
s3fifo	256	5	200.0	150.0	300.0	0	100	0	-	-	-		-	-	-	200.0	1.000	1.000
s3fifo	65536	5	400.0	300.0	500.0	0	100	0	1000	9000	20000		-	-	-	400.0	1.400	1.450
`
	expire := `segments	rounds	expire_one_ns	expire_none_ns	note
256	21	10000	500	
65536	21	15000	900	
`
	got, behind := section(t, map[string]string{"e.tsv": evict, "x.tsv": expire}, func(w func(string, ...any), dir string, b *[]string) error {
		return eviction(w, filepath.Join(dir, "e.tsv"), filepath.Join(dir, "x.tsv"), b)
	})
	wantLines(t, got, "| s3fifo | 200 | 400 | **1.40** | 1.45 | 1.0 | 9.0 | 20.0 |")
	wantBehind(t, nil, behind)
}

// §3b: the spread is max − min over the runs, per policy and budget, only
// for core; identical runs say so.
func TestSpread(t *testing.T) {
	row := func(sys string, ratio float64) string {
		return fmt.Sprintf("orm-busy\tfixed\t1048576\t%s\t100\t10\t%.6f\t0\t0\t1.0\t\n", sys, ratio)
	}
	run := func(merge float64) string {
		return Header + row("core/merge", merge) + row("core/fifo", 0.2) + row("core/util", 0.3+merge/1000) + row("otter", 0.05)
	}
	got, behind := section(t, map[string]string{
		"bench-hitratio.tsv":      run(0.10),
		"bench-hitratio-run2.tsv": run(0.12),
		"bench-hitratio-run3.tsv": run(0.11),
	}, spread)
	wantLines(t, got, "run 3 times", "| core/merge | 2.00 |", "| core/fifo | 0 |", "| core/util | <0.01 |", "Largest spread: 2.00 points (orm-busy fixed 1 MiB core/merge).")
	if strings.Contains(got, "otter") {
		t.Errorf("peers in the spread table:\n%s", got)
	}
	wantBehind(t, []string{"hit ratio: replays are not deterministic (spread up to 2.00 points, orm-busy fixed 1 MiB core/merge)"}, behind)

	got, behind = section(t, map[string]string{"bench-hitratio.tsv": run(0.1), "bench-hitratio-run2.tsv": run(0.1)}, spread)
	wantLines(t, got, "Every replay gave the same miss ratio in every run.")
	if len(behind) != 0 {
		t.Errorf("deterministic runs listed as behind: %v", behind)
	}
}

// Header is the hit-ratio TSV header (cmd/hitratio's).
const Header = "trace\tvalues\tbudget\tsystem\trequests\tmisses\tmiss_ratio\tset_errors\twrong\tseconds\tnote\n"

// §1's all-systems table gets the Rust crate's row from §1b's file.
func TestThroughputRustRow(t *testing.T) {
	got, _ := section(t, map[string]string{
		"tp.txt": "BenchmarkThroughput/core/get-hit 	 1	 100 ns/op	 100 hit%	 0 B/op	 0 allocs/op\n",
		"rp.txt": "BenchmarkThroughput/segcache-rs/get-hit	1	200.0 ns/op	99.50 hit%\n",
	}, func(w func(string, ...any), dir string, b *[]string) error {
		return throughput(w, filepath.Join(dir, "tp.txt"), filepath.Join(dir, "rp.txt"), b)
	})
	wantLines(t, got, "| core | 100 (0.0, 0.0 B; 100%) |", "| segcache-rs | 200 (99.5%) |", "segcache-rs is the Rust segcache crate")
}

// §3c puts otter's replay at core's held bytes beside §3's two figures of
// the same cell; with no such replay it says there was no cell to redo.
func TestHeldPayload(t *testing.T) {
	row := func(sys string, ratio float64, note string) string {
		return fmt.Sprintf("orm-busy\tfixed\t1048576\t%s\t100\t10\t%.6f\t0\t0\t1.0\t%s\n", sys, ratio, note)
	}
	main := Header + row(defaultSystem, 0.12, "segments 8 x 8KiB") + row("core/merge", 0.2, "") + row("otter", 0.10, "")
	held := Header + row("otter", 0.13, "limit 786672 bytes of key + value, what core/s3fifo held at the end of its replay at 1MiB")
	section3c := func(w func(string, ...any), dir string, _ *[]string) error { return heldPayload(w, dir) }
	got, _ := section(t, map[string]string{"bench-hitratio.tsv": main, "bench-hitratio-held.tsv": held}, section3c)
	wantLines(t, got, "| orm-busy | fixed | 1 MiB | 12.00 | 10.00 | 13.00 | 786672 B | 0.92 |")
	if strings.Contains(got, "core/merge") {
		t.Errorf("a policy other than the default in the table:\n%s", got)
	}

	got, _ = section(t, map[string]string{"bench-hitratio.tsv": main, "bench-hitratio-held.tsv": Header}, section3c)
	wantLines(t, got, "No such cell: "+defaultSystem+" misses no more often than otter anywhere in §3.")

	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "bench-hitratio.tsv"), []byte(main), 0o644); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := section3c(func(f string, a ...any) { fmt.Fprintf(&b, f, a...) }, dir, nil); err == nil || !strings.Contains(b.String(), "Not measured") {
		t.Errorf("without bench-hitratio-held.tsv: err %v, text:\n%s", err, b.String())
	}
}

// §1 checks §7's targets against fastcache, not only against the best
// peer: core ahead of every peer can still miss "≤ 0.75 × fastcache" (the
// published report had get (hit) ×2 at 0.90 × fastcache, listed nowhere).
func TestThroughputTargets(t *testing.T) {
	line := func(sys, op string, ns float64) string {
		return fmt.Sprintf("BenchmarkThroughput/%s/%s-2 \t 1\t %g ns/op\t 100 hit%%\t 0 B/op\t 0 allocs/op\n", sys, op, ns)
	}
	in := "keys: 1000\n" +
		line("core", "get-hit", 83.3) + line("fastcache", "get-hit", 93) + line("otter", "get-hit", 95.4) + line("map", "get-hit", 138) +
		line("core", "mix90", 112) + line("fastcache", "mix90", 166) + line("otter", "mix90", 156) + line("map", "mix90", 155) +
		line("core", "set", 110) + line("fastcache", "set", 118) + line("map", "set", 205)
	got, behind := fileSection(t, in, func(w func(string, ...any), path string, b *[]string) error {
		return throughput(w, path, "", b)
	})
	wantLines(t, got,
		"| get (hit) | 2 | 83.3 | 93.0 (fastcache) | **0.90** | 138 | 0.60 | 0.90 | ≤ 0.75 × fastcache, ≤ 1.00 × map |",
		"| 90% get / 10% set | 2 | 112 | 156 (otter) | **0.72** | 155 | 0.72 | 0.67 | ≤ 0.90 × fastcache |",
		"| set (overwrite) | 2 | 110 | 118 (fastcache) | **0.93** | 205 | 0.54 | 0.93 | ≤ 1.00 × fastcache |")
	var targets []string // the other ops are not in the input: "not measured"
	for _, b := range behind {
		if strings.Contains(b, "× fastcache") {
			targets = append(targets, b)
		}
	}
	wantBehind(t, []string{"throughput, get (hit), 2 goroutine(s): core 83.3 ns is 0.90 × fastcache 93.0 ns (target 0.75)"}, targets)
}

// §3's notes give the sets a peer refused (they count as misses) and what
// is wrong with a core cell of any policy, not only the default's layout.
func TestHitRatioNotes(t *testing.T) {
	row := func(sys string, ratio float64, refused, wrong int, note string) string {
		return fmt.Sprintf("web12\tvariable\t524288\t%s\t95607\t100\t%.6f\t%d\t%d\t1.0\t%s\n", sys, ratio, refused, wrong, note)
	}
	in := Header +
		row(defaultSystem, 0.33, 0, 0, "segments 117 x 4KiB, hashtable 16KiB, segment metadata 26208 B") +
		row("core/merge", 0.35, 0, 2, "segments 117 x 4KiB, hashtable 16KiB; OVER BUDGET after the replay: heap + hashtable + segment metadata = 600000 bytes (hashtable 32KiB)") +
		row("core/none", 0.6, 57210, 0, "segments 117 x 4KiB") +
		row("otter", 0.32, 0, 0, "") +
		row("freecache", 0.65, 51101, 0, "")
	got, behind := section(t, map[string]string{"hr.tsv": in}, func(w func(string, ...any), dir string, b *[]string) error {
		return hitRatio(w, filepath.Join(dir, "hr.tsv"), dir, "", b)
	})
	wantLines(t, got,
		"- freecache: at 512 KiB: refused 51101 sets (53.45% of the requests; each counted as a miss)",
		"- core/merge: at 512 KiB: OVER BUDGET after the replay: heap + hashtable + segment metadata = 600000 bytes (hashtable 32KiB)")
	if strings.Contains(got, "core/none: at") {
		t.Errorf("core/none's refusals (explained in the text) in the notes:\n%s", got)
	}
	wantBehind(t, []string{
		"miss ratio, web12 variable values at 512 KiB: core/merge returned a wrong value on 2 hits",
		"miss ratio, web12 variable values at 512 KiB: core/merge exceeded the budget during its replay",
		"miss ratio, web12 variable values at 512 KiB: " + defaultSystem + " 33.00% vs otter 32.00%",
	}, behind)
}

// §2 checks §7's absolute targets (100 B per item, a 1 ms GC, no item
// lost), not only core against the best peer.
func TestMemoryTargets(t *testing.T) {
	const head = "system\titems\theld\trss_before\trss_after\tbytes_per_item\toverhead_per_item\tgc_ms\tgc_ms_1proc\tnote\n"
	in := head +
		"core\t1000000\t999000\t0\t0\t110.0\t30.0\t2.0\t1.5\t\n" +
		"fastcache\t1000000\t1000000\t0\t0\t124.9\t44.9\t0.5\t0.251\t\n"
	_, behind := fileSection(t, in, memory)
	wantBehind(t, []string{
		"memory: core 110 resident B/item (target 100)",
		"forced GC (GOMAXPROCS 1) with the items resident: core 1.5 ms (target 1 ms)",
		"memory: core holds 999000 of 1000000 items (target: no item lost)",
		"forced GC (GOMAXPROCS 1): core 1.5 ms vs fastcache 0.3 ms",
	}, behind)
}

// §4 checks the C ABI's §7 targets against bench/c/report.sh's table (the
// published one: a C get of 281.6 ns against 214.5 + 1.2 × 37.0, and 2
// pthreads at 1.49 × one thread's get throughput, listed nowhere).
func TestCapiTargets(t *testing.T) {
	capi := `libsegcache C ABI vs Go in process: median ns/op of 5 alternating rounds
(16 B keys, 64 B values, 1M keys, Zipf 0.99; get_multiN = ns per key; ns/op = wall / all threads' ops)
op           threads    C ns/op   C - noop     x noop   Go ns/op   C / Go
noop               1       37.0          -       1.00          -        -
get                1      281.6      244.6       7.61      214.5     1.31
set                1      641.3      604.3      17.34      564.1     1.14
get_multi16        1      120.9       83.9       3.27      108.2     1.12
noop               2       18.1          -       1.00          -        -
get                2      188.5      170.4      10.40      114.4     1.65
`
	got, behind := section(t, map[string]string{"bench-capi.txt": capi}, func(w func(string, ...any), dir string, b *[]string) error {
		others(w, dir, b)
		return nil
	})
	wantLines(t, got,
		"- get, 1 thread(s), 281.6 ns ≤ Go get 214.5 + 1.2 × empty call 37.0 = 258.9 ns: **not met**",
		"- get_multi16, 1 thread(s), 120.9 ns per key ≤ 1.25 × Go get 214.5 = 268.1 ns: met",
		"- get, 2 thread(s), 188.5 ns ≤ Go get 114.4 + 1.2 × empty call 18.1 = 136.1 ns: **not met**")
	wantBehind(t, []string{
		"C ABI: get, 1 thread(s), 281.6 ns ≤ Go get 214.5 + 1.2 × empty call 37.0 = 258.9 ns",
		"C ABI: get, 2 thread(s), 188.5 ns ≤ Go get 114.4 + 1.2 × empty call 18.1 = 136.1 ns",
		"C ABI: get, 2 pthreads' throughput 1.49 × one thread's ≥ 1.8 (on an idle machine)",
	}, behind)
}
