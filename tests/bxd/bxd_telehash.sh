#!/usr/bin/env bash
# bxd as a telehash box host, bxctl th send / recv: real processes on loopback.
#   bxd_telehash.sh BXD BXCTL
# Two identities and a host: alice stores messages for bob while bob is offline; the host is
# restarted with its --th-store in between; bob collects them (verified, in order) and they are
# gone afterwards. Then the key of a recipient fetched from the host (--to), the counters in
# bxctl stats, and a store file that is not a store (bxd refuses to start).
set -uo pipefail
bxd=$1 bxctl=$2
work=$(mktemp -d)
. "$(dirname "$0")/harness.sh"

"$bxd" --help | grep -- '--th-store PATH' >/dev/null && ok "bxd --help documents --th-store" || bad "bxd --help"
"$bxctl" th --help | grep -- 'recv --th-id FILE --host HOST.json' >/dev/null && ok "bxctl th --help documents recv" ||
  bad "bxctl th --help"

for who in host alice bob; do
  "$bxctl" th keygen "$work/$who.json" >"$work/$who.hn" 2>"$work/err" || bad "keygen $who" "$work/err"
done
alice=$(cat "$work/alice.hn") bob=$(cat "$work/bob.hn")
sock="$work/hub.sock"
host_args=(--unix "$sock" --telehash udp://127.0.0.1:0 --telehash tcp://127.0.0.1:0
  --th-id "$work/host.json" --th-store "$work/store.db" --th-ready-file "$work/ready.json")

start host '^ready' "$bxd" "${host_args[@]}" && ok "bxd hosts boxes" || bad "bxd start" "$work/host.err"
host_pid=$last_pid
line=$(sed -n 's/^telehash: //p' "$work/host.out")
[ -n "$line" ] && [ "$line" = "$(cat "$work/ready.json")" ] &&
  grep -q '"hashname":"'"$(cat "$work/host.hn")"'"' <<<"$line" && grep -q '"type":"tcp4"' <<<"$line" &&
  ok "the telehash line and --th-ready-file agree" || bad "ready JSON" "$work/host.out"

# bob is offline: alice stores two messages for him (his key from his identity file)
expect_stored() {
  local name=$1
  shift
  out=$(timeout 20 "$@" 2>"$work/err")
  rc=$?
  [ $rc -eq 0 ] && grep -q "^stored [0-9a-f]\{64\} for $bob" <<<"$out" && ok "$name" || bad "$name (exit $rc: $out)" "$work/err"
}
expect_stored "alice stores a message for offline bob" \
  "$bxctl" th send --th-id "$work/alice.json" --host "$work/ready.json" --to-id "$work/bob.json" --text "hello bob"
expect_stored "and a second one (@file)" \
  "$bxctl" th send --th-id "$work/alice.json" --host "@$work/ready.json" --to-id "$work/bob.json" --text "second"
stats=$("$bxctl" --url "unix://$sock" stats 2>"$work/err")
grep -q '"thStored":2' <<<"$stats" && grep -q '"thBoxes":1' <<<"$stats" && ok "bxctl stats counts the boxes" ||
  bad "stats: $stats" "$work/err"

# the host restarts from its store
kill -TERM "$host_pid"
wait "$host_pid" 2>/dev/null
rm -f "$work/ready.json"
start host '^ready' "$bxd" "${host_args[@]}" && ok "bxd restarts from --th-store" || bad "bxd restart" "$work/host.err"
host_pid=$last_pid

want=$(printf '{"from":"%s","verified":true,"id":"%s","type":"text","text":"hello bob"}' "$alice" X)
out=$(timeout 20 "$bxctl" th recv --th-id "$work/bob.json" --host "$work/ready.json" --json 2>"$work/err")
rc=$?
n=$(grep -c '"verified":true' <<<"$out")
first=$(sed -n 1p <<<"$out" | sed 's/"id":"[0-9a-f]*"/"id":"X"/')
second=$(sed -n 2p <<<"$out")
[ $rc -eq 0 ] && [ "$n" = 2 ] && [ "$first" = "$want" ] && grep -q '"text":"second"' <<<"$second" &&
  ok "bob collects both after the restart, verified, in order" || bad "recv (exit $rc): $out" "$work/err"
expect "and they are gone" 0 "" "$bxctl" th recv --th-id "$work/bob.json" --host "$work/ready.json" --json

# bob's key is now known to the host (he linked): --to HASHNAME fetches and checks it
expect_stored "alice stores with --to (the key from the host)" \
  "$bxctl" th send --th-id "$work/alice.json" --host "$work/ready.json" --to "$bob" --text "third"
expect "bob reads it in text form" 0 "from $alice (verified): third" \
  "$bxctl" th recv --th-id "$work/bob.json" --host "$work/ready.json" --from "$alice"
stats=$("$bxctl" --url "unix://$sock" stats 2>"$work/err")
grep -q '"thStored":0' <<<"$stats" && grep -q '"thRemoved":3' <<<"$stats" && ok "stats after collecting" ||
  bad "stats: $stats" "$work/err"
# a hashname the host never met
stranger=$("$bxctl" th keygen "$work/stranger.json")
expect "--to a hashname the host does not know: exit 3" 3 "" \
  "$bxctl" th send --th-id "$work/alice.json" --host "$work/ready.json" --to "$stranger" --text x
expect "send without --text: usage (exit 2)" 2 "" \
  "$bxctl" th send --th-id "$work/alice.json" --host "$work/ready.json" --to "$bob"
kill -TERM "$host_pid"
wait "$host_pid" 2>/dev/null

# a store file that is not a store: bxd refuses to start, and leaves the file alone
echo "not a database, a text file that is long enough to be read as one ........" >"$work/bad.db"
timeout 20 "$bxd" --telehash udp://127.0.0.1:0 --th-id "$work/host.json" --th-store "$work/bad.db" \
  >"$work/bad.out" 2>"$work/bad.err"
rc=$?
[ $rc -ne 0 ] && grep -q "not a box store" "$work/bad.err" && grep -q "^not a database" "$work/bad.db" &&
  ok "a file that is not a store: bxd refuses (exit $rc)" || bad "bad store (exit $rc)" "$work/bad.err"

echo "$passed passed, $failures failed"
[ "$failures" -eq 0 ]
