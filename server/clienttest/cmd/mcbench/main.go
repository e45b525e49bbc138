// Command mcbench measures segcached against memcached with one load
// generator: many connections, pipelined gets and sets, Zipf-distributed
// keys. It starts each server itself (a fresh process per run, the two
// systems alternating run by run so that machine load hits both alike),
// and reports median throughput, p50/p99 latency and resident memory per
// item as a Markdown section. Each configuration runs with the server and
// the generator sharing every CPU and, where there are CPUs to spare, with
// the server pinned to its own (-placement).
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

type config struct {
	segcached, memcached, out string
	runs                      int
	threads, depths           []int
	placements                []string
	allowed                   []int // the CPUs this process may use, at start
	w                         workload
	memItems                  int
	memRuns                   int
	memArgs                   []string // segcached's flags for the memory runs
	skipThroughput            bool
}

// server is a running cache server process.
type server struct {
	name string
	cmd  *exec.Cmd
	addr string
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// start launches system ("memcached" or "segcached") with threads server
// threads and memMiB of item memory; extra flags go to segcached only.
// cpus, when not empty, confines the server to those CPUs (taskset -c).
func (cfg *config) start(system string, threads, memMiB int, cpus string, extra ...string) (*server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	p := strconv.Itoa(port)
	var cmd *exec.Cmd
	switch system {
	case "memcached":
		args := []string{"-l", "127.0.0.1", "-p", p, "-U", "0", "-t", strconv.Itoa(threads), "-m", strconv.Itoa(memMiB), "-c", "4096"}
		if os.Getuid() == 0 {
			args = append(args, "-u", "root")
		}
		cmd = exec.Command(cfg.memcached, args...)
	case "segcached":
		args := append([]string{"-l", "127.0.0.1", "-p", p, "-t", strconv.Itoa(threads), "-m", strconv.Itoa(memMiB), "-c", "4096", "-log-level", "warn"}, extra...)
		cmd = exec.Command(cfg.segcached, args...)
	}
	if cpus != "" {
		// taskset sets the affinity and execs the server: every thread
		// the server starts inherits it, and the pid stays the server's.
		cmd = exec.Command("taskset", append([]string{"-c", cpus, cmd.Path}, cmd.Args[1:]...)...)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &server{name: system, cmd: cmd, addr: net.JoinHostPort("127.0.0.1", p)}
	deadline := time.Now().Add(60 * time.Second)
	for {
		nc, err := net.Dial("tcp", s.addr)
		if err == nil {
			nc.Close()
			return s, nil
		}
		if time.Now().After(deadline) {
			s.stop()
			return nil, fmt.Errorf("%s did not listen on %s: %v", system, s.addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (s *server) stop() {
	s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		s.cmd.Process.Kill()
		<-done
	}
}

// rss returns the process's resident set in bytes.
func (s *server) rss() (int64, error) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(s.cmd.Process.Pid), "status"))
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, err := strconv.ParseInt(f[1], 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no VmRSS for pid %d", s.cmd.Process.Pid)
}

// cpuTime returns the CPU time the process has used (user + system, all
// its threads, at the kernel's 100 Hz tick).
func (s *server) cpuTime() (time.Duration, error) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(s.cmd.Process.Pid), "stat"))
	if err != nil {
		return 0, err
	}
	// The fields after the command name, which may hold spaces, start
	// with the state (field 3): utime and stime are fields 14 and 15.
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("short /proc/%d/stat", s.cmd.Process.Pid)
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	k, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return time.Duration(u+k) * 10 * time.Millisecond, nil
}

// stats returns the server's "stats" as name → value.
func (s *server) stats() (map[string]string, error) {
	nc, err := net.Dial("tcp", s.addr)
	if err != nil {
		return nil, err
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(30 * time.Second))
	fmt.Fprintf(nc, "stats\r\n")
	r := bufio.NewReader(nc)
	m := map[string]string{}
	for {
		l, err := r.ReadString('\n')
		if err != nil {
			return nil, err
		}
		if l == "END\r\n" {
			return m, nil
		}
		if f := strings.Fields(l); len(f) == 3 && f[0] == "STAT" {
			m[f[1]] = f[2]
		}
	}
}

