#!/usr/bin/env bash
# An RPC call over th:// boxes across processes, each side offline in turn:
#   bxd_telehash_calc.sh BXD BXCTL TH_CALC
# bxd hosts boxes with a store. The caller calls calc.add while the service is offline: the
# request waits at the host. The host is restarted (same port, same store) and loses nothing.
# The service starts, collects the request, answers; the caller collects the reply and prints
# the sum.
set -uo pipefail
bxd=$1 bxctl=$2 th_calc=$3
work=$(mktemp -d)
. "$(dirname "$0")/harness.sh"

for who in host svc caller; do
  "$bxctl" th keygen "$work/$who.json" >/dev/null 2>"$work/err" || bad "keygen $who" "$work/err"
done
sock="$work/hub.sock"
start host '^ready' "$bxd" --unix "$sock" --telehash udp://127.0.0.1:0 --th-id "$work/host.json" \
  --th-store "$work/store.db" --th-ready-file "$work/ready.json" && ok "bxd hosts boxes" ||
  bad "bxd start" "$work/host.err"
host_pid=$last_pid
port=$(sed -n 's/.*"port":\([0-9]*\).*/\1/p' "$work/ready.json")

# the call, while the service is offline
start caller '^calling' "$th_calc" call --th-id "$work/caller.json" --host "$work/ready.json" \
  --to-id "$work/svc.json" 1 2 && ok "the caller calls the offline service" || bad "caller" "$work/caller.err"
caller_pid=$last_pid
stored=""
for _ in $(seq 100); do
  stored=$("$bxctl" --url "unix://$sock" stats 2>/dev/null | sed -n 's/.*"thStored":\([0-9]*\).*/\1/p')
  [ "${stored:-0}" -ge 2 ] && break # the handshake frame and the request
  sleep 0.1
done
[ "${stored:-0}" -ge 2 ] && ok "the request waits at the host ($stored messages)" || bad "stored: $stored"

# the host restarts on the same port from its store
kill -TERM "$host_pid"
wait "$host_pid" 2>/dev/null
start host '^ready' "$bxd" --unix "$sock" --telehash "udp://127.0.0.1:$port" --th-id "$work/host.json" \
  --th-store "$work/store.db" --th-ready-file "$work/ready.json" && ok "bxd restarts from its store" ||
  bad "bxd restart" "$work/host.err"
host_pid=$last_pid
stats=$("$bxctl" --url "unix://$sock" stats 2>&1)
grep -q "\"thStored\":$stored" <<<"$stats" && ok "nothing was lost" || bad "after restart: $stats"

# the service comes online, collects, answers; the caller collects the reply
start svc '^serving' "$th_calc" serve --th-id "$work/svc.json" --host "$work/ready.json" &&
  ok "the service starts" || bad "service" "$work/svc.err"
svc_pid=$last_pid
for _ in $(seq 300); do
  kill -0 "$caller_pid" 2>/dev/null || break
  sleep 0.1
done
wait "$caller_pid"
rc=$?
[ $rc -eq 0 ] && [ "$(sed -n 2p "$work/caller.out")" = "3" ] && ok "the caller gets 3" ||
  bad "caller (exit $rc): $(cat "$work/caller.out")" "$work/caller.err"
stats=$("$bxctl" --url "unix://$sock" stats 2>&1)
grep -q '"thStored":0' <<<"$stats" && ok "the host holds nothing afterwards" || bad "stats: $stats"

# a call with a short deadline to a service that is gone: BX_ETIMEDOUT, once
kill -TERM "$svc_pid"
wait "$svc_pid" 2>/dev/null
out=$(timeout 20 "$th_calc" call --th-id "$work/caller.json" --host "$work/ready.json" \
  --to-id "$work/svc.json" 5 6 --timeout 1 2>"$work/err")
rc=$?
[ $rc -eq 1 ] && grep -q "BX_ETIMEDOUT" "$work/err" && ok "a deadline passes: BX_ETIMEDOUT" ||
  bad "deadline (exit $rc: $out)" "$work/err"
kill -TERM "$host_pid"

echo "$passed passed, $failures failed"
[ "$failures" -eq 0 ]
