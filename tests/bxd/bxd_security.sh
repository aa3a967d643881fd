#!/usr/bin/env bash
# bxd's security settings do what they say: the Unix socket's mode under each --unix-uid policy
# (for --unix and for --msgbox unix:// listeners, whose peers' uids are checked the same way),
# and a token taken from --token-file or BXD_TOKEN is required and accepted (a file others may
# read is refused). A client of another uid needs root to simulate; the mode is what lets one in.
#   bxd_security.sh BXD CALC_SERVER
set -uo pipefail
unset BXD_TOKEN
bxd=$1 server=$2
work=$(mktemp -d)
. "$(dirname "$0")/harness.sh"
me=$(id -u)

# mode_of NAME WANT ARGS...: starts bxd on a fresh socket with ARGS and checks the socket's mode.
mode_of() {
  local name=$1 want=$2
  shift 2
  local sock="$work/$name.sock"
  if ! start "$name" '^ready' "$bxd" --unix "$sock" "$@"; then
    bad "$name: bxd start" "$work/$name.err"
    return
  fi
  local got
  got=$(stat -c %a "$sock")
  [ "$got" = "$want" ] && ok "$name: socket mode $want" || bad "$name: socket mode $got, wanted $want"
  hub=$last_pid
}

# ---- the socket's mode follows who may register
mode_of default 600
kill -TERM "$hub"
mode_of own-uid 600 --unix-uid "$me"
kill -TERM "$hub"
mode_of any-uid 666 --unix-uid any
kill -TERM "$hub"
mode_of other-uid 666 --unix-uid 12345
kill -TERM "$hub"
mode_of uid-list 666 --unix-uid 12345 --unix-uid "$me"
start listcalc '^registered as calc' "$server" --connect "unix://$work/uid-list.sock" &&
  ok "a uid in the list registers" || bad "uid list register" "$work/listcalc.err"
kill -TERM "$last_pid" "$hub"
expect "a malformed uid is a usage error" 2 "" "$bxd" --unix "$work/x.sock" --unix-uid 12a

# ---- a msgbox Unix listener (--msgbox unix://PATH) follows the same policy: its mode, and the
# uid check (SO_PEERCRED) on what comes through it
msgbox_mode_of() {
  local name=$1 want=$2
  shift 2
  local sock="$work/$name.sock"
  if ! start "$name" '^ready' "$bxd" --msgbox "unix://$sock" "$@"; then
    bad "$name: bxd start" "$work/$name.err"
    return
  fi
  local got
  got=$(stat -c %a "$sock")
  [ "$got" = "$want" ] && ok "$name: msgbox socket mode $want" ||
    bad "$name: msgbox socket mode $got, wanted $want"
  hub=$last_pid
}
msgbox_mode_of mb-default 600
start mbcalc '^registered as calc' "$server" --connect "msgbox+unix://$work/mb-default.sock" &&
  ok "msgbox+unix: bxd's own uid registers" || bad "msgbox+unix register" "$work/mbcalc.err"
kill -TERM "$last_pid" "$hub"
msgbox_mode_of mb-any 666 --unix-uid any
kill -TERM "$hub"
msgbox_mode_of mb-other 666 --unix-uid 12345
expect "msgbox+unix: a uid not listed is refused" 1 "ready" \
  timeout 10 "$server" --connect "msgbox+unix://$work/mb-other.sock"
grep -q "register refused event=register name=calc peer=\"msgbox+unix uid=[0-9]* pid=[0-9]*\".*reason=\"uid not allowed (--unix-uid)\"" "$work/mb-other.err" &&
  ok "msgbox+unix: bxd logs the refusal" || bad "msgbox+unix refusal log" "$work/mb-other.err"
kill -TERM "$hub"

# ---- the token from a file
printf 's3cret\n' >"$work/token"
chmod 600 "$work/token"
start filehub '^ready' "$bxd" --tcp 127.0.0.1:0 --token-file "$work/token" || bad "token-file hub" "$work/filehub.err"
hub=$last_pid
tcp=$(sed -n 's/^listening on \(tcp:.*\)/\1/p' "$work/filehub.out")
expect "token file: no token is refused" 1 "ready" timeout 10 "$server" --connect "$tcp"
expect "token file: a wrong token is refused" 1 "ready" timeout 10 "$server" --connect "$tcp" --token nope
start filecalc '^registered as calc' "$server" --connect "$tcp" --token s3cret &&
  ok "token file: the file's token registers (its line end is not part of it)" ||
  bad "token file register" "$work/filecalc.err"
