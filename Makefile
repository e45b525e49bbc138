# segcache build. `make` builds everything and runs the demos; `make test`
# runs every test; `make bench` runs the benchmarks and writes the report.
# Each part of the tree adds its own targets in mk/*.mk.

# We build with Go 1.27: a C->Go call costs 40 ns on 1.27 against 50 ns on
# 1.26, and 1.27 lets C threads enter Go in parallel. The go command
# downloads this toolchain from the module proxy on first use.
export GOTOOLCHAIN := go1.27.3
GO ?= go
BUILD ?= $(CURDIR)/build

ALL_TARGETS  :=
TEST_TARGETS :=
BENCH_TARGETS :=
CLEAN_DIRS   := $(BUILD)

.PHONY: all test bench clean
all: build-all

include $(sort $(wildcard mk/*.mk))

.PHONY: build-all
build-all: $(ALL_TARGETS)

test: $(TEST_TARGETS)
	@echo "make test: all suites passed"

bench: $(BENCH_TARGETS)

clean:
	rm -rf $(CLEAN_DIRS)
