/* alert_avro.c -- the alert event between its JSON text and Avro binary.
 *
 * Both directions walk the schema generically (records, unions with null,
 * enums, arrays, maps and the primitive types), so the JSON of
 * ew_alert_json and schemas/alert_event.avsc are the only places that list
 * fields. avro-c does the encoding; decoding first walks the bytes against
 * the schema with bounds checks of its own, because avro-c 1.11.1 trusts a
 * datum's lengths: a string declared as 2^52 bytes makes it realloc 2^52
 * bytes (ASan aborts), before it looks at how many bytes are left. After
 * the walk avro-c only ever reads a datum known to be well formed.
 */
#include "edgewatch/alert_avro.h"
#include "edgewatch/decode.h"

#include <avro.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Confluent framing: magic byte 0, then the schema id, 4 bytes big-endian. */
#define FRAME_LEN 5
/* "top_contributors[12].dimension" and the like; longer paths are cut. */
#define PATH_LEN 128

struct ew_alert_codec {
    avro_schema_t schema;
    avro_value_iface_t *iface;
};

static void set_err(char *err, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, cap, fmt, ap);
    va_end(ap);
}

ew_alert_codec *ew_alert_codec_new(char *err, size_t errcap)
{
    ew_alert_codec *c = calloc(1, sizeof *c);
    if (!c) {
        set_err(err, errcap, "out of memory");
        return NULL;
    }
    if (avro_schema_from_json_length(ew_schema_alert_event, strlen(ew_schema_alert_event), &c->schema) != 0) {
        set_err(err, errcap, "schemas/alert_event.avsc: %s", avro_strerror());
        free(c);
        return NULL;
    }
    if (!(c->iface = avro_generic_class_from_schema(c->schema))) {
        set_err(err, errcap, "schemas/alert_event.avsc: %s", avro_strerror());
        avro_schema_decref(c->schema);
        free(c);
        return NULL;
    }
    return c;
}

void ew_alert_codec_free(ew_alert_codec *c)
{
    if (!c)
        return;
    avro_value_iface_decref(c->iface);
    avro_schema_decref(c->schema);
    free(c);
}

/* ---- schema and path helpers ---- */

/* A named type used a second time is a link to its definition. */
static avro_schema_t resolved(avro_schema_t s) { return is_avro_link(s) ? avro_schema_link_target(s) : s; }

static void field_path(char *out, const char *parent, const char *name)
{
    snprintf(out, PATH_LEN, "%s%s%s", parent, *parent ? "." : "", name);
}

static void item_path(char *out, const char *parent, size_t i) { snprintf(out, PATH_LEN, "%s[%zu]", parent, i); }

/* The field a message is about; the whole event when at the top. */
static const char *shown(const char *path) { return *path ? path : "(event)"; }

/* ======================= JSON -> Avro ======================= */

static const char *json_kind(const json_t *j)
{
    switch (json_typeof(j)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
    }
    return "something else";
}

/* What a JSON value must be to fill an Avro type, in words. */
static const char *wanted(avro_schema_t s)
{
    switch (avro_typeof(s)) {
    case AVRO_NULL: return "null";
    case AVRO_BOOLEAN: return "a boolean";
    case AVRO_INT32:
    case AVRO_INT64: return "an integer";
    case AVRO_FLOAT:
    case AVRO_DOUBLE: return "a number";
    case AVRO_STRING:
    case AVRO_ENUM: return "a string";
    case AVRO_RECORD:
    case AVRO_MAP: return "an object";
    case AVRO_ARRAY: return "an array";
    default: return "a value of an unsupported Avro type";
    }
}

static bool fits(avro_schema_t s, const json_t *j)
{
    switch (avro_typeof(s)) {
    case AVRO_NULL: return json_is_null(j);
    case AVRO_BOOLEAN: return json_is_boolean(j);
    case AVRO_INT32:
    case AVRO_INT64: return json_is_integer(j);
    case AVRO_FLOAT:
    case AVRO_DOUBLE: return json_is_number(j);
    case AVRO_STRING:
    case AVRO_ENUM: return json_is_string(j);
    case AVRO_RECORD:
    case AVRO_MAP: return json_is_object(j);
    case AVRO_ARRAY: return json_is_array(j);
    default: return false;
    }
}

