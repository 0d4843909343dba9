/*  sw_mpack -- see sw_mpack.h */
#include "sw_mpack.h"

#include <stdlib.h>
#include <string.h>

#include "sw_selftest.h"

const sw_mp_limits_t sw_mp_default_limits = {
    .max_depth = 8,
    .max_items = 100000,
    .max_str = 16u << 20,
};

/*  --- pre-scan ------------------------------------------------------------ */

typedef struct {
    const unsigned char *p;
    size_t len;
    size_t pos;
    size_t items;
    const sw_mp_limits_t *lim;
    sw_err_t *err;
} s_scan_t;

static int
s_need(s_scan_t *s, size_t n)
{
    if (s->len - s->pos < n)
        return sw_err_set(s->err, SW_EINVAL, "truncated at byte %zu", s->pos);
    return 0;
}

static uint64_t
s_be(const unsigned char *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

/*  Reads an n-byte big-endian length after the type byte. */
static int
s_len(s_scan_t *s, size_t n, uint64_t *out)
{
    if (s_need(s, n) < 0)
        return -1;
    *out = s_be(s->p + s->pos, n);
    s->pos += n;
    return 0;
}

static int s_scan_obj(s_scan_t *s, unsigned depth);

static int
s_scan_container(s_scan_t *s, uint64_t count, unsigned depth)
{
    if (depth >= s->lim->max_depth)
        return sw_err_set(s->err, SW_EINVAL, "nesting deeper than %u", s->lim->max_depth);
    /*  Every element takes at least one byte: a count the remaining bytes
     *  cannot back is a lie, whatever the limits say. */
    if (count > s->len - s->pos)
        return sw_err_set(s->err, SW_EINVAL, "count %llu exceeds remaining %zu bytes",
                          (unsigned long long) count, s->len - s->pos);
    if (count > s->lim->max_items - s->items)
        return sw_err_set(s->err, SW_EINVAL, "more than %zu items", s->lim->max_items);
    for (uint64_t i = 0; i < count; i++)
        if (s_scan_obj(s, depth + 1) < 0)
            return -1;
    return 0;
}

static int
s_scan_bytes(s_scan_t *s, uint64_t n)
{
    if (n > s->lim->max_str)
        return sw_err_set(s->err, SW_EINVAL, "string of %llu bytes over limit %zu",
                          (unsigned long long) n, s->lim->max_str);
    if (s_need(s, n) < 0)
        return -1;
    s->pos += n;
    return 0;
}

static int
s_scan_obj(s_scan_t *s, unsigned depth)
{
    if (s_need(s, 1) < 0)
        return -1;
    if (++s->items > s->lim->max_items)
        return sw_err_set(s->err, SW_EINVAL, "more than %zu items", s->lim->max_items);
    unsigned t = s->p[s->pos++];
    uint64_t n;
    if (t <= 0x7f || t >= 0xe0)                 /*  fixint */
        return 0;
    if (t <= 0x8f)                              /*  fixmap */
        return s_scan_container(s, 2u * (t & 0x0f), depth);
    if (t <= 0x9f)                              /*  fixarray */
        return s_scan_container(s, t & 0x0f, depth);
    if (t <= 0xbf)                              /*  fixstr */
        return s_scan_bytes(s, t & 0x1f);
    switch (t) {
    case 0xc0: case 0xc2: case 0xc3:            /*  nil, false, true */
        return 0;
    case 0xc4: case 0xd9:                       /*  bin8, str8 */
        return s_len(s, 1, &n) < 0 ? -1 : s_scan_bytes(s, n);
    case 0xc5: case 0xda:                       /*  bin16, str16 */
        return s_len(s, 2, &n) < 0 ? -1 : s_scan_bytes(s, n);
    case 0xc6: case 0xdb:                       /*  bin32, str32 */
        return s_len(s, 4, &n) < 0 ? -1 : s_scan_bytes(s, n);
    case 0xca: case 0xce: case 0xd2:            /*  float32, uint32, int32 */
        return s_scan_bytes(s, 4);
    case 0xcb: case 0xcf: case 0xd3:            /*  float64, uint64, int64 */
        return s_scan_bytes(s, 8);
    case 0xcc: case 0xd0:
        return s_scan_bytes(s, 1);
    case 0xcd: case 0xd1:
        return s_scan_bytes(s, 2);
    case 0xdc:
        return s_len(s, 2, &n) < 0 ? -1 : s_scan_container(s, n, depth);
    case 0xdd:
        return s_len(s, 4, &n) < 0 ? -1 : s_scan_container(s, n, depth);
    case 0xde:
        if (s_len(s, 2, &n) < 0)
            return -1;
        return s_scan_container(s, 2 * n, depth);
    case 0xdf:
        if (s_len(s, 4, &n) < 0)
            return -1;
        return s_scan_container(s, 2 * n, depth);
    default:                                    /*  0xc1, ext types */
        return sw_err_set(s->err, SW_EINVAL, "unsupported type byte 0x%02x", t);
    }
}

int
sw_mp_check(const void *data, size_t len, const sw_mp_limits_t *lim, sw_err_t *err)
{
    s_scan_t s = { .p = data, .len = len, .lim = lim ? lim : &sw_mp_default_limits,
                   .err = err };
    if (len == 0)
        return sw_err_set(err, SW_EINVAL, "empty document");
    if (s_scan_obj(&s, 0) < 0)
        return -1;
    if (s.pos != len)
        return sw_err_set(err, SW_EINVAL, "%zu trailing bytes", len - s.pos);
    return 0;
}

/*  --- owned vectors ------------------------------------------------------- */

void
sw_strv_push(sw_strv_t *sv, const char *s)
{
    sv->v = xrealloc(sv->v, (sv->n + 2) * sizeof *sv->v);
    sv->v[sv->n++] = xstrdup(s);
    sv->v[sv->n] = NULL;
}

void
sw_strv_release(sw_strv_t *sv)
{
    for (size_t i = 0; i < sv->n; i++)
        free(sv->v[i]);
    free(sv->v);
    sv->v = NULL;
    sv->n = 0;
}

void
sw_strv_copy(sw_strv_t *dst, const sw_strv_t *src)
{
    for (size_t i = 0; i < src->n; i++)
        sw_strv_push(dst, src->v[i]);
}

void
sw_kv_set(sw_kv_t *kv, const char *k, const char *v)
{
    for (size_t i = 0; i < kv->n; i++)
        if (strcmp(kv->k[i], k) == 0) {
            free(kv->v[i]);
            kv->v[i] = xstrdup(v);
            return;
        }
    kv->k = xrealloc(kv->k, (kv->n + 1) * sizeof *kv->k);
    kv->v = xrealloc(kv->v, (kv->n + 1) * sizeof *kv->v);
    kv->k[kv->n] = xstrdup(k);
    kv->v[kv->n] = xstrdup(v);
    kv->n++;
}

const char *
sw_kv_get(const sw_kv_t *kv, const char *k)
{
    for (size_t i = 0; i < kv->n; i++)
        if (strcmp(kv->k[i], k) == 0)
            return kv->v[i];
    return NULL;
}

void
sw_kv_release(sw_kv_t *kv)
{
    for (size_t i = 0; i < kv->n; i++) {
        free(kv->k[i]);
        free(kv->v[i]);
    }
    free(kv->k);
    free(kv->v);
    memset(kv, 0, sizeof *kv);
}

void
sw_kv_copy(sw_kv_t *dst, const sw_kv_t *src)
{
    for (size_t i = 0; i < src->n; i++)
        sw_kv_set(dst, src->k[i], src->v[i]);
}

/*  --- getters -------------------------------------------------------------- */

const msgpack_object *
sw_mp_find(const msgpack_object *map, const char *key)
{
    if (!map || map->type != MSGPACK_OBJECT_MAP)
        return NULL;
    size_t klen = strlen(key);
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object *k = &map->via.map.ptr[i].key;
        if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == klen
            && memcmp(k->via.str.ptr, key, klen) == 0)
            return &map->via.map.ptr[i].val;
    }
    return NULL;
}

