#!/bin/sh
# bx-bench runs end to end: every scenario produces a row with real figures, the JSON is one
# document, and (unless told --no-instructions, as the sanitizer build is: valgrind and ASan do
# not mix) instructions per call come back from callgrind. Timings are never judged here.
#   smoke.sh BX_BENCH [--no-instructions]
set -eu
bench=$1
shift
out=$(mktemp)
trap 'rm -f "$out"' EXIT
fail() { echo "bench smoke: $*" >&2; cat "$out" >&2; exit 1; }

"$bench" --help | grep "usage: bx-bench" >/dev/null || fail "--help"
"$bench" --ops 200 --warmup 20 --rounds 2 --no-memory --json "$@" >"$out" || fail "exit status $?"

for s in raw-unix raw-tcp uv-unix inproc unix tcp ws hub-unix nng-ipc nng-tcp zmq-ipc zmq-tcp raw-ws \
         seal+open seal+open-nm unix-echo tcp-echo ws-echo pipeline-1 pipeline-16 pipeline-128 \
         raw-udp uv-udp msgbox-tcp msgbox-udp box-msgbox-udp th-seal+open th-seal+open-1x secretbox \
         th-chan th-rtt dao-put dao-find dao-rpc-echo dao-select-10k-memory dao-select-10k-sqlite; do
  grep -q "\"scenario\":\"$s\"" "$out" || fail "no row for $s"
done
# Two rounds merge into one row per scenario.
[ "$(grep -c '"scenario":"unix","system"' "$out")" = 1 ] || fail "rounds were not merged"
# Every row measured something: no zero p50 or throughput.
grep -q '"p50":0.00' "$out" && fail "a row with a zero p50"
grep -q '"ops_s":0,' "$out" && fail "a row with zero operations per second"
# Round trips are set against the floor of their transport, measured in the same rounds.
for s in unix tcp ws unix-echo tcp-echo ws-echo msgbox-tcp msgbox-udp box-msgbox-udp \
         th-seal+open th-seal+open-1x th-chan th-rtt; do
  grep "\"scenario\":\"$s\",\"system\":\"bx\"" "$out" | grep -q '"ratio_to_floor":0.00' &&
    fail "$s has no ratio to its floor"
done
# One JSON document (checked by a real parser where node is installed, as for the web tests).
[ "$(head -c 1 "$out")" = "{" ] || fail "not a JSON object"
[ "$(tail -c 2 "$out")" = "}" ] || fail "the JSON object is not closed"
if command -v node >/dev/null; then
  node -e 'const d = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
           if (!Array.isArray(d.results) || d.results.length < 20) process.exit(1);' "$out" ||
    fail "the output is not the JSON document expected"
fi
case " $* " in
*" --no-instructions "*) ;;
*)
  if command -v valgrind >/dev/null; then
    grep -q '"instructions":\[{"scenario":"inproc","client":[1-9]' "$out" ||
      fail "no in-process instruction count"
    grep -q '{"scenario":"unix","client":[1-9][0-9]*,"server":[1-9]' "$out" ||
      fail "no Unix-socket instruction counts"
    grep -q '{"scenario":"th-rtt","client":[1-9][0-9]*,"server":[1-9]' "$out" ||
      fail "no telehash round-trip instruction counts"
  fi
  ;;
esac
echo "bench smoke: ok"
