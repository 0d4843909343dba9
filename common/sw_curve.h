/*  sw_curve -- CurveZMQ keys for agents and coordinator, and a server that
 *  fails closed.
 *
 *  Certificates are czmq zcert files: NAME.cert holds the public key (give
 *  it away), NAME.cert_secret both keys (mode 0600, keep it). A libzmq
 *  CURVE server without a ZAP handler accepts every client, so the server
 *  side runs its own ZAP handler and then proves it answers: it sends a
 *  ZAP request for a random key itself and must see it refused. Anything
 *  else and it refuses to start.
 *
 *  The handler serves two ZAP domains, each with its own directory of
 *  public certificates: agents (the agent socket) and admins (the control
 *  socket). czmq's zauth has one directory for every domain, which would
 *  let an agent's key submit jobs; see docs/design.md.
 *
 *  The handler reports a client's public key (Z85) as the User-Id of every
 *  message it sends, so the coordinator can bind an agent id to one key
 *  and drop an agent whose key left its directory.
 */
#ifndef SW_CURVE_H
#define SW_CURVE_H

#include <czmq.h>

#include "sw_util.h"

/*  Writes DIR/NAME.cert and DIR/NAME.cert_secret (0600); refuses to
 *  overwrite unless force. The public key (Z85) goes to public_txt[41]. */
int sw_curve_keygen(const char *dir, const char *name, bool force, char public_txt[41],
                    sw_err_t *err);
/*  A certificate with its secret key; NULL with err. */
zcert_t *sw_curve_load_secret(const char *path, sw_err_t *err);
/*  The public key (Z85) of a certificate file, public or secret. */
int sw_curve_load_public(const char *path, char public_txt[41], sw_err_t *err);

/*  A client socket (before it connects): our certificate and the server's
 *  public key. */
int sw_curve_client(zsock_t *sock, const char *secret_path, const char *server_cert,
                    sw_err_t *err);

typedef enum { SW_CURVE_AGENTS, SW_CURVE_ADMINS } sw_curve_domain_t;

typedef struct sw_curve_server_t sw_curve_server_t;

/*  Loads the server certificate, starts the ZAP handler on the agents'
 *  directory and, if admins_dir is not NULL, the admins' one, and checks
 *  that it refuses an unknown key; NULL with err otherwise. */
sw_curve_server_t *sw_curve_server_new(const char *secret_path, const char *agents_dir,
                                       const char *admins_dir, sw_err_t *err);
void sw_curve_server_destroy(sw_curve_server_t **self_p);
/*  Makes sock a CURVE server with our certificate for one domain (before
 *  it binds). */
void sw_curve_server_apply(sw_curve_server_t *self, zsock_t *sock, sw_curve_domain_t domain);
/*  Re-reads the keys of the directories that changed (their mtime); true
 *  when the agents' did. Cheap otherwise: a stat per directory. */
bool sw_curve_server_refresh(sw_curve_server_t *self);
/*  Whether the key was in the domain's directory at the last refresh. */
bool sw_curve_server_allows(sw_curve_server_t *self, sw_curve_domain_t domain,
                            const char *public_txt);
const char *sw_curve_server_public(const sw_curve_server_t *self);

/*  Asks whatever answers ZAP in this process about a random key; 0 only
 *  if it is refused. sw_curve_server_new runs it; exposed for the tests. */
int sw_curve_zap_probe(int timeout_ms, sw_err_t *err);

int sw_curve_test(bool verbose);

#endif