kill -TERM "$last_pid" "$hub"

chmod 640 "$work/token"
expect "a token file readable by the group is refused" 2 "" "$bxd" --tcp 127.0.0.1:0 --token-file "$work/token"
grep -q "readable or writable by group or others" "$work/err" && ok "the refusal says why" ||
  bad "token file refusal message" "$work/err"
chmod 604 "$work/token"
expect "a token file readable by others is refused" 2 "" "$bxd" --tcp 127.0.0.1:0 --token-file "$work/token"
chmod 600 "$work/token"
expect "a missing token file is refused" 2 "" "$bxd" --tcp 127.0.0.1:0 --token-file "$work/nosuch"
: >"$work/empty" && chmod 600 "$work/empty"
expect "an empty token file is refused" 2 "" "$bxd" --tcp 127.0.0.1:0 --token-file "$work/empty"
expect "--token and --token-file together are refused" 2 "" \
  "$bxd" --tcp 127.0.0.1:0 --token-file "$work/token" --token s3cret

# ---- structured logs: register lines carry the name, the peer and the reason of a refusal
start jsonhub '^ready' "$bxd" --tcp 127.0.0.1:0 --token-file "$work/token" --log-format json \
  --log-level info || bad "--log-format json hub" "$work/jsonhub.err"
hub=$last_pid
tcp=$(sed -n 's/^listening on \(tcp:.*\)/\1/p' "$work/jsonhub.out")
expect "json logs: a wrong token is refused" 1 "ready" timeout 10 "$server" --connect "$tcp" --token nope
start jsoncalc '^registered as calc' "$server" --connect "$tcp" --token s3cret ||
  bad "json logs: register" "$work/jsoncalc.err"
kill -TERM "$last_pid" "$hub"
wait "$hub" 2>/dev/null
grep -q '"level":"warn","ctx":"/bxd","event":"register","name":"calc","peer":"tcp 127.0.0.1:[0-9]*","reason":"wrong token","msg":"register refused"}' \
  "$work/jsonhub.err" && ok "json logs: the refusal names the service, the peer and the reason" ||
  bad "json logs: refusal line" "$work/jsonhub.err"
grep -q '"level":"info","ctx":"/bxd","event":"register","name":"calc","peer":"tcp 127.0.0.1:[0-9]*","msg":"register allowed"}' \
  "$work/jsonhub.err" && ok "json logs: the registration is logged with its fields" ||
  bad "json logs: register line" "$work/jsonhub.err"
if command -v node >/dev/null; then
  node -e 'for (const l of require("fs").readFileSync(process.argv[1], "utf8").split("\n"))
             if (l) { const o = JSON.parse(l); if (!o.time || !o.level || !o.msg) process.exit(1); }' \
    "$work/jsonhub.err" && ok "json logs: every line is one JSON object" || bad "json logs: not JSON" "$work/jsonhub.err"
fi
expect "an unknown --log-format is a usage error" 2 "" "$bxd" --log-format xml

# ---- the token from the environment
BXD_TOKEN=envtok start envhub '^ready' "$bxd" --tcp 127.0.0.1:0 || bad "BXD_TOKEN hub" "$work/envhub.err"
hub=$last_pid
tcp=$(sed -n 's/^listening on \(tcp:.*\)/\1/p' "$work/envhub.out")
expect "BXD_TOKEN: no token is refused" 1 "ready" timeout 10 "$server" --connect "$tcp"
expect "BXD_TOKEN: a wrong token is refused" 1 "ready" timeout 10 "$server" --connect "$tcp" --token nope
start envcalc '^registered as calc' "$server" --connect "$tcp" --token envtok &&
  ok "BXD_TOKEN: its token registers" || bad "BXD_TOKEN register" "$work/envcalc.err"
kill -TERM "$last_pid" "$hub"

