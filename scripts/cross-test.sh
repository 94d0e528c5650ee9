#!/usr/bin/env bash
# The cross-architecture part of the README's test command, under
# qemu-user with Debian's cross compilers (installed if missing; run as
# root on a fresh machine):
#
# 1. aarch64: the engine's tests, built for aarch64 so Cranelift emits
#    aarch64 code (native frames, the stack bound, traps, every operator).
#    Left to other steps: the official spec suite and the generated-module
#    comparison run inside `detvm reproduce` below, the differential test
#    against wasmi and the compile-time tests run natively (their subject,
#    the compiler's work and the interpreter, is the same on every target).
# 2. aarch64, riscv64 and s390x (big-endian): `detvm reproduce`, the whole
#    built-in corpus, must equal the reference digests on each.
#
# Arguments go to the aarch64 `cargo test` (e.g. `--test ops_nan`).
set -euo pipefail
cd "$(dirname "$0")/.."

vm_tests=()
for file in vm/tests/*.rs; do
  name=$(basename "$file" .rs)
  case "$name" in
    differential | compile_limits) ;;
    *) vm_tests+=(--test "$name") ;;
  esac
done

scripts/cross-check.sh aarch64-unknown-linux-gnu -p detvm-vm --lib "${vm_tests[@]}" "$@"
for target in aarch64-unknown-linux-gnu riscv64gc-unknown-linux-gnu s390x-unknown-linux-gnu; do
  scripts/cross-check.sh "$target" reproduce
done
