#!/usr/bin/env bash
# Two hosts in network namespaces this test creates (a user namespace makes it unprivileged):
# host A runs bxd, host B a service registered in it over TCP across a veth pair; clients on
# host A call the service while the link is cut (2.5 s) and restored. Calls in flight when it
# is cut end with an error by their deadline (none wrong, none twice), and calls succeed again
# over the same connection once the link is back.
# Skips (exit 77) where namespaces are not permitted.
#   netns.sh BXD CALC_SERVER BX_LOAD
set -uo pipefail
unset BXD_TOKEN
if [ -z "${BX_NETNS_INSIDE:-}" ]; then
  if ! unshare -rnm true 2>/dev/null || ! command -v ip >/dev/null || ! command -v nsenter >/dev/null; then
    echo "SKIP: user and network namespaces are not permitted here (unshare -rnm), or ip/nsenter missing"
    exit 77
  fi
  BX_NETNS_INSIDE=1 exec unshare -rnm --propagation private bash "$0" "$@"
fi
bxd=$1 server=$2 load=$3
work=$(mktemp -d)
. "$(dirname "$0")/../bxd/harness.sh"
ip link set lo up
unshare -n sleep 600 & # host B's network namespace lives as long as this process
hostb=$!
pids+=("$hostb")
sleep 0.2
ip link add va type veth peer name vb && ip link set vb netns "$hostb" &&
  ip addr add 10.9.0.1/24 dev va && ip link set va up &&
  nsenter -t "$hostb" -n ip link set lo up &&
  nsenter -t "$hostb" -n ip addr add 10.9.0.2/24 dev vb &&
  nsenter -t "$hostb" -n ip link set vb up && ok "two hosts joined by a veth pair" ||
  { bad "namespace setup"; exit 1; }
sock="$work/bxd.sock"
start bxd '^ready' "$bxd" --unix "$sock" --tcp 10.9.0.1:7301 --token netns-test ||
  { bad "bxd on host A" "$work/bxd.err"; exit 1; }
start calc '^registered as calc' nsenter -t "$hostb" -n "$server" --connect tcp://10.9.0.1:7301 \
  --token netns-test && ok "the service on host B registers over TCP" ||
  { bad "calc on host B" "$work/calc.err"; exit 1; }

"$load" --url "unix://$sock" --clients 4 --calls 3000 --timeout-ms 2000 --expect-errors 1 \
  --limit-s 60 >"$work/cut" 2>&1 &
load_pid=$!
sleep 0.3
ip link set va down
sleep 2.5
ip link set va up
wait "$load_pid" && ok "link cut and restored: errors by the deadline, calls again after" ||
  bad "link cut" "$work/cut"
echo "link cut for 2.5 s: $(tr '\n' ' ' <"$work/cut")"
echo "passed $passed, failed $failures"
[ "$failures" -eq 0 ]
