package main

import (
	"slices"
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
	head := len(strings.Split(EvictHeader, "\t"))
	for _, lat := range [][2]bool{{false, false}, {true, false}, {true, true}} {
		row := measureSets(cfg, 1, lat[0], lat[1])
		f := strings.Split(row, "\t")
		if len(f) != head {
			t.Errorf("latency %v: %d fields, header has %d: %q", lat, len(f), head, row)
		}
		if got := f[len(f)-2] != "-"; got != lat[1] {
			t.Errorf("latency %v: cpu_p999_ns %q", lat, f[len(f)-2])
		}
	}
	// A run cut by the budget still gets both latency runs.
	cfg.budget = 0
	if f := strings.Split(measureSets(cfg, 1, true, true), "\t"); f[len(f)-2] == "-" || f[10] == "-" {
		t.Errorf("truncated runs: p999 %q, cpu_p999 %q, want both", f[10], f[len(f)-2])
	}
}
