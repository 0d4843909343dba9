/*  sw_plan self-test (unit.plan): plans, command lists and templates,
 *  through the public API only. */
#include "sw_plan.h"

#include <string.h>

#include "sw_selftest.h"

/*  --- self-test ------------------------------------------------------------------------- */

/*  Parses text; returns the first error, or "" when it parsed. */
static const char *
s_try(const char *text, sw_plan_t *p, sw_strv_t *errors)
{
    sw_strv_release(errors);
    if (sw_plan_parse("p.yaml", text, strlen(text), p, errors) == 0)
        return "";
    return errors->v[0];
}

int
sw_plan_test(bool verbose)
{
    sw_plan_t p;
    sw_strv_t errors = { 0 };

    /*  workers + aggregate */
    CHECK(strcmp(s_try("name: auth\nmax_agents: 2\non_failure: stop\nworkers:\n"
                       "  - {id: api, type: coder, task: Build the API}\n"
                       "  - {id: ui, task: Build the UI, timeout: 60, labels: {os: linux}}\n"
                       "aggregate:\n", &p, &errors), "") == 0);
    CHECK(p.n == 3 && p.max_agents == 2 && p.halt && strcmp(p.name, "auth") == 0);
    CHECK(strcmp(p.tasks[2].task.id, "aggregate") == 0 && p.tasks[2].task.after.n == 2);
    CHECK(strstr(p.tasks[2].task.prompt, "{{result:ui}}") != NULL);
    CHECK(p.tasks[1].task.timeout_s == 60);
    CHECK(strcmp(sw_kv_get(&p.tasks[1].task.labels, "os"), "linux") == 0);
    sw_plan_render(&p);
    CHECK(strstr(p.tasks[0].task.prompt, "You are api (worker id api)") != NULL);
    CHECK(strstr(p.tasks[0].task.prompt, "Your task: Build the API") != NULL);
    CHECK(strstr(p.tasks[0].task.prompt, "result-api") != NULL);
    sw_plan_release(&p);

    /*  stages: a pipeline unless depends_on says otherwise; ordered */
    CHECK(strcmp(s_try("stages:\n  - {name: review, type: reviewer, task: r, depends_on: [test]}\n"
                       "  - {name: arch, type: architect, task: a, depends_on: []}\n"
                       "  - {name: code, task: c}\n  - {name: test, type: tester, task: t}\n",
                       &p, &errors), "") == 0);
    CHECK(p.n == 4);
    CHECK(strcmp(p.tasks[0].task.id, "arch") == 0 && strcmp(p.tasks[1].task.id, "code") == 0);
    CHECK(strcmp(p.tasks[2].task.id, "test") == 0 && strcmp(p.tasks[3].task.id, "review") == 0);
    CHECK(p.tasks[1].task.after.n == 1 && strcmp(p.tasks[1].task.after.v[0], "arch") == 0);
    sw_plan_release(&p);

    /*  steps: barriers, TYPE-N ids, aggregate */
    CHECK(strcmp(s_try("steps:\n  - swarm_init: {topology: hierarchical, maxAgents: 5}\n"
                       "  - spawn_workers: [{type: architect, task: design}]\n"
                       "  - wait_for: design\n"
                       "  - spawn_workers: [{type: coder, count: 2, task: build}]\n"
                       "  - wait_for: coders\n  - spawn: tester\n  - aggregate_results\n",
                       &p, &errors), "") == 0);
    CHECK(p.n == 5 && p.max_agents == 5 && strcmp(p.topology, "hierarchical") == 0);
    CHECK(strcmp(p.tasks[1].task.id, "coder-1") == 0 && strcmp(p.tasks[2].task.id, "coder-2") == 0);
    CHECK(p.tasks[1].task.after.n == 1 && strcmp(p.tasks[1].task.after.v[0], "architect-1") == 0);
    CHECK(strcmp(p.tasks[3].task.id, "tester") == 0 && strcmp(p.tasks[3].task.type, "tester") == 0);
    CHECK(p.tasks[3].task.after.n == 3);
    CHECK(strcmp(p.tasks[4].task.id, "aggregate") == 0 && p.tasks[4].task.after.n == 4);
    sw_plan_release(&p);

    /*  validation errors, with positions */
    CHECK(strcmp(s_try("workers:\n  - {id: a, task: x, dependson: [b]}\n", &p, &errors),
                 "p.yaml:2:22: unknown key 'dependson' in workers (known: id, name, type, task, "
                 "runner, command, timeout, idle_timeout, max_attempts, max_turns, "
                 "max_budget_usd, labels, env, dir, depends_on, workspace, outputs, "
                 "resources)") == 0);
    CHECK(strcmp(s_try("workers:\n  - {id: a, task: x}\n  - {id: a, task: y}\n", &p, &errors),
                 "p.yaml:3:5: duplicate id 'a' (first at line 2)") == 0);
    /*  found by fuzz_plan: a key given twice leaked and misplaced positions */
    CHECK(strcmp(s_try("workers:\n  - id: a\n    task: x\n    depends_on: [b]\n"
                       "    depends_on: [c]\n", &p, &errors),
                 "p.yaml:5:5: duplicate key 'depends_on' (first at line 4)") == 0);
    CHECK(strcmp(s_try("workers:\n  - {id: a, task: x, depends_on: [b], after: [c]}\n"
                       "  - {id: b, task: y}\n  - {id: c, task: z}\n", &p, &errors),
                 "p.yaml:2:39: depends_on and after are one key: give one of them") == 0);
    CHECK(strcmp(s_try("workers:\n  - id: a\n    task: x\n    depends_on: [a2]\n", &p, &errors),
                 "p.yaml:4:18: 'a' depends on 'a2', which is not a task of this plan") == 0);
    CHECK(strcmp(s_try("stages:\n  - {name: a, task: x, depends_on: [c]}\n"
                       "  - {name: b, task: y, depends_on: [a]}\n"
                       "  - {name: c, task: z, depends_on: [b]}\n", &p, &errors),
                 "p.yaml:2:5: dependency cycle: a -> c -> b -> a (each depends on the next)") == 0);
    /*  A NUL byte (YAML "\0", JSON "\u0000") would cut a C string short:
     *  id "a\0b" ran as task "a", a prompt lost its tail. Refused. */
    CHECK(strcmp(s_try("workers:\n  - {id: \"a\\0b\", type: coder, task: t}\n", &p, &errors),
                 "p.yaml:2:10: a string with a NUL byte (\\0 or \\u0000): not allowed") == 0);
    CHECK(strcmp(s_try("{\"workers\": [{\"id\": \"ok\", \"type\": \"coder\", "
                       "\"task\": \"t\\u0000x\"}]}", &p, &errors),
                 "p.yaml:1:52: a string with a NUL byte (\\0 or \\u0000): not allowed") == 0);
    {
        /*  A cycle of 100,000: found without recursion, and said in a line
         *  (its ends and its length), not cut off mid-way at 512 bytes. */
        sw_buf_t y;
        sw_buf_init(&y);
        sw_buf_addstr(&y, "workers:\n");
        for (int i = 0; i < 100000; i++)
            sw_buf_printf(&y, "  - {id: w%d, type: coder, task: t, depends_on: [w%d]}\n", i,
                          (i + 1) % 100000);
        const char *e = s_try(y.data, &p, &errors);
        CHECK(strcmp(e, "p.yaml:2:5: dependency cycle of 100000 tasks: w0 -> w1 -> w2 -> w3 -> "
                        "... -> w99998 -> w99999 -> w0 (each depends on the next)") == 0);
        sw_buf_release(&y);
    }
    CHECK(strcmp(s_try("workers:\n  - {id: a, type: dev, task: x}\n", &p, &errors),
                 "p.yaml:2:5: a: unknown type 'dev' (coder, tester, reviewer, docs, architect, cmd)")
          == 0);
    CHECK(strcmp(s_try("workers:\n  - {id: a, task: x, timeout: soon}\n", &p, &errors),
                 "p.yaml:2:31: timeout must be a whole number from 1 to 604800 (got 'soon')") == 0);
    CHECK(strcmp(s_try("workers:\n  - {id: a, task: x, runner: claude, max_budget_usd: 1.505}\n",
                       &p, &errors),
                 "p.yaml:2:54: max_budget_usd must be dollars with at most two decimals, like "
                 "2.50 (got '1.505')") == 0);
    CHECK(strcmp(s_try("workers:\n  - {id: a, task: x, max_turns: 3}\n", &p, &errors),
                 "p.yaml:2:5: a: max_turns and max_budget_usd are limits of the claude runner "
                 "(codex exec has neither: bound it with a timeout)") == 0);
    CHECK(strcmp(s_try("workers:\n  - {id: a, task: x, runner: claude, max_turns: 3,\n"
                       "      max_budget_usd: 0.5}\n", &p, &errors), "") == 0);
    CHECK(p.n == 1 && p.tasks[0].task.max_turns == 3 && p.tasks[0].task.max_budget_cents == 50);
    sw_plan_release(&p);
    /*  workspaces: a job's, a task's own, and output globs */
    CHECK(strcmp(s_try("workspace: ..\nworkers:\n  - {id: a, task: x, outputs: ['*.o', "
                       "'lib/*.a']}\n  - {id: b, task: y, workspace: /srv/other}\n", &p,
                       &errors), "") == 0);
    CHECK(p.workspace && strcmp(p.workspace, "..") == 0 && p.n == 2);
    CHECK(p.tasks[0].task.outputs.n == 2 && strcmp(p.tasks[0].task.outputs.v[1], "lib/*.a") == 0);
    CHECK(!p.tasks[0].workspace && strcmp(p.tasks[1].workspace, "/srv/other") == 0);
    sw_plan_release(&p);
    /*  resources (issue 18 §3): a list of names, checked with the task */
    CHECK(strcmp(s_try("workers:\n  - {id: a, task: x, resources: [gpu, licence.x]}\n", &p,
                       &errors), "") == 0);
    CHECK(p.n == 1 && p.tasks[0].task.resources.n == 2
          && strcmp(p.tasks[0].task.resources.v[1], "licence.x") == 0);
    sw_plan_release(&p);
    CHECK(strstr(s_try("workers:\n  - {id: a, task: x, resources: ['a b']}\n", &p, &errors),
                 "invalid resource name 'a b'"));
    sw_plan_release(&p);
    CHECK(strcmp(s_try("workers:\n  - {id: a, task: [x]}\n", &p, &errors),
                 "p.yaml:2:19: task must be a string, not a list") == 0);
    CHECK(strcmp(s_try("workers:\n  - {id: a, task: x}\nstagez: []\n", &p, &errors),
                 "p.yaml:3:1: unknown key 'stagez' (known: name, description, max_agents, "
                 "namespace, on_failure, template, topology, strategy, hooks, workspace, "
                 "workers, stages, steps, aggregate, max_cost_usd, max_tokens, on_budget)") == 0);
    /*  the job's budget (issue 18) */
    CHECK(strcmp(s_try("max_cost_usd: 0.07\nmax_tokens: 5000\non_budget: finish\n"
                       "workers:\n  - {id: a, task: x}\n", &p, &errors), "") == 0);
    CHECK(p.max_micro_usd == 70000 && p.max_tokens == 5000 && p.budget_finish);
    sw_plan_release(&p);
    CHECK(strcmp(s_try("max_cost_usd: -1\nworkers:\n  - {id: a, task: x}\n", &p, &errors),
                 "p.yaml:1:15: max_cost_usd must be dollars above 0 and at most 1000000, "
                 "at most 6 decimals (got '-1')") == 0);
    CHECK(strstr(s_try("max_cost_usd: .nan\nworkers:\n  - {id: a, task: x}\n", &p, &errors),
                 "max_cost_usd must be") != NULL);
    CHECK(strstr(s_try("on_budget: later\nworkers:\n  - {id: a, task: x}\n", &p, &errors),
                 "on_budget must be stop or finish") != NULL);
    CHECK(strncmp(s_try("workers:\n  - {id: a, task: x\n", &p, &errors), "p.yaml:3:1: YAML: ",
                  18) == 0);
    CHECK(strcmp(s_try("name: x\n", &p, &errors), "p.yaml:1:1: a plan needs workers:, stages: "
                 "or steps:") == 0);
    CHECK(strcmp(s_try("on_failure: halt\nworkers: [{id: a, task: x}]\n", &p, &errors),
                 "p.yaml:1:13: on_failure must be stop or continue (got 'halt')") == 0);
    CHECK(strcmp(s_try("workers:\n  - {id: a}\n", &p, &errors),
                 "p.yaml:2:5: a: the codex runner needs a prompt") == 0);
    /*  all errors are reported, not just the first */
    s_try("workers:\n  - {id: a, bogus: 1, task: x}\n  - {id: b, type: dev, task: y}\n",
          &p, &errors);
    CHECK(errors.n == 1);      /*  key errors stop before task checks */
    s_try("workers:\n  - {id: a, bogus: 1, task: x}\n  - {id: b, other: 2, task: y}\n",
          &p, &errors);
    CHECK(errors.n == 2);

    /*  hooks: argv lists or shell-split strings, a timeout; errors placed */
    CHECK(strcmp(s_try("hooks:\n  pre:\n    - echo 'starting the job'\n    - [swarm, init]\n"
                       "  post: swarm memory list --namespace results\n  timeout: 60\n"
                       "workers: [{id: a, task: x}]\n", &p, &errors), "") == 0);
    CHECK(p.hooks.npre == 2 && p.hooks.npost == 1 && p.hooks.timeout_s == 60);
    CHECK(p.hooks.pre[0].n == 2 && strcmp(p.hooks.pre[0].v[1], "starting the job") == 0);
    CHECK(p.hooks.pre[1].n == 2 && strcmp(p.hooks.pre[1].v[0], "swarm") == 0);
    CHECK(p.hooks.post[0].n == 5 && strcmp(p.hooks.post[0].v[4], "results") == 0);
    sw_plan_release(&p);
    CHECK(p.hooks.npre == 0 && p.hooks.pre == NULL);
    CHECK(strcmp(s_try("hooks: {pre: [echo], before: [x]}\nworkers: [{id: a, task: x}]\n",
                       &p, &errors),
                 "p.yaml:1:22: unknown key 'before' in hooks (known: pre, post, timeout)") == 0);
    CHECK(strcmp(s_try("hooks: {pre: [\"echo 'open\"]}\nworkers: [{id: a, task: x}]\n",
                       &p, &errors), "p.yaml:1:15: hooks.pre: unterminated single quote") == 0);
    CHECK(strcmp(s_try("hooks: {post: [\"\"]}\nworkers: [{id: a, task: x}]\n", &p, &errors),
                 "p.yaml:1:16: hooks.post: an empty command") == 0);
    CHECK(strcmp(s_try("hooks: {post: [{a: b}]}\nworkers: [{id: a, task: x}]\n", &p, &errors),
                 "p.yaml:1:16: each hooks.post entry is a command (a string or a list of "
                 "strings), not a mapping (YAML reads an unquoted 'a: b' as a mapping: quote "
                 "the command, or give it as a list)") == 0);
    CHECK(strcmp(s_try("hooks: {timeout: 0}\nworkers: [{id: a, task: x}]\n", &p, &errors),
                 "p.yaml:1:18: hooks.timeout must be a whole number from 1 to 86400 (got '0')")
          == 0);
    CHECK(strcmp(s_try("hooks: [echo]\nworkers: [{id: a, task: x}]\n", &p, &errors),
                 "p.yaml:1:8: hooks must be a mapping (pre, post, timeout), not a list") == 0);

    /*  shell-like splitting, no shell */
    sw_strv_t argv = { 0 };
    const char *why;
    CHECK(sw_shlex("gcc -c 'a b.c' \"x \\\"y\\\"\" c\\ d $HOME # note", &argv, &why) == 0);
    CHECK(argv.n == 6 && strcmp(argv.v[2], "a b.c") == 0 && strcmp(argv.v[3], "x \"y\"") == 0);
    CHECK(strcmp(argv.v[4], "c d") == 0 && strcmp(argv.v[5], "$HOME") == 0);
    sw_strv_release(&argv);
    CHECK(sw_shlex("echo ''", &argv, &why) == 0 && argv.n == 2 && argv.v[1][0] == '\0');
    sw_strv_release(&argv);
    CHECK(sw_shlex("echo 'open", &argv, &why) < 0 && strcmp(why, "unterminated single quote") == 0);
    sw_strv_release(&argv);

    const char *cmds = "# build\ncc -c a.c\n\ncc -c 'b c.c'\necho \"oops\n";
    sw_strv_release(&errors);
    CHECK(sw_plan_commands("cmds", cmds, strlen(cmds), &p, &errors) < 0);
    CHECK(errors.n == 1 && strcmp(errors.v[0], "cmds:5:1: unterminated double quote") == 0);
    sw_strv_release(&errors);
    CHECK(sw_plan_commands("cmds", cmds, strlen(cmds) - 12, &p, &errors) == 0);
    CHECK(p.n == 2 && strcmp(p.tasks[0].task.id, "cmd-2") == 0 && strcmp(p.tasks[1].task.id, "cmd-4") == 0);
    CHECK(strcmp(p.tasks[1].task.argv.v[2], "b c.c") == 0 && strcmp(p.tasks[1].task.runner, "exec") == 0);
    sw_plan_release(&p);
    /*  "true\0 x": ran as "true", the rest of the line dropped. */
    sw_strv_release(&errors);
    CHECK(sw_plan_commands("cmds", "true\0 x\n", 8, &p, &errors) < 0);
    CHECK(errors.n == 1 && strcmp(errors.v[0], "cmds:1:5: a NUL byte: a command line is text")
          == 0);
    sw_strv_release(&errors);

    sw_buf_t kw;
    sw_buf_init(&kw);
    sw_plan_keywords("Implement the JWT login API with refresh tokens, with tests; login!", 8, &kw);
    CHECK(strcmp(kw.data, "implement, login, refresh, tokens, tests") == 0);
    sw_buf_release(&kw);
    sw_strv_release(&errors);
    (void) verbose;
    return 0;
}
