# The C ABI: libsegcache.so, include/segcache.h (+ its description
# segcache.abi.json), the C++ API include/segcache.hpp, C and C++ tests and
# examples, CMake and pkg-config packaging, the C benchmark.
#
#   make lib            build $(BUILD)/libsegcache.so (+ cgo's raw header)
#   make lib-static     build $(BUILD)/static/libsegcache.a (c-archive)
#   make header         regenerate include/segcache.h, segcache.abi.json and
#                       capi/exports_gen.c (the C entry points) from capi
#   make demo-c         build and run examples/c
#   make test-capi      every C ABI check (header and ABI description drift,
#                       exported symbols, C tests, fault injection, valgrind,
#                       CMake + ctest with the C++ API tests and example,
#                       make install + C and C++ consumers)
#   make install PREFIX=/usr/local [DESTDIR=...]
#   make bench-c        the C benchmark (C program beside the same workload
#                       in Go in process: the cost of crossing the C ABI)
#   make stress-capi    soak: the pthread stress tests, STRESS_ROUNDS times
#   make soak           the model-checked randomized workload through the C ABI
#                       (workers, handle forgers, open/close races) for
#                       SOAK_SECONDS (default 600); make test runs it 3 s

CAPI_LIB     := $(BUILD)/libsegcache.so
CAPI_STATIC  := $(BUILD)/static/libsegcache.a
CAPI_HEADER  := include/segcache.h
CAPI_ENTRIES := capi/exports_gen.c
CAPI_ABI     := include/segcache.abi.json
CAPI_HPP     := include/segcache.hpp
CAPI_SRCS    := $(shell find capi core -name '*.go' -o -name '*.h' -o -name '*.c' 2>/dev/null) \
                capi/segcache.map go.mod go.sum
# Export only segcache_* (versioned SEGCACHE_0) and set the soname, so that
# consumers record "libsegcache.so" rather than a build path.
CAPI_LDFLAGS := -extldflags '-Wl,--version-script=$(CURDIR)/capi/segcache.map -Wl,-soname,libsegcache.so'
CAPI_GOBUILD := $(GO) build -buildmode=c-shared -ldflags "$(CAPI_LDFLAGS)"
CAPI_CC      ?= cc
CAPI_CXX     ?= c++
CAPI_CFLAGS  := -std=c11 -O2 -g -Wall -Wextra -Werror -pedantic -Iinclude
CAPI_OUT     := $(BUILD)/capi
CAPI_VERSION  = $(shell sed -nE 's/^\#define SEGCACHE_VERSION_(MAJOR|MINOR|PATCH) ([0-9]+).*/\2/p' $(CAPI_HEADER) | paste -sd.)

ALL_TARGETS   += lib demo-c
TEST_TARGETS  += test-capi
BENCH_TARGETS += bench-c

.PHONY: lib lib-static header demo-c test-capi check-header check-exports test-c test-c-hardening soak soak-smoke test-c-recover \
        test-c-valgrind test-cmake test-install install install-capi bench-c bench-c-smoke stress-capi

lib: $(CAPI_LIB)

$(CAPI_LIB): $(CAPI_SRCS)
	@mkdir -p $(BUILD)
	$(CAPI_GOBUILD) -o $@ ./capi

# The library as a static archive with its Go runtime (-buildmode=c-archive),
# for programs that must not depend on libsegcache.so at run time (Rust's
# static feature). A directory of its own: go writes a libsegcache.h beside
# it, which must not replace the shared library's.
lib-static: $(CAPI_STATIC)

$(CAPI_STATIC): $(CAPI_SRCS)
	@mkdir -p $(@D)
	$(GO) build -buildmode=c-archive -o $@ ./capi

# Regenerate the committed public header, the ABI description (the JSON
# every drift check reads) and the C entry points from the exports and their
# docs. The entry points are part of the library, so a new export needs two
# rounds: the first build exports it from Go only, the second compiles its
# generated entry point.
header: $(CAPI_LIB)
	$(GO) run ./capi/internal/genheader -cgo $(BUILD)/libsegcache.h -src capi -o $(CAPI_HEADER) -abi $(CAPI_ABI) \
		-wrappers $(CAPI_ENTRIES)

$(CAPI_OUT)/%: examples/c/%.c $(CAPI_HEADER) $(CAPI_LIB)
	@mkdir -p $(@D)
	$(CAPI_CC) $(CAPI_CFLAGS) -o $@ $< -L$(BUILD) -lsegcache -Wl,-rpath,$(BUILD) -pthread

