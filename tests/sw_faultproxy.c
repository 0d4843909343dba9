/*  sw_faultproxy -- a man in the middle between agents and the coordinator,
 *  for fault tests.
 *
 *  usage: sw_faultproxy FRONT BACK [--dup-done]
 *  Agents connect to FRONT (a ROUTER this binds); for each agent the proxy
 *  opens a DEALER to BACK (the coordinator's agent endpoint), so the
 *  coordinator sees one connection per agent, as without the proxy.
 *  Everything is forwarded as it is, except that with --dup-done every
 *  DONE an agent sends reaches the coordinator twice. Stops on SIGTERM or
 *  SIGINT and prints how many messages it forwarded and duplicated.
 */
#include <czmq.h>
#include <string.h>

#define CMD_DONE 0x06

typedef struct {
    zframe_t *routing;          /*  the agent's id on FRONT */
    zsock_t  *dealer;           /*  its connection to BACK */
} peer_t;

static void
s_peer_destroy(peer_t **p_p)
{
    peer_t *p = *p_p;
    zframe_destroy(&p->routing);
    zsock_destroy(&p->dealer);
    free(p);
    *p_p = NULL;
}

/*  A swarm message is [protocol][command (1 byte)][body]. */
static bool
s_is_done(zmsg_t *m)
{
    zframe_t *cmd = zmsg_next(m);
    cmd = cmd ? zmsg_next(m) : NULL;
    return cmd && zframe_size(cmd) == 1 && zframe_data(cmd)[0] == CMD_DONE;
}

int
main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: sw_faultproxy FRONT BACK [--dup-done]\n");
        return 2;
    }
    bool dup_done = argc > 3 && strcmp(argv[3], "--dup-done") == 0;
    zsock_t *front = zsock_new(ZMQ_ROUTER);
    if (zsock_bind(front, "%s", argv[1]) < 0) {
        fprintf(stderr, "sw_faultproxy: cannot bind %s\n", argv[1]);
        return 1;
    }
    zpoller_t *poller = zpoller_new(front, NULL);
    zhashx_t *peers = zhashx_new();        /*  routing hex -> peer_t */
    zhashx_set_destructor(peers, (zhashx_destructor_fn *) s_peer_destroy);
    zhashx_t *by_dealer = zhashx_new();    /*  dealer address -> peer_t (not owned) */
    long forwarded = 0, duplicated = 0;
    while (!zsys_interrupted) {
        void *which = zpoller_wait(poller, 200);
        if (!which)
            continue;
        zmsg_t *m = zmsg_recv(which);
        if (!m)
            continue;
        if (which == front) {
            zframe_t *routing = zmsg_pop(m);
            char *key = zframe_strhex(routing);
            peer_t *p = zhashx_lookup(peers, key);
            if (!p) {
                p = calloc(1, sizeof *p);
                p->routing = zframe_dup(routing);
                p->dealer = zsock_new(ZMQ_DEALER);
                zsock_set_linger(p->dealer, 0);
                zsock_connect(p->dealer, "%s", argv[2]);
                zhashx_insert(peers, key, p);
                char addr[32];
                snprintf(addr, sizeof addr, "%p", (void *) p->dealer);
                zhashx_insert(by_dealer, addr, p);
                zpoller_add(poller, p->dealer);
            }
            free(key);
            zframe_destroy(&routing);
            if (dup_done && s_is_done(m)) {
                zmsg_t *copy = zmsg_dup(m);
                zmsg_send(&copy, p->dealer);
                duplicated++;
            }
            zmsg_send(&m, p->dealer);
        }
        else {
            char addr[32];
            snprintf(addr, sizeof addr, "%p", which);
            peer_t *p = zhashx_lookup(by_dealer, addr);
            if (p) {
                zframe_t *routing = zframe_dup(p->routing);
                zmsg_prepend(m, &routing);
                zmsg_send(&m, front);
            }
            zmsg_destroy(&m);
        }
        forwarded++;
    }
    printf("sw_faultproxy: %ld messages forwarded, %ld DONE duplicated\n", forwarded, duplicated);
    zpoller_destroy(&poller);
    zhashx_destroy(&by_dealer);
    zhashx_destroy(&peers);
    zsock_destroy(&front);
    return 0;
}
