#!/bin/sh
# Golden tests of bxgen (codegen/): regenerates the code of every good header and the
# diagnostics of every bad header, and compares them with the checked-in goldens.
#
# usage: run_golden.sh [--update] BXGEN SRC_DIR WORK_DIR
#   BXGEN     the bxgen executable
#   SRC_DIR   bx's source tree (headers under include/, tests under tests/codegen/)
#   WORK_DIR  scratch directory (emptied)
#   --update  rewrite the goldens from the current output instead of comparing
#
# For each tests/codegen/good/<name>.h (interface <name>):
#   - <name>_{stub,skeleton}.{h,c} must equal good/<name>_*.golden;
#   - a second run must give byte-identical files, with no absolute path in them;
#   - the .c files must compile with -Wall -Wextra -Werror ($CC, default cc);
#   - rerunning must not rewrite unchanged files; --depfile and --stamp must be written.
# For each tests/codegen/bad/<name>.h: bxgen must exit 1 and print bad/<name>.err on stderr.
set -u

update=0
if [ "${1:-}" = "--update" ]; then
  update=1
  shift
fi
if [ $# -ne 3 ]; then
  echo "usage: $0 [--update] BXGEN SRC_DIR WORK_DIR" >&2
  exit 2
fi
BXGEN=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
SRC=$(cd "$2" && pwd)
WORK=$3
T=$SRC/tests/codegen
CC=${CC:-cc}
CFLAGS="-std=gnu11 -fsyntax-only -Wall -Wextra -Werror -Wshadow -Wmissing-prototypes -Wstrict-prototypes"
failures=0
checks=0

fail() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}

# compare GOLDEN ACTUAL: diff, or with --update copy ACTUAL over GOLDEN.
compare() {
  checks=$((checks + 1))
  if [ $update -eq 1 ]; then
    cp "$2" "$1"
  elif ! diff -u "$1" "$2"; then
    fail "$2 differs from $1 (run with --update to accept)"
  fi
}

rm -rf "$WORK"
mkdir -p "$WORK/good" "$WORK/bad"
WORK=$(cd "$WORK" && pwd)

# ---- good headers ----
for h in "$T"/good/*.h; do
  name=$(basename "$h" .h)
  out=$WORK/good/$name
  if ! (cd "$T/good" && "$BXGEN" -o "$out" --interface "$name" -I "$SRC/include" \
        --depfile "$out/deps.d" --stamp "$out/stamp" "$name.h"); then
    fail "$name.h: bxgen failed"
    continue
  fi
  (cd "$T/good" && "$BXGEN" -o "$out.again" -I "$SRC/include" "$name.h") ||
    fail "$name.h: second run failed"
  for f in stub.h stub.c skeleton.h skeleton.c; do
    gen=$out/${name}_$f
    compare "$T/good/${name}_$f.golden" "$gen"
    cmp -s "$gen" "$out.again/${name}_$f" || fail "$gen: not deterministic"
    if grep -q -e "$SRC" -e "$WORK" "$gen"; then
      fail "$gen: contains an absolute path"
    fi
  done
  for f in stub.c skeleton.c; do
    checks=$((checks + 1))
    # shellcheck disable=SC2086
    $CC $CFLAGS -I"$SRC/include" -I"$T/good" -I"$out" "$out/${name}_$f" ||
      fail "$out/${name}_$f does not compile warning-free"
  done
  # The depfile names the stamp and every header read; files are not rewritten needlessly.
  checks=$((checks + 1))
  head -n 1 "$out/deps.d" | grep -q "^$out/stamp:" || fail "$name: depfile target is not the stamp"
  grep -q "good/$name.h" "$out/deps.d" || fail "$name: depfile lacks $name.h"
  grep -q "include/bx/idl.h" "$out/deps.d" || fail "$name: depfile lacks bx/idl.h"
  touch -d '2000-01-01' "$out/${name}_stub.c"
  (cd "$T/good" && "$BXGEN" -o "$out" -I "$SRC/include" --stamp "$out/stamp" "$name.h") ||
    fail "$name.h: third run failed"
  [ "$out/stamp" -nt "$out/${name}_stub.c" ] || fail "$name: unchanged output was rewritten"
done

# ---- bad headers ----
for h in "$T"/bad/*.h; do
  name=$(basename "$h" .h)
  err=$WORK/bad/$name.err
  (cd "$T/bad" && "$BXGEN" -o "$WORK/bad/out" --interface calc -I "$SRC/include" "$name.h") \
    2>"$err.raw"
  rc=$?
  [ $rc -eq 1 ] || fail "$name.h: exit status $rc, expected 1"
  sed "s|$SRC/|<src>/|g" "$err.raw" >"$err"
  compare "$T/bad/$name.err" "$err"
done
[ ! -e "$WORK/bad/out" ] || fail "a bad header produced output"

# ---- usage ----
"$BXGEN" >/dev/null 2>&1
[ $? -eq 2 ] || fail "bxgen without arguments: expected exit status 2"
"$BXGEN" --version | grep -q '^bxgen ' || fail "bxgen --version"

if [ $failures -ne 0 ]; then
  echo "run_golden: $failures failure(s)"
  exit 1
fi
echo "run_golden: $checks checks passed$( [ $update -eq 1 ] && echo ' (goldens updated)')"
