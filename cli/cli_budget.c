/*  cli_budget -- a job's budget on the command line and in INIT (issue 18;
 *  cli_ctl.h). */
#include <string.h>

#include "cli.h"
#include "cli_ctl.h"

int
cli_budget_option(const char *cmd, int c, const char *arg, cli_budget_t *b)
{
    long long v;
    switch (c) {
    case 'C':
        if (sw_usage_parse_usd(arg, &b->micro) < 0)
            return cli_fail(EXIT_USAGE, "%s: --max-cost-usd wants dollars above 0 and at most "
                            "1000000, at most 6 decimals (0.07, 12.5), got '%s'", cmd, arg);
        return 0;
    case 'K':
        if (sw_parse_int(arg, 1, 1000000000000000LL, &v) < 0)
            return cli_fail(EXIT_USAGE, "%s: --max-tokens wants a whole number from 1 to "
                            "10^15, got '%s'", cmd, arg);
        b->tokens = v;
        return 0;
    case 'B':
        if (strcmp(arg, "stop") && strcmp(arg, "finish"))
            return cli_fail(EXIT_USAGE, "%s: --on-budget is stop or finish, got '%s'", cmd, arg);
        b->on_budget = arg;
        return 0;
    }
    return EXIT_USAGE;
}

void
cli_budget_pack(msgpack_packer *pk, const cli_budget_t *b)
{
    sw_mp_pack_str(pk, "max_cost_micro_usd");
    if (b->micro >= 0)
        msgpack_pack_int64(pk, b->micro);
    else
        msgpack_pack_nil(pk);
    sw_mp_pack_str(pk, "max_tokens");
    if (b->tokens >= 0)
        msgpack_pack_int64(pk, b->tokens);
    else
        msgpack_pack_nil(pk);
    sw_mp_kv_str(pk, "on_budget", b->on_budget);
}

int
cli_budget_call(cli_t *cli, const char *job, const cli_budget_t *b, sw_msg_t *reply)
{
    cli_req_t r;
    cli_req_init(&r);
    msgpack_pack_map(&r.pk, 4);
    sw_mp_kv_str(&r.pk, "job", job);
    cli_budget_pack(&r.pk, b);
    return cli_call(cli, SW_C_INIT, &r, cli->timeout_ms, reply);
}

