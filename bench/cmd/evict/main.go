// Command evict measures what eviction and expiry cost as the number of
// segments grows: the cost of a set under steady eviction must not depend
// on how many segments the heap has.
//
// Set under eviction: a cache of N segments of 4 KiB (N = 256 ... 65,536)
// receives unique 16-byte keys with 64-byte values: twice its capacity in
// items to reach steady eviction, then a timed window of its capacity
// again or -min-timed sets, whichever is more (ns per set = the window's
// wall time / its sets, key generation included, a few ns). The minimum
// keeps small caches from being timed over a few milliseconds (256
// segments hold 11,776 items), which on a shared machine measured the
// neighbours more than the cache: the 256-segment cells, the denominator
// of the ratio below, spread by ±30% between runs. Every policy, none
// excluded: under `none` the cache stops taking sets once full, so its
// figure is the cost of a refused set (counted in refused_sets). A run
// stops when it exceeds -budget; its timed window is then the second half
// of the sets done since the cache filled, and the row says "truncated"
// (a guard: the victim scans over every segment that this command was
// written against took minutes per run at 65,536 segments).
//
// Runs are interleaved: round r runs every N of a policy once, smallest
// first, and the ratio_to_smallest column is the median over the rounds
// of each round's own ratio (cpu_ratio_to_smallest likewise by CPU time).
// Runs of one cell one after the other, minutes before or after the other
// cell's, measured the drift of the shared machine's speed (±30% over
// minutes) in the ratio of their medians.
//
// Latency: one more run at the largest N times every set of the window
// alone and reports its p99, p99.9 and maximum (wall clock); with
// -cpu-latency, another run does the same with the thread's CPU clock
// (cpu_* columns), which leaves out the time the thread waited for a core:
// on a loaded machine that wait, not the set, makes most of the wall
// clock's tail. Reading that clock is a system call (~0.6 µs in a VM, in
// every figure), and the thread is still charged for interrupts and, in a
// VM, for time the host ran something else: on the 2-vCPU guest this was
// written on (load 13), two back-to-back reads differed by 9.9 µs at
// p99.9, and the `none` row's CPU-clock p99.9 was 15.7 µs against 1.2 µs
// by the wall clock. So it is off by default: a cross-check, not the
// figure.
//
// Expiry: at the smallest and the largest N, a cache filled to 90% with
// items that never expire gets one segment of items with a 5 ms TTL; once
// they are past it, one Expire() call is timed (it must free exactly that
// segment, checked through Stats), then a second Expire() with nothing
// left to expire. Medians of -expire-runs rounds.
//
//	evict -out build/bench-evict.tsv -expire-out build/bench-expire.tsv
//	evict -segments 256,1024 -policies merge -runs 1 -out smoke.tsv ...
package main

import (
	"errors"
	"flag"
	"fmt"
	"log"
	"math"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/segcache/segcache/bench/harness"
	"github.com/segcache/segcache/core"
)

// EvictHeader and ExpireHeader are the TSV headers the report reads.
const (
	EvictHeader  = "policy\tsegments\truns\tns_per_set\tns_min\tns_max\ttruncated_runs\tsets_timed\trefused_sets\tp99_ns\tp999_ns\tmax_ns\tnote\tcpu_p99_ns\tcpu_p999_ns\tcpu_max_ns\tcpu_ns_per_set\tratio_to_smallest\tcpu_ratio_to_smallest"
	ExpireHeader = "segments\trounds\texpire_one_ns\texpire_none_ns\tnote"
)

// itemBytes is what an item takes in a segment: an 8-byte header, the key
// and the value (8-aligned).
const itemBytes = 8 + harness.KeyLen + harness.ValueLen

// Policies are every eviction policy of core (PolicyDefault is core.DefaultPolicy).
var Policies = []core.Policy{core.PolicyNone, core.PolicyRandom, core.PolicyRandomFIFO, core.PolicyFIFO,
	core.PolicyCTE, core.PolicyUtil, core.PolicyMerge, core.PolicyS3FIFO}

