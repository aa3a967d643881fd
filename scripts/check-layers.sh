#!/usr/bin/env bash
# Checks the layer map (docs/layers.md): each layer of the library may include and call only
# its own layer and the layers below it.
#
#   scripts/check-layers.sh BUILD_DIR LAYER...     (lowest layer first, as CMake's BX_LAYERS)
#
# Includes: every `#include "x"` in a layer's sources is resolved to the layer folder that holds
# x (the file's own folder first). Calls: every undefined symbol of a layer's object files
# (BUILD_DIR/CMakeFiles/bx_LAYER.dir) is resolved to the layer whose objects define it. An edge
# from a layer to one above it fails the check. Prints the edges between layers it found, with
# their counts, and each upward edge in full.
set -euo pipefail

if [ $# -lt 2 ]; then
  echo "usage: $0 BUILD_DIR LAYER..." >&2
  exit 2
fi
build=$1
shift
layers=("$@")
top=$(cd "$(dirname "$0")/.." && pwd)
declare -A rank
for i in "${!layers[@]}"; do rank[${layers[$i]}]=$i; done

edges=$(mktemp)
bad=$(mktemp)
trap 'rm -f "$edges" "$bad"' EXIT

# ---- includes -----------------------------------------------------------------------------
# The layer holding the header a file includes: its own folder first, then each layer's tree.
header_layer() { # file header
  local dir
  dir=$(dirname "$1")
  if [ -f "$dir/$2" ]; then
    layer_of "$dir/$2"
    return
  fi
  for l in "${layers[@]}"; do
    if [ -n "$(find "$top/$l" -name "$(basename "$2")" -path "*$2" -print -quit)" ]; then
      echo "$l"
      return
    fi
  done
  echo "" # a public or system header
}
layer_of() { # path
  local rel=${1#"$top"/}
  echo "${rel%%/*}"
}

for l in "${layers[@]}"; do
  while IFS= read -r f; do
    while IFS= read -r h; do
      hl=$(header_layer "$f" "$h")
      [ -n "$hl" ] || continue
      echo "include $l $hl" >>"$edges"
      if [ "${rank[$hl]}" -gt "${rank[$l]}" ]; then
        echo "include up: ${f#"$top"/} includes \"$h\" ($hl is above $l)" >>"$bad"
      fi
    done < <(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f")
  done < <(find "$top/$l" -name '*.[ch]' | sort)
done

# ---- calls --------------------------------------------------------------------------------
declare -A defined_in
for l in "${layers[@]}"; do
  objdir="$build/CMakeFiles/bx_$l.dir"
  if [ ! -d "$objdir" ]; then
    echo "check-layers: no objects for layer $l in $objdir (build first)" >&2
    exit 2
  fi
  while read -r sym; do
    defined_in[$sym]=$l
  done < <(find "$objdir" -name '*.o' -print0 | xargs -0 nm --defined-only -P 2>/dev/null |
    awk '$2 ~ /^[TDBRVW]$/ {print $1}')
done
for l in "${layers[@]}"; do
  objdir="$build/CMakeFiles/bx_$l.dir"
  while IFS= read -r -d '' o; do
    while read -r sym; do
      dl=${defined_in[$sym]:-}
      [ -n "$dl" ] || continue
      echo "call $l $dl" >>"$edges"
      if [ "${rank[$dl]}" -gt "${rank[$l]}" ]; then
        echo "call up: ${o#"$build"/} uses $sym ($dl is above $l)" >>"$bad"
      fi
    done < <(nm --undefined-only -P "$o" | awk '{print $1}')
  done < <(find "$objdir" -name '*.o' -print0)
done

echo "layers, lowest first: ${layers[*]}"
echo "edges between layers (kind from to: count):"
awk '$2 != $3' "$edges" | sort | uniq -c | awk '{printf "  %-7s %-10s -> %-10s %s\n", $2, $3, $4, $1}'
if [ -s "$bad" ]; then
  echo "FAILED: $(wc -l <"$bad") upward edge(s):"
  sort -u "$bad" | sed 's/^/  /'
  exit 1
fi
echo "no upward edge: every layer includes and calls only itself and the layers below it"
