#!/usr/bin/env bash
# Usage: scripts/cross-check.sh TARGETS [cargo test args...] [-- test binary args...]
#        scripts/cross-check.sh TARGETS reproduce [detvm-reproduce args...]
#
# TARGETS is one or more of these, separated by commas:
#   aarch64-unknown-linux-gnu
#   riscv64gc-unknown-linux-gnu
#   s390x-unknown-linux-gnu     (big-endian: checks that every memory,
#                                global, table and value access keeps
#                                Wasm's little-endian semantics)
#
# Builds the engine's tests for each target and runs them under qemu-user,
# where Cranelift emits that target's code. Arguments after TARGETS select
# what `cargo test` builds and runs (default: `-p detvm-vm -p
# detvm-spec-tests`), e.g. `-p detvm-vm --test ops_nan`; those after a `--`
# go to the test binaries (e.g. `-- --skip limits`). With `reproduce`,
# builds the `detvm-reproduce` binary for every target in one cargo run
# instead and runs them under qemu-user side by side (each is one thread):
# every section of the built-in corpus must equal the reference digests
# (exit 1 names the first section and case that differ).
#
# Installs what it needs on a fresh Debian machine (run as root there).
# Prints how long each step took, so CI budgets can be set from real runs.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ $# -lt 1 ]; then
  awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0" >&2
  exit 2
fi
IFS=, read -r -a targets <<<"$1"
shift

step_start=0
step() {
  step_start=$(date +%s)
  echo "==> $*" >&2
}
step_done() {
  echo "==> $1: $(($(date +%s) - step_start))s" >&2
}

# Per target: the cross toolchain's prefix (gnu_triple), the qemu-user
# binary and Debian's architecture name in libc6-dev-<arch>-cross.
declare -A gnu_triple qemu
packages=()
for target in "${targets[@]}"; do
  case "$target" in
    aarch64-unknown-linux-gnu)
      gnu_triple[$target]=aarch64-linux-gnu qemu[$target]=qemu-aarch64 libc_pkg=arm64 ;;
    riscv64gc-unknown-linux-gnu)
      gnu_triple[$target]=riscv64-linux-gnu qemu[$target]=qemu-riscv64 libc_pkg=riscv64 ;;
    s390x-unknown-linux-gnu)
      gnu_triple[$target]=s390x-linux-gnu qemu[$target]=qemu-s390x libc_pkg=s390x ;;
    *)
      echo "cross-check: unsupported target '$target'" >&2
      echo "  (aarch64-unknown-linux-gnu, riscv64gc-unknown-linux-gnu, s390x-unknown-linux-gnu)" >&2
      exit 2 ;;
  esac
  gnu=${gnu_triple[$target]}
  if ! command -v "${qemu[$target]}" >/dev/null || ! command -v "$gnu-gcc" >/dev/null ||
    [ ! -d "/usr/$gnu/lib" ]; then
    packages+=("gcc-$gnu" "libc6-dev-$libc_pkg-cross")
  fi
done

step "toolchains for ${targets[*]}"
rustup target add "${targets[@]}" >/dev/null
if [ ${#packages[@]} -ne 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq qemu-user "${packages[@]}" >/dev/null
fi
step_done "toolchains"

target_flags=()
for target in "${targets[@]}"; do
  target_flags+=(--target "$target")
  # CARGO_TARGET_<TRIPLE>_{LINKER,RUNNER}, the triple upper-cased with '_'.
  env_target=$(echo "$target" | tr 'a-z-' 'A-Z_')
  export "CARGO_TARGET_${env_target}_LINKER=${gnu_triple[$target]}-gcc"
  export "CARGO_TARGET_${env_target}_RUNNER=${qemu[$target]} -L /usr/${gnu_triple[$target]}"
done

# Our own crates at opt-level 1: under emulation the unoptimised compiler is
# the bottleneck (about 3x slower); debug assertions, and with them
# Cranelift's IR verifier, stay on.
export CARGO_PROFILE_DEV_OPT_LEVEL=1

# Tests call into Wasm on libtest's threads (2 MiB by default), and the
# engine refuses a call when the thread has less native stack than the
# module may need (Module::native_stack_needed). s390x frames carry the
# ABI's 160-byte register save area, so the same modules need about 5% more
# than the 1.5 MiB a 2 MiB thread leaves above the host reserve there. The
# engine is right to refuse; the test threads get a larger stack (on every
# target of the run: a larger stack changes nothing else).
if [[ " ${targets[*]} " = *" s390x-unknown-linux-gnu "* ]]; then
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
  # One cargo run for every target keeps both cores busy through each
  # target's long single-crate steps.
  step "build detvm-reproduce for ${targets[*]}"
  cargo build "${target_flags[@]}" -p detvm-reproduce
  step_done "build"
  target_dir=${CARGO_TARGET_DIR:-target}
  logs=$(mktemp -d)
  trap 'rm -rf "$logs"' EXIT
  step "detvm reproduce on ${targets[*]} under qemu-user"
  pids=()
  for target in "${targets[@]}"; do
    "${qemu[$target]}" -L "/usr/${gnu_triple[$target]}" \
      "$target_dir/$target/debug/detvm-reproduce" "$@" >"$logs/$target" 2>&1 &
    pids+=($!)
  done
  # Every run's output, in the order given, and the first failure's status.
  status=0
  for i in "${!targets[@]}"; do
    run_status=0
    wait "${pids[$i]}" || run_status=$?
    echo "--- ${targets[$i]} (exit $run_status)"
    cat "$logs/${targets[$i]}"
    if [ "$status" -eq 0 ]; then
      status=$run_status
    fi
  done
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

step "build tests for ${targets[*]}"
cargo test "${target_flags[@]}" --no-run "${selection[@]}"
step_done "build"

# --no-fail-fast: one failing test binary must not hide the others' results.
step "run tests for ${targets[*]} under qemu-user"
status=0
cargo test "${target_flags[@]}" --no-fail-fast "${selection[@]}" -- "${skip[@]}" ||
  status=$?
step_done "run"
exit "$status"
