/*  sw_curve -- see sw_curve.h */
#include "sw_curve.h"

#include <dirent.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sw_log.h"
#include "sw_selftest.h"
#include "sw_task.h"

#define ZAP_ENDPOINT "inproc://zeromq.zap.01"
#define SW_ZAP_PROBE_ID "swarm-probe"

/*  The public keys of one directory of certificates, re-read when the
 *  directory changes: an entry added or removed (its mtime), or a file
 *  replaced or rewritten in place, which leaves the directory's mtime as
 *  it was (the fingerprint of its entries). Key: Z85 public key; value:
 *  the name in the certificate's metadata ("" if none). */
typedef struct {
    char           *dir;        /*  NULL: an empty set */
    zhashx_t       *keys;
    struct timespec mtime;
    uint64_t        print;      /*  s_dir_print at the last read */
} s_keyset_t;

struct sw_curve_server_t {
    zcert_t    *cert;
    zactor_t   *zap;            /*  our ZAP handler, on its own thread */
    s_keyset_t  sets[2];        /*  by sw_curve_domain_t, for the loop's thread */
};

static const char *s_domains[2] = { "swarm", "swarm-admin" };

static bool
s_exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

int
sw_curve_keygen(const char *dir, const char *name, bool force, char public_txt[41],
                sw_err_t *err)
{
    if (!sw_id_valid(name) || strchr(name, '/'))
        return sw_err_set(err, SW_EINVAL, "invalid key name '%s'", name);
    char *pub = xasprintf("%s/%s.cert", dir, name);
    char *sec = xasprintf("%s/%s.cert_secret", dir, name);
    int rc = 0;
    if (!force && (s_exists(pub) || s_exists(sec))) {
        rc = sw_err_set(err, SW_EFAIL, "%s exists (--force replaces it)", s_exists(sec) ? sec : pub);
        goto out;
    }
    zcert_t *cert = zcert_new();
    zcert_set_meta(cert, "name", "%s", name);
    /*  The secret file is created 0600: no window where others can read. */
    mode_t old = umask(0077);
    unlink(sec);
    int saved = zcert_save(cert, pub);
    umask(old);
    if (saved < 0 || chmod(pub, 0644) < 0)
        rc = sw_err_set(err, SW_EFAIL, "cannot write %s: %s", sec, strerror(errno));
    else
        snprintf(public_txt, 41, "%s", zcert_public_txt(cert));
    zcert_destroy(&cert);
out:
    free(pub);
    free(sec);
    return rc;
}

zcert_t *
sw_curve_load_secret(const char *path, sw_err_t *err)
{
    /*  zcert_load(X) quietly prefers X_secret: look at the file itself. */
    zconfig_t *root = zconfig_load(path);
    bool secret = root && zconfig_get(root, "curve/secret-key", NULL) != NULL;
    zconfig_destroy(&root);
    if (!secret) {
        sw_err_set(err, SW_EINVAL, "%s: %s", path,
                   !s_exists(path) ? "no such file"
                                   : "not a secret certificate (give the .cert_secret file)");
        return NULL;
    }
    zcert_t *cert = zcert_load(path);
    if (!cert) {
        sw_err_set(err, SW_EINVAL, "cannot load the certificate %s", path);
        return NULL;
    }
    struct stat sb;
    if (stat(path, &sb) == 0 && (sb.st_mode & 0077))
        log_warnx("%s is readable by others: chmod 600 it", path);
    return cert;
}

int
sw_curve_load_public(const char *path, char public_txt[41], sw_err_t *err)
{
    zcert_t *cert = zcert_load(path);
    if (!cert)
        return sw_err_set(err, SW_EINVAL, "cannot load the certificate %s%s", path,
                          s_exists(path) ? "" : ": no such file");
    snprintf(public_txt, 41, "%s", zcert_public_txt(cert));
    zcert_destroy(&cert);
    return 0;
}

int
sw_curve_client(zsock_t *sock, const char *secret_path, const char *server_cert, sw_err_t *err)
{
    char server[41];
    if (sw_curve_load_public(server_cert, server, err) < 0)
        return -1;
    zcert_t *cert = sw_curve_load_secret(secret_path, err);
    if (!cert)
        return -1;
    zcert_apply(cert, sock);
    zsock_set_curve_serverkey(sock, server);
    zcert_destroy(&cert);
    return 0;
}

