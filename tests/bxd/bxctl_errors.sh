#!/usr/bin/env bash
# bxctl says what went wrong in words, and an application error keeps its code and text (exit
# 1, never 3): against a hub and a service on temporary sockets and kernel-chosen ports.
#   bxctl_errors.sh BXD BXCTL CALC_SERVER
set -uo pipefail
unset BXD_TOKEN
bxd=$1 bxctl=$2 server=$3
work=$(mktemp -d)
. "$(dirname "$0")/harness.sh"

# said NAME WANT_EXIT WANT_STDERR COMMAND...: exit status and the first stderr line.
said() {
  local name=$1 want=$2 text=$3
  shift 3
  timeout 20 "$@" >"$work/out" 2>"$work/err"
  local got=$? line
  line=$(head -n 1 "$work/err")
  if [ "$got" -eq "$want" ] && [ "$line" = "$text" ]; then ok "$name"; else
    bad "$name (exit $got, stderr '$line', wanted '$text')" "$work/out"; fi
}

hub="unix://$work/hub.sock"
start hub '^ready' "$bxd" --unix "$work/hub.sock" --tcp 127.0.0.1:0 || bad "bxd start" "$work/hub.err"
tcp=$(sed -n 's/^listening on \(tcp:.*\)/\1/p' "$work/hub.out")
start calc '^registered as calc' "$server" --connect "$hub" || bad "calc registers" "$work/calc.err"
start direct '^ready' "$server" --listen "unix://$work/calc.sock" || bad "calc listens" "$work/direct.err"

# ---- application errors: the service's code and text, exit 1
expect "an application error through the hub: code and text (--json)" 1 \
  '{"ok":false,"error":"no such item: x","code":"BX_EREMOTE","app_code":"UV_ENOENT"}' \
  "$bxctl" --url "$hub" --json call calc recall '"x"'
said "an application error in words, exit 1 (not a missing socket)" 1 \
  "bxctl: no such item: x (UV_ENOENT)" "$bxctl" --url "$hub" call calc recall '"x"'
said "the same from the service directly" 1 \
  "bxctl: no such item: y (UV_ENOENT)" "$bxctl" --url "unix://$work/calc.sock" call calc recall '"y"'
expect "a text without a code stays BX_EREMOTE" 1 '{"ok":false,"error":"sync boom","code":"BX_EREMOTE"}' \
  "$bxctl" --url "$hub" --json call calc throwSync
expect "a success is unchanged" 0 "42" "$bxctl" --url "$hub" call calc recall '"answer"'

# ---- what went wrong, in words
said "no such service" 1 "bxctl: no such service 'nosuch'" "$bxctl" --url "$hub" call nosuch add 1 2
said "lookup of a missing name" 1 "bxctl: no such service 'nosuch'" "$bxctl" --url "$hub" lookup nosuch
said "unknown scheme" 2 "bxctl: unknown scheme 'http' (unix://, tcp://, ws://, wss://, msgbox+udp://, nats:// ...)" \
  "$bxctl" --url http://127.0.0.1:1/ ls
said "a missing directory" 3 "bxctl: directory $work/nodir does not exist" \
  "$bxctl" --url "unix://$work/nodir/bxd.sock" ls
long="$work/$(printf 'a%.0s' $(seq 110)).sock"
said "a socket path too long" 2 "bxctl: socket path longer than 107 bytes: $long" \
  "$bxctl" --url "unix://$long" ls
said "no socket in an existing directory" 3 "bxctl: no socket at $work/none.sock (is bxd running?)" \
  "$bxctl" --url "unix://$work/none.sock" ls
said "ls needs a hub" 1 "bxctl: not a bxd hub: ls and stats need bxd" \
  "$bxctl" --url "unix://$work/calc.sock" ls
said "stats needs a hub" 1 "bxctl: not a bxd hub: ls and stats need bxd" \
  "$bxctl" --url "unix://$work/calc.sock" stats
said "register refused without a token" 1 "calc_server: register refused: this listener needs --token" \
  "$server" --connect "$tcp"
# A result the way back cannot carry (a box inside a JSON value) is an error at once, not a
# call left to time out.
said "a result that cannot be sent back is an error, exit 1" 1 \
  "bxctl: echo: the result could not be sent back: invalid argument" \
  "$bxctl" --url "$hub" --timeout 10 call calc echo '{"class":"foam.box.NamedBox","name":"/x"}'
echo "$passed passed, $failures failed"
[ "$failures" -eq 0 ]