func main() {
	segList := flag.String("segments", "256,1024,4096,16384,65536", "segment counts, comma-separated")
	segBytes := flag.Uint("segbytes", 4096, "segment size in bytes")
	policies := flag.String("policies", "all", "policies, comma-separated, or all")
	runs := flag.Int("runs", 5, "runs per (policy, segments); 3 when a cell's first run is truncated")
	budget := flag.Duration("budget", 8*time.Second, "longest run; a longer one is cut and marked truncated")
	minTimed := flag.Int("min-timed", 1_000_000, "fewest sets in a run's timed window (it is the cache's capacity in items if that is more)")
	latency := flag.Bool("latency", true, "time each set of one extra run at the largest segment count")
	cpuLatency := flag.Bool("cpu-latency", false, "with -latency, time each set of another run with the thread's CPU clock (Linux)")
	expireRuns := flag.Int("expire-runs", 21, "expiry rounds at the smallest and largest segment count (0: none)")
	out := flag.String("out", "", "TSV of the set costs (default stdout)")
	expireOut := flag.String("expire-out", "", "TSV of the expiry costs (default stdout after the set costs)")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("evict: ")

	var segs []int
	for _, s := range strings.Split(*segList, ",") {
		n, err := strconv.Atoi(s)
		if err != nil || n < 2 {
			log.Fatalf("bad -segments entry %q", s)
		}
		segs = append(segs, n)
	}
	slices.Sort(segs)
	pols := Policies
	if *policies != "all" {
		pols = nil
		for _, s := range strings.Split(*policies, ",") {
			p, err := core.ParsePolicy(s)
			if err != nil {
				log.Fatal(err)
			}
			pols = append(pols, p)
		}
	}

	rows := []string{EvictHeader}
	for _, p := range pols {
		cfgs := make([]config, len(segs))
		for i, n := range segs {
			cfgs[i] = config{policy: p, segments: n, segBytes: uint32(*segBytes), budget: *budget, minTimed: *minTimed}
		}
		rows = append(rows, measurePolicy(cfgs, *runs, *latency, *cpuLatency)...)
	}
	text := strings.Join(rows, "\n") + "\n"
	var expText string
	if *expireRuns > 0 {
		erows := []string{ExpireHeader}
		for _, n := range []int{segs[0], segs[len(segs)-1]} {
			erows = append(erows, measureExpire(config{policy: core.PolicyDefault, segments: n, segBytes: uint32(*segBytes)}, *expireRuns))
			if len(segs) == 1 {
				break
			}
		}
		expText = strings.Join(erows, "\n") + "\n"
	}
	write(*out, text)
	if *expireOut != "" || *out == "" {
		write(*expireOut, expText)
	}
}

func write(path, text string) {
	if text == "" {
		return
	}
	if path == "" {
		fmt.Print(text)
		return
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		log.Fatal(err)
	}
}

type config struct {
	policy   core.Policy
	segments int
	segBytes uint32
	budget   time.Duration
	minTimed int // fewest sets timed per run
}

// capacity is how many items the heap holds: items never straddle segments.
func (c config) capacity() int { return c.segments * int(c.segBytes/itemBytes) }

// window is how many sets a run times, after twice the capacity.
func (c config) window() int { return max(c.capacity(), c.minTimed) }

// open builds the cache: the heap of c.segments segments, and a hashtable
// with at least 1.25 slots per item the heap can hold, so that the table
// never limits the cache before its memory does.
func (c config) open() (*core.Cache, error) {
	hp := uint32(7)
	for uint64(1)<<hp*4 < uint64(c.capacity())*5 {
		hp++
	}
	return core.Open(core.Options{HeapBytes: uint64(c.segments) * uint64(c.segBytes), SegmentBytes: c.segBytes, HashPower: hp, Eviction: c.policy})
}

// runResult is one run's timed window.
type runResult struct {
	ns        float64 // per set
	cpuNs     float64 // the process's CPU time per set (NaN where it cannot be read)
	sets      int
	refused   int
	truncated bool
	lat       []uint32 // per-set ns, if asked
}

// latencyClock is what a latency run times each set with.
type latencyClock int

const (
	noLatency latencyClock = iota
	wallClock
	cpuClock
)

// checkEvery is how often (in sets) a run records its progress: the timed
// window of a truncated run starts at such a checkpoint (or where the heap
// filled, also recorded), so that it never includes the filling.
const checkEvery = 1024

