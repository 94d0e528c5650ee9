#!/usr/bin/env bash
# CI's fuzzing step: every cargo fuzz target for a short budget (SECONDS,
# default 60, each), starting from the checked-in corpus, which libFuzzer
# replays first, so every past crash or divergence is re-checked (the
# ordinary tests replay the same corpus: `cargo test -p detvm-fuzzing`).
# Installs cargo-fuzz if missing (scripts/fuzz.sh). With
# DETVM_CROSS_FREE_BUILDS=1 (CI sets it) the instrumented build directory
# goes afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo fmt --manifest-path fuzz/Cargo.toml --all -- --check
scripts/fuzz.sh "${1:-60}"

if [ "${DETVM_CROSS_FREE_BUILDS:-0}" = 1 ]; then
  rm -rf fuzz/target
fi
