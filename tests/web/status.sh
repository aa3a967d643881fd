#!/usr/bin/env bash
# bxd's live status page in headless Chromium, with the calculator registered in the hub.
#   status.sh BXD CALC_SERVER
set -uo pipefail
bxd=$1 server=$2
here=$(cd "$(dirname "$0")" && pwd)
if [ ! -f "$here/node_modules/playwright-core/package.json" ]; then
  (cd "$here" && npm ci --no-audit --no-fund --loglevel=error) || { echo "status.sh: npm ci failed"; exit 1; }
fi
work=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; done; rm -rf "$work"' EXIT
wait_for() { for _ in $(seq 100); do grep -q "$2" "$1" && return 0; sleep 0.05; done; return 1; }
"$bxd" --unix "$work/hub.sock" --ws 127.0.0.1:0 >"$work/bxd.out" 2>"$work/bxd.err" &
pids+=($!)
wait_for "$work/bxd.out" '^ready' || { echo "FAILED: bxd did not start"; cat "$work/bxd.err"; exit 1; }
page=$(sed -n 's/^status page: //p' "$work/bxd.out")
"$server" --connect "unix://$work/hub.sock" >"$work/calc.out" 2>&1 &
pids+=($!)
wait_for "$work/calc.out" '^registered' || { echo "FAILED: calc did not register"; cat "$work/calc.out"; exit 1; }
node "$here/status.mjs" "$page" calc
