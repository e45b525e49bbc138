# Side-by-side benchmarks against the Go peers (bench/, its own Go module):
# `make bench` measures throughput (§1), core beside the published Rust
# segcache crate (§1b, bench/rust-peer, needs cargo), the physical limit of
# a get (§1c), memory (§2), hit ratio and its run-to-run spread (§3),
# scaling and key layouts (§5) and eviction/expiry cost by segment count
# (§6), and writes bench/results.md and docs/missratio-*.png, collecting
# the C, Python and Rust figures ($(BUILD)/bench-{capi,python,rust}.txt)
# and any Markdown fragment $(BUILD)/bench-*.md other parts write.
# `make test` runs every step once on a tiny input so the harness cannot
# rot, except §1b (building the Rust crate takes about a minute).
# The traces are read from $(SEGCACHE_TRACES) (default ../shared/traces
# beside the repository), never copied into the repository.
SEGCACHE_TRACES ?= $(abspath $(CURDIR)/../shared/traces)
# §1 runs a fixed 400,000 operations per run (5 runs x 2 goroutine counts x
# 5 operations x 7 systems): no ramp-up, so its time is bounded by the
# systems' speed (about 3 minutes on a quiet machine).
BENCH_TIME ?= 400000x
# §5 at more goroutines on a bigger machine: make bench SCALING_CPU=1,2,4,8,16
SCALING_CPU ?= 1,2
BENCH_ENV = GO="$(GO)" CARGO="$(CARGO)" BUILD="$(BUILD)" BENCH_TIME="$(BENCH_TIME)" SCALING_CPU="$(SCALING_CPU)" \
            SEGCACHE_TRACES="$(SEGCACHE_TRACES)"

TEST_TARGETS  += test-bench-harness
BENCH_TARGETS += bench-harness bench-report

.PHONY: test-bench-harness bench-harness bench-report bench-report-only
test-bench-harness:
	$(BENCH_ENV) bench/run.sh smoke

bench-harness:
	$(BENCH_ENV) bench/run.sh full

# The report comes last: it depends on every other bench target so that
# their outputs exist when it collects them (second expansion: the other
# fragments append to BENCH_TARGETS after this one is read).
.SECONDEXPANSION:
bench-report: bench-harness $$(filter-out bench-report,$$(BENCH_TARGETS))
	$(BENCH_ENV) bench/run.sh report

# Regenerates bench/results.md, bench/README-section.md and docs/*.png from
# the raw outputs already in $(BUILD), running no benchmark: after rerunning
# one part (make bench-c, or bench/run.sh full with BENCH_ONLY), this is the
# step to take; bench-report would run every benchmark again first.
bench-report-only:
	$(BENCH_ENV) bench/run.sh report
