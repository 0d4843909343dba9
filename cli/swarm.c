/*  swarm -- the command line of the swarm coordinator. */
#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static const char s_usage[] =
    "usage: swarm [--coordinator EP] [--redis URL] [--redis-password-file FILE] [--json]\n"
    "             [--timeout S]\n"
    "             [--curve-secret FILE --coordinator-key FILE] COMMAND ...\n"
    "\n"
    "Jobs (talk to swarm-coordinator):\n"
    "  init [--max-agents N] [JOB]     create a job and make it current\n"
    "       [--workspace DIR]          ... whose tasks run on a snapshot of DIR's git tree\n"
    "  spawn --id ID [...] PROMPT      queue a codex/claude task (--prompt TEXT,\n"
    "                                  --prompt-file FILE; -- ARGV for a command)\n"
    "  wait [--timeout S] [ID...]      wait for tasks, with live progress\n"
    "  status [--job JOB]              cluster and job state\n"
    "  agents [revoke NAME]            registered agents; cut one off for good\n"
    "  drain AGENT                     let an agent finish its tasks and leave\n"
    "  cancel (--job JOB | ID...)      cancel tasks\n"
    "  run PLAN.yaml [--wait]          run a plan (workers, stages or steps; hooks)\n"
    "  run --commands FILE [--wait]    run a command list (build farms;\n"
    "                                  --workspace DIR --outputs GLOB)\n"
    "Keys:\n"
    "  keygen [--dir DIR] NAME         a CurveZMQ certificate pair for CURVE\n"
    "Results (read Redis directly):\n"
    "  results [--job JOB] [--json|--markdown]  the report; exit 1 if any task failed\n"
    "  logs [-f] [--tail N] ID         one task's output, live with -f (--raw, --json)\n"
    "  events [-f] [--job JOB]         the job's history: dispatched, finished, retried ...\n"
    "Workspaces (read Redis, run git):\n"
    "  diff [--stat] ID                a task's change as a git patch\n"
    "  apply [--branch NAME] [ID...]   the job's changes into this repository (3-way)\n"
    "  outputs [--dest DIR] [ID...]    the tasks' build outputs, paths and modes kept\n"
    "  purge --job JOB                 remove a job's stored changes and outputs\n"
    "  memory store|get|delete|list|search|export|import|stats   shared memory\n"
    "  mcp                             the shared memory as MCP tools (stdio), for workers\n"
    "  mcp --control                   ... plus swarm_init, swarm_spawn, swarm_wait, ...\n"
    "                                  for a coordinating agent (codex, claude)\n"
    "\n"
    "Endpoints: --coordinator, else $SWARM_COORDINATOR, else tcp://127.0.0.1:7701;\n"
    "--redis, else $SWARM_REDIS, else " SW_REDIS_DEFAULT ".\n"
    "A coordinator with --admin-keys wants CURVE: --curve-secret (an admin's\n"
    ".cert_secret) and --coordinator-key (its .cert), else $SWARM_CURVE_SECRET\n"
    "and $SWARM_COORDINATOR_KEY.\n"
    "Options and arguments may come in any order; '--' ends the options: what\n"
    "follows is positional even when it starts with '-' (a memory KEY, VALUE or\n"
    "QUERY, task ids), except in spawn, where '--' starts a command's argv.\n"
    "Exit codes: 0 ok, 1 a task failed, 2 usage, 3 unreachable, 4 not found,\n"
    "124 wait timed out. 'swarm COMMAND --help' for a command's options.\n";

/*  Commands that only need Redis run in this binary, which does not link
 *  ZeroMQ: a `swarm memory store` process costs a few milliseconds. */
static const struct {
    const char *name;
    int (*fn)(cli_t *, int, char **);
} s_commands[] = {
    { "results", cli_results }, { "logs", cli_logs }, { "events", cli_events },
    { "memory", cli_memory }, { "mcp", cli_mcp }, { "diff", cli_diff }, { "apply", cli_apply },
    { "outputs", cli_outputs }, { "purge", cli_purge },
};

static const char *const s_ctl_commands[] = {
    "init", "spawn", "wait", "status", "agents", "cancel", "run", "drain", "keygen", NULL,
};

/*  Loads swarm-ctl.so, which holds the coordinator commands and links
 *  ZeroMQ: from $SWARM_CTL_MODULE, else beside this binary (the build
 *  tree), else the installed module directory. */