/*  --- key sets -------------------------------------------------------------------- */

static uint64_t
s_mix(uint64_t h, uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        h ^= (v >> (8 * i)) & 0xff;
        h *= 0x100000001b3ULL;          /*  FNV-1a */
    }
    return h;
}

/*  One number for what the directory holds: each entry's name, inode,
 *  size, mtime and ctime. Replacing a certificate in place (cp, mv over
 *  it, an editor) changes it though the directory's own mtime may not.
 *  Entries are combined by a sum, so their order does not matter. A stat
 *  per file, once a second: cheap for the hundreds of agents of a farm. */
static uint64_t
s_dir_print(const char *dir)
{
    DIR *d = dir ? opendir(dir) : NULL;
    if (!d)
        return 0;
    uint64_t sum = 0, n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        struct stat sb;
        if (fstatat(dirfd(d), e->d_name, &sb, 0) < 0)
            continue;
        uint64_t h = 0xcbf29ce484222325ULL;
        for (const char *p = e->d_name; *p; p++) {
            h ^= (unsigned char) *p;
            h *= 0x100000001b3ULL;
        }
        h = s_mix(h, (uint64_t) sb.st_ino);
        h = s_mix(h, (uint64_t) sb.st_size);
        h = s_mix(h, (uint64_t) sb.st_mtim.tv_sec);
        h = s_mix(h, (uint64_t) sb.st_mtim.tv_nsec);
        h = s_mix(h, (uint64_t) sb.st_ctim.tv_sec);
        h = s_mix(h, (uint64_t) sb.st_ctim.tv_nsec);
        sum += h;
        n++;
    }
    closedir(d);
    return sum ^ (n * 0x9e3779b97f4a7c15ULL);
}

/*  Re-reads the set if its directory changed; true when it did. Every
 *  certificate in the directory counts but secret ones, as for zauth. */
