#!/usr/bin/env bash
# CTest fixture for the browser tests: installs playwright-core from package-lock.json once,
# before the tests that need it run (they would otherwise race on `npm ci`).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
[ -f "$here/node_modules/playwright-core/package.json" ] && exit 0
cd "$here" && npm ci --no-audit --no-fund --loglevel=error
