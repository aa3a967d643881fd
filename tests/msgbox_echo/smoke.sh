#!/usr/bin/env bash
# examples/msgbox-echo on loopback: the server on UDP, TCP and a Unix socket (port 0), the
# client's one-way echo and requests against each, its exit codes when nothing answers or the
# URL is malformed, and the server's exit on SIGTERM.
#   smoke.sh ECHO_SERVER ECHO_CLIENT
set -uo pipefail
server=$1 client=$2
. "$(dirname "$0")/../calc/lib.sh"

check "server --help" 0 "$server" --help
check "client --help" 0 "$client" --help
check "client without a URL is a usage error" 2 "$client"
check "client with a malformed URL is a usage error" 2 "$client" bad://x

for url in udp://127.0.0.1:0 tcp://127.0.0.1:0 "unix://$work/echo.sock"; do
  proto=${url%%:*}
  start "server-$proto" "$server" "$url"
  pid=$last_pid
  got=$urls
  check "$proto: one-way echo and 5 requests" 0 "$client" --count 5 "$got" "hello $proto"
  check "$proto: one-way echo only" 0 "$client" --count 0 "$got"
  check "$proto: the client prints what came back" 0 \
    sh -c "\"$client\" --count 2 \"$got\" abc | grep -c '^reply [12]: abc' | grep -qx 2"
  kill -TERM "$pid"
  wait "$pid"
  rc=$?
  if [ "$rc" -eq 0 ]; then
    passed=$((passed + 1)); echo "ok: $proto: server exits 0 on SIGTERM"
  else
    failures=$((failures + 1)); echo "FAILED: $proto: server exit $rc on SIGTERM"
  fi
  # Nothing listens there now.
  check "$proto: nothing answers: the client fails" 1 "$client" --timeout 300 "$got"
done
finish
