#!/bin/sh
# CTest fixture: starts (start) or stops (stop) the redis-server the
# end-to-end tests share, on a free loopback port in a temp dir, without
# persistence. The URL (without a database) goes to $1's redis.url.
set -eu
dir=$2
case "$1" in
start)
    command -v redis-server >/dev/null || { echo "redis-server not installed" >&2; exit 1; }
    rm -rf "$dir" && mkdir -p "$dir"
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    redis-server --bind 127.0.0.1 --port "$port" --dir "$dir" --save '' --appendonly no \
        --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" --databases 256
    for _ in $(seq 100); do
        redis-cli -p "$port" ping >/dev/null 2>&1 && break
        sleep 0.05
    done
    redis-cli -p "$port" ping >/dev/null
    echo "redis://127.0.0.1:$port" > "$dir/redis.url"
    ;;
stop)
    # wait for it to be gone (5 s at most): it writes its log while it
    # shuts down, and rm -rf raced it ("Directory not empty")
    pid=$(cat "$dir/redis.pid" 2>/dev/null || true)
    [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
    for _ in $(seq 100); do
        [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    rm -rf "$dir"
    ;;
esac
