/*  sw_metrics -- counters, gauges and histograms in the Prometheus text
 *  exposition format (version 0.0.4), without I/O.
 *
 *  A registry holds metric families in the order they were made; each
 *  family has a fixed list of label names and at most SW_METRICS_MAX_SERIES
 *  label-value combinations (series). Labels are for bounded dimensions
 *  (status, runner, verb, state), never for ids: an update that would make
 *  one series more goes to the series whose every value is "_other", so a
 *  mistake costs precision, not the daemon's memory.
 *
 *  Naming follows prometheus/docs "Metric and label naming": a `swarm_`
 *  prefix, base units in the name (`_seconds`, `_bytes`), `_total` for
 *  counters (checked here: a counter without it, or a gauge or histogram
 *  with it, is a programming error and asserts).
 *
 *  Values that the daemons already count (dropped frames, Redis errors)
 *  are copied in at scrape time with sw_metric_set, so the code that counts
 *  does not need the registry. Histograms are observed when the event
 *  happens.
 */
#ifndef SW_METRICS_H
#define SW_METRICS_H

#include "sw_util.h"

#define SW_METRICS_MAX_SERIES 256   /*  per family */
#define SW_METRICS_MAX_LABELS 4
#define SW_METRICS_MAX_BUCKETS 32

typedef struct sw_metrics_t sw_metrics_t;
typedef struct sw_metric_t sw_metric_t;

sw_metrics_t *sw_metrics_new(void);
void sw_metrics_destroy(sw_metrics_t **self_p);

/*  New families, owned by the registry. labels is a comma-separated list
 *  of label names ("status,runner") or NULL for none. help is one line of
 *  text (escaped on output). A histogram's bounds are its buckets' upper
 *  limits (inclusive, as Prometheus' `le`), strictly increasing, at most
 *  SW_METRICS_MAX_BUCKETS; +Inf is added. Names and label names must be
 *  valid Prometheus names (asserted: they are constants in our code). */
sw_metric_t *sw_metrics_counter(sw_metrics_t *self, const char *name, const char *help,
                                const char *labels);
sw_metric_t *sw_metrics_gauge(sw_metrics_t *self, const char *name, const char *help,
                              const char *labels);
sw_metric_t *sw_metrics_histogram(sw_metrics_t *self, const char *name, const char *help,
                                  const char *labels, const double *bounds, size_t nbounds);

/*  values: one string per label name, in the family's order (NULL when the
 *  family has no labels). Strings are copied; any bytes are allowed
 *  (escaped on output, invalid UTF-8 replaced). */

/*  Adds v to a counter (v >= 0) or a gauge; creates the series at 0. */
void sw_metric_add(sw_metric_t *m, const char *const *values, double v);
/*  Sets a gauge, or a counter to a total counted elsewhere (it must not
 *  go down while the process lives). */
void sw_metric_set(sw_metric_t *m, const char *const *values, double v);
/*  Counts one observation of v in a histogram. */
void sw_metric_observe(sw_metric_t *m, const char *const *values, double v);
/*  Sets every existing series of a gauge to 0 (before recomputing it at
 *  scrape time: a state nobody is in reads 0, not its last value). */
void sw_metric_zero(sw_metric_t *m);
/*  The value of a counter or gauge series, or a histogram's count; 0 when
 *  the series does not exist (for tests and for reading back). */
double sw_metric_value(const sw_metric_t *m, const char *const *values);

/*  Appends the whole registry in the text exposition format to out. The
 *  HTTP content type is SW_METRICS_CONTENT_TYPE. */
#define SW_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"
void sw_metrics_render(const sw_metrics_t *self, sw_buf_t *out);

/*  Appends v as the exposition format writes numbers: integers without a
 *  fraction, others in the shortest form that reads back the same, and
 *  +Inf, -Inf, NaN. */
void sw_metrics_format_number(double v, sw_buf_t *out);

int sw_metrics_test(bool verbose);

#endif
