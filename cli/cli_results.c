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
    "duration, tokens and cost (when its runner reported usage) and the first\n"
    "line of its output or error, then the totals and the job's spend.\n"
    "--json prints the result documents as an array; --markdown a table to\n"
    "paste into a pull request; each document has `spend` (tokens and cost\n"
    "over its attempts, cost_usd null without a price). Exit 1 when any task\n"
    "did not succeed (a budget that ran out is named).\n";

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

/*  Rows are read from Redis this many at a time. */
#define S_PAGE 1000

/*  The job's spend, summed over the rows (issue 18). */
typedef struct {
    bool       shown;           /*  the table has TOKENS and COST columns */
    sw_usage_t u;
    int64_t    micro;
    bool       unpriced;
    char       unpriced_model[SW_USAGE_MODEL_MAX];
    char      *budget_reason;   /*  the first "budget exhausted: ..." seen */
    long long  budget_skipped;
} s_spend_t;

/*  "1234", "12.3k", "4.5M": a token count in a column. */
static void
s_tokens_text(int64_t n, char *out, size_t len)
{
    if (n < 10000)
        snprintf(out, len, "%lld", (long long) n);
    else if (n < 1000000)
        snprintf(out, len, "%.1fk", (double) n / 1e3);
    else
        snprintf(out, len, "%.1fM", (double) n / 1e6);
}

static void
s_spend_cells(const s_row_t *r, char *tok, size_t tn, char *cost, size_t cn)
{
    snprintf(tok, tn, "-");
    snprintf(cost, cn, "-");
    if (!r->spend_attempts)
        return;
    s_tokens_text(sw_usage_tokens(&r->spend), tok, tn);
    if (r->spend_unpriced && r->spend_micro == 0)
        snprintf(cost, cn, "no price");
    else {
        sw_usage_fmt_usd(cost, cn, (double) r->spend_micro / 1e6);
        if (r->spend_unpriced)
            strncat(cost, "+", cn - strlen(cost) - 1);
    }
}

static void
s_spend_count(s_spend_t *sp, const s_row_t *r)
{
    sp->u.input += r->spend.input;
    sp->u.cached += r->spend.cached;
    sp->u.output += r->spend.output;
    sp->micro += r->spend_micro;
    if (r->spend_unpriced && !sp->unpriced) {
        sp->unpriced = true;
        snprintf(sp->unpriced_model, sizeof sp->unpriced_model, "%s",
                 r->spend.model[0] ? r->spend.model : "(not named by the runner)");
    }
    if (r->reason && strncmp(r->reason, "budget exhausted", 16) == 0) {
        if (!sp->budget_reason)
            sp->budget_reason = xstrdup(r->reason);
        if (r->status && strcmp(r->status, "skipped") == 0)
            sp->budget_skipped++;
    }
}

/*  The totals line of the table: tokens and cost, and what has no price. */
static void
s_spend_totals(const s_spend_t *sp, bool md)
{
    if (!sp->shown)
        return;
    char cost[32];
    sw_usage_fmt_usd(cost, sizeof cost, (double) sp->micro / 1e6);
    printf("%sspend: %lld tokens (%lld input, %lld of them cached, %lld output), %s%s%s\n",
           md ? "\n" : "", (long long) sw_usage_tokens(&sp->u), (long long) sp->u.input,
           (long long) sp->u.cached, (long long) sp->u.output, cost,
           sp->unpriced ? " + tokens without a price" : "", md ? "  " : "");
    if (sp->unpriced)
        printf("no price for model %s: its tokens are counted, not costed (price.MODEL = "
               "INPUT, CACHED, OUTPUT in the coordinator's config)\n", sp->unpriced_model);
}

