#!/usr/bin/env bash
# Fairness under a flood (issue 19, defect 3): one client floods calls over Unix and never
# reads a reply; ordinary clients beside it must lose nothing, and the flood is paused or
# dropped with a reason in bxd's log. p99 with and without the flood is printed, not judged.
# The same clients also run over WebSocket (no flood there), every call checked exactly once.
#   flood.sh BXD CALC_SERVER BX_LOAD [CLIENTS CALLS]   (make stress: 200 x 5000;
#   LOAD_LIMIT_S bounds each run, default 120 s)
set -uo pipefail
unset BXD_TOKEN
bxd=$1 server=$2 load=$3 clients=${4:-20} calls=${5:-200} limit=${LOAD_LIMIT_S:-120}
work=$(mktemp -d)
. "$(dirname "$0")/../bxd/harness.sh"
sock="$work/bxd.sock"

start bxd '^ready' "$bxd" --unix "$sock" --ws 127.0.0.1:0 --www none --log-level info || bad "bxd start" "$work/bxd.err"
hub_pid=$last_pid
start calc '^registered as calc' "$server" --connect "unix://$sock" || bad "calc" "$work/calc.err"

"$load" --url "unix://$sock" --clients "$clients" --calls "$calls" --limit-s "$limit" >"$work/base" 2>&1 &&
  ok "baseline: $clients x $calls calls, each answered once" || bad "baseline" "$work/base"
echo "baseline: $(head -1 "$work/base")"
ws=$(sed -n 's/^listening on \(ws:.*\)/\1/p' "$work/bxd.out")
"$load" --url "$ws" --clients "$clients" --calls "$calls" --limit-s "$limit" >"$work/ws" 2>&1 &&
  ok "over WebSocket: $clients x $calls calls, each answered once" || bad "over WebSocket ($ws)" "$work/ws"
echo "over WebSocket: $(head -1 "$work/ws")"

"$load" --url "unix://$sock" --clients "$clients" --calls "$calls" --limit-s "$limit" \
  --flood-unix "$sock" >"$work/flood" 2>&1 &&
  ok "beside a flood: $clients x $calls calls, each answered once" || bad "beside a flood" "$work/flood"
echo "with a flood: $(head -1 "$work/flood")"
echo "$(grep '^flood:' "$work/flood")"
grep -Eq 'pausing its input|closing:' "$work/bxd.err" &&
  ok "the flood was paused or dropped with a logged reason" || bad "no reason logged" "$work/bxd.err"
grep -E 'pausing its input|closing:' "$work/bxd.err" | head -3 | sed 's/^/  bxd: /'
kill -0 "$hub_pid" 2>/dev/null && ok "bxd is alive" || bad "bxd died" "$work/bxd.err"
echo "bxd peak RSS: $(awk '/VmHWM/ {print $2, $3}' "/proc/$hub_pid/status" 2>/dev/null)"
b99=$(sed -n 's/.*p99_us=\([0-9]*\).*/\1/p' "$work/base") f99=$(sed -n 's/.*p99_us=\([0-9]*\).*/\1/p' "$work/flood")
[ -n "$b99" ] && [ -n "$f99" ] && [ "$b99" -gt 0 ] &&
  echo "ordinary clients' p99: ${b99} us alone, ${f99} us beside the flood ($(awk -v f="$f99" -v b="$b99" 'BEGIN { printf "%.1f", f / b }')x; the issue's bar is 3x, reported only)"

echo "passed $passed, failed $failures"
[ "$failures" -eq 0 ]
