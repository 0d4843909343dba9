/*  sw_garbage -- sends malformed messages to a swarm socket, for tests.
 *
 *  usage: sw_garbage ENDPOINT [ROUNDS]
 *  Each round sends: a wrong protocol id, a wrong version, an unknown
 *  command, a two-byte command frame, too few and too many frames,
 *  truncated msgpack, trailing garbage, an array claiming 2^32-1 items,
 *  a body that is not a map, a HELLO and a DONE with mistyped fields, a
 *  HEARTBEAT and DONE from a stranger, and random bytes; then, in the last
 *  round, one frame over the size cap (which makes ZeroMQ drop this
 *  connection, as it should).
 */
#include <czmq.h>
#include <stdlib.h>
#include <string.h>

#define LIT(s) s, sizeof(s) - 1

static void
s_send(zsock_t *s, const char *id, const void *cmd, size_t cmdlen, const void *body,
       size_t len, int extra)
{
    zmsg_t *m = zmsg_new();
    zmsg_addstr(m, id);
    zmsg_addmem(m, cmd, cmdlen);
    if (body)
        zmsg_addmem(m, body, len);
    for (int i = 0; i < extra; i++)
        zmsg_addstr(m, "extra");
    zmsg_send(&m, s);
}

int
main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: sw_garbage ENDPOINT [ROUNDS]\n");
        return 2;
    }
    int rounds = argc > 2 ? atoi(argv[2]) : 5;
    zsys_handler_set(NULL);
    zsock_t *s = zsock_new(ZMQ_DEALER);
    zsock_set_linger(s, 2000);
    if (zsock_connect(s, "%s", argv[1]) < 0)
        return 1;
    unsigned seed = 7;
    const unsigned char hello = 0x01, done = 0x06, hb = 0x03, bogus = 0x7e;
    for (int r = 0; r < rounds; r++) {
        s_send(s, "NOTSWARM", &hello, 1, "\x80", 1, 0);
        s_send(s, "SWARM9", &hello, 1, "\x80", 1, 0);
        s_send(s, "SWARM1", &bogus, 1, "\x80", 1, 0);
        s_send(s, "SWARM1", "\x01\x01", 2, "\x80", 1, 0);
        s_send(s, "SWARM1", &hello, 1, NULL, 0, 0);
        s_send(s, "SWARM1", &hello, 1, "\x80", 1, 2);
        s_send(s, "SWARM1", &hello, 1, "\x85\xa5", 2, 0);
        s_send(s, "SWARM1", &hb, 1, "\x80\x00\x01", 3, 0);
        s_send(s, "SWARM1", &hello, 1, "\xdd\xff\xff\xff\xff", 5, 0);
        s_send(s, "SWARM1", &hello, 1, "\x93\x01\x02\x03", 4, 0);
        /*  HELLO with slots as a string */
        s_send(s, "SWARM1", &hello, 1,
               LIT("\x85\xa5" "agent" "\xa1x" "\xa4" "host" "\xa1h" "\xa7" "version" "\xa1" "1"
               "\xa5" "slots" "\xa1" "4" "\xa7" "runners" "\x90"), 0);
        s_send(s, "SWARM1", &done, 1, "\x81\xa2id\x07", 5, 0);
        s_send(s, "SWARM1", &hb, 1, "\x80", 1, 0);
        /*  a well-formed DONE from a stranger: must change nothing */
        s_send(s, "SWARM1", &done, 1,
               LIT("\x85\xa3job\xa1j\xa2id\xa1t\xa7" "attempt\x01\xa6status\xa9succeeded"
                   "\xa9" "exit_code\x00"), 0);
        unsigned char buf[64];
        for (int k = 0; k < 20; k++) {
            size_t n = (size_t) (rand_r(&seed) % sizeof buf);
            for (size_t i = 0; i < n; i++)
                buf[i] = (unsigned char) rand_r(&seed);
            unsigned char cmd = (unsigned char) (rand_r(&seed) % 0x30);
            s_send(s, "SWARM1", &cmd, 1, buf, n, 0);
        }
    }
    size_t big = (9u << 20);
    char *huge = calloc(1, big);
    s_send(s, "SWARM1", &hello, 1, huge, big, 0);
    free(huge);
    zclock_sleep(200);
    zsock_destroy(&s);
    return 0;
}