demo-c: $(CAPI_OUT)/demo
	$(CAPI_OUT)/demo

# ---- tests ------------------------------------------------------------------

test-capi: check-header check-exports test-c test-c-hardening soak-smoke test-c-recover test-c-valgrind test-cmake test-install bench-c-smoke
	@echo "test-capi: all C ABI checks passed"

# The committed header, ABI description and C entry points must be exactly
# what the generator writes from the current exports; the header must
# compile alone as C99 and as C++11, and the description must agree with it
# to the compiler (every value, type, offset, size and prototype as static
# assertions).
check-header: $(CAPI_LIB)
	$(GO) run ./capi/internal/genheader -cgo $(BUILD)/libsegcache.h -src capi \
		-o $(BUILD)/segcache.h.gen -abi $(BUILD)/segcache.abi.json.gen -wrappers $(BUILD)/exports_gen.c.gen
	@cmp -s $(BUILD)/segcache.h.gen $(CAPI_HEADER) || { diff -u $(CAPI_HEADER) $(BUILD)/segcache.h.gen; \
		echo "$(CAPI_HEADER) is stale: run 'make header' and commit it"; exit 1; }
	@cmp -s $(BUILD)/segcache.abi.json.gen $(CAPI_ABI) || { diff -u $(CAPI_ABI) $(BUILD)/segcache.abi.json.gen; \
		echo "$(CAPI_ABI) is stale: run 'make header' and commit it"; exit 1; }
	@cmp -s $(BUILD)/exports_gen.c.gen $(CAPI_ENTRIES) || { diff -u $(CAPI_ENTRIES) $(BUILD)/exports_gen.c.gen; \
		echo "$(CAPI_ENTRIES) is stale: run 'make header' and commit it"; exit 1; }
	$(CAPI_CC) -std=c99 -pedantic -Wall -Wextra -Werror -fsyntax-only -x c $(CAPI_HEADER)
	$(CAPI_CXX) -std=c++11 -pedantic -Wall -Wextra -Werror -fsyntax-only -x c++ $(CAPI_HEADER)
	$(GO) run ./capi/internal/genheader -check-c $(CAPI_ABI) -o $(BUILD)/abi_check.c
	$(CAPI_CC) -std=c11 -pedantic -Wall -Wextra -Werror -fsyntax-only -Iinclude $(BUILD)/abi_check.c
	@echo "check-header: header and ABI description are current and agree"

check-exports: $(CAPI_LIB)
	tests/c/check_exports.sh $(CAPI_LIB) $(CAPI_ABI)

$(CAPI_OUT)/test_capi: tests/c/test_capi.c tests/c/check.h tests/c/run.h $(CAPI_HEADER) $(CAPI_LIB)
	@mkdir -p $(@D)
	$(CAPI_CC) $(CAPI_CFLAGS) -o $@ $< -L$(BUILD) -lsegcache -Wl,-rpath,$(BUILD) -pthread

test-c: $(CAPI_OUT)/test_capi
	$(CAPI_OUT)/test_capi

# Regression tests of the hardening: set_max_procs range, fork, hash_power
# bound, failed *_multi calls, address space given back on close.
$(CAPI_OUT)/test_hardening: tests/c/test_hardening.c tests/c/check.h tests/c/run.h $(CAPI_HEADER) $(CAPI_LIB)
	@mkdir -p $(@D)
	$(CAPI_CC) $(CAPI_CFLAGS) -o $@ $< -L$(BUILD) -lsegcache -Wl,-rpath,$(BUILD) -pthread

test-c-hardening: $(CAPI_OUT)/test_hardening
	$(CAPI_OUT)/test_hardening

# The soak: tests/c/soak.c for SOAK_SECONDS with SOAK_WORKERS model-checked
# workers (not part of make test, which runs it briefly as a smoke test).
SOAK_SECONDS ?= 600
SOAK_WORKERS ?= 4
$(CAPI_OUT)/soak: tests/c/soak.c $(CAPI_HEADER) $(CAPI_LIB)
	@mkdir -p $(@D)
	$(CAPI_CC) $(CAPI_CFLAGS) -o $@ $< -L$(BUILD) -lsegcache -Wl,-rpath,$(BUILD) -pthread

soak: $(CAPI_OUT)/soak
	$(CAPI_OUT)/soak $(SOAK_SECONDS) $(SOAK_WORKERS)

soak-smoke: $(CAPI_OUT)/soak
	$(CAPI_OUT)/soak 3 2

# A soak of the pthread stress tests (not part of make test).
STRESS_ROUNDS ?= 50
stress-capi: $(CAPI_OUT)/test_capi
	$(CAPI_OUT)/test_capi stress $(STRESS_ROUNDS)

