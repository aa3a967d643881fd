#!/usr/bin/env bash
# The todo page in headless Chromium: todo_server serves examples/todo/www (with bx.js beside
# it) and the DAO on the same WebSocket port; tests/dao/web_e2e.mjs drives the page.
#   web.sh TODO_SERVER
set -uo pipefail
server=$1
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
chromium=${BX_CHROMIUM:-/usr/bin/chromium}
[ -x "$chromium" ] || { echo "web.sh: $chromium is missing"; exit 1; }
if [ ! -f "$root/tests/web/node_modules/playwright-core/package.json" ]; then
  (cd "$root/tests/web" && npm ci --no-audit --no-fund --loglevel=error) || exit 1
fi
work=$(mktemp -d)
pid=
cleanup() {
  [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/www"
cp "$root"/examples/todo/www/* "$work/www/" && cp "$root/clients/js/bx.js" "$work/www/" || exit 1
"$server" --listen ws://127.0.0.1:0/ --www "$work/www" >"$work/out" 2>"$work/err" &
pid=$!
disown "$pid"
for _ in $(seq 200); do
  grep -q '^ready' "$work/out" && break
  sleep 0.05
done
port=$(sed -n 's|^listening on ws://127\.0\.0\.1:\([0-9][0-9]*\).*|\1|p' "$work/out")
[ -n "$port" ] || { echo "web.sh: todo_server did not start"; cat "$work/out" "$work/err"; exit 1; }
node --experimental-websocket "$here/web_e2e.mjs" "http://127.0.0.1:$port/"
