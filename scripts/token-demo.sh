#!/usr/bin/env bash
# The token contract end to end on a fresh local chain: build the contracts,
# deploy the token, mint, transfer, and read balances back. Every step is an
# ordinary `detvm` command; the state lives in a scratch directory (or in the
# one given as the first argument).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/build-contracts.sh --locked >/dev/null
# DETVM_BIN names a detvm binary to use instead of building the optimised
# one: CI passes the one its tests built, since the commands are what it
# checks and a release build of the whole tree would cost it ten minutes.
if [[ -z "${DETVM_BIN:-}" ]]; then
  cargo build --release --quiet -p detvm-cli
fi
# Where cargo put the binary: the build directory may be elsewhere.
detvm=${DETVM_BIN:-${CARGO_TARGET_DIR:-target}/release/detvm}
token=target/contracts/wasm32-unknown-unknown/release/token.wasm
state=${1:-$(mktemp -d)}

run() { printf '$ detvm %s\n' "$*"; "$detvm" "$@" --state "$state"; }

contract=$("$detvm" deploy "$token" --from alice --state "$state")
printf '$ detvm deploy %s --from alice\n%s\n' "$token" "$contract"
run call "$contract" init str:DVM --from alice
run call "$contract" mint str:alice u128:1000 --from alice
run call "$contract" transfer str:bob u128:250 --from alice
echo "# bob cannot spend more than he has: the call traps and changes nothing"
run call "$contract" transfer str:carol u128:999 --from bob || true
run view "$contract" balance_of str:alice --decode u128
run view "$contract" balance_of str:bob --decode u128
run view "$contract" total_supply --decode u128
run state "$contract"
