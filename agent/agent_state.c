/*  agent_state -- see agent_state.h */
#include "agent_state.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sw_selftest.h"

struct agent_state_t {
    char         *dir;
    char         *run_dir;
    char         *key_path;
    int           lock_fd;
    unsigned char key[AGENT_STATE_KEY_BYTES];
};

char *
agent_id_dirname(const char *id, sw_err_t *err)
{
    sw_buf_t name;
    sw_buf_init(&name);
    for (const char *p = id; *p; p++)
        if (*p == '/')
            sw_buf_addstr(&name, "%2F");
        else
            sw_buf_add(&name, p, 1);
    if (name.len > NAME_MAX) {
        /*  '/' takes three bytes: an id of 128 may not fit one component */
        sw_err_set(err, SW_EINVAL, "the agent id %s makes a directory name of %zu bytes ('/' "
                   "is written %%2F), over the %d a name may have: give --state-dir DIR", id,
                   name.len, NAME_MAX);
        sw_buf_release(&name);
        return NULL;
    }
    return name.data ? name.data : xstrdup("");
}

char *
agent_state_default(const char *id, uid_t euid, const char *state_directory,
                    const char *xdg_state_home, const char *home, sw_err_t *err)
{
    if (state_directory && *state_directory) {
        /*  systemd sets a colon-separated list for several StateDirectory= */
        return xstrndup(state_directory, strcspn(state_directory, ":"));
    }
    char *name = agent_id_dirname(id, err);
    if (!name)
        return NULL;
    char *dir = NULL;
    if (euid == 0)
        dir = xasprintf("/var/lib/swarm-agent/%s", name);
    else if (xdg_state_home && xdg_state_home[0] == '/')
        dir = xasprintf("%s/swarm-agent/%s", xdg_state_home, name);
    else if (home && home[0] == '/')
        dir = xasprintf("%s/.local/state/swarm-agent/%s", home, name);
    else
        sw_err_set(err, SW_EINVAL, "no place for the agent's state: HOME is not set "
                   "(give --state-dir DIR)");
    free(name);
    return dir;
}

char *
agent_path_resolve(const char *path)
{
    char *abs;
    if (path[0] == '/')
        abs = xstrdup(path);
    else {
        char cwd[PATH_MAX];
        if (!getcwd(cwd, sizeof cwd))
            return NULL;
        abs = xasprintf("%s/%s", cwd, path);
    }
    /*  the longest prefix that exists, resolved */
    size_t cut = strlen(abs);
    char *real = NULL;
    for (;;) {
        char c = abs[cut];
        abs[cut] = '\0';
        real = realpath(cut ? abs : "/", NULL);
        abs[cut] = c;
        if (real || errno != ENOENT || cut == 0)
            break;
        while (cut > 0 && abs[cut - 1] != '/')
            cut--;
        while (cut > 0 && abs[cut - 1] == '/')
            cut--;
    }
    if (!real) {
        free(abs);
        return NULL;
    }
    /*  the rest, component by component */
    sw_buf_t b;
    sw_buf_init(&b);
    sw_buf_addstr(&b, strcmp(real, "/") == 0 ? "" : real);
    free(real);
    for (char *p = abs + cut; *p; ) {
        while (*p == '/')
            p++;
        size_t n = strcspn(p, "/");
        if (n == 0 || (n == 1 && p[0] == '.'))
            ;
        else if (n == 2 && p[0] == '.' && p[1] == '.') {
            char *slash = b.data ? strrchr(b.data, '/') : NULL;
            if (slash) {
                b.len = (size_t) (slash - b.data);
                b.data[b.len] = '\0';
            }
        }
        else {
            sw_buf_addstr(&b, "/");
            sw_buf_add(&b, p, n);
        }
        p += n;
    }
    free(abs);
    if (b.len == 0)
        sw_buf_addstr(&b, "/");
    return b.data;
}

