// Command hitratio measures the hit ratio (§3 of bench/results.md): the miss ratio of every
// eviction policy of core and of every peer cache at equal memory budgets,
// replaying the real traces cache-aside (get; on a miss, set), with fixed
// 64-byte values and with variable values (16 + xxh3(key) % 1009 bytes).
// It writes one TSV row per (trace, values, budget, system).
//
// The traces are read from -traces, else $SEGCACHE_TRACES, else
// ../shared/traces beside the repository root; they are never copied.
//
//	hitratio -out hr.tsv                      the full run
//	hitratio -limit 20000 -budgets orm-busy=1MiB -out smoke.tsv
//	hitratio -systems core/s3fifo -otter hr.tsv -ratios -out try.tsv
//	                                           iterating on a policy: one
//	                                           policy, otter's figures from
//	                                           an earlier run, and a table
//	                                           of miss ratio ÷ otter's
//
// Core's policies are named core/<policy>; "core" alone is all of them.
package main

import (
	"cmp"
	"errors"
	"flag"
	"fmt"
	"log"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/segcache/segcache/bench/harness"
	"github.com/segcache/segcache/core"
)

// Header is the TSV header the report reads.
const Header = "trace\tvalues\tbudget\tsystem\trequests\tmisses\tmiss_ratio\tset_errors\twrong\tseconds\tnote"

// Policies are core's eviction policies replayed (PolicyDefault is core.DefaultPolicy).
var Policies = []core.Policy{core.PolicyNone, core.PolicyRandom, core.PolicyRandomFIFO, core.PolicyFIFO,
	core.PolicyCTE, core.PolicyUtil, core.PolicyMerge, core.PolicyS3FIFO}

// DefaultBudgets: orm-busy from 1 to 32 MiB (its 76,349 keys take 6 MB
// with fixed values and about 41 MB with variable ones); web12 (13,756
// keys: 1.1 MB fixed, 7.5 MB variable) from 512 KiB, the smallest power of
// two that still gives core 64 segments of its smallest size (4 KiB), to
// 16 MiB.
const DefaultBudgets = "orm-busy=1MiB,2MiB,4MiB,8MiB,16MiB,32MiB;web12=512KiB,1MiB,2MiB,4MiB,8MiB,16MiB"

type job struct {
	trace, values string
	w             *harness.Workload
	budget        uint64
	system        string  // "core/<policy>" or a peer
	miss          float64 // the replay's miss ratio (NaN: not supported)
	// held is the key + value bytes core held at the end of its replay.
	held int
	// limit, if set, is the byte limit a peer gets instead of budget (the
	// -held-out replays: budget still names the cell they compare with).
	limit uint64
	done  atomic.Int64
	start time.Time
}

