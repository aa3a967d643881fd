#!/usr/bin/env bash
# make demo: runs the examples built in build dir $1 (default: build).
set -euo pipefail
build=${1:-build}
bin="$build/bin"
echo "== examples/hello: an in-process service called through Sub, Proxy, Promised and Named boxes"
"$bin/hello"
echo
echo "== examples/calculator: a service process and its clients over a Unix socket and TCP"
work=$(mktemp -d)
server_pid=
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
"$bin/calc_server" --listen "unix://$work/calc.sock" --listen tcp://127.0.0.1:0 >"$work/server.out" &
server_pid=$!
for _ in $(seq 100); do grep -q '^ready' "$work/server.out" && break; sleep 0.05; done
sed 's/^/server: /' "$work/server.out"
tcp=$(sed -n 's/^listening on \(tcp:.*\)/\1/p' "$work/server.out")
echo "-- calc_client --connect unix://$work/calc.sock"
"$bin/calc_client" --connect "unix://$work/calc.sock"
echo "-- bxctl --url $tcp call calc add 1 2"
"$bin/bxctl" --url "$tcp" call calc add 1 2
echo "-- bxctl --url $tcp --json call calc scale '{\"class\":\"calc.Point\",\"x\":1,\"y\":2,\"label\":\"p\"}' 10"
"$bin/bxctl" --url "$tcp" --json call calc scale '{"class":"calc.Point","x":1,"y":2,"label":"p"}' 10
echo "-- bxctl --url $tcp call calc fail   (a remote error: exit code 1)"
"$bin/bxctl" --url "$tcp" call calc fail || echo "(exit $?)"
kill -TERM "$server_pid"
wait "$server_pid"
server_pid=
echo "demo finished"
