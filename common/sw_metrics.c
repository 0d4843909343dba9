/*  sw_metrics -- see sw_metrics.h */
#include "sw_metrics.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sw_selftest.h"

typedef enum { S_COUNTER, S_GAUGE, S_HISTOGRAM } s_kind_t;

typedef struct {
    char    **values;           /*  one per label name */
    double    value;            /*  counter, gauge */
    uint64_t *buckets;          /*  histogram: observations <= bounds[i], cumulative */
    uint64_t  count;            /*  histogram */
    double    sum;              /*  histogram */
} s_series_t;

struct sw_metric_t {
    s_kind_t    kind;
    char       *name;
    char       *help;
    char       *labels[SW_METRICS_MAX_LABELS];
    size_t      nlabels;
    double      bounds[SW_METRICS_MAX_BUCKETS];
    size_t      nbounds;
    s_series_t *series;
    size_t      nseries, cap;
    sw_metric_t *next;
};

struct sw_metrics_t {
    sw_metric_t *first, *last;
};

sw_metrics_t *
sw_metrics_new(void)
{
    return xcalloc(1, sizeof(sw_metrics_t));
}

static void
s_metric_free(sw_metric_t *m)
{
    for (size_t i = 0; i < m->nseries; i++) {
        for (size_t k = 0; k < m->nlabels; k++)
            free(m->series[i].values[k]);
        free(m->series[i].values);
        free(m->series[i].buckets);
    }
    for (size_t k = 0; k < m->nlabels; k++)
        free(m->labels[k]);
    free(m->series);
    free(m->name);
    free(m->help);
    free(m);
}

void
sw_metrics_destroy(sw_metrics_t **self_p)
{
    sw_metrics_t *self = *self_p;
    if (!self)
        return;
    sw_metric_t *m = self->first;
    while (m) {
        sw_metric_t *next = m->next;
        s_metric_free(m);
        m = next;
    }
    free(self);
    *self_p = NULL;
}

/*  [a-zA-Z_:][a-zA-Z0-9_:]* for metric names; labels have no ':'. */
static bool
s_valid_name(const char *s, bool label)
{
    if (!s || !*s || (label && s[0] == '_' && s[1] == '_'))
        return false;
    for (const char *p = s; *p; p++) {
        bool alpha = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '_'
                  || (!label && *p == ':');
        if (!alpha && !(p > s && *p >= '0' && *p <= '9'))
            return false;
    }
    return true;
}

static bool
s_ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

