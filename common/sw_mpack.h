/*  sw_mpack -- safe msgpack decoding and terse packing.
 *
 *  msgpack-c allocates arrays and maps from the count a document declares,
 *  so a 5-byte frame can ask for gigabytes. sw_mp_check() walks the raw
 *  bytes first and accepts only one well-formed document that ends exactly
 *  at the end of the buffer, with every count backed by enough bytes and
 *  within the limits. Only then is msgpack_unpack_next() called.
 *
 *  Decoded msgpack strings are not NUL-terminated and die with their zone:
 *  the getters below copy into owned, NUL-terminated strings and reject
 *  embedded NULs.
 */
#ifndef SW_MPACK_H
#define SW_MPACK_H

#include <jansson.h>
#include <msgpack.h>
#include <stdbool.h>
#include <stdint.h>

#include "sw_util.h"

typedef struct {
    unsigned max_depth;         /*  nesting of arrays/maps */
    size_t   max_items;         /*  objects in the whole document */
    size_t   max_str;           /*  bytes of one str or bin */
} sw_mp_limits_t;

extern const sw_mp_limits_t sw_mp_default_limits;

/*  0 when data[0..len) is exactly one acceptable document; -1 otherwise
 *  with the reason in err. Extension types are rejected. */
int sw_mp_check(const void *data, size_t len, const sw_mp_limits_t *lim, sw_err_t *err);

/*  NULL-terminated string vector and string map, owned. */
typedef struct { char **v; size_t n; } sw_strv_t;
typedef struct { char **k; char **v; size_t n; } sw_kv_t;

void sw_strv_push(sw_strv_t *sv, const char *s);
void sw_strv_release(sw_strv_t *sv);
void sw_strv_copy(sw_strv_t *dst, const sw_strv_t *src);
void sw_kv_set(sw_kv_t *kv, const char *k, const char *v);
const char *sw_kv_get(const sw_kv_t *kv, const char *k);
void sw_kv_release(sw_kv_t *kv);
void sw_kv_copy(sw_kv_t *dst, const sw_kv_t *src);

/*  Getters on a decoded map. Absent and required -> -1 with err; absent
 *  and optional -> 0 and *out untouched. Wrong type -> -1 with err. */
const msgpack_object *sw_mp_find(const msgpack_object *map, const char *key);
int sw_mp_str(const msgpack_object *map, const char *key, bool required,
              char **out, sw_err_t *err);
int sw_mp_int(const msgpack_object *map, const char *key, bool required,
              int64_t min, int64_t max, int64_t *out, sw_err_t *err);
int sw_mp_bool(const msgpack_object *map, const char *key, bool required,
               bool *out, sw_err_t *err);
int sw_mp_strv(const msgpack_object *map, const char *key, bool required,
               size_t max, sw_strv_t *out, sw_err_t *err);
int sw_mp_kv(const msgpack_object *map, const char *key, bool required,
             size_t max, sw_kv_t *out, sw_err_t *err);
/*  Copy of a str object; NULL when it is not a str or holds a NUL. */
char *sw_mp_dup(const msgpack_object *o);

/*  Packer whose sbuffer writes abort on OOM, so pack calls cannot fail. */
void sw_mp_packer_init(msgpack_packer *pk, msgpack_sbuffer *sb);
void sw_mp_pack_str(msgpack_packer *pk, const char *s);
void sw_mp_pack_strn(msgpack_packer *pk, const char *s, size_t n);
void sw_mp_kv_str(msgpack_packer *pk, const char *key, const char *val);  /*  NULL -> nil */
void sw_mp_kv_int(msgpack_packer *pk, const char *key, int64_t val);
void sw_mp_kv_bool(msgpack_packer *pk, const char *key, bool val);
void sw_mp_kv_strv(msgpack_packer *pk, const char *key, const sw_strv_t *sv);
void sw_mp_kv_kv(msgpack_packer *pk, const char *key, const sw_kv_t *kv);

/*  A decoded document as JSON (new reference): strings are made valid
 *  UTF-8 (U+FFFD for bad bytes), binary and extension values become null,
 *  and every map's "ok" is left out (it is the control reply's success
 *  flag, not part of the document). What `swarm --json` prints of a
 *  coordinator reply, and what the dashboard serves of the same reply. */
json_t *sw_mp_to_json(const msgpack_object *o);
/*  The same value as compact JSON text, appended to out, without building
 *  a tree: a 10,000-task status takes about half the time this way (the
 *  dashboard serves it from the coordinator's loop). */
void sw_mp_write_json(const msgpack_object *o, sw_buf_t *out);

int sw_mpack_test(bool verbose);

#endif
