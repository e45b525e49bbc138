# segcached, the memcached-protocol server (cmd/segcached over server/).
#
#   make segcached      build $(BUILD)/segcached (static: libc is not mapped)
#   make test-server    the server driven by real clients: memccapable (the
#                       conformance tool, ASCII and binary protocols),
#                       gomemcache and twemproxy, a differential test
#                       against memcached (server/clienttest, its own Go
#                       module) and pymemcache.
#                       The server's own tests (protocol, limits, 1,000
#                       pipelined connections, fuzz corpus) run in test-go.
#                       It also runs the benchmark once on a tiny input so
#                       that the harness cannot rot.
#   make bench-server   segcached against memcached 1.6 with one load
#                       generator (server/clienttest/cmd/mcbench): throughput
#                       and p50/p99 at 1 and 2 server threads, pipelined and
#                       not, server CPU per request, and resident bytes per
#                       item (with where they go) after loading 1M
#                       items; writes $(BUILD)/bench-server.md, which the
#                       bench report includes.
#
# The tools come from .ci/install.d/server.sh (Debian: memcached,
# libmemcached-tools, nutcracker; pip: pymemcache).

PYTHON ?= python3
SEGCACHED := $(BUILD)/segcached

ALL_TARGETS   += segcached
TEST_TARGETS  += test-server
BENCH_TARGETS += bench-server

MCBENCH = cd server/clienttest && $(GO) run ./cmd/mcbench -segcached $(SEGCACHED)

.PHONY: segcached test-server bench-server
segcached:
	@mkdir -p $(BUILD)
	CGO_ENABLED=0 $(GO) build -o $(SEGCACHED) ./cmd/segcached

test-server: segcached
	cd server/clienttest && $(GO) vet ./... && SEGCACHED=$(SEGCACHED) $(GO) test -count=1 -timeout 15m ./...
	SEGCACHED=$(SEGCACHED) PYTHONDONTWRITEBYTECODE=1 $(PYTHON) -m pytest -q -p no:cacheprovider server/clienttest/python
	$(MCBENCH) -runs 1 -duration 200ms -keys 1000 -mem-items 20000 -mem-runs 1 -threads 1 -depths 4 -out $(BUILD)/bench-server-smoke.txt >/dev/null
	grep -q '^| 4 | 1 | shared | segcached | [0-9]* | [0-9]*–[0-9]* |' $(BUILD)/bench-server-smoke.txt

bench-server: segcached
	$(MCBENCH) -out $(BUILD)/bench-server.md
