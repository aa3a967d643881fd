#!/usr/bin/env bash
# bxctl's bash completion: commands and options, service names from a live hub (bxctl ls) and
# a service's methods (bxctl describe).
#   bxctl_completion.sh BXD BXCTL CALC_SERVER COMPLETION_FILE
set -uo pipefail
bxd=$1 bxctl=$2 server=$3 completion=$4
work=$(mktemp -d)
. "$(dirname "$0")/harness.sh"
PATH="$(dirname "$bxctl"):$PATH"
# shellcheck disable=SC1090
. "$completion"
url=unix://$work/hub.sock

complete_line() { # complete_line WORD...: the candidates for the last word, sorted, one line
  COMP_WORDS=("$@")
  COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
  COMPREPLY=()
  _bxctl
  printf '%s\n' "${COMPREPLY[@]}" | sort | tr '\n' ' ' | sed 's/ $//'
}
check() { # check NAME WANT WORD...
  local name=$1 want=$2
  shift 2
  local got
  got=$(complete_line "$@")
  [ "$got" = "$want" ] && ok "$name" || bad "$name: got '$got', wanted '$want'"
}

check "commands" "call" bxctl ca
check "options" "--timeout" bxctl --ti
check "commands after options" "describe" bxctl --json --timeout 3 des
check "th subcommands" "keygen" bxctl th ke
start hub '^ready' "$bxd" --unix "$work/hub.sock" || bad "bxd start" "$work/hub.err"
start calc '^registered as calc' "$server" --connect "$url" || bad "calc_server start" "$work/calc.err"
check "service names from the hub" "calc" bxctl --url "$url" call ca
check "methods from the service's descriptor" "add" bxctl --url "$url" call calc ad
check "every method" "add countdown echo fail notify recall scale throwSync" bxctl --url "$url" call calc ""
check "nothing from a hub that is not there" "" bxctl --url "unix://$work/none.sock" call ca
echo "$passed passed, $failures failed"
[ "$failures" -eq 0 ]
