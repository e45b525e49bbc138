package main

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
)

// benchKey names one benchmark cell: BenchmarkThroughput/<system>/<op>-<cpu>.
type benchKey struct {
	System, Op string
	CPU        int
}

// benchRuns are the -count runs of one cell.
type benchRuns struct {
	NsOp, BytesOp, AllocsOp, HitPct []float64
}

// parseBench reads `go test -bench` output of the throughput package.
// Lines of other benchmarks and of the test framework are skipped.
// It also returns the "keys: N" configuration line's N (0 if absent).
func parseBench(r io.Reader) (map[benchKey]*benchRuns, int, error) {
	out := map[benchKey]*benchRuns{}
	keys := 0
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "keys: "); ok {
			keys, _ = strconv.Atoi(v)
			continue
		}
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "BenchmarkThroughput/") {
			continue
		}
		name := strings.TrimPrefix(f[0], "BenchmarkThroughput/")
		cpu := 1
		if i := strings.LastIndexByte(name, '-'); i > 0 {
			if n, err := strconv.Atoi(name[i+1:]); err == nil {
				cpu, name = n, name[:i]
			}
		}
		sys, op, ok := strings.Cut(name, "/")
		if !ok {
			continue
		}
		k := benchKey{sys, op, cpu}
		runs := out[k]
		if runs == nil {
			runs = &benchRuns{}
			out[k] = runs
		}
		// f[1] is the iteration count, then value-unit pairs.
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				return nil, 0, fmt.Errorf("%q: %v", sc.Text(), err)
			}
			switch f[i+1] {
			case "ns/op":
				runs.NsOp = append(runs.NsOp, v)
			case "B/op":
				runs.BytesOp = append(runs.BytesOp, v)
			case "allocs/op":
				runs.AllocsOp = append(runs.AllocsOp, v)
			case "hit%":
				runs.HitPct = append(runs.HitPct, v)
			}
		}
	}
	return out, keys, sc.Err()
}

// median of xs (NaN if empty).
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
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