char *
sw_mp_dup(const msgpack_object *o)
{
    if (o->type != MSGPACK_OBJECT_STR || memchr(o->via.str.ptr, 0, o->via.str.size))
        return NULL;
    return xstrndup(o->via.str.ptr, o->via.str.size);
}

/*  Looks the key up; 1 = found (non-nil), 0 = absent and fine, -1 = error. */
static int
s_lookup(const msgpack_object *map, const char *key, bool required,
         const msgpack_object **o, sw_err_t *err)
{
    *o = sw_mp_find(map, key);
    if (*o && (*o)->type != MSGPACK_OBJECT_NIL)
        return 1;
    if (required)
        return sw_err_set(err, SW_EINVAL, "missing field '%s'", key);
    return 0;
}

int
sw_mp_str(const msgpack_object *map, const char *key, bool required, char **out,
          sw_err_t *err)
{
    const msgpack_object *o;
    int rc = s_lookup(map, key, required, &o, err);
    if (rc <= 0)
        return rc;
    char *s = sw_mp_dup(o);
    if (!s)
        return sw_err_set(err, SW_EINVAL, "field '%s' is not a string", key);
    free(*out);
    *out = s;
    return 0;
}

int
sw_mp_int(const msgpack_object *map, const char *key, bool required, int64_t min,
          int64_t max, int64_t *out, sw_err_t *err)
{
    const msgpack_object *o;
    int rc = s_lookup(map, key, required, &o, err);
    if (rc <= 0)
        return rc;
    int64_t v;
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
        if (o->via.u64 > INT64_MAX)
            return sw_err_set(err, SW_EINVAL, "field '%s' out of range", key);
        v = (int64_t) o->via.u64;
    }
    else if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
        v = o->via.i64;
    else
        return sw_err_set(err, SW_EINVAL, "field '%s' is not an integer", key);
    if (v < min || v > max)
        return sw_err_set(err, SW_EINVAL, "field '%s' = %lld out of range [%lld, %lld]",
                          key, (long long) v, (long long) min, (long long) max);
    *out = v;
    return 0;
}