static sw_metric_t *
s_family(sw_metrics_t *self, s_kind_t kind, const char *name, const char *help,
         const char *labels)
{
    /*  Names are constants in our code: a bad one is a bug, found at start. */
    if (!s_valid_name(name, false))
        fatalx("sw_metrics: invalid metric name '%s'", name);
    /*  The _total suffix means "counter" to every Prometheus user. */
    if ((kind == S_COUNTER) != s_ends_with(name, "_total"))
        fatalx("sw_metrics: %s: only counters end in _total", name);
    sw_metric_t *m = xcalloc(1, sizeof *m);
    m->kind = kind;
    m->name = xstrdup(name);
    m->help = xstrdup(help ? help : "");
    if (labels) {
        char *copy = xstrdup(labels), *save = NULL;
        for (char *p = strtok_r(copy, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
            /*  le is the histogram's own label */
            if (m->nlabels == SW_METRICS_MAX_LABELS || !s_valid_name(p, true)
                || (kind == S_HISTOGRAM && strcmp(p, "le") == 0))
                fatalx("sw_metrics: %s: bad label list '%s'", name, labels);
            m->labels[m->nlabels++] = xstrdup(p);
        }
        free(copy);
    }
    if (self->last)
        self->last->next = m;
    else
        self->first = m;
    self->last = m;
    return m;
}

sw_metric_t *
sw_metrics_counter(sw_metrics_t *self, const char *name, const char *help, const char *labels)
{
    return s_family(self, S_COUNTER, name, help, labels);
}

sw_metric_t *
sw_metrics_gauge(sw_metrics_t *self, const char *name, const char *help, const char *labels)
{
    return s_family(self, S_GAUGE, name, help, labels);
}

sw_metric_t *
sw_metrics_histogram(sw_metrics_t *self, const char *name, const char *help, const char *labels,
                     const double *bounds, size_t nbounds)
{
    sw_metric_t *m = s_family(self, S_HISTOGRAM, name, help, labels);
    for (size_t i = 0; i < nbounds; i++) {
        if (nbounds > SW_METRICS_MAX_BUCKETS || !isfinite(bounds[i])
            || (i > 0 && bounds[i] <= bounds[i - 1]))
            fatalx("sw_metrics: %s: buckets must be finite and increasing", name);
        m->bounds[i] = bounds[i];
    }
    m->nbounds = nbounds;
    return m;
}

static bool
s_matches(const sw_metric_t *m, const s_series_t *s, const char *const *values)
{
    for (size_t k = 0; k < m->nlabels; k++)
        if (strcmp(s->values[k], values[k]) != 0)
            return false;
    return true;
}

/*  The series for values; created at 0 when new. Past the cap, the
 *  "_other" series takes the update. */
static s_series_t *
s_series(sw_metric_t *m, const char *const *values)
{
    static const char *const others[SW_METRICS_MAX_LABELS] = { "_other", "_other", "_other",
                                                               "_other" };
    for (size_t i = 0; i < m->nseries; i++)
        if (s_matches(m, &m->series[i], values))
            return &m->series[i];
    if (m->nseries >= SW_METRICS_MAX_SERIES - 1 && values != others)
        return s_series(m, others);
    if (m->nseries == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 4;
        m->series = xrealloc(m->series, m->cap * sizeof *m->series);
    }
    s_series_t *s = &m->series[m->nseries++];
    memset(s, 0, sizeof *s);
    s->values = xcalloc(m->nlabels + 1, sizeof *s->values);
    for (size_t k = 0; k < m->nlabels; k++)
        s->values[k] = xstrdup(values[k]);
    if (m->kind == S_HISTOGRAM)
        s->buckets = xcalloc(m->nbounds + 1, sizeof *s->buckets);
    return s;
}

void
sw_metric_add(sw_metric_t *m, const char *const *values, double v)
{
    assert(m->kind != S_HISTOGRAM && (m->kind != S_COUNTER || v >= 0));
    s_series(m, values)->value += v;
}

void
sw_metric_set(sw_metric_t *m, const char *const *values, double v)
{
    assert(m->kind != S_HISTOGRAM);
    s_series(m, values)->value = v;
}

void
sw_metric_observe(sw_metric_t *m, const char *const *values, double v)
{
    assert(m->kind == S_HISTOGRAM);
    s_series_t *s = s_series(m, values);
    for (size_t i = 0; i < m->nbounds; i++)
        if (v <= m->bounds[i])
            s->buckets[i]++;
    s->count++;
    s->sum += v;
}

void
sw_metric_zero(sw_metric_t *m)
{
    assert(m->kind == S_GAUGE);
    for (size_t i = 0; i < m->nseries; i++)
        m->series[i].value = 0;
}

double
sw_metric_value(const sw_metric_t *m, const char *const *values)
{
    for (size_t i = 0; i < m->nseries; i++)
        if (s_matches(m, &m->series[i], values))
            return m->kind == S_HISTOGRAM ? (double) m->series[i].count : m->series[i].value;
    return 0;
}

/*  --- rendering ---------------------------------------------------------------- */

void
sw_metrics_format_number(double v, sw_buf_t *out)
{
    if (isnan(v)) {
        sw_buf_addstr(out, "NaN");
        return;
    }
    if (isinf(v)) {
        sw_buf_addstr(out, v > 0 ? "+Inf" : "-Inf");
        return;
    }
    if (v == floor(v) && fabs(v) < 1e15) {
        sw_buf_printf(out, "%.0f", v);
        return;
    }
    /*  The shortest of %.15g .. %.17g that reads back as v: 0.1 stays 0.1. */
    char s[64];
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(s, sizeof s, "%.*g", prec, v);
        if (strtod(s, NULL) == v)
            break;
    }
    sw_buf_addstr(out, s);
}

/*  Label values escape \ " and newline; HELP escapes \ and newline. */
static void
s_escape(sw_buf_t *out, const char *s, bool quote)
{
    sw_buf_t clean;
    sw_buf_init(&clean);
    sw_utf8_sanitize(s, strlen(s), &clean);
    for (size_t i = 0; i < clean.len; i++) {
        char c = clean.data[i];
        if (c == '\\')
            sw_buf_addstr(out, "\\\\");
        else if (c == '\n')
            sw_buf_addstr(out, "\\n");
        else if (c == '"' && quote)
            sw_buf_addstr(out, "\\\"");
        else
            sw_buf_add(out, &c, 1);
    }
    sw_buf_release(&clean);
}

/*  NAME{l1="v1",...[,le="B"]} */
static void
s_sample_name(sw_buf_t *out, const sw_metric_t *m, const s_series_t *s, const char *suffix,
              const char *le)
{
    sw_buf_addstr(out, m->name);
    sw_buf_addstr(out, suffix);
    if (m->nlabels == 0 && !le)
        return;
    sw_buf_addstr(out, "{");
    for (size_t k = 0; k < m->nlabels; k++) {
        sw_buf_printf(out, "%s%s=\"", k ? "," : "", m->labels[k]);
        s_escape(out, s->values[k], true);
        sw_buf_addstr(out, "\"");
    }
    if (le)
        sw_buf_printf(out, "%sle=\"%s\"", m->nlabels ? "," : "", le);
    sw_buf_addstr(out, "}");
}

