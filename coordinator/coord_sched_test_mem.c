/*  coord_sched_test_mem -- the scheduler's memory per queued task (issue
 *  20): bytes the C heap holds for 100,000 queued tasks of one job, as the
 *  coordinator's SUBMIT builds them (exec `true`, the job's namespace),
 *  per task. Counted with mallinfo2(), which is exact and independent of
 *  the machine's load, unlike RSS. Not checked under ASan (its own
 *  allocator). */
#include "coord_sched_test_int.h"

#include <malloc.h>
#include <string.h>

#include "sw_selftest.h"

#define MEM_TASKS   100000
/*  What this scheduler holds (373 B with glibc's malloc on Debian 12:
 *  the task with its id and command line 352, its slots in the job's
 *  index and array 10.5 + 10.5) plus 5 %, so a change that grows it fails.
 *  Issue 20's target is 400 B. The spec fields an exec task leaves at
 *  their defaults are not held (coord_spec_t.rest). Before issue 20:
 *  1,184 B; after its first pass: 560 B. */
#define MEM_BOUND   392

#if defined(__SANITIZE_ADDRESS__)
#  define MEM_ASAN 1
#elif defined(__has_feature)
#  if __has_feature(address_sanitizer)
#    define MEM_ASAN 1
#  endif
#endif

static size_t
s_heap(void)
{
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
}

static void s_nop_task(void *c, coord_task_t *t) { (void) c; (void) t; }
static void s_nop_agent(void *c, coord_task_t *t, coord_agent_t *a) { (void) c; (void) t; (void) a; }
static void s_nop_gone(void *c, coord_agent_t *a) { (void) c; (void) a; }

/*  Bytes per task for n queued tasks; the first of the job (its job
 *  object, the class) before the count starts. */
static double
s_per_task(int n, bool verbose)
{
    coord_sched_ops_t ops = { s_nop_task, s_nop_agent, s_nop_agent, s_nop_task, s_nop_gone,
                              NULL };
    coord_sched_t *s = coord_sched_new(&ops, NULL);
    sw_err_t err = { 0 };
    size_t before = 0;
    for (int i = 0; i <= n; i++) {
        if (i == 1)
            before = s_heap();
        sw_task_t t;
        sw_task_init(&t);
        t.id = xasprintf("t%06d", i);
        t.job = xstrdup("bench-job");
        t.ns = xstrdup("results");
        sw_strv_push(&t.argv, "true");
        if (sw_task_validate(&t, &err) < 0 || !coord_sched_submit(s, &t, 0, &err)) {
            coord_sched_destroy(&s);
            return 1e9;
        }
    }
    size_t after = s_heap();
    double per = (double) (after - before) / n;
    if (verbose)
        printf("  %d queued tasks: %zu bytes of heap, %.1f per task (coord_task_t %zu)\n", n,
               after - before, per, sizeof(coord_task_t));
    bool queued = coord_sched_queued(s) == (size_t) n + 1;
    /*  every id resolves to its own task through the 4-byte index, past
     *  2^16 tasks in one job (hostile review: no narrowing to 16 bits) */
    bool found = true;
    for (int i = 0; i <= n; i += 1 + (i > 65000 ? 0 : 7)) {
        char id[16];
        snprintf(id, sizeof id, "t%06d", i);
        const coord_task_t *f = coord_sched_task(s, "bench-job", id);
        found = found && f && strcmp(f->spec.id, id) == 0;
    }
    CHECK(found && !coord_sched_task(s, "bench-job", "t999999"));
    /*  what lives in the task's own allocation or is shared reads back */
    coord_task_t *t = coord_sched_task(s, "bench-job", "t000050");
    CHECK(t && strcmp(t->spec.id, "t000050") == 0 && t->spec.job == t->job->id);
    CHECK(t && t->spec.argv.n == 1 && strcmp(t->spec.argv.v[0], "true") == 0
          && !t->spec.argv.v[1]);
    CHECK(t && strcmp(t->spec.runner, "exec") == 0 && strcmp(t->spec.ns, "results") == 0);
    coord_sched_destroy(&s);
    CHECK(queued);
    return per;
}

