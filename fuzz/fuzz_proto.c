/*  fuzz_proto -- libFuzzer target for the wire decoder and the decoders of
 *  every message body (HELLO, ACCEPT/DONE/CANCEL, TASK).
 *
 *  Input: one byte, the frame count (mod 6); then, for every frame but the
 *  last, a two-byte little-endian length; the last frame takes the rest.
 *  The seeds in corpus/proto are real messages in this format
 *  (make-seeds.py). Every decoder must return an error or a value, never
 *  crash, leak or read past its input.
 */
#include <stddef.h>
#include <stdint.h>

#include "sw_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
s_bodies(const msgpack_object *body)
{
    sw_err_t err = { 0 };
    sw_hello_t h;
    if (sw_hello_unpack(body, &h, &err) == 0)
        sw_hello_release(&h);
    for (int done = 0; done < 2; done++) {
        sw_ref_t r;
        if (sw_ref_unpack(body, &r, done, &err) == 0)
            sw_ref_release(&r);
    }
    sw_task_t t;
    sw_task_init(&t);
    if (sw_task_unpack(body, &t, &err) == 0)
        sw_task_validate(&t, &err);
    sw_task_release(&t);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t frames = data[0] % 6, off = 1;
    zmsg_t *msg = zmsg_new();
    for (size_t i = 0; i < frames; i++) {
        size_t len = size - off;
        if (i + 1 < frames) {
            if (size - off < 2)
                break;
            len = (size_t) data[off] | (size_t) data[off + 1] << 8;
            off += 2;
            if (len > size - off)
                len = size - off;
        }
        zmsg_addmem(msg, data + off, len);
        off += len;
    }
    /*  The same frames as a DEALER and as a ROUTER would see them. */
    for (int router = 0; router < 2; router++) {
        zmsg_t *copy = zmsg_dup(msg);
        sw_msg_t m;
        sw_err_t err = { 0 };
        if (sw_msg_decode(&copy, router, &m, &err) == 0) {
            s_bodies(m.body);
            sw_msg_release(&m);
        }
    }
    zmsg_destroy(&msg);
    return 0;
}
