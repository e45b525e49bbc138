package main

import (
	"fmt"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"

	"github.com/segcache/segcache/bench/harness"
	"github.com/segcache/segcache/core"
)

// defaultSystem is the row of core's default policy, the one the targets
// and the README's claims are about.
var defaultSystem = "core/" + core.DefaultPolicy.String()

// hrCell is one replay.
type hrCell struct {
	ratio float64 // NaN when not measured
	note  string
	// requests, refused (sets the cache refused: counted as misses) and
	// wrong (hits that returned another value) of the replay.
	requests, refused, wrong int64
}

// hrTable is one (trace, values) miss-ratio table: system -> budget -> cell.
type hrTable struct {
	trace, values string
	budgets       []uint64
	systems       []string
	cells         map[string]map[uint64]hrCell
}

func loadHitRatio(path string) ([]*hrTable, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	rows, err := tsv(f)
	if err != nil {
		return nil, err
	}
	var tables []*hrTable
	for _, r := range rows {
		var t *hrTable
		for _, x := range tables {
			if x.trace == r["trace"] && x.values == r["values"] {
				t = x
			}
		}
		if t == nil {
			t = &hrTable{trace: r["trace"], values: r["values"], cells: map[string]map[uint64]hrCell{}}
			tables = append(tables, t)
		}
		b, err := strconv.ParseUint(r["budget"], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%s: budget %q", path, r["budget"])
		}
		if !slices.Contains(t.budgets, b) {
			t.budgets = append(t.budgets, b)
		}
		sys := r["system"]
		if t.cells[sys] == nil {
			t.cells[sys] = map[uint64]hrCell{}
			t.systems = append(t.systems, sys)
		}
		v, err := strconv.ParseFloat(r["miss_ratio"], 64)
		if err != nil {
			v = math.NaN()
		}
		c := hrCell{ratio: v, note: r["note"]}
		c.requests, _ = strconv.ParseInt(r["requests"], 10, 64)
		c.refused, _ = strconv.ParseInt(r["set_errors"], 10, 64)
		c.wrong, _ = strconv.ParseInt(r["wrong"], 10, 64)
		t.cells[sys][b] = c
	}
	for _, t := range tables {
		slices.Sort(t.budgets)
	}
	return tables, nil
}

