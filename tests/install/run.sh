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
echo "install: find_package and pkg-config consumers (bx, bx-msgbox) passed"
