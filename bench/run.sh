#!/usr/bin/env bash
# Runs the side-by-side benchmarks of bench/ (see mk/bench.mk).
#
#   bench/run.sh full    `make bench`: throughput (§1), the Rust segcache
#                        crate beside core (§1b), the physical limit (§1c),
#                        memory (§2), hit ratio, its run-to-run spread
#                        (§3, 3 runs) and otter at core's held bytes
#                        (§3c), scaling and key layouts (§5),
#                        eviction and expiry cost (§6); raw outputs in
#                        $BUILD; the report step (`bench/run.sh report`)
#                        writes bench/results.md and docs/*.png
#   bench/run.sh smoke   `make test`: the harness's unit tests and every
#                        step once on a tiny input, report into
#                        $BUILD/bench-smoke (all but §1b: building the Rust
#                        crate takes about a minute, so only `make bench`
#                        runs it)
#
# Environment: GO (go), CARGO (cargo), BUILD (<repo>/build), BENCH_TIME
# (-benchtime of §1, §1c, §5; an iteration count "Nx"), SCALING_CPU (-cpu
# of §5, default 1,2: give 1,2,4,8,16 on a machine with the cores),
# SEGCACHE_TRACES (default ../shared/traces beside the repo root),
# BENCH_ONLY (full: only these sections, e.g. "1b 6"; default all of
# 1 1b 1c 2 3 5 6; a partial run appends to the load and command lists
# of the runs before it instead of starting them afresh), BENCH_APPEND
# (with BENCH_ONLY=1: add this run's passes to §1's earlier ones instead
# of replacing them, so that §1's medians span runs made at different
# times: on a shared machine the memory latency a run gets moves by half
# within an hour, and core's figures more than the peers').
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
GO=${GO:-go}
BUILD=${BUILD:-$root/build}
BENCH_TIME=${BENCH_TIME:-400000x}
CARGO=${CARGO:-cargo}
SCALING_CPU=${SCALING_CPU:-1,2}
export SEGCACHE_TRACES=${SEGCACHE_TRACES:-$(cd "$root/.." && pwd)/shared/traces}
cd "$root/bench"

