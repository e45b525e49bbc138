# The Go engine: vet, race-enabled tests, and the Go demo.
ALL_TARGETS  += demo-go
TEST_TARGETS += test-go
BENCH_TARGETS += bench-go

.PHONY: demo-go test-go bench-go
demo-go:
	$(GO) run ./examples/go/demo

test-go:
	$(GO) vet ./...
	$(GO) test -race -count=1 ./...

bench-go:
	$(GO) test -run '^$$' -bench . -benchmem -count 5 -cpu 1,2 ./core/ | tee $(BUILD)/bench-core.txt
