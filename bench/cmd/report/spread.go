package main

import (
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strings"
)

// spread writes §3b: how much the miss ratio of each of core's policies
// differs between runs of the same replay (bench-hitratio.tsv is run 1,
// bench-hitratio-run<N>.tsv the repeats). A deterministic engine shows 0
// everywhere.
func spread(w func(string, ...any), build string, behind *[]string) error {
	w("### 3b. Run-to-run spread of the replays\n\n")
	paths, _ := filepath.Glob(filepath.Join(build, "bench-hitratio-run*.tsv"))
	slices.Sort(paths)
	paths = append([]string{filepath.Join(build, "bench-hitratio.tsv")}, paths...)
	var runs [][]*hrTable
	for _, p := range paths {
		t, err := loadHitRatio(p)
		if err != nil {
			w("Not measured: %v.\n\n", err)
			return err
		}
		runs = append(runs, t)
	}
	if len(runs) < 2 {
		w("Not measured: only one run of the replay (bench-hitratio-run*.tsv missing).\n\n")
		return fmt.Errorf("%s: no repeated replay", build)
	}
	w("The same replays (trace, values, budget, policy, same configuration) run %d times in separate processes;\n", len(runs))
	w("each cell is max − min of the miss ratios, in percentage points (the replays of one process run in parallel,\n")
	w("as in §3). A deterministic engine gives 0 in every cell. Peers are not shown: §3's cells of the peers whose\n")
	w("replays differ run to run are each the median of several replays (the notes there give the range), the\n")
	w("other peers' a single replay.\n\n")
	worst, worstAt := 0.0, ""
	for _, t := range runs[0] {
		var systems []string
		for _, s := range t.systems {
			if strings.HasPrefix(s, "core/") {
				systems = append(systems, s)
			}
		}
		if len(systems) == 0 {
			continue
		}
		w("**%s, %s values** (points)\n\n| policy |", t.trace, t.values)
		for _, b := range t.budgets {
			w(" %s |", size(b))
		}
		w("\n|---|%s\n", strings.Repeat("---|", len(t.budgets)))
		for _, s := range systems {
			w("| %s |", s)
			for _, b := range t.budgets {
				var xs []float64
				for _, r := range runs {
					for _, rt := range r {
						if rt.trace == t.trace && rt.values == t.values {
							if c, ok := rt.cells[s][b]; ok && !math.IsNaN(c.ratio) {
								xs = append(xs, c.ratio)
							}
						}
					}
				}
				if len(xs) < 2 {
					w(" n/a |")
					continue
				}
				d := 100 * (slices.Max(xs) - slices.Min(xs))
				if d > worst {
					worst, worstAt = d, fmt.Sprintf("%s %s %s %s", t.trace, t.values, size(b), s)
				}
				switch {
				case d == 0:
					w(" 0 |")
				case d < 0.005: // differs, but below the table's precision
					w(" <0.01 |")
				default:
					w(" %.2f |", d)
				}
			}
			w("\n")
		}
		w("\n")
	}
	if worst > 0 {
		w("Largest spread: %.2f points (%s).\n\n", worst, worstAt)
		*behind = append(*behind, fmt.Sprintf("hit ratio: replays are not deterministic (spread up to %.2f points, %s)", worst, worstAt))
	} else {
		w("Every replay gave the same miss ratio in every run.\n\n")
	}
	return nil
}
