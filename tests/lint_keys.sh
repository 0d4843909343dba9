#!/bin/sh
# No Redis key is spelt by hand: every key comes from common/sw_keys.c
# (C: the sw_key_* builders and SW_KEY_* names; shell tests: rkey in
# tests/lib.sh). A string literal that starts like a swarm key anywhere
# else fails this check. tests/e2e_keys.sh writes layout 1 keys on purpose
# (the migration test) and is the one exception.
set -u
src=${1:-$(dirname "$0")/..}
cd "$src" || exit 2
hits=$(grep -rnE '["'"'"'`]swarm:[a-z_]+([:{"'"'"'`]|$)|[ =(]swarm:(job|task|mem|ns|jobs|namespaces|current_job|revoked_keys|layout)[:{ ]' \
        --include='*.c' --include='*.h' --include='*.sh' --include='*.py' \
        agent bench cli common coordinator deploy examples fuzz tests 2>/dev/null \
    | grep -v -e '^common/sw_keys\.[ch]:' -e '^tests/e2e_keys\.sh:' -e '^tests/lint_keys\.sh:')
if [ -n "$hits" ]; then
    echo "lint.keys: Redis keys built by hand (use common/sw_keys.h, or rkey in tests):"
    echo "$hits"
    exit 1
fi
echo "lint.keys: every Redis key comes from common/sw_keys.c"
