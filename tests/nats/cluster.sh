#!/usr/bin/env bash
# Starts or stops a NATS cluster of N nats-server processes on random loopback ports.
#   cluster.sh start DIR [N [OWNER]]
#                              N nodes (default 3), routed to each other; waits until every node
#                              has a route to every other one. Writes DIR/url.I (nats://127.0.0.1:P
#                              of node I, 1-based), DIR/pid.I, DIR/urls (every client URL, comma
#                              separated, without nats://) and logs DIR/log.I. Exit 77 when
#                              nats-server is missing (tests skip), 1 when the cluster did not
#                              come up within 20 s. With OWNER (a pid), a watchdog kills the
#                              nodes once that process is gone (a test that crashed).
#   cluster.sh stop DIR        kills every node of DIR (those still alive).
#   cluster.sh kill DIR I      kill -9 node I.
# Ports are chosen by the servers (-1: random) and read from their ports files.
set -euo pipefail
cmd=${1:?start|stop|kill}
dir=${2:?directory}
nats=$(command -v nats-server || true)
[ -x /usr/sbin/nats-server ] && nats=/usr/sbin/nats-server

node_ports() { # $1: pid -> the ports file's content
  cat "$dir/ports/nats-server_$1.ports" 2>/dev/null || true
}

wait_ports() { # $1: pid; waits for its ports file
  for _ in $(seq 1 200); do
    [ -s "$dir/ports/nats-server_$1.ports" ] && return 0
    kill -0 "$1" 2>/dev/null || return 1
    sleep 0.05
  done
  return 1
}

field() { # $1: json, $2: key -> the first URL's port
  printf '%s' "$1" | sed -n "s/.*\"$2\":\[\"[a-z]*:\/\/127.0.0.1:\([0-9]*\)\".*/\1/p"
}

start_node() { # $1: index, $2: routes ("" for the first)
  local i=$1 routes=$2 args
  args=(-a 127.0.0.1 -p -1 -m -1 --cluster_name bxtest --cluster nats://127.0.0.1:-1
        --ports_file_dir "$dir/ports" -n "bx-node-$i")
  [ -n "$routes" ] && args+=(--routes "$routes")
  "$nats" "${args[@]}" >"$dir/log.$i" 2>&1 &
  local pid=$!
  echo "$pid" >"$dir/pid.$i"
  wait_ports "$pid" || { echo "cluster: node $i did not start (see $dir/log.$i)" >&2; return 1; }
  local p
  p=$(node_ports "$pid")
  echo "nats://127.0.0.1:$(field "$p" nats)" >"$dir/url.$i"
  echo "$(field "$p" cluster)" >"$dir/cport.$i"
  echo "$(field "$p" monitoring)" >"$dir/mport.$i"
}

case $cmd in
start)
  n=${3:-3}
  if [ -z "$nats" ]; then
    echo "cluster: nats-server is not installed (scripts/install-deps.sh installs it): skipping" >&2
    exit 77
  fi
  mkdir -p "$dir/ports"
  start_node 1 ""
  for i in $(seq 2 "$n"); do
    start_node "$i" "nats://127.0.0.1:$(cat "$dir/cport.1")"
  done
  urls=""
  for i in $(seq 1 "$n"); do
    u=$(sed 's|nats://||' "$dir/url.$i")
    urls=${urls:+$urls,}$u
  done
  echo "$urls" >"$dir/urls"
  if [ -n "${4:-}" ]; then
    owner=$4
    (
      while kill -0 "$owner" 2>/dev/null; do sleep 1; done
      for f in "$dir"/pid.*; do kill -9 "$(cat "$f")" 2>/dev/null || true; done
    ) </dev/null >/dev/null 2>&1 &
  fi
  # Every node routed to every other one (monitoring /routez).
  for _ in $(seq 1 400); do
    ok=1
    for i in $(seq 1 "$n"); do
      r=$(curl -s "http://127.0.0.1:$(cat "$dir/mport.$i")/routez" | tr -d ' \n' |
          sed -n 's/.*"num_routes":\([0-9]*\).*/\1/p')
      [ "${r:-0}" -ge $((n - 1)) ] || ok=0
    done
    [ $ok = 1 ] && exit 0
    sleep 0.05
  done
  echo "cluster: routes did not come up in 20 s" >&2
  exit 1
  ;;
stop)
  for f in "$dir"/pid.*; do
    [ -e "$f" ] || continue
    kill -9 "$(cat "$f")" 2>/dev/null || true
  done
  ;;
kill)
  kill -9 "$(cat "$dir/pid.${3:?node}")" 2>/dev/null || true
  ;;
*)
  echo "usage: cluster.sh start|stop|kill DIR [N|I]" >&2
  exit 2
  ;;
esac
