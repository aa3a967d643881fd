#!/usr/bin/env bash
# make demo: runs the example programs built in build dir $1 (default: build).
set -euo pipefail
build=${1:-build}
echo "== examples/hello: an in-process service called through Sub, Proxy, Promised and Named boxes"
"$build/bin/hello"