// run sets 2 × capacity unique keys, then times cfg.window() more (or, when
// the budget cuts the run, the second half of the sets done after the
// heap filled). With a clock, every set of the window is timed alone.
func run(cfg config, clock latencyClock) (runResult, error) {
	lat := clock != noLatency
	if clock == cpuClock {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
	}
	c, err := cfg.open()
	if err != nil {
		return runResult{}, err
	}
	defer c.Close()
	capItems := cfg.capacity()
	total := 2*capItems + cfg.window()
	val := harness.Value()
	k := make([]byte, harness.KeyLen)
	type mark struct {
		i       int
		t       time.Time
		cpu     int64 // the process's CPU time, ns
		refused int
	}
	var marks []mark
	var lats []uint32
	refused := 0
	start := time.Now()
	deadline := start.Add(cfg.budget)
	i := 0
	for ; i < total; i++ {
		if i%checkEvery == 0 || i == capItems || i == 2*capItems {
			now := time.Now()
			marks = append(marks, mark{i, now, processCPU(), refused})
			if i > capItems && now.After(deadline) {
				break
			}
		}
		harness.PutKey(k, uint64(i))
		// Latencies are kept from the first eviction on (index i-capItems),
		// since a truncated run's window starts before the timed window.
		var t0 time.Time
		var c0 int64
		timed := lat && i >= capItems
		switch {
		case timed && clock == cpuClock:
			c0 = threadCPU()
		case timed:
			t0 = time.Now()
		}
		err := c.Set(k, val, 0)
		switch {
		case timed && clock == cpuClock:
			lats = append(lats, uint32(min(max(threadCPU()-c0, 0), math.MaxUint32)))
		case timed:
			lats = append(lats, uint32(min(time.Since(t0).Nanoseconds(), math.MaxUint32)))
		}
		if err != nil {
			if !errors.Is(err, core.ErrNoSpace) {
				return runResult{}, fmt.Errorf("set %d: %w", i, err)
			}
			refused++
		}
	}
	end := mark{i, time.Now(), processCPU(), refused}
	from := 2 * capItems
	var res runResult
	if i < total {
		// Cut by the budget: the second half of what ran since the heap filled.
		res.truncated = true
		from = capItems + (i-capItems)/2
	}
	var m0 mark
	for _, m := range marks {
		if m.i <= from {
			m0 = m
		}
	}
	if end.i <= m0.i {
		return runResult{}, fmt.Errorf("no sets in the timed window (budget %v too small)", cfg.budget)
	}
	res.sets = end.i - m0.i
	if lat {
		res.lat = lats[m0.i-capItems:]
	}
	res.refused = end.refused - m0.refused
	res.ns = float64(end.t.Sub(m0.t).Nanoseconds()) / float64(res.sets)
	res.cpuNs = math.NaN()
	if processCPUAvailable {
		res.cpuNs = float64(end.cpu-m0.cpu) / float64(res.sets)
	}
	return res, nil
}

// cell collects the runs of one (policy, segments).
type cell struct {
	cfg       config
	runs      int       // runs still to make (fewer once the first is truncated)
	ns, cpuNs []float64 // per run, in round order
	round     []int     // the round of each run
	truncated int
	sets      int
	refused   int
	note      []string
	failed    bool
}

// measurePolicy measures one policy at every segment count of cfgs
// (ascending) and returns a row per count. The runs are interleaved:
// round r runs every count once, smallest first, then round r+1, so that
// the ratio of a count to the smallest compares runs made seconds apart
// instead of minutes. On a shared machine whose speed drifts by ±30%
// over minutes, the ratio of two medians taken at different times
// measured the drift as much as the cache; the ratio_to_smallest column
// is the median over rounds of each round's own ratio. The latency runs
// come last, at the largest count.
func measurePolicy(cfgs []config, runs int, latency, cpuLatency bool) []string {
	cells := make([]*cell, len(cfgs))
	for i, cfg := range cfgs {
		cells[i] = &cell{cfg: cfg, runs: runs}
	}
	for r := 0; r < runs; r++ {
		for _, c := range cells {
			if c.failed || r >= c.runs {
				continue
			}
			res, err := run(c.cfg, noLatency)
			runtime.GC()
			if err != nil {
				log.Printf("%s, %d segments: %v", c.cfg.policy, c.cfg.segments, err)
				c.note = append(c.note, err.Error())
				c.failed = true
				continue
			}
			c.ns, c.cpuNs, c.round = append(c.ns, res.ns), append(c.cpuNs, res.cpuNs), append(c.round, r)
			c.sets += res.sets
			c.refused += res.refused
			if res.truncated {
				c.truncated++
				if r == 0 {
					c.runs = min(c.runs, 3) // a truncated cell costs the budget each run
				}
			}
		}
	}
	rows := make([]string, len(cells))
	for i, c := range cells {
		last := i == len(cells)-1
		rows[i] = c.row(cells[0], latency && last, cpuLatency && last)
	}
	return rows
}

// pairedRatio is the median over the rounds both cells ran of c's figure
// ÷ base's figure in the same round (NaN if they share no round).
func pairedRatio(c, base *cell, fig func(*cell) []float64) float64 {
	var rs []float64
	for i, r := range c.round {
		if j := slices.Index(base.round, r); j >= 0 {
			rs = append(rs, fig(c)[i]/fig(base)[j])
		}
	}
	if len(rs) == 0 {
		return math.NaN()
	}
	return harness.Median(rs)
}

