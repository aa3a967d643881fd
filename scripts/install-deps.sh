#!/usr/bin/env bash
# Installs the Debian 12 packages bx needs to build, test and run its demo (--build-only: to
# build and install the library and tools).
# Idempotent: prints nothing and exits 0 when everything is already present.
# As non-root it prints the exact apt-get command to run and exits 1.
# Then the npm packages of JavaScript test peers, from their lock files (no root needed).
set -euo pipefail

# --build-only: what the library, bxgen and the tools need (make install); nothing for tests,
# benchmarks or the browser.
build_only=false
[ "${1:-}" = "--build-only" ] && build_only=true
packages=(
  build-essential cmake pkg-config          # toolchain
  libuv1-dev                                # event loop, sockets, timers
  libcjson-dev                              # JSON tree
  libwebsockets-dev libwebsockets-evlib-uv  # WebSocket transport on libuv
  libsodium-dev                             # telehash crypto
  libsqlite3-dev                            # durable stores: box host, DAOs
  libclang-14-dev                           # bxgen
  libsystemd-dev                            # bxd: sd_notify, socket activation
  help2man                                  # man pages of bxd, bxctl and bxgen from --help
)
$build_only || packages+=(
  clang-14 llvm-14                          # libFuzzer targets
  libcmocka-dev                             # unit tests
  clang-format                              # make format-check
  openssl                                   # throwaway certificates in wss tests
  libnng-dev libzmq3-dev                    # benchmark peers (bench/)
  valgrind                                  # instructions per call in bx-bench (callgrind)
  chromium chromium-driver                  # the browser end-to-end test (tests/web)
  curl                                      # HTTP checks of served pages in tests
  nats-server                               # NATS cluster tests and bench rows (tests/nats)
)
# Node 18+ runs the JavaScript tests (playwright-core is pinned at 1.61.1, which supports it):
# without any node, Debian 12's own nodejs 18 and npm are installed.
$build_only || command -v node >/dev/null 2>&1 || packages+=(nodejs npm)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
    missing+=("$p")
  fi
done
root=$(cd "$(dirname "$0")/.." && pwd)
# telehash-js 0.4.18 and e3x 0.2.3, the reference peers of the telehash interop test.
# Not fatal: without them only that test fails (its CTest fixture tries again).
npm_packages() {
  "$root/tests/telehash-js/npm-setup.sh" ||
    echo "install-deps: npm packages of tests/telehash-js not installed" >&2
  # nats 2.29.3, the Node.js client of the NATS interop test (tests/nats).
  "$root/tests/nats/npm-setup.sh" ||
    echo "install-deps: npm packages of tests/nats not installed" >&2
}
$build_only && npm_packages() { :; }
if [ ${#missing[@]} -eq 0 ]; then
  npm_packages
  exit 0
fi

cmd="apt-get install -y --no-install-recommends ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages: ${missing[*]}" >&2
  echo "install-deps: run as root: apt-get update && $cmd" >&2
  exit 1
fi
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
# shellcheck disable=SC2086
$cmd >&2
npm_packages