static bool mismatch(const char *path, const char *want, const json_t *j, char *err, size_t cap)
{
    set_err(err, cap, "field %s: expected %s, got %s", shown(path), want, json_kind(j));
    return false;
}

static bool accepts_null(avro_schema_t s)
{
    s = resolved(s);
    if (!is_avro_union(s))
        return is_avro_null(s);
    for (size_t i = 0; i < avro_schema_union_size(s); i++)
        if (is_avro_null(resolved(avro_schema_union_branch(s, (int)i))))
            return true;
    return false;
}

/* avro-c's setters fail only on a type mismatch or no memory; say which. */
static bool done(int rc, const char *path, char *err, size_t cap)
{
    if (rc != 0)
        set_err(err, cap, "field %s: %s", shown(path), avro_strerror());
    return rc == 0;
}

static bool put_value(avro_value_t *v, avro_schema_t s, const json_t *j, const char *path, char *err, size_t cap);

/* The first branch whose type the JSON value fits: ["null","double"] takes
 * null or a number. */
static bool put_union(avro_value_t *v, avro_schema_t s, const json_t *j, const char *path, char *err, size_t cap)
{
    char want[128] = "";
    size_t n = avro_schema_union_size(s);
    for (size_t i = 0; i < n; i++) {
        avro_schema_t b = resolved(avro_schema_union_branch(s, (int)i));
        if (fits(b, j)) {
            avro_value_t branch;
            return done(avro_value_set_branch(v, (int)i, &branch), path, err, cap) &&
                   put_value(&branch, b, j, path, err, cap);
        }
        size_t used = strlen(want);
        snprintf(want + used, sizeof want - used, "%s%s", i ? " or " : "", wanted(b));
    }
    return mismatch(path, want, j, err, cap);
}

/* A key the schema lacks would be dropped silently: refuse it instead, so
 * the JSON and the .avsc cannot drift apart unnoticed. */
static bool only_known_keys(avro_schema_t s, const json_t *j, const char *path, char *err, size_t cap)
{
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)j, key, value) {
        if (avro_schema_record_field_get_index(s, key) < 0) {
            char p[PATH_LEN];
            field_path(p, path, key);
            set_err(err, cap, "field %s: not in schemas/alert_event.avsc", p);
            return false;
        }
    }
    return true;
}

static bool put_record(avro_value_t *v, avro_schema_t s, const json_t *j, const char *path, char *err, size_t cap)
{
    if (!json_is_object(j))
        return mismatch(path, "an object", j, err, cap);
    if (!only_known_keys(s, j, path, err, cap))
        return false;
    size_t n = avro_schema_record_size(s);
    for (size_t i = 0; i < n; i++) {
        const char *name = avro_schema_record_field_name(s, (int)i);
        avro_schema_t fs = avro_schema_record_field_get_by_index(s, (int)i);
        const json_t *fj = json_object_get(j, name);
        char p[PATH_LEN];
        field_path(p, path, name);
        if (!fj && !accepts_null(fs)) {
            set_err(err, cap, "field %s: missing", p);
            return false;
        }
        avro_value_t child;
        if (!done(avro_value_get_by_index(v, i, &child, NULL), p, err, cap) ||
            !put_value(&child, fs, fj ? fj : json_null(), p, err, cap))
            return false;
    }
    return true;
}

static bool put_array(avro_value_t *v, avro_schema_t s, const json_t *j, const char *path, char *err, size_t cap)
{
    if (!json_is_array(j))
        return mismatch(path, "an array", j, err, cap);
    avro_schema_t items = resolved(avro_schema_array_items(s));
    size_t i;
    json_t *item;
    json_array_foreach(j, i, item) {
        char p[PATH_LEN];
        item_path(p, path, i);
        avro_value_t child;
        if (!done(avro_value_append(v, &child, NULL), p, err, cap) || !put_value(&child, items, item, p, err, cap))
            return false;
    }
    return true;
}

