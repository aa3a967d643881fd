#!/usr/bin/env bash
# `make deb` builds three Debian packages with CPack; this builds them from BUILD_DIR, checks
# what each holds and depends on, extracts them into one directory and starts the tools from
# there (no LD_LIBRARY_PATH: they find libbx through their relative RPATH).
#   deb.sh BUILD_DIR
set -euo pipefail
build=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "deb: $*" >&2; exit 1; }
(cd "$work" && cpack --config "$build/CPackConfig.cmake" >"$work/cpack.log" 2>&1) ||
  { cat "$work/cpack.log" >&2; fail "cpack failed"; }
has() { # has PACKAGE PATH-REGEX: the package's file list has a match
  dpkg-deb -c "$work"/$1_*.deb | awk '{print $6}' | grep -Eq "$2" || fail "$1 lacks $2"
}
lacks() { # lacks PACKAGE PATH-REGEX
  ! dpkg-deb -c "$work"/$1_*.deb | awk '{print $6}' | grep -Eq "$2" || fail "$1 holds $2"
}
for p in libbx libbx-dev bx-tools; do ls "$work"/${p}_*.deb >/dev/null 2>&1 || fail "no $p package"; done
has libbx 'lib/.*libbx\.so\.0$'
has libbx 'lib/.*libbx_msgbox_compat\.so\.0$'
lacks libbx 'include/|bin/|\.so$'
has libbx-dev 'include/bx\.h$'
has libbx-dev 'include/msgbox\.h$'
has libbx-dev 'lib/.*libbx\.so$'
has libbx-dev 'cmake/bx/bxConfig\.cmake$'
has libbx-dev 'cmake/bx/bx_generate\.cmake$'
has libbx-dev 'pkgconfig/bx\.pc$'
has libbx-dev 'bin/bxgen$'
has libbx-dev 'share/bx/js/bx\.js$'
lacks libbx-dev 'bin/bx(d|ctl)$'
has bx-tools 'bin/bxd$'
has bx-tools 'bin/bxctl$'
has bx-tools 'share/bx/bxd-www/index\.html$'
has bx-tools 'lib/systemd/system/bxd\.service$'
has bx-tools 'completions/bxctl$'
if command -v help2man >/dev/null; then
  has bx-tools 'man1/bxd\.1$'
  has bx-tools 'man1/bxctl\.1$'
  has libbx-dev 'man1/bxgen\.1$'
fi
has bx-tools 'lib/systemd/system/bxd\.socket$'
lacks bx-tools 'include/|\.so(\.[0-9]|$)'
for p in libbx-dev bx-tools; do
  dpkg-deb -f "$work"/${p}_*.deb Depends | grep -q 'libbx (= ' || fail "$p does not depend on libbx"
done
dpkg-deb -f "$work"/libbx_*.deb Depends | grep -q 'libuv1' || fail "libbx does not depend on libuv1"
for p in "$work"/*.deb; do dpkg-deb -x "$p" "$work/root"; done
for t in bxd bxctl bxgen; do
  env -u LD_LIBRARY_PATH "$work/root/usr/bin/$t" --help >/dev/null || fail "$t from the package does not start"
done
echo "deb: libbx, libbx-dev and bx-tools hold what they should; the tools start from them"
