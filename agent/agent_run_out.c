/*  agent_run_out -- what a run leaves: the usage its runner reports as it
 *  runs, its status and answer once it ended (with a provider's
 *  rate-limit), its result document and its store. See agent_run_int.h. */
#include "agent_run_int.h"

#include <string.h>

#include "agent_ratelimit.h"
#include "agent_result.h"
#include "agent_spool.h"

/*  --- usage ---------------------------------------------------------------------- */

void
run_usage_send(agent_runs_t *self, run_t *run, bool final)
{
    run->usage_dirty = false;
    run->usage_sent_ms = sw_now_ms();
    if (!self->usage)
        return;
    sw_usage_msg_t m = { .ref = { .job = run->task.job, .id = run->task.id,
                                  .attempt = run->task.attempt },
                         .u = run->usage.total, .final = final };
    self->usage(self->ctx, &m);
}

/*  codex names no model in its events: the one its config.toml sets
 *  ($CODEX_HOME, else ~/.codex; a task cannot set CODEX_HOME), which the
 *  coordinator prices. A small local file, read once per run. */
void
run_codex_model(run_t *run)
{
    const char *home = getenv("CODEX_HOME"), *uhome = getenv("HOME");
    char *path = home && *home ? xasprintf("%s/config.toml", home)
               : uhome && *uhome ? xasprintf("%s/.codex/config.toml", uhome) : NULL;
    if (!path)
        return;
    sw_buf_t b;
    sw_buf_init(&b);
    bool cut = false;
    if (sw_read_file(path, 65536, &b, &cut) == 0)
        sw_usage_codex_config_model(b.data, b.len, &run->usage.total);
    sw_buf_release(&b);
    free(path);
}

/*  The runner's stdout as it comes: its usage so far. */
void
run_on_out(void *arg, const char *p, size_t n)
{
    run_t *run = arg;
    if (sw_usage_reader_feed(&run->usage, p, n))
        run->usage_dirty = true;
}

/*  --- stage: store ----------------------------------------------------------------- */

/*  Stores the result, then says DONE. A failed write is retried from the
 *  tick: DONE goes out only once the result is safe in Redis, and until
 *  then the result is in the spool. */
void
run_store(agent_runs_t *self, run_t *run)
{
    agent_spooled_t s = { run->task.job, run->task.id, run->task.ns, run->task.attempt,
                          (char *) run->status, run->exit_code, run->retryable, run->json };
    bool was_spooled = run->spooled;
    int rc = agent_store_result(self->store, &s, &run->spooled);
    if (run->spooled && !was_spooled)
        agent_metrics_spooled(self->conf->metrics);
    if (rc < 0)
        return;
    int code = run->exit_code;
    if (run->usage.seen)
        run_usage_send(self, run, true);  /*  before DONE: counted before the slot frees */
    self->report(self->ctx, SW_DONE, &run->task, run->status, code > 255 ? 255 : code,
                 run->retryable, run->throttled);
    run->state = RUN_DONE;
    log_info("task %s/%s attempt %lld %s", run->task.job, run->task.id,
             (long long) run->task.attempt, run->status);
}

/*  The end of the result stage: the document, with its hooks field,
 *  becomes the text that is stored. */
void
run_store_result(agent_runs_t *self, run_t *run)
{
    if (run->hooks)
        json_object_set(run->doc, "hooks", run->hooks);
    if (run->task.ws.commit)
        agent_ws_result(&run->ws, run->doc);
    run->json = json_dumps(run->doc, JSON_COMPACT);
    json_decref(run->doc);
    run->doc = NULL;
    run->state = RUN_STORING;
    run_store(self, run);
}

/*  --- stages: collect and result ----------------------------------------------------- */

/*  What the finished runner left: its status, and its answer
 *  (agent_answer_collect: codex's -o file or last agent_message, claude's
 *  result, a command's stdout) into a. */
