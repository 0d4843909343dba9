/*  sw_ctltxn -- a submit in two batches with a pause between, for tests.
 *
 *  usage: sw_ctltxn CONTROL_EP JOB GATE_FILE
 *  Sends the first batch of a SUBMIT transaction (tasks a1 a2 a3, `true`,
 *  txn "t1", more), prints "first", waits (20 s at most) for GATE_FILE to
 *  exist, sends the last batch (b1 b2 b3) and prints the reply's error or
 *  "submitted". So a test can put a request (swarm cancel) between the
 *  batches of a run, which `swarm run` sends too quickly to aim at.
 *  Exit 0 when both batches were answered, 1 otherwise.
 */
#include <czmq.h>
#include <unistd.h>

#include "sw_mpack.h"
#include "sw_proto.h"
#include "sw_task.h"

static int
s_batch(zsock_t *s, const char *job, const char *prefix, bool more, char *out, size_t outlen)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    sw_mp_packer_init(&pk, &sb);
    msgpack_pack_map(&pk, 4);
    sw_mp_kv_str(&pk, "job", job);
    sw_mp_kv_str(&pk, "txn", "t1");
    sw_mp_kv_bool(&pk, "more", more);
    sw_mp_pack_str(&pk, "tasks");
    msgpack_pack_array(&pk, 3);
    for (int i = 1; i <= 3; i++) {
        sw_task_t t;
        sw_task_init(&t);
        t.id = xasprintf("%s%d", prefix, i);
        sw_strv_push(&t.argv, "true");
        sw_task_pack(&pk, &t);
        sw_task_release(&t);
    }
    int rc = sw_msg_send(s, NULL, SW_C_SUBMIT, sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);
    if (rc < 0)
        return -1;
    zpoller_t *p = zpoller_new(s, NULL);
    bool ready = zpoller_wait(p, 30000) != NULL;
    zpoller_destroy(&p);
    if (!ready)
        return -1;
    zmsg_t *msg = zmsg_recv(s);
    sw_msg_t m;
    sw_err_t err = { 0 };
    if (!msg || sw_msg_decode(&msg, false, &m, &err) < 0)
        return -1;
    char *error = NULL;
    sw_mp_str(m.body, "error", false, &error, &err);
    snprintf(out, outlen, "%s", error ? error : "submitted");
    free(error);
    sw_msg_release(&m);
    return 0;
}

int
main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: sw_ctltxn CONTROL_EP JOB GATE_FILE\n");
        return 2;
    }
    zsys_handler_set(NULL);
    zsock_t *s = zsock_new(ZMQ_DEALER);
    sw_sock_defaults(s);
    if (zsock_connect(s, "%s", argv[1]) < 0)
        return 1;
    char reply[1024];
    int rc = s_batch(s, argv[2], "a", true, reply, sizeof reply);
    printf("first: %s\n", rc ? "no answer" : reply);
    fflush(stdout);
    for (int i = 0; rc == 0 && i < 400 && access(argv[3], F_OK) != 0; i++)
        usleep(50 * 1000);
    if (rc == 0)
        rc = s_batch(s, argv[2], "b", false, reply, sizeof reply);
    printf("last: %s\n", rc ? "no answer" : reply);
    zsock_destroy(&s);
    return rc ? 1 : 0;
}