func size(n uint64) string {
	if n >= 1<<20 {
		return fmt.Sprintf("%g MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%g KiB", float64(n)/(1<<10))
}

func pct(x float64) string {
	if math.IsNaN(x) {
		return "n/a"
	}
	return strconv.FormatFloat(100*x, 'f', 2, 64)
}

func hitRatio(w func(string, ...any), path, docs, link string, behind *[]string) error {
	w("## 3. Miss ratio at equal memory\n\n")
	tables, err := loadHitRatio(path)
	if err != nil {
		w("Not measured: %v.\n\n", err)
		return err
	}
	w("Traces: cache2k's `orm-busy` and `web12` (© headissue GmbH, Jens Wilke, CC BY 4.0), replayed cache-aside\n")
	w("(get; on a miss, set; no TTL), 8-byte keys, values fixed 64 B or variable 16 + xxh3(key) %% 1009 B.\n")
	w("The budget is the cache's whole memory: core's HeapBytes + HashtableBytes + the segments' metadata (header and\n")
	w("eviction state, %d B per segment; the hashtable sized for ~80%% fill of the items the heap holds, segments the\n", core.SegmentMetadataBytes)
	w("largest power of two ≤ heap/64 between 4 KiB and 1 MiB, so ≥ 64 segments; the notes give each cell's layout;\n")
	smallest := uint64(math.MaxUint64)
	for _, t := range tables {
		smallest = min(smallest, t.budgets[0])
	}
	w("core's fixed Go heap, up to %d KiB per cache whatever its size (key stripes, stat shards; measured by the bench\n", harness.CoreFixedBytes>>10)
	w("harness's TestCoreFixedBytes; %.0f%% of the smallest budget, %s), is not counted);\n", 100*float64(harness.CoreFixedBytes)/float64(smallest), size(smallest))
	w("freecache, bigcache and fastcache get it as their size;\n")
	w("otter (MaximumWeight) and ristretto (MaxCost) get it as their weight limit with weight = key + value bytes,\n")
	w("which does not count their per-entry overhead and flatters them; ristretto's sets are each followed by\n")
	w("Wait(), because in a replay its asynchronous set buffer drops 30–100%% of them and the figure would\n")
	w("measure that buffer, not its policy. map + RWMutex has no eviction, so it has\n")
	w("no budget and is not in this section. `n/a` = the system cannot be set to that budget (see notes).\n")
	w("A set a cache refuses (freecache refuses items larger than 1/1024 of its size) counts as a miss; the notes\n")
	w("under each table give how many each system refused.\n")
	w("Miss ratio = misses / requests, in %%; lower is better. Target (§7): %s's miss ratio ≤ otter's at every\n", defaultSystem)
	w("budget; the list at the end flags every cell where it is above the best peer.\n\n")
	w("Policies: with no TTL in the traces every item lands in one TTL bucket, so `random_fifo` (oldest segment of\n")
	w("a random bucket) behaves as `fifo`, and `cte` (closest to expiration) has no expiry to rank by (all never\n")
	w("expire) and falls back to its tie-break; `none` never evicts: once full, sets fail and the cache keeps the\n")
	w("first items it saw. They are shown, not excluded, so that the table covers every policy.\n\n")
	for _, t := range tables {
		w("### %s, %s values\n\n| system |", t.trace, t.values)
		for _, b := range t.budgets {
			w(" %s |", size(b))
		}
		w("\n|---|%s\n", strings.Repeat("---|", len(t.budgets)))
		notes := map[string]bool{}
		for _, sys := range t.systems {
			w("| %s |", sys)
			for _, b := range t.budgets {
				c := t.cells[sys][b]
				w(" %s |", pct(c.ratio))
				for _, n := range cellNotes(sys, b, c) {
					notes[sys+": "+n] = true
				}
				if c.wrong > 0 {
					*behind = append(*behind, fmt.Sprintf("miss ratio, %s %s values at %s: %s returned a wrong value on %d hits", t.trace, t.values, size(b), sys, c.wrong))
				}
				if strings.HasPrefix(sys, "core/") && strings.Contains(c.note, "OVER BUDGET") {
					*behind = append(*behind, fmt.Sprintf("miss ratio, %s %s values at %s: %s exceeded the budget during its replay", t.trace, t.values, size(b), sys))
				}
			}
			w("\n")
		}
		// core's default policy and its best policy against the best peer.
		w("| **best peer** |")
		bestPeer := map[uint64]float64{}
		bestPeerName := map[uint64]string{}
		for _, b := range t.budgets {
			best, name := math.NaN(), "—"
			for _, p := range harness.Peers {
				if c, ok := t.cells[p][b]; ok && !math.IsNaN(c.ratio) && (math.IsNaN(best) || c.ratio < best) {
					best, name = c.ratio, p
				}
			}
			bestPeer[b], bestPeerName[b] = best, name
			w(" %s (%s) |", pct(best), name)
		}
		w("\n| **%s ÷ best peer** |", defaultSystem)
		hr := fmt.Sprintf("| %s, %s values |", t.trace, t.values)
		hrHead := "| trace |"
		for _, b := range t.budgets {
			hrHead += " " + size(b) + " |"
			c := t.missRatio(defaultSystem, b)
			w(" %s |", ratio(c/bestPeer[b]))
			hr += fmt.Sprintf(" %s (%s%% vs %s%%) |", ratio(c/bestPeer[b]), pct(c), pct(bestPeer[b]))
			if !(c <= bestPeer[b]) {
				*behind = append(*behind, fmt.Sprintf("miss ratio, %s %s values at %s: %s %s%% vs %s %s%%", t.trace, t.values, size(b), defaultSystem, pct(c), bestPeerName[b], pct(bestPeer[b])))
			}
		}
		// The target is stated against otter (W-TinyLFU) alone.
		w("\n| **%s ÷ otter** |", defaultSystem)
		for _, b := range t.budgets {
			w(" %s |", ratio(t.missRatio(defaultSystem, b)/t.missRatio("otter", b)))
		}
		w("\n\n")
		if t.trace == "orm-busy" {
			if len(headHR) == 0 {
				headHR = append(headHR, hrHead, "|---|"+strings.Repeat("---|", len(t.budgets)))
			}
			headHR = append(headHR, hr)
		}
		var layout []string
		for _, b := range t.budgets {
			if c, ok := t.cells[defaultSystem][b]; ok && c.note != "" {
				layout = append(layout, size(b)+": "+c.note)
			}
		}
		if len(layout) > 0 {
			w("core layout: %s.\n\n", strings.Join(layout, "; "))
		}
		var ns []string
		for n := range notes {
			ns = append(ns, n)
		}
		slices.Sort(ns)
		for _, n := range ns {
			w("- %s\n", n)
		}
		png := fmt.Sprintf("missratio-%s-%s.png", t.trace, t.values)
		if err := plotTable(t, filepath.Join(docs, png)); err != nil {
			return err
		}
		w("\n![miss ratio, %s, %s values](%s%s)\n\n", t.trace, t.values, link, png)
		if t.trace == "orm-busy" && t.values == "variable" {
			headPNG = "docs/" + png
		}
	}
	return nil
}

// cellNotes are what the notes under a §3 table say of one cell: a peer's
// note (n/a and why); of core's note (its layout, given for the default
// policy in the layout line) only what is wrong (over budget, stats that
// disagree, wrong values, a hashtable that grew); and for every system
// but core/none (whose refusals the text explains) the sets it refused,
// which count as misses: freecache, for one, refuses an item larger than
// 1/1024 of its size, which at 512 KiB is most of the variable values.
func cellNotes(sys string, b uint64, c hrCell) []string {
	var notes []string
	if strings.HasPrefix(sys, "core/") {
		for _, part := range strings.Split(c.note, "; ") {
			for _, bad := range []string{"OVER BUDGET", "disagree", "wrong value", "grew"} {
				if strings.Contains(part, bad) {
					notes = append(notes, fmt.Sprintf("at %s: %s", size(b), part))
					break
				}
			}
		}
	} else if strings.HasPrefix(c.note, "n/a") {
		notes = append(notes, c.note) // the same at every budget it applies to
	} else if c.note != "" {
		notes = append(notes, fmt.Sprintf("at %s: %s", size(b), c.note))
	}
	if c.refused > 0 && sys != "core/none" {
		notes = append(notes, fmt.Sprintf("at %s: refused %d sets (%.2f%% of the requests; each counted as a miss)",
			size(b), c.refused, 100*float64(c.refused)/float64(max(c.requests, 1))))
	}
	return notes
}

// missRatio returns a system's miss ratio at budget b, NaN if not measured.
func (t *hrTable) missRatio(sys string, b uint64) float64 {
	if c, ok := t.cells[sys][b]; ok {
		return c.ratio
	}
	return math.NaN()
}

// plotTable draws one miss-ratio curve per system: core's policies solid,
// peers dashed, budget on a log2 axis.
func plotTable(t *hrTable, path string) error {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("Miss ratio, %s trace, %s values (lower is better)", t.trace, t.values)
	p.X.Label.Text = "memory budget (MiB, log scale)"
	p.Y.Label.Text = "miss ratio (%, log scale)"
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = budgetTicks(t.budgets)
	// A log y axis separates the curves that crowd at the bottom (the
	// compulsory misses of a trace are its floor, so every value is > 0).
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = percentTicks{}
	// Fix the x range (a single budget would give an empty range, which a
	// log axis cannot normalize), with a margin on each side.
	p.X.Min = float64(t.budgets[0]) / (1 << 20) / 1.15
	p.X.Max = float64(t.budgets[len(t.budgets)-1]) / (1 << 20) * 1.15
	p.Add(plotter.NewGrid())
	p.Legend.Top = true
	p.Legend.XOffs = -vg.Millimeter
	p.Legend.TextStyle.Font.Size = vg.Points(9)
	for i, sys := range t.systems {
		var pts plotter.XYs
		for _, b := range t.budgets {
			if c := t.cells[sys][b]; !math.IsNaN(c.ratio) && c.ratio > 0 {
				pts = append(pts, plotter.XY{X: float64(b) / (1 << 20), Y: 100 * c.ratio})
			}
		}
		if len(pts) == 0 {
			continue
		}
		l, s, err := plotter.NewLinePoints(pts)
		if err != nil {
			return err
		}
		l.Color = palette[i%len(palette)]
		l.Width = vg.Points(1.5)
		s.Color = l.Color
		s.Shape = plotutil.Shape(i)
		if !strings.HasPrefix(sys, "core/") {
			l.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
		} else if sys == defaultSystem {
			// The default policy stands out: thick and black.
			l.Width = vg.Points(3)
			l.Color = color.Black
			s.Color = l.Color
		}
		p.Add(l, s)
		p.Legend.Add(sys, l, s)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return p.Save(9*vg.Inch, 6*vg.Inch, path)
}

// palette has 13 distinguishable colours (matplotlib's tab10 and three
// lighter ones), one per curve.
var palette = []color.Color{
	rgb(0x1f77b4), rgb(0xff7f0e), rgb(0x2ca02c), rgb(0xd62728), rgb(0x9467bd), rgb(0x8c564b), rgb(0xe377c2),
	rgb(0x7f7f7f), rgb(0xbcbd22), rgb(0x17becf), rgb(0x393b79), rgb(0xff9896), rgb(0x98df8a),
}

func rgb(x uint32) color.Color {
	return color.RGBA{R: uint8(x >> 16), G: uint8(x >> 8), B: uint8(x), A: 255}
}

// percentTicks marks about two steps per factor of two.
type percentTicks struct{}

func (percentTicks) Ticks(min, max float64) []plot.Tick {
	var ts []plot.Tick
	for _, v := range []float64{0.1, 0.2, 0.5, 1, 1.5, 2, 3, 5, 7, 10, 15, 20, 30, 50, 70, 100} {
		if v >= min/1.01 && v <= max*1.01 {
			ts = append(ts, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'g', -1, 64)})
		}
	}
	return ts
}

// budgetTicks labels exactly the measured budgets.
type budgetTicks []uint64

func (bt budgetTicks) Ticks(min, max float64) []plot.Tick {
	var ts []plot.Tick
	for _, b := range bt {
		x := float64(b) / (1 << 20)
		ts = append(ts, plot.Tick{Value: x, Label: strconv.FormatFloat(x, 'g', -1, 64)})
	}
	return ts
}