static bool put_map(avro_value_t *v, avro_schema_t s, const json_t *j, const char *path, char *err, size_t cap)
{
    if (!json_is_object(j))
        return mismatch(path, "an object", j, err, cap);
    avro_schema_t values = resolved(avro_schema_map_values(s));
    const char *key;
    json_t *item;
    json_object_foreach((json_t *)j, key, item) {
        char p[PATH_LEN];
        field_path(p, path, key);
        avro_value_t child;
        if (!done(avro_value_add(v, key, &child, NULL, NULL), p, err, cap) ||
            !put_value(&child, values, item, p, err, cap))
            return false;
    }
    return true;
}

static bool put_enum(avro_value_t *v, avro_schema_t s, const json_t *j, const char *path, char *err, size_t cap)
{
    if (!json_is_string(j))
        return mismatch(path, "a string", j, err, cap);
    int symbol = avro_schema_enum_get_by_name(s, json_string_value(j));
    if (symbol < 0) {
        char names[128] = "";
        for (int i = 0, n = avro_schema_enum_number_of_symbols(s); i < n; i++) {
            size_t used = strlen(names);
            snprintf(names + used, sizeof names - used, "%s%s", i ? ", " : "", avro_schema_enum_get(s, i));
        }
        set_err(err, cap, "field %s: \"%s\" is not one of %s", shown(path), json_string_value(j), names);
        return false;
    }
    return done(avro_value_set_enum(v, symbol), path, err, cap);
}

static bool put_scalar(avro_value_t *v, avro_schema_t s, const json_t *j, const char *path, char *err, size_t cap)
{
    if (!fits(s, j))
        return mismatch(path, wanted(s), j, err, cap);
    json_int_t n = json_is_integer(j) ? json_integer_value(j) : 0;
    switch (avro_typeof(s)) {
    case AVRO_NULL: return done(avro_value_set_null(v), path, err, cap);
    case AVRO_BOOLEAN: return done(avro_value_set_boolean(v, json_is_true(j)), path, err, cap);
    case AVRO_INT64: return done(avro_value_set_long(v, n), path, err, cap);
    case AVRO_INT32:
        if (n < INT32_MIN || n > INT32_MAX) {
            set_err(err, cap, "field %s: %lld does not fit an Avro int", shown(path), (long long)n);
            return false;
        }
        return done(avro_value_set_int(v, (int32_t)n), path, err, cap);
    case AVRO_FLOAT: return done(avro_value_set_float(v, (float)json_number_value(j)), path, err, cap);
    case AVRO_DOUBLE: return done(avro_value_set_double(v, json_number_value(j)), path, err, cap);
    /* The length includes the NUL that jansson keeps after every string. */
    case AVRO_STRING:
        return done(avro_value_set_string_len(v, json_string_value(j), json_string_length(j) + 1), path, err, cap);
    default: return mismatch(path, wanted(s), j, err, cap);
    }
}

static bool put_value(avro_value_t *v, avro_schema_t s, const json_t *j, const char *path, char *err, size_t cap)
{
    s = resolved(s);
    switch (avro_typeof(s)) {
    case AVRO_UNION: return put_union(v, s, j, path, err, cap);
    case AVRO_RECORD: return put_record(v, s, j, path, err, cap);
    case AVRO_ARRAY: return put_array(v, s, j, path, err, cap);
    case AVRO_MAP: return put_map(v, s, j, path, err, cap);
    case AVRO_ENUM: return put_enum(v, s, j, path, err, cap);
    default: return put_scalar(v, s, j, path, err, cap);
    }
}

static long serialize(avro_value_t *v, int32_t schema_id, unsigned char **out, char *err, size_t cap)
{
    size_t size;
    if (avro_value_sizeof(v, &size) != 0) {
        set_err(err, cap, "avro: %s", avro_strerror());
        return -1;
    }
    size_t head = schema_id >= 0 ? FRAME_LEN : 0;
    unsigned char *buf = malloc(head + size);
    if (!buf) {
        set_err(err, cap, "out of memory");
        return -1;
    }
    if (head) {
        uint32_t id = (uint32_t)schema_id;
        buf[0] = 0;
        buf[1] = (unsigned char)(id >> 24), buf[2] = (unsigned char)(id >> 16);
        buf[3] = (unsigned char)(id >> 8), buf[4] = (unsigned char)id;
    }
    avro_writer_t w = avro_writer_memory((const char *)buf + head, (int64_t)size);
    int rc = avro_value_write(w, v);
    avro_writer_free(w);
    if (rc != 0) {
        set_err(err, cap, "avro: %s", avro_strerror());
        free(buf);
        return -1;
    }
    *out = buf;
    return (long)(head + size);
}

