#!/usr/bin/env bash
# bxd over msgbox: real processes on real sockets.
#   bxd_msgbox.sh BXD BXCTL CALC_SERVER
# bxd listens on a Unix socket and on msgbox UDP and TCP (one with heartbeats); a calculator
# registers over the Unix socket; bxctl calls it through the hub over msgbox+udp and
# msgbox+tcp; a call to a UDP port where nothing listens fails at once (ICMP refusal).
set -uo pipefail
bxd=$1 bxctl=$2 server=$3
work=$(mktemp -d)
. "$(dirname "$0")/harness.sh"

"$bxd" --help | grep -- '--msgbox URL' >/dev/null && ok "bxd --help documents --msgbox" || bad "bxd --help"
sock="$work/hub.sock"
start bxd '^ready' "$bxd" --unix "$sock" --msgbox udp://127.0.0.1:0 --msgbox tcp://127.0.0.1:0 \
  --msgbox 'udp://127.0.0.1:0?heartbeat=200' && ok "bxd listens on msgbox" || bad "bxd start" "$work/bxd.err"
hub_pid=$last_pid
udp=$(sed -n 's/^listening on \(msgbox+udp:[^?]*\)$/\1/p' "$work/bxd.out")
tcp=$(sed -n 's/^listening on \(msgbox+tcp:.*\)/\1/p' "$work/bxd.out")
hb=$(sed -n 's/^listening on \(msgbox+udp:.*?heartbeat=200\)$/\1/p' "$work/bxd.out")
[ -n "$udp" ] && [ -n "$tcp" ] && [ -n "$hb" ] && ok "the msgbox URLs are printed" ||
  bad "listener lines" "$work/bxd.out"

start calc '^registered as calc' "$server" --connect "unix://$sock" && ok "calc registers in the hub" ||
  bad "calc register" "$work/calc.err"

expect "bxctl over msgbox+udp calls it" 0 "3" "$bxctl" --url "$udp" call calc add 1 2
expect "bxctl over msgbox+tcp calls it" 0 "7" "$bxctl" --url "$tcp" call calc add 3 4
expect "bxctl over msgbox+udp with heartbeats calls it" 0 "11" "$bxctl" --url "$hb" call calc add 5 6
expect "bxctl lookup over msgbox+udp" 0 "registered" "$bxctl" --url "$udp" lookup calc

# A UDP port nobody listens on: the dial's probe is refused, the call fails without waiting.
port=${udp##*:}
free=$((port == 65535 ? port - 1 : port + 1))
start=$(date +%s)
timeout 20 "$bxctl" --url "msgbox+udp://127.0.0.1:$free" --timeout 15 call calc add 1 2 >"$work/refused" 2>&1
rc=$?
[ $rc -ne 0 ] && [ $(($(date +%s) - start)) -lt 10 ] && ok "nothing listening fails at once (exit $rc)" ||
  bad "refused call (exit $rc)" "$work/refused"

kill -TERM "$hub_pid"
wait "$hub_pid" && ok "SIGTERM stops bxd with exit 0" || bad "bxd exit" "$work/bxd.err"
echo "$passed passed, $failures failed"
[ "$failures" -eq 0 ]
