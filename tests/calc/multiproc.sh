#!/usr/bin/env bash
# The calculator's own server and client in separate processes: every method over unix:// and
# tcp:// (including a box the client passes and the server calls back), through a relay
# process, and a server killed with a call in flight, then restarted.
# bxctl's commands and exit codes are checked against the same server.
#   multiproc.sh CALC_SERVER CALC_CLIENT RELAY BXCTL
set -uo pipefail
server=$1 client=$2 relay=$3 bxctl=$4
. "$(dirname "$0")/lib.sh"

sock="$work/calc.sock"
start server "$server" --listen "unix://$sock" --listen tcp://127.0.0.1:0
server_pid=$last_pid
tcp=$(echo "$urls" | grep '^tcp://')
check "every method over unix://" 0 "$client" --connect "unix://$sock"
check "every method over tcp://" 0 "$client" --connect "$tcp"
check "every method over tcp://[::1] is refused when nothing listens" 3 \
  "$client" --connect "tcp://[::1]:1" --timeout 2000

# bxctl against the service: results as JSON, exit codes 0 ok, 1 remote error, 2 usage,
# 3 connection.
expect_out() { # expect_out NAME WANT_EXIT WANT_STDOUT COMMAND...
  local name=$1 want=$2 text=$3
  shift 3
  local out got
  out=$(timeout 20 "$@" 2>"$work/err")
  got=$?
  if [ "$got" -eq "$want" ] && [ "$out" = "$text" ]; then
    passed=$((passed + 1)); echo "ok: $name"
  else
    failures=$((failures + 1)); echo "FAILED: $name (exit $got, stdout '$out')"; sed 's/^/  | /' "$work/err"
  fi
}
u="unix://$sock"
expect_out "bxctl call calc add 1 2" 0 "3" "$bxctl" --url "$u" call calc add 1 2
expect_out "bxctl call over tcp" 0 '"h\u000ai"' "$bxctl" --url "$tcp" call calc echo '"h\ni"'
expect_out "bxctl --json call" 0 '{"ok":true,"result":{"class":"calc.Point","x":2,"y":4,"label":"p*2"}}' \
  "$bxctl" --url "$u" --json call calc scale '{"class":"calc.Point","x":1,"y":2,"label":"p"}' 2
expect_out "bxctl call of a failing method exits 1" 1 "" "$bxctl" --url "$u" call calc fail
expect_out "bxctl --json error" 1 '{"ok":false,"error":"sync boom","code":"BX_EREMOTE"}' \
  "$bxctl" --url "$u" --json call calc throwSync
expect_out "bxctl call of an unknown service exits 1" 1 "" "$bxctl" --url "$u" call nosuch add 1 2
expect_out "bxctl lookup calc" 0 "registered" "$bxctl" --url "$u" lookup calc
expect_out "bxctl lookup of an unknown name exits 1" 1 "" "$bxctl" --url "$u" lookup nosuch
expect_out "bxctl send (one-way)" 0 "" "$bxctl" --url "$u" send calc \
  '{"class":"foam.box.RPCMessage","name":"notify","args":["from bxctl"]}'
expect_out "bxctl bad argument exits 2" 2 "" "$bxctl" --url "$u" call calc add one 2
expect_out "bxctl unknown command exits 2" 2 "" "$bxctl" --url "$u" frobnicate
expect_out "bxctl unreachable peer exits 3" 3 "" "$bxctl" --url "unix://$work/none.sock" call calc add 1 2
expect_out "bxctl --help exits 0" 0 "$("$bxctl" --help)" "$bxctl" --help

start relay "$relay" --listen "unix://$work/relay.sock" --to "unix://$sock"
check "every method through a relay process" 0 "$client" --connect "unix://$work/relay.sock"

# A call in flight when the server dies completes with connection lost (exit 3): freeze the
# server, let the client send, kill the server.
kill -STOP "$server_pid"
"$client" --connect "unix://$sock" --timeout 15000 >"$work/inflight.out" 2>&1 &
client_pid=$!
sleep 0.5
kill -KILL "$server_pid"
wait "$client_pid"
got=$?
if [ "$got" -eq 3 ] && grep -q 'connection lost' "$work/inflight.out"; then
  passed=$((passed + 1)); echo "ok: a call in flight fails with connection lost"
else
  failures=$((failures + 1)); echo "FAILED: in-flight call (exit $got)"; sed 's/^/  | /' "$work/inflight.out"
fi

# Restarted on the same socket path (the stale file is replaced), the next calls succeed,
# also through the relay, which reconnects.
start server2 "$server" --listen "unix://$sock"
check "the restarted server answers" 0 "$client" --connect "unix://$sock"
check "the relay reconnects to the restarted server" 0 "$client" --connect "unix://$work/relay.sock"

kill -TERM "$last_pid"
wait "$last_pid"
term=$?
[ "$term" -eq 0 ] && { passed=$((passed + 1)); echo "ok: SIGTERM stops the server cleanly"; } \
  || { failures=$((failures + 1)); echo "FAILED: server exit $term on SIGTERM"; }
[ ! -e "$sock" ] && { passed=$((passed + 1)); echo "ok: the socket file is removed"; } \
  || { failures=$((failures + 1)); echo "FAILED: $sock left behind"; }
finish
