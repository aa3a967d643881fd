#!/usr/bin/env bash
# The browser end-to-end test: serves examples/web (with clients/js/bx.js next to it) from the
# calculator server, which also speaks bx over WebSocket on the same port, and drives the page
# in headless Chromium (tests/web/e2e.mjs, playwright-core).
#   run.sh SERVER_BIN WEB_DIR
# SERVER_BIN must accept `--listen ws://127.0.0.1:0/ --www DIR` and print
# "listening on ws://127.0.0.1:PORT/" then "ready". Prints "N passed, M failed".
set -uo pipefail
if [ $# -ne 2 ]; then
  echo "usage: run.sh SERVER_BIN WEB_DIR" >&2
  exit 2
fi
server=$1 webdir=$2
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

command -v node >/dev/null || { echo "run.sh: node is missing (apt-get install nodejs npm)"; exit 1; }
chromium=${BX_CHROMIUM:-/usr/bin/chromium}
[ -x "$chromium" ] || { echo "run.sh: $chromium is missing (apt-get install chromium chromium-driver)"; exit 1; }

# playwright-core from the lock file; nothing to fetch when it is already there.
"$here/npm-setup.sh" || { echo "run.sh: npm ci failed"; exit 1; }

work=$(mktemp -d)
pid=
cleanup() {
  [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

# The served directory: the page, and bx.js beside it (the page imports ./bx.js).
www=$work/www
mkdir -p "$www"
cp -RL "$webdir"/. "$www"/ || exit 1
cp "$root/clients/js/bx.js" "$www/bx.js" || exit 1

: >"$work/server.out"
"$server" --listen ws://127.0.0.1:0/ --www "$www" >>"$work/server.out" 2>"$work/server.err" &
pid=$!
disown "$pid" # e2e.mjs kills it on purpose: no "Killed" notice from bash
for _ in $(seq 200); do
  grep -q '^ready' "$work/server.out" && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.05
done
if ! grep -q '^ready' "$work/server.out"; then
  echo "run.sh: the server did not start: $server --listen ws://127.0.0.1:0/ --www $www"
  sed 's/^/  | /' "$work/server.out" "$work/server.err"
  echo "0 passed, 1 failed"
  exit 1
fi
port=$(sed -n 's|^listening on ws://127\.0\.0\.1:\([0-9][0-9]*\).*|\1|p' "$work/server.out" | head -n 1)
if [ -z "$port" ]; then
  echo "run.sh: no 'listening on ws://127.0.0.1:PORT/' line from the server"
  sed 's/^/  | /' "$work/server.out"
  echo "0 passed, 1 failed"
  exit 1
fi

node "$here/e2e.mjs" "http://127.0.0.1:$port/" --server-pid "$pid" -- \
  "$server" --listen "ws://127.0.0.1:$port/" --www "$www"
rc=$?
if [ $rc -ne 0 ] && [ -s "$work/server.err" ]; then
  echo "server stderr:"
  sed 's/^/  | /' "$work/server.err"
fi
exit $rc
