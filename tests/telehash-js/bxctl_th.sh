#!/usr/bin/env bash
# bxctl th keygen, id and ping, against th_peer (a bx telehash endpoint) on 127.0.0.1.
#   bxctl_th.sh BXCTL TH_PEER
# Prints "N passed, M failed"; exits 1 when any check failed.
set -uo pipefail
if [ $# -ne 2 ]; then
  echo "usage: bxctl_th.sh BXCTL TH_PEER" >&2
  exit 2
fi
bxctl=$1 th_peer=$2
work=$(mktemp -d)
pid=
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
passed=0 failed=0
ok() { passed=$((passed + 1)); echo "ok   $1"; }
bad() { failed=$((failed + 1)); echo "FAIL $1"; }
# check NAME WANT_RC GOT_RC [GREP_PATTERN FILE]
check() {
  local name=$1 want=$2 got=$3
  if [ "$got" -ne "$want" ]; then bad "$name: exit $got, wanted $want"; return; fi
  if [ $# -ge 5 ] && ! grep -Eq -- "$4" "$5"; then
    bad "$name: no line matching '$4' in: $(cat "$5")"
    return
  fi
  ok "$name"
}

# keygen: a 0600 file and its hashname; no overwrite without --force.
"$bxctl" th keygen "$work/a.json" >"$work/out" 2>&1
check "keygen" 0 $? '^[a-z2-7]{52}$' "$work/out"
hn=$(cat "$work/out")
[ "$(stat -c %a "$work/a.json")" = 600 ] && ok "keygen: mode 0600" || bad "keygen: mode"
"$bxctl" th keygen "$work/a.json" >"$work/out" 2>&1
check "keygen: refuses to overwrite" 2 $? 'exists' "$work/out"
"$bxctl" th keygen --force "$work/a.json" >"$work/out" 2>&1
check "keygen --force" 0 $? '^[a-z2-7]{52}$' "$work/out"
hn=$(cat "$work/out")
"$bxctl" th keygen "$work/b.json" >/dev/null 2>&1
check "keygen: a second identity" 0 $?

# id: hashname, key and the peer JSON with the given paths.
"$bxctl" th id "$work/a.json" --udp 127.0.0.1:4000 --tcp '[::1]:4001' >"$work/out" 2>&1
rc=$?
check "id: hashname" "0" $rc "^hashname $hn\$" "$work/out"
check "id: key" 0 $rc '^key 3a [a-z2-7]{52}$' "$work/out"
check "id: json" 0 $rc '^json \{"hashname":"'"$hn"'","keys":\{"3a":"[a-z2-7]{52}"\},"paths":\[\{"type":"udp4","ip":"127.0.0.1","port":4000\},\{"type":"tcp6","ip":"::1","port":4001\}\]\}$' "$work/out"
"$bxctl" th id "$work/a.json" --udp nowhere >"$work/out" 2>&1
check "id: a bad path is a usage error" 2 $? 'not IP:PORT' "$work/out"
"$bxctl" th id "$work/missing.json" >"$work/out" 2>&1
check "id: a missing file" 2 $?
"$bxctl" th ping --help >"$work/out" 2>&1
check "ping --help" 0 $? '^  ping --th-id FILE' "$work/out"

# ping: th_peer with identity b, over UDP and over TCP.
"$th_peer" --id "$work/b.json" --bind udp://127.0.0.1:0 --bind tcp://127.0.0.1:0 \
  >"$work/peer.out" 2>&1 &
pid=$!
for _ in $(seq 1 200); do
  grep -q '^json ' "$work/peer.out" && break
  sleep 0.05
done
sed -n 's/^json //p' "$work/peer.out" >"$work/peer.json"
peer_hn=$("$bxctl" --json th id "$work/b.json" | sed 's/.*"hashname":"\([a-z2-7]*\)".*/\1/')
udp_json=$(sed 's/,{"type":"tcp4"[^}]*}//' "$work/peer.json")
tcp_json=$(sed 's/{"type":"udp4"[^}]*},//' "$work/peer.json")

"$bxctl" th ping --th-id "$work/a.json" --bind udp://127.0.0.1:0 "$udp_json" >"$work/out" 2>&1
check "ping over UDP" 0 $? "^link up $peer_hn rtt [0-9.]+ ms\$" "$work/out"
"$bxctl" th ping --th-id "$work/a.json" --bind udp://127.0.0.1:0 "$tcp_json" >"$work/out" 2>&1
check "ping over TCP" 0 $? "^link up $peer_hn rtt [0-9.]+ ms\$" "$work/out"
"$bxctl" --json th ping --th-id "$work/a.json" --bind udp://127.0.0.1:0 "@$work/peer.json" \
  >"$work/out" 2>&1
check "ping --json, peer from @file" 0 $? "^\{\"ok\":true,\"hashname\":\"$peer_hn\",\"rttMs\":[0-9.]+\}\$" "$work/out"
grep -q "^up $hn\$" "$work/peer.out" && ok "th_peer saw the link up" || bad "th_peer saw no link"

# ping to nobody: exit 3 after --timeout.
kill "$pid" && wait "$pid"
check "th_peer stops on SIGTERM" 0 $?
pid=
"$bxctl" --timeout 0.5 th ping --th-id "$work/a.json" --bind udp://127.0.0.1:0 "$udp_json" \
  >"$work/out" 2>&1
check "ping: no answer" 3 $? 'no answer' "$work/out"
"$bxctl" th ping --th-id "$work/a.json" >"$work/out" 2>&1
check "ping without a peer is a usage error" 2 $? '^usage: bxctl' "$work/out"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
