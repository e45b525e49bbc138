# The Rust bindings (bindings/rust: crates segcache-sys and segcache) and the
# Rust example (examples/rust), one Cargo workspace with no dependencies
# beyond std, so cargo needs no registry (--locked: Cargo.lock is committed).
#
#   make demo-rust    run the example program
#   make test-rust    cargo test (drift check against include/segcache.abi.json,
#                     every operation, threads, doctests), the example, and
#                     a smoke run of the benchmark
#   make bench-rust   ns/op of get_into/set through the safe crate beside
#                     the raw calls and segcache_noop (BENCHMARKS.md s. 4)
#
# The crates link $(BUILD)/libsegcache.so (SEGCACHE_LIB_DIR) and record its
# directory as rpath, so nothing needs LD_LIBRARY_PATH.

# rustup installs into ~/.cargo/bin, which a non-login shell may lack.
CARGO ?= $(or $(shell command -v cargo 2>/dev/null),$(HOME)/.cargo/bin/cargo)
RUST_DIR := $(CURDIR)/bindings/rust
RUST_CARGO := cd $(RUST_DIR) && SEGCACHE_LIB_DIR=$(BUILD) $(CARGO)

ALL_TARGETS   += demo-rust
TEST_TARGETS  += test-rust
BENCH_TARGETS += bench-rust
CLEAN_DIRS    += $(RUST_DIR)/target

.PHONY: demo-rust test-rust bench-rust

demo-rust: lib
	$(RUST_CARGO) run --locked -q -p segcache-example

test-rust: lib
	$(RUST_CARGO) test --locked --workspace
	$(RUST_CARGO) run --locked -q -p segcache-example
	$(RUST_CARGO) bench --locked -q -p segcache --bench ops -- --smoke

bench-rust: lib
	@mkdir -p $(BUILD)
	$(RUST_CARGO) bench --locked -q -p segcache --bench ops | tee $(BUILD)/bench-rust.txt
