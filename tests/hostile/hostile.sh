#!/usr/bin/env bash
# Hostile input against every bxd listener (unix, tcp, ws, msgbox): bx_hostile's cases, each
# followed by checks that bxd is alive, serves a call, gives its fds back and keeps its memory.
#   hostile.sh BXD CALC_SERVER BX_HOSTILE [--only TEXT]
set -uo pipefail
unset BXD_TOKEN
bxd=$1 server=$2 hostile=$3
shift 3
work=$(mktemp -d)
. "$(dirname "$0")/../bxd/harness.sh"
sock="$work/bxd.sock"
start bxd '^ready' "$bxd" --unix "$sock" --tcp 127.0.0.1:0 --ws 127.0.0.1:0 --www none \
  --msgbox tcp://127.0.0.1:0 --log-level info || { bad "bxd start" "$work/bxd.err"; exit 1; }
hub_pid=$last_pid
start calc '^registered as calc' "$server" --connect "unix://$sock" || { bad "calc" "$work/calc.err"; exit 1; }
url() { sed -n "s|^listening on $1://\([^/]*\).*|\1|p" "$work/bxd.out" | head -1; }
tcp=$(url tcp) ws=$(url ws) mb=$(url msgbox+tcp)
echo "bxd $hub_pid: unix $sock, tcp $tcp, ws $ws, msgbox+tcp $mb"
"$hostile" --pid "$hub_pid" --log "$work/bxd.err" --unix "$sock" --tcp "$tcp" --ws "$ws" \
  --msgbox "$mb" "$@"
rc=$?
kill -0 "$hub_pid" 2>/dev/null || { echo "bxd died"; tail -20 "$work/bxd.err"; rc=1; }
[ $rc -eq 0 ] || tail -30 "$work/bxd.err" | sed 's/^/  bxd: /'
exit $rc
