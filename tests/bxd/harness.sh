# Shared by the process tests of bxd (sourced, with $work set): the background processes to
# kill on exit, pass/fail counting, and the two helpers start and expect.
# shellcheck shell=bash
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; done
  rm -rf "$work"
}
trap cleanup EXIT
passed=0 failures=0
ok() { passed=$((passed + 1)); echo "ok: $1"; }
bad() { failures=$((failures + 1)); echo "FAILED: $1"; [ -f "${2:-/dev/null}" ] && sed 's/^/  | /' "$2"; }

# start NAME WAIT_FOR COMMAND...: background process; waits for a line matching WAIT_FOR.
start() {
  local name=$1 want=$2
  shift 2
  "$@" >"$work/$name.out" 2>"$work/$name.err" &
  last_pid=$!
  pids+=("$last_pid")
  for _ in $(seq 100); do
    grep -q "$want" "$work/$name.out" && return 0
    kill -0 "$last_pid" 2>/dev/null || break
    sleep 0.05
  done
  return 1
}
# expect NAME WANT_EXIT WANT_STDOUT COMMAND...
expect() {
  local name=$1 want=$2 text=$3
  shift 3
  local out got
  out=$(timeout 20 "$@" 2>"$work/err")
  got=$?
  if [ "$got" -eq "$want" ] && [ "$out" = "$text" ]; then ok "$name"; else
    bad "$name (exit $got, stdout '$out')" "$work/err"; fi
}
