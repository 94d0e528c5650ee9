#!/usr/bin/env bash
# Usage: scripts/cross-check.sh TARGET [cargo test args...] [-- test binary args...]
#        scripts/cross-check.sh TARGET reproduce [detvm-reproduce args...]
#
# TARGET is one of
#   aarch64-unknown-linux-gnu
#   riscv64gc-unknown-linux-gnu
#   s390x-unknown-linux-gnu     (big-endian: checks that every memory,
#                                global, table and value access keeps
#                                Wasm's little-endian semantics)
#
# Builds the engine's tests for TARGET and runs them under qemu-user, where
# Cranelift emits TARGET's code. Arguments after TARGET select what
# `cargo test` builds and runs (default: `-p detvm-vm -p detvm-spec-tests`),
# e.g. `-p detvm-vm --test ops_nan`; those after a `--` go to the test
# binaries (e.g. `-- --skip limits`). With `reproduce`, builds the
# `detvm-reproduce` binary for TARGET instead and runs it under qemu-user:
# every section of the built-in corpus must equal the reference digests
# (exit 1 names the first section and case that differ).
#
# Installs what it needs on a fresh Debian machine (run as root there).
# Prints how long each step took, so CI budgets can be set from real runs.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ $# -lt 1 ]; then
  sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
fi
target=$1
shift

# gnu_triple: the cross toolchain's prefix; qemu: the qemu-user binary;
# libc_pkg: Debian's architecture name in libc6-dev-<arch>-cross.
case "$target" in
  aarch64-unknown-linux-gnu)
    gnu_triple=aarch64-linux-gnu qemu=qemu-aarch64 libc_pkg=arm64 ;;
  riscv64gc-unknown-linux-gnu)
    gnu_triple=riscv64-linux-gnu qemu=qemu-riscv64 libc_pkg=riscv64 ;;
  s390x-unknown-linux-gnu)
    gnu_triple=s390x-linux-gnu qemu=qemu-s390x libc_pkg=s390x ;;
  *)
    echo "cross-check: unsupported target '$target'" >&2
    echo "  (aarch64-unknown-linux-gnu, riscv64gc-unknown-linux-gnu, s390x-unknown-linux-gnu)" >&2
    exit 2 ;;
esac
sysroot=/usr/$gnu_triple

step_start=0
step() {
  step_start=$(date +%s)
  echo "==> $*" >&2
}
step_done() {
  echo "==> $1: $(($(date +%s) - step_start))s" >&2
}

step "toolchain for $target"
rustup target add "$target" >/dev/null
if ! command -v "$qemu" >/dev/null || ! command -v "$gnu_triple-gcc" >/dev/null || [ ! -d "$sysroot/lib" ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
    qemu-user "gcc-$gnu_triple" "libc6-dev-$libc_pkg-cross" >/dev/null
fi
step_done "toolchain"

# CARGO_TARGET_<TRIPLE>_{LINKER,RUNNER}, the triple upper-cased with '_'.
env_target=$(echo "$target" | tr 'a-z-' 'A-Z_')
export "CARGO_TARGET_${env_target}_LINKER=$gnu_triple-gcc"
export "CARGO_TARGET_${env_target}_RUNNER=$qemu -L $sysroot"

# Our own crates at opt-level 1: under emulation the unoptimised compiler is
# the bottleneck (about 3x slower); debug assertions, and with them
# Cranelift's IR verifier, stay on.
export CARGO_PROFILE_DEV_OPT_LEVEL=1

# Tests call into Wasm on libtest's threads (2 MiB by default), and the
# engine refuses a call when the thread has less native stack than the
# module may need (Module::native_stack_needed). s390x frames carry the
# ABI's 160-byte register save area, so the same modules need about 5% more
# than the 1.5 MiB a 2 MiB thread leaves above the host reserve there. The
# engine is right to refuse; the test threads get a larger stack.
if [ "$target" = s390x-unknown-linux-gnu ]; then
  export RUST_MIN_STACK=$((4 << 20))
fi

# The host-side test names stay the same, so a failure reads identically.
# The compile-time doubling test times the compiler at the contract limits:
# under emulation that is tens of minutes of qemu, and the growth rate it
# checks is the same code's on every target (the x86_64 run checks it).
# Everything else, the adversarial frame corpus included, runs here.
skip=(--skip compile_time_of_every_compile_shape_doubles_at_most_linearly)

if [ "${1:-}" = reproduce ]; then
  shift
  step "build detvm-reproduce for $target"
  cargo build --target "$target" -p detvm-reproduce
  step_done "build"
  step "detvm reproduce on $target under $qemu"
  status=0
  # The runner set above runs it under qemu.
  cargo run -q --target "$target" -p detvm-reproduce -- "$@" || status=$?
  step_done "run"
  exit "$status"
fi

# Without arguments: every test of the engine and the spec suite.
selection=()
while [ $# -gt 0 ] && [ "$1" != -- ]; do
  selection+=("$1")
  shift
done
[ $# -gt 0 ] && shift
skip+=("$@")
if [ ${#selection[@]} -eq 0 ]; then
  selection=(-p detvm-vm -p detvm-spec-tests)
fi

step "build tests for $target"
cargo test --target "$target" --no-run "${selection[@]}"
step_done "build"

# --no-fail-fast: one failing test binary must not hide the others' results.
step "run tests for $target under $qemu"
status=0
cargo test --target "$target" --no-fail-fast "${selection[@]}" -- "${skip[@]}" ||
  status=$?
step_done "run"
exit "$status"
