#!/usr/bin/env bash
# Runs interop.mjs against a one-node cluster with a bx calc attached.
#   interop.sh NODE BXT_NATS_CALC BXCTL       (exit 77: nats-server missing)
set -uo pipefail
node=$1 calc=$2 bxctl=$3
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
calc_pid=
cleanup() {
  [ -n "$calc_pid" ] && kill -KILL "$calc_pid" 2>/dev/null
  "$here/cluster.sh" stop "$work/cluster"
  rm -rf "$work"
}
trap cleanup EXIT
"$here/cluster.sh" start "$work/cluster" 1 $$
rc=$?
[ $rc -eq 0 ] || exit $rc
url=$(cat "$work/cluster/url.1")
"$calc" "$url" >"$work/calc.out" 2>&1 &
calc_pid=$!
for _ in $(seq 200); do grep -q READY "$work/calc.out" && break; sleep 0.05; done
grep -q READY "$work/calc.out" || { echo "FAILED: bxt_nats_calc did not start"; exit 1; }
"$node" "$here/interop.mjs" "$url" "$bxctl"
