/*  cli_ws_outputs -- swarm outputs: the tasks' declared build outputs
 *  written below a destination, never outside it (docs/workspaces.md,
 *  "Bringing it home").
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "cli_ws.h"
#include "sw_ws.h"

/*  --- outputs ---------------------------------------------------------------------- */

/*  Opens (creating) the directories of path below dest, never through a
 *  symlink: the fd of the last one, its name in *leaf. -1 after err. */
static int
s_open_parent(int dest, const char *shown, const char *path, const char **leaf, sw_err_t *err)
{
    int fd = dup(dest);
    const char *p = path;
    for (;;) {
        const char *slash = strchr(p, '/');
        if (!slash) {
            *leaf = p;
            return fd;
        }
        char *comp = xstrndup(p, (size_t) (slash - p));
        int next = openat(fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (next < 0 && errno == ENOENT && mkdirat(fd, comp, 0755) == 0)
            next = openat(fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (next < 0) {
            sw_err_set(err, SW_EFAIL, "refusing %s: %s/%.*s is %s", path, shown,
                       (int) (slash - path), path,
                       errno == ELOOP || errno == ENOTDIR ? "a symlink or not a directory "
                       "(an output never goes through one)" : strerror(errno));
            free(comp);
            close(fd);
            return -1;
        }
        free(comp);
        close(fd);
        fd = next;
        p = slash + 1;
    }
}

typedef struct {
    int fd;
} s_out_t;

static int
s_sink_fd(void *arg, const void *data, size_t n, sw_err_t *err)
{
    s_out_t *o = arg;
    const char *d = data;
    while (n > 0) {
        ssize_t w = write(o->fd, d, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return sw_err_set(err, SW_EFAIL, "write: %s", strerror(errno));
        d += w;
        n -= (size_t) w;
    }
    return 0;
}

/*  Writes one output below dest: through a temporary file renamed over
 *  the name (a symlink there is replaced, never followed). */
static int
s_write_output(sw_cas_t *cas, int dest, const char *shown, const json_t *f, sw_err_t *err)
{
    const char *path = json_string_value(json_object_get(f, "path"));
    if (sw_ws_output_problem(path))     /*  checked before; never written */
        return sw_err_set(err, SW_EFAIL, "refusing output path '%s' below %s",
                          path ? path : "", shown);
    const char *leaf;
    int dir = s_open_parent(dest, shown, path, &leaf, err);
    if (dir < 0)
        return -1;
    unsigned char rnd[6];
    if (getrandom(rnd, sizeof rnd, 0) != (ssize_t) sizeof rnd)
        memset(rnd, 0, sizeof rnd);
    char tmp[64];
    snprintf(tmp, sizeof tmp, ".swarm-out.%02x%02x%02x%02x%02x%02x", rnd[0], rnd[1], rnd[2],
             rnd[3], rnd[4], rnd[5]);
    int mode = (int) json_integer_value(json_object_get(f, "mode")) == 0755 ? 0755 : 0644;
    s_out_t o = { openat(dir, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600) };
    int rc = 0;
    if (o.fd < 0)
        rc = sw_err_set(err, SW_EFAIL, "%s/%s: %s", shown, path, strerror(errno));
    else {
        rc = sw_cas_read(cas, f, s_sink_fd, &o, err);
        if (rc == 0 && fchmod(o.fd, (mode_t) mode) < 0)
            rc = sw_err_set(err, SW_EFAIL, "%s/%s: %s", shown, path, strerror(errno));
        if (close(o.fd) < 0 && rc == 0)
            rc = sw_err_set(err, SW_EFAIL, "%s/%s: %s", shown, path, strerror(errno));
        if (rc == 0 && renameat(dir, tmp, dir, leaf) < 0)
            rc = sw_err_set(err, SW_EFAIL, "%s/%s: %s", shown, path, strerror(errno));
        if (rc < 0)
            unlinkat(dir, tmp, 0);
    }
    close(dir);
    return rc;
}

int
cli_outputs(cli_t *cli, int argc, char **argv)
{
    static const char usage[] =
        "usage: swarm outputs [--job JOB] [--dest DIR] [ID...]\n"
        "Writes the declared build outputs (spawn --output, run --outputs) of every\n"
        "succeeded task of the job, or of the named ones, below DIR (default: here),\n"
        "with their paths and modes. Each file is checked against its SHA-256; a\n"
        "path that would leave DIR, also through a symlink in DIR, is refused.\n";
    static const sw_arg_t lo[] = {
        { "job", 0, true, 'j' }, { "dest", 0, true, 'd' }, { NULL, 0, false, 0 },
    };
    const char *jobflag = NULL, *destdir = ".";
    int c, rc = 0;
    cli_args_t a;
    cli_args_init(&a, cli, "outputs", lo, argc, argv, 0);
    while (rc == 0 && (c = cli_args_next(&a)) != -1) {
        switch (c) {
        case 'j': jobflag = a.g.arg; break;
        case 'd': destdir = a.g.arg; break;
        case 'h': fputs(usage, stdout); rc = -1; break;
        default: rc = EXIT_USAGE;
        }
    }
    int nids = a.g.npos;
    char **ids = a.g.pos;
    int dest = -1;
    if (rc == 0 && !*destdir)
        rc = cli_fail(EXIT_USAGE, "outputs: --dest is empty (name a directory; . is the "
                      "default)");
    char *job = NULL;
    cli_ws_task_t *tasks = NULL;
    size_t n = 0;
    if (rc == 0)
        rc = cli_ws_open(cli, jobflag, &job, &tasks, &n);
    if (rc) {
        cli_args_release(&a);
        return rc < 0 ? 0 : rc;
    }
    for (int k = 0; rc == 0 && k < nids; k++)
        if (!cli_ws_find(tasks, n, ids[k]))
            rc = cli_fail(EXIT_NOT_FOUND, "outputs: no task '%s' in job %s", ids[k], job);
    sw_cas_t cas;
    sw_cas_init(&cas, cli->redis, NULL, 0);
    /*  Every manifest first: a path two tasks produced differently is an
     *  error before anything is written. */
    json_t *plan = json_object();       /*  path -> {task, file} */
    json_t *manifests = json_array();
    for (size_t i = 0; rc == 0 && i < n; i++) {
        bool named = nids == 0;
        for (int k = 0; k < nids && !named; k++)
            named = strcmp(ids[k], tasks[i].id) == 0;
        const char *digest = json_string_value(json_object_get(tasks[i].result,
                                                               "outputs_manifest"));
        if (!named || !digest)
            continue;
        if (nids == 0 && (!tasks[i].status || strcmp(tasks[i].status, "succeeded") != 0))
            continue;
        sw_buf_t text;
        sw_buf_init(&text);
        sw_err_t err = { 0 };
        json_t *doc = NULL;
        if (sw_cas_get(&cas, digest, SW_CAS_DOC_MAX, &text, &err) == 0)
            doc = json_loadb(text.data, text.len, 0, NULL);
        sw_buf_release(&text);
        json_t *files = json_object_get(doc, "files");
        if (!json_is_array(files)) {
            rc = cli_fail(err.code == SW_ENOTFOUND ? EXIT_NOT_FOUND : err.code == SW_EUNREACH
                          ? EXIT_UNREACHABLE : EXIT_TASKS_FAILED, "outputs: task %s: %s",
                          tasks[i].id, err.code ? err.msg : "its outputs manifest is malformed");
            json_decref(doc);
            break;
        }
        json_array_append_new(manifests, doc);
        size_t k;
        json_t *f;
        json_array_foreach(files, k, f) {
            const char *path = json_string_value(json_object_get(f, "path"));
            /*  Every path of every task checked before a byte is written. */
            const char *why = sw_ws_output_problem(path);
            if (why) {
                char *q = sw_ws_path_quote(path ? path : "");
                rc = cli_fail(EXIT_TASKS_FAILED, "outputs: task %s: refusing output path '%s': "
                              "it %s; nothing was written", tasks[i].id, q, why);
                free(q);
                break;
            }
            json_t *prev = json_object_get(plan, path);
            if (prev && strcmp(json_string_value(json_object_get(json_object_get(prev, "file"),
                                                                 "sha256")),
                               json_string_value(json_object_get(f, "sha256"))) != 0) {
                rc = cli_fail(EXIT_TASKS_FAILED, "outputs: %s is an output of both %s and %s, "
                              "with different content; nothing was written", path,
                              json_string_value(json_object_get(prev, "task")), tasks[i].id);
                break;
            }
            json_object_set_new(plan, path, json_pack("{s:s, s:O}", "task", tasks[i].id,
                                                      "file", f));
        }
    }
    /*  A path one task writes as a file and another as a directory
     *  ("k.o" and "k.o/y.o"): refused before anything is written too */
    const char *path;
    json_t *entry;
    json_object_foreach(plan, path, entry) {
        for (const char *sl = strchr(path, '/'); rc == 0 && sl; sl = strchr(sl + 1, '/')) {
            char *dir = xstrndup(path, (size_t) (sl - path));
            json_t *file = json_object_get(plan, dir);
            if (file)
                rc = cli_fail(EXIT_TASKS_FAILED, "outputs: %s is a file of %s and a directory "
                              "of %s's %s; nothing was written", dir,
                              json_string_value(json_object_get(file, "task")),
                              json_string_value(json_object_get(entry, "task")), path);
            free(dir);
        }
        if (rc)
            break;
    }
    /*  DEST once everything is known to be writable in it (a job or task
     *  not found leaves no directory behind); its parents too (mkdir -p):
     *  "--dest out/objs" in a fresh clone */
    for (char *p = rc == 0 ? strchr(destdir + 1, '/') : NULL; p; p = strchr(p + 1, '/')) {
        char *parent = xstrndup(destdir, (size_t) (p - destdir));
        (void) mkdir(parent, 0755);     /*  an error shows at DEST itself below */
        free(parent);
    }
    if (rc == 0 && mkdir(destdir, 0755) < 0 && errno != EEXIST)
        rc = cli_fail(EXIT_USAGE, "outputs: --dest %s: %s", destdir, strerror(errno));
    if (rc == 0 && (dest = open(destdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
        rc = cli_fail(EXIT_USAGE, "outputs: --dest %s: %s", destdir, strerror(errno));
    json_t *written = json_array();
    json_object_foreach(plan, path, entry) {
        if (rc)
            break;
        json_t *f = json_object_get(entry, "file");
        sw_err_t err = { 0 };
        if (s_write_output(&cas, dest, destdir, f, &err) < 0) {
            rc = cli_fail(cli_redis_exit(&err), "outputs: task %s: %s",
                          json_string_value(json_object_get(entry, "task")), err.msg);
            break;
        }
        json_array_append_new(written, json_pack("{s:s, s:s, s:O, s:O, s:O}", "task",
                                                 json_string_value(json_object_get(entry, "task")),
                                                 "path", path, "size", json_object_get(f, "size"),
                                                 "sha256", json_object_get(f, "sha256"),
                                                 "mode", json_object_get(f, "mode")));
    }
    if (rc == 0) {
        if (cli->json)
            cli_print_json(json_pack("{s:s, s:s, s:O}", "job", job, "dest", destdir, "files",
                                     written));
        else {
            size_t i;
            json_t *w;
            json_array_foreach(written, i, w)
                printf("%s\t%s\n", json_string_value(json_object_get(w, "task")),
                       json_string_value(json_object_get(w, "path")));
            fprintf(stderr, "swarm: %zu output%s written below %s\n", json_array_size(written),
                    json_array_size(written) == 1 ? "" : "s", destdir);
        }
    }
    json_decref(written);
    json_decref(plan);
    json_decref(manifests);
    if (dest >= 0)
        close(dest);
    cli_args_release(&a);
    cli_ws_tasks_free(tasks, n);
    free(job);
    return rc;
}
