#!/usr/bin/env bash
# CTest fixture for the browser tests: installs playwright-core from package-lock.json once,
# before the tests that need it run (they would otherwise race on `npm ci`).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# Up to date when the installed playwright-core is the version the lock file names.
want=$(sed -n '/"node_modules\/playwright-core"/,/"version"/s/.*"version": "\(.*\)".*/\1/p' "$here/package-lock.json")
have=$(sed -n 's/^  "version": "\(.*\)",$/\1/p' "$here/node_modules/playwright-core/package.json" 2>/dev/null || true)
[ -n "$want" ] && [ "$want" = "$have" ] && exit 0
cd "$here" && npm ci --no-audit --no-fund --loglevel=error