func main() {
	tracesFlag := flag.String("traces", "", "trace directory (default $"+harness.TracesEnv+" or ../shared/traces beside the repo)")
	budgets := flag.String("budgets", DefaultBudgets, "trace=budget,budget;trace=... (KiB/MiB suffixes)")
	limit := flag.Int("limit", 0, "replay only the first N requests of each trace (0: all)")
	systems := flag.String("systems", "core,"+strings.Join(harness.Peers, ","), "systems (core = every policy of core)")
	values := flag.String("values", "fixed,variable", "value sizes: fixed (64 B), variable (16 + xxh3(key) % 1009 B)")
	jobs := flag.Int("j", runtime.GOMAXPROCS(0)+1, "replays run in parallel (one more than the CPUs: ristretto's replays mostly wait)")
	out := flag.String("out", "", "TSV output (default stdout)")
	ratios := flag.Bool("ratios", false, "print a table of each system's miss ratio ÷ otter's on stderr")
	heldOut := flag.String("held-out", "", "also replay otter, where core's default policy misses more often, with the key + value bytes that policy held as its limit; write those rows here")
	otterTSV := flag.String("otter", "", "with -ratios: otter's miss ratios from this earlier output instead of this run's")
	flag.IntVar(&peerRuns, "peer-runs", 5, "replays of each cell of the peers whose replays differ run to run ("+strings.Join(nondeterministic, ", ")+"); the row is the median one")
	flag.Parse()
	if peerRuns < 1 {
		log.Fatal("-peer-runs must be at least 1")
	}
	log.SetFlags(0)
	log.SetPrefix("hitratio: ")

	dir, err := harness.TracesDir(*tracesFlag)
	if err != nil {
		log.Fatal(err)
	}
	plan, err := parseBudgets(*budgets)
	if err != nil {
		log.Fatal(err)
	}
	var todo []*job
	for _, tb := range plan {
		ids, err := harness.ReadTrace(filepath.Join(dir, tb.trace+".u32be.gz"), *limit)
		if err != nil {
			log.Fatal(err)
		}
		for _, vals := range strings.Split(*values, ",") {
			if vals != "fixed" && vals != "variable" {
				log.Fatalf("unknown -values %q", vals)
			}
			w := harness.Prepare(ids, vals == "variable")
			log.Printf("%s/%s: %d requests, %d keys, values avg %d max %d bytes",
				tb.trace, vals, len(w.Requests), len(w.Keys), w.AvgValue, w.MaxValue)
			for _, b := range tb.budgets {
				for _, sys := range strings.Split(*systems, ",") {
					if sys == "core" {
						for _, p := range Policies {
							todo = append(todo, &job{trace: tb.trace, values: vals, w: w, budget: b, system: "core/" + p.String()})
						}
						continue
					}
					todo = append(todo, &job{trace: tb.trace, values: vals, w: w, budget: b, system: sys})
				}
			}
		}
	}
	rows := run(todo, *jobs)
	if *heldOut != "" {
		again := heldJobs(todo)
		text := Header + "\n" + strings.Join(run(again, *jobs), "")
		if err := os.WriteFile(*heldOut, []byte(text), 0o644); err != nil {
			log.Fatal(err)
		}
	}
	if *ratios {
		otter, err := otterRatios(*otterTSV, todo)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Fprint(os.Stderr, ratioTable(todo, otter))
	}
	text := Header + "\n" + strings.Join(rows, "")
	if *out == "" {
		fmt.Print(text)
	} else if err := os.WriteFile(*out, []byte(text), 0o644); err != nil {
		log.Fatal(err)
	}
}

// nondeterministic are the peers whose replay of the same trace gives a
// different miss ratio from run to run (otter's and ristretto's policies
// act on lossy buffers drained by their own goroutines): by 0.2 points on
// web12 and 0.75 on orm-busy at 1 MiB for otter, 1-2 points for
// ristretto, as much as the gaps §3 reports. Their cells are the median
// of peerRuns replays; the note gives the range.
var nondeterministic = []string{"otter", "ristretto"}

// peerRuns is -peer-runs.
var peerRuns = 5

// runs is how many replays the job's cell takes.
func (j *job) runs() int {
	if slices.Contains(nondeterministic, j.system) {
		return peerRuns
	}
	return 1
}

// cost estimates a job's run time, to start the long ones first: a
// ristretto replay waits for its goroutine on every set.
func (j *job) cost() int {
	w := 1
	switch {
	case j.system == "ristretto":
		w = 8
	case strings.HasPrefix(j.system, "core/"):
		w = 2
	}
	return w * j.runs() * len(j.w.Requests)
}

// run replays the jobs on n workers, longest first, printing progress on
// stderr every 10 s, and returns the TSV rows in job order.
func run(todo []*job, n int) []string {
	rows := make([]string, len(todo))
	order := make([]int, len(todo))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return todo[b].cost() - todo[a].cost() })
	var next, finished atomic.Int64
	var running sync.Map
	stop := make(chan struct{})
	go func() {
		t := time.NewTicker(10 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				var b strings.Builder
				running.Range(func(k, _ any) bool {
					j := k.(*job)
					fmt.Fprintf(&b, "; %s/%s/%s %s at %d/%d", j.trace, j.values, size(j.budget), j.system, j.done.Load(), len(j.w.Requests))
					return true
				})
				log.Printf("%d/%d replays done%s", finished.Load(), len(todo), b.String())
			}
		}
	}()
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			for {
				k := int(next.Add(1)) - 1
				if k >= len(todo) {
					return
				}
				i := order[k]
				j := todo[i]
				running.Store(j, nil)
				rows[i] = replay(j)
				running.Delete(j)
				log.Printf("[%d/%d] %s", finished.Add(1), len(todo), strings.TrimSuffix(rows[i], "\n"))
			}
		})
	}
	wg.Wait()
	close(stop)
	return rows
}