static void
s_collect(agent_runs_t *self, run_t *run, agent_result_t *r, agent_answer_t *a,
          sw_buf_t *errtail)
{
    agent_child_t *c = &run->child;
    r->exit_code = run->exit_code = agent_child_exit_code(c);
    r->signal = agent_child_signal(c);
    r->started_wall_ms = c->start_wall_ms;
    r->duration_ms = c->duration_ms;
    run->status = c->stop == AGENT_STOP_TIMEOUT || c->stop == AGENT_STOP_IDLE ? "timed_out"
                : c->stop == AGENT_STOP_CANCEL ? "cancelled"
                : r->exit_code == 0 ? "succeeded" : "failed";
    /*  Crashes (a signal we did not send) and timeouts may pass on another
     *  attempt; a clean non-zero exit will not. */
    run->retryable = c->stop == AGENT_STOP_TIMEOUT || c->stop == AGENT_STOP_IDLE
                  || (r->signal && c->stop == AGENT_STOP_NONE);
    if (c->stop == AGENT_STOP_TIMEOUT)
        r->error = "timed out";
    else if (r->signal && c->stop == AGENT_STOP_NONE)
        r->error = "crashed";
    else if (c->stop == AGENT_STOP_IDLE)
        r->error = "no output for the idle timeout";
    sw_buf_t out, last;
    sw_buf_init(&out);
    sw_buf_init(&last);
    bool last_cut = false;
    sw_capture_render(&c->out, &out);
    if (run->launch.lastmsg)
        agent_state_read(run->launch.lastmsg, (size_t) self->conf->max_output, &last, &last_cut);
    agent_answer_collect(run->task.runner, out.data, out.len, sw_capture_truncated(&c->out),
                         last.data, last.len, last_cut, a);
    sw_buf_release(&last);
    if (a->error && strcmp(run->status, "succeeded") == 0) {
        run->status = "failed";     /*  exit 0, but no answer (or claude's is_error) */
        r->error = a->error;
    }
    sw_capture_render(&c->err, errtail);
    /*  issue 18 §4: a run the provider rate-limited goes back to the queue
     *  without using an attempt (the coordinator decides: DONE throttled) */
    if (strcmp(run->status, "failed") == 0 && c->stop == AGENT_STOP_NONE && !r->signal
        && agent_rate_limited(run->task.runner, out.data, out.len, errtail->data, errtail->len)) {
        run->throttled = run->retryable = true;
        r->error = "rate-limited by the provider (HTTP 429)";
    }
    sw_buf_release(&out);
    if (sw_usage_reader_end(&run->usage))
        run->usage_dirty = true;
    if (run->usage.rejected)
        log_warnx("task %s/%s: %llu usage reports of its runner ignored (absurd numbers)",
                  run->task.job, run->task.id, (unsigned long long) run->usage.rejected);
}

/*  The result document (see agent_run_int.h). */
void
run_result_doc(agent_runs_t *self, run_t *run, bool ran)
{
    sw_buf_t errtail;
    sw_buf_init(&errtail);
    agent_answer_t a = { 0 };
    sw_buf_init(&a.output);
    agent_result_t r = { .task = &run->task, .agent = self->conf->agent_id,
                         .host = self->conf->host, .exit_code = -1,
                         .started_wall_ms = sw_wall_ms(), .error = run->error };
    if (ran)
        s_collect(self, run, &r, &a, &errtail);
    else {
        /*  a CANCEL during the pre-task hook; else a failure before the
         *  runner: a missing binary or directory may exist on another
         *  agent, a hook's crash or timeout may pass there */
        run->status = run->cancelled ? "cancelled" : "failed";
        run->retryable = !run->cancelled && !run->deterministic;
        if (run->errtail.len)
            sw_buf_add(&errtail, run->errtail.data, run->errtail.len);
        else if (run->error)
            sw_buf_addstr(&errtail, run->error);
    }
    if (run->start_failed)
        agent_metrics_spawn_failed(self->conf->metrics, run->task.runner);
    agent_metrics_finished(self->conf->metrics, run->status, run->task.runner,
                           ran ? run->child.out.total : 0, ran ? run->child.err.total : 0);
    r.status = run->status;
    r.output = a.output.data;
    r.output_len = a.output.len;
    r.output_truncated = a.truncated;
    r.stderr_tail = errtail.data;
    r.stderr_len = errtail.len;
    if (a.usage && run->usage.total.model[0])     /*  the coordinator prices by it */
        json_object_set_new(a.usage, "model", json_string(run->usage.total.model));
    r.usage = a.usage;
    run->doc = agent_result_doc(&r);
    if (run->throttled)
        json_object_set_new(run->doc, "rate_limited", json_true());
    agent_answer_release(&a);
    sw_buf_release(&errtail);
}
