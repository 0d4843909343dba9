/*  cli_pages -- listings of any size from the coordinator, page by page
 *  (cli_ctl.h). */
#include <stdio.h>
#include <string.h>

#include "cli_ctl.h"

/*  Prints the members of o (an object) as they would sit inside an
 *  indented document, each preceded by ",\n" except the very first of the
 *  document (*first). */
static void
s_members(json_t *o, bool *first)
{
    const char *key;
    json_t *v;
    json_object_foreach(o, key, v) {
        json_t *kj = json_string(key);
        char *ks = json_dumps(kj, JSON_ENCODE_ANY);
        json_decref(kj);
        char *vs = json_dumps(v, JSON_ENCODE_ANY | JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15));
        /*  nested lines one level deeper */
        printf("%s\n  %s: ", *first ? "" : ",", ks ? ks : "\"?\"");
        for (const char *p = vs ? vs : "null"; *p; p++) {
            putchar(*p);
            if (*p == '\n')
                fputs("  ", stdout);
        }
        *first = false;
        free(ks);
        free(vs);
    }
}

int
cli_print_listing(cli_t *cli, int cmd, cli_page_req_fn *build, void *arg, int64_t max_rows,
                  json_t *tail)
{
    int64_t offset = 0, rows = 0;
    bool started = false, first = true;
    int rc = 0;
    for (;;) {
        msgpack_sbuffer sb;
        msgpack_sbuffer_init(&sb);
        msgpack_packer pk;
        sw_mp_packer_init(&pk, &sb);
        build(&pk, arg, offset);
        sw_msg_t reply;
        rc = cli_request(cli, cmd, &sb, cli->timeout_ms, &reply);
        msgpack_sbuffer_destroy(&sb);
        if (rc)
            break;
        if (!started) {
            json_t *head = cli_mp_to_json(reply.body);
            json_object_del(head, "tasks");
            json_object_del(head, "offset");
            json_object_del(head, "next");
            putchar('{');
            s_members(head, &first);
            json_decref(head);
            printf("%s\n  \"tasks\": [", first ? "" : ",");
            first = false;
            started = true;
        }
        const msgpack_object *tasks = sw_mp_find(reply.body, "tasks");
        uint32_t n = tasks && tasks->type == MSGPACK_OBJECT_ARRAY ? tasks->via.array.size : 0;
        for (uint32_t i = 0; i < n && (max_rows <= 0 || rows < max_rows); i++, rows++) {
            /*  As cli_print_json would print it inside the document
             *  (JSON_INDENT(2)): scripts that grep it see the same lines. */
            json_t *t = cli_mp_to_json(&tasks->via.array.ptr[i]);
            char *ts = json_dumps(t, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15));
            printf("%s\n    ", rows ? "," : "");
            for (const char *p = ts ? ts : "null"; *p; p++) {
                putchar(*p);
                if (*p == '\n')
                    fputs("    ", stdout);
            }
            free(ts);
            json_decref(t);
        }
        const msgpack_object *next = sw_mp_find(reply.body, "next");
        int64_t at = next && next->type == MSGPACK_OBJECT_POSITIVE_INTEGER
                   ? (int64_t) next->via.u64 : -1;
        sw_msg_release(&reply);
        if (at <= offset || (max_rows > 0 && rows >= max_rows))
            break;
        offset = at;
    }
    if (started && rc == 0) {
        printf("%s]", rows ? "\n  " : "");
        if (tail)
            s_members(tail, &first);
        printf("\n}\n");
    }
    else if (started)
        putchar('\n');          /*  cut short: the error is on stderr */
    json_decref(tail);
    return rc;
}