func replay(j *job) string {
	j.start = time.Now()
	head := fmt.Sprintf("%s\t%s\t%d\t%s", j.trace, j.values, j.budget, j.system)
	c, note, err := open(j)
	if err != nil {
		// An unsupported budget is a cell of the table, not a failure.
		if !errors.Is(err, harness.ErrUnsupported) {
			log.Fatalf("%s: %v", head, err)
		}
		j.miss = math.NaN()
		return fmt.Sprintf("%s\t0\t0\tNaN\t0\t0\t0\tn/a: %v\n", head, err)
	}
	r := harness.Replay(c, j.w, func(done int) { j.done.Store(int64(done)) })
	if n := j.runs(); n > 1 {
		// The median of n replays, each on a fresh cache.
		rs := []harness.Result{r}
		for range n - 1 {
			c.Close()
			if c, _, err = open(j); err != nil {
				log.Fatalf("%s: %v", head, err)
			}
			rs = append(rs, harness.Replay(c, j.w, func(done int) { j.done.Store(int64(done)) }))
		}
		var note2 string
		r, note2 = medianResult(rs)
		note += "; " + note2
	}
	j.miss = r.MissRatio()
	if cc := harness.Core(c); cc != nil {
		s := cc.Stats()
		if s.Gets != uint64(r.Requests) || s.Misses != uint64(r.Misses) {
			note += fmt.Sprintf("; core stats disagree: gets %d misses %d", s.Gets, s.Misses)
		}
		j.held = heldBytes(cc, j.w)
		note += fmt.Sprintf("; %d items (%d bytes, key + value %d) at the end", s.Items, s.ItemBytes, j.held)
		if s.HashtableGrowths > 0 {
			note += fmt.Sprintf("; the hashtable grew %d times to %s, retiring %d segments", s.HashtableGrowths, size(s.HashtableBytes), s.SegmentsRetired)
		}
		// The budget is checked at open; a hashtable that grows during the
		// replay must not make the figure one of a larger cache unnoticed.
		if total := memory(s); total > j.budget {
			note += fmt.Sprintf("; OVER BUDGET after the replay: heap + hashtable + segment metadata = %d bytes (hashtable %s)", total, size(s.HashtableBytes))
		}
	}
	c.Close()
	if r.Wrong > 0 {
		note += fmt.Sprintf("; %d hits returned a wrong value", r.Wrong)
	}
	return fmt.Sprintf("%s\t%d\t%d\t%.6f\t%d\t%d\t%.1f\t%s\n", head, r.Requests, r.Misses, r.MissRatio(),
		r.SetErrors, r.Wrong, time.Since(j.start).Seconds(), strings.TrimPrefix(note, "; "))
}

// open builds the job's cache at its budget. Core's memory (heap,
// hashtable, segment metadata) must not exceed the budget: if the engine's
// hashtable is larger than BudgetOptions planned, the heap shrinks by whole
// segments and it reopens.
func open(j *job) (harness.Cache, string, error) {
	avgItem := 8 + 8 + j.w.AvgValue + 4 // header, key, value, mean 8-byte padding
	spec := harness.Spec{
		Bytes:   j.budget,
		Items:   int(j.budget) / (8 + j.w.AvgValue),
		MaxItem: 8 + j.w.MaxValue,
		AvgItem: avgItem,
		// Measure ristretto's policy, not its lossy set buffer.
		SyncSets: true,
	}
	pol, isCore := strings.CutPrefix(j.system, "core/")
	if !isCore {
		if j.limit == 0 {
			c, err := harness.Open(j.system, spec)
			return c, "", err
		}
		spec.Bytes, spec.Items = j.limit, int(j.limit)/(8+j.w.AvgValue)
		c, err := harness.Open(j.system, spec)
		return c, fmt.Sprintf("limit %d bytes of key + value, what %s held at the end of its replay at %s", j.limit, defaultSystem, size(j.budget)), err
	}
	p, err := core.ParsePolicy(pol)
	if err != nil {
		return nil, "", err
	}
	opts, err := harness.BudgetOptions(j.budget, avgItem, 8+8+j.w.MaxValue, p)
	if err != nil {
		return nil, "", err
	}
	for try := 0; ; try++ {
		spec.Core = opts
		c, err := harness.Open("core", spec)
		if err != nil {
			return nil, "", err
		}
		s := harness.Core(c).Stats()
		total := memory(s)
		if total <= j.budget {
			return c, fmt.Sprintf("segments %d x %s, hashtable %s, segment metadata %d B", s.SegmentsTotal,
				size(uint64(opts.SegmentBytes)), size(s.HashtableBytes), s.SegmentsTotal*core.SegmentMetadataBytes), nil
		}
		c.Close()
		over := total - j.budget
		seg := uint64(opts.SegmentBytes)
		drop := (over + seg + core.SegmentMetadataBytes - 1) / (seg + core.SegmentMetadataBytes) * seg
		if try == 3 || drop >= opts.HeapBytes {
			return nil, "", fmt.Errorf("core exceeds the budget by %d bytes with %+v", over, opts)
		}
		opts.HeapBytes -= drop
	}
}

