package main

import (
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
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
