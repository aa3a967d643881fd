#!/usr/bin/env bash
# bxd integration: real processes on real sockets.
#   bxd.sh BXD BXCTL CALC_SERVER CALC_CLIENT
# Default start, each listener, registration ownership and cleanup on disconnect, permission
# refusals, calls relayed between service processes, bxctl exit codes and JSON, shutdown with
# a call in flight, and a restarted hub the service registers in again.
set -uo pipefail
unset BXD_TOKEN # the hubs below take their token from their flags only
bxd=$1 bxctl=$2 server=$3 client=$4
work=$(mktemp -d)
export XDG_RUNTIME_DIR="$work/run"
mkdir -p "$XDG_RUNTIME_DIR"
. "$(dirname "$0")/harness.sh"
# until_ls NAME WANT: polls bxctl ls until its output is WANT (registrations settle).
until_ls() {
  local out
  for _ in $(seq 60); do
    out=$("$bxctl" ls 2>/dev/null | awk '{print $1}' | tr '\n' ' ')
    [ "$out" = "$2" ] && { ok "$1"; return; }
    sleep 0.05
  done
  bad "$1 (ls: '$out', wanted '$2')"
}

sock="$XDG_RUNTIME_DIR/bx/bxd.sock"
# ---- default start: the Unix socket in $XDG_RUNTIME_DIR/bx, a listener line and ready
start bxd '^ready' "$bxd" && ok "bxd starts on its defaults" || bad "bxd start" "$work/bxd.err"
hub_pid=$last_pid
grep -q "^listening on unix://$sock\$" "$work/bxd.out" && ok "default Unix socket" ||
  bad "default socket" "$work/bxd.out"
ws=$(sed -n 's/^listening on \(ws:.*\)/\1/p' "$work/bxd.out")
[ "$ws" = "ws://127.0.0.1:7300/" ] && ok "default WebSocket listener" || bad "default ws listener" "$work/bxd.out"
grep -q '^status page: http://127.0.0.1:7300/$' "$work/bxd.out" && ok "the status page URL is printed" ||
  bad "status page line" "$work/bxd.out"
curl -sf http://127.0.0.1:7300/ | grep -q '<title>bxd status</title>' && ok "the status page is served" ||
  bad "status page"
curl -sf http://127.0.0.1:7300/bx.js | grep -q 'export function connect' && ok "bx.js is served beside it" ||
  bad "bx.js"
[ "$(stat -c %a "$sock")" = 600 ] && [ "$(stat -c %a "$(dirname "$sock")")" = 700 ] &&
  ok "socket 0600 in a 0700 directory" || bad "socket permissions"
expect "bxctl ls on an empty hub" 0 "" "$bxctl" ls
expect "bxctl --help" 0 "$("$bxctl" --help)" "$bxctl" --help
"$bxd" --help | grep -- '--token' >/dev/null && ok "bxd --help documents the flags" || bad "bxd --help"

# ---- a service registers over the Unix socket; calls go through the hub
start calc '^registered as calc' "$server" --connect "unix://$sock" && ok "calc registers in the hub" ||
  bad "calc register" "$work/calc.err"
calc_pid=$last_pid
until_ls "bxctl ls lists calc" "calc "
"$bxctl" ls | grep -q "^calc *unix uid=$(id -u) pid=$calc_pid\$" && ok "ls names the owner" ||
  bad "owner in ls: $("$bxctl" ls)"
expect "bxctl call calc add 1 2 through the hub" 0 "3" "$bxctl" call calc add 1 2
expect "bxctl --json error through the hub" 1 '{"ok":false,"error":"sync boom","code":"BX_EREMOTE"}' \
  "$bxctl" --json call calc throwSync
expect "bxctl lookup calc" 0 "registered" "$bxctl" lookup calc
expect "bxctl over WebSocket through the hub" 0 "3" "$bxctl" --url "$ws" call calc add 1 2
expect "WebSocket registration is off without a token" 1 "ready" timeout 10 "$server" --connect "$ws"
expect "bxctl lookup of a missing name exits 1" 1 "" "$bxctl" lookup nosuch
timeout 20 "$client" --connect "unix://$sock" >"$work/c1" 2>&1 && ok "every method through the hub (callback box included)" ||
  bad "calc_client through the hub" "$work/c1"
