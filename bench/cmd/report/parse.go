package main

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/segcache/segcache/bench/harness"
)

// benchKey names one benchmark cell: BenchmarkThroughput/<system>/<op>-<cpu>.
type benchKey struct {
	System, Op string
	CPU        int
}

// benchRuns are the -count runs of one cell.
type benchRuns struct {
	NsOp, BytesOp, AllocsOp, HitPct []float64
	// Proc numbers the go test process (the output's "goos:" blocks, from
	// 0) that measured each NsOp: files appended to by several runs
	// (BENCH_APPEND) hold several.
	Proc       []int
	FailedSets []float64            // sets the cache refused (the Rust peer reports them)
	Other      map[string][]float64 // any other unit (huge%, ...), by unit
}

// namedKey names one benchmark cell of any benchmark: the name after
// "Benchmark" without the -<cpu> suffix (e.g. "Physical/core/get-uniform").
type namedKey struct {
	Name string
	CPU  int
}

// parseBench reads `go test -bench` output of the throughput package's
// BenchmarkThroughput. Lines of other benchmarks and of the test framework
// are skipped. It also returns the "keys: N" configuration line's N (0 if
// absent).
func parseBench(r io.Reader) (map[benchKey]*benchRuns, int, error) {
	named, conf, err := parseNamed(r)
	if err != nil {
		return nil, 0, err
	}
	res, keys := throughputCells(named, conf)
	return res, keys, nil
}

// throughputCells picks BenchmarkThroughput's cells out of a benchmark
// file's, with the "keys: N" configuration line's N (0 if absent).
func throughputCells(named map[namedKey]*benchRuns, conf map[string]string) (map[benchKey]*benchRuns, int) {
	out := map[benchKey]*benchRuns{}
	for k, runs := range named {
		name, ok := strings.CutPrefix(k.Name, "Throughput/")
		if !ok {
			continue
		}
		if sys, op, ok := strings.Cut(name, "/"); ok {
			out[benchKey{sys, op, k.CPU}] = runs
		}
	}
	keys, _ := strconv.Atoi(conf["keys"])
	return out, keys
}

// parseNamed reads `go test -bench` output: every benchmark line, and the
// configuration lines ("key: value", as benchfmt defines them).
func parseNamed(r io.Reader) (map[namedKey]*benchRuns, map[string]string, error) {
	out := map[namedKey]*benchRuns{}
	conf := map[string]string{}
	proc := -1 // the process whose output this is; each starts with "goos:"
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && strings.HasSuffix(f[0], ":") && !strings.HasPrefix(f[0], "Benchmark") {
			conf[strings.TrimSuffix(f[0], ":")] = strings.Join(f[1:], " ")
			if f[0] == "goos:" {
				proc++
			}
			continue
		}
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		if _, err := strconv.Atoi(f[1]); err != nil {
			continue // not a result line
		}
		name := strings.TrimPrefix(f[0], "Benchmark")
		cpu := 1
		if i := strings.LastIndexByte(name, '-'); i > 0 {
			if n, err := strconv.Atoi(name[i+1:]); err == nil {
				cpu, name = n, name[:i]
			}
		}
		k := namedKey{name, cpu}
		runs := out[k]
		if runs == nil {
			runs = &benchRuns{}
			out[k] = runs
		}
		// f[1] is the iteration count, then value-unit pairs.
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				return nil, nil, fmt.Errorf("%q: %v", sc.Text(), err)
			}
			switch f[i+1] {
			case "ns/op":
				runs.NsOp = append(runs.NsOp, v)
				runs.Proc = append(runs.Proc, max(proc, 0))
			case "B/op":
				runs.BytesOp = append(runs.BytesOp, v)
			case "allocs/op":
				runs.AllocsOp = append(runs.AllocsOp, v)
			case "hit%":
				runs.HitPct = append(runs.HitPct, v)
			case "failed-sets":
				runs.FailedSets = append(runs.FailedSets, v)
			default:
				if runs.Other == nil {
					runs.Other = map[string][]float64{}
				}
				runs.Other[f[i+1]] = append(runs.Other[f[i+1]], v)
			}
		}
	}
	return out, conf, sc.Err()
}