# Fault injection: a library built with -tags segcache_testhooks panics on
# a magic key; every export must return SEGCACHE_EINTERNAL and go on.
$(CAPI_OUT)/hooks/libsegcache.so: $(CAPI_SRCS)
	@mkdir -p $(@D)
	$(CAPI_GOBUILD) -tags segcache_testhooks -o $@ ./capi

test-c-recover: $(CAPI_OUT)/hooks/libsegcache.so tests/c/test_recover.c tests/c/check.h $(CAPI_HEADER)
	$(CAPI_CC) $(CAPI_CFLAGS) -o $(CAPI_OUT)/hooks/test_recover tests/c/test_recover.c \
		-L$(CAPI_OUT)/hooks -lsegcache -Wl,-rpath,$(CAPI_OUT)/hooks -pthread
	$(CAPI_OUT)/hooks/test_recover

# The C tests under valgrind (memcheck). Go 1.25+ annotates its runtime for
# valgrind when built with -tags valgrind (heap as mempools, goroutine
# stacks registered); without it memcheck reports hundreds of false errors
# on goroutine stacks. GODEBUG=asyncpreemptoff=1 stops signal-based
# preemption, whose register spill below the stack pointer memcheck also
# flags. With both, no suppression is needed: any invalid access, in the C
# code or in Go code touching caller memory, fails the run. Leak checking
# is off: memcheck's leak pass aborts on the runtime's nested mempools.
# nodwarf5: valgrind 3.19 cannot read Go's DWARF 5.
$(CAPI_OUT)/valgrind/libsegcache.so: $(CAPI_SRCS)
	@mkdir -p $(@D)
	GOEXPERIMENT=nodwarf5 $(CAPI_GOBUILD) -tags valgrind -o $@ ./capi

# --fair-sched=yes: valgrind runs one thread at a time, and its default lock
# lets a thread that never blocks (a C worker spinning through lock-free
# calls) starve the others, so the close-race test's main thread never got
# to set its stop flag once the library stopped making periodic syscalls.
test-c-valgrind: $(CAPI_OUT)/valgrind/libsegcache.so $(CAPI_OUT)/test_capi
	SEGCACHE_TEST_QUICK=1 GODEBUG=asyncpreemptoff=1 LD_LIBRARY_PATH=$(CAPI_OUT)/valgrind \
		valgrind -q --fair-sched=yes --error-exitcode=99 --leak-check=no $(CAPI_OUT)/test_capi

# CMake: configure, build (the library through Go, the C tests, the C and
# C++ examples) and run ctest.
test-cmake:
	cmake -S . -B $(CAPI_OUT)/cmake -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSEGCACHE_BUILD_TESTS=ON
	cmake --build $(CAPI_OUT)/cmake
	cd $(CAPI_OUT)/cmake && ctest --output-on-failure

# make install into a scratch prefix, move it, then build consumers of it: a C
# program with find_package(segcache), the same with pkg-config and with the
# static archive (no libsegcache.so needed at run time), and the
# C++ example (which includes the installed <segcache.hpp>) on its own with
# find_package and with pkg-config.
test-install:
	rm -rf $(CAPI_OUT)/staging $(CAPI_OUT)/prefix $(CAPI_OUT)/consumer
	$(MAKE) --no-print-directory install PREFIX=$(CAPI_OUT)/staging
	mv $(CAPI_OUT)/staging $(CAPI_OUT)/prefix # the installed files are relocatable
	cmake -S tests/c/consumer -B $(CAPI_OUT)/consumer -G Ninja -DCMAKE_PREFIX_PATH=$(CAPI_OUT)/prefix
	cmake --build $(CAPI_OUT)/consumer
	$(CAPI_OUT)/consumer/consumer
	PKG_CONFIG_PATH=$(CAPI_OUT)/prefix/lib/pkgconfig sh -c '$(CAPI_CC) -o $(CAPI_OUT)/consumer/consumer-pc \
		tests/c/consumer/consumer.c $$(pkg-config --cflags --libs segcache) \
		-Wl,-rpath,$$(pkg-config --variable=libdir segcache)'
	$(CAPI_OUT)/consumer/consumer-pc
	$(CAPI_CC) -o $(CAPI_OUT)/consumer/consumer-static tests/c/consumer/consumer.c \
		-I$(CAPI_OUT)/prefix/include $(CAPI_OUT)/prefix/lib/libsegcache.a -lpthread
	$(CAPI_OUT)/consumer/consumer-static
	cmake -S examples/cpp -B $(CAPI_OUT)/consumer/cpp -G Ninja -DCMAKE_PREFIX_PATH=$(CAPI_OUT)/prefix
	cmake --build $(CAPI_OUT)/consumer/cpp
	$(CAPI_OUT)/consumer/cpp/segcache_demo_cpp
	PKG_CONFIG_PATH=$(CAPI_OUT)/prefix/lib/pkgconfig sh -c '$(CAPI_CXX) -std=c++17 -Wall -Wextra -Werror \
		-o $(CAPI_OUT)/consumer/cpp-pc examples/cpp/main.cpp $$(pkg-config --cflags --libs segcache) \
		-Wl,-rpath,$$(pkg-config --variable=libdir segcache) -pthread'
	$(CAPI_OUT)/consumer/cpp-pc >/dev/null