/*  Prints one row (table, markdown or a JSON array element) and counts it. */
static void
s_print_row(cli_t *cli, const char *job, bool md, bool ws, s_row_t *r, int counts[SW_TS_COUNT],
            long long *bad, long long *unfinished, sw_strv_t *named, long long index,
            s_spend_t *sp)
{
    s_spend_count(sp, r);
    char tok[32], cost[32];
    s_spend_cells(r, tok, sizeof tok, cost, sizeof cost);
    int st = sw_tstate_parse(r->status);
    if (st >= 0)
        counts[st]++;
    if (st < 0 || !SW_TS_FINAL(st))
        (*unfinished)++;
    else if (st != SW_TS_SUCCEEDED) {
        (*bad)++;
        if (named->n < 10) {
            char *what = xasprintf("%s (%s)", r->id, r->status);
            sw_strv_push(named, what);
            free(what);
        }
    }
    if (cli->json) {
        json_t *doc = sw_result_doc(r, job);
        char *text = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15));
        printf("%s\n  ", index ? "," : "");
        for (const char *p = text ? text : "null"; *p; p++) {
            putchar(*p);
            if (*p == '\n')
                fputs("  ", stdout);
        }
        free(text);
        json_decref(doc);
        return;
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
        text = r->reason;   /*  the coordinator's word: skipped, quarantined, cancelled ... */
    else if (st != SW_TS_SUCCEEDED && r->result && *s_jstr(r->result, "error"))
        text = s_jstr(r->result, "error");
    else if (r->result && *s_jstr(r->result, "output"))
        text = s_jstr(r->result, "output");
    else if (r->result)
        text = s_jstr(r->result, "stderr_tail");
    if (r->throttled > 0) {       /*  issue 18 §4: said first, the rest follows */
        int n = snprintf(summary, sizeof summary, "[rate-limited %ldx] ", r->throttled);
        s_first_line(text, summary + n, sizeof summary - (size_t) n);
    }
    else
        s_first_line(text, summary, sizeof summary);
    char change[64] = "";
    if (ws) {
        cli_ws_stat_text(r->result, change, sizeof change);
        if (!*change)
            snprintf(change, sizeof change, "-");
    }
    if (md) {
        printf("| `%s` | %s%s%s | %ld | %s | %s | %s | %s | ", r->id,
               st == SW_TS_SUCCEEDED ? "" : "**", r->status ? r->status : "?",
               st == SW_TS_SUCCEEDED ? "" : "**", r->attempt - r->throttled,
               r->agent && *r->agent ? r->agent : "-", r->host && *r->host ? r->host : "-",
               dur, code);
        if (sp->shown)
            printf("%s | %s | ", tok, cost);
        if (ws)
            printf("%s | ", change);
        s_md_cell(summary);
        printf(" |\n");
        return;
    }
    printf("%-28s %-10s %7ld  %-16s %8s %4s  ", r->id, r->status ? r->status : "?",
           r->attempt - r->throttled, r->agent && *r->agent ? r->agent : "-", dur, code);
    if (sp->shown)
        printf("%8s %9s  ", tok, cost);
    if (ws)
        printf("%-22s ", change);
    printf("%s\n", summary);
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
    /*  The ids at once (a million are ~40 MB), the rows a page at a time,
     *  printed as they come: a job of any size, never held whole. */
    sw_err_t err = { 0 };
    sw_strv_t ids = { 0 };
    if (sw_results_ids(cli->redis, job, &ids, &err) < 0) {
        free(job);
        return cli_fail(err.code == SW_ENOTFOUND ? EXIT_NOT_FOUND : EXIT_UNREACHABLE, "%s",
                        err.msg);
    }
    int counts[SW_TS_COUNT] = { 0 };
    long long bad = 0, unfinished = 0;
    sw_strv_t named = { 0 };            /*  the first ten that did not succeed */
    int rc = 0;
    bool ws = false, headed = false;
    s_spend_t sp = { 0 };
    s_row_t *rows = xcalloc(S_PAGE + 1, sizeof *rows);
    for (size_t from = 0; rc == 0 && (from < ids.n || !headed); from += S_PAGE) {
        size_t n = from < ids.n ? (ids.n - from < S_PAGE ? ids.n - from : S_PAGE) : 0;
        memset(rows, 0, (n + 1) * sizeof *rows);
        if (n && sw_results_rows(cli->redis, job, ids.v + from, n, rows, &err) < 0)
            rc = cli_fail(EXIT_UNREACHABLE, "%s", err.msg);
        if (!headed && rc == 0) {
            /*  A job with workspaces (seen in its first page) gets a column
             *  with each task's diffstat. */
            for (size_t i = 0; i < n && !ws; i++)
                ws = json_is_object(json_object_get(rows[i].result, "workspace"));
            /*  ... and one whose tasks reported usage, TOKENS and COST */
            for (size_t i = 0; i < n && !sp.shown; i++)
                sp.shown = rows[i].spend_attempts > 0;
            if (md && !cli->json)
                printf("### swarm job `%s`\n\n| task | status | attempt | agent | host | time | "
                       "exit | %s%soutput / error |\n|---|---|---:|---|---|---:|---:|%s%s---|\n",
                       job, sp.shown ? "tokens | cost | " : "", ws ? "change | " : "",
                       sp.shown ? "---:|---:|" : "", ws ? "---|" : "");
            else if (!cli->json)
                printf("%-28s %-10s %7s  %-16s %8s %4s  %s%s%s\n", "TASK", "STATUS", "ATTEMPT",
                       "AGENT", "TIME", "EXIT", sp.shown ? "  TOKENS      COST  " : "",
                       ws ? "CHANGE                 " : "", "OUTPUT / ERROR");
            else
                fputs("[", stdout);
            headed = true;
        }
        for (size_t i = 0; i < n; i++) {
            if (rc == 0)
                s_print_row(cli, job, md, ws, &rows[i], counts, &bad, &unfinished, &named,
                            (long long) (from + i), &sp);
            sw_result_row_release(&rows[i]);
        }
        fflush(stdout);
    }
    free(rows);
    size_t total = ids.n;
    sw_strv_release(&ids);
    if (rc) {
        if (cli->json)
            putchar('\n');     /*  cut short: the error is on stderr */
        sw_strv_release(&named);
        free(sp.budget_reason);
        free(job);
        return rc;
    }
    if (cli->json)
        printf("%s]\n", total ? "\n" : "");
    else {
        printf("\n%s%zu task%s:", md ? "**" : "", total, total == 1 ? "" : "s");
        bool first = true;
        for (int s = 0; s < SW_TS_COUNT; s++)
            if (counts[s]) {
                printf("%s %d %s", first ? "" : ",", counts[s], sw_tstate_name((sw_tstate_t) s));
                first = false;
            }
        printf("%s\n", md ? "**" : "");
        s_spend_totals(&sp, md);
    }
    if (bad || unfinished) {
        /*  A partial failure is loud: named on stderr, and exit 1. */
        fprintf(stderr, "swarm: job %s:", job);
        if (bad)
            fprintf(stderr, " %lld task%s did not succeed:", bad, bad == 1 ? "" : "s");
        for (size_t k = 0; k < named.n; k++)
            fprintf(stderr, "%s %s", k ? "," : "", named.v[k]);
        if (bad > (long long) named.n)
            fprintf(stderr, " and %lld more", bad - (long long) named.n);
        if (unfinished)
            fprintf(stderr, "%s%lld not finished yet", bad ? "; " : " ", unfinished);
        fputc('\n', stderr);
        if (sp.budget_reason)
            fprintf(stderr, "swarm: job %s: %s (%lld task%s skipped)\n", job, sp.budget_reason,
                    sp.budget_skipped, sp.budget_skipped == 1 ? "" : "s");
        rc = EXIT_TASKS_FAILED;
    }
    sw_strv_release(&named);
    free(sp.budget_reason);
    free(job);
    return rc;
}
