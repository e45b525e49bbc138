#!/usr/bin/env bash
# The C ABI tests need a C/C++ toolchain, CMake + Ninja, pkg-config,
# binutils (nm) and valgrind.
# deps-check: command -v cc && command -v c++ && command -v cmake && command -v ninja && command -v pkg-config && command -v nm && command -v valgrind
# deps-skip: test-capi
set -euo pipefail
apt-get install -y -qq gcc g++ make cmake ninja-build pkg-config binutils valgrind >/dev/null
