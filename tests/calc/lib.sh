# Shared by the multi-process test scripts (source it): a work directory removed at exit with
# every process started through `start`, and pass/fail bookkeeping.
#   check NAME EXPECTED_EXIT COMMAND...   runs COMMAND (30 s at most), compares its exit code
#   start NAME COMMAND...                 runs COMMAND in the background, waits for "ready";
#                                         sets $last_pid and $urls ("listening on" lines)
#   finish                                prints "N passed, M failed", exits non-zero on failure
# Extra directories to remove at exit go in the array cleanup_dirs.
work=$(mktemp -d)
pids=()
cleanup_dirs=()
passed=0 failures=0
lib_cleanup() {
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; done
  rm -rf "$work" "${cleanup_dirs[@]}"
}
trap lib_cleanup EXIT

check() {
  local name=$1 want=$2
  shift 2
  timeout 30 "$@" >"$work/out" 2>&1
  local got=$?
  if [ "$got" -eq "$want" ]; then
    passed=$((passed + 1))
    echo "ok: $name"
  else
    failures=$((failures + 1))
    echo "FAILED: $name (exit $got, wanted $want)"
    sed 's/^/  | /' "$work/out"
  fi
}

start() {
  local name=$1
  shift
  "$@" >"$work/$name.out" 2>"$work/$name.err" &
  pids+=($!)
  last_pid=$!
  for _ in $(seq 200); do
    grep -q '^ready' "$work/$name.out" && break
    sleep 0.05
  done
  grep -q '^ready' "$work/$name.out" || { echo "FAILED: $name did not start"; cat "$work/$name.err"; exit 1; }
  urls=$(sed -n 's/^listening on //p' "$work/$name.out")
}

finish() {
  echo "$passed passed, $failures failed"
  [ "$failures" -eq 0 ]
}
