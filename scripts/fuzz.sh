#!/usr/bin/env bash
# Runs every cargo fuzz target (fuzz/, checks in fuzzing/) for SECONDS each
# (default 300), starting from the checked-in corpus. New inputs go to
# fuzz/target/corpus/<target>/, crashes and divergences to
# fuzz/artifacts/<target>/; any crash fails the script.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]
#
# Only a stable toolchain exists here: cargo fuzz builds with coverage
# instrumentation but no sanitizer (`--sanitizer none`, which needs no
# nightly flag), optimised with debug assertions on (`-O`). A crash is
# replayed with `cargo fuzz run --sanitizer none -O TARGET FILE`, and
# becomes a regression by copying FILE into fuzz/corpus/TARGET/, which
# `cargo test -p detvm-fuzzing` replays.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-300}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(front differential host_api decode frames)
fi

if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --version 0.13.2 --locked
fi

# cargo fuzz keeps its own build directory (fuzz/target): the
# instrumented build shares nothing with the workspace's.
unset CARGO_TARGET_DIR
cd fuzz
cargo fuzz build --sanitizer none -O

failed=()
for target in "${targets[@]}"; do
  work="target/corpus/$target"
  mkdir -p "$work" "artifacts/$target"
  # Modules from wasm-smith want more input than libFuzzer's default 4 KiB.
  max_len=4096
  case "$target" in
    differential|front) max_len=16384 ;;
  esac
  echo "==> $target: ${seconds}s"
  log="target/$target.log"
  if cargo fuzz run --sanitizer none -O "$target" "$work" "corpus/$target" -- \
      -max_total_time="$seconds" -max_len="$max_len" -timeout=60 -rss_limit_mb=4096 \
      -print_final_stats=1 >"$log" 2>&1; then
    tail -n 12 "$log"
  else
    # The finding itself (a panic's message, libFuzzer's verdict) comes
    # long before the last lines: show it, or a red run says nothing.
    grep -A 3 -m 4 -e 'panicked at' -e '==ERROR' -e 'ERROR: libFuzzer' "$log" || true
    tail -n 25 "$log"
    failed+=("$target")
  fi
done

if [ ${#failed[@]} -ne 0 ]; then
  echo "fuzz targets that found something: ${failed[*]} (see fuzz/artifacts/)"
  exit 1
fi
