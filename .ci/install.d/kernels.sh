#!/usr/bin/env bash
# Tag-scan kernels: the arm64 suite runs under qemu-user. avo (for the
# regenerate-and-diff check) comes from the Go module proxy via `go run`.
# deps-check: command -v qemu-aarch64 && command -v diff
# deps-skip: test-kernels-arm64
set -euo pipefail
command -v qemu-aarch64 >/dev/null || apt-get install -y -qq qemu-user >/dev/null
command -v diff >/dev/null || apt-get install -y -qq diffutils >/dev/null
