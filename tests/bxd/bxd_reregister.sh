#!/usr/bin/env bash
# Registration that lasts, with real processes: a service registered in bxd, bxd killed (no
# goodbye) and restarted on the same socket, the service registers again by itself and calls
# reach it again; while the hub is away it says so ("hub unreachable, retrying in Ns").
#   bxd_reregister.sh BXD BXCTL CALC_SERVER
set -uo pipefail
unset BXD_TOKEN
bxd=$1 bxctl=$2 server=$3
work=$(mktemp -d)
. "$(dirname "$0")/harness.sh"
url="unix://$work/hub.sock"

# until_out FILE PATTERN: waits (up to 15 s) for a line matching PATTERN in FILE.
until_out() {
  for _ in $(seq 300); do
    grep -q "$2" "$1" && return 0
    sleep 0.05
  done
  return 1
}

start hub '^ready' "$bxd" --unix "$work/hub.sock" || bad "bxd start" "$work/hub.err"
hub_pid=$last_pid
start calc '^registered as calc' "$server" --connect "$url" && ok "calc registers" ||
  bad "calc register" "$work/calc.err"
calc_pid=$last_pid
expect "a call reaches it" 0 "3" "$bxctl" --url "$url" call calc add 1 2

kill -KILL "$hub_pid"
wait "$hub_pid" 2>/dev/null
until_out "$work/calc.err" "lost the hub at $url" && ok "the service notices the loss" ||
  bad "loss not reported" "$work/calc.err"
until_out "$work/calc.err" '^calc_server: hub unreachable, retrying in [0-9.]*s' &&
  ok "it says the hub is unreachable and when it retries" || bad "no retry line" "$work/calc.err"
kill -0 "$calc_pid" && ok "the service keeps running without its hub" || bad "calc exited" "$work/calc.err"

start hub2 '^ready' "$bxd" --unix "$work/hub.sock" || bad "bxd restart" "$work/hub2.err"
until_out "$work/calc.out" "^registered again as calc at $url" &&
  ok "it registers again in the restarted hub" || bad "no re-registration" "$work/calc.out"
expect "calls succeed again" 0 "3" "$bxctl" --url "$url" call calc add 1 2
expect "ls lists it" 0 "calc" sh -c "'$bxctl' --url '$url' ls | awk '{print \$1}'"
kill -TERM "$last_pid" "$calc_pid"
echo "$passed passed, $failures failed"
[ "$failures" -eq 0 ]
