#!/usr/bin/env bash
# bxctl describe prints a service's bxgen descriptor as signatures (and JSON with --json);
# bxctl ping measures a round trip to the hub or to a service and fails for a missing one.
#   bxctl_describe.sh BXD BXCTL CALC_SERVER
set -uo pipefail
bxd=$1 bxctl=$2 server=$3
work=$(mktemp -d)
. "$(dirname "$0")/harness.sh"
url=unix://$work/hub.sock

start hub '^ready' "$bxd" --unix "$work/hub.sock" || bad "bxd start" "$work/hub.err"
start calc '^registered as calc' "$server" --connect "$url" || bad "calc_server start" "$work/calc.err"

"$bxctl" --url "$url" describe calc >"$work/describe.out" 2>"$work/err"
cat >"$work/want" <<'TXT'
interface calc (version 2)
  struct calc.Point { double x; double y; string label; };
  double add(double a, double b);
  json echo(json value);
  void fail();
  void throwSync();
  oneway void notify(string note);
  calc.Point scale(calc.Point p, double k);
  int32 countdown(box listener, int32 from);
TXT
# Methods added to the calculator later only add lines: every line above must be there.
missing=$(grep -vxFf "$work/describe.out" "$work/want")
[ -z "$missing" ] && ok "describe calc prints its signatures" ||
  bad "describe calc lacks: $missing" "$work/describe.out"
"$bxctl" --url "$url" --json describe calc >"$work/describe.json"
grep -q '^{"ok":true,"result":{"interface":"calc","version":2,"methods":\[{"name":"add","oneway":false,"params":\[{"name":"a","type":"double"},{"name":"b","type":"double"}\],"results":\[{"name":"sum","type":"double"}\]}' \
  "$work/describe.json" && ok "describe --json gives the raw descriptor" || bad "describe --json" "$work/describe.json"
expect "describe of a missing service fails (exit 1)" 1 "" "$bxctl" --url "$url" describe nosuch

"$bxctl" --url "$url" ping >"$work/ping.out" && grep -Eq '^answer from the hub: [0-9]+\.[0-9]{3} ms$' "$work/ping.out" &&
  ok "ping measures a round trip to the hub" || bad "ping the hub" "$work/ping.out"
"$bxctl" --url "$url" ping calc >"$work/ping.out" && grep -Eq '^answer from calc: [0-9]+\.[0-9]{3} ms$' "$work/ping.out" &&
  ok "ping calc measures a round trip to the service" || bad "ping calc" "$work/ping.out"
"$bxctl" --url "$url" --json ping calc | grep -Eq '^\{"ok":true,"target":"calc","rttMs":[0-9.e-]+\}$' &&
  ok "ping --json" || bad "ping --json"
expect "ping of a missing service fails (exit 1)" 1 "" "$bxctl" --url "$url" ping nosuch
expect "ping of a hub that is not there fails (exit 3)" 3 "" "$bxctl" --url "unix://$work/none.sock" ping
echo "$passed passed, $failures failed"
[ "$failures" -eq 0 ]
