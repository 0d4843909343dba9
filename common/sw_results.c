/*  sw_results -- see sw_results.h */
#include "sw_results.h"

#include "sw_keys.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*  One attempt's usage:N field into the row's sums; one that does not
 *  parse is left out. */
static void
s_spend_add(sw_result_row_t *row, const redisReply *v)
{
    json_t *o = v->str ? json_loadb(v->str, v->len, 0, NULL) : NULL;
    sw_usage_t u;
    sw_err_t err = { 0 };
    if (sw_usage_from_json(o, &u, &err) == 0) {
        row->spend.input += u.input;
        row->spend.cached += u.cached;
        row->spend.output += u.output;
        if (u.cost_usd >= 0)
            row->spend_micro += llround(u.cost_usd * 1e6);
        else if (sw_usage_tokens(&u) > 0)
            row->spend_unpriced = true;
        if (u.model[0])
            memcpy(row->spend.model, u.model, sizeof u.model);
        row->spend_attempts++;
    }
    json_decref(o);
}

json_t *
sw_result_spend_json(const sw_result_row_t *r)
{
    if (!r->spend_attempts)
        return NULL;
    bool priced = r->spend_micro > 0 || !r->spend_unpriced;
    json_t *o = json_pack("{s:I, s:I, s:I, s:I, s:o, s:o, s:i, s:b}",
                          "tokens", (json_int_t) sw_usage_tokens(&r->spend),
                          "input_tokens", (json_int_t) r->spend.input,
                          "cached_input_tokens", (json_int_t) r->spend.cached,
                          "output_tokens", (json_int_t) r->spend.output,
                          "cost_usd", priced ? json_real((double) r->spend_micro / 1e6)
                                             : json_null(),
                          "model", r->spend.model[0] ? json_string(r->spend.model) : json_null(),
                          "attempts", r->spend_attempts, "unpriced", r->spend_unpriced);
    return o;
}

void
sw_result_row_fill(sw_result_row_t *row, const redisReply *reply)
{
    if (reply->type != REDIS_REPLY_ARRAY)
        return;
    for (size_t k = 0; k + 1 < reply->elements; k += 2) {
        const char *f = reply->element[k]->str;
        const redisReply *v = reply->element[k + 1];
        if (strcmp(f, "status") == 0)
            row->status = xstrdup(v->str);
        else if (strcmp(f, "attempt") == 0)
            row->attempt = atol(v->str);
        else if (strcmp(f, "throttled") == 0)
            row->throttled = atol(v->str);
        else if (strcmp(f, "agent") == 0)
            row->agent = xstrdup(v->str);
        else if (strcmp(f, "host") == 0)
            row->host = xstrdup(v->str);
        else if (strcmp(f, "reason") == 0)
            row->reason = xstrdup(v->str);
        else if (strcmp(f, "runner") == 0)
            row->runner = xstrdup(v->str);
        else if (strcmp(f, "started") == 0)
            row->started = atoll(v->str);
        else if (strcmp(f, "finished") == 0)
            row->finished = atoll(v->str);
        else if (strcmp(f, "result") == 0)
            row->result = json_loadb(v->str, v->len, 0, NULL);
        else if (strncmp(f, SW_FIELD_USAGE_PREFIX, strlen(SW_FIELD_USAGE_PREFIX)) == 0)
            s_spend_add(row, v);
    }
}

void
sw_result_row_release(sw_result_row_t *row)
{
    free(row->id);
    free(row->status);
    free(row->agent);
    free(row->host);
    free(row->reason);
    free(row->runner);
    json_decref(row->result);
    memset(row, 0, sizeof *row);
}

int
sw_results_ids(sw_redis_t *r, const char *job, sw_strv_t *ids, sw_err_t *err)
{
    char *key = sw_key_job_tasks(job);
    redisReply *list = sw_redis_cmdv(r, err, "LRANGE", key, "0", "-1", NULL);
    free(key);
    if (!list)
        return -1;
    key = sw_key_job(job);
    redisReply *exists = sw_redis_cmdv(r, err, "EXISTS", key, NULL);
    free(key);
    bool job_exists = exists && exists->integer == 1;
    if (exists)
        freeReplyObject(exists);
    if (list->type != REDIS_REPLY_ARRAY || (list->elements == 0 && !job_exists)) {
        freeReplyObject(list);
        return sw_err_set(err, SW_ENOTFOUND, "no job '%s' in Redis at %s", job,
                          sw_redis_addr(r));
    }
    for (size_t i = 0; i < list->elements; i++)
        if (list->element[i]->type == REDIS_REPLY_STRING)
            sw_strv_push(ids, list->element[i]->str);
    freeReplyObject(list);
    return 0;
}

static void
s_row_fill(void *arg, int i, redisReply *reply)
{
    sw_result_row_fill(&((sw_result_row_t *) arg)[i], reply);
}

int
sw_results_rows(sw_redis_t *r, const char *job, char *const *ids, size_t n,
                sw_result_row_t *rows, sw_err_t *err)
{
    for (size_t i = 0; i < n; i++) {
        rows[i].id = xstrdup(ids[i]);
        char *key = sw_key_task(job, ids[i]);
        const char *argv[] = { "HGETALL", key };
        sw_redis_append(r, 2, argv, NULL);
        free(key);
    }
    return sw_redis_flush_each(r, s_row_fill, rows, err);
}

int
sw_results_row(sw_redis_t *r, const char *job, const char *id, sw_result_row_t *row,
               sw_err_t *err)
{
    char *ids[] = { (char *) id };
    if (sw_results_rows(r, job, ids, 1, row, err) < 0)
        return -1;
    if (!row->status)
        return sw_err_set(err, SW_ENOTFOUND, "no task '%s' in job '%s'", id, job);
    return 0;
}

json_t *
sw_result_doc(const sw_result_row_t *r, const char *job)
{
    /*  A shallow copy: the row's document stays as Redis had it. */
    json_t *doc = json_is_object(r->result) ? json_copy(r->result) : json_object();
    /*  The coordinator's word on status wins (e.g. cancelled). */
    json_object_set_new(doc, "id", json_string(r->id));
    json_object_set_new(doc, "job", json_string(job));
    json_object_set_new(doc, "status", json_string(r->status ? r->status : "unknown"));
    json_object_set_new(doc, "attempt", json_integer(r->attempt));
    /*  issue 18 §4: runs the provider rate-limited did not use an attempt */
    json_object_set_new(doc, "throttled", json_integer(r->throttled));
    json_object_set_new(doc, "attempts_used", json_integer(r->attempt - r->throttled));
    if (!r->result) {
        json_object_set_new(doc, "agent", r->agent && *r->agent ? json_string(r->agent)
                                                                 : json_null());
        json_object_set_new(doc, "output", json_null());
    }
    json_object_set_new(doc, "reason", r->reason && *r->reason ? json_string(r->reason)
                                                                : json_null());
    json_t *spend = sw_result_spend_json(r);
    json_object_set_new(doc, "spend", spend ? spend : json_null());
    return doc;
}