// row is c's TSV row, with its ratios to base (the smallest count) and,
// if asked, the latency runs.
func (c *cell) row(base *cell, latency, cpuLatency bool) string {
	p99, p999, pmax := "-", "-", "-"
	cp99, cp999, cpmax := "-", "-", "-"
	if latency && !c.failed {
		p99, p999, pmax = latencyRun(c.cfg, wallClock, &c.note)
		if cpuLatency && p999 != "-" {
			cp99, cp999, cpmax = latencyRun(c.cfg, cpuClock, &c.note)
		}
	}
	if c.truncated > 0 {
		c.note = append(c.note, fmt.Sprintf("truncated: %d of %d runs hit the %v budget", c.truncated, len(c.ns), c.cfg.budget))
	}
	med, lo, hi, cpuMed := math.NaN(), math.NaN(), math.NaN(), math.NaN()
	if len(c.ns) > 0 {
		med, lo, hi, cpuMed = harness.Median(c.ns), slices.Min(c.ns), slices.Max(c.ns), harness.Median(c.cpuNs)
	}
	wall := pairedRatio(c, base, func(c *cell) []float64 { return c.ns })
	cpu := pairedRatio(c, base, func(c *cell) []float64 { return c.cpuNs })
	log.Printf("%s, %d segments: %.0f ns/set (%d runs), %.2f x %d segments", c.cfg.policy, c.cfg.segments, med, len(c.ns), wall, base.cfg.segments)
	return fmt.Sprintf("%s\t%d\t%d\t%.1f\t%.1f\t%.1f\t%d\t%d\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%.1f\t%.3f\t%.3f",
		c.cfg.policy, c.cfg.segments, len(c.ns), med, lo, hi, c.truncated, c.sets, c.refused, p99, p999, pmax,
		strings.Join(c.note, "; "), cp99, cp999, cpmax, cpuMed, wall, cpu)
}

// latencyRun times every set of one run's window with clock and returns
// its p99, p99.9 and maximum in ns ("-" on failure, noted).
func latencyRun(cfg config, clock latencyClock, note *[]string) (p99, p999, pmax string) {
	name := map[latencyClock]string{wallClock: "latency run", cpuClock: "cpu latency run"}[clock]
	res, err := run(cfg, clock)
	runtime.GC()
	if err != nil {
		*note = append(*note, name+": "+err.Error())
		return "-", "-", "-"
	}
	if res.truncated {
		*note = append(*note, name+" truncated")
	}
	l := res.lat
	if len(l) == 0 {
		return "-", "-", "-"
	}
	slices.Sort(l)
	q := func(p float64) string { return strconv.Itoa(int(l[min(len(l)-1, int(p*float64(len(l))))])) }
	return q(0.99), q(0.999), strconv.Itoa(int(l[len(l)-1]))
}

// measureExpire times Expire() with exactly one expired segment among
// cfg.segments, and with none.
func measureExpire(cfg config, rounds int) string {
	c, err := cfg.open()
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	val := harness.Value()
	k := make([]byte, harness.KeyLen)
	next := uint64(0)
	// 90% full of items that never expire: no eviction below.
	for n := cfg.capacity() * 9 / 10; next < uint64(n); next++ {
		harness.PutKey(k, next)
		if err := c.Set(k, val, 0); err != nil {
			log.Fatalf("fill: %v", err)
		}
	}
	// Fewer items than a segment holds, so that they fill one segment.
	perSeg := int(cfg.segBytes/itemBytes) - 2
	var one, none []float64
	bad := 0
	for r := 0; r < rounds && bad < rounds; r++ {
		for j := 0; j < perSeg; j++ {
			harness.PutKey(k, next)
			next++
			if err := c.Set(k, val, 5*time.Millisecond); err != nil {
				log.Fatalf("set with TTL: %v", err)
			}
		}
		time.Sleep(25 * time.Millisecond)
		before := c.Stats().ExpiredSegments
		t0 := time.Now()
		if err := c.Expire(); err != nil {
			log.Fatal(err)
		}
		d := time.Since(t0)
		freed := c.Stats().ExpiredSegments - before
		t1 := time.Now()
		c.Expire()
		d0 := time.Since(t1)
		if freed != 1 {
			// The TTL's segment was not (only) what expired: do not count it.
			bad++
			r--
			log.Printf("%d segments: Expire freed %d segments, want 1; round not counted", cfg.segments, freed)
			continue
		}
		one = append(one, float64(d.Nanoseconds()))
		none = append(none, float64(d0.Nanoseconds()))
	}
	note := ""
	if bad > 0 {
		note = fmt.Sprintf("%d rounds not counted: Expire did not free exactly one segment", bad)
	}
	log.Printf("expire, %d segments: %.0f ns with one expired segment, %.0f ns with none", cfg.segments, harness.Median(one), harness.Median(none))
	return fmt.Sprintf("%d\t%d\t%.0f\t%.0f\t%s", cfg.segments, len(one), harness.Median(one), harness.Median(none), note)
}
