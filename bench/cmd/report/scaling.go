package main

import (
	"fmt"
	"math"
	"runtime"
	"slices"
	"strings"

	"github.com/segcache/segcache/bench/harness"
)

// scaling writes §5: BenchmarkScaling's operations at every goroutine count
// measured, for both key layouts (hot keys side by side in memory, or
// spread), with the speed-up over one goroutine.
func scaling(w func(string, ...any), path string, behind *[]string) error {
	w("## 5. Scaling and key layout (ns/op, aggregate over the goroutines, median of the runs)\n\n")
	b, err := readNamed(w, path)
	if err != nil {
		return err
	}
	res := b.cells
	type cell struct{ layout, sys, op string }
	var cells []cell
	var cpus []int
	for k := range res {
		parts := strings.Split(k.Name, "/")
		if len(parts) != 4 || parts[0] != "Scaling" {
			continue
		}
		c := cell{parts[1], parts[2], parts[3]}
		if !slices.Contains(cells, c) {
			cells = append(cells, c)
		}
		if !slices.Contains(cpus, k.CPU) {
			cpus = append(cpus, k.CPU)
		}
	}
	if len(cells) == 0 {
		w("Not measured: %s holds no results.\n\n", path)
		return fmt.Errorf("%s: no results", path)
	}
	slices.Sort(cpus)
	order := func(list []string, s string) int {
		if i := slices.Index(list, s); i >= 0 {
			return i
		}
		return len(list)
	}
	slices.SortFunc(cells, func(a, b cell) int {
		if a.op != b.op {
			return order(ops, a.op) - order(ops, b.op)
		}
		if a.sys != b.sys {
			return order(harness.Systems, a.sys) - order(harness.Systems, b.sys)
		}
		return strings.Compare(a.layout, b.layout)
	})
	w("`go test -bench Scaling -cpu 1,2,4,8,16 ./throughput` on a machine with the cores shows the whole curve; this\n")
	w("machine has %d, so only up to %d goroutines mean anything here. Layouts: `hot-first` inserts the keys in\n", runtime.NumCPU(), runtime.NumCPU())
	w("popularity order (the hot keys share a few segments and their headers), `shuffled` in an order unrelated\n")
	w("to popularity. Speed-up = ns/op at 1 goroutine ÷ ns/op at the most goroutines measured (%d is perfect).\n\n", cpus[len(cpus)-1])
	w("| operation | system | layout |")
	for _, c := range cpus {
		w(" ×%d |", c)
	}
	w(" speed-up |\n|---|---|---|%s---|\n", strings.Repeat("---|", len(cpus)))
	for _, c := range cells {
		w("| %s | %s | %s |", opTitle[c.op], c.sys, c.layout)
		first, last := math.NaN(), math.NaN()
		for i, cpu := range cpus {
			v := math.NaN()
			if r := res[namedKey{"Scaling/" + c.layout + "/" + c.sys + "/" + c.op, cpu}]; r != nil {
				v = median(r.NsOp)
			}
			if i == 0 {
				first = v
			}
			last = v
			w(" %s |", ns(v))
		}
		w(" %s |\n", ratio(first/last))
	}
	w("\n")
	for _, layout := range []string{"hot-first", "shuffled"} {
		for _, op := range []string{"get-hit", "set"} {
			c := res[namedKey{"Scaling/" + layout + "/core/" + op, cpus[len(cpus)-1]}]
			m := res[namedKey{"Scaling/" + layout + "/map/" + op, cpus[len(cpus)-1]}]
			if c != nil && m != nil && median(c.NsOp) > median(m.NsOp) {
				*behind = append(*behind, fmt.Sprintf("scaling, %s, %s, %d goroutines: core %s ns vs map+RWMutex %s ns",
					opTitle[op], layout, cpus[len(cpus)-1], ns(median(c.NsOp)), ns(median(m.NsOp))))
			}
		}
	}
	return nil
}
