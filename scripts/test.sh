#!/usr/bin/env bash
# Runs every test: the host workspace (which builds the example contracts for
# wasm32 on the way) and then the engine and spec suite on aarch64 under
# qemu-user. Installs what a fresh machine lacks; safe to rerun.
set -euo pipefail
cd "$(dirname "$0")/.."

rustup target add wasm32-unknown-unknown >/dev/null

cargo test --workspace
scripts/cross-test.sh
