# The Go engine: vet, race-enabled tests, the linearizability checks of
# tests/linearizability (a module of its own: it needs porcupine; without
# the race detector, whose slowdown would mostly serialize the clients), and
# the Go demo.
ALL_TARGETS  += demo-go
TEST_TARGETS += test-go
BENCH_TARGETS += bench-go

.PHONY: demo-go test-go bench-go
demo-go:
	$(GO) run ./examples/go/demo

# Go users import core on any system: it must at least build on macOS
# (mmap without huge pages) and Windows (heap memory; see core/internal/arena),
# and so must segcached (the server's stats and the command's descriptor
# limit and unix socket mode are system calls of their own on each).
CROSS_PKGS := ./core/... ./server/... ./cmd/...
test-go:
	$(GO) vet ./...
	GOOS=darwin GOARCH=arm64 $(GO) build $(CROSS_PKGS)
	GOOS=windows GOARCH=amd64 $(GO) build $(CROSS_PKGS)
	GOOS=freebsd GOARCH=amd64 $(GO) build $(CROSS_PKGS)
	$(GO) test -race -count=1 ./...
	cd tests/linearizability && $(GO) vet ./... && $(GO) test -count=1 ./...

# BenchmarkExpireOne sleeps 2 ms outside the timer in every iteration (a
# segment must expire before each timed Expire), so the default -benchtime,
# which sizes b.N by the timed part alone (a few µs), made it run for about
# an hour; it gets a fixed iteration count instead. The growth benchmarks
# (BenchmarkGrow*) time nothing at all (each iteration loads 900,000 items
# and grows the table with the timer stopped, and reports its own metrics),
# so the default -benchtime raised b.N a hundredfold per round and never
# finished: they get 3 iterations per run. The MissRatio
# benchmarks are deterministic replays (miss% and held%, the same every
# run): one pass of two replays each, not five at two CPU counts.
bench-go:
	{ $(GO) test -run '^$$' -bench . -skip '^Benchmark(ExpireOne|Grow.*|.*MissRatio)$$' -benchmem -count 5 -cpu 1,2 ./core/ && \
	  $(GO) test -run '^$$' -bench '^BenchmarkExpireOne$$' -benchtime 200x -benchmem -count 5 -cpu 1,2 ./core/ && \
	  $(GO) test -run '^$$' -bench '^BenchmarkGrow' -benchtime 3x -benchmem -count 5 -cpu 1,2 ./core/ && \
	  $(GO) test -run '^$$' -bench 'MissRatio$$' -benchtime 2x -count 1 -cpu 1 ./core/; } \
	  | tee $(BUILD)/bench-core.txt
