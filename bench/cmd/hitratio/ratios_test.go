package main

import (
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/segcache/segcache/bench/harness"
	"github.com/segcache/segcache/core"
)

func TestRatioTable(t *testing.T) {
	jobs := []*job{
		{trace: "web12", values: "fixed", budget: 1 << 20, system: "core/s3fifo", miss: 0.15},
		{trace: "web12", values: "fixed", budget: 1 << 20, system: "otter", miss: 0.12},
		{trace: "web12", values: "fixed", budget: 2 << 20, system: "core/s3fifo", miss: 0.05},
		{trace: "web12", values: "fixed", budget: 2 << 20, system: "otter", miss: 0.1},
		{trace: "web12", values: "fixed", budget: 4 << 20, system: "core/s3fifo", miss: math.NaN()},
	}
	otter, err := otterRatios("", jobs)
	if err != nil {
		t.Fatal(err)
	}
	want := "web12, fixed values: miss ratio ÷ otter's\n" +
		"budget                 1MiB     2MiB     4MiB\n" +
		"otter (%)             12.00    10.00        -\n" +
		"core/s3fifo           1.250    0.500        -\n\n"
	if d := cmp.Diff(want, ratioTable(jobs, otter)); d != "" {
		t.Errorf("table (-want +got):\n%s", d)
	}
}

func TestOtterRatiosFromFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hr.tsv")
	text := Header + "\n" +
		"web12\tfixed\t1048576\totter\t95607\t13756\t0.143881\t0\t0\t0.1\t\n" +
		"web12\tfixed\t1048576\tcore/s3fifo\t95607\t14000\t0.146433\t0\t0\t0.1\t\n"
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := otterRatios(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(map[cell]float64{{"web12", "fixed", 1 << 20}: 0.143881}, got, cmp.AllowUnexported(cell{})); d != "" {
		t.Errorf("otter's figures (-want +got):\n%s", d)
	}
}

// An otter replay at core's held bytes is added only where the default
// policy missed more often than otter and held something.
func TestHeldJobs(t *testing.T) {
	w := &harness.Workload{}
	jobs := []*job{
		{trace: "web12", values: "fixed", budget: 1 << 20, system: defaultSystem, miss: 0.15, held: 700000, w: w},
		{trace: "web12", values: "fixed", budget: 1 << 20, system: "core/merge", miss: 0.16, held: 690000, w: w},
		{trace: "web12", values: "fixed", budget: 1 << 20, system: "otter", miss: 0.12, w: w},
		{trace: "web12", values: "fixed", budget: 2 << 20, system: defaultSystem, miss: 0.05, held: 1400000, w: w},
		{trace: "web12", values: "fixed", budget: 2 << 20, system: "otter", miss: 0.1, w: w},
		{trace: "web12", values: "fixed", budget: 4 << 20, system: defaultSystem, miss: math.NaN(), w: w},
		{trace: "web12", values: "fixed", budget: 4 << 20, system: "otter", miss: 0.1, w: w},
		{trace: "web12", values: "variable", budget: 1 << 20, system: defaultSystem, miss: 0.3, held: 900000, w: w},
	}
	type heldJob struct {
		Budget, Limit uint64
		System        string
	}
	var got []heldJob
	for _, j := range heldJobs(jobs) {
		got = append(got, heldJob{j.budget, j.limit, j.system})
	}
	if d := cmp.Diff([]heldJob{{1 << 20, 700000, "otter"}}, got); d != "" {
		t.Errorf("held jobs (-want +got):\n%s", d)
	}
}

// heldBytes counts the key and value bytes of the workload's keys the
// cache holds, and only those.
func TestHeldBytes(t *testing.T) {
	w := harness.Prepare([]uint32{1, 2, 3, 1}, true)
	c, err := core.Open(core.Options{HeapBytes: 1 << 20, SegmentBytes: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	want := 0
	for i, k := range w.Keys[:2] {
		if err := c.Set(k, make([]byte, w.ValueLen[i]), 0); err != nil {
			t.Fatal(err)
		}
		want += len(k) + w.ValueLen[i]
	}
	if got := heldBytes(c, w); got != want {
		t.Errorf("heldBytes = %d, want %d (keys 0 and 1 of %d)", got, want, len(w.Keys))
	}
}
