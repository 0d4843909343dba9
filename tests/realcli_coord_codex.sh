#!/usr/bin/env bash
# A real codex session as the coordinator (issue 19, section 3): codex exec
# with `swarm mcp --control` configured as README says (~/.codex/config.toml,
# [mcp_servers.swarm], default_tools_approval_mode = "approve"), against
# tests/mock-model.py acting as a coordinating model: it calls swarm_init,
# spawns two workers one after the other (real codex workers on two agents,
# the same mock model), waits, reads the results; `swarm results` then shows
# the job. Shared steps: tests/realcli-lib.sh.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/realcli-lib.sh"
use_redis 48
RUNNER=codex
realcli_install @openai/codex
start_mock_model
provider() {
    cat <<TOML
model = "mock-model"
model_provider = "mock"
[model_providers.mock]
name = "mock"
base_url = "http://127.0.0.1:$MODEL_PORT/v1"
wire_api = "responses"
request_max_retries = 0
stream_max_retries = 0
TOML
}
# The agents' codex (workers) and the user's codex (the coordinator) each
# have their own CODEX_HOME, as on a farm.
export CODEX_HOME="$T/codex-home"
mkdir -p "$CODEX_HOME" "$T/coord-home" "$T/coord"
provider >"$CODEX_HOME/config.toml"
start_realcli_agents --codex "$CLI"
{
    provider
    mcp_swarm_config
} >"$T/coord-home/config.toml"
CODEX_HOME="$T/coord-home" timeout 300 "$CLI" exec --skip-git-repo-check -C "$T/coord" \
    "MOCK:coordinate=coord-codex Split the login API between two workers and report." \
    </dev/null >"$T/coord.out" 2>"$T/coord.err" || { tail -30 "$T/coord.err"; fail "codex exec exited $?"; }
contains "$T/coord.out" "coordinated coord-codex"
realcli_check_coordination coord-codex
ok "a codex coordinator session: swarm_init, two workers one after the other, swarm_wait, swarm_results through swarm mcp --control; swarm results shows the job"
