#!/usr/bin/env bash
# Builds the engine's tests for aarch64 and runs them under qemu-user, where
# Cranelift emits aarch64 code. The determinism digest test inside them must
# produce the same digest as on the host: same results, traps and gas.
#
# Installs what it needs on a fresh Debian machine (run as root there).
set -euo pipefail
cd "$(dirname "$0")/.."

target=aarch64-unknown-linux-gnu
sysroot=/usr/aarch64-linux-gnu

rustup target add "$target" >/dev/null
if ! command -v qemu-aarch64 >/dev/null || ! command -v aarch64-linux-gnu-gcc >/dev/null || [ ! -d "$sysroot/lib" ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq qemu-user gcc-aarch64-linux-gnu libc6-dev-arm64-cross >/dev/null
fi

export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER="qemu-aarch64 -L $sysroot"

# Our own crates at opt-level 1: under emulation the unoptimised compiler is
# the bottleneck (about 3x slower); debug assertions, and with them
# Cranelift's IR verifier, stay on.
export CARGO_PROFILE_DEV_OPT_LEVEL=1

# The host-side test names stay the same, so a failure reads identically.
# The compile-time doubling test times the compiler at the contract limits:
# under emulation that is tens of minutes of qemu, and the growth rate it
# checks is the same code's on every target (the x86_64 run checks it).
# Everything else, the adversarial frame corpus included, runs here.
cargo test --target "$target" -p detvm-vm -p detvm-spec-tests "$@" -- \
  --skip compile_time_of_every_compile_shape_doubles_at_most_linearly
