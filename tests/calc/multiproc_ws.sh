#!/usr/bin/env bash
# The calculator's server and client in separate processes over WebSocket: every method over
# ws:// (IPv4 and IPv6 when there is a loopback) and wss:// (a throwaway self-signed pair made
# with openssl, trusted with --ca, or accepted with --insecure, refused without either),
# static files next to the WebSocket endpoint, and a server killed then restarted.
#   multiproc_ws.sh CALC_SERVER CALC_CLIENT
set -uo pipefail
server=$1 client=$2
. "$(dirname "$0")/lib.sh"
certs=$(mktemp -d)
"$(dirname "$0")/make_cert.sh" "$certs" # a throwaway pair
cleanup_dirs+=("$certs")

mkdir -p "$work/www"
echo '<!doctype html><title>bx</title>' >"$work/www/index.html"
echo 'console.log(1);' >"$work/www/x.js"
v6=()
if python3 -c 'import socket; s=socket.socket(socket.AF_INET6); s.bind(("::1",0))' 2>/dev/null; then
  v6=(--listen 'ws://[::1]:0/')
fi
start server "$server" --listen ws://127.0.0.1:0/ --listen wss://127.0.0.1:0/ "${v6[@]}" \
  --www "$work/www" --cert "$certs/cert.pem" --key "$certs/key.pem"
server_pid=$last_pid
ws=$(echo "$urls" | grep '^ws://127')
wss=$(echo "$urls" | grep '^wss://')
ws6=$(echo "$urls" | grep '^ws://\[' || true)
if [[ "$ws" =~ ^ws://127\.0\.0\.1:[0-9]+/$ ]]; then
  passed=$((passed + 1)); echo "ok: listening on $ws"
else
  failures=$((failures + 1)); echo "FAILED: listener URL '$ws'"
fi
check "every method over ws://" 0 "$client" --connect "$ws"
check "every method over ws:// with a path" 0 "$client" --connect "${ws}some/path"
[ -n "$ws6" ] && check "every method over ws://[::1]" 0 "$client" --connect "$ws6"
check "every method over wss:// (--ca)" 0 "$client" --connect "$wss" --ca "$certs/cert.pem"
check "every method over wss:// (--insecure)" 0 "$client" --connect "$wss" --insecure
check "wss:// with an untrusted certificate fails" 3 "$client" --connect "$wss" --timeout 3000

port=${ws#ws://127.0.0.1:}
port=${port%/}
if command -v curl >/dev/null; then
  check "GET / serves index.html" 0 sh -c "curl -sf http://127.0.0.1:$port/ | grep -q '<title>bx'"
  check "GET /x.js" 0 sh -c "curl -sf http://127.0.0.1:$port/x.js | grep -q console"
  check "GET /nosuch is 404" 0 sh -c "test \"\$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$port/nosuch)\" = 404"
  sport=${wss#wss://127.0.0.1:}
  sport=${sport%/}
  check "GET https://.../ on the wss port" 0 sh -c "curl -skf https://127.0.0.1:$sport/ | grep -q '<title>bx'"
fi

# The server goes away and comes back on the same port: a new client works again.
kill -TERM "$server_pid"
wait "$server_pid"
rc=$?
if [ "$rc" -eq 0 ]; then
  passed=$((passed + 1)); echo "ok: server exits 0 on SIGTERM"
else
  failures=$((failures + 1)); echo "FAILED: server exit $rc on SIGTERM"; cat "$work/server.err"
fi
check "nothing listens: the client fails" 3 "$client" --connect "$ws" --timeout 2000
start server2 "$server" --listen "$ws"
check "every method after a restart" 0 "$client" --connect "$ws"
kill -TERM "$last_pid"
wait "$last_pid"

finish
