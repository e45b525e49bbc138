package main

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// langBench is one of the C, Python and Rust bench programs of §4: the make
// target that runs it and the file in the build directory it writes.
type langBench struct{ title, target, file string }

var langBenches = []langBench{
	{"C ABI (libsegcache.so, bench/c)", "make bench-c", "bench-capi.txt"},
	{"Python binding (bench/python)", "make bench-python", "bench-python.txt"},
	{"Rust crate (bindings/rust, bench `ops`)", "make bench-rust", "bench-rust.txt"},
}

// others writes §4: the C, Python and Rust outputs verbatim, each under the
// command that produced it, or a line saying it was not produced; and the
// C ABI's §7 targets checked against its table.
func others(w func(string, ...any), build string, behind *[]string) {
	w("## 4. C ABI, Python and Rust\n\n")
	w("Collected verbatim from the bench programs' outputs in the build directory (`make bench` runs them all).\n\n")
	for _, o := range langBenches {
		b, err := os.ReadFile(filepath.Join(build, o.file))
		if err != nil || len(strings.TrimSpace(string(b))) == 0 {
			w("### %s\n\nNot available: build/%s does not exist (`%s` writes it).\n\n", o.title, o.file, o.target)
			continue
		}
		w("### %s\n\n`%s` (build/%s):\n\n```\n%s\n```\n\n", o.title, o.target, o.file, strings.TrimRight(string(b), "\n"))
		if o.file == "bench-capi.txt" {
			capiTargets(w, string(b), behind)
		}
	}
}

// capiTargets checks §7's C ABI targets against bench/c/report.sh's table
// (op, threads, C ns/op, C - noop, x noop, Go ns/op, C / Go): a C get at
// most the Go get + 1.2 × the empty call, a get_multi at most 1.25 × the Go
// get per key (§7 names 32 keys; the bench measures 16 and 64), and 2
// pthreads at least 1.8 × one thread's get throughput.
func capiTargets(w func(string, ...any), text string, behind *[]string) {
	type row struct{ c, goNs float64 }
	rows := map[string]row{} // "op threads"
	for _, l := range strings.Split(text, "\n") {
		f := strings.Fields(l)
		if len(f) != 7 {
			continue
		}
		c, err1 := strconv.ParseFloat(f[2], 64)
		g, err2 := strconv.ParseFloat(f[5], 64)
		if err1 != nil {
			continue
		}
		if err2 != nil {
			g = math.NaN()
		}
		rows[f[0]+" "+f[1]] = row{c, g}
	}
	var lines []string
	check := func(ok bool, text string) {
		verdict := "met"
		if !ok {
			verdict = "**not met**"
			*behind = append(*behind, "C ABI: "+text)
		}
		lines = append(lines, fmt.Sprintf("- %s: %s", text, verdict))
	}
	for _, t := range []string{"1", "2"} {
		get, okG := rows["get "+t]
		noop, okN := rows["noop "+t]
		if okG && okN {
			limit := get.goNs + 1.2*noop.c
			check(get.c <= limit, fmt.Sprintf("get, %s thread(s), %.1f ns ≤ Go get %.1f + 1.2 × empty call %.1f = %.1f ns", t, get.c, get.goNs, noop.c, limit))
		}
		for _, m := range []string{"get_multi16", "get_multi64"} {
			if r, ok := rows[m+" "+t]; ok && okG {
				check(r.c <= 1.25*get.goNs, fmt.Sprintf("%s, %s thread(s), %.1f ns per key ≤ 1.25 × Go get %.1f = %.1f ns", m, t, r.c, get.goNs, 1.25*get.goNs))
			}
		}
	}
	if one, ok1 := rows["get 1"]; ok1 {
		if two, ok2 := rows["get 2"]; ok2 {
			check(one.c/two.c >= 1.8, fmt.Sprintf("get, 2 pthreads' throughput %.2f × one thread's ≥ 1.8 (on an idle machine)", one.c/two.c))
		}
	}
	if len(lines) > 0 {
		w("Targets (§7; §7 names get_multi of 32 keys, the bench measures 16 and 64):\n\n%s\n\n", strings.Join(lines, "\n"))
	}
}

// fragments appends every Markdown fragment build/bench-*.md verbatim, in
// name order: other parts of the tree (the server's memcached comparison)
// write their own sections there and the report need not know them.
func fragments(w func(string, ...any), build string) []string {
	paths, _ := filepath.Glob(filepath.Join(build, "bench-*.md"))
	slices.Sort(paths)
	var used []string
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil || len(strings.TrimSpace(string(b))) == 0 {
			continue
		}
		w("%s\n\n", strings.TrimRight(string(b), "\n"))
		used = append(used, filepath.Base(p))
	}
	return used
}