/*  Tasks whose command line is long, many-armed or absent keep it whole
 *  in their own allocation, through dispatch and the end of the job. */
static void
s_shapes(void)
{
    coord_sched_ops_t ops = { s_nop_task, s_nop_agent, s_nop_agent, s_nop_task, s_nop_gone,
                              NULL };
    coord_sched_t *s = coord_sched_new(&ops, NULL);
    sw_err_t err = { 0 };
    char big[4096];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    sw_task_t a, b, c;
    sw_task_init(&a);
    a.id = xstrdup("a");
    a.job = xstrdup("j");
    for (int i = 0; i < 100; i++)
        sw_strv_push(&a.argv, i % 2 ? big : i ? "" : "x");
    sw_task_init(&b);
    b.id = xstrdup("b");
    b.job = xstrdup("j");
    b.runner = xstrdup("codex");
    b.prompt = xstrdup("hello");
    sw_task_init(&c);
    c.id = xstrdup("c");
    c.job = xstrdup("other");       /*  another job: its own id */
    sw_strv_push(&c.argv, "true");
    if (sw_task_validate(&a, &err) < 0 || sw_task_validate(&b, &err) < 0
        || sw_task_validate(&c, &err) < 0)
        fprintf(stderr, "sched_mem: %s\n", err.msg);
    coord_task_t *ta = coord_sched_submit(s, &a, 0, &err);
    coord_task_t *tb = coord_sched_submit(s, &b, 0, &err);
    coord_task_t *tc = coord_sched_submit(s, &c, 0, &err);
    CHECK(ta && tb && tc && ta->spec.argv.n == 100 && !ta->spec.argv.v[100]);
    for (size_t i = 0; ta && i < 100; i++)
        CHECK(strcmp(ta->spec.argv.v[i], i % 2 ? big : i ? "" : "x") == 0);
    CHECK(tb && tb->spec.argv.n == 0 && strcmp(coord_task_prompt(tb), "hello") == 0
          && strcmp(tb->spec.runner, "codex") == 0 && strcmp(tb->spec.id, "b") == 0);
    CHECK(tc && strcmp(tc->spec.job, "other") == 0 && tc->spec.job == tc->job->id);
    /*  one job's tasks share their namespace, another job's do not */
    CHECK(ta && tb && tc && ta->spec.ns && ta->spec.ns == tb->spec.ns && tc->spec.ns != ta->spec.ns
          && strcmp(tc->spec.ns, ta->spec.ns) == 0);
    coord_agent_t *ag = st_agent(s, "ag", 4, NULL);
    CHECK(coord_sched_dispatch(s, 0, 0) == 3);
    CHECK(st_done(s, ag, ta, 1, "succeeded") == 0 && st_done(s, ag, tb, 1, "failed") == 0);
    CHECK(ta->state == SW_TS_SUCCEEDED && strcmp(ta->spec.argv.v[1], big) == 0);
    coord_sched_destroy(&s);
}

/*  Whether t's whole spec (coord_task_spec) packs to the same bytes as
 *  want: nothing a task was submitted with is lost by keeping only what
 *  differs from the defaults. */
static bool
s_same_spec(const coord_task_t *t, const sw_task_t *want)
{
    msgpack_sbuffer a, b;
    msgpack_packer pa, pb;
    msgpack_sbuffer_init(&a);
    msgpack_sbuffer_init(&b);
    msgpack_packer_init(&pa, &a, msgpack_sbuffer_write);
    msgpack_packer_init(&pb, &b, msgpack_sbuffer_write);
    sw_task_t view;
    coord_task_spec(t, &view);
    sw_task_pack(&pa, &view);
    sw_task_pack(&pb, want);
    bool same = a.size == b.size && memcmp(a.data, b.data, a.size) == 0;
    msgpack_sbuffer_destroy(&a);
    msgpack_sbuffer_destroy(&b);
    return same;
}

