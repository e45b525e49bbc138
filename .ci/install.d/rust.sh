#!/usr/bin/env bash
# The Rust bindings need cargo and rustc >= 1.78 (Cargo.lock v4, offset_of!).
# Machines of this project come with Rust installed by rustup in
# ~/.cargo/bin, which a non-login shell may not have on its PATH; use it
# when present. Otherwise install Debian's current toolchain (cargo-web and
# rustc-web are the maintained, recent Rust of Debian 12; plain "cargo" is
# 1.63, too old). The crates have no dependencies, so no registry access
# is needed at test time.
# deps-check: command -v cargo || test -x "$HOME/.cargo/bin/cargo"
# deps-skip: test-rust
set -euo pipefail
if command -v cargo >/dev/null 2>&1; then
	cargo --version
elif [ -x "$HOME/.cargo/bin/cargo" ]; then
	"$HOME/.cargo/bin/cargo" --version
else
	apt-get install -y -qq cargo-web rustc-web >/dev/null
	cargo --version
fi
