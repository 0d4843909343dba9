#!/usr/bin/env bash
# swarm's row with the live output off (an agent with --log-ttl 0): the
# same as peers/swarm.sh otherwise. bench/run.sh compares the two rows
# (the performance issue: fanout <= 1.15x the floor without live output,
# <= 1.20x with it, the default).
SWARM_PEER=swarm-nolive SWARM_AGENT_ARGS="--log-ttl 0" exec "$(dirname "$0")/swarm.sh" "$@"
