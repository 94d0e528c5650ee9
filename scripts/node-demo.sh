#!/usr/bin/env bash
# The token contract on a local testnet: start `detvm node --dev` on a free
# loopback port, import two of its prefunded dev keys, deploy the token,
# mint, transfer and read balances over JSON-RPC with signed transactions,
# then stop the node. Every step is an ordinary `detvm` command. With a
# directory as the first argument the node keeps its chain there, and the
# script ends by replaying every block from it.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/build-contracts.sh --locked >/dev/null
# DETVM_BIN names a detvm binary to use instead of building the optimised
# one: CI passes the one its tests built, since the commands are what it
# checks and a release build of the whole tree would cost it ten minutes.
if [[ -z "${DETVM_BIN:-}" ]]; then
  cargo build --release --quiet -p detvm-cli
fi
detvm=${DETVM_BIN:-${CARGO_TARGET_DIR:-target}/release/detvm}
token=target/contracts/wasm32-unknown-unknown/release/token.wasm
work=$(mktemp -d)
state=${1:-}
keys=$work/keys

node_args=(node --dev --rpc 127.0.0.1:0)
[[ -n "$state" ]] && node_args+=(--state "$state")
"$detvm" "${node_args[@]}" >"$work/node.out" 2>"$work/node.err" &
node_pid=$!
# The node is always stopped, whatever happens below.
stop_node() {
  if kill -0 "$node_pid" 2>/dev/null; then
    kill -TERM "$node_pid"
    wait "$node_pid" || true
  fi
}
trap 'stop_node; rm -rf "$work"' EXIT

for _ in $(seq 1 200); do
  grep -q '^RPC listening on ' "$work/node.out" && break
  kill -0 "$node_pid" 2>/dev/null || { cat "$work/node.err"; exit 1; }
  sleep 0.05
done
rpc=$(sed -n 's/^RPC listening on //p' "$work/node.out")
[[ -n "$rpc" ]] || { echo "the node did not start" >&2; cat "$work/node.err" >&2; exit 1; }
echo "# node at $rpc"

secret() { sed -n "/^  ($1) account/{n;s/^ *secret *//p}" "$work/node.out"; }
alice=$("$detvm" keys import "$(secret 0)" --name alice --keys-dir "$keys" 2>/dev/null)
bob=$("$detvm" keys import "$(secret 1)" --name bob --keys-dir "$keys" 2>/dev/null)

run() { printf '$ detvm %s\n' "$*"; "$detvm" "$@" --rpc "$rpc"; }
tx() { run tx "$@" --keys-dir "$keys"; }

printf '$ detvm tx deploy %s --key alice\n' "$token"
contract=$("$detvm" tx deploy "$token" --key alice --keys-dir "$keys" --rpc "$rpc")
echo "$contract"
tx call "$contract" init str:DVM --key alice
tx call "$contract" mint "str:$alice" u128:1000 --key alice
tx call "$contract" transfer "str:$bob" u128:250 --key alice
echo "# bob cannot spend more than he has: the call traps, changes nothing, and bob pays its fee"
tx call "$contract" transfer str:carol u128:999 --key bob || true
run view "$contract" balance_of "str:$alice" --decode u128
run view "$contract" balance_of "str:$bob" --decode u128
run view "$contract" total_supply --decode u128
run block latest

if [[ -n "$state" ]]; then
  stop_node
  printf '$ detvm replay --state %s\n' "$state"
  "$detvm" replay --state "$state"
fi
