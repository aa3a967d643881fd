#!/usr/bin/env bash
# Installs the JavaScript telehash reference (telehash-js 0.4.18, e3x 0.2.3 ...) from
# package-lock.json into tests/telehash-js/node_modules, once. --ignore-scripts: the packages'
# install scripts build optional native modules the test does not use. Run by
# scripts/install-deps.sh and, as a CTest fixture, before the interop test.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
[ -f "$here/node_modules/telehash/package.json" ] && exit 0
command -v npm >/dev/null 2>&1 || { echo "npm-setup: npm is missing" >&2; exit 1; }
cd "$here" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >&2
