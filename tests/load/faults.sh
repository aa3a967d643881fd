#!/usr/bin/env bash
# Faults under load (issue 19): clients make calls through bxd while the service is killed
# (kill -9) mid-call and restarted, then while bxd itself is killed mid-burst and restarted.
# Every call is answered exactly once (a result or an error, none wrong), every error within
# the call's timeout, the service registers again and calls succeed again afterwards.
#   faults.sh BXD CALC_SERVER BX_LOAD [CLIENTS CALLS]
set -uo pipefail
unset BXD_TOKEN
bxd=$1 server=$2 load=$3 clients=${4:-8} calls=${5:-3000}
work=$(mktemp -d)
. "$(dirname "$0")/../bxd/harness.sh"
sock="$work/bxd.sock"
start bxd '^ready' "$bxd" --unix "$sock" || bad "bxd start" "$work/bxd.err"
hub_pid=$last_pid
start calc '^registered as calc' "$server" --connect "unix://$sock" || bad "calc" "$work/calc.err"
calc_pid=$last_pid

# ---- the service dies mid-call and comes back
"$load" --url "unix://$sock" --clients "$clients" --calls "$calls" --timeout-ms 5000 \
  --expect-errors 1 --limit-s 120 >"$work/svc" 2>&1 &
load_pid=$!
sleep 0.3
kill -9 "$calc_pid"
sleep 0.3
start calc2 '^registered as calc' "$server" --connect "unix://$sock" || bad "calc restart" "$work/calc2.err"
wait "$load_pid" && ok "service killed mid-call: every call answered once, errors in time, calls again after" ||
  bad "service killed" "$work/svc"
echo "service killed: $(tr '\n' ' ' <"$work/svc")"

# ---- the hub dies mid-burst and comes back (the service registers again by itself)
"$load" --url "unix://$sock" --clients "$clients" --calls "$calls" --timeout-ms 5000 \
  --expect-errors 1 --limit-s 120 >"$work/hub" 2>&1 &
load_pid=$!
sleep 0.3
kill -9 "$hub_pid"
sleep 0.3
start bxd2 '^ready' "$bxd" --unix "$sock" || bad "bxd restart" "$work/bxd2.err"
wait "$load_pid" && ok "bxd killed mid-burst: every call answered once, errors in time, calls again after" ||
  bad "bxd killed" "$work/hub"
echo "bxd killed: $(tr '\n' ' ' <"$work/hub")"

echo "passed $passed, failed $failures"
[ "$failures" -eq 0 ]