bool
agent_path_inside(const char *path, const char *dir)
{
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/')
        n--;
    if (n == 1 && dir[0] == '/')
        return path[0] == '/';
    return strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/*  mkdir -p with mode 0700 for what it creates. */
static int
s_mkdirs(const char *dir, sw_err_t *err)
{
    char *p = xstrdup(dir);
    int rc = 0;
    for (char *s = p + 1; ; s++) {
        if (*s != '/' && *s != '\0')
            continue;
        char c = *s;
        *s = '\0';
        if (mkdir(p, 0700) < 0 && errno != EEXIST) {
            rc = sw_err_set(err, SW_EFAIL, "cannot create %s: %s", p, strerror(errno));
            break;
        }
        *s = c;
        if (c == '\0')
            break;
    }
    free(p);
    return rc;
}

int
agent_state_check_dir(const char *dir, sw_err_t *err)
{
    struct stat st;
    if (lstat(dir, &st) < 0)
        return sw_err_set(err, SW_EFAIL, "%s: %s", dir, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return sw_err_set(err, SW_EINVAL, "%s is not a directory", dir);
    if (st.st_uid != geteuid())
        return sw_err_set(err, SW_EINVAL, "%s belongs to uid %d, not to this agent (uid %d)",
                          dir, (int) st.st_uid, (int) geteuid());
    if (st.st_mode & (S_IWGRP | S_IWOTH))
        return sw_err_set(err, SW_EINVAL, "%s is writable by others (mode %04o): the agent's "
                          "state must be private", dir, (unsigned) (st.st_mode & 07777));
    if (st.st_mode & 077) {
        if (chmod(dir, 0700) < 0)
            return sw_err_set(err, SW_EFAIL, "chmod 0700 %s: %s", dir, strerror(errno));
        log_info("%s was readable by others (mode %04o): now 0700", dir,
                 (unsigned) (st.st_mode & 07777));
    }
    return agent_path_check_above(dir, "the agent's state must be private", err);
}

int
agent_path_check_above(const char *path, const char *why, sw_err_t *err)
{
    /*  Whoever can write a directory above can put another in its place.
     *  Those not made yet are skipped: the agent makes them, mode 0700. */
    struct stat st;
    char *p = xstrdup(path);
    int rc = 0;
    for (char *slash = strrchr(p, '/'); slash; slash = strrchr(p, '/')) {
        if (slash == p)
            slash[1] = '\0';
        else
            *slash = '\0';
        if (stat(p, &st) < 0) {
            if (errno == ENOENT && strcmp(p, "/") != 0)
                continue;
            rc = sw_err_set(err, SW_EFAIL, "%s: %s", p, strerror(errno));
            break;
        }
        bool sticky = st.st_mode & S_ISVTX;
        if ((st.st_uid != 0 && st.st_uid != geteuid())
            || (!sticky && (st.st_mode & S_IWOTH))
            || (!sticky && (st.st_mode & S_IWGRP) && st.st_gid != getegid())) {
            rc = sw_err_set(err, SW_EINVAL, "%s is under %s, which others can change (owner "
                            "uid %d, mode %04o): %s", path, p, (int) st.st_uid,
                            (unsigned) (st.st_mode & 07777), why);
            break;
        }
        if (strcmp(p, "/") == 0)
            break;
    }
    free(p);
    return rc;
}

/*  Makes the directories again if something removed them. */
static int
s_make_dirs(agent_state_t *self, sw_err_t *err)
{
    if (s_mkdirs(self->dir, err) < 0 || s_mkdirs(self->run_dir, err) < 0)
        return -1;
    return 0;
}

/*  Loads the key, or creates it (O_EXCL: never over a file someone put
 *  there). */
static int
s_key(agent_state_t *self, bool create_only, sw_err_t *err)
{
    int fd = create_only ? -1 : open(self->key_path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd >= 0) {
        struct stat st;
        ssize_t n = -1;
        if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == geteuid()
            && !(st.st_mode & 077))
            n = read(fd, self->key, sizeof self->key);
        close(fd);
        if (n != (ssize_t) sizeof self->key)
            return sw_err_set(err, SW_EINVAL, "%s is not a key of this agent (32 bytes, mode "
                              "0600, ours): remove it to make a new one (spooled results "
                              "then fail their check)", self->key_path);
        return 0;
    }
    if (!create_only && errno != ENOENT)
        return sw_err_set(err, SW_EFAIL, "%s: %s", self->key_path, strerror(errno));
    if (!create_only)
        randombytes_buf(self->key, sizeof self->key);
    fd = open(self->key_path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0 && create_only && errno == EEXIST)
        return 0;               /*  only run/ was gone */
    bool ok = fd >= 0 && write(fd, self->key, sizeof self->key) == (ssize_t) sizeof self->key
              && fsync(fd) == 0;
    if (fd >= 0 && close(fd) < 0)
        ok = false;
    if (!ok)
        return sw_err_set(err, SW_EFAIL, "cannot write %s: %s", self->key_path, strerror(errno));
    return 0;
}

/*  Removes what an earlier agent left in run/. */
static void
s_empty_run_dir(agent_state_t *self)
{
    DIR *d = opendir(self->run_dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0
            && unlinkat(dirfd(d), e->d_name, 0) < 0)
            log_warn("cannot remove %s/%s", self->run_dir, e->d_name);
    closedir(d);
}

agent_state_t *
agent_state_open(const char *dir, const char *workdir, sw_err_t *err)
{
    if (dir[0] != '/') {
        sw_err_set(err, SW_EINVAL, "--state-dir %s must be an absolute path", dir);
        return NULL;
    }
    if (sodium_init() < 0) {
        sw_err_set(err, SW_EFAIL, "libsodium cannot start");
        return NULL;
    }
    /*  Where it will be, checked before anything is made there. */
    char *target = agent_path_resolve(dir);
    if (!target) {
        sw_err_set(err, SW_EFAIL, "--state-dir %s: %s", dir, strerror(errno));
        return NULL;
    }
    bool overlap = agent_path_inside(target, workdir) || agent_path_inside(workdir, target);
    if (overlap)
        sw_err_set(err, SW_EINVAL, "--state-dir %s and --workdir %s overlap: tasks write "
                   "under the workdir, and the agent's state must be out of their reach",
                   target, workdir);
    /*  ... and what is above it, so a refused one is not left made */
    bool unsafe = !overlap
                  && agent_path_check_above(target, "the agent's state must be private", err) < 0;
    free(target);
    if (overlap || unsafe || s_mkdirs(dir, err) < 0)
        return NULL;
    char resolved[PATH_MAX];
    if (!realpath(dir, resolved)) {
        sw_err_set(err, SW_EFAIL, "--state-dir %s: %s", dir, strerror(errno));
        return NULL;
    }
    if (agent_path_inside(resolved, workdir) || agent_path_inside(workdir, resolved)) {
        sw_err_set(err, SW_EINVAL, "--state-dir %s and --workdir %s overlap: tasks write "
                   "under the workdir, and the agent's state must be out of their reach",
                   resolved, workdir);
        return NULL;
    }
    if (agent_state_check_dir(resolved, err) < 0)
        return NULL;
    agent_state_t *self = xcalloc(1, sizeof *self);
    self->dir = xstrdup(resolved);
    self->run_dir = xasprintf("%s/run", resolved);
    self->key_path = xasprintf("%s/hmac.key", resolved);
    char *lock = xasprintf("%s/lock", resolved);
    self->lock_fd = open(lock, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    int rc = 0;
    if (self->lock_fd < 0)
        rc = sw_err_set(err, SW_EFAIL, "%s: %s", lock, strerror(errno));
    else if (flock(self->lock_fd, LOCK_EX | LOCK_NB) < 0)
        rc = sw_err_set(err, SW_EINVAL, "another agent uses the state directory %s (one "
                        "with the same --id? give each agent its own --id or --state-dir)",
                        resolved);
    free(lock);
    if (rc < 0 || s_make_dirs(self, err) < 0 || s_key(self, false, err) < 0) {
        agent_state_destroy(&self);
        return NULL;
    }
    s_empty_run_dir(self);
    return self;
}

void
agent_state_destroy(agent_state_t **self_p)
{
    agent_state_t *self = *self_p;
    if (!self)
        return;
    if (self->lock_fd >= 0)
        close(self->lock_fd);
    sodium_memzero(self->key, sizeof self->key);
    free(self->dir);
    free(self->run_dir);
    free(self->key_path);
    free(self);
    *self_p = NULL;
}

const char *
agent_state_dir(const agent_state_t *self)
{
    return self->dir;
}

void
agent_state_name(const char *job, const char *id, int64_t attempt, char hex[65])
{
    /*  NUL separates the parts: no id holds one, so no two triples meet */
    if (sodium_init() < 0)
        abort();
    sw_buf_t b;
    sw_buf_init(&b);
    sw_buf_add(&b, job, strlen(job) + 1);
    sw_buf_add(&b, id, strlen(id) + 1);
    sw_buf_printf(&b, "%lld", (long long) attempt);
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, (const unsigned char *) b.data, b.len);
    sw_buf_release(&b);
    sodium_bin2hex(hex, 65, h, sizeof h);
}

char *
agent_state_path(const agent_state_t *self, const char *job, const char *id, int64_t attempt,
                 const char *suffix)
{
    char hex[65];
    agent_state_name(job, id, attempt, hex);
    return xasprintf("%s/%s.%s", self->run_dir, hex, suffix);
}

int
agent_state_create(agent_state_t *self, const char *job, const char *id, int64_t attempt,
                   const char *suffix, char **path_out, sw_err_t *err)
{
    char *path = agent_state_path(self, job, id, attempt, suffix);
    int fd = -1;
    bool failed = false;
    for (int i = 0; i < 3 && fd < 0 && !failed; i++) {
        fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd >= 0)
            break;
        if (errno == ENOENT) {
            log_warnx("the state directory %s is gone: making it again", self->dir);
            failed = s_make_dirs(self, err) < 0 || s_key(self, true, err) < 0;
            if (failed)
                break;
        }
        else if (errno == EEXIST) {
            log_warnx("%s exists already: replacing it", path);
            unlink(path);
        }
        else
            break;
    }
    if (fd < 0) {
        if (!failed)
            sw_err_set(err, SW_EFAIL, "cannot create %s: %s", path, strerror(errno));
        free(path);
        return -1;
    }
    *path_out = path;
    return fd;
}

