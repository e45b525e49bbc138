package main

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/segcache/segcache/core"
)

// A run times the last third: capacity sets, all stored under eviction.
func TestRunWindow(t *testing.T) {
	cfg := config{policy: core.PolicyFIFO, segments: 64, segBytes: 4096, budget: time.Hour}
	res, err := run(cfg, wallClock)
	if err != nil {
		t.Fatal(err)
	}
	if res.truncated || res.sets != cfg.capacity() || res.refused != 0 || !(res.ns > 0) {
		t.Errorf("run = %+v, want %d sets timed, none refused, not truncated", res, cfg.capacity())
	}
	if len(res.lat) != cfg.capacity() {
		t.Errorf("%d latencies, want one per timed set (%d)", len(res.lat), cfg.capacity())
	}
}

// Under `none` the cache refuses every set once full: the timed third is
// all refusals, counted, not an error.
func TestRunNone(t *testing.T) {
	cfg := config{policy: core.PolicyNone, segments: 64, segBytes: 4096, budget: time.Hour}
	res, err := run(cfg, noLatency)
	if err != nil {
		t.Fatal(err)
	}
	if res.sets != cfg.capacity() || res.refused != res.sets {
		t.Errorf("run = %+v, want %d sets timed, all refused", res, cfg.capacity())
	}
}

// A run cut by its budget says so and times only sets made after the heap
// filled.
func TestRunTruncated(t *testing.T) {
	cfg := config{policy: core.PolicyFIFO, segments: 64, segBytes: 4096, budget: 0}
	res, err := run(cfg, wallClock)
	if err != nil {
		t.Fatal(err)
	}
	if !res.truncated || res.sets <= 0 || res.sets > 2*cfg.capacity() {
		t.Errorf("run = %+v, want a truncated run timing at most the %d sets after the fill", res, 2*cfg.capacity())
	}
	if len(res.lat) != res.sets {
		t.Errorf("%d latencies, want one per timed set (%d)", len(res.lat), res.sets)
	}
}

// Expire's measurement frees exactly one segment per counted round.
func TestMeasureExpire(t *testing.T) {
	row := measureExpire(config{policy: core.PolicyDefault, segments: 64, segBytes: 4096}, 2)
	if want := "64\t2\t"; row[:len(want)] != want {
		t.Errorf("row %q, want 2 counted rounds at 64 segments", row)
	}
}

// The CPU clock times every set of the window too, and a row has one field
// per header column, whichever latency runs it made.
func TestCPULatencyRow(t *testing.T) {
	cfg := config{policy: core.PolicyFIFO, segments: 64, segBytes: 4096, budget: time.Hour}
	if !threadCPUAvailable {
		t.Skip("no thread CPU clock on this OS")
	}
	res, err := run(cfg, cpuClock)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.lat) != cfg.capacity() {
		t.Errorf("%d latencies, want one per timed set (%d)", len(res.lat), cfg.capacity())
	}
	if slices.Max(res.lat) == 0 {
		t.Error("every set took 0 ns of CPU")
	}
	head := strings.Split(EvictHeader, "\t")
	for _, lat := range [][2]bool{{false, false}, {true, false}, {true, true}} {
		row := measurePolicy([]config{cfg}, 1, lat[0], lat[1])[0]
		if f := strings.Split(row, "\t"); len(f) != len(head) {
			t.Errorf("latency %v: %d fields, header has %d: %q", lat, len(f), len(head), row)
		}
		if got := column(row, "cpu_p999_ns") != "-"; got != lat[1] {
			t.Errorf("latency %v: cpu_p999_ns %q", lat, column(row, "cpu_p999_ns"))
		}
	}
	// A run cut by the budget still gets both latency runs.
	cfg.budget = 0
	if row := measurePolicy([]config{cfg}, 1, true, true)[0]; column(row, "cpu_p999_ns") == "-" || column(row, "p999_ns") == "-" {
		t.Errorf("truncated runs: p999 %q, cpu_p999 %q, want both", column(row, "p999_ns"), column(row, "cpu_p999_ns"))
	}
}

// Every count of a policy gets its runs and a ratio to the smallest count
// (1 for the smallest itself); the latency runs are made at the largest
// count only.
func TestMeasurePolicy(t *testing.T) {
	var cfgs []config
	for _, n := range []int{16, 64} {
		cfgs = append(cfgs, config{policy: core.PolicyFIFO, segments: n, segBytes: 4096, budget: time.Hour})
	}
	rows := measurePolicy(cfgs, 2, true, false)
	for i, row := range rows {
		get := func(name string) string { return column(row, name) }
		if get("segments") != strconv.Itoa(cfgs[i].segments) || get("runs") != "2" {
			t.Errorf("row %d: segments %s runs %s, want %d and 2", i, get("segments"), get("runs"), cfgs[i].segments)
		}
		r, err := strconv.ParseFloat(get("ratio_to_smallest"), 64)
		if err != nil || !(r > 0) || i == 0 && r != 1 {
			t.Errorf("row %d: ratio_to_smallest %q", i, get("ratio_to_smallest"))
		}
		if hasLat := get("p999_ns") != "-"; hasLat != (i == len(rows)-1) {
			t.Errorf("row %d: p999_ns %q", i, get("p999_ns"))
		}
	}
}

// The paired ratio divides runs of the same round only, so a machine that
// is twice as fast in round 1 as in round 0 does not move it.
func TestPairedRatio(t *testing.T) {
	ns := func(c *cell) []float64 { return c.ns }
	base := &cell{ns: []float64{100, 50, 100}, round: []int{0, 1, 2}}
	big := &cell{ns: []float64{150, 75, 150}, round: []int{0, 1, 2}}
	if got := pairedRatio(big, base, ns); got != 1.5 {
		t.Errorf("paired ratio %v, want 1.5", got)
	}
	// Rounds the base did not run (or the cell did not) are left out.
	part := &cell{ns: []float64{60}, round: []int{1}}
	if got := pairedRatio(part, base, ns); got != 1.2 {
		t.Errorf("paired ratio over round 1 only %v, want 1.2", got)
	}
	if got := pairedRatio(&cell{}, base, ns); !math.IsNaN(got) {
		t.Errorf("no common round: %v, want NaN", got)
	}
}

// column returns the field of a TSV row under the EvictHeader column name.
func column(row, name string) string {
	return strings.Split(row, "\t")[slices.Index(strings.Split(EvictHeader, "\t"), name)]
}