// statInt returns stat name as an integer, or an error naming it.
func statInt(st map[string]string, name string) (int64, error) {
	n, err := strconv.ParseInt(st[name], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("stat %s: %q", name, st[name])
	}
	return n, nil
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Join(strings.Fields(string(b))[:3], " ")
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func main() {
	var cfg config
	var threads, depths string
	flag.StringVar(&cfg.segcached, "segcached", "", "path of the segcached binary")
	flag.StringVar(&cfg.memcached, "memcached", "memcached", "path of the memcached binary")
	flag.StringVar(&cfg.out, "out", "", "write the Markdown section here (default: stdout only)")
	flag.IntVar(&cfg.runs, "runs", 5, "runs per system and thread count (medians reported)")
	flag.StringVar(&threads, "threads", "1,2", "server thread counts to measure")
	flag.IntVar(&cfg.w.conns, "conns", 50, "client connections")
	flag.StringVar(&depths, "depths", "16,1", "requests pipelined per connection round trip (each measured)")
	placements := flag.String("placement", "shared,pinned", "where server and generator run: shared (both anywhere) and/or pinned (the server on the first threads CPUs this process may use, the generator on the others; only when there are more CPUs than server threads)")
	flag.IntVar(&cfg.w.keys, "keys", 100_000, "key space of the throughput runs (all preloaded)")
	flag.IntVar(&cfg.w.valueLen, "value", 64, "value bytes (keys are 16 bytes)")
	flag.Float64Var(&cfg.w.getRatio, "get-ratio", 0.9, "share of gets")
	flag.Float64Var(&cfg.w.zipfS, "zipf", 1.01, "Zipf exponent of key popularity (> 1)")
	flag.DurationVar(&cfg.w.duration, "duration", 5*time.Second, "measuring time per run")
	flag.IntVar(&cfg.memItems, "mem-items", 1_000_000, "items loaded for the memory measurement")
	flag.IntVar(&cfg.memRuns, "mem-runs", 3, "memory runs per system (medians reported)")
	memArgs := flag.String("mem-args", "-m 128", "segcached's flags for the memory runs (memcached gets -m 1024)")
	flag.BoolVar(&cfg.skipThroughput, "memory-only", false, "measure only the memory per item")
	against := flag.String("against", "", "drive the server at this address (preloaded by the caller) once and print the result; for profiling")
	flag.Parse()
	if *against != "" {
		w := cfg.w
		w.addr, w.depth = *against, intList("depths", depths)[0]
		out, err := run(w)
		if err != nil {
			fmt.Fprintln(os.Stderr, "mcbench:", err)
			os.Exit(1)
		}
		fmt.Printf("%.0f ops/s p50 %.0fµs p99 %.0fµs (%d ops, hits %d misses %d)\n", out.OpsPerSec, out.P50us, out.P99us, out.Ops, out.Hits, out.Misses)
		return
	}
	if cfg.segcached == "" {
		fmt.Fprintln(os.Stderr, "mcbench: -segcached is required")
		os.Exit(2)
	}
	cfg.threads = intList("threads", threads)
	cfg.depths = intList("depths", depths)
	cfg.memArgs = strings.Fields(*memArgs)
	for _, p := range strings.Split(*placements, ",") {
		if p != "shared" && p != "pinned" {
			fmt.Fprintf(os.Stderr, "mcbench: bad -placement %q\n", *placements)
			os.Exit(2)
		}
		cfg.placements = append(cfg.placements, p)
	}
	if slices.Contains(cfg.placements, "pinned") {
		allowed, err := allowedCPUs()
		if err != nil {
			fmt.Fprintln(os.Stderr, "mcbench:", err)
			os.Exit(1)
		}
		cfg.allowed = allowed
	}
	md, err := cfg.measure()
	if err != nil {
		fmt.Fprintln(os.Stderr, "mcbench:", err)
		os.Exit(1)
	}
	fmt.Print(md)
	if cfg.out != "" {
		if err := os.WriteFile(cfg.out, []byte(md), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "mcbench:", err)
			os.Exit(1)
		}
	}
}

// intList parses a comma-separated list of positive integers or exits.
func intList(name, s string) []int {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 {
			fmt.Fprintf(os.Stderr, "mcbench: bad -%s %q\n", name, s)
			os.Exit(2)
		}
		out = append(out, n)
	}
	return out
}

var systems = []string{"memcached", "segcached"}