int
agent_state_read(const char *path, size_t max, sw_buf_t *out, bool *truncated)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return -1;
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return -1;
    }
    sw_buf_add(out, "", 0);
    char buf[65536];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            break;
        size_t room = max > out->len ? max - out->len : 0;
        if ((size_t) n > room) {
            if (truncated)
                *truncated = true;
            sw_buf_add(out, buf, room);
            break;
        }
        sw_buf_add(out, buf, (size_t) n);
    }
    close(fd);
    return 0;
}

void
agent_state_mac(const agent_state_t *self, const void *data, size_t n,
                unsigned char out[AGENT_STATE_MAC_BYTES])
{
    crypto_auth_hmacsha256(out, data, n, self->key);
}

/*  --- self-test ----------------------------------------------------------------------- */

int
agent_state_test(bool verbose)
{
    sw_err_t err = { 0 };
    /*  the default place */
    char *d = agent_state_default("a1", 0, NULL, NULL, "/root", &err);
    CHECK(d && strcmp(d, "/var/lib/swarm-agent/a1") == 0);
    free(d);
    d = agent_state_default("a1", 0, "/var/lib/swarm-agent:/var/lib/other", NULL, NULL, &err);
    CHECK(d && strcmp(d, "/var/lib/swarm-agent") == 0);
    free(d);
    d = agent_state_default("b/01", 1000, "", "/home/u/.st", "/home/u", &err);
    CHECK(d && strcmp(d, "/home/u/.st/swarm-agent/b%2F01") == 0);
    free(d);
    d = agent_state_default("b1", 1000, NULL, "relative", "/home/u", &err);
    CHECK(d && strcmp(d, "/home/u/.local/state/swarm-agent/b1") == 0);
    free(d);
    CHECK(agent_state_default("b1", 1000, NULL, NULL, NULL, &err) == NULL);
    CHECK(strstr(err.msg, "--state-dir") != NULL);
    /*  the longest id of slashes does not fit a name: said so, not ENAMETOOLONG */
    char slashes[129];
    memset(slashes, '/', 128);
    slashes[0] = 'a';
    slashes[128] = '\0';
    CHECK(agent_state_default(slashes, 0, NULL, NULL, "/root", &err) == NULL);
    CHECK(strstr(err.msg, "makes a directory name of 382 bytes") && strstr(err.msg, "--state-dir"));
    slashes[85] = '\0';             /*  1 + 84 * 3 = 253 */
    d = agent_state_default(slashes, 0, NULL, NULL, "/root", &err);
    CHECK(d && strlen(d) == strlen("/var/lib/swarm-agent/") + 253);
    free(d);
    /*  inside, component by component */
    CHECK(agent_path_inside("/var/lib/swarm/x", "/var/lib/swarm"));
    CHECK(agent_path_inside("/var/lib/swarm", "/var/lib/swarm/"));
    CHECK(!agent_path_inside("/var/lib/swarm-agent", "/var/lib/swarm"));
    CHECK(agent_path_inside("/anything", "/") && !agent_path_inside("/var", "/var/lib"));
    char *r = agent_path_resolve("/tmp/./no-such-dir-xyz/../no-such-2//x/");
    char *tmp_real = realpath("/tmp", NULL);
    char *want = xasprintf("%s/no-such-2/x", tmp_real);
    CHECK(r && strcmp(r, want) == 0);
    free(r);
    free(want);
    free(tmp_real);
    r = agent_path_resolve("/");
    CHECK(r && strcmp(r, "/") == 0);
    free(r);

    /*  a real one */
    char tmp[] = "/tmp/swarm-state-test.XXXXXX";
    CHECK(mkdtemp(tmp) != NULL);
    char *work = xasprintf("%s/work", tmp), *dir = xasprintf("%s/state/a1", tmp);
    CHECK(mkdir(work, 0755) == 0);
    char *inside = xasprintf("%s/.swarm", work);
    CHECK(agent_state_open(inside, work, &err) == NULL && strstr(err.msg, "overlap"));
    CHECK(access(inside, F_OK) < 0);           /*  refused before it was made */
    CHECK(agent_state_open("relative", work, &err) == NULL && strstr(err.msg, "absolute"));
    agent_state_t *s = agent_state_open(dir, work, &err);
    CHECK(s != NULL);
    struct stat st;
    CHECK(stat(dir, &st) == 0 && (st.st_mode & 0777) == 0700);
    /*  a second agent on the same directory is refused */
    sw_err_t e2 = { 0 };
    CHECK(agent_state_open(dir, work, &e2) == NULL && strstr(e2.msg, "another agent"));
    /*  files: O_EXCL, private, named by a hash */
    char *path = NULL;
    int fd = agent_state_create(s, "job/1", "../../etc", 2, "prompt", &path, &err);
    CHECK(fd >= 0 && path && strstr(path, "/run/") && !strstr(path, "etc"));
    CHECK(fstat(fd, &st) == 0 && (st.st_mode & 0777) == 0600);
    CHECK(write(fd, "hi", 2) == 2);
    close(fd);
    char *other = agent_state_path(s, "job/1", "../../etc", 3, "prompt");
    CHECK(strcmp(other, path) != 0);
    free(other);
    other = agent_state_path(s, "job/1", "../../etc", 2, "prompt");
    CHECK(strcmp(other, path) == 0);
    free(other);
    sw_buf_t b;
    sw_buf_init(&b);
    CHECK(agent_state_read(path, 100, &b, NULL) == 0 && strcmp(b.data, "hi") == 0);
    /*  a symlink is not followed */
    char *link = xasprintf("%s/link", tmp);
    CHECK(symlink(path, link) == 0);
    sw_buf_reset(&b);
    CHECK(agent_state_read(link, 100, &b, NULL) < 0);
    /*  the directory removed under us comes back, with the same key */
    unsigned char mac1[AGENT_STATE_MAC_BYTES], mac2[AGENT_STATE_MAC_BYTES];
    agent_state_mac(s, "x", 1, mac1);
    unlink(path);
    free(path);
    char *key = xasprintf("%s/hmac.key", dir), *run = xasprintf("%s/run", dir);
    char *lockf = xasprintf("%s/lock", dir);
    CHECK(unlink(key) == 0 && rmdir(run) == 0 && unlink(lockf) == 0 && rmdir(dir) == 0);
    fd = agent_state_create(s, "j", "t", 1, "last", &path, &err);
    CHECK(fd >= 0 && access(key, F_OK) == 0);
    close(fd);
    unlink(path);
    free(path);
    agent_state_destroy(&s);
    s = agent_state_open(dir, work, &err);
    CHECK(s != NULL);
    agent_state_mac(s, "x", 1, mac2);
    CHECK(memcmp(mac1, mac2, sizeof mac1) == 0);
    agent_state_destroy(&s);
    /*  writable by others: refused */
    CHECK(chmod(dir, 0777) == 0);
    CHECK(agent_state_open(dir, work, &err) == NULL && strstr(err.msg, "writable by others"));
    CHECK(chmod(dir, 0755) == 0);
    s = agent_state_open(dir, work, &err);
    CHECK(s != NULL && stat(dir, &st) == 0 && (st.st_mode & 0777) == 0700);
    agent_state_destroy(&s);
    /*  a parent others can write (no sticky bit): refused */
    char *parent = xasprintf("%s/state", tmp);
    CHECK(chmod(parent, 0777) == 0);
    CHECK(agent_state_open(dir, work, &err) == NULL && strstr(err.msg, "which others can change"));
    char *below = xasprintf("%s/state/a2/deeper", tmp);
    CHECK(agent_state_open(below, work, &err) == NULL && strstr(err.msg, "which others can change"));
    CHECK(access(below, F_OK) < 0);             /*  refused before it was made */
    free(below);
    CHECK(chmod(parent, 01777) == 0);
    s = agent_state_open(dir, work, &err);
    CHECK(s != NULL);
    agent_state_destroy(&s);

    sw_buf_release(&b);
    char *cmd = xasprintf("rm -rf '%s'", tmp);
    CHECK(system(cmd) == 0);
    free(cmd);
    free(parent);
    free(key);
    free(run);
    free(lockf);
    free(link);
    free(inside);
    free(work);
    free(dir);
    (void) verbose;
    return 0;
}