/*  A task with every field outside coord_spec_t set (claude), one whose
 *  only such field is its timeout (301), one with an explicit timeout of
 *  300 and a dependency, a codex one with an output schema, and a plain
 *  exec one: each gives back the spec it was submitted with, and only
 *  the plain one carries no rest. */
static void
s_rest(void)
{
    coord_sched_ops_t ops = { s_nop_task, s_nop_agent, s_nop_agent, s_nop_task, s_nop_gone,
                              NULL };
    coord_sched_t *s = coord_sched_new(&ops, NULL);
    sw_err_t err = { 0 };
    sw_task_t full, t301, t300, plain;
    sw_task_init(&full);
    full.id = xstrdup("full");
    full.job = xstrdup("j");
    full.runner = xstrdup("claude");
    full.prompt = xstrdup("do it");
    full.dir = xstrdup("sub/dir");
    sw_kv_set(&full.labels, "os", "linux");
    sw_kv_set(&full.env, "K", "V");
    full.timeout_s = 7 * 86400;
    full.idle_timeout_s = 60;
    full.max_turns = 3;
    full.max_budget_cents = 250;
    full.ws.repo = xstrdup("repo");
    full.ws.commit = xstrdup("0123456789abcdef0123456789abcdef01234567");
    full.ws.url = xstrdup("file:///tmp/x");
    sw_strv_push(&full.outputs, "out/**");
    sw_strv_push(&full.resources, "lic");
    sw_task_init(&t301);
    t301.id = xstrdup("t301");
    t301.job = xstrdup("j");
    t301.timeout_s = 301;
    sw_strv_push(&t301.argv, "true");
    sw_task_t cx;
    sw_task_init(&cx);
    cx.id = xstrdup("cx");
    cx.job = xstrdup("j");
    cx.runner = xstrdup("codex");
    cx.prompt = xstrdup("p");
    cx.output_schema = xstrdup("{\"type\":\"object\"}");
    sw_task_init(&t300);
    t300.id = xstrdup("t300");
    t300.job = xstrdup("j");
    t300.timeout_s = 300;
    sw_strv_push(&t300.argv, "true");
    sw_strv_push(&t300.after, "t301");
    sw_task_init(&plain);
    plain.id = xstrdup("plain");
    plain.job = xstrdup("j");
    sw_strv_push(&plain.argv, "true");
    sw_task_t *all[] = { &full, &t301, &t300, &plain, &cx };
    sw_task_t want[5];
    coord_task_t *got[5];
    for (size_t i = 0; i < 5; i++) {
        if (sw_task_validate(all[i], &err) < 0)
            fprintf(stderr, "sched_mem: %s\n", err.msg);
        sw_task_copy(&want[i], all[i]);
        got[i] = coord_sched_submit(s, all[i], 0, &err);
        CHECK(got[i] && s_same_spec(got[i], &want[i]));
    }
    CHECK(got[0] && got[0]->spec.rest && strcmp(coord_task_prompt(got[0]), "do it") == 0
          && coord_task_labels(got[0])->n == 1 && coord_task_resources(got[0])->n == 1);
    CHECK(got[1] && got[1]->spec.rest && got[2] && got[2]->spec.rest
          && coord_task_after(got[2])->n == 1 && got[4] && got[4]->spec.rest);
    CHECK(got[3] && !got[3]->spec.rest && !coord_task_prompt(got[3])
          && coord_task_after(got[3])->n == 0 && coord_task_labels(got[3])->n == 0
          && coord_task_resources(got[3])->n == 0);
    for (size_t i = 0; i < 5; i++)
        sw_task_release(&want[i]);
    coord_sched_destroy(&s);
}

int
coord_sched_mem_test(bool verbose)
{
    s_shapes();
    s_rest();
    double per = s_per_task(MEM_TASKS, verbose);
#ifdef MEM_ASAN
    /*  the same 100,000 tasks made and freed, for its leak check; its
     *  allocator's counts are not glibc's */
    (void) per;
#else
    if (per > MEM_BOUND)
        fprintf(stderr, "sched_mem: %.1f bytes per queued task (bound %d)\n", per, MEM_BOUND);
    CHECK(per <= MEM_BOUND);
#endif
    return 0;
}