// median of xs (NaN if empty).
func median(xs []float64) float64 { return harness.Median(xs) }

// procRatio is a's ns/op over b's as the median, over the processes that
// measured both, of each process's ratio of its own medians (NaN if none
// did). Systems timed in one process ran minutes apart at most; a file
// that several runs appended to also holds runs an hour apart, between
// which this machine's memory latency can double, so dividing the medians
// of all runs would compare one system's fast runs with another's slow.
func procRatio(a, b *benchRuns) float64 {
	if a == nil || b == nil {
		return math.NaN()
	}
	var ratios []float64
	for _, p := range procs(a) {
		if x, y := median(a.procNs(p)), median(b.procNs(p)); !math.IsNaN(x) && !math.IsNaN(y) {
			ratios = append(ratios, x/y)
		}
	}
	return median(ratios)
}

// procs lists the processes that measured r, in order.
func procs(r *benchRuns) []int {
	var ps []int
	for _, p := range r.Proc {
		if !slices.Contains(ps, p) {
			ps = append(ps, p)
		}
	}
	return ps
}

// procNs is the ns/op process p measured.
func (r *benchRuns) procNs(p int) []float64 {
	var xs []float64
	for i, q := range r.Proc {
		if q == p {
			xs = append(xs, r.NsOp[i])
		}
	}
	return xs
}

// tsv reads a TSV file with a header into maps keyed by column name.
func tsv(r io.Reader) ([]map[string]string, error) {
	sc := bufio.NewScanner(r)
	var head []string
	var rows []map[string]string
	for sc.Scan() {
		f := strings.Split(sc.Text(), "\t")
		if head == nil {
			head = f
			continue
		}
		if len(f) != len(head) {
			return nil, fmt.Errorf("tsv: %d fields, header has %d: %q", len(f), len(head), sc.Text())
		}
		row := map[string]string{}
		for i, h := range head {
			row[h] = f[i]
		}
		rows = append(rows, row)
	}
	if head == nil {
		return nil, fmt.Errorf("tsv: empty")
	}
	return rows, sc.Err()
}

// readInput parses one section's input file. A section whose input is
// missing or unreadable still appears in the report, saying why, so a
// partial `make bench` run gives a partial report rather than none.
func readInput[T any](w func(string, ...any), path string, parse func(io.Reader) (T, error)) (T, error) {
	f, err := os.Open(path)
	if err != nil {
		w("Not measured: %v.\n\n", err)
		var none T
		return none, err
	}
	defer f.Close()
	return parse(f)
}

// readTSV is readInput for the bench programs' TSV files.
func readTSV(w func(string, ...any), path string) ([]map[string]string, error) {
	return readInput(w, path, tsv)
}

// benchFile is a `go test -bench` file: every cell and the configuration
// lines.
type benchFile struct {
	cells map[namedKey]*benchRuns
	conf  map[string]string
}

// readNamed is readInput for `go test -bench` output; a file without a
// single benchmark line is an error the section reports.
func readNamed(w func(string, ...any), path string) (benchFile, error) {
	b, err := readInput(w, path, func(r io.Reader) (benchFile, error) {
		cells, conf, err := parseNamed(r)
		return benchFile{cells, conf}, err
	})
	if err == nil && len(b.cells) == 0 {
		w("Not measured: %s holds no results.\n\n", path)
		err = fmt.Errorf("%s: no results", path)
	}
	return b, err
}

// readThroughput is readNamed for BenchmarkThroughput's cells (see
// parseBench), with the "keys" configuration line.
func readThroughput(w func(string, ...any), path string) (map[benchKey]*benchRuns, int, error) {
	b, err := readNamed(w, path)
	if err != nil {
		return nil, 0, err
	}
	res, keys := throughputCells(b.cells, b.conf)
	if len(res) == 0 {
		w("Not measured: %s holds no results.\n\n", path)
		return nil, 0, fmt.Errorf("%s: no results", path)
	}
	return res, keys, nil
}
