#!/usr/bin/env bash
# Measures swarm memory as users call it: whole CLI processes against a
# private redis-server on loopback. Prints a markdown table.
#   bench/memory.sh            (needs a build in ./build, or SWARM_BUILD)
set -euo pipefail
project=$(cd "$(dirname "$0")/.." && pwd)
swarm=${SWARM_BUILD:-$project/build}/swarm
tmp=$(mktemp -d /tmp/swarm-membench.XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no --dir "$tmp" \
    --daemonize yes --pidfile "$tmp/redis.pid" --logfile "$tmp/redis.log"
trap 'kill "$(cat "$tmp/redis.pid")" 2>/dev/null; rm -rf "$tmp"' EXIT
for _ in $(seq 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.05; done
export SWARM_REDIS="redis://127.0.0.1:$port/0"
N=${N:-300}
ms() { echo "$1 $2" | awk '{ printf "%.2f", ($2 - $1) / 1000 }'; }

t0=${EPOCHREALTIME/./}; for i in $(seq "$N"); do /bin/true; done; t1=${EPOCHREALTIME/./}
floor=$(echo "$t0 $t1 $N" | awk '{ printf "%.2f", ($2 - $1) / 1000 / $3 }')
t0=${EPOCHREALTIME/./}; for i in $(seq "$N"); do "$swarm" memory store --namespace bench "k$i" "value $i" >/dev/null; done; t1=${EPOCHREALTIME/./}
store=$(echo "$t0 $t1 $N" | awk '{ printf "%.2f", ($2 - $1) / 1000 / $3 }')
t0=${EPOCHREALTIME/./}; for i in $(seq "$N"); do "$swarm" memory get --namespace bench "k$i" >/dev/null; done; t1=${EPOCHREALTIME/./}
get=$(echo "$t0 $t1 $N" | awk '{ printf "%.2f", ($2 - $1) / 1000 / $3 }')

python3 -c "
import json
for i in range(100000):
    print(json.dumps({'namespace': 'big', 'key': 'k%06d' % i, 'value': 'finding %d about module %d' % (i, i % 97)}))" > "$tmp/big.jsonl"
t0=${EPOCHREALTIME/./}; "$swarm" memory import < "$tmp/big.jsonl" >/dev/null; t1=${EPOCHREALTIME/./}; import=$(ms "$t0" "$t1")
t0=${EPOCHREALTIME/./}; "$swarm" memory list --namespace big --limit 20 >/dev/null; t1=${EPOCHREALTIME/./}; list=$(ms "$t0" "$t1")
t0=${EPOCHREALTIME/./}; "$swarm" memory search --namespace big "module 42" --limit 10 >/dev/null; t1=${EPOCHREALTIME/./}; search=$(ms "$t0" "$t1")
t0=${EPOCHREALTIME/./}; "$swarm" memory stats >/dev/null; t1=${EPOCHREALTIME/./}; stats=$(ms "$t0" "$t1")

cat <<TABLE
| measurement (whole swarm processes, loopback Redis) | ms |
|---|---:|
| \`/bin/true\`, the cost of any process here (mean of $N) | $floor |
| \`swarm memory store\` (mean of $N) | $store |
| \`swarm memory get\` (mean of $N) | $get |
| \`swarm memory import\` of 100,000 entries | $import |
| \`swarm memory list --limit 20\` on a 100,000-entry namespace | $list |
| \`swarm memory search\` over 100,000 entries | $search |
| \`swarm memory stats\` (100,300 entries) | $stats |
TABLE
