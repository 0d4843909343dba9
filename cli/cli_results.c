/*  cli_results -- results, read from Redis (docs/redis.md), so they work
 *  while the coordinator is down (logs: cli_logs.c). */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "sw_results.h"

typedef sw_result_row_t s_row_t;

/*  Loads every task of job, in submit order. -1 after printing why. */
static int
s_load(cli_t *cli, const char *job, s_row_t **rows_p, size_t *n_p)
{
    sw_err_t err = { 0 };
    sw_strv_t ids = { 0 };
    if (sw_results_ids(cli->redis, job, &ids, &err) < 0)
        return cli_fail(err.code == SW_ENOTFOUND ? EXIT_NOT_FOUND : EXIT_UNREACHABLE, "%s",
                        err.msg);
    s_row_t *rows = xcalloc(ids.n + 1, sizeof *rows);
    int rc = sw_results_rows(cli->redis, job, ids.v, ids.n, rows, &err);
    *n_p = ids.n;
    *rows_p = rows;
    sw_strv_release(&ids);
    if (rc < 0)
        return cli_fail(EXIT_UNREACHABLE, "%s", err.msg);
    return 0;
}

static const char *
s_jstr(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

/*  First line of text, at most max bytes, for the table. */
static void
s_first_line(const char *s, char *out, size_t max)
{
    while (*s == '\n' || *s == ' ')
        s++;
    size_t n = strcspn(s, "\n");
    if (n >= max)
        n = max - 4;
    memcpy(out, s, n);
    out[n] = '\0';
    if (s[n] && n == max - 4)
        strcat(out, "...");
}

static const char s_results_usage[] =
    "usage: swarm results [--job JOB] [--json | --markdown]\n"
    "Every task of the job (default: current job) with status, attempt, agent,\n"
    "duration and the first line of its output or error, then the totals.\n"
    "--json prints the result documents as an array; --markdown a table to\n"
    "paste into a pull request. Exit 1 when any task did not succeed.\n";

/*  A table cell: pipes escaped, so the row stays a row. */
static void
s_md_cell(const char *s)
{
    for (; *s; s++) {
        if (*s == '|')
            fputs("\\|", stdout);
        else
            putchar(*s);
    }
}

json_t *
cli_results_docs(cli_t *cli, const char *job, int *code)
{
    s_row_t *rows = NULL;
    size_t n = 0;
    *code = cli_redis(cli) ? s_load(cli, job, &rows, &n) : EXIT_UNREACHABLE;
    json_t *arr = *code ? NULL : json_array();
    for (size_t i = 0; i < n; i++) {
        if (arr)
            json_array_append_new(arr, sw_result_doc(&rows[i], job));
        sw_result_row_release(&rows[i]);
    }
    free(rows);
    return arr;
}

int
cli_results(cli_t *cli, int argc, char **argv)
{
    static const sw_arg_t lo[] = {
        { "job", 'j', true, 'j' }, { "markdown", 0, false, 'M' }, { NULL, 0, false, 0 },
    };
    const char *jobflag = NULL;
    bool md = false;
    int c;
    cli_args_t a;
    cli_args_init(&a, cli, "results", lo, argc, argv, 0);
    while ((c = cli_args_next(&a)) != -1) {
        switch (c) {
        case 'j': jobflag = a.g.arg; break;
        case 'M': md = true; break;
        case 'h': cli_args_release(&a); fputs(s_results_usage, stdout); return 0;
        default: cli_args_release(&a); return EXIT_USAGE;
        }
    }
    int npos = a.g.npos;
    char *extra = npos ? a.g.pos[0] : NULL;
    cli_args_release(&a);
    if (npos)
        return cli_fail(EXIT_USAGE, "results: unexpected argument '%s'", extra);
    if (!cli_redis(cli))
        return EXIT_UNREACHABLE;
    char *job = cli_current_job(cli, jobflag);
    if (!job)
        return cli_fail(EXIT_NOT_FOUND, "no job given and no current job (swarm init)");
    s_row_t *rows = NULL;
    size_t n = 0;
    int rc = s_load(cli, job, &rows, &n);
    if (rc) {
        free(job);
        free(rows);
        return rc;
    }
    int counts[SW_TS_COUNT] = { 0 };
    int bad = 0, unfinished = 0;
    json_t *arr = json_array();
    if (md && !cli->json)
        printf("### swarm job `%s`\n\n| task | status | attempt | agent | host | time | exit | "
               "output / error |\n|---|---|---:|---|---|---:|---:|---|\n", job);
    else if (!cli->json)
        printf("%-28s %-10s %7s  %-16s %8s %4s  %s\n", "TASK", "STATUS", "ATTEMPT", "AGENT",
               "TIME", "EXIT", "OUTPUT / ERROR");
    for (size_t i = 0; i < n; i++) {
        s_row_t *r = &rows[i];
        int st = sw_tstate_parse(r->status);
        if (st >= 0)
            counts[st]++;
        if (st < 0 || !SW_TS_FINAL(st))
            unfinished++;
        else if (st != SW_TS_SUCCEEDED)
            bad++;
        if (cli->json) {
            json_array_append_new(arr, sw_result_doc(r, job));
            continue;
        }
        char summary[120] = "", dur[32], code[8] = "-";
        int64_t ms = r->result ? json_integer_value(json_object_get(r->result, "duration_ms"))
                   : r->started ? (r->finished ? r->finished : sw_wall_ms()) - r->started : -1;
        cli_duration(ms, dur, sizeof dur);
        json_t *ec = r->result ? json_object_get(r->result, "exit_code") : NULL;
        if (json_is_integer(ec))
            snprintf(code, sizeof code, "%lld", (long long) json_integer_value(ec));
        const char *text = "";
        if (st != SW_TS_SUCCEEDED && r->reason && *r->reason)
            text = r->reason;   /*  the coordinator's word: skipped, quarantined ... */
        else if (st != SW_TS_SUCCEEDED && r->result && *s_jstr(r->result, "error"))
            text = s_jstr(r->result, "error");
        else if (r->result && *s_jstr(r->result, "output"))
            text = s_jstr(r->result, "output");
        else if (r->result)
            text = s_jstr(r->result, "stderr_tail");
        s_first_line(text, summary, sizeof summary);
        if (md) {
            printf("| `%s` | %s%s%s | %ld | %s | %s | %s | %s | ", r->id,
                   st == SW_TS_SUCCEEDED ? "" : "**", r->status ? r->status : "?",
                   st == SW_TS_SUCCEEDED ? "" : "**", r->attempt,
                   r->agent && *r->agent ? r->agent : "-", r->host && *r->host ? r->host : "-",
                   dur, code);
            s_md_cell(summary);
            printf(" |\n");
            continue;
        }
        printf("%-28s %-10s %7ld  %-16s %8s %4s  %s\n", r->id, r->status ? r->status : "?",
               r->attempt, r->agent && *r->agent ? r->agent : "-", dur, code, summary);
    }
    if (cli->json)
        cli_print_json(arr);
    else {
        json_decref(arr);
        printf("\n%s%zu task%s:", md ? "**" : "", n, n == 1 ? "" : "s");
        bool first = true;
        for (int s = 0; s < SW_TS_COUNT; s++)
            if (counts[s]) {
                printf("%s %d %s", first ? "" : ",", counts[s], sw_tstate_name((sw_tstate_t) s));
                first = false;
            }
        printf("%s\n", md ? "**" : "");
    }
    if (bad || unfinished) {
        /*  A partial failure is loud: named on stderr, and exit 1. */
        fprintf(stderr, "swarm: job %s:", job);
        if (bad)
            fprintf(stderr, " %d task%s did not succeed:", bad, bad == 1 ? "" : "s");
        for (size_t i = 0, k = 0; i < n && k < 10; i++) {
            int st = sw_tstate_parse(rows[i].status);
            if (st >= 0 && SW_TS_FINAL(st) && st != SW_TS_SUCCEEDED) {
                fprintf(stderr, "%s %s (%s)", k ? "," : "", rows[i].id, rows[i].status);
                k++;
            }
        }
        if (unfinished)
            fprintf(stderr, "%s%d not finished yet", bad ? "; " : " ", unfinished);
        fputc('\n', stderr);
        rc = EXIT_TASKS_FAILED;
    }
    for (size_t i = 0; i < n; i++)
        sw_result_row_release(&rows[i]);
    free(rows);
    free(job);
    return rc;
}
