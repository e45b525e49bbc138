package main

import (
	"os"
	"path/filepath"
	"slices"
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
// command that produced it, or a line saying it was not produced.
func others(w func(string, ...any), build string) {
	w("## 4. C ABI, Python and Rust\n\n")
	w("Collected verbatim from the bench programs' outputs in the build directory (`make bench` runs them all).\n\n")
	for _, o := range langBenches {
		b, err := os.ReadFile(filepath.Join(build, o.file))
		if err != nil || len(strings.TrimSpace(string(b))) == 0 {
			w("### %s\n\nNot available: build/%s does not exist (`%s` writes it).\n\n", o.title, o.file, o.target)
			continue
		}
		w("### %s\n\n`%s` (build/%s):\n\n```\n%s\n```\n\n", o.title, o.target, o.file, strings.TrimRight(string(b), "\n"))
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