func (cfg *config) measure() (string, error) {
	var b strings.Builder
	loadBefore := loadavg()
	version, _ := exec.Command(cfg.memcached, "-V").Output()
	w := cfg.w
	fmt.Fprintf(&b, "## segcached vs memcached (memcached protocol, same load generator)\n\n")
	fmt.Fprintf(&b, "`make bench-server` (server/clienttest/cmd/mcbench): %s against segcached %s on the same machine (%d CPUs), "+
		"one fresh server process per run, the two alternating run by run. Load generator: %d connections, each sending its "+
		"requests in pipelined batches (depth: requests per round trip), %.0f%% gets / %.0f%% sets, %d keys of 16 bytes (all preloaded) with Zipf(%.2f) popularity, %d-byte values, "+
		"%v per run; medians of %d runs; the ratios compare medians of runs interleaved in time. Latency is per request, from the send of its pipelined batch to its reply. "+
		"Server CPU per request is the server process's user+system time over the run (all its threads) divided by the requests answered: "+
		"unlike ops/s it does not depend on how much of the machine the generator and other processes took. "+
		"Placement: *shared* lets the server and the generator run on any CPU, competing for them (with 2 CPUs and a 1-thread server "+
		"the kernel then often preempts the server for the generator, and the p99 measures that arbitration as much as the server); "+
		"*pinned* runs the server under taskset on as many CPUs as it has threads and the generator on the others (GOMAXPROCS = their number), "+
		"and exists only where the machine has more CPUs than server threads. "+
		"segcached runs its default I/O model (`-event-loops 0`): with 1 thread one event loop serves every text connection, "+
		"as memcached's worker thread does; with 2 threads a goroutine serves each connection. Load average before: %s.\n\n",
		strings.TrimSpace(string(version)), "(this tree)", numCPU(), w.conns, 100*w.getRatio, 100*(1-w.getRatio), w.keys, w.zipfS, w.valueLen, w.duration, cfg.runs, loadBefore)

	if cfg.skipThroughput {
		cfg.depths = nil
	}
	if len(cfg.depths) > 0 {
		fmt.Fprintf(&b, "| depth | server threads | placement | system | ops/s | ops/s range | p50 µs | p99 µs | server CPU µs/op | throughput vs memcached | p99 vs memcached | CPU/op vs memcached |\n")
		fmt.Fprintf(&b, "|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	}
	type agg struct {
		ops, p50, p99, cpu []float64
		hits, misses       uint64
	}
	var missNotes []string
	var verdicts []string
	for _, depth := range cfg.depths {
		w.depth = depth
		for _, t := range cfg.threads {
			for _, place := range cfg.placements {
				serverCPUs, genCPUs, ok := placement(place, t, cfg.allowed)
				if !ok {
					continue
				}
				res := map[string]*agg{"memcached": {}, "segcached": {}}
				for r := range cfg.runs {
					order := systems
					if r%2 == 1 {
						order = []string{"segcached", "memcached"}
					}
					for _, sys := range order {
						out, cpuPerOp, err := cfg.throughputRun(sys, t, serverCPUs, genCPUs, w)
						if err != nil {
							return "", fmt.Errorf("%s, depth %d, %d threads, %s, run %d: %w", sys, depth, t, place, r, err)
						}
						fmt.Fprintf(os.Stderr, "mcbench: depth=%d threads=%d %s %s run %d: %.0f ops/s p50 %.0fµs p99 %.0fµs cpu %.2fµs/op (hits %d misses %d)\n",
							depth, t, place, sys, r, out.OpsPerSec, out.P50us, out.P99us, cpuPerOp, out.Hits, out.Misses)
						a := res[sys]
						a.ops = append(a.ops, out.OpsPerSec)
						a.p50 = append(a.p50, out.P50us)
						a.p99 = append(a.p99, out.P99us)
						a.cpu = append(a.cpu, cpuPerOp)
						a.hits += out.Hits
						a.misses += out.Misses
					}
				}
				for _, sys := range systems {
					if n := missNote(sys, res[sys].hits, res[sys].misses); n != "" {
						missNotes = append(missNotes, fmt.Sprintf("depth %d, %d thread(s), %s: %s", depth, t, place, n))
					}
				}
				mc, sc := res["memcached"], res["segcached"]
				tput := median(sc.ops) / median(mc.ops)
				p99 := median(sc.p99) / median(mc.p99)
				cpu := median(sc.cpu) / median(mc.cpu)
				fmt.Fprintf(&b, "| %d | %d | %s | memcached | %.0f | %.0f–%.0f | %.0f | %.0f | %.2f | | | |\n", depth, t, place, median(mc.ops), slices.Min(mc.ops), slices.Max(mc.ops), median(mc.p50), median(mc.p99), median(mc.cpu))
				fmt.Fprintf(&b, "| %d | %d | %s | segcached | %.0f | %.0f–%.0f | %.0f | %.0f | %.2f | **%.2f×** | **%.2f×** | %.2f× |\n", depth, t, place, median(sc.ops), slices.Min(sc.ops), slices.Max(sc.ops), median(sc.p50), median(sc.p99), median(sc.cpu), tput, p99, cpu)
				verdicts = append(verdicts, fmt.Sprintf("depth %d, %d thread(s), %s: throughput %.2f× (target ≥ 1.0×: %s), p99 %.2f× (target ≤ 1.2×: %s)",
					depth, t, place, tput, met(tput >= 1.0), p99, met(p99 <= 1.2)))
			}
		}
	}

	if len(cfg.depths) > 0 {
		if len(missNotes) == 0 {
			fmt.Fprintf(&b, "\nEvery get of every run hit (all keys are preloaded and the servers hold them all).\n")
		} else {
			fmt.Fprintf(&b, "\n**Gets that missed** (every key is preloaded, so a miss is an item lost; a miss is cheaper than a hit): %s.\n", strings.Join(missNotes, "; "))
		}
	}

	memRatio, err := cfg.measureMemory(&b)
	if err != nil {
		return "", err
	}
	verdicts = append(verdicts, fmt.Sprintf("memory per item %.2f× memcached's (target ≤ 0.6×: %s)", memRatio, met(memRatio <= 0.6)))
	fmt.Fprintf(&b, "\nAgainst the targets: %s. Load average after: %s.\n", strings.Join(verdicts, "; "), loadavg())
	return b.String(), nil
}

// placement returns where a run of a server with threads threads goes,
// given the CPUs this process may use: "shared" leaves both the server and
// the load generator free to run on any of them (they compete); "pinned"
// gives the server the first threads of them (a taskset list) and the
// generator the others, and exists only when there are others (ok false).
func placement(place string, threads int, allowed []int) (serverCPUs string, genCPUs []int, ok bool) {
	if place == "shared" {
		return "", nil, true
	}
	if threads >= len(allowed) {
		return "", nil, false
	}
	list := make([]string, threads)
	for i, c := range allowed[:threads] {
		list[i] = strconv.Itoa(c)
	}
	return strings.Join(list, ","), allowed[threads:], true
}

// throughputRun starts a fresh sys server (on serverCPUs, if any),
// preloads it, and drives it with w from this process (on genCPUs, if
// any): the result and the server's CPU time per request in µs.
func (cfg *config) throughputRun(sys string, threads int, serverCPUs string, genCPUs []int, w workload) (result, float64, error) {
	s, err := cfg.start(sys, threads, 256, serverCPUs)
	if err != nil {
		return result{}, 0, err
	}
	defer s.stop()
	if err := preload(s.addr, 8, w.keys, w.valueLen); err != nil {
		return result{}, 0, err
	}
	if genCPUs != nil {
		undo, err := pinSelf(genCPUs, cfg.allowed)
		if err != nil {
			return result{}, 0, err
		}
		defer func() {
			if err := undo(); err != nil { // the next runs would stay pinned: say so
				fmt.Fprintln(os.Stderr, "mcbench: unpinning the generator:", err)
			}
		}()
	}
	cpu0, err := s.cpuTime()
	if err != nil {
		return result{}, 0, err
	}
	w.addr = s.addr
	out, err := run(w)
	if err != nil {
		return result{}, 0, err
	}
	cpu1, err := s.cpuTime()
	if err != nil {
		return result{}, 0, err
	}
	return out, float64((cpu1 - cpu0).Microseconds()) / float64(out.Ops), nil
}

// memRun is one memory measurement: resident bytes before and after
// loading, and for segcached where the bytes after went.
type memRun struct {
	before, after float64
	segments      float64 // bytes of the segments holding items (segcached)
	table         float64 // bytes of the hashtable (segcached)
}

// measureMemory loads cfg.memItems items into fresh servers and writes
// the resident bytes per item; it returns segcached's ÷ memcached's.
func (cfg *config) measureMemory(b *strings.Builder) (float64, error) {
	fmt.Fprintf(b, "\nResident memory after loading %d items of 16-byte keys and 64-byte values, flags 0, no expiry (VmRSS of the server process, "+
		"500 ms after the last reply; medians of %d runs; each server sized to hold them all without eviction: memcached -m 1024, segcached %s):\n\n",
		cfg.memItems, cfg.memRuns, strings.Join(cfg.memArgs, " "))
	fmt.Fprintf(b, "| system | RSS before | RSS after | bytes per item (after ÷ items) | growth per item |\n|---|---|---|---|---|\n")
	perItem := map[string]float64{}
	var sc []memRun
	for _, sys := range systems {
		var runs []memRun
		for range cfg.memRuns {
			r, err := cfg.memoryRun(sys)
			if err != nil {
				return 0, fmt.Errorf("memory run of %s: %w", sys, err)
			}
			runs = append(runs, r)
		}
		n := float64(cfg.memItems)
		perItem[sys] = medianOf(runs, func(r memRun) float64 { return r.after / n })
		fmt.Fprintf(b, "| %s | %.1f MiB | %.1f MiB | %.1f | %.1f |\n", sys,
			medianOf(runs, func(r memRun) float64 { return r.before / (1 << 20) }),
			medianOf(runs, func(r memRun) float64 { return r.after / (1 << 20) }),
			perItem[sys], medianOf(runs, func(r memRun) float64 { return (r.after - r.before) / n }))
		if sys == "segcached" {
			sc = runs
		}
	}
	n := float64(cfg.memItems)
	seg := medianOf(sc, func(r memRun) float64 { return r.segments / n })
	table := medianOf(sc, func(r memRun) float64 { return r.table / n })
	rest := medianOf(sc, func(r memRun) float64 { return (r.after - r.segments - r.table) / n })
	fmt.Fprintf(b, "\nWhere segcached's bytes per item go (medians): segments holding items %.1f (an item is an 8-byte header, the key and the value, "+
		"8-byte aligned: 88 bytes here), hashtable %.1f (8-byte slots), the rest of the process (Go runtime, binary, connection buffers) %.1f.\n",
		seg, table, rest)
	return perItem["segcached"] / perItem["memcached"], nil
}

// memoryRun starts sys, loads cfg.memItems items and measures it.
func (cfg *config) memoryRun(sys string) (memRun, error) {
	// segcached's flags follow -m 1024 and override it (the last
	// occurrence of a Go flag wins).
	s, err := cfg.start(sys, 2, 1024, "", cfg.memArgs...)
	if err != nil {
		return memRun{}, err
	}
	defer s.stop()
	var r memRun
	r0, err := s.rss()
	if err != nil {
		return r, err
	}
	if err := preload(s.addr, 8, cfg.memItems, 64); err != nil {
		return r, err
	}
	time.Sleep(500 * time.Millisecond)
	r1, err := s.rss()
	if err != nil {
		return r, err
	}
	st, err := s.stats()
	if err != nil {
		return r, err
	}
	items, err := statInt(st, "curr_items")
	if err != nil {
		return r, err
	}
	if items != int64(cfg.memItems) {
		return r, fmt.Errorf("%d items held after loading %d (evicted?)", items, cfg.memItems)
	}
	r.before, r.after = float64(r0), float64(r1)
	if sys == "segcached" {
		var v [5]int64
		for i, name := range []string{"segcache_heap_bytes", "segcache_segments_total", "segcache_segments_free", "segcache_hashtable_bytes", "segcache_segments_retired"} {
			if v[i], err = statInt(st, name); err != nil {
				return r, err
			}
		}
		// Retired segments (given up to pay for the hashtable's growth)
		// are neither free nor holding items.
		r.segments = float64(v[0] / v[1] * (v[1] - v[2] - v[4]))
		r.table = float64(v[3])
	}
	return r, nil
}

func medianOf(runs []memRun, f func(memRun) float64) float64 {
	xs := make([]float64, len(runs))
	for i, r := range runs {
		xs[i] = f(r)
	}
	return median(xs)
}

// missNote says how many of a system's gets missed over a configuration's
// runs ("" if none did): the throughput runs preload every key, so the
// figures compare servers that hit on every get only if this is empty.
func missNote(sys string, hits, misses uint64) string {
	if misses == 0 {
		return ""
	}
	return fmt.Sprintf("%s missed %d of %d gets (%.2f%%)", sys, misses, hits+misses, 100*float64(misses)/float64(hits+misses))
}

func met(ok bool) string {
	if ok {
		return "met"
	}
	return "**not met**"
}

func numCPU() int {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return 0
	}
	return strings.Count(string(b), "processor\t:")
}