static void
s_sample(sw_buf_t *out, const sw_metric_t *m, const s_series_t *s, const char *suffix,
         const char *le, double v)
{
    s_sample_name(out, m, s, suffix, le);
    sw_buf_addstr(out, " ");
    sw_metrics_format_number(v, out);
    sw_buf_addstr(out, "\n");
}

void
sw_metrics_render(const sw_metrics_t *self, sw_buf_t *out)
{
    static const char *const kinds[] = { "counter", "gauge", "histogram" };
    for (const sw_metric_t *m = self->first; m; m = m->next) {
        sw_buf_printf(out, "# HELP %s ", m->name);
        s_escape(out, m->help, false);
        sw_buf_printf(out, "\n# TYPE %s %s\n", m->name, kinds[m->kind]);
        for (size_t i = 0; i < m->nseries; i++) {
            const s_series_t *s = &m->series[i];
            if (m->kind != S_HISTOGRAM) {
                s_sample(out, m, s, "", NULL, s->value);
                continue;
            }
            for (size_t b = 0; b < m->nbounds; b++) {
                sw_buf_t le;
                sw_buf_init(&le);
                sw_metrics_format_number(m->bounds[b], &le);
                s_sample(out, m, s, "_bucket", le.data, (double) s->buckets[b]);
                sw_buf_release(&le);
            }
            s_sample(out, m, s, "_bucket", "+Inf", (double) s->count);
            s_sample(out, m, s, "_sum", NULL, s->sum);
            s_sample(out, m, s, "_count", NULL, (double) s->count);
        }
    }
}

/*  --- self-test --------------------------------------------------------------------- */

static bool
s_has(const sw_buf_t *b, const char *line)
{
    /*  a whole line */
    size_t n = strlen(line);
    for (const char *p = b->data; p && (p = strstr(p, line)); p++)
        if ((p == b->data || p[-1] == '\n') && (p[n] == '\n' || p[n] == '\0'))
            return true;
    return false;
}

