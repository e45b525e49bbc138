# Tag-scan kernels: core/internal/{tagscan,fence,cpu} and the avo generator
# of the amd64 assembly in core/_asm (its own module).
#
# test-kernels-purego  the whole core suite with the pure-Go path
# test-kernels-arm64   the whole core suite for arm64 (NEON) under qemu-user
# test-kernels-amd64   the kernel packages with AVX2 (and all forced paths)
# test-kernels-vet     vet for arm64, purego and a non-asm arch
# test-kernels-asm     regenerate the avo assembly and fail on any diff
# test-kernels-bench   one iteration of every kernel benchmark (smoke)
TEST_TARGETS  += test-kernels-purego test-kernels-arm64 test-kernels-amd64 \
                 test-kernels-vet test-kernels-asm test-kernels-bench
BENCH_TARGETS += bench-kernels

KERNEL_PKGS   := ./core/internal/tagscan/... ./core/internal/fence/... ./core/internal/cpu/...
TAGSCAN_DIR   := core/internal/tagscan
ASMCHECK      := $(BUILD)/_asmcheck
# Set KERNELS_ARM64_FLAGS=-short if the arm64 suite becomes slow under qemu.
KERNELS_ARM64_FLAGS ?=

.PHONY: test-kernels-purego test-kernels-arm64 test-kernels-amd64 \
        test-kernels-vet test-kernels-asm test-kernels-bench bench-kernels

test-kernels-purego:
	$(GO) test -count=1 -tags purego ./core/...

test-kernels-arm64:
	GOARCH=arm64 CGO_ENABLED=0 $(GO) test -count=1 $(KERNELS_ARM64_FLAGS) -exec qemu-aarch64 ./core/...

test-kernels-amd64:
	$(GO) test -count=1 $(KERNEL_PKGS)

test-kernels-vet:
	GOARCH=arm64 $(GO) vet ./core/...
	$(GO) vet -tags purego ./core/...
	GOARCH=arm64 $(GO) vet -tags purego $(KERNEL_PKGS)
	GOARCH=riscv64 $(GO) vet $(KERNEL_PKGS)

# The generator runs from a copy placed like core/_asm, so that the command
# line recorded in the generated header is the committed one. The copy lives
# under a directory starting with "_", which `go ... ./...` ignores.
test-kernels-asm:
	rm -rf $(ASMCHECK)
	mkdir -p $(ASMCHECK)/internal/tagscan
	cp -r core/_asm $(ASMCHECK)/_asm
	cd $(ASMCHECK)/_asm && $(GO) run . -out ../internal/tagscan/match_amd64.s \
		-stubs ../internal/tagscan/match_amd64_stub.go -pkg tagscan
	diff -u $(TAGSCAN_DIR)/match_amd64.s $(ASMCHECK)/internal/tagscan/match_amd64.s
	diff -u $(TAGSCAN_DIR)/match_amd64_stub.go $(ASMCHECK)/internal/tagscan/match_amd64_stub.go
	rm -rf $(ASMCHECK)
	@echo "test-kernels-asm: generated assembly is up to date"

test-kernels-bench:
	$(GO) test -count=1 -short -run '^$$' -bench . -benchtime=1x $(KERNEL_PKGS)

# 5 interleaved runs (rather than -count 5, which runs each sub-benchmark's
# samples back to back and so lets machine noise drift between them), then
# benchstat medians with the implementations, batch vs single, and the
# prefetch distances side by side. benchstat comes from the module proxy.
BENCHSTAT ?= $(GO) run golang.org/x/perf/cmd/benchstat@latest
bench-kernels:
	mkdir -p $(BUILD)
	rm -f $(BUILD)/bench-kernels.txt
	for i in 1 2 3 4 5; do \
		$(GO) test -run '^$$' -bench . -count 1 -timeout 30m ./core/internal/tagscan \
			>> $(BUILD)/bench-kernels.txt || exit 1; \
	done
	{ $(BENCHSTAT) -col '/impl@(go avx2 neon)' -filter '.name:(Match OR Lookup)' $(BUILD)/bench-kernels.txt; \
	  $(BENCHSTAT) -col '/kind@(single batch)' -filter '.name:Lookup' $(BUILD)/bench-kernels.txt; \
	  $(BENCHSTAT) -col /dist -filter '.name:PrefetchDist' $(BUILD)/bench-kernels.txt; \
	} | tee $(BUILD)/bench-kernels-summary.txt