long ew_alert_to_avro(ew_alert_codec *c, const char *json, int32_t schema_id, unsigned char **out, char *err,
                      size_t errcap)
{
    *out = NULL;
    json_error_t jerr;
    json_t *root = json_loads(json, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        set_err(err, errcap, "alert JSON at column %d: %s", jerr.column, jerr.text);
        return -1;
    }
    avro_value_t v;
    if (avro_generic_value_new(c->iface, &v) != 0) {
        set_err(err, errcap, "avro: %s", avro_strerror());
        json_decref(root);
        return -1;
    }
    long n = put_value(&v, c->schema, root, "", err, errcap) ? serialize(&v, schema_id, out, err, errcap) : -1;
    avro_value_decref(&v);
    json_decref(root);
    return n;
}

/* ======================= Avro bytes: the bounds walk ======================= */

typedef struct {
    const uint8_t *start, *p, *end;
    char *err;
    size_t errcap;
} cursor;

static size_t offset_of(const cursor *c) { return (size_t)(c->p - c->start); }
static size_t left(const cursor *c) { return (size_t)(c->end - c->p); }

static bool bad(cursor *c, const char *path, const char *problem)
{
    set_err(c->err, c->errcap, "field %s: %s at byte %zu of the datum", shown(path), problem, offset_of(c));
    return false;
}

static bool take(cursor *c, size_t n, const char *path)
{
    if (n > left(c))
        return bad(c, path, "truncated");
    c->p += n;
    return true;
}

static bool read_long(cursor *c, int64_t *out, const char *path)
{
    return ew_avro_read_long(&c->p, c->end, out) || bad(c, path, "truncated or overlong varint");
}

/* A length or count of what follows: never negative, never more than the
 * bytes left (every item of an array or map takes at least one byte here,
 * as none of the alert schema's item types is null). */
static bool read_count(cursor *c, int64_t *out, const char *path)
{
    if (!read_long(c, out, path))
        return false;
    if (*out < 0 || (uint64_t)*out > left(c))
        return bad(c, path, *out < 0 ? "negative length" : "length past the end of the datum");
    return true;
}

static bool walk(cursor *c, avro_schema_t s, const char *path);

/* Arrays and maps come in blocks: a count, and when it is negative its
 * absolute value and the block's byte size; a zero count ends them. */
static bool walk_blocks(cursor *c, avro_schema_t s, const char *path)
{
    bool map = is_avro_map(s);
    avro_schema_t items = resolved(map ? avro_schema_map_values(s) : avro_schema_array_items(s));
    size_t index = 0;
    for (;;) {
        int64_t n, block_bytes;
        if (!read_long(c, &n, path))
            return false;
        if (n == 0)
            return true;
        if (n < 0 && n != INT64_MIN) {
            n = -n;
            if (!read_count(c, &block_bytes, path))
                return false;
        }
        if (n < 0 || (uint64_t)n > left(c))
            return bad(c, path, "block count past the end of the datum");
        for (int64_t i = 0; i < n; i++, index++) {
            char p[PATH_LEN];
            item_path(p, path, index);
            int64_t key_len;
            if (map && !(read_count(c, &key_len, p) && take(c, (size_t)key_len, p)))
                return false;
            if (!walk(c, items, p))
                return false;
        }
    }
}

static bool walk_record(cursor *c, avro_schema_t s, const char *path)
{
    size_t n = avro_schema_record_size(s);
    for (size_t i = 0; i < n; i++) {
        char p[PATH_LEN];
        field_path(p, path, avro_schema_record_field_name(s, (int)i));
        if (!walk(c, avro_schema_record_field_get_by_index(s, (int)i), p))
            return false;
    }
    return true;
}

