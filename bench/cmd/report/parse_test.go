package main

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseBench(t *testing.T) {
	in := `goos: linux
keys: 1000000
BenchmarkThroughput/core/get-hit         	 5000000	       240.0 ns/op	       100.0 hit%	       0 B/op	       0 allocs/op
BenchmarkThroughput/core/get-hit-2       	 9000000	       130.5 ns/op	       99.50 hit%	       0 B/op	       0 allocs/op
BenchmarkThroughput/core/get-hit-2       	 9000000	       128.5 ns/op	       99.50 hit%	       0 B/op	       0 allocs/op
BenchmarkThroughput/map/set-2            	 1000000	      1021 ns/op	      80 B/op	       1 allocs/op
BenchmarkOther-2 	 1 	 5 ns/op
--- FAIL: BenchmarkThroughput/core
PASS
goos: linux
BenchmarkThroughput/core/get-hit-2       	 9000000	       110.0 ns/op	       99.50 hit%	       0 B/op	       0 allocs/op
`
	got, keys, err := parseBench(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if keys != 1000000 {
		t.Errorf("keys = %d, want 1000000", keys)
	}
	want := map[benchKey]*benchRuns{
		{"core", "get-hit", 1}: {NsOp: []float64{240}, BytesOp: []float64{0}, AllocsOp: []float64{0}, HitPct: []float64{100}, Proc: []int{0}},
		{"core", "get-hit", 2}: {NsOp: []float64{130.5, 128.5, 110}, BytesOp: []float64{0, 0, 0}, AllocsOp: []float64{0, 0, 0}, HitPct: []float64{99.5, 99.5, 99.5}, Proc: []int{0, 0, 1}},
		{"map", "set", 2}:      {NsOp: []float64{1021}, BytesOp: []float64{80}, AllocsOp: []float64{1}, Proc: []int{0}},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("parseBench (-want +got):\n%s", d)
	}
}

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		in   []float64
		want float64
	}{
		{[]float64{5, 1, 3}, 3},
		{[]float64{4, 1, 3, 2}, 2.5},
		{[]float64{7}, 7},
	} {
		if got := median(tc.in); got != tc.want {
			t.Errorf("median(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
	if !math.IsNaN(median(nil)) {
		t.Error("median(nil) is not NaN")
	}
}

func TestTSV(t *testing.T) {
	got, err := tsv(strings.NewReader("a\tb\n1\t2\n3\t4\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := []map[string]string{{"a": "1", "b": "2"}, {"a": "3", "b": "4"}}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("tsv (-want +got):\n%s", d)
	}
	if _, err := tsv(strings.NewReader("a\tb\n1\n")); err == nil {
		t.Error("tsv accepted a short row")
	}
}

// The C, Python and Rust outputs are included, labelled, when they exist,
// and said to be missing when they do not.
func TestOthers(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "bench-capi.txt"), []byte("get 123 ns\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "bench-rust.txt"), []byte("set 456 ns\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	others(func(f string, a ...any) { fmt.Fprintf(&b, f, a...) }, dir, new([]string))
	got := b.String()
	for _, want := range []string{
		"### C ABI (libsegcache.so, bench/c)\n\n`make bench-c` (build/bench-capi.txt):\n\n```\nget 123 ns\n```",
		"### Python binding (bench/python)\n\nNot available: build/bench-python.txt does not exist (`make bench-python` writes it).",
		"### Rust crate (bindings/rust, bench `ops`)\n\n`make bench-rust` (build/bench-rust.txt):\n\n```\nset 456 ns\n```",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in:\n%s", want, got)
		}
	}
	if strings.Contains(got, "$(") {
		t.Errorf("a make variable leaked into the report:\n%s", got)
	}
}

// Every build/bench-*.md fragment is appended verbatim, in name order.
func TestFragments(t *testing.T) {
	dir := t.TempDir()
	for name, text := range map[string]string{
		"bench-server.md": "## Server\n\n| a | b |\n",
		"bench-alpha.md":  "## Alpha\n",
		"bench-empty.md":  "\n",
		"bench-x.txt":     "not markdown",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var b strings.Builder
	used := fragments(func(f string, a ...any) { fmt.Fprintf(&b, f, a...) }, dir)
	if d := cmp.Diff([]string{"bench-alpha.md", "bench-server.md"}, used); d != "" {
		t.Errorf("fragments used (-want +got):\n%s", d)
	}
	if d := cmp.Diff("## Alpha\n\n## Server\n\n| a | b |\n\n", b.String()); d != "" {
		t.Errorf("fragments text (-want +got):\n%s", d)
	}
}

// reportThroughput writes in (a §1 output) to a file and returns the
// report's §1 text and the cells it lists as behind (no §1b output).
func reportThroughput(t *testing.T, in string) (string, []string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "tp.txt")
	if err := os.WriteFile(path, []byte(in), 0o644); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	var behind []string
	if err := throughput(func(f string, a ...any) { fmt.Fprintf(&b, f, a...) }, path, filepath.Join(t.TempDir(), "none.txt"), &behind); err != nil {
		t.Fatal(err)
	}
	return b.String(), behind
}

// The summary compares core with the fastest peer (not the map) and lists
// the cells where core is not ahead.
func TestThroughputRatios(t *testing.T) {
	in := `keys: 1000
BenchmarkThroughput/core/get-hit 	 1	 100 ns/op	 0 B/op	 0 allocs/op
BenchmarkThroughput/core/get-hit 	 1	 120 ns/op	 0 B/op	 0 allocs/op
BenchmarkThroughput/core/get-hit 	 1	 110 ns/op	 0 B/op	 0 allocs/op
BenchmarkThroughput/otter/get-hit 	 1	 200 ns/op	 0 B/op	 0 allocs/op
BenchmarkThroughput/fastcache/get-hit 	 1	 220 ns/op	 0 B/op	 0 allocs/op
BenchmarkThroughput/map/get-hit 	 1	 50 ns/op	 0 B/op	 0 allocs/op
BenchmarkThroughput/core/set 	 1	 300 ns/op	 0 B/op	 0 allocs/op
BenchmarkThroughput/freecache/set 	 1	 150 ns/op	 0 B/op	 0 allocs/op
BenchmarkThroughput/map/set 	 1	 400 ns/op	 0 B/op	 0 allocs/op
BenchmarkThroughput/core/set-2 	 1	 300 ns/op	 0 B/op	 0 allocs/op
BenchmarkThroughput/fastcache/set-2 	 1	 200 ns/op	 0 B/op	 0 allocs/op
BenchmarkThroughput/map/set-2 	 1	 400 ns/op	 0 B/op	 0 allocs/op
`
	text, behind := reportThroughput(t, in)
	for _, want := range []string{
		"| get (hit) | 1 | 110 | 200 (otter) | **0.55** | 50.0 | 2.20 |",
		"| set (overwrite) | 1 | 300 | 150 (freecache) | **2.00** | 400 | 0.75 |",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("missing %q in:\n%s", want, text)
		}
	}
	// At 2 goroutines set misses its target against fastcache, which is
	// also the best peer there: one line says both.
	wantBehind := []string{
		"throughput, get (hit), 1 goroutine(s): core 110 ns is 2.20 × map+RWMutex 50.0 ns",
		"throughput, get (hit), 2 goroutine(s): core not measured",
		"throughput, get (miss), 1 goroutine(s): core not measured",
		"throughput, get (miss), 2 goroutine(s): core not measured",
		"throughput, set (overwrite), 1 goroutine(s): core 300 ns vs freecache 150 ns (ratio 2.00)",
		"throughput, set (overwrite), 2 goroutine(s): core 300 ns is 1.50 × fastcache 200 ns (target 1.00)",
		"throughput, 90% get / 10% set, 1 goroutine(s): core not measured",
		"throughput, 90% get / 10% set, 2 goroutine(s): core not measured",
		"throughput, 50% get / 50% set, 1 goroutine(s): core not measured",
		"throughput, 50% get / 50% set, 2 goroutine(s): core not measured",
	}
	if d := cmp.Diff(wantBehind, behind); d != "" {
		t.Errorf("behind (-want +got):\n%s", d)
	}
}

// Runs appended by several processes (BENCH_APPEND): a ratio is the median
// of each process's own ratio, not the quotient of medians over every run,
// which would set one system's fast process against another's slow one.
func TestThroughputRatiosPerProcess(t *testing.T) {
	var in strings.Builder
	for _, p := range []struct{ core, fast int }{{300, 250}, {140, 125}, {110, 130}} {
		fmt.Fprintf(&in, "goos: linux\nkeys: 1000\n")
		fmt.Fprintf(&in, "BenchmarkThroughput/core/get-hit \t 1\t %d ns/op\n", p.core)
		fmt.Fprintf(&in, "BenchmarkThroughput/fastcache/get-hit \t 1\t %d ns/op\n", p.fast)
	}
	text, behind := reportThroughput(t, in.String())
	// Per process: 1.20, 1.12, 0.85; the medians of all runs, 140 and 130,
	// would give 1.08.
	for _, want := range []string{
		"| get (hit) | 1 | 140 | 130 (fastcache) | **1.12** |",
		"The runs come from 3 processes",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("missing %q in:\n%s", want, text)
		}
	}
	if want := "throughput, get (hit), 1 goroutine(s): core 140 ns is 1.12 × fastcache 130 ns (target 0.75)"; !slices.Contains(behind, want) {
		t.Errorf("behind lacks %q: %q", want, behind)
	}
}
