#!/usr/bin/env bash
# The C ABI tests need a C/C++ toolchain, CMake + Ninja, pkg-config,
# binutils (nm) and valgrind.
set -euo pipefail
apt-get install -y -qq gcc g++ make cmake ninja-build pkg-config binutils valgrind >/dev/null
