#!/usr/bin/env bash
# Installs bx from BUILD_DIR into a temporary prefix, then builds and runs a consumer project
# twice: with CMake's find_package(bx) and with pkg-config. Extra compiler flags (the
# sanitizer flags of a sanitizer build) are passed as $3.
set -euo pipefail
build=$1 src=$2 flags=${3:-}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cmake --install "$build" --prefix "$work/prefix" >/dev/null
cmake -S "$src/consumer" -B "$work/cmake" -DCMAKE_PREFIX_PATH="$work/prefix" \
  -DCMAKE_C_FLAGS="$flags" -DCMAKE_EXE_LINKER_FLAGS="$flags" >/dev/null
cmake --build "$work/cmake" >/dev/null
LD_LIBRARY_PATH="$work/prefix/lib:${LD_LIBRARY_PATH:-}" "$work/cmake/consumer"
export PKG_CONFIG_PATH="$work/prefix/lib/pkgconfig:$work/prefix/lib/x86_64-linux-gnu/pkgconfig"
libdir=$(pkg-config --variable=libdir bx)
# shellcheck disable=SC2046,SC2086
cc $flags -o "$work/pc-consumer" "$src/consumer/main.c" $(pkg-config --cflags --libs bx)
LD_LIBRARY_PATH="$libdir:${LD_LIBRARY_PATH:-}" "$work/pc-consumer"
# A released-msgbox program, C99 with the release's flags, against bx-msgbox.pc.
# shellcheck disable=SC2046,SC2086
cc $flags -std=c99 -D _BSD_SOURCE -D _POSIX_C_SOURCE=200809 -D _GNU_SOURCE -Wno-cpp \
  -o "$work/msgbox-consumer" "$src/consumer/msgbox_main.c" $(pkg-config --cflags --libs bx-msgbox)
LD_LIBRARY_PATH="$libdir:${LD_LIBRARY_PATH:-}" "$work/msgbox-consumer"
# bx_generate() twice on one header in one directory: a skeleton-only and a stub-only target.
"$work/cmake/greet_server" && "$work/cmake/greet_client"

# The installed tools start without LD_LIBRARY_PATH (RPATH $ORIGIN/../lib), also from a moved
# prefix, and bxd finds its status page next to itself; bx.js is installed for applications.
fail() { echo "install: $*" >&2; cat "$work/bxd.out" >&2 2>/dev/null || true; exit 1; }
[ -f "$work/prefix/share/bx/js/bx.js" ] || fail "share/bx/js/bx.js is not installed"
[ -f "$work/prefix/share/bash-completion/completions/bxctl" ] || fail "bxctl's bash completion is not installed"
if command -v help2man >/dev/null; then
  for t in bxd bxctl bxgen; do
    page="$work/prefix/share/man/man1/$t.1"
    [ -f "$page" ] || fail "man page $t.1 is not installed"
    grep -q -- '\\-\\-help' "$page" || fail "man page $t.1 does not list the options"
  done
fi
mv "$work/prefix" "$work/moved"
for t in bxd bxctl bxgen; do
  env -u LD_LIBRARY_PATH "$work/moved/bin/$t" --help >/dev/null || fail "installed $t does not start"
done
sock=$work/hub.sock
env -u LD_LIBRARY_PATH "$work/moved/bin/bxd" --unix "$sock" --ws 127.0.0.1:0 >"$work/bxd.out" 2>&1 &
bxd_pid=$!
trap 'kill $bxd_pid 2>/dev/null || true; rm -rf "$work"' EXIT
page=
for _ in $(seq 100); do
  page=$(sed -n 's/^status page: \(http:.*\)$/\1/p' "$work/bxd.out")
  [ -n "$page" ] && [ -S "$sock" ] && break
  sleep 0.1
done
[ -n "$page" ] || fail "the installed bxd did not start"
curl -fsS "${page}index.html" | grep -qi "<html" || fail "the moved bxd serves no status page"
env -u LD_LIBRARY_PATH "$work/moved/bin/bxctl" --url "unix://$sock" stats >/dev/null ||
  fail "the installed bxctl cannot talk to the installed bxd"
kill "$bxd_pid"
wait "$bxd_pid" 2>/dev/null || true
echo "install: find_package and pkg-config consumers (bx, bx-msgbox), split bx_generate, installed tools passed"
