# The Rust bindings (bindings/rust: crates segcache-sys and segcache) and the
# Rust example (examples/rust), one Cargo workspace with no dependencies
# beyond std, so cargo needs no registry (--locked: Cargo.lock is committed).
#
#   make demo-rust    run the example program
#   make test-rust    cargo test (drift check against include/segcache.abi.json,
#                     every operation, threads, doctests), the example, a
#                     smoke run of the benchmark, and the static and
#                     pkg-config ways of linking
#   make bench-rust   ns/op of get_into/set through the safe crate beside
#                     the raw calls and segcache_noop (the binding's cost)
#
# The crates link $(BUILD)/libsegcache.so (SEGCACHE_LIB_DIR) and record its
# directory as rpath, so nothing needs LD_LIBRARY_PATH. (Without
# SEGCACHE_LIB_DIR, segcache-sys looks for an installed library through
# pkg-config first; see its build.rs.)

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

# Beyond the default (the .so in build/, via SEGCACHE_LIB_DIR), the ways
# segcache-sys can link are each built and run: the static feature against
# build/static, a directory with no libsegcache.so at all (the crates' full
# tests, and tests/linking.rs proves no .so is mapped); and an installed
# prefix found through pkg-config, shared and static. Each has its own
# target directory so that they do not rebuild one another.
RUST_PREFIX := $(BUILD)/rust/prefix
RUST_PKGCONFIG := cd $(RUST_DIR) && env -u SEGCACHE_LIB_DIR PKG_CONFIG_PATH=$(RUST_PREFIX)/lib/pkgconfig \
	SEGCACHE_EXPECT_LINK_SOURCE=pkg-config $(CARGO) test --locked -q -p segcache-sys --test linking

test-rust: lib lib-static
	$(RUST_CARGO) test --locked --workspace
	$(RUST_CARGO) run --locked -q -p segcache-example
	$(RUST_CARGO) bench --locked -q -p segcache --bench ops -- --smoke
	cd $(RUST_DIR) && SEGCACHE_LIB_DIR=$(dir $(CAPI_STATIC)) SEGCACHE_EXPECT_LINK_SOURCE=env $(CARGO) test --locked \
		-p segcache-sys -p segcache --features segcache-sys/static --target-dir target/static
	rm -rf $(RUST_PREFIX)
	$(MAKE) --no-print-directory install PREFIX=$(RUST_PREFIX) >/dev/null
	$(RUST_PKGCONFIG) --target-dir target/pkgconfig
	$(RUST_PKGCONFIG) --target-dir target/pkgconfig-static --features static

bench-rust: lib
	@mkdir -p $(BUILD)
	$(RUST_CARGO) bench --locked -q -p segcache --bench ops | tee $(BUILD)/bench-rust.txt
