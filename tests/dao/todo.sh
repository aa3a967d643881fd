#!/usr/bin/env bash
# examples/todo and bxctl dao as real processes: todo_server on TCP (memory and SQLite),
# bxctl dao put/find/remove/select, a listener in another process notified of another
# client's puts, the listener's process killed and the service detaching it, SQLite keeping
# everything across a server restart, and the service registered in bxd and used through it.
#   todo.sh TODO_SERVER BXCTL BXD
set -uo pipefail
server=$1 bxctl=$2 bxd=$3
work=$(mktemp -d)
. "$(dirname "$0")/../bxd/harness.sh"

start todo '^ready' "$server" --listen tcp://127.0.0.1:0 --store "sqlite:$work/todos.db" \
  --log-level info && ok "todo_server starts" || bad "todo_server start" "$work/todo.err"
todo_pid=$last_pid
url=$(sed -n 's/^listening on //p' "$work/todo.out")
dao=("$bxctl" --url "$url" dao todos)

# a listener in its own process
start listener "" "${dao[@]}" listen
listener_pid=$last_pid
for _ in $(seq 100); do grep -q listening "$work/listener.err" && break; sleep 0.05; done
grep -q listening "$work/listener.err" && ok "a listener attached" || bad "listen" "$work/listener.err"

expect "put 1" 0 '{"class":"test.Todo","id":1,"title":"Buy milk","done":false,"priority":2,"tags":["home"]}' \
   "${dao[@]}" put '{"class":"test.Todo","id":1,"title":"Buy milk","priority":2,"tags":["home"]}'
expect "put 2" 0 '{"class":"test.Todo","id":2,"title":"Write '"'"'spec'"'"' 100%","done":true,"priority":5,"due":1700000000000,"tags":["work"]}' \
  "${dao[@]}" put '{"class":"test.Todo","id":2,"title":"Write '"'"'spec'"'"' 100%","done":true,"priority":5,"due":"2023-11-14T22:13:20.000Z","tags":["work"]}'
expect "put 3" 0 '{"class":"test.Todo","id":3,"title":"call Bob","done":false,"priority":1,"tags":[]}' \
   "${dao[@]}" put '{"class":"test.Todo","id":3,"title":"call Bob","priority":1}'
expect "find 2" 0 '{"class":"test.Todo","id":2,"title":"Write '"'"'spec'"'"' 100%","done":true,"priority":5,"due":1700000000000,"tags":["work"]}' \
  "${dao[@]}" find 2
expect "find a missing id" 0 "null" "${dao[@]}" find 9
expect "select --where --order" 0 "$(printf '%s\n%s' \
  '{"class":"test.Todo","id":2,"title":"Write '"'"'spec'"'"' 100%","done":true,"priority":5,"due":1700000000000,"tags":["work"]}' \
  '{"class":"test.Todo","id":1,"title":"Buy milk","done":false,"priority":2,"tags":["home"]}')" \
  "${dao[@]}" select --where 'priority > 1' --order -priority
expect "select --limit" 0 '{"class":"test.Todo","id":1,"title":"Buy milk","done":false,"priority":2,"tags":["home"]}' \
   "${dao[@]}" select --limit 1
expect "select --count" 0 "3" "${dao[@]}" select --count --where 'title ~ B or done = true and has due'
expect "a quote in a value is data" 0 "" "${dao[@]}" select --where "title = \"x' OR '1'='1\""
expect "% is literal" 0 "1" "${dao[@]}" select --count --where 'title ~ "%"'
expect "a bad --where is a usage error" 2 "" "${dao[@]}" select --where 'priority >'
expect "an unknown service" 1 "" "$bxctl" --url "$url" dao nosuch find 1

# the listener saw every put, in order
for _ in $(seq 100); do [ "$(wc -l <"$work/listener.out")" -ge 3 ] && break; sleep 0.05; done
seen=$(sed -n 's/^put {"class":"test.Todo","id":\([0-9]*\),.*/\1/p' "$work/listener.out" | paste -sd,)
[ "$seen" = "1,2,3" ] && ok "the other process was notified of each put" || bad "notifications" "$work/listener.out"
expect "remove 1" 0 '{"class":"test.Todo","id":1,"title":"Buy milk","done":false,"priority":2,"tags":["home"]}' "${dao[@]}" remove 1
for _ in $(seq 100); do grep -q '^remove ' "$work/listener.out" && break; sleep 0.05; done
grep -q '^remove {"class":"test.Todo","id":1,' "$work/listener.out" && ok "and of the remove" ||
  bad "remove notification" "$work/listener.out"

# the listener dies: the next change detaches it, the server lives on
kill -KILL "$listener_pid"
sleep 0.2
expect "a put after the listener died" 0 '{"class":"test.Todo","id":4,"title":"","done":false,"priority":0,"tags":[]}' \
   "${dao[@]}" put '{"class":"test.Todo","id":4}'
for _ in $(seq 100); do grep -q 'listener detached' "$work/todo.err" && break; sleep 0.05; done
grep -q 'listener detached' "$work/todo.err" && ok "the service detached the dead listener" ||
  bad "detach" "$work/todo.err"
kill -0 "$todo_pid" && ok "todo_server survived it" || bad "todo_server died"

# SQLite: a restart loses nothing
kill -TERM "$todo_pid"
wait "$todo_pid" 2>/dev/null
start todo2 '^ready' "$server" --listen tcp://127.0.0.1:0 --store "sqlite:$work/todos.db" &&
  ok "todo_server restarts on the same database" || bad "restart" "$work/todo2.err"
url=$(sed -n 's/^listening on //p' "$work/todo2.out")
ids=$("$bxctl" --url "$url" dao todos select | sed -n 's/^{"class":"test.Todo","id":\([0-9]*\),.*/\1/p' | paste -sd,)
[ "$ids" = "2,3,4" ] && ok "everything is still there" || bad "after the restart: '$ids'"

# through bxd: todo_server registers, bxctl reaches it through the hub
start hub '^ready' "$bxd" --unix "$work/bxd.sock" && ok "bxd starts" || bad "bxd" "$work/hub.err"
start todo3 '^registered' "$server" --connect "unix://$work/bxd.sock" --name todos-hub &&
  ok "todo_server registers in bxd" || bad "register" "$work/todo3.err"
expect "put through the hub" 0 '{"class":"test.Todo","id":7,"title":"via hub","done":false,"priority":0,"tags":[]}' \
  "$bxctl" --url "unix://$work/bxd.sock" dao todos-hub put '{"class":"test.Todo","id":7,"title":"via hub"}'
expect "select through the hub" 0 '{"class":"test.Todo","id":7,"title":"via hub","done":false,"priority":0,"tags":[]}' \
  "$bxctl" --url "unix://$work/bxd.sock" dao todos-hub select

echo "$passed passed, $failures failed"
[ "$failures" -eq 0 ]
