#!/usr/bin/env bash
# Builds every contract in contracts/ for wasm32-unknown-unknown (release:
# size-optimised, LTO, panic=abort) and prints their sizes.
#
# Output: target/contracts/wasm32-unknown-unknown/release/<contract>.wasm,
# the same directory the test kit's build script uses, so either one reuses
# the other's build. Extra arguments go to cargo (e.g. --locked).
set -euo pipefail
cd "$(dirname "$0")/.."

target=wasm32-unknown-unknown
target_dir=target/contracts

if ! rustup target list --installed 2>/dev/null | grep -qx "$target"; then
  rustup target add "$target"
fi

# Flags meant for host builds must not leak into the contracts: they would
# change the bytes, and with them the code hashes. The one flag set here
# keeps the machine's cargo home out of the panic locations compiled into
# the contracts (testkit/build.rs sets the same).
unset RUSTFLAGS CARGO_BUILD_RUSTFLAGS CARGO_BUILD_TARGET CARGO_TARGET_DIR
export CARGO_ENCODED_RUSTFLAGS="--remap-path-prefix=${CARGO_HOME:-$HOME/.cargo}=/cargo"

cargo build --release --target "$target" --target-dir "$target_dir" \
  --manifest-path contracts/Cargo.toml "$@"

out="$target_dir/$target/release"
printf '\n%-10s %8s  %s\n' contract bytes sha256
for wasm in "$out"/*.wasm; do
  name=$(basename "$wasm" .wasm)
  printf '%-10s %8d  %s\n' "$name" "$(wc -c <"$wasm")" "$(sha256sum "$wasm" | cut -d' ' -f1)"
done