"$bxctl" --json stats >"$work/stats" && grep -q '"connections":' "$work/stats" && grep -q '"calls":' "$work/stats" &&
  ok "bxctl stats" || bad "stats" "$work/stats"

# ---- a second service process; one calls the other through the hub
start calc2 '^registered as calc2' "$server" --connect "unix://$sock" --name calc2 || bad "calc2" "$work/calc2.err"
calc2_pid=$last_pid
until_ls "two services registered" "calc calc2 "
expect "a name held by another connection cannot be taken" 1 "ready" \
  timeout 10 "$server" --connect "unix://$sock" --name calc
timeout 20 "$client" --connect "unix://$sock" --service calc2 >"$work/c2" 2>&1 &&
  ok "calls relayed to the second service process" || bad "calc2 client" "$work/c2"

# ---- registrations belong to their connection
kill -KILL "$calc2_pid"
until_ls "a killed service's name disappears" "calc "

# ---- permission refusals
start tcphub '^ready' "$bxd" --tcp 127.0.0.1:0 --unix "$work/other.sock" --unix-uid 12345 ||
  bad "second hub" "$work/tcphub.err"
tcp=$(sed -n 's/^listening on \(tcp:.*\)/\1/p' "$work/tcphub.out")
expect "TCP registration is off without a token" 1 "ready" timeout 10 "$server" --connect "$tcp"
expect "a Unix peer with another uid is refused" 1 "ready" timeout 10 "$server" --connect "unix://$work/other.sock"
grep -q "register refused event=register name=calc peer=\"tcp 127.0.0.1:[0-9]*\" reason=" "$work/tcphub.err" && ok "refusals are logged with the name, the peer and the reason" || bad "refusal log" "$work/tcphub.err"
kill -TERM "$last_pid"
start tokhub '^ready' "$bxd" --tcp 127.0.0.1:0 --token s3cret || bad "token hub" "$work/tokhub.err"
tok_pid=$last_pid
tcp=$(sed -n 's/^listening on \(tcp:.*\)/\1/p' "$work/tokhub.out")
expect "a wrong token is refused" 1 "ready" timeout 10 "$server" --connect "$tcp" --token nope
start tokcalc '^registered as calc' "$server" --connect "$tcp" --token s3cret &&
  ok "the right token registers over TCP" || bad "token register" "$work/tokcalc.err"
expect "bxctl over TCP calls it" 0 "3" "$bxctl" --url "$tcp" call calc add 1 2
kill -TERM "$last_pid" "$tok_pid"

# ---- shutdown: a call in flight fails; the socket file goes; the service registers again in
# a restarted hub
kill -STOP "$calc_pid"
"$bxctl" --timeout 15 call calc add 1 2 >"$work/inflight" 2>&1 &
inflight=$!
sleep 0.5
kill -TERM "$hub_pid"
wait "$hub_pid" && ok "SIGTERM stops bxd with exit 0" || bad "bxd exit" "$work/bxd.err"
wait "$inflight"
[ $? -eq 3 ] && ok "the call in flight fails (exit 3)" || bad "in-flight call" "$work/inflight"
[ ! -e "$sock" ] && ok "the socket file is removed" || bad "socket left behind"
kill -CONT "$calc_pid"
start bxd2 '^ready' "$bxd" || bad "bxd restart" "$work/bxd2.err"
for _ in $(seq 60); do grep -q '^registered again' "$work/calc.out" && break; sleep 0.05; done
grep -q '^registered again as calc' "$work/calc.out" && ok "the service registers again after the restart" ||
  bad "re-register" "$work/calc.out"
expect "calls work again" 0 "3" "$bxctl" call calc add 1 2
kill -TERM "$last_pid" "$calc_pid"
echo "$passed passed, $failures failed"
[ "$failures" -eq 0 ]
