# The C ABI: libsegcache.so, include/segcache.h, C tests, C/C++ examples,
# CMake and pkg-config packaging, the C benchmark.
#
#   make lib            build $(BUILD)/libsegcache.so (+ cgo's raw header)
#   make header         regenerate include/segcache.h from capi
#   make demo-c         build and run examples/c
#   make test-capi      every C ABI check (header drift, exported symbols,
#                       C tests, valgrind, CMake + ctest + C++ example,
#                       make install + find_package/pkg-config consumers)
#   make install PREFIX=/usr/local
#   make bench-c        the C benchmark (BENCHMARKS.md section 4)

CAPI_LIB     := $(BUILD)/libsegcache.so
CAPI_HEADER  := include/segcache.h
CAPI_SRCS    := $(shell find capi core -name '*.go' -o -name '*.h' -o -name '*.c' 2>/dev/null) \
                capi/segcache.map go.mod go.sum
# Export only segcache_* (versioned SEGCACHE_0) and set the soname, so that
# consumers record "libsegcache.so" rather than a build path.
CAPI_LDFLAGS := -extldflags '-Wl,--version-script=$(CURDIR)/capi/segcache.map -Wl,-soname,libsegcache.so'
CAPI_CC      ?= cc
CAPI_CFLAGS  := -std=c11 -O2 -g -Wall -Wextra -Werror -pedantic -Iinclude
CAPI_LINK    := -L$(BUILD) -lsegcache -Wl,-rpath,$(BUILD) -pthread

ALL_TARGETS   += lib demo-c
TEST_TARGETS  += test-capi
BENCH_TARGETS += bench-c

.PHONY: lib header demo-c

lib: $(CAPI_LIB)

$(CAPI_LIB): $(CAPI_SRCS)
	@mkdir -p $(BUILD)
	$(GO) build -buildmode=c-shared -ldflags "$(CAPI_LDFLAGS)" -o $@ ./capi

# Regenerate the committed public header from the exports and their docs.
header: $(CAPI_LIB)
	$(GO) run ./capi/internal/genheader -cgo $(BUILD)/libsegcache.h -src capi -o $(CAPI_HEADER)
