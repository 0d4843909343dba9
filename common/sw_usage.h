/*  sw_usage -- what a run of a coding agent used and cost (issue 18).
 *
 *  Pure: no I/O. Three pieces:
 *
 *  The reader takes a runner's stdout as it arrives, in chunks cut
 *  anywhere, and keeps the usage of the attempt so far:
 *    codex   `codex exec --json`: the usage of every `turn.completed`
 *            event, summed (input_tokens includes cached_input_tokens, as
 *            in OpenAI's usage object); a `model` field of any event
 *            names the model;
 *    claude  `--output-format json` (one result document) or
 *            `stream-json`: the `usage` of each `assistant` message (one
 *            per API call; a message repeated with the same id counts
 *            once) and then the `result` event, whose `usage` and
 *            `total_cost_usd` replace what was summed; the model from
 *            the `system` init event or the messages.
 *  Lines over SW_USAGE_LINE_MAX are skipped whole (claude's documents can
 *  be big: the result text is in them). A number that is negative, not an
 *  integer, over SW_USAGE_MAX_TOKENS (or a cost over SW_USAGE_MAX_USD, not
 *  finite) makes its event ignored and counted in `rejected`: a runner
 *  printing absurd usage never poisons a budget.
 *
 *  The price table (the coordinator's `price.MODEL = IN, CACHED, OUT`, USD
 *  per million tokens; no built-in prices) and what a usage costs with it.
 *
 *  The wire and storage form of one attempt's usage (JSON object
 *  {input_tokens, cached_input_tokens, output_tokens, cost_usd?, model?,
 *  priced?}), shared by the agent, the coordinator and the CLI.
 */
#ifndef SW_USAGE_H
#define SW_USAGE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "sw_util.h"

#define SW_USAGE_LINE_MAX   (8 << 20)
#define SW_USAGE_MAX_TOKENS 1000000000000LL     /*  10^12 per attempt */
#define SW_USAGE_MAX_USD    1000000.0           /*  per attempt */
#define SW_USAGE_MODEL_MAX  128

typedef struct {
    int64_t input;              /*  tokens read, cached ones included */
    int64_t cached;             /*  of those, read from the provider's cache */
    int64_t output;             /*  tokens written (reasoning included) */
    double  cost_usd;           /*  the runner's own figure, or priced; < 0: unknown */
    char    model[SW_USAGE_MODEL_MAX];   /*  "" when nobody named it */
} sw_usage_t;

/*  input + output: what a token budget counts. */
int64_t sw_usage_tokens(const sw_usage_t *u);
/*  Sets u->model to m when m is 1..127 bytes of A-Z a-z 0-9 . _ - : / @ +
 *  [ ]; false (u unchanged) otherwise. */
bool sw_usage_set_model(sw_usage_t *u, const char *m);
/*  Whether a's numbers are all within the limits above (cost may be < 0:
 *  unknown). */
bool sw_usage_sane(const sw_usage_t *u);

#define SW_USAGE_RECENT 32      /*  claude message ids remembered */

typedef struct {
    bool       claude;          /*  else codex */
    sw_buf_t   line;            /*  the line not yet ended */
    bool       skipping;        /*  the current line is over the cap */
    bool       off;             /*  a runner whose output holds no usage */
    sw_usage_t total;           /*  what the attempt used so far */
    sw_usage_t msgs;            /*  claude: summed over assistant messages */
    /*  claude: the latest messages (an id, its usage): a message comes as
     *  one event per content block, and sub-agents' messages interleave,
     *  so a repeated id among these replaces its earlier usage */
    struct {
        char      *id;
        sw_usage_t u;
    }          recent[SW_USAGE_RECENT];
    size_t     recent_next;     /*  the slot the next new id takes */
    bool       have_result;     /*  claude: the result event came */
    bool       seen;            /*  some usage was read */
    uint64_t   rejected;        /*  events ignored for absurd numbers */
} sw_usage_reader_t;

/*  runner: "codex" or "claude"; any other runner reads nothing. */
void sw_usage_reader_init(sw_usage_reader_t *r, const char *runner);
void sw_usage_reader_release(sw_usage_reader_t *r);
/*  Feeds the next N bytes of stdout. Returns true when the usage changed. */
bool sw_usage_reader_feed(sw_usage_reader_t *r, const char *p, size_t n);
/*  The end of the stream: a last line without its newline is read. */
bool sw_usage_reader_end(sw_usage_reader_t *r);

/*  codex's configured model (codex --json names none in its events): in
 *  its config.toml TEXT, the `model = "NAME"` of the default profile's
 *  table when the top level sets `profile = "P"` and [profiles.P] names
 *  one (that is what codex runs), else the top-level `model` (before the
 *  first [table]). Into u->model when u names none yet; false when there
 *  is no such line. */
bool sw_usage_codex_config_model(const char *text, size_t n, sw_usage_t *u);

/*  The usage a stored result document (agent_result.h) recorded: its
 *  `usage` as agent_answer_collect made it (claude: input_tokens,
 *  cache_read_input_tokens, output_tokens, cost_usd; codex: input_tokens,
 *  cached_input_tokens, output_tokens) and model. For the coordinator
 *  that finishes a task from its stored result (its DONE, and the USAGE
 *  before it, died with an old coordinator). -1 when it has none, or
 *  absurd numbers. */
int sw_usage_from_result(const json_t *doc, sw_usage_t *u);

/*  --- prices --------------------------------------------------------------- */

typedef struct {
    char   *model;
    double  input, cached, output;    /*  USD per million tokens */
} sw_price_t;

typedef struct {
    sw_price_t *v;
    size_t      n;
} sw_prices_t;

/*  One entry, "MODEL=IN,CACHED,OUT" (what `price.MODEL = IN, CACHED, OUT`
 *  in a config file becomes): MODEL 1..127 bytes of the set a usage's
 *  model may hold (A-Z a-z 0-9 . _ - : / @ + [ ]: a price for a name no
 *  usage can carry would silently never apply), each price a finite
 *  decimal (not hex) 0..1000000.
 *  A model given twice: the last wins. -1 with err naming what is wrong. */
int  sw_prices_add(sw_prices_t *p, const char *entry, sw_err_t *err);
void sw_prices_release(sw_prices_t *p);
const sw_price_t *sw_prices_find(const sw_prices_t *p, const char *model);
/*  The cost of u at price: uncached input, cached input and output
 *  tokens at their rates. */
double sw_price_cost(const sw_price_t *price, const sw_usage_t *u);

/*  --- JSON ----------------------------------------------------------------- */

/*  {input_tokens, cached_input_tokens, output_tokens, cost_usd (when >= 0),
 *   model (when named)}; new reference. */
json_t *sw_usage_to_json(const sw_usage_t *u);
/*  The same back; -1 with err when a field is missing, mistyped or absurd. */
int sw_usage_from_json(const json_t *o, sw_usage_t *u, sw_err_t *err);

/*  A job's dollar cap as a user writes it ("0.07", "12", "$5", "0.005"):
 *  a plain decimal, at most 6 decimals, above 0 and at most
 *  SW_USAGE_MAX_USD; into micro-dollars. -1 for anything else (negative,
 *  NaN, inf, exponents, 1e9, empty, trailing text). */
int sw_usage_parse_usd(const char *s, int64_t *micro);

/*  "$X.XX"; below a dollar, four decimals when cents alone would round
 *  ("$0.0123"). */
void sw_usage_fmt_usd(char *out, size_t n, double usd);

int sw_usage_test(bool verbose);

#endif
