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

struct sw_curve_server_t {
    zcert_t      *cert;
    zactor_t     *auth;         /*  czmq's ZAP handler */
    char         *dir;
    zhashx_t     *allowed;      /*  public keys, for checks on the loop's thread */
    struct timespec mtime;      /*  of dir when allowed was read */
};

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

/*  Asks the ZAP handler about a random key, as libzmq would for a client:
 *  only a "400" proves a handler is there and refuses strangers. */
static int
s_probe(sw_err_t *err)
{
    zsock_t *req = zsock_new(ZMQ_REQ);
    zsock_set_rcvtimeo(req, 2000);
    zsock_set_sndtimeo(req, 2000);
    zsock_set_linger(req, 0);
    int rc = -1;
    if (zsock_connect(req, ZAP_ENDPOINT) < 0) {
        sw_err_set(err, SW_EFAIL, "no ZAP handler: refusing to run CURVE without one");
        goto out;
    }
    zcert_t *stranger = zcert_new();
    zmsg_t *m = zmsg_new();
    zmsg_addstr(m, "1.0");
    zmsg_addstr(m, "swarm-probe");
    zmsg_addstr(m, "");
    zmsg_addstr(m, "127.0.0.1");
    zmsg_addstr(m, "");
    zmsg_addstr(m, "CURVE");
    zmsg_addmem(m, zcert_public_key(stranger), 32);
    zcert_destroy(&stranger);
    if (zmsg_send(&m, req) < 0) {
        zmsg_destroy(&m);
        sw_err_set(err, SW_EFAIL, "the ZAP handler does not take requests: refusing to start");
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
        sw_err_set(err, SW_EFAIL, "the ZAP handler did not answer: refusing to start");
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

sw_curve_server_t *
sw_curve_server_new(const char *secret_path, const char *allowed_dir, sw_err_t *err)
{
    struct stat sb;
    if (!allowed_dir || stat(allowed_dir, &sb) < 0 || !S_ISDIR(sb.st_mode)) {
        sw_err_set(err, SW_EINVAL, "--allowed-agents %s: not a directory",
                   allowed_dir ? allowed_dir : "(none)");
        return NULL;
    }
    zcert_t *cert = sw_curve_load_secret(secret_path, err);
    if (!cert)
        return NULL;
    sw_curve_server_t *self = xcalloc(1, sizeof *self);
    self->cert = cert;
    self->auth = zactor_new(zauth, NULL);
    if (!self->auth) {
        sw_err_set(err, SW_EFAIL, "cannot start the ZAP handler: refusing to start");
        goto fail;
    }
    zstr_sendx(self->auth, "CURVE", allowed_dir, NULL);
    zsock_wait(self->auth);
    if (s_probe(err) < 0)
        goto fail;
    self->dir = xstrdup(allowed_dir);
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
    zactor_destroy(&self->auth);
    zhashx_destroy(&self->allowed);
    free(self->dir);
    zcert_destroy(&self->cert);
    free(self);
    *self_p = NULL;
}

void
sw_curve_server_apply(sw_curve_server_t *self, zsock_t *sock)
{
    zcert_apply(self->cert, sock);
    zsock_set_curve_server(sock, 1);
    zsock_set_zap_domain(sock, "swarm");
}

bool
sw_curve_server_refresh(sw_curve_server_t *self)
{
    struct stat sb;
    if (stat(self->dir, &sb) < 0)
        memset(&sb, 0, sizeof sb);
    if (self->allowed && sb.st_mtim.tv_sec == self->mtime.tv_sec
        && sb.st_mtim.tv_nsec == self->mtime.tv_nsec)
        return false;
    self->mtime = sb.st_mtim;
    zhashx_destroy(&self->allowed);
    self->allowed = zhashx_new();
    /*  The files zauth's certificate store reads: every certificate in the
     *  directory but secret ones. */
    DIR *d = opendir(self->dir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (e->d_name[0] == '.' || (n > 7 && strcmp(e->d_name + n - 7, "_secret") == 0))
            continue;
        char *path = xasprintf("%s/%s", self->dir, e->d_name);
        zcert_t *c = zcert_load(path);
        if (c)
            zhashx_update(self->allowed, zcert_public_txt(c), (void *) 1);
        zcert_destroy(&c);
        free(path);
    }
    if (d)
        closedir(d);
    return true;
}

bool
sw_curve_server_allows(sw_curve_server_t *self, const char *public_txt)
{
    return public_txt && zhashx_lookup(self->allowed, public_txt) != NULL;
}

const char *
sw_curve_server_public(const sw_curve_server_t *self)
{
    return zcert_public_txt(self->cert);
}

/*  --- self-test: real sockets over inproc and tcp ------------------------------- */

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
    sw_curve_server_t *srv = sw_curve_server_new(csec, allowed, &err);
    CHECK(srv != NULL);
    CHECK(sw_curve_server_allows(srv, a1key));
    CHECK(!sw_curve_server_allows(srv, "0000000000000000000000000000000000000000"));
    zsock_t *server = zsock_new(ZMQ_PULL);
    sw_curve_server_apply(srv, server);
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
    zframe_destroy(&f);
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
    /*  revoked: the key leaves the directory */
    CHECK(!sw_curve_server_refresh(srv));       /*  nothing changed */
    CHECK(unlink(a1allowed) == 0);
    CHECK(sw_curve_server_refresh(srv));
    CHECK(!sw_curve_server_allows(srv, a1key));
    zsock_destroy(&good);
    zsock_destroy(&rogue);
    zsock_destroy(&plain);
    zsock_destroy(&wrong);
    zsock_destroy(&server);
    sw_curve_server_destroy(&srv);
    /*  a server refuses to start without a directory or a secret */
    CHECK(sw_curve_server_new(csec, "/nonexistent", &err) == NULL);
    CHECK(sw_curve_server_new(cpub, allowed, &err) == NULL);
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
    (void) verbose;
    return 0;
}
