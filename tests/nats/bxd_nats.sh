#!/usr/bin/env bash
# bxd federation over a 3-node NATS cluster: real processes.
#   bxd_nats.sh BXD BXCTL CALC_SERVER
# Hub A (node 1) and hub B (node 2) run with --nats; a calculator registers in hub A over its
# Unix socket; bxctl on hub B calls it by name and lists the cluster; the calculator goes away
# and hub B's callers get NoSuchName (BX_ENOSERVICE) at once, not a hang. Skips (77) without
# nats-server.
set -uo pipefail
bxd=$1 bxctl=$2 server=$3
work=$(mktemp -d)
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../bxd/harness.sh"
cluster_cleanup() { "$here/cluster.sh" stop "$work/cluster" 2>/dev/null; cleanup; }
trap cluster_cleanup EXIT

"$here/cluster.sh" start "$work/cluster" 3 $$
rc=$?
[ $rc -eq 77 ] && exit 77
[ $rc -eq 0 ] || { echo "FAILED: the cluster did not start"; exit 1; }
n1=$(cat "$work/cluster/url.1") n2=$(cat "$work/cluster/url.2")

"$bxd" --help | grep -- '--nats URL' >/dev/null && ok "bxd --help documents --nats" || bad "bxd --help"
start hubA '^attached' "$bxd" --unix "$work/a.sock" --nats "$n1" --name /hubA &&
  ok "hub A attaches to node 1" || bad "hub A start" "$work/hubA.err"
start hubB '^attached' "$bxd" --unix "$work/b.sock" --nats "$n2" --name /hubB &&
  ok "hub B attaches to node 2" || bad "hub B start" "$work/hubB.err"
start calc '^registered as calc' "$server" --connect "unix://$work/a.sock" &&
  ok "calc registers in hub A" || bad "calc register" "$work/calc.err"
calc_pid=$last_pid

# Hub B learns of calc within a round of listings (1 s); bounded wait, no timing asserted.
for _ in $(seq 100); do
  out=$(timeout 10 "$bxctl" --url "unix://$work/b.sock" call calc add 1 2 2>/dev/null) && break
  sleep 0.1
done
expect "bxctl on hub B calls calc registered in hub A" 0 "3" \
  "$bxctl" --url "unix://$work/b.sock" call calc add 1 2
expect "and again" 0 "42" "$bxctl" --url "unix://$work/b.sock" call calc add 40 2
timeout 10 "$bxctl" --url "unix://$work/b.sock" ls --cluster >"$work/ls" 2>&1
grep -q '^calc  *cluster$' "$work/ls" && ok "bxctl ls --cluster on hub B lists calc" ||
  bad "ls --cluster" "$work/ls"
timeout 10 "$bxctl" --url "unix://$work/a.sock" ls --cluster >"$work/lsa" 2>&1
grep -q '^calc  *this hub$' "$work/lsa" && ok "on hub A calc is this hub's" || bad "ls A" "$work/lsa"

kill -KILL "$calc_pid"
# The calc's connection to hub A closes: A unregisters it and stops serving it; B's callers
# get an answer (no responders, then NoSuchName once B's proxy went), never a hang.
for i in $(seq 5); do
  start_s=$(date +%s)
  timeout 20 "$bxctl" --url "unix://$work/b.sock" --timeout 15 call calc add 1 2 >"$work/gone" 2>&1
  rc=$?
  took=$(($(date +%s) - start_s))
  if [ $rc -ne 0 ] && [ $took -lt 10 ] && grep -qi 'no such\|ENOSERVICE\|NoSuchName' "$work/gone"; then
    ok "call $i after calc went: no such service, not a hang (exit $rc)"
  else
    bad "call $i after calc went (exit $rc, ${took}s)" "$work/gone"
  fi
  sleep 0.3
done

echo "$passed passed, $failures failed"
[ "$failures" -eq 0 ]
