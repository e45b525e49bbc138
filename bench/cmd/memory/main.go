// Command memory measures memory (§2 of bench/results.md): resident bytes per item
// after inserting 1,000,000 items (16-byte key, 64-byte value) into one
// cache, in a fresh process per system, and the time of a forced GC with
// the items resident.
//
//	memory -system core            one system, in this process: one TSV row
//	memory -all -out mem.tsv       every system, each in a child process
package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"log"
	"math/bits"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/segcache/segcache/bench/harness"
)

// Header is the TSV header the report reads.
const Header = "system\titems\theld\trss_before\trss_after\tbytes_per_item\toverhead_per_item\tgc_ms\tgc_ms_1proc\tnote"

func main() {
	system := flag.String("system", "", "the system to measure in this process")
	all := flag.Bool("all", false, "measure every system, each in a fresh child process")
	items := flag.Int("items", 1_000_000, "items to insert")
	fill := flag.Float64("hashfill", harness.DefaultHashFill, "core: hashtable fill target (see harness.FitSpec)")
	out := flag.String("out", "", "with -all: write the TSV here (default stdout)")
	systems := flag.String("systems", strings.Join(harness.Systems, ","), "with -all: the systems, comma-separated")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("memory: ")
	switch {
	case *all:
		if err := runAll(strings.Split(*systems, ","), *items, *fill, *out); err != nil {
			log.Fatal(err)
		}
	case *system != "":
		row, err := measure(*system, *items, *fill)
		if err != nil {
			log.Fatalf("%s: %v", *system, err)
		}
		fmt.Println(row)
	default:
		log.Fatal("give -system NAME or -all")
	}
}

// SmallTableFill is the fill at which FitSpec gives 1M items 2^20 slots
// instead of 2^21: -all measures core a second time with it, to show the
// memory a smaller table saves and the items it loses.
const SmallTableFill = 0.96

// runAll measures each system in a child process. A system that fails
// gets a row saying so and the others still run; the error is returned
// after the TSV is written.
func runAll(systems []string, items int, fill float64, out string) error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	fmt.Fprintln(&buf, Header)
	var failed []string
	type run struct {
		sys  string
		fill float64
	}
	var runs []run
	for _, sys := range systems {
		runs = append(runs, run{sys, fill})
		if sys == "core" && fill != SmallTableFill {
			runs = append(runs, run{sys, SmallTableFill})
		}
	}
	for _, r := range runs {
		sys := r.sys
		fmt.Fprintf(os.Stderr, "memory: %s ...\n", sys)
		cmd := exec.Command(exe, "-system", sys, "-items", strconv.Itoa(items), "-hashfill", fmt.Sprint(r.fill))
		cmd.Stderr = os.Stderr
		row, err := cmd.Output()
		if err != nil {
			failed = append(failed, sys)
			row = []byte(fmt.Sprintf("%s\t%d\t0\t0\t0\tNaN\tNaN\tNaN\tNaN\tFAILED: %v\n", sys, items, err))
		}
		if r.fill != fill {
			// The variant with the smaller table: label it, keep the rest.
			_, rest, _ := strings.Cut(string(row), "\t")
			row = []byte(fmt.Sprintf("%s (hashfill %g)\t%s", sys, r.fill, rest))
		}
		fmt.Fprintf(os.Stderr, "memory: %s", row)
		buf.Write(row)
	}
	if out == "" {
		_, err = os.Stdout.Write(buf.Bytes())
	} else {
		err = os.WriteFile(out, buf.Bytes(), 0o644)
	}
	if err == nil && len(failed) > 0 {
		err = fmt.Errorf("failed: %s (see stderr)", strings.Join(failed, ", "))
	}
	return err
}

func measure(sys string, items int, fill float64) (string, error) {
	keys := harness.Keys(items, 0)
	val := harness.Value()
	before, err := settledRSS()
	if err != nil {
		return "", err
	}
	spec := harness.FitSpec(items, fill)
	// The caches must hold their own keys: the harness's key set was
	// allocated before the first reading, so a cache that kept views of
	// it (otter, the map) would not be charged for its keys.
	spec.OwnKeys = true
	c, err := harness.Open(sys, spec)
	if err != nil {
		return "", err
	}
	held, err := harness.FillAll(c, keys, val)
	if err != nil {
		return "", err
	}
	after, err := settledRSS()
	if err != nil {
		return "", err
	}
	// A forced GC with the items resident: the median of 11 (the minimum
	// goes in the note), first at the default GOMAXPROCS, then at 1. On
	// this 2-vCPU guest a GC at GOMAXPROCS 2 often waits one 4 ms timer
	// tick to wake a worker on the idle vCPU, whatever the heap; at 1 it
	// does not, which isolates what the cache's heap costs the GC.
	gcs := timeGCs(11)
	procs := runtime.GOMAXPROCS(1)
	gcs1 := timeGCs(11)
	runtime.GOMAXPROCS(procs)
	note := fmt.Sprintf("GC min %.3f ms", ms(gcs[0]))
	if cc := harness.Core(c); cc != nil {
		s := cc.Stats()
		note += fmt.Sprintf("; heap %d MiB in %d segments, hashtable %d KiB (2^%d slots)", s.HeapBytes>>20, s.SegmentsTotal,
			s.HashtableBytes>>10, bits.Len64(s.HashtableBytes/8)-1)
	}
	runtime.KeepAlive(keys)
	runtime.KeepAlive(c)
	per := float64(after-before) / float64(items)
	return fmt.Sprintf("%s\t%d\t%d\t%d\t%d\t%.1f\t%.1f\t%.3f\t%.3f\t%s", sys, items, held, before, after,
		per, per-float64(harness.KeyLen+harness.ValueLen), ms(gcs[len(gcs)/2]), ms(gcs1[len(gcs1)/2]), note), nil
}

// timeGCs times n forced GCs and returns the durations sorted.
func timeGCs(n int) []time.Duration {
	gcs := make([]time.Duration, n)
	for i := range gcs {
		t := time.Now()
		runtime.GC()
		gcs[i] = time.Since(t)
	}
	slices.Sort(gcs)
	return gcs
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// settledRSS collects garbage, returns freed memory to the OS, and reads
// VmRSS in bytes, so that before and after differ by what is live.
func settledRSS() (int64, error) {
	runtime.GC()
	debug.FreeOSMemory()
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10, err
		}
	}
	return 0, errors.New("VmRSS not found in /proc/self/status")
}