int
sw_mp_bool(const msgpack_object *map, const char *key, bool required, bool *out,
           sw_err_t *err)
{
    const msgpack_object *o;
    int rc = s_lookup(map, key, required, &o, err);
    if (rc <= 0)
        return rc;
    if (o->type != MSGPACK_OBJECT_BOOLEAN)
        return sw_err_set(err, SW_EINVAL, "field '%s' is not a boolean", key);
    *out = o->via.boolean;
    return 0;
}

int
sw_mp_strv(const msgpack_object *map, const char *key, bool required, size_t max,
           sw_strv_t *out, sw_err_t *err)
{
    const msgpack_object *o;
    int rc = s_lookup(map, key, required, &o, err);
    if (rc <= 0)
        return rc;
    if (o->type != MSGPACK_OBJECT_ARRAY)
        return sw_err_set(err, SW_EINVAL, "field '%s' is not an array", key);
    if (o->via.array.size > max)
        return sw_err_set(err, SW_EINVAL, "field '%s' has more than %zu items", key, max);
    sw_strv_t sv = { 0 };
    for (uint32_t i = 0; i < o->via.array.size; i++) {
        char *s = sw_mp_dup(&o->via.array.ptr[i]);
        if (!s) {
            sw_strv_release(&sv);
            return sw_err_set(err, SW_EINVAL, "field '%s'[%u] is not a string", key, i);
        }
        sw_strv_push(&sv, s);
        free(s);
    }
    sw_strv_release(out);
    *out = sv;
    return 0;
}

int
sw_mp_kv(const msgpack_object *map, const char *key, bool required, size_t max,
         sw_kv_t *out, sw_err_t *err)
{
    const msgpack_object *o;
    int rc = s_lookup(map, key, required, &o, err);
    if (rc <= 0)
        return rc;
    if (o->type != MSGPACK_OBJECT_MAP)
        return sw_err_set(err, SW_EINVAL, "field '%s' is not a map", key);
    if (o->via.map.size > max)
        return sw_err_set(err, SW_EINVAL, "field '%s' has more than %zu entries", key, max);
    sw_kv_t kv = { 0 };
    for (uint32_t i = 0; i < o->via.map.size; i++) {
        char *k = sw_mp_dup(&o->via.map.ptr[i].key);
        char *v = sw_mp_dup(&o->via.map.ptr[i].val);
        if (k && v)
            sw_kv_set(&kv, k, v);
        free(k);
        free(v);
        if (!k || !v) {
            sw_kv_release(&kv);
            return sw_err_set(err, SW_EINVAL, "field '%s' must map strings to strings", key);
        }
    }
    sw_kv_release(out);
    *out = kv;
    return 0;
}

/*  --- packing --------------------------------------------------------------- */

static int
s_sbuffer_write(void *data, const char *buf, size_t len)
{
    if (msgpack_sbuffer_write(data, buf, len) != 0)
        fatalx("out of memory (msgpack buffer)");
    return 0;
}

void
sw_mp_packer_init(msgpack_packer *pk, msgpack_sbuffer *sb)
{
    msgpack_packer_init(pk, sb, s_sbuffer_write);
}

