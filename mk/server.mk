# segcached, the memcached-protocol server (cmd/segcached over server/).
#
#   make segcached      build $(BUILD)/segcached
#   make test-server    the server driven by real clients: memccapable (the
#                       conformance tool), gomemcache and twemproxy
#                       (server/clienttest, its own Go module) and pymemcache.
#                       The server's own tests (protocol, limits, 1,000
#                       pipelined connections, fuzz corpus) run in test-go.
#
# The tools come from .ci/install.d/server.sh (Debian: memcached,
# libmemcached-tools, nutcracker; pip: pymemcache).

PYTHON ?= python3
SEGCACHED := $(BUILD)/segcached

ALL_TARGETS   += segcached
TEST_TARGETS  += test-server

.PHONY: segcached test-server
segcached:
	@mkdir -p $(BUILD)
	$(GO) build -o $(SEGCACHED) ./cmd/segcached

test-server: segcached
	cd server/clienttest && $(GO) vet ./... && SEGCACHED=$(SEGCACHED) $(GO) test -count=1 -timeout 15m ./...
	SEGCACHED=$(SEGCACHED) PYTHONDONTWRITEBYTECODE=1 $(PYTHON) -m pytest -q -p no:cacheprovider server/clienttest/python