void *
cli_ctl_symbol(const char *name)
{
    static void *h;
    char path[PATH_MAX + 32] = "";
    if (!h) {
        const char *env = getenv("SWARM_CTL_MODULE");
        if (env && *env)
            snprintf(path, sizeof path, "%s", env);
        else {
            char self[PATH_MAX];
            ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
            if (n > 0) {
                self[n] = '\0';
                char *slash = strrchr(self, '/');
                if (slash)
                    *slash = '\0';
                snprintf(path, sizeof path, "%s/swarm-ctl.so", self);
            }
            if (!*path || access(path, R_OK) != 0)
                snprintf(path, sizeof path, "%s/swarm-ctl.so", SWARM_MODULE_DIR);
        }
        h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
        if (!h) {
            cli_fail(EXIT_TASKS_FAILED, "cannot load the coordinator commands: %s", dlerror());
            return NULL;
        }
    }
    void *sym = dlsym(h, name);
    if (!sym)
        cli_fail(EXIT_TASKS_FAILED, "swarm-ctl.so has no %s", name);
    return sym;
}

int
main(int argc, char **argv)
{
    static const sw_arg_t lo[] = {
        { "coordinator", 0, true, 'C' }, { "redis", 0, true, 'r' },
        { "json", 0, false, 'J' }, { "timeout", 0, true, 'T' },
        { "curve-secret", 0, true, 'S' }, { "redis-password-file", 0, true, 'P' },
        { "coordinator-key", 0, true, 'K' }, { "help", 'h', false, 'h' },
        { "version", 0, false, 'V' }, { NULL, 0, false, 0 },
    };
    if (sw_stdio_open() < 0)
        return 1;                       /*  no /dev/null: nowhere to say so */
    cli_t cli = { .timeout_ms = 3000 };
    const char *env = getenv("SWARM_COORDINATOR");
    cli.coordinator = env && *env ? env : "tcp://127.0.0.1:7701";
    env = getenv("SWARM_REDIS");
    cli.redis_url = env && *env ? env : SW_REDIS_DEFAULT;
    env = getenv("SWARM_CURVE_SECRET");
    cli.curve_secret = env && *env ? env : NULL;
    env = getenv("SWARM_COORDINATOR_KEY");
    cli.coordinator_key = env && *env ? env : NULL;
    int c;
    long long v;
    sw_args_t g;
    sw_args_init(&g, lo, argc, argv, SW_ARGS_IN_ORDER);
    while ((c = sw_args_next(&g)) != -1) {
        switch (c) {
        case 'C': cli.coordinator = g.arg; break;
        case 'r': cli.redis_url = g.arg; break;
        case 'S': cli.curve_secret = g.arg; break;
        case 'P': {
            sw_err_t err = { 0 };
            if (sw_redis_password_file(g.arg, &err) < 0) {
                sw_args_release(&g);
                return cli_fail(EXIT_USAGE, "%s", err.msg);
            }
            break;
        }
        case 'K': cli.coordinator_key = g.arg; break;
        case 'J': cli.json = true; break;
        case 'T':
            if (sw_parse_int(g.arg, 1, 3600, &v) < 0) {
                sw_args_release(&g);
                return cli_fail(EXIT_USAGE, "--timeout wants seconds (1-3600), got '%s'", g.arg);
            }
            cli.timeout_ms = (int) v * 1000;
            break;
        case 'h': sw_args_release(&g); fputs(s_usage, stdout); return 0;
        case 'V': sw_args_release(&g); printf("swarm %s\n", SWARM_VERSION); return 0;
        default:
            fputs(s_usage, stderr);
            cli_fail(EXIT_USAGE, "%s", g.err);
            sw_args_release(&g);
            return EXIT_USAGE;
        }
    }
    int first = g.rest;
    sw_args_release(&g);
    if (first >= argc) {
        fputs(s_usage, stderr);
        return EXIT_USAGE;
    }
    if (!cli.curve_secret != !cli.coordinator_key)
        return cli_fail(EXIT_USAGE, "CURVE needs both --curve-secret FILE and "
                        "--coordinator-key FILE (or $SWARM_CURVE_SECRET and "
                        "$SWARM_COORDINATOR_KEY)");
    /*  Each command parses its own options, --json among them (users put
     *  it after the command too), with common/sw_args. */
    const char *name = argv[first];
    int sub_argc = argc - first;
    char **sub_argv = argv + first;
    int rc = -1;
    for (size_t i = 0; i < sizeof s_commands / sizeof s_commands[0]; i++)
        if (strcmp(name, s_commands[i].name) == 0)
            rc = s_commands[i].fn(&cli, sub_argc, sub_argv);
    for (const char *const *ctl = s_ctl_commands; rc == -1 && *ctl; ctl++)
        if (strcmp(name, *ctl) == 0) {
            cli_ctl_run_fn fn = (cli_ctl_run_fn) (uintptr_t) cli_ctl_symbol(CLI_CTL_SYMBOL);
            rc = fn ? fn(&cli, name, sub_argc, sub_argv) : EXIT_TASKS_FAILED;
        }
    if (rc != -1) {
        sw_redis_destroy(&cli.redis);
        fflush(stdout);
        return rc;
    }
    fputs(s_usage, stderr);
    return cli_fail(EXIT_USAGE, "unknown command '%s'", name);
}