# ---- install ----------------------------------------------------------------
# Layout (also what CMakeLists.txt installs, except libsegcache.a):
# $(PREFIX)/lib/libsegcache.so and libsegcache.a,
# $(PREFIX)/include/segcache.h and segcache.hpp,
# $(PREFIX)/lib/pkgconfig/segcache.pc,
# $(PREFIX)/lib/cmake/segcache/segcacheConfig{,Version}.cmake.
PREFIX ?= /usr/local
CAPI_SUBST = sed -e 's|@VERSION@|$(CAPI_VERSION)|g' \
	-e 's|@VERSION_MAJOR@|$(word 1,$(subst ., ,$(CAPI_VERSION)))|g' \
	-e 's|@VERSION_MINOR@|$(word 2,$(subst ., ,$(CAPI_VERSION)))|g' \
	-e 's|@PREFIX_FROM_CMAKEDIR@|../../..|g' -e 's|@PC_PREFIX_REL@|../..|g' \
	-e 's|@LIBDIR_REL@|lib|g' -e 's|@INCLUDEDIR_REL@|include|g'

install: install-capi

install-capi: $(CAPI_LIB) $(CAPI_STATIC)
	install -d $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/lib/cmake/segcache $(DESTDIR)$(PREFIX)/include
	install -m 0755 $(CAPI_LIB) $(DESTDIR)$(PREFIX)/lib/libsegcache.so
	install -m 0644 $(CAPI_STATIC) $(DESTDIR)$(PREFIX)/lib/libsegcache.a
	install -m 0644 $(CAPI_HEADER) $(DESTDIR)$(PREFIX)/include/segcache.h
	install -m 0644 $(CAPI_HPP) $(DESTDIR)$(PREFIX)/include/segcache.hpp
	$(CAPI_SUBST) segcache.pc.in >$(DESTDIR)$(PREFIX)/lib/pkgconfig/segcache.pc
	$(CAPI_SUBST) cmake/segcacheConfig.cmake.in >$(DESTDIR)$(PREFIX)/lib/cmake/segcache/segcacheConfig.cmake
	$(CAPI_SUBST) cmake/segcacheConfigVersion.cmake.in >$(DESTDIR)$(PREFIX)/lib/cmake/segcache/segcacheConfigVersion.cmake

# ---- benchmark ----------------------------------------------------------------
# The C program and the same workload in Go in process (capi's
# BenchmarkInProcess), alternated 5 times; medians and ratios in
# $(BUILD)/bench-capi.txt.
$(CAPI_OUT)/bench: bench/c/bench.c $(CAPI_HEADER) $(CAPI_LIB)
	@mkdir -p $(@D)
	$(CAPI_CC) $(CAPI_CFLAGS) -o $@ $< -L$(BUILD) -lsegcache -Wl,-rpath,$(BUILD) -pthread -lm

$(CAPI_OUT)/inprocess.test: $(CAPI_SRCS)
	@mkdir -p $(@D)
	$(GO) test -c -o $@ ./capi

bench-c: $(CAPI_OUT)/bench $(CAPI_OUT)/inprocess.test
	bench/c/report.sh $(CAPI_OUT)/bench $(CAPI_OUT)/inprocess.test 5 | tee $(BUILD)/bench-capi.txt

# make test runs the benchmark programs once, tiny, to prove they work.
bench-c-smoke: $(CAPI_OUT)/bench $(CAPI_OUT)/inprocess.test
	$(CAPI_OUT)/bench -keys 10000 -ops 1000 -runs 1 >/dev/null
	$(CAPI_OUT)/inprocess.test -test.run '^$$' -test.bench InProcess -test.benchtime 1x >/dev/null
	@echo "bench-c-smoke: ok"
