package main

import (
	"bufio"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
)

// cell names one replay's configuration.
type cell struct {
	trace, values string
	budget        uint64
}

// otterRatios returns otter's miss ratio per cell: from the TSV at path
// (an earlier run of this command) if path is set, else from the jobs.
func otterRatios(path string, todo []*job) (map[cell]float64, error) {
	m := map[cell]float64{}
	if path == "" {
		for _, j := range todo {
			if j.system == "otter" {
				m[cell{j.trace, j.values, j.budget}] = j.miss
			}
		}
		return m, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		r := strings.Split(sc.Text(), "\t")
		if len(r) < 7 || r[3] != "otter" {
			continue
		}
		b, err1 := strconv.ParseUint(r[2], 10, 64)
		x, err2 := strconv.ParseFloat(r[6], 64)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("%s: bad row %q", path, sc.Text())
		}
		m[cell{r[0], r[1], b}] = x
	}
	return m, sc.Err()
}

// ratioTable lays out each system's miss ratio ÷ otter's: one block per
// trace and value mode, one column per budget, otter's own figure (in %)
// first. A dash is a cell without both figures.
func ratioTable(todo []*job, otter map[cell]float64) string {
	type block struct{ trace, values string }
	var blocks []block
	budgets := map[block][]uint64{}
	systems := map[block][]string{}
	miss := map[cell]map[string]float64{}
	for _, j := range todo {
		k, c := block{j.trace, j.values}, cell{j.trace, j.values, j.budget}
		if !slices.Contains(blocks, k) {
			blocks = append(blocks, k)
		}
		if !slices.Contains(budgets[k], j.budget) {
			budgets[k] = append(budgets[k], j.budget)
		}
		if j.system != "otter" && !slices.Contains(systems[k], j.system) {
			systems[k] = append(systems[k], j.system)
		}
		if miss[c] == nil {
			miss[c] = map[string]float64{}
		}
		miss[c][j.system] = j.miss
	}
	var b strings.Builder
	for _, k := range blocks {
		fmt.Fprintf(&b, "%s, %s values: miss ratio ÷ otter's\n%-18s", k.trace, k.values, "budget")
		for _, bud := range budgets[k] {
			fmt.Fprintf(&b, "%9s", size(bud))
		}
		fmt.Fprintf(&b, "\n%-18s", "otter (%)")
		for _, bud := range budgets[k] {
			o, ok := otter[cell{k.trace, k.values, bud}]
			if !ok {
				o = math.NaN()
			}
			fmt.Fprintf(&b, "%9s", figure(100*o, 2))
		}
		for _, sys := range systems[k] {
			fmt.Fprintf(&b, "\n%-18s", sys)
			for _, bud := range budgets[k] {
				c := cell{k.trace, k.values, bud}
				x, ok := miss[c][sys]
				o, ook := otter[c]
				if !ok || !ook {
					x = math.NaN()
				}
				fmt.Fprintf(&b, "%9s", figure(x/o, 3))
			}
		}
		b.WriteString("\n\n")
	}
	return b.String()
}

// figure formats x with prec decimals, or a dash if it is not a number.
func figure(x float64, prec int) string {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return "-"
	}
	return strconv.FormatFloat(x, 'f', prec, 64)
}
