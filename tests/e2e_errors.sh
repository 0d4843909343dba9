#!/usr/bin/env bash
# Errors a user meets: unreachable coordinator or Redis exit 3 within a few
# seconds naming the address; usage errors exit 2; unknown jobs exit 4;
# wait --timeout exits 124; the coordinator refuses a non-loopback listen
# without CURVE or --insecure, and exits 3 when Redis is unreachable.
. "$(dirname "$0")/lib.sh"
use_redis 7
dead="tcp://127.0.0.1:$(free_port)"
expect 3 "$SWARM" --coordinator "$dead" --timeout 1 status
contains "$T/err" "$dead"
expect 3 "$SWARM" --redis "redis://127.0.0.1:$(free_port)/0" results --job x
contains "$T/err" "redis at 127.0.0.1:"
contains "$T/err" "Connection refused"
ok "unreachable coordinator and Redis: exit 3 naming the address"

expect 2 "$SWARM" --bogus status
expect 2 "$SWARM" frobnicate
contains "$T/err" "unknown command 'frobnicate'"
expect 2 "$SWARM" spawn "no id"
contains "$T/err" "--id ID is required"
expect 2 "$SWARM" spawn --id x --timeout soon "p"
expect 2 "$SWARM" spawn --id 'bad id' "p"
expect 2 "$SWARM" spawn --id x --label nolabel "p"
expect 2 "$SWARM" spawn --id x --runner exec "p"
contains "$T/err" "needs an argv"
expect 2 "$SWARM_BUILD/swarm-coordinator" --no-such-flag
contains "$T/err" "unknown option '--no-such-flag'"
expect 2 "$SWARM_BUILD/swarm-agent" --slots 0
expect 0 "$SWARM" --help
contains "$T/out" "Exit codes"
ok "usage errors: exit 2 with a message"

expect 2 "$SWARM_BUILD/swarm-coordinator" -f --listen "tcp://0.0.0.0:$(free_port)" --redis "$SWARM_REDIS"
contains "$T/err" "needs CURVE"
expect 3 "$SWARM_BUILD/swarm-coordinator" -f --listen "tcp://127.0.0.1:$(free_port)" \
    --control "tcp://127.0.0.1:$(free_port)" --redis "redis://127.0.0.1:$(free_port)/0"
contains "$T/err" "Connection refused"
ok "coordinator refuses plaintext off loopback and an unreachable Redis"

start_coordinator
expect 4 "$SWARM" status --job nosuch
contains "$T/err" "no job 'nosuch'"
expect 4 "$SWARM" results --job nosuch
expect 0 "$SWARM" init slow
expect 0 "$SWARM" spawn --id t "no agent will run this"
expect 124 "$SWARM" wait --timeout 1
contains "$T/err" "--timeout 1 s expired"
expect 4 "$SWARM" spawn --id u --after nothere "p"
contains "$T/err" "unknown dependency 'nothere'"
expect 2 "$SWARM" spawn --id t "duplicate"
contains "$T/err" "already exists"
expect 4 "$SWARM" memory get --namespace results nothing
ok "not found: exit 4; wait --timeout: exit 124"