# want SECTION: whether `full` runs that section.
want() { [ -z "${BENCH_ONLY:-}" ] || [[ " $BENCH_ONLY " == *" $1 "* ]]; }

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
	load() { echo "$1: load average $(cut -d' ' -f1-3 /proc/loadavg)" >>"$out/bench-load.txt"; }
	# A partial run (BENCH_ONLY) keeps the other sections' commands and
	# loads, which the report still shows beside the rerun's.
	if [ -z "${BENCH_ONLY:-}" ]; then
		: >"$cmds"
		: >"$out/bench-load.txt"
		load "before §1"
	else
		echo "$(date -u '+%Y-%m-%d %H:%M') UTC, BENCH_ONLY=\"$BENCH_ONLY\" rerun${BENCH_APPEND:+ (BENCH_APPEND: §1's passes added to the earlier runs')}:" >>"$out/bench-load.txt"
		load "before it"
	fi
	run "$GO" build -o "$out/bench-memory" ./cmd/memory
	run "$GO" build -o "$out/bench-hitratio" ./cmd/hitratio
	run "$GO" build -o "$out/bench-evict" ./cmd/evict
	if want 1; then
		echo "== §1 throughput (3 to 10 minutes, by the load)" >&2
		run "$GO" test -run '^$' -bench '^BenchmarkThroughput$' -benchmem -benchtime "$BENCH_TIME" -count 5 -cpu 1,2 -timeout 60m ./throughput \
			| tee ${BENCH_APPEND:+-a} "$out/bench-throughput.txt"
		load "after §1"
	fi
	if ! want 1b; then
		:
	elif command -v "$CARGO" >/dev/null; then
		echo "== §1b the Rust segcache crate, alternating with core (2 to 4 minutes)" >&2
		rm -f "$out/bench-rustpeer.txt"
		run "$GO" run ./cmd/keystream -keys 1000000 -out "$out/bench-keystream.bin"
		run "$CARGO" build --release --locked --manifest-path rust-peer/Cargo.toml --target-dir "$out/rust-peer"
		run "$GO" test -c -o "$out/bench-throughput.test" ./throughput
		ops=${BENCH_TIME%x}
		[[ $ops =~ ^[0-9]+$ ]] || ops=400000 # a duration -benchtime: the Rust program counts operations
		for r in 1 2 3 4 5; do
			echo "round $r/5" >&2
			run "$out/bench-throughput.test" -test.run '^$' -test.bench '^BenchmarkThroughput$' -test.benchtime "$BENCH_TIME" \
				-test.cpu 1,2 -systems core -policy merge -prefault >>"$out/bench-rustpeer.txt"
			run "$out/rust-peer/release/segcache-rs-peer" "$out/bench-keystream.bin" -ops "$ops" -runs 1 >>"$out/bench-rustpeer.txt"
		done
	else
		rm -f "$out/bench-rustpeer.txt"
		echo "§1b NOT MEASURED: $CARGO not found (install Rust: https://rustup.rs)" >&2
	fi
	if want 1b; then load "after §1b"; fi
	if want 1c; then
		echo "== §1c physical limit" >&2
		run "$GO" test -run '^$' -bench '^BenchmarkPhysical$' -benchtime "$BENCH_TIME" -count 5 -cpu 1 -timeout 30m ./throughput \
			| tee "$out/bench-physical.txt"
	fi
	if want 5; then
		echo "== §5 scaling and key layouts" >&2
		run "$GO" test -run '^$' -bench '^BenchmarkScaling$' -benchmem -benchtime "$BENCH_TIME" -count 5 -cpu "$SCALING_CPU" -timeout 60m ./throughput \
			| tee "$out/bench-scaling.txt"
		load "after §5"
	fi
	if want 2; then
		echo "== §2 memory" >&2
		run "$out/bench-memory" -all -out "$out/bench-memory.tsv"
	fi
	if want 6; then
		echo "== §6 eviction and expiry cost (3 to 15 minutes, by the engine)" >&2
		run "$out/bench-evict" -out "$out/bench-evict.tsv" -expire-out "$out/bench-expire.tsv"
		load "after §6"
	fi
	if want 3; then
		echo "== §3 hit ratio (10 to 20 minutes, by the load: otter and ristretto are replayed 5 times a cell), then core's policies twice more for the spread" >&2
		run "$out/bench-hitratio" -out "$out/bench-hitratio.tsv" -held-out "$out/bench-hitratio-held.tsv"
		for r in 2 3; do
			run "$out/bench-hitratio" -systems core -out "$out/bench-hitratio-run$r.tsv"
		done
		load "after §3"
	fi
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
	# A fresh clone has no traces beside it: the smoke run then replays
	# synthetic stand-ins (same format), so it still exercises every step.
	if [ ! -e "$SEGCACHE_TRACES/orm-busy.u32be.gz" ] || [ ! -e "$SEGCACHE_TRACES/web12.u32be.gz" ]; then
		echo "bench smoke: no traces in $SEGCACHE_TRACES; replaying synthetic stand-ins (make bench needs the real ones)" >&2
		mkdir -p "$out/traces"
		"$GO" run ./cmd/synthtrace -out "$out/traces"
		export SEGCACHE_TRACES=$out/traces
	fi
	run "$GO" vet ./harness/... ./throughput/... ./cmd/...
	run "$GO" test -count=1 ./harness/... ./cmd/...
	# One invocation runs §1, §1c and §5; the report reads each from its file.
	run "$GO" test -run '^$' -bench . -benchmem -benchtime 1x -cpu 1,2 ./throughput -keys 20000 \
		| tee "$out/bench-throughput.txt"
	cp "$out/bench-throughput.txt" "$out/bench-physical.txt"
	cp "$out/bench-throughput.txt" "$out/bench-scaling.txt"
	run "$GO" run ./cmd/keystream -keys 20000 -out "$out/bench-keystream.bin"
	run "$GO" run ./cmd/memory -all -items 20000 -out "$out/bench-memory.tsv"
	run "$GO" run ./cmd/evict -segments 64,256 -runs 1 -min-timed 0 -expire-runs 3 -out "$out/bench-evict.tsv" -expire-out "$out/bench-expire.tsv" 2>"$out/evict.log"
	run "$GO" build -o "$out/bench-hitratio" ./cmd/hitratio
	run "$out/bench-hitratio" -limit 20000 -budgets 'orm-busy=1MiB;web12=1MiB' -out "$out/bench-hitratio.tsv" -held-out "$out/bench-hitratio-held.tsv" 2>"$out/hitratio.log"
	for r in 2 3; do
		run "$out/bench-hitratio" -systems core -limit 20000 -budgets 'orm-busy=1MiB;web12=1MiB' -out "$out/bench-hitratio-run$r.tsv" 2>>"$out/hitratio.log"
	done
	run "$GO" run ./cmd/report -build "$out" -out "$out/results.md" -docs "$out/docs" -plotlink docs/ -readme "$out/README-section.md"
	# The report must hold a figure for core in every section.
	grep -q '^| get (hit) | 1 | [0-9]' "$out/results.md"
	grep -q '^| core | 20000 | [0-9.]* |' "$out/results.md"
	grep -q '^| core/merge | [0-9]' "$out/results.md"
	grep -q '^| core Get ÷ 2 dependent loads | \*\*[0-9]' "$out/results.md"
	grep -q '^| get (hit) | core | hot-first | [0-9.]* | [0-9.]* |' "$out/results.md"
	grep -q '^| merge | [0-9.]* | [0-9.]* | \*\*[0-9]' "$out/results.md"
	grep -q '^Expire with one expired segment, 256 ÷ 64 segments: \*\*[0-9]' "$out/results.md"
	grep -q '^| core/merge | [0-9]' <(sed -n '/^### 3b/,/^## 4/p' "$out/results.md")
	grep -Eq '^(\| [a-z0-9-]+ \| (fixed|variable) \| [0-9.]+ [KM]iB \| [0-9.]+ \|.* [0-9]+ B \| [0-9.]+ \||No such cell)' <(sed -n '/^### 3c/,/^## 4/p' "$out/results.md")
	ls "$out"/docs/missratio-*.png >/dev/null
	echo "bench smoke: ok ($out/results.md)"
	;;
*)
	echo "usage: $0 full|report|smoke" >&2
	exit 2
	;;
esac