# ---- the default socket's directory ($XDG_RUNTIME_DIR/bx, or /tmp/bx-UID) must be a directory of
# our own with mode 0700: anyone may have created it first, to read or replace the socket.
bxctl="$(dirname "$bxd")/bxctl"
squat() { # squat NAME: a runtime directory whose bx/ is set up by the rest of the line
  rt="$work/rt-$1"
  mkdir -m 700 "$rt"
}
refused() { # refused WHAT PATTERN: bxd and bxctl both refuse $rt/bx and say why
  XDG_RUNTIME_DIR=$rt expect "bxd refuses a default directory $1" 1 "" "$bxd"
  grep -q "refusing the default socket directory: .*$2" "$work/err" && ok "bxd says why ($1)" ||
    bad "bxd's refusal of a directory $1" "$work/err"
  XDG_RUNTIME_DIR=$rt expect "bxctl refuses a default directory $1" 3 "" "$bxctl" ls
  grep -q "refusing the default hub socket: .*$2" "$work/err" && ok "bxctl says why ($1)" ||
    bad "bxctl's refusal of a directory $1" "$work/err"
}
squat open && mkdir -m 777 "$rt/bx" && chmod 777 "$rt/bx"
refused "others can write" "mode 0777"
squat group && mkdir -m 750 "$rt/bx"
refused "the group can read" "mode 0750"
squat link && mkdir -m 700 "$rt/real" && ln -s "$rt/real" "$rt/bx"
refused "that is a symbolic link" "symbolic link"
if [ "$me" -eq 0 ]; then
  squat owner && mkdir -m 700 "$rt/bx" && chown 65534 "$rt/bx"
  refused "of another user" "owned by uid 65534"
fi
squat good && mkdir -m 700 "$rt/bx"
XDG_RUNTIME_DIR=$rt expect "bxctl accepts its own 0700 directory (and finds no hub in it)" 3 "" "$bxctl" ls
grep -q "refusing" "$work/err" && bad "bxctl refused a good directory" "$work/err"

# ---- WebSocket listeners let in programs and same-origin pages, and --ws-origin's origins
upgrade() { # upgrade PORT ORIGIN: the HTTP status of a WebSocket upgrade sent with Origin
  curl -s -o /dev/null -m 3 -w '%{http_code}' -H 'Connection: Upgrade' -H 'Upgrade: websocket' \
    -H 'Sec-WebSocket-Version: 13' -H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==' \
    -H "Origin: $2" "http://127.0.0.1:$1/"
}
if command -v curl >/dev/null; then
  start orighub '^ready' "$bxd" --ws 127.0.0.1:0 --ws-origin https://app.example:8443 ||
    bad "--ws-origin hub" "$work/orighub.err"
  hub=$last_pid
  port=$(sed -n 's|^listening on ws://127\.0\.0\.1:\([0-9]*\)/.*|\1|p' "$work/orighub.out")
  [ "$(upgrade "$port" https://app.example:8443)" = 101 ] && ok "--ws-origin: that origin is let in" ||
    bad "--ws-origin: the listed origin was refused"
  [ "$(upgrade "$port" "http://127.0.0.1:$port")" = 101 ] && ok "--ws-origin: same-origin pages still are" ||
    bad "--ws-origin: a same-origin page was refused"
  [ "$(upgrade "$port" https://evil.example)" = 403 ] && ok "--ws-origin: other origins get 403" ||
    bad "--ws-origin: another origin was not refused"
  grep -q "refusing an upgrade from a page of another origin: Origin 'https://evil.example'" \
    "$work/orighub.err" && ok "the refusal is logged with the origin" || bad "no log of the refusal" "$work/orighub.err"
  kill -TERM "$hub"
else
  echo "skipped: --ws-origin checks need curl"
fi

# ---- wss: bxd serves WebSocket over TLS with --cert and --key (and its page over https)
if command -v openssl >/dev/null && command -v curl >/dev/null; then
  "$(dirname "$0")/../calc/make_cert.sh" "$work/certs"
  start wsshub '^ready' "$bxd" --wss 127.0.0.1:0 --cert "$work/certs/cert.pem" \
    --key "$work/certs/key.pem" || bad "--wss hub" "$work/wsshub.err"
  hub=$last_pid
  page=$(sed -n 's|^status page: \(https://127\.0\.0\.1:[0-9]*/\)$|\1|p' "$work/wsshub.out")
  [ -n "$page" ] && curl -sf --cacert "$work/certs/cert.pem" "$page" | grep -qi '<html' &&
    ok "--wss with --cert/--key: the status page is served over https" || bad "wss status page" "$work/wsshub.out"
  kill -TERM "$hub"
  expect "--wss without --cert/--key is refused" 1 "" "$bxd" --wss 127.0.0.1:0
fi

# ---- --help says all of it
"$bxd" --help >"$work/help"
grep -q -- '--token-file FILE' "$work/help" && grep -q 'BXD_TOKEN' "$work/help" &&
  grep -q '/proc/PID/cmdline' "$work/help" && grep -q '0666' "$work/help" &&
  ok "bxd --help documents the socket mode and the token sources" || bad "bxd --help" "$work/help"
echo "$passed passed, $failures failed"
[ "$failures" -eq 0 ]
