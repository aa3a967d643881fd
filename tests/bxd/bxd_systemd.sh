#!/usr/bin/env bash
# bxd under systemd, the way systemd runs bxd.socket + bxd.service (Type=notify): it serves the
# Unix and TCP sockets it inherits (LISTEN_FDS) instead of its defaults, reports READY=1 once
# they serve and STOPPING=1 on SIGTERM, and leaves the socket file to systemd.
#   bxd_systemd.sh BXD ACTIVATE
set -uo pipefail
bxd=$1 activate=$2
bxctl="$(dirname "$bxd")/bxctl"
work=$(mktemp -d)
. "$(dirname "$0")/harness.sh"
sock=$work/hub.sock

start act '^notified READY=1' "$activate" "$sock" "$bxd" ||
  { bad "bxd reports READY=1 when started with inherited sockets" "$work/act.out"; cat "$work/act.err"; }
act=$last_pid
port=$(sed -n 's/^tcp \([0-9]*\)$/\1/p' "$work/act.out")
grep -q '^notified READY=1' "$work/act.out" && ok "READY=1 is sent after the listeners are up"
grep -q "^listening on unix://$sock\$" "$work/act.out" && ok "the inherited Unix socket is served under its own path" ||
  bad "no listener on the inherited Unix socket" "$work/act.out"
grep -q "^listening on tcp://127.0.0.1:$port\$" "$work/act.out" && ok "the inherited TCP socket is served on its port" ||
  bad "no listener on the inherited TCP socket" "$work/act.out"
grep -q '^listening on ws://' "$work/act.out" && bad "the default listeners were opened too" "$work/act.out" ||
  ok "no default listener besides the inherited ones"
expect "bxctl reaches the hub over the inherited Unix socket" 0 "" sh -c "'$bxctl' --url unix://$sock stats >/dev/null"
expect "bxctl reaches the hub over the inherited TCP socket" 0 "" sh -c "'$bxctl' --url tcp://127.0.0.1:$port stats >/dev/null"
kill -TERM "$act"
for _ in $(seq 100); do kill -0 "$act" 2>/dev/null || break; sleep 0.05; done
kill -0 "$act" 2>/dev/null && bad "bxd did not stop on SIGTERM" || ok "bxd stops on SIGTERM"
grep -q '^notified STOPPING=1' "$work/act.out" && ok "STOPPING=1 is sent on SIGTERM" || bad "no STOPPING=1" "$work/act.out"
[ -S "$sock" ] && ok "the socket file stays (it is systemd's)" || bad "bxd removed the inherited socket file"
grep -q 'warn.*shutting down' "$work/act.err" && bad "a normal stop is logged as a warning" "$work/act.err" ||
  ok "a normal stop is not a warning"

# A passed socket bxd cannot serve (a datagram socket here) stops it with a reason.
expect "an inherited socket of another kind is refused" 1 "" sh -c \
  "LISTEN_FDS=1 LISTEN_PID=\$\$ exec '$bxd' 3<>/dev/null"
grep -q 'inherited fd 3 is not a listening Unix or TCP stream socket' "$work/err" &&
  ok "the refusal says why" || bad "refusal of a bad inherited fd" "$work/err"
echo "$passed passed, $failures failed"
[ "$failures" -eq 0 ]
