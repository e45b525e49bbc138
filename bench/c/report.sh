#!/usr/bin/env bash
# report.sh BENCH GOTEST [ROUNDS] [OPS]: the C ABI benchmark report (the
# cost of a call from C beyond the engine's own work). Runs the C program (BENCH, bench/c/bench.c)
# and the same workload in Go in process (GOTEST, the compiled test binary
# of capi, BenchmarkInProcess) alternately, ROUNDS times each (default 5),
# so that drift of this shared machine hits both alike; then prints the
# median ns/op of each, the C call's cost over the empty-call floor
# (segcache_noop) and the ratio C / Go.
set -euo pipefail
bench=$1 gotest=$2 rounds=${3:-5} ops=${4:-2000000}
raw=$(mktemp)
trap 'rm -f "$raw"' EXIT
for r in $(seq "$rounds"); do
	echo "round $r/$rounds" >&2
	"$bench" -runs 1 -ops "$ops" | awk '$1 == "result" {print "c", $2, $3, $4}' >>"$raw"
	"$gotest" -test.run '^$' -test.bench InProcess -test.benchtime "${ops}x" |
		awk '/^BenchmarkInProcess\// {
			# BenchmarkInProcess/get_multi16/threads=2-2  N  X ns/op
			split($1, part, "/"); sub(/-[0-9]+$/, "", part[3]); sub(/^threads=/, "", part[3])
			print "go", part[2], part[3], $3 }' >>"$raw"
done
echo "libsegcache C ABI vs Go in process: median ns/op of $rounds alternating rounds"
echo "(16 B keys, 64 B values, 1M keys, Zipf 0.99; get_multiN = ns per key; ns/op = wall / all threads' ops)"
sort -k1,1 -k2,2 -k3,3n -k4,4g "$raw" | awk -v rounds="$rounds" '
	{ k = $1 " " $2 " " $3; v[k, ++n[k]] = $4 }
	function med(k,   c) { c = n[k]; if (!c) return -1; return c % 2 ? v[k, (c + 1) / 2] : (v[k, c / 2] + v[k, c / 2 + 1]) / 2 }
	END {
		printf "%-12s %7s %10s %10s %10s %10s %8s\n", "op", "threads", "C ns/op", "C - noop", "x noop", "Go ns/op", "C / Go"
		split("noop get set get_multi16 get_multi64", ops, " ")
		for (t = 1; t <= 2; t++) for (i = 1; i <= 5; i++) {
			op = ops[i]; c = med("c " op " " t); if (c < 0) continue
			floor = med("c noop " t); g = med("go " op " " t)
			if (op == "noop") printf "%-12s %7d %10.1f %10s %10s %10s %8s\n", op, t, c, "-", "1.00", "-", "-"
			else printf "%-12s %7d %10.1f %10.1f %10.2f %10.1f %8.2f\n", op, t, c, c - floor, c / floor, g, c / g
		}
	}'
