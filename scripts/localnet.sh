#!/usr/bin/env bash
# A network of N validators on loopback (docs/network.md):
#
#   scripts/localnet.sh N [DIR]     start N validators (default 4), print
#                                   their RPC addresses
#   scripts/localnet.sh --stop [DIR]  stop them
#
# DIR (default .detvm/localnet) gets a fresh key per validator, a genesis
# file listing them (and one funded account, key `user`), and per node its
# state directory, log and pid file. Peer ports are free loopback ports
# found at start; RPC servers bind any free port and print it.
set -euo pipefail
cd "$(dirname "$0")/.."

detvm=${DETVM:-${CARGO_TARGET_DIR:-target}/release/detvm}

stop() {
  local dir=$1 stopped=0
  for pidfile in "$dir"/node-*.pid; do
    [[ -e "$pidfile" ]] || continue
    pid=$(cat "$pidfile")
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid"
      for _ in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
      done
      kill -KILL "$pid" 2>/dev/null || true
      stopped=$((stopped + 1))
    fi
    rm -f "$pidfile"
  done
  echo "stopped $stopped node(s) of $dir"
}

if [[ "${1:-}" == "--stop" ]]; then
  stop "${2:-.detvm/localnet}"
  exit 0
fi

n=${1:-4}
dir=${2:-.detvm/localnet}
if ! [[ "$n" =~ ^[0-9]+$ ]] || ((n < 1 || n > 64)); then
  echo "usage: $0 N [DIR] | --stop [DIR]   (N: 1 to 64 validators)" >&2
  exit 2
fi
if compgen -G "$dir/node-*.pid" >/dev/null; then
  echo "$dir has running nodes; stop them first: $0 --stop $dir" >&2
  exit 1
fi
[[ -x "$detvm" ]] || cargo build --release --quiet -p detvm-cli

rm -rf "$dir"
mkdir -p "$dir/keys"

# A loopback port nothing answers on and not yet in `ports` (nodes listen
# with port reuse, so two given one port would both start).
free_port() {
  local port
  while true; do
    port=$((20000 + RANDOM % 40000))
    if [[ " ${ports[*]} " == *" $port "* ]]; then
      continue
    fi
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return
    fi
  done
}

public_key() { sed -n 's/.*"public_key": *"\([0-9a-f]*\)".*/\1/p' "$1"; }

validators=""
ports=()
for i in $(seq 0 $((n - 1))); do
  "$detvm" keys new --name "validator-$i" --keys-dir "$dir/keys" >/dev/null 2>&1
  key=$(public_key "$dir/keys/validator-$i.json")
  validators+="${validators:+,}{\"public_key\": \"$key\", \"power\": 1}"
  ports+=("$(free_port)")
done
"$detvm" keys new --name user --keys-dir "$dir/keys" >/dev/null 2>&1
user=$(public_key "$dir/keys/user.json")
cat >"$dir/genesis.json" <<EOF
{
  "chain_id": "detvm-localnet",
  "accounts": [{"id": "$user", "balance": "1000000000000000000000000000"}],
  "validators": [$validators]
}
EOF

for i in $(seq 0 $((n - 1))); do
  peers=""
  for j in $(seq 0 $((n - 1))); do
    ((j == i)) || peers+="${peers:+,}127.0.0.1:${ports[$j]}"
  done
  args=(node --validator --key "$dir/keys/validator-$i.json" --genesis "$dir/genesis.json"
    --state "$dir/node-$i" --p2p "127.0.0.1:${ports[$i]}" --rpc 127.0.0.1:0)
  [[ -n "$peers" ]] && args+=(--peers "$peers")
  nohup "$detvm" "${args[@]}" >"$dir/node-$i.out" 2>"$dir/node-$i.log" &
  echo $! >"$dir/node-$i.pid"
done

for i in $(seq 0 $((n - 1))); do
  for _ in $(seq 1 300); do
    grep -q '^RPC listening on ' "$dir/node-$i.out" && break
    if ! kill -0 "$(cat "$dir/node-$i.pid")" 2>/dev/null; then
      echo "validator $i did not start:" >&2
      cat "$dir/node-$i.log" >&2
      stop "$dir" >&2
      exit 1
    fi
    sleep 0.1
  done
  rpc=$(sed -n 's/^RPC listening on //p' "$dir/node-$i.out")
  [[ -n "$rpc" ]] || { echo "validator $i did not start" >&2; stop "$dir" >&2; exit 1; }
  echo "validator $i: rpc $rpc  p2p 127.0.0.1:${ports[$i]}  log $dir/node-$i.log"
done
echo "funded account: $user (key $dir/keys/user.json)"
echo "stop with: $0 --stop $dir"