static bool
s_keyset_refresh(s_keyset_t *ks)
{
    struct stat sb;
    if (!ks->dir || stat(ks->dir, &sb) < 0)
        memset(&sb, 0, sizeof sb);
    uint64_t print = s_dir_print(ks->dir);
    if (ks->keys && sb.st_mtim.tv_sec == ks->mtime.tv_sec
        && sb.st_mtim.tv_nsec == ks->mtime.tv_nsec && print == ks->print)
        return false;
    ks->mtime = sb.st_mtim;
    ks->print = print;
    zhashx_destroy(&ks->keys);
    ks->keys = zhashx_new();
    zhashx_set_destructor(ks->keys, (zhashx_destructor_fn *) zstr_free);
    DIR *d = ks->dir ? opendir(ks->dir) : NULL;
    struct dirent *e;
    while (d && (e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (e->d_name[0] == '.' || (n > 7 && strcmp(e->d_name + n - 7, "_secret") == 0))
            continue;
        char *path = xasprintf("%s/%s", ks->dir, e->d_name);
        zcert_t *c = zcert_load(path);
        if (c) {
            const char *name = zcert_meta(c, "name");
            zhashx_update(ks->keys, zcert_public_txt(c), xstrdup(name ? name : ""));
        }
        zcert_destroy(&c);
        free(path);
    }
    if (d)
        closedir(d);
    return true;
}

static void
s_keyset_destroy(s_keyset_t *ks)
{
    zhashx_destroy(&ks->keys);
    free(ks->dir);
    ks->dir = NULL;
}

/*  --- the ZAP handler (RFC 27), an actor ------------------------------------------- */

/*  The name as ZMTP metadata: a one-byte name length, the name, a
 *  four-byte big-endian value length, the value. */
static zframe_t *
s_zap_metadata(const char *name)
{
    if (!name || !*name)
        return zframe_new(NULL, 0);
    size_t n = strlen(name);
    zframe_t *f = zframe_new(NULL, 1 + 4 + 4 + n);
    byte *p = zframe_data(f);
    *p++ = 4;
    memcpy(p, "name", 4);
    p += 4;
    *p++ = (byte) (n >> 24);
    *p++ = (byte) (n >> 16);
    *p++ = (byte) (n >> 8);
    *p++ = (byte) n;
    memcpy(p, name, n);
    return f;
}

/*  Answers one request. CURVE clients are let in when their key is in the
 *  directory of the socket's domain, with the key as User-Id. A NULL
 *  client is let in only on a socket without a domain: our plaintext
 *  sockets (loopback, ipc, --insecure), which libzmq may still ask about. */
static void
s_zap_answer(zsock_t *rep, s_keyset_t sets[2], size_t *refused)
{
    zmsg_t *req = zmsg_recv(rep);
    if (!req)
        return;
    char *version = zmsg_popstr(req), *id = zmsg_popstr(req), *domain = zmsg_popstr(req),
         *address = zmsg_popstr(req), *identity = zmsg_popstr(req),
         *mechanism = zmsg_popstr(req);
    zframe_t *cred = zmsg_pop(req);
    const char *status = "400", *text = "unknown key";
    char user[41] = "";
    const char *name = NULL;
    int set = domain && strcmp(domain, s_domains[SW_CURVE_AGENTS]) == 0 ? SW_CURVE_AGENTS
            : domain && strcmp(domain, s_domains[SW_CURVE_ADMINS]) == 0 ? SW_CURVE_ADMINS : -1;
    if (!version || strcmp(version, "1.0") != 0 || !mechanism) {
        status = "500";
        text = "malformed ZAP request";
    }
    else if (strcmp(mechanism, "NULL") == 0 && domain && !*domain) {
        status = "200";
        text = "OK";
    }
    else if (strcmp(mechanism, "CURVE") != 0 || set < 0)
        text = "mechanism or domain not allowed";
    else if (cred && zframe_size(cred) == 32) {
        zmq_z85_encode(user, zframe_data(cred), 32);
        s_keyset_refresh(&sets[set]);
        if ((name = zhashx_lookup(sets[set].keys, user))) {
            status = "200";
            text = "OK";
        }
    }
    bool probe = id && strcmp(id, SW_ZAP_PROBE_ID) == 0;      /*  our own, at start */
    if (*status != '2' && !probe && ((*refused)++ < 10 || log_verbose()))
        log_warnx("refused a client from %s on the %s socket: %s%s%s",
                  address && *address ? address : "?", set == SW_CURVE_ADMINS ? "control"
                  : "agent", text, *user ? ", key " : "", user);
    zmsg_t *reply = zmsg_new();
    zmsg_addstr(reply, "1.0");
    zmsg_addstr(reply, id ? id : "");
    zmsg_addstr(reply, status);
    zmsg_addstr(reply, text);
    zmsg_addstr(reply, *status == '2' ? user : "");
    zframe_t *meta = s_zap_metadata(name);
    zmsg_append(reply, &meta);
    zmsg_send(&reply, rep);
    zframe_destroy(&cred);
    free(version);
    free(id);
    free(domain);
    free(address);
    free(identity);
    free(mechanism);
    zmsg_destroy(&req);
}

/*  args: two directory paths (char *[2], the second may be NULL), copied
 *  before the first signal. Signals twice: started, then 0 if it holds
 *  the ZAP endpoint. */
static void
s_zap_actor(zsock_t *pipe, void *args)
{
    char **dirs = args;
    s_keyset_t sets[2] = { { .dir = xstrdup(dirs[0]) },
                           { .dir = dirs[1] ? xstrdup(dirs[1]) : NULL } };
    zsock_t *rep = zsock_new(ZMQ_REP);
    bool bound = rep && zsock_bind(rep, ZAP_ENDPOINT) == 0;
    zsock_signal(pipe, 0);
    zsock_signal(pipe, bound ? 0 : 1);
    zpoller_t *poller = zpoller_new(pipe, bound ? rep : NULL, NULL);
    size_t refused = 0;
    while (true) {
        zsock_t *which = zpoller_wait(poller, -1);
        if (which == rep)
            s_zap_answer(rep, sets, &refused);
        else if (which == pipe) {
            char *cmd = zstr_recv(pipe);
            bool term = !cmd || strcmp(cmd, "$TERM") == 0;
            free(cmd);
            if (term)
                break;
        }
        else if (zpoller_terminated(poller))
            break;
    }
    zpoller_destroy(&poller);
    zsock_destroy(&rep);
    s_keyset_destroy(&sets[0]);
    s_keyset_destroy(&sets[1]);
}

int
sw_curve_zap_probe(int timeout_ms, sw_err_t *err)
{
    zsock_t *req = zsock_new(ZMQ_REQ);
    zsock_set_rcvtimeo(req, timeout_ms);
    zsock_set_sndtimeo(req, timeout_ms);
    zsock_set_linger(req, 0);
    int rc = -1;
    if (zsock_connect(req, ZAP_ENDPOINT) < 0) {
        sw_err_set(err, SW_EFAIL, "no ZAP handler: refusing to run CURVE without one");
        goto out;
    }
    zcert_t *stranger = zcert_new();
    zmsg_t *m = zmsg_new();
    zmsg_addstr(m, "1.0");
    zmsg_addstr(m, SW_ZAP_PROBE_ID);
    zmsg_addstr(m, s_domains[SW_CURVE_AGENTS]);
    zmsg_addstr(m, "127.0.0.1");
    zmsg_addstr(m, "");
    zmsg_addstr(m, "CURVE");
    zmsg_addmem(m, zcert_public_key(stranger), 32);
    zcert_destroy(&stranger);
    if (zmsg_send(&m, req) < 0) {
        zmsg_destroy(&m);
        sw_err_set(err, SW_EFAIL, "no ZAP handler takes requests: refusing to start");
        goto out;
    }
    zmsg_t *reply = zmsg_recv(req);
    char *status = NULL;
    if (reply && zmsg_size(reply) >= 3) {
        zmsg_next(reply);
        zmsg_next(reply);
        status = zframe_strdup(zmsg_next(reply));
    }
    if (!status)
        sw_err_set(err, SW_EFAIL, "no ZAP handler answered: refusing to start");
    else if (strcmp(status, "400") != 0)
        sw_err_set(err, SW_EFAIL, "the ZAP handler accepted an unknown key (status %s): "
                   "refusing to start", status);
    else
        rc = 0;
    free(status);
    zmsg_destroy(&reply);
out:
    zsock_destroy(&req);
    return rc;
}

/*  --- the server ------------------------------------------------------------------- */

static bool
s_is_dir(const char *path)
{
    struct stat sb;
    return path && stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

sw_curve_server_t *
sw_curve_server_new(const char *secret_path, const char *agents_dir, const char *admins_dir,
                    sw_err_t *err)
{
    if (!s_is_dir(agents_dir) || (admins_dir && !s_is_dir(admins_dir))) {
        bool agents = !s_is_dir(agents_dir);
        sw_err_set(err, SW_EINVAL, "--%s %s: not a directory",
                   agents ? "allowed-agents" : "admin-keys",
                   agents ? (agents_dir ? agents_dir : "(none)") : admins_dir);
        return NULL;
    }
    zcert_t *cert = sw_curve_load_secret(secret_path, err);
    if (!cert)
        return NULL;
    sw_curve_server_t *self = xcalloc(1, sizeof *self);
    self->cert = cert;
    self->sets[SW_CURVE_AGENTS].dir = xstrdup(agents_dir);
    self->sets[SW_CURVE_ADMINS].dir = admins_dir ? xstrdup(admins_dir) : NULL;
    char *dirs[2] = { self->sets[0].dir, self->sets[1].dir };
    self->zap = zactor_new(s_zap_actor, dirs);
    if (!self->zap || zsock_wait(self->zap) != 0) {
        sw_err_set(err, SW_EFAIL, "cannot install the ZAP handler (is another one bound in "
                   "this process?): refusing to start");
        goto fail;
    }
    if (sw_curve_zap_probe(2000, err) < 0)
        goto fail;
    sw_curve_server_refresh(self);
    return self;
fail:
    sw_curve_server_destroy(&self);
    return NULL;
}

void
sw_curve_server_destroy(sw_curve_server_t **self_p)
{
    sw_curve_server_t *self = *self_p;
    if (!self)
        return;
    zactor_destroy(&self->zap);
    s_keyset_destroy(&self->sets[0]);
    s_keyset_destroy(&self->sets[1]);
    zcert_destroy(&self->cert);
    free(self);
    *self_p = NULL;
}

void
sw_curve_server_apply(sw_curve_server_t *self, zsock_t *sock, sw_curve_domain_t domain)
{
    zcert_apply(self->cert, sock);
    zsock_set_curve_server(sock, 1);
    zsock_set_zap_domain(sock, s_domains[domain]);
}

bool
sw_curve_server_refresh(sw_curve_server_t *self)
{
    s_keyset_refresh(&self->sets[SW_CURVE_ADMINS]);
    return s_keyset_refresh(&self->sets[SW_CURVE_AGENTS]);
}

bool
sw_curve_server_allows(sw_curve_server_t *self, sw_curve_domain_t domain, const char *public_txt)
{
    return public_txt && zhashx_lookup(self->sets[domain].keys, public_txt) != NULL;
}

const char *
sw_curve_server_public(const sw_curve_server_t *self)
{
    return zcert_public_txt(self->cert);
}

/*  --- self-test: real sockets over inproc and tcp ------------------------------- */

/*  A ZAP handler that answers every request with 200. */
static void
s_lax_zap(zsock_t *pipe, void *args)
{
    zsock_t *rep = zsock_new(ZMQ_REP);
    /*  the endpoint of a handler closed just before is released late */
    for (int tries = 0; zsock_bind(rep, ZAP_ENDPOINT) < 0 && tries < 40; tries++)
        zclock_sleep(50);
    zsock_signal(pipe, 0);
    zpoller_t *poller = zpoller_new(pipe, rep, NULL);
    while (zpoller_wait(poller, -1) == rep) {
        zmsg_t *req = zmsg_recv(rep);
        zmsg_t *reply = zmsg_new();
        zmsg_addstr(reply, "1.0");
        zmsg_first(req);
        zframe_t *rid = zmsg_next(req);
        zframe_t *id = rid ? zframe_dup(rid) : zframe_new(NULL, 0);
        zmsg_append(reply, &id);
        zmsg_addstr(reply, "200");
        zmsg_addstr(reply, "OK");
        zmsg_addstr(reply, "anyone");
        zmsg_addstr(reply, "");
        zmsg_send(&reply, rep);
        zmsg_destroy(&req);
    }
    zpoller_destroy(&poller);
    zsock_destroy(&rep);
    (void) args;
}

int
sw_curve_test(bool verbose)
{
    sw_err_t err = { 0 };
    char dir[] = "/tmp/swarm-curve-test.XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char *allowed = xasprintf("%s/allowed", dir);
    CHECK(mkdir(allowed, 0700) == 0);
    char pub[41];
    CHECK(sw_curve_keygen(dir, "coord", false, pub, &err) == 0 && strlen(pub) == 40);
    CHECK(sw_curve_keygen(dir, "coord", false, pub, &err) < 0 && strstr(err.msg, "exists"));
    CHECK(sw_curve_keygen(dir, "a1", false, pub, &err) == 0);
    CHECK(sw_curve_keygen(dir, "rogue", false, pub, &err) == 0);
    CHECK(sw_curve_keygen(dir, "../x", false, pub, &err) < 0);
    char *sec = xasprintf("%s/a1.cert_secret", dir);
    struct stat sb;
    CHECK(stat(sec, &sb) == 0 && (sb.st_mode & 0777) == 0600);
    char *a1pub = xasprintf("%s/a1.cert", dir), *a1allowed = xasprintf("%s/a1.cert", allowed);
    char a1key[41];
    CHECK(sw_curve_load_public(a1pub, a1key, &err) == 0);
    CHECK(sw_curve_load_secret(a1pub, &err) == NULL);      /*  public only */
    /*  allow a1: copy its public certificate */
    FILE *in = fopen(a1pub, "r"), *out = fopen(a1allowed, "w");
    CHECK(in && out);
    int ch;
    while ((ch = fgetc(in)) != EOF)
        fputc(ch, out);
    fclose(in);
    fclose(out);

    char *csec = xasprintf("%s/coord.cert_secret", dir), *cpub = xasprintf("%s/coord.cert", dir);
    char *admins = xasprintf("%s/admins", dir);
    CHECK(mkdir(admins, 0700) == 0);
    CHECK(sw_curve_keygen(admins, "ops", false, pub, &err) == 0);
    sw_curve_server_t *srv = sw_curve_server_new(csec, allowed, admins, &err);
    CHECK(srv != NULL);
    CHECK(sw_curve_server_allows(srv, SW_CURVE_AGENTS, a1key));
    CHECK(!sw_curve_server_allows(srv, SW_CURVE_ADMINS, a1key));
    CHECK(sw_curve_server_allows(srv, SW_CURVE_ADMINS, pub));
    CHECK(!sw_curve_server_allows(srv, SW_CURVE_AGENTS, pub));
    CHECK(!sw_curve_server_allows(srv, SW_CURVE_AGENTS, "0000000000000000000000000000000000000000"));
    zsock_t *server = zsock_new(ZMQ_PULL);
    sw_curve_server_apply(srv, server, SW_CURVE_AGENTS);
    int port = zsock_bind(server, "tcp://127.0.0.1:*");
    CHECK(port > 0);
    char ep[64];
    snprintf(ep, sizeof ep, "tcp://127.0.0.1:%d", port);

    /*  the right key talks, and its messages carry it as User-Id */
    zsock_t *good = zsock_new(ZMQ_PUSH);
    zsock_set_linger(good, 0);
    CHECK(sw_curve_client(good, sec, cpub, &err) == 0);
    zsock_connect(good, "%s", ep);
    zstr_send(good, "ping");
    zsock_set_rcvtimeo(server, 2000);
    zframe_t *f = zframe_recv(server);
    CHECK(f && zframe_streq(f, "ping"));
    CHECK(f && zframe_meta(f, "User-Id") && strcmp(zframe_meta(f, "User-Id"), a1key) == 0);
    CHECK(f && zframe_meta(f, "name") && strcmp(zframe_meta(f, "name"), "a1") == 0);
    zframe_destroy(&f);

    /*  the control socket: an admin key talks, an agent key does not */
    zsock_t *control = zsock_new(ZMQ_PULL);
    sw_curve_server_apply(srv, control, SW_CURVE_ADMINS);
    int cport = zsock_bind(control, "tcp://127.0.0.1:*");
    CHECK(cport > 0);
    char *osec = xasprintf("%s/ops.cert_secret", admins);
    zsock_t *admin = zsock_new(ZMQ_PUSH), *agent = zsock_new(ZMQ_PUSH);
    zsock_set_linger(admin, 0);
    zsock_set_linger(agent, 0);
    zsock_set_sndtimeo(agent, 0);
    CHECK(sw_curve_client(admin, osec, cpub, &err) == 0);
    CHECK(sw_curve_client(agent, sec, cpub, &err) == 0);
    zsock_connect(agent, "tcp://127.0.0.1:%d", cport);
    zstr_send(agent, "agent");
    zsock_connect(admin, "tcp://127.0.0.1:%d", cport);
    zstr_send(admin, "admin");
    zsock_set_rcvtimeo(control, 2000);
    f = zframe_recv(control);
    CHECK(f && zframe_streq(f, "admin"));
    CHECK(f && zframe_meta(f, "User-Id") && strcmp(zframe_meta(f, "User-Id"), pub) == 0);
    zframe_destroy(&f);
    zsock_set_rcvtimeo(control, 300);
    f = zframe_recv(control);
    CHECK(f == NULL);               /*  the agent's key was refused */
    zsock_destroy(&admin);
    zsock_destroy(&agent);
    zsock_destroy(&control);
    free(osec);
    /*  an unknown key, no key, and the wrong server key do not */
    char *rsec = xasprintf("%s/rogue.cert_secret", dir), *rpub = xasprintf("%s/rogue.cert", dir);
    zsock_t *rogue = zsock_new(ZMQ_PUSH), *plain = zsock_new(ZMQ_PUSH),
            *wrong = zsock_new(ZMQ_PUSH);
    zsock_set_linger(rogue, 0);
    zsock_set_linger(plain, 0);
    zsock_set_linger(wrong, 0);
    CHECK(sw_curve_client(rogue, rsec, cpub, &err) == 0);
    CHECK(sw_curve_client(wrong, sec, rpub, &err) == 0);
    zsock_connect(rogue, "%s", ep);
    zsock_connect(plain, "%s", ep);
    zsock_connect(wrong, "%s", ep);
    zsock_set_sndtimeo(rogue, 0);
    zsock_set_sndtimeo(plain, 0);
    zsock_set_sndtimeo(wrong, 0);
    zstr_send(rogue, "rogue");
    zstr_send(plain, "plain");
    zstr_send(wrong, "wrong");
    zsock_set_rcvtimeo(server, 500);
    char *got = zstr_recv(server);
    CHECK(got == NULL);
    free(got);
    /*  a certificate replaced in place (same name: the directory's mtime
     *  stays) takes effect too: rogue's key in a1's file */
    CHECK(!sw_curve_server_refresh(srv));       /*  nothing changed */
    char rkey[41];
    CHECK(sw_curve_load_public(rpub, rkey, &err) == 0);
    struct stat before, after;
    CHECK(stat(allowed, &before) == 0);
    {
        size_t n = 0;
        char *text = NULL;
        FILE *src = fopen(rpub, "r"), *dst = fopen(a1allowed, "w");
        CHECK(src && dst);
        if (src && dst) {
            text = xmalloc(65536);
            n = fread(text, 1, 65536, src);
            fwrite(text, 1, n, dst);
        }
        if (src)
            fclose(src);
        if (dst)
            fclose(dst);
        free(text);
    }
    CHECK(stat(allowed, &after) == 0);
    CHECK(before.st_mtim.tv_sec == after.st_mtim.tv_sec
          && before.st_mtim.tv_nsec == after.st_mtim.tv_nsec);
    CHECK(sw_curve_server_refresh(srv));
    CHECK(!sw_curve_server_allows(srv, SW_CURVE_AGENTS, a1key));
    CHECK(sw_curve_server_allows(srv, SW_CURVE_AGENTS, rkey));
    CHECK(!sw_curve_server_refresh(srv));
    /*  revoked: the key leaves the directory */
    CHECK(unlink(a1allowed) == 0);
    CHECK(sw_curve_server_refresh(srv));
    CHECK(!sw_curve_server_allows(srv, SW_CURVE_AGENTS, a1key));
    zsock_destroy(&good);
    zsock_destroy(&rogue);
    zsock_destroy(&plain);
    zsock_destroy(&wrong);
    zsock_destroy(&server);
    sw_curve_server_destroy(&srv);
    /*  a server refuses to start without a directory or a secret */
    CHECK(sw_curve_server_new(csec, "/nonexistent", NULL, &err) == NULL);
    CHECK(sw_curve_server_new(csec, allowed, "/nonexistent", &err) == NULL
          && strstr(err.msg, "--admin-keys"));
    CHECK(sw_curve_server_new(cpub, allowed, NULL, &err) == NULL);

    /*  No ZAP handler at all: the probe sees nobody answer, or, while
     *  libzmq still tears down the last handler's endpoint, nobody take
     *  the request. Either way it refuses. */
    CHECK(sw_curve_zap_probe(300, &err) < 0 && strstr(err.msg, "no ZAP handler "));
    /*  A handler that lets everyone in (what a CURVE server without ours
     *  amounts to): the probe catches it, and a server refuses to start. */
    zactor_t *lax = zactor_new(s_lax_zap, NULL);
    CHECK(sw_curve_zap_probe(2000, &err) < 0 && strstr(err.msg, "accepted an unknown key"));
    CHECK(sw_curve_server_new(csec, allowed, NULL, &err) == NULL
          && strstr(err.msg, "cannot install the ZAP handler"));
    zactor_destroy(&lax);
    /*  and with ours back, the probe passes. libzmq releases an inproc
     *  endpoint in its reaper thread after the socket is closed, so the
     *  lax handler's endpoint may still be taken for a moment. */
    srv = NULL;
    for (int tries = 0; !srv && tries < 40; tries++) {
        srv = sw_curve_server_new(csec, allowed, NULL, &err);
        if (!srv) {
            CHECK(strstr(err.msg, "cannot install the ZAP handler"));
            zclock_sleep(50);
        }
    }
    CHECK(srv != NULL && sw_curve_zap_probe(2000, &err) == 0);
    sw_curve_server_destroy(&srv);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0);
    free(allowed);
    free(sec);
    free(a1pub);
    free(a1allowed);
    free(csec);
    free(cpub);
    free(rsec);
    free(rpub);
    free(admins);
    (void) verbose;
    return 0;
}
