#!/usr/bin/env bash
# Installs the Node.js NATS client (nats 2.29.3) from package-lock.json into
# tests/nats/node_modules, once. --ignore-scripts: no install scripts run. Run by
# scripts/install-deps.sh and, as a CTest fixture, before the interop test.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
[ -f "$here/node_modules/nats/package.json" ] && exit 0
command -v npm >/dev/null 2>&1 || { echo "npm-setup: npm is missing" >&2; exit 1; }
cd "$here" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >&2
