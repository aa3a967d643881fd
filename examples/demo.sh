#!/usr/bin/env bash
# make demo: runs the examples built in build dir $1 (default: build).
set -euo pipefail
build=${1:-build}
bin="$build/bin"
work=$(mktemp -d)
export XDG_RUNTIME_DIR="$work"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
wait_for() { # wait_for FILE PATTERN
  for _ in $(seq 100); do grep -q "$2" "$1" && return 0; sleep 0.05; done
  echo "demo: '$2' did not appear in $1" >&2
  return 1
}
run() { echo "\$ $*"; "$@" || echo "(exit $?)"; }

echo "== examples/hello: an in-process service called through Sub, Proxy, Promised and Named boxes"
"$bin/hello"

echo
echo "== bxd, the hub: its default Unix socket (under a temporary \$XDG_RUNTIME_DIR), TCP and WebSocket"
sock="$work/bx/bxd.sock"
mkdir -p "$work/bx" && chmod 700 "$work/bx"
"$bin/bxd" --unix "$sock" --tcp 127.0.0.1:0 --ws 127.0.0.1:0 >"$work/bxd.out" &
pids+=($!)
wait_for "$work/bxd.out" '^ready'
sed 's/^/bxd: /' "$work/bxd.out"
tcp=$(sed -n 's/^listening on \(tcp:.*\)/\1/p' "$work/bxd.out")
ws=$(sed -n 's/^listening on \(ws:.*\)/\1/p' "$work/bxd.out")
page=$(sed -n 's/^status page: //p' "$work/bxd.out")

echo
echo "== the calculator service registers itself in the hub over the Unix socket"
"$bin/calc_server" --connect "unix://$sock" >"$work/calc.out" &
pids+=($!)
wait_for "$work/calc.out" '^registered'
sed 's/^/calc_server: /' "$work/calc.out"
run "$bin/bxctl" ls

echo
echo "== calls through the hub: bxctl over the Unix socket, TCP and WebSocket, then the C client"
run "$bin/bxctl" call calc add 1 2
run "$bin/bxctl" --url "$ws" call calc add 40 2
run "$bin/bxctl" --url "$tcp" call calc echo '"h\u00e9llo"'
run "$bin/bxctl" --url "$tcp" --json call calc scale '{"class":"calc.Point","x":1,"y":2,"label":"p"}' 10
run "$bin/bxctl" call calc fail
run "$bin/calc_client" --connect "unix://$sock"
run "$bin/bxctl" --json stats

echo
echo "== telehash boxes: bxd as a box host; a message and a call while the recipient is offline"
for who in host alice bob svc caller; do "$bin/bxctl" th keygen "$work/$who.json" >/dev/null; done
"$bin/bxd" --telehash udp://127.0.0.1:0 --th-id "$work/host.json" --th-store "$work/boxes.db" \
  --th-ready-file "$work/host-ready.json" >"$work/th.out" &
pids+=($!)
wait_for "$work/th.out" '^ready'
sed 's/^/bxd: /' "$work/th.out"
run "$bin/bxctl" th send --th-id "$work/alice.json" --host "$work/host-ready.json" \
  --to-id "$work/bob.json" --text "hello bob, I sent this while you were away"
run "$bin/bxctl" th recv --th-id "$work/bob.json" --host "$work/host-ready.json"
if [ -x "$bin/th_calc" ]; then
  echo "\$ th_calc call ... 1 2   (calc.add over th://, the service is not running yet)"
  "$bin/th_calc" call --th-id "$work/caller.json" --host "$work/host-ready.json" \
    --to-id "$work/svc.json" 1 2 >"$work/caller.out" 2>&1 &
  caller=$!
  wait_for "$work/caller.out" '^calling'
  sleep 0.5
  echo "\$ th_calc serve ...       (the service starts, collects the call, answers)"
  "$bin/th_calc" serve --th-id "$work/svc.json" --host "$work/host-ready.json" >"$work/svc.out" &
  pids+=($!)
  wait "$caller" || true
  sed 's/^/th_calc call: /' "$work/caller.out"
fi
echo
echo "The live status page was at $page (a browser shows services and message rates there)."
echo "demo finished"
