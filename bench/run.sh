#!/usr/bin/env bash
# Runs the side-by-side benchmarks of bench/ (see mk/bench.mk).
#
#   bench/run.sh full    `make bench`: throughput (§1), memory (§2), hit
#                        ratio (§3); raw outputs in $BUILD; the report
#                        step (`bench/run.sh report`) writes bench/results.md
#                        and docs/*.png
#   bench/run.sh smoke   `make test`: the harness's unit tests and every
#                        step once on a tiny input, report into $BUILD/bench-smoke
#
# Environment: GO (go), BUILD (<repo>/build), BENCH_TIME (-benchtime of §1),
# SEGCACHE_TRACES (default ../shared/traces beside the repo root).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
GO=${GO:-go}
BUILD=${BUILD:-$root/build}
BENCH_TIME=${BENCH_TIME:-400000x}
export SEGCACHE_TRACES=${SEGCACHE_TRACES:-$(cd "$root/.." && pwd)/shared/traces}
cd "$root/bench"

# run records the command (as run from the repository root, once) and runs it.
run() {
	local line="(cd bench && $*)"
	grep -qxF -- "$line" "$cmds" 2>/dev/null || echo "$line" >>"$cmds"
	"$@"
}

case "${1:-}" in
full)
	out=$BUILD
	mkdir -p "$out"
	cmds=$out/bench-commands.txt
	: >"$cmds"
	run "$GO" build -o "$out/bench-memory" ./cmd/memory
	run "$GO" build -o "$out/bench-hitratio" ./cmd/hitratio
	load() { echo "$1: load average $(cut -d' ' -f1-3 /proc/loadavg)" >>"$out/bench-load.txt"; }
	: >"$out/bench-load.txt"
	load "before §1"
	echo "== §1 throughput (3 to 10 minutes, by the load)" >&2
	run "$GO" test -run '^$' -bench . -benchmem -benchtime "$BENCH_TIME" -count 5 -cpu 1,2 -timeout 60m ./throughput \
		| tee "$out/bench-throughput.txt"
	load "after §1"
	echo "== §2 memory" >&2
	run "$out/bench-memory" -all -out "$out/bench-memory.tsv"
	echo "== §3 hit ratio (5 to 10 minutes, by the load)" >&2
	run "$out/bench-hitratio" -out "$out/bench-hitratio.tsv"
	load "after §3"
	;;
report)
	cmds=$BUILD/bench-commands.txt
	run "$GO" run ./cmd/report -build "$BUILD" -out results.md -docs ../docs -plotlink ../docs/ -readme README-section.md
	;;
smoke)
	out=$BUILD/bench-smoke
	rm -rf "$out"
	mkdir -p "$out/docs"
	cmds=$out/bench-commands.txt
	run "$GO" vet ./harness/... ./throughput/... ./cmd/...
	run "$GO" test -count=1 ./harness/... ./cmd/...
	run "$GO" test -run '^$' -bench . -benchmem -benchtime 1x -cpu 1,2 ./throughput -keys 20000 \
		| tee "$out/bench-throughput.txt"
	run "$GO" run ./cmd/memory -all -items 20000 -out "$out/bench-memory.tsv"
	run "$GO" run ./cmd/hitratio -limit 20000 -budgets 'orm-busy=1MiB;web12=1MiB' -out "$out/bench-hitratio.tsv" 2>"$out/hitratio.log"
	run "$GO" run ./cmd/report -build "$out" -out "$out/results.md" -docs "$out/docs" -plotlink docs/ -readme "$out/README-section.md"
	# The report must hold a figure for core in every section.
	grep -q '^| get (hit) | 1 | [0-9]' "$out/results.md"
	grep -q '^| core | 20000 | [0-9.]* |' "$out/results.md"
	grep -q '^| core/merge | [0-9]' "$out/results.md"
	ls "$out"/docs/missratio-*.png >/dev/null
	echo "bench smoke: ok ($out/results.md)"
	;;
*)
	echo "usage: $0 full|report|smoke" >&2
	exit 2
	;;
esac