// medianResult returns the replay of median miss ratio among rs (the
// lower middle one of an even count) with a note giving their range; its
// Wrong is the most any replay had.
func medianResult(rs []harness.Result) (harness.Result, string) {
	s := slices.Clone(rs)
	slices.SortStableFunc(s, func(a, b harness.Result) int { return cmp.Compare(a.MissRatio(), b.MissRatio()) })
	m := s[(len(s)-1)/2]
	for _, r := range s {
		m.Wrong = max(m.Wrong, r.Wrong)
	}
	return m, fmt.Sprintf("median of %d replays (miss ratio %.2f%% to %.2f%%)", len(s), 100*s[0].MissRatio(), 100*s[len(s)-1].MissRatio())
}

// defaultSystem names core's default policy, the one the targets are about.
var defaultSystem = "core/" + core.DefaultPolicy.String()

// heldBytes is the key + value bytes of the workload's keys that c holds
// (it reads every key: call it only once the replay is measured).
func heldBytes(c *core.Cache, w *harness.Workload) int {
	n := 0
	var buf []byte
	for i, k := range w.Keys {
		var ok bool
		if buf, ok = c.Get(buf[:0], k); ok {
			n += len(k) + w.ValueLen[i]
		}
	}
	return n
}

// heldJobs returns, for every cell where core's default policy and otter
// were replayed and the default missed more often, an otter replay whose
// weight limit is the key + value bytes the default held at the end:
// both caches then hold the same payload, so what remains between them
// is the policy, not what each is charged per item.
func heldJobs(todo []*job) []*job {
	otter := map[cell]*job{}
	for _, j := range todo {
		if j.system == "otter" {
			otter[cell{j.trace, j.values, j.budget}] = j
		}
	}
	var again []*job
	for _, j := range todo {
		o := otter[cell{j.trace, j.values, j.budget}]
		if j.system != defaultSystem || o == nil || !(j.miss > o.miss) || j.held == 0 {
			continue
		}
		again = append(again, &job{trace: j.trace, values: j.values, w: j.w, budget: j.budget, system: "otter", limit: uint64(j.held)})
	}
	return again
}

// memory is core's whole memory, the figure the budget bounds: the
// segments in use (a table that grew retired some to pay for it), the
// hashtable and every segment's metadata.
func memory(s core.Stats) uint64 {
	seg := s.HeapBytes / max(s.SegmentsTotal, 1)
	return (s.SegmentsTotal-s.SegmentsRetired)*seg + s.HashtableBytes + s.SegmentsTotal*core.SegmentMetadataBytes
}

type traceBudgets struct {
	trace   string
	budgets []uint64
}

func parseBudgets(s string) ([]traceBudgets, error) {
	var plan []traceBudgets
	for _, part := range strings.Split(s, ";") {
		name, list, ok := strings.Cut(part, "=")
		if !ok {
			return nil, fmt.Errorf("budgets: %q is not trace=b1,b2", part)
		}
		tb := traceBudgets{trace: name}
		for _, b := range strings.Split(list, ",") {
			n, err := parseSize(b)
			if err != nil {
				return nil, err
			}
			tb.budgets = append(tb.budgets, n)
		}
		plan = append(plan, tb)
	}
	return plan, nil
}

func parseSize(s string) (uint64, error) {
	mult := uint64(1)
	switch {
	case strings.HasSuffix(s, "KiB"):
		mult, s = 1<<10, strings.TrimSuffix(s, "KiB")
	case strings.HasSuffix(s, "MiB"):
		mult, s = 1<<20, strings.TrimSuffix(s, "MiB")
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("bad size %q", s)
	}
	return n * mult, nil
}

func size(n uint64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%dMiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%dKiB", n>>10)
	}
	return strconv.FormatUint(n, 10)
}
