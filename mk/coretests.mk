# Black-box tests of the engine (core/*_test.go) run with test-go (go.mk),
# including the FuzzEngine and FuzzEngineSmall seed corpora. Here: a smoke
# run of the core benchmarks (one iteration each, proves they work; figures
# come from bench-go), the zero-allocation test without -race, and an
# on-demand fuzzing target.
TEST_TARGETS += test-core-bench-smoke test-core-allocs

.PHONY: test-core-bench-smoke test-core-allocs fuzz-core
test-core-bench-smoke:
	$(GO) test -run '^$$' -bench . -benchtime=1x ./core/

# The zero-allocation checks need a build without the race detector.
test-core-allocs:
	$(GO) test -count=1 -run '^(TestZeroAllocs|TestEvictingSetsAllocateNothing)$$' -v ./core/

# Explore beyond the seed corpora: make fuzz-core FUZZTIME=5m (each target
# in turn: go test fuzzes one at a time).
FUZZTIME ?= 60s
fuzz-core:
	$(GO) test -run '^$$' -fuzz '^FuzzEngine$$' -fuzztime $(FUZZTIME) ./core/
	$(GO) test -run '^$$' -fuzz '^FuzzEngineSmall$$' -fuzztime $(FUZZTIME) ./core/
	$(GO) test -run '^$$' -fuzz '^FuzzEngineSmallTTL$$' -fuzztime $(FUZZTIME) ./core/
	$(GO) test -run '^$$' -fuzz '^FuzzEngineTails$$' -fuzztime $(FUZZTIME) ./core/