void
sw_mp_pack_strn(msgpack_packer *pk, const char *s, size_t n)
{
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

void
sw_mp_pack_str(msgpack_packer *pk, const char *s)
{
    if (s)
        sw_mp_pack_strn(pk, s, strlen(s));
    else
        msgpack_pack_nil(pk);
}

void
sw_mp_kv_str(msgpack_packer *pk, const char *key, const char *val)
{
    sw_mp_pack_str(pk, key);
    sw_mp_pack_str(pk, val);
}

void
sw_mp_kv_int(msgpack_packer *pk, const char *key, int64_t val)
{
    sw_mp_pack_str(pk, key);
    msgpack_pack_int64(pk, val);
}

void
sw_mp_kv_bool(msgpack_packer *pk, const char *key, bool val)
{
    sw_mp_pack_str(pk, key);
    if (val)
        msgpack_pack_true(pk);
    else
        msgpack_pack_false(pk);
}

void
sw_mp_kv_strv(msgpack_packer *pk, const char *key, const sw_strv_t *sv)
{
    sw_mp_pack_str(pk, key);
    msgpack_pack_array(pk, sv->n);
    for (size_t i = 0; i < sv->n; i++)
        sw_mp_pack_str(pk, sv->v[i]);
}

void
sw_mp_kv_kv(msgpack_packer *pk, const char *key, const sw_kv_t *kv)
{
    sw_mp_pack_str(pk, key);
    msgpack_pack_map(pk, kv->n);
    for (size_t i = 0; i < kv->n; i++)
        sw_mp_kv_str(pk, kv->k[i], kv->v[i]);
}

json_t *
sw_mp_to_json(const msgpack_object *o)
{
    switch (o->type) {
    case MSGPACK_OBJECT_NIL:              return json_null();
    case MSGPACK_OBJECT_BOOLEAN:          return json_boolean(o->via.boolean);
    case MSGPACK_OBJECT_POSITIVE_INTEGER: return json_integer((json_int_t) o->via.u64);
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: return json_integer(o->via.i64);
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:          return json_real(o->via.f64);
    case MSGPACK_OBJECT_STR: {
        sw_buf_t b;
        sw_buf_init(&b);
        sw_utf8_sanitize(o->via.str.ptr, o->via.str.size, &b);
        json_t *s = json_stringn(b.data ? b.data : "", b.len);
        sw_buf_release(&b);
        return s;
    }
    case MSGPACK_OBJECT_ARRAY: {
        json_t *a = json_array();
        for (uint32_t i = 0; i < o->via.array.size; i++)
            json_array_append_new(a, sw_mp_to_json(&o->via.array.ptr[i]));
        return a;
    }
    case MSGPACK_OBJECT_MAP: {
        json_t *m = json_object();
        for (uint32_t i = 0; i < o->via.map.size; i++) {
            char *k = sw_mp_dup(&o->via.map.ptr[i].key);
            if (k && strcmp(k, "ok") != 0)
                json_object_set_new(m, k, sw_mp_to_json(&o->via.map.ptr[i].val));
            free(k);
        }
        return m;
    }
    default:
        return json_null();
    }
}

static void
s_json_string(const char *p, size_t n, sw_buf_t *out)
{
    /*  Valid text (nearly always) is escaped in place; only bad bytes
     *  cost a copy. */
    sw_buf_t clean = { (char *) p, n, 0 };
    bool copied = !sw_utf8_clean(p, n);
    if (copied) {
        sw_buf_init(&clean);
        sw_utf8_sanitize(p, n, &clean);
    }
    sw_buf_add(out, "\"", 1);
    size_t run = 0;
    for (size_t i = 0; i < clean.len; i++) {
        unsigned char c = (unsigned char) clean.data[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        sw_buf_add(out, clean.data + run, i - run);
        run = i + 1;
        switch (c) {
        case '"':  sw_buf_add(out, "\\\"", 2); break;
        case '\\': sw_buf_add(out, "\\\\", 2); break;
        case '\n': sw_buf_add(out, "\\n", 2); break;
        case '\t': sw_buf_add(out, "\\t", 2); break;
        case '\r': sw_buf_add(out, "\\r", 2); break;
        default:   sw_buf_printf(out, "\\u%04x", c);
        }
    }
    sw_buf_add(out, clean.data + run, clean.len - run);
    sw_buf_add(out, "\"", 1);
    if (copied)
        sw_buf_release(&clean);
}

void
sw_mp_write_json(const msgpack_object *o, sw_buf_t *out)
{
    switch (o->type) {
    case MSGPACK_OBJECT_BOOLEAN:
        sw_buf_addstr(out, o->via.boolean ? "true" : "false");
        return;
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: {
        char num[24];
        int len = o->type == MSGPACK_OBJECT_POSITIVE_INTEGER
                ? snprintf(num, sizeof num, "%llu", (unsigned long long) o->via.u64)
                : snprintf(num, sizeof num, "%lld", (long long) o->via.i64);
        sw_buf_add(out, num, (size_t) len);
        return;
    }
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64: {
        char num[40];
        snprintf(num, sizeof num, "%.17g", o->via.f64);
        sw_buf_addstr(out, num);
        if (!strpbrk(num, ".eEin"))
            sw_buf_addstr(out, ".0");
        return;
    }
    case MSGPACK_OBJECT_STR:
        s_json_string(o->via.str.ptr, o->via.str.size, out);
        return;
    case MSGPACK_OBJECT_ARRAY:
        sw_buf_add(out, "[", 1);
        for (uint32_t i = 0; i < o->via.array.size; i++) {
            if (i)
                sw_buf_add(out, ",", 1);
            sw_mp_write_json(&o->via.array.ptr[i], out);
        }
        sw_buf_add(out, "]", 1);
        return;
    case MSGPACK_OBJECT_MAP: {
        sw_buf_add(out, "{", 1);
        bool first = true;
        for (uint32_t i = 0; i < o->via.map.size; i++) {
            const msgpack_object *k = &o->via.map.ptr[i].key;
            /*  as sw_mp_to_json: string keys without NUL, and not "ok" */
            if (k->type != MSGPACK_OBJECT_STR || memchr(k->via.str.ptr, 0, k->via.str.size)
                || (k->via.str.size == 2 && memcmp(k->via.str.ptr, "ok", 2) == 0))
                continue;
            if (!first)
                sw_buf_add(out, ",", 1);
            first = false;
            s_json_string(k->via.str.ptr, k->via.str.size, out);
            sw_buf_add(out, ":", 1);
            sw_mp_write_json(&o->via.map.ptr[i].val, out);
        }
        sw_buf_add(out, "}", 1);
        return;
    }
    default:
        sw_buf_addstr(out, "null");
    }
}

/*  --- self-test --------------------------------------------------------------- */

static int
s_check_bytes(const char *bytes, size_t n)
{
    sw_err_t err = { 0 };
    return sw_mp_check(bytes, n, NULL, &err);
}

int
sw_mpack_test(bool verbose)
{
    sw_err_t err = { 0 };
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    sw_mp_packer_init(&pk, &sb);
    msgpack_pack_map(&pk, 4);
    sw_mp_kv_str(&pk, "name", "agent-1");
    sw_mp_kv_int(&pk, "slots", 4);
    sw_mp_kv_bool(&pk, "on", true);
    sw_strv_t sv = { 0 };
    sw_strv_push(&sv, "a");
    sw_strv_push(&sv, "b");
    sw_mp_kv_strv(&pk, "list", &sv);
    sw_strv_release(&sv);

    CHECK(sw_mp_check(sb.data, sb.size, NULL, &err) == 0);
    /*  every proper prefix is truncated, one more byte is trailing garbage */
    for (size_t i = 0; i < sb.size; i++)
        CHECK(s_check_bytes(sb.data, i) < 0);
    char *more = xmalloc(sb.size + 1);
    memcpy(more, sb.data, sb.size);
    more[sb.size] = 0x00;
    CHECK(sw_mp_check(more, sb.size + 1, NULL, &err) < 0);
    CHECK(strstr(err.msg, "trailing") != NULL);
    free(more);

    /*  the getters see the fields and reject wrong types */
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    size_t off = 0;
    CHECK(msgpack_unpack_next(&up, sb.data, sb.size, &off) == MSGPACK_UNPACK_SUCCESS);
    char *name = NULL;
    int64_t slots = 0;
    bool on = false;
    CHECK(sw_mp_str(&up.data, "name", true, &name, &err) == 0);
    CHECK(name && strcmp(name, "agent-1") == 0);
    free(name);
    name = NULL;
    CHECK(sw_mp_int(&up.data, "slots", true, 1, 1024, &slots, &err) == 0 && slots == 4);
    CHECK(sw_mp_int(&up.data, "slots", true, 5, 1024, &slots, &err) < 0);
    CHECK(sw_mp_bool(&up.data, "on", true, &on, &err) == 0 && on);
    CHECK(sw_mp_str(&up.data, "slots", true, &name, &err) < 0);
    CHECK(strstr(err.msg, "not a string") != NULL);
    CHECK(sw_mp_str(&up.data, "nope", true, &name, &err) < 0);
    CHECK(sw_mp_str(&up.data, "nope", false, &name, &err) == 0 && name == NULL);
    sw_strv_t got = { 0 };
    CHECK(sw_mp_strv(&up.data, "list", true, 10, &got, &err) == 0 && got.n == 2);
    CHECK(got.v[2] == NULL && strcmp(got.v[1], "b") == 0);
    CHECK(sw_mp_strv(&up.data, "list", true, 1, &got, &err) < 0);
    sw_strv_release(&got);
    msgpack_unpacked_destroy(&up);
    msgpack_sbuffer_destroy(&sb);

    /*  lying counts: array32 claiming 2^32-1 items in a 5-byte frame */
    CHECK(s_check_bytes("\xdd\xff\xff\xff\xff", 5) < 0);
    CHECK(s_check_bytes("\xdf\xff\xff\xff\xff", 5) < 0);
    CHECK(s_check_bytes("\xdb\xff\xff\xff\xff", 5) < 0);
    CHECK(s_check_bytes("\xc1", 1) < 0);                 /*  never used */
    CHECK(s_check_bytes("\xd4\x01\x02", 3) < 0);         /*  fixext1 */
    CHECK(s_check_bytes("", 0) < 0);
    CHECK(s_check_bytes("\x80", 1) == 0);                /*  empty map */

    /*  nesting limit */
    char deep[64];
    memset(deep, 0x91, sizeof deep);                     /*  [[[[...]]]] */
    deep[sizeof deep - 1] = 0x90;
    CHECK(s_check_bytes(deep, sizeof deep) < 0);
    CHECK(strstr(deep, "") && s_check_bytes(deep + 56, 8) == 0);

    /*  random bytes never crash the scanner, and whatever it accepts
     *  msgpack decodes completely */
    unsigned seed = 12345;
    for (int round = 0; round < 20000; round++) {
        unsigned char buf[48];
        size_t n = (size_t) (rand_r(&seed) % sizeof buf) + 1;
        for (size_t i = 0; i < n; i++)
            buf[i] = (unsigned char) rand_r(&seed);
        if (sw_mp_check(buf, n, NULL, &err) == 0) {
            msgpack_unpacked u;
            msgpack_unpacked_init(&u);
            size_t o = 0;
            CHECK(msgpack_unpack_next(&u, (const char *) buf, n, &o)
                  == MSGPACK_UNPACK_SUCCESS && o == n);
            msgpack_unpacked_destroy(&u);
        }
    }

    /*  JSON: "ok" is the reply's, bad UTF-8 is replaced, nesting kept */
    msgpack_sbuffer_init(&sb);
    sw_mp_packer_init(&pk, &sb);
    msgpack_pack_map(&pk, 3);
    sw_mp_kv_bool(&pk, "ok", true);
    sw_mp_pack_str(&pk, "id");
    sw_mp_pack_strn(&pk, "a\xff" "b", 3);
    sw_mp_pack_str(&pk, "tasks");
    msgpack_pack_array(&pk, 1);
    msgpack_pack_map(&pk, 3);
    sw_mp_kv_int(&pk, "n", -5);
    sw_mp_kv_str(&pk, "s", NULL);
    sw_mp_kv_str(&pk, "e", "q\"b\\n\n\t\x01<>");
    msgpack_unpacked ju;
    msgpack_unpacked_init(&ju);
    size_t jo = 0;
    CHECK(msgpack_unpack_next(&ju, sb.data, sb.size, &jo) == MSGPACK_UNPACK_SUCCESS);
    json_t *j = sw_mp_to_json(&ju.data);
    char *text = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
    CHECK(text && strcmp(text, "{\"id\":\"a\xef\xbf\xbd" "b\",\"tasks\":[{\"n\":-5,\"s\":null,"
                               "\"e\":\"q\\\"b\\\\n\\n\\t\\u0001<>\"}]}") == 0);
    /*  the direct writer gives the same text here */
    sw_buf_t direct;
    sw_buf_init(&direct);
    sw_mp_write_json(&ju.data, &direct);
    CHECK(text && direct.data && strcmp(text, direct.data) == 0);
    sw_buf_release(&direct);
    free(text);
    json_decref(j);
    msgpack_unpacked_destroy(&ju);
    msgpack_sbuffer_destroy(&sb);
    (void) verbose;
    return 0;
}