/* An index into a list of n (enum symbols, union branches). */
static bool walk_index(cursor *c, int64_t n, const char *path, int64_t *out)
{
    if (!read_long(c, out, path))
        return false;
    return (*out >= 0 && *out < n) || bad(c, path, "index out of range");
}

static bool walk_scalar(cursor *c, avro_schema_t s, const char *path)
{
    int64_t v;
    switch (avro_typeof(s)) {
    case AVRO_NULL: return true;
    case AVRO_BOOLEAN:
        if (left(c) && *c->p > 1)
            return bad(c, path, "boolean neither 0 nor 1");
        return take(c, 1, path);
    case AVRO_INT32:
        if (!read_long(c, &v, path))
            return false;
        return (v >= INT32_MIN && v <= INT32_MAX) || bad(c, path, "int out of range");
    case AVRO_INT64: return read_long(c, &v, path);
    case AVRO_FLOAT: return take(c, 4, path);
    case AVRO_DOUBLE: return take(c, 8, path);
    case AVRO_STRING:
    case AVRO_BYTES: return read_count(c, &v, path) && take(c, (size_t)v, path);
    case AVRO_FIXED: return take(c, (size_t)avro_schema_fixed_size(s), path);
    default: return bad(c, path, "unsupported Avro type");
    }
}

static bool walk(cursor *c, avro_schema_t s, const char *path)
{
    s = resolved(s);
    int64_t i;
    switch (avro_typeof(s)) {
    case AVRO_RECORD: return walk_record(c, s, path);
    case AVRO_ARRAY:
    case AVRO_MAP: return walk_blocks(c, s, path);
    case AVRO_ENUM: return walk_index(c, avro_schema_enum_number_of_symbols(s), path, &i);
    case AVRO_UNION:
        return walk_index(c, (int64_t)avro_schema_union_size(s), path, &i) &&
               walk(c, avro_schema_union_branch(s, (int)i), path);
    default: return walk_scalar(c, s, path);
    }
}

/* ======================= Avro value -> JSON ======================= */

static json_t *get_value(avro_value_t *v, const char *path, char *err, size_t cap);

static json_t *get_record(avro_value_t *v, const char *path, char *err, size_t cap)
{
    size_t n = 0;
    avro_value_get_size(v, &n);
    json_t *o = json_object();
    for (size_t i = 0; i < n; i++) {
        avro_value_t child;
        const char *name = NULL;
        char p[PATH_LEN];
        if (avro_value_get_by_index(v, i, &child, &name) != 0)
            break;
        field_path(p, path, name);
        json_t *j = get_value(&child, p, err, cap);
        if (!j) {
            json_decref(o);
            return NULL;
        }
        json_object_set_new(o, name, j);
    }
    return o;
}

/* Arrays, and maps (whose children have names: their keys). */
static json_t *get_items(avro_value_t *v, bool map, const char *path, char *err, size_t cap)
{
    size_t n = 0;
    avro_value_get_size(v, &n);
    json_t *out = map ? json_object() : json_array();
    for (size_t i = 0; i < n; i++) {
        avro_value_t child;
        const char *key = NULL;
        char p[PATH_LEN];
        if (avro_value_get_by_index(v, i, &child, &key) != 0)
            break;
        item_path(p, path, i);
        json_t *j = get_value(&child, p, err, cap);
        if (!j) {
            json_decref(out);
            return NULL;
        }
        if (map)
            json_object_set_new(out, key, j);
        else
            json_array_append_new(out, j);
    }
    return out;
}

/* JSON has no NUL inside strings for C readers, no invalid UTF-8 and no
 * NaN: such bytes are not an alert event. */
static json_t *get_string(avro_value_t *v, const char *path, char *err, size_t cap)
{
    const char *s = NULL;
    size_t size = 0;
    avro_value_get_string(v, &s, &size);
    size_t len = size ? size - 1 : 0;
    json_t *j = s && !memchr(s, '\0', len) ? json_stringn(s, len) : NULL;
    if (!j)
        set_err(err, cap, "field %s: string is not NUL-free UTF-8", shown(path));
    return j;
}

static json_t *get_real(double d, const char *path, char *err, size_t cap)
{
    if (isfinite(d))
        return json_real(d);
    set_err(err, cap, "field %s: not a finite number", shown(path));
    return NULL;
}