int
sw_metrics_test(bool verbose)
{
    sw_metrics_t *reg = sw_metrics_new();
    sw_metric_t *done = sw_metrics_counter(reg, "swarm_test_tasks_finished_total",
                                           "Tasks that finished,\nby \\status", "status,runner");
    sw_metric_t *agents = sw_metrics_gauge(reg, "swarm_test_agents", "Agents", "state");
    sw_metric_t *up = sw_metrics_gauge(reg, "swarm_test_up", "No labels", NULL);
    static const double bounds[] = { 0.1, 1, 2.5 };
    sw_metric_t *dur = sw_metrics_histogram(reg, "swarm_test_duration_seconds", "Durations",
                                            "runner", bounds, 3);

    sw_metric_add(done, (const char *[]) { "succeeded", "codex" }, 1);
    sw_metric_add(done, (const char *[]) { "succeeded", "codex" }, 2);
    sw_metric_add(done, (const char *[]) { "failed", "exec" }, 1);
    /*  every escape a label value needs */
    sw_metric_add(done, (const char *[]) { "a\"b\\c\nd", "exec" }, 1);
    sw_metric_set(agents, (const char *[]) { "idle" }, 4);
    sw_metric_set(agents, (const char *[]) { "busy" }, 2);
    sw_metric_set(up, NULL, 1);
    /*  le is inclusive: 0.1 falls in the 0.1 bucket, 2.5 in the 2.5 one */
    for (double v = 0; v < 3; v += 0.5)
        sw_metric_observe(dur, (const char *[]) { "codex" }, v);
    sw_metric_observe(dur, (const char *[]) { "codex" }, 0.1);
    sw_metric_observe(dur, (const char *[]) { "codex" }, 100);

    sw_buf_t out;
    sw_buf_init(&out);
    sw_metrics_render(reg, &out);
    if (verbose)
        fputs(out.data, stdout);
    CHECK(s_has(&out, "# HELP swarm_test_tasks_finished_total Tasks that finished,\\nby "
                      "\\\\status"));
    CHECK(s_has(&out, "# TYPE swarm_test_tasks_finished_total counter"));
    CHECK(s_has(&out, "swarm_test_tasks_finished_total{status=\"succeeded\",runner=\"codex\"} 3"));
    CHECK(s_has(&out, "swarm_test_tasks_finished_total{status=\"failed\",runner=\"exec\"} 1"));
    CHECK(s_has(&out, "swarm_test_tasks_finished_total{status=\"a\\\"b\\\\c\\nd\",runner=\"exec\"} 1"));
    CHECK(s_has(&out, "# TYPE swarm_test_agents gauge"));
    CHECK(s_has(&out, "swarm_test_agents{state=\"idle\"} 4"));
    CHECK(s_has(&out, "swarm_test_up 1"));
    CHECK(s_has(&out, "# TYPE swarm_test_duration_seconds histogram"));
    /*  observations 0, 0.5, 1, 1.5, 2, 2.5, 0.1, 100: cumulative buckets */
    CHECK(s_has(&out, "swarm_test_duration_seconds_bucket{runner=\"codex\",le=\"0.1\"} 2"));
    CHECK(s_has(&out, "swarm_test_duration_seconds_bucket{runner=\"codex\",le=\"1\"} 4"));
    CHECK(s_has(&out, "swarm_test_duration_seconds_bucket{runner=\"codex\",le=\"2.5\"} 7"));
    CHECK(s_has(&out, "swarm_test_duration_seconds_bucket{runner=\"codex\",le=\"+Inf\"} 8"));
    CHECK(s_has(&out, "swarm_test_duration_seconds_sum{runner=\"codex\"} 107.6"));
    CHECK(s_has(&out, "swarm_test_duration_seconds_count{runner=\"codex\"} 8"));
    CHECK(sw_metric_value(dur, (const char *[]) { "codex" }) == 8);
    CHECK(sw_metric_value(done, (const char *[]) { "succeeded", "codex" }) == 3);
    CHECK(sw_metric_value(done, (const char *[]) { "lost", "codex" }) == 0);
    /*  families come out in the order they were made */
    CHECK(strstr(out.data, "swarm_test_tasks_finished_total") < strstr(out.data, "swarm_test_agents")
          && strstr(out.data, "swarm_test_up") < strstr(out.data, "swarm_test_duration"));

    /*  zero keeps the series, at 0 */
    sw_metric_zero(agents);
    sw_metric_set(agents, (const char *[]) { "busy" }, 1);
    sw_buf_reset(&out);
    sw_metrics_render(reg, &out);
    CHECK(s_has(&out, "swarm_test_agents{state=\"idle\"} 0"));
    CHECK(s_has(&out, "swarm_test_agents{state=\"busy\"} 1"));

    /*  unbounded values cannot grow the family past its cap */
    sw_metric_t *ids = sw_metrics_gauge(reg, "swarm_test_by_id", "Misuse", "id");
    for (int i = 0; i < 3 * SW_METRICS_MAX_SERIES; i++) {
        char id[32];
        snprintf(id, sizeof id, "task-%d", i);
        sw_metric_add(ids, (const char *[]) { id }, 1);
    }
    CHECK(sw_metric_value(ids, (const char *[]) { "_other" })
          == 3 * SW_METRICS_MAX_SERIES - (SW_METRICS_MAX_SERIES - 1));
    CHECK(sw_metric_value(ids, (const char *[]) { "task-0" }) == 1);

    /*  invalid UTF-8 in a value is replaced, so the page stays UTF-8 */
    sw_metric_t *bad = sw_metrics_gauge(reg, "swarm_test_utf8", "UTF-8", "v");
    sw_metric_set(bad, (const char *[]) { "\xff" "x" }, 1);
    sw_buf_reset(&out);
    sw_metrics_render(reg, &out);
    CHECK(s_has(&out, "swarm_test_utf8{v=\"\xef\xbf\xbdx\"} 1"));

    /*  numbers */
    sw_buf_t n;
    sw_buf_init(&n);
    sw_metrics_format_number(0.1, &n);
    sw_buf_addstr(&n, " ");
    sw_metrics_format_number(-3, &n);
    sw_buf_addstr(&n, " ");
    sw_metrics_format_number(1.0 / 3, &n);
    sw_buf_addstr(&n, " ");
    sw_metrics_format_number(INFINITY, &n);
    sw_buf_addstr(&n, " ");
    sw_metrics_format_number(-INFINITY, &n);
    sw_buf_addstr(&n, " ");
    sw_metrics_format_number(NAN, &n);
    sw_buf_addstr(&n, " ");
    sw_metrics_format_number(1e300, &n);
    CHECK(strcmp(n.data, "0.1 -3 0.3333333333333333 +Inf -Inf NaN 1e+300") == 0);
    CHECK(strtod(strchr(strchr(n.data, ' ') + 1, ' ') + 1, NULL) == 1.0 / 3);
    sw_buf_release(&n);

    sw_buf_release(&out);
    sw_metrics_destroy(&reg);
    CHECK(reg == NULL);
    return 0;
}
