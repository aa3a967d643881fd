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
grep -q "refused register from msgbox+unix" "$work/mb-other.err" &&
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

# ---- the token from the environment
BXD_TOKEN=envtok start envhub '^ready' "$bxd" --tcp 127.0.0.1:0 || bad "BXD_TOKEN hub" "$work/envhub.err"
hub=$last_pid
tcp=$(sed -n 's/^listening on \(tcp:.*\)/\1/p' "$work/envhub.out")
expect "BXD_TOKEN: no token is refused" 1 "ready" timeout 10 "$server" --connect "$tcp"
expect "BXD_TOKEN: a wrong token is refused" 1 "ready" timeout 10 "$server" --connect "$tcp" --token nope
start envcalc '^registered as calc' "$server" --connect "$tcp" --token envtok &&
  ok "BXD_TOKEN: its token registers" || bad "BXD_TOKEN register" "$work/envcalc.err"
kill -TERM "$last_pid" "$hub"

# ---- --help says all of it
"$bxd" --help >"$work/help"
grep -q -- '--token-file FILE' "$work/help" && grep -q 'BXD_TOKEN' "$work/help" &&
  grep -q '/proc/PID/cmdline' "$work/help" && grep -q '0666' "$work/help" &&
  ok "bxd --help documents the socket mode and the token sources" || bad "bxd --help" "$work/help"
echo "$passed passed, $failures failed"
[ "$failures" -eq 0 ]