static json_t *get_enum(avro_value_t *v)
{
    int symbol = 0;
    avro_value_get_enum(v, &symbol);
    return json_string(avro_schema_enum_get(avro_value_get_schema(v), symbol));
}

static json_t *get_scalar(avro_value_t *v, const char *path, char *err, size_t cap)
{
    int b = 0;
    int32_t i32 = 0;
    int64_t i64 = 0;
    float f = 0;
    double d = 0;
    switch (avro_value_get_type(v)) {
    case AVRO_NULL: return json_null();
    case AVRO_BOOLEAN: avro_value_get_boolean(v, &b); return json_boolean(b);
    case AVRO_INT32: avro_value_get_int(v, &i32); return json_integer(i32);
    case AVRO_INT64: avro_value_get_long(v, &i64); return json_integer(i64);
    case AVRO_FLOAT: avro_value_get_float(v, &f); return get_real(f, path, err, cap);
    case AVRO_DOUBLE: avro_value_get_double(v, &d); return get_real(d, path, err, cap);
    case AVRO_STRING: return get_string(v, path, err, cap);
    default: set_err(err, cap, "field %s: unsupported Avro type", shown(path)); return NULL;
    }
}

static json_t *get_value(avro_value_t *v, const char *path, char *err, size_t cap)
{
    avro_value_t branch;
    switch (avro_value_get_type(v)) {
    case AVRO_RECORD: return get_record(v, path, err, cap);
    case AVRO_ARRAY: return get_items(v, false, path, err, cap);
    case AVRO_MAP: return get_items(v, true, path, err, cap);
    case AVRO_ENUM: return get_enum(v);
    case AVRO_UNION:
        if (avro_value_get_current_branch(v, &branch) != 0) {
            set_err(err, cap, "field %s: no union branch", shown(path));
            return NULL;
        }
        return get_value(&branch, path, err, cap);
    default: return get_scalar(v, path, err, cap);
    }
}

/* ======================= Avro bytes -> JSON ======================= */

static json_t *decode_datum(ew_alert_codec *c, const uint8_t *datum, size_t len, char *err, size_t cap)
{
    cursor cur = {datum, datum, datum + len, err, cap};
    if (!walk(&cur, c->schema, ""))
        return NULL;
    if (cur.p != cur.end) {
        set_err(err, cap, "%zu bytes of trailing garbage after the datum's end at byte %zu", left(&cur),
                offset_of(&cur));
        return NULL;
    }
    avro_value_t v;
    if (avro_generic_value_new(c->iface, &v) != 0) {
        set_err(err, cap, "avro: %s", avro_strerror());
        return NULL;
    }
    avro_reader_t r = avro_reader_memory((const char *)datum, (int64_t)len);
    json_t *j = NULL;
    if (avro_value_read(r, &v) != 0)
        set_err(err, cap, "avro: %s", avro_strerror());
    else
        j = get_value(&v, "", err, cap);
    avro_reader_free(r);
    avro_value_decref(&v);
    return j;
}

json_t *ew_alert_from_avro(ew_alert_codec *c, const void *data, size_t len, char *err, size_t errcap)
{
    const uint8_t *bytes = data;
    if (len == 0) { /* a tombstone's value is NULL: no pointer arithmetic on it */
        set_err(err, errcap, "empty message: no Avro datum");
        return NULL;
    }
    bool framed = len >= FRAME_LEN && bytes[0] == 0;
    size_t head = framed ? FRAME_LEN : 0;
    char why[384];
    json_t *j = decode_datum(c, bytes + head, len - head, why, sizeof why);
    if (j)
        return j;
    /* Say which reading failed: a wrong magic byte shows up as a bare datum
     * whose first field makes no sense. */
    if (framed)
        set_err(err, errcap, "Confluent-framed Avro (schema id %u): %s",
                (unsigned)bytes[1] << 24 | (unsigned)bytes[2] << 16 | (unsigned)bytes[3] << 8 | bytes[4], why);
    else
        set_err(err, errcap, "bare Avro (first byte 0x%02x, not Confluent magic 0): %s", len ? bytes[0] : 0, why);
    return NULL;
}
