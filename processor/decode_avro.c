/* decode_avro.c -- Avro binary datums, read with the writer's schema.
 *
 * Avro carries no field names or tags in the data: a datum can only be
 * walked with the exact schema it was written with, and every field must
 * be walked, used or not, to find where the next one starts. So the
 * writer schema is compiled once (jansson, at startup) into a flat array
 * of nodes that covers every Avro type, and the per-record decoder is a
 * small recursive walk over that array that never allocates: strings
 * handed to the record point into the datum itself, enum symbols into
 * the compiled schema.
 *
 * Only top-level fields can feed the pipeline; they are matched to decode
 * slots by name ("x_host_header" is "x-host-header"). Anything nested,
 * and every field the pipeline does not use, is skipped.
 *
 * Datums come off a Kafka topic anyone may write to, so every read is
 * bounded: varints stop at 10 bytes, lengths and block counts are checked
 * against the bytes left, nesting is capped (schemas may be recursive),
 * and a datum must end exactly where the record does. A structural fault
 * wins over a bad value seen before it, so garbage reads as bad_avro.
 */
#include "edgewatch/decode.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Nesting of records, arrays, maps and unions, in a datum and in a
 * schema's JSON. Recursive schemas are legal, so the datum cap is what
 * bounds the C stack. */
#define MAX_DATUM_DEPTH 128
#define MAX_SCHEMA_DEPTH 64
#define MAX_FIXED_SIZE (1u << 30)

typedef enum {
    K_NULL, K_BOOLEAN, K_INT, K_LONG, K_FLOAT, K_DOUBLE, K_BYTES, K_STRING,
    K_RECORD, K_ENUM, K_ARRAY, K_MAP, K_FIXED, K_UNION,
} kind;

/* Long/int values annotated as micro- or nanoseconds are scaled to ms
 * when they feed the timestamp or a latency. */
typedef enum { U_MS, U_MICROS, U_NANOS } unit;

typedef struct {
    uint8_t kind;
    uint8_t unit;
    bool zero;     /* always encodes in 0 bytes (null, fixed 0, records of those) */
    uint32_t a;    /* record/union: first entry in kids; enum: first symbol;
                      array/map: item node; fixed: size */
    uint32_t n;    /* record: fields; union: branches; enum: symbols */
} node;

typedef struct {
    uint32_t off, len; /* into pool */
} symbol;

struct ew_avro_schema {
    node *nodes;
    size_t n_nodes, cap_nodes;
    uint32_t *kids;
    size_t n_kids, cap_kids;
    symbol *syms;
    size_t n_syms, cap_syms;
    char *pool;
    size_t pool_len, pool_cap;
    int8_t *slot; /* per top-level field: decode slot or -1 */
};

/* ================= compiling a schema ================= */

typedef struct {
    char *fullname;
    uint32_t node;
} named;

typedef struct {
    ew_avro_schema *s;
    named *names;
    size_t n_names, cap_names;
    char *err;
    size_t errcap;
} compiler;

static bool fail(compiler *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Sets "schema: <why>" and returns false, so callers can `return fail()`. */
static bool fail(compiler *c, const char *fmt, ...)
{
    if (!c->errcap)
        return false;
    int n = snprintf(c->err, c->errcap, "schema: ");
    if (n > 0 && (size_t)n < c->errcap) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->err + n, c->errcap - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return false;
}

/* Room for `more` elements after `used`: the (possibly moved) array, or
 * NULL with the old one untouched. */
static void *grow(void *arr, size_t *cap, size_t used, size_t more, size_t elem)
{
    if (arr && used + more <= *cap)
        return arr;
    size_t ncap = *cap ? *cap * 2 : 16;
    while (ncap < used + more)
        ncap *= 2;
    void *p = realloc(arr, ncap * elem);
    if (p)
        *cap = ncap;
    return p;
}

static bool new_node(compiler *c, kind k, uint32_t *out)
{
    ew_avro_schema *s = c->s;
    node *nodes = grow(s->nodes, &s->cap_nodes, s->n_nodes, 1, sizeof *nodes);
    if (!nodes)
        return fail(c, "out of memory");
    s->nodes = nodes;
    s->nodes[s->n_nodes] = (node){.kind = (uint8_t)k, .zero = k == K_NULL};
    *out = (uint32_t)s->n_nodes++;
    return true;
}

/* Appends n child nodes contiguously; returns the first index in *first. */
static bool add_kids(compiler *c, const uint32_t *kids, size_t n, uint32_t *first)
{
    ew_avro_schema *s = c->s;
    uint32_t *all = grow(s->kids, &s->cap_kids, s->n_kids, n, sizeof *all);
    if (!all)
        return fail(c, "out of memory");
    s->kids = all;
    memcpy(s->kids + s->n_kids, kids, n * sizeof(uint32_t));
    *first = (uint32_t)s->n_kids;
    s->n_kids += n;
    return true;
}

static bool add_symbol(compiler *c, const char *text)
{
    ew_avro_schema *s = c->s;
    size_t len = strlen(text);
    symbol *syms = grow(s->syms, &s->cap_syms, s->n_syms, 1, sizeof *syms);
    if (syms)
        s->syms = syms;
    char *pool = syms ? grow(s->pool, &s->pool_cap, s->pool_len, len + 1, 1) : NULL;
    if (!pool)
        return fail(c, "out of memory");
    s->pool = pool;
    memcpy(s->pool + s->pool_len, text, len + 1);
    s->syms[s->n_syms++] = (symbol){(uint32_t)s->pool_len, (uint32_t)len};
    s->pool_len += len + 1;
    return true;
}

static int primitive_kind(const char *name)
{
    static const char *const prim[] = {"null", "boolean", "int", "long", "float", "double", "bytes", "string"};
    for (int k = 0; k < 8; k++)
        if (strcmp(name, prim[k]) == 0)
            return k; /* same order as K_NULL..K_STRING */
    return -1;
}

static unit unit_of(const char *logical)
{
    if (!logical)
        return U_MS;
    if (strstr(logical, "-micros"))
        return U_MICROS;
    if (strstr(logical, "-nanos"))
        return U_NANOS;
    return U_MS;
}

static const named *find_named(const compiler *c, const char *fullname)
{
    for (size_t i = 0; i < c->n_names; i++)
        if (strcmp(c->names[i].fullname, fullname) == 0)
            return &c->names[i];
    return NULL;
}

/* A reference is looked up in the enclosing namespace first, then as a
 * full name (Avro name resolution). */
static const named *resolve_name(const compiler *c, const char *name, const char *ns)
{
    if (!strchr(name, '.') && ns && *ns) {
        char full[512];
        snprintf(full, sizeof full, "%s.%s", ns, name);
        const named *hit = find_named(c, full);
        if (hit)
            return hit;
    }
    return find_named(c, name);
}

static bool compile_type(compiler *c, json_t *t, const char *ns, int depth, uint32_t *out);

static bool compile_name_ref(compiler *c, const char *name, const char *ns, json_t *t, uint32_t *out)
{
    int k = primitive_kind(name);
    if (k >= 0) {
        const char *logical = json_is_object(t) ? json_string_value(json_object_get(t, "logicalType")) : NULL;
        if (!new_node(c, (kind)k, out))
            return false;
        c->s->nodes[*out].unit = (uint8_t)unit_of(logical);
        return true;
    }
    const named *hit = resolve_name(c, name, ns);
    if (!hit)
        return fail(c, "unknown type \"%.200s\"", name);
    *out = hit->node;
    return true;
}

/* Gives a record, enum or fixed its full name, registers it (before its
 * fields, so records may refer to themselves) and returns the namespace
 * its own children inherit in *inner (caller frees). */
static bool define_named(compiler *c, json_t *t, const char *ns, uint32_t node_ix, char **inner)
{
    const char *name = json_string_value(json_object_get(t, "name"));
    if (!name || !*name)
        return fail(c, "a record, enum or fixed type needs a \"name\"");
    const char *own_ns = json_string_value(json_object_get(t, "namespace"));
    if (own_ns)
        ns = own_ns;
    char full[512];
    if (strlen(name) + (ns ? strlen(ns) : 0) + 2 > sizeof full)
        return fail(c, "type name \"%.200s\" is too long", name);
    if (strchr(name, '.') || !ns || !*ns)
        snprintf(full, sizeof full, "%s", name);
    else
        snprintf(full, sizeof full, "%s.%s", ns, name);
    const char *dot = strrchr(full, '.');
    const char *last = dot ? dot + 1 : full;
    if (primitive_kind(last) >= 0)
        return fail(c, "\"%.200s\" is a primitive type and cannot be redefined", last);
    if (find_named(c, full))
        return fail(c, "type \"%.200s\" is defined twice", full);
    named *names = grow(c->names, &c->cap_names, c->n_names, 1, sizeof *names);
    if (names)
        c->names = names;
    char *copy = names ? strdup(full) : NULL;
    *inner = copy ? strndup(full, dot ? (size_t)(dot - full) : 0) : NULL;
    if (!*inner) {
        free(copy);
        return fail(c, "out of memory");
    }
    c->names[c->n_names++] = (named){copy, node_ix};
    return true;
}

/* Real-time names use '-', Avro names cannot: "x_host_header" feeds the
 * slot of "x-host-header". */
static int8_t slot_for_avro_name(const char *name)
{
    char buf[64];
    size_t n = name ? strlen(name) : sizeof buf;
    if (n >= sizeof buf)
        return -1;
    for (size_t i = 0; i <= n; i++)
        buf[i] = name[i] == '_' ? '-' : name[i];
    return (int8_t)ew_field_slot(buf);
}

static bool compile_fields(compiler *c, json_t *fields, const char *ns, int depth, uint32_t *kids)
{
    size_t i;
    json_t *f;
    json_array_foreach(fields, i, f) {
        const char *name = json_string_value(json_object_get(f, "name"));
        json_t *type = json_object_get(f, "type");
        if (!json_is_object(f) || !name || !type)
            return fail(c, "every record field needs a \"name\" and a \"type\"");
        if (!compile_type(c, type, ns, depth + 1, &kids[i]))
            return false;
    }
    return true;
}

static bool compile_record(compiler *c, json_t *t, const char *ns, int depth, uint32_t *out)
{
    json_t *fields = json_object_get(t, "fields");
    if (!json_is_array(fields))
        return fail(c, "a record needs a \"fields\" array");
    char *inner = NULL;
    if (!new_node(c, K_RECORD, out) || !define_named(c, t, ns, *out, &inner))
        return false;
    size_t n = json_array_size(fields);
    uint32_t *kids = calloc(n ? n : 1, sizeof *kids);
    bool ok = kids && compile_fields(c, fields, inner, depth, kids);
    if (!kids)
        fail(c, "out of memory");
    uint32_t first = 0;
    ok = ok && add_kids(c, kids, n, &first);
    free(kids);
    free(inner);
    if (!ok)
        return false;
    node *r = &c->s->nodes[*out];
    r->a = first;
    r->n = (uint32_t)n;
    /* Only now: a field referring back to this record saw zero = false. */
    bool zero = true;
    for (size_t i = 0; i < n; i++)
        zero = zero && c->s->nodes[c->s->kids[first + i]].zero;
    r->zero = zero;
    return true;
}

static bool compile_enum(compiler *c, json_t *t, const char *ns, uint32_t *out)
{
    json_t *symbols = json_object_get(t, "symbols");
    if (!json_is_array(symbols) || json_array_size(symbols) == 0)
        return fail(c, "an enum needs a non-empty \"symbols\" array");
    char *inner = NULL;
    if (!new_node(c, K_ENUM, out) || !define_named(c, t, ns, *out, &inner))
        return false;
    free(inner);
    uint32_t first = (uint32_t)c->s->n_syms;
    size_t i;
    json_t *sym;
    json_array_foreach(symbols, i, sym) {
        if (!json_is_string(sym))
            return fail(c, "enum symbols must be strings");
        if (!add_symbol(c, json_string_value(sym)))
            return false;
    }
    c->s->nodes[*out].a = first;
    c->s->nodes[*out].n = (uint32_t)json_array_size(symbols);
    return true;
}

static bool compile_fixed(compiler *c, json_t *t, const char *ns, uint32_t *out)
{
    json_t *size = json_object_get(t, "size");
    if (!json_is_integer(size) || json_integer_value(size) < 0 ||
        json_integer_value(size) > (json_int_t)MAX_FIXED_SIZE)
        return fail(c, "a fixed type needs a \"size\" from 0 to 2^30");
    char *inner = NULL;
    if (!new_node(c, K_FIXED, out) || !define_named(c, t, ns, *out, &inner))
        return false;
    free(inner);
    c->s->nodes[*out].a = (uint32_t)json_integer_value(size);
    c->s->nodes[*out].zero = json_integer_value(size) == 0;
    return true;
}

/* Arrays and maps: the node is created after its item type, which is
 * fine because neither can be referred to by name. */
static bool compile_container(compiler *c, json_t *t, kind k, const char *ns, int depth, uint32_t *out)
{
    const char *key = k == K_ARRAY ? "items" : "values";
    json_t *item = json_object_get(t, key);
    uint32_t ix;
    if (!item)
        return fail(c, k == K_ARRAY ? "an array needs \"items\"" : "a map needs \"values\"");
    if (!compile_type(c, item, ns, depth + 1, &ix) || !new_node(c, k, out))
        return false;
    c->s->nodes[*out].a = ix;
    return true;
}

static bool compile_union(compiler *c, json_t *t, const char *ns, int depth, uint32_t *out)
{
    size_t n = json_array_size(t);
    if (n == 0)
        return fail(c, "a union needs at least one branch");
    uint32_t *kids = calloc(n, sizeof *kids);
    if (!kids)
        return fail(c, "out of memory");
    bool ok = true;
    for (size_t i = 0; ok && i < n; i++) {
        json_t *b = json_array_get(t, i);
        ok = json_is_array(b) ? fail(c, "a union may not directly contain a union")
                              : compile_type(c, b, ns, depth + 1, &kids[i]);
    }
    uint32_t first = 0;
    ok = ok && add_kids(c, kids, n, &first) && new_node(c, K_UNION, out);
    free(kids);
    if (!ok)
        return false;
    c->s->nodes[*out].a = first;
    c->s->nodes[*out].n = (uint32_t)n;
    return true;
}

/* A type in its object form: {"type": "record", ...}, {"type": "long",
 * "logicalType": ...}, or leniently {"type": <any type>}. */
static bool compile_object(compiler *c, json_t *t, const char *ns, int depth, uint32_t *out)
{
    json_t *type = json_object_get(t, "type");
    const char *name = json_string_value(type);
    if (!type)
        return fail(c, "a type object needs a \"type\"");
    if (!name)
        return compile_type(c, type, ns, depth + 1, out);
    if (strcmp(name, "record") == 0 || strcmp(name, "error") == 0)
        return compile_record(c, t, ns, depth, out);
    if (strcmp(name, "enum") == 0)
        return compile_enum(c, t, ns, out);
    if (strcmp(name, "fixed") == 0)
        return compile_fixed(c, t, ns, out);
    if (strcmp(name, "array") == 0)
        return compile_container(c, t, K_ARRAY, ns, depth, out);
    if (strcmp(name, "map") == 0)
        return compile_container(c, t, K_MAP, ns, depth, out);
    return compile_name_ref(c, name, ns, t, out);
}

static bool compile_type(compiler *c, json_t *t, const char *ns, int depth, uint32_t *out)
{
    if (depth > MAX_SCHEMA_DEPTH)
        return fail(c, "types nested more than 64 deep");
    if (json_is_string(t))
        return compile_name_ref(c, json_string_value(t), ns, t, out);
    if (json_is_array(t))
        return compile_union(c, t, ns, depth, out);
    if (json_is_object(t))
        return compile_object(c, t, ns, depth, out);
    return fail(c, "a type must be a name, an object or an array (union)");
}

/* Slots for the top-level record's fields. The top record, when the
 * schema is one, is always node 0: it is created before its fields. */
static bool map_top_fields(compiler *c, json_t *root, uint32_t top)
{
    ew_avro_schema *s = c->s;
    if (top != 0 || s->nodes[0].kind != K_RECORD)
        return fail(c, "top-level type must be a record");
    json_t *obj = root;
    while (json_is_object(obj) && json_is_object(json_object_get(obj, "type")))
        obj = json_object_get(obj, "type"); /* {"type": {"type": "record", ...}} */
    json_t *fields = json_object_get(obj, "fields");
    s->slot = calloc(s->nodes[0].n ? s->nodes[0].n : 1, 1);
    if (!s->slot)
        return fail(c, "out of memory");
    for (uint32_t i = 0; i < s->nodes[0].n; i++)
        s->slot[i] = slot_for_avro_name(json_string_value(json_object_get(json_array_get(fields, i), "name")));
    return true;
}

ew_avro_schema *ew_avro_schema_compile(const char *json, size_t len, char *err, size_t errcap)
{
    json_error_t jerr;
    json_t *root = json_loadb(json, len, JSON_DECODE_ANY, &jerr);
    if (!root) {
        snprintf(err, errcap, "schema: bad JSON at line %d: %s", jerr.line, jerr.text);
        return NULL;
    }
    ew_avro_schema *s = calloc(1, sizeof *s);
    compiler c = {.s = s, .err = err, .errcap = errcap};
    uint32_t top = 0;
    bool ok = s ? compile_type(&c, root, NULL, 0, &top) && map_top_fields(&c, root, top)
                : fail(&c, "out of memory");
    for (size_t i = 0; i < c.n_names; i++)
        free(c.names[i].fullname);
    free(c.names);
    json_decref(root);
    if (!ok) {
        ew_avro_schema_free(s);
        return NULL;
    }
    return s;
}

void ew_avro_schema_free(ew_avro_schema *s)
{
    if (!s)
        return;
    free(s->nodes);
    free(s->kids);
    free(s->syms);
    free(s->pool);
    free(s->slot);
    free(s);
}

/* ================= reading a datum ================= */

typedef struct {
    const uint8_t *p, *end;
} cursor;

static size_t left(const cursor *c) { return (size_t)(c->end - c->p); }

bool ew_avro_read_long(const uint8_t **p, const uint8_t *end, int64_t *out)
{
    uint64_t v = 0;
    for (unsigned shift = 0; shift <= 63; shift += 7) {
        if (*p == end)
            return false;
        uint8_t b = *(*p)++;
        if (shift == 63 && b > 1)
            return false;
        v |= (uint64_t)(b & 0x7F) << shift;
        if (!(b & 0x80)) {
            *out = (int64_t)((v >> 1) ^ (0 - (v & 1)));
            return true;
        }
    }
    return false;
}

static bool read_long(cursor *c, int64_t *out) { return ew_avro_read_long(&c->p, c->end, out); }

static bool read_int(cursor *c, int64_t *out)
{
    return read_long(c, out) && *out >= INT32_MIN && *out <= INT32_MAX;
}

/* A length or byte size: never negative, never past the end. */
static bool read_len(cursor *c, size_t *out)
{
    int64_t n;
    if (!read_long(c, &n) || n < 0 || (uint64_t)n > left(c))
        return false;
    *out = (size_t)n;
    return true;
}

static bool take(cursor *c, size_t n, const uint8_t **at)
{
    if (n > left(c))
        return false;
    *at = c->p;
    c->p += n;
    return true;
}

static bool read_double(cursor *c, bool is_float, double *out)
{
    const uint8_t *b;
    if (!take(c, is_float ? 4 : 8, &b))
        return false;
    uint64_t bits = 0;
    for (int i = is_float ? 3 : 7; i >= 0; i--)
        bits = bits << 8 | b[i];
    if (is_float) {
        uint32_t w = (uint32_t)bits;
        float f;
        memcpy(&f, &w, sizeof f);
        *out = f;
    } else {
        memcpy(out, &bits, sizeof *out);
    }
    return true;
}

/* A union's branch index, checked against the branch count. */
static bool read_branch(const ew_avro_schema *s, cursor *c, const node *u, uint32_t *branch)
{
    int64_t ix;
    if (!read_long(c, &ix) || ix < 0 || (uint64_t)ix >= u->n)
        return false;
    *branch = s->kids[u->a + (uint32_t)ix];
    return true;
}

static bool skip(const ew_avro_schema *s, cursor *c, uint32_t ix, int depth);

/* Array and map blocks: (count, items)... 0. A negative count is followed
 * by the block's byte size, which lets us jump over it. Items that take
 * no bytes are skipped for free; others take at least one byte each, so a
 * count beyond the bytes left is a lie. */
static bool skip_blocks(const ew_avro_schema *s, cursor *c, const node *n, int depth)
{
    const node *item = &s->nodes[n->a];
    bool zero_items = n->kind == K_ARRAY && item->zero;
    for (;;) {
        int64_t count;
        size_t size;
        const uint8_t *at;
        if (!read_long(c, &count) || count == INT64_MIN)
            return false;
        if (count == 0)
            return true;
        if (count < 0) {
            if (!read_len(c, &size) || !take(c, size, &at))
                return false;
            continue;
        }
        if (zero_items)
            continue;
        if ((uint64_t)count > left(c))
            return false;
        for (int64_t i = 0; i < count; i++) {
            if (n->kind == K_MAP && (!read_len(c, &size) || !take(c, size, &at)))
                return false;
            if (!skip(s, c, n->a, depth + 1))
                return false;
        }
    }
}

static bool skip_record(const ew_avro_schema *s, cursor *c, const node *n, int depth)
{
    for (uint32_t i = 0; i < n->n; i++)
        if (!skip(s, c, s->kids[n->a + i], depth + 1))
            return false;
    return true;
}

static bool skip(const ew_avro_schema *s, cursor *c, uint32_t ix, int depth)
{
    const node *n = &s->nodes[ix];
    int64_t v;
    size_t len;
    const uint8_t *at;
    uint32_t branch;
    if (n->zero)
        return true;
    if (depth > MAX_DATUM_DEPTH)
        return false;
    switch ((kind)n->kind) {
    case K_NULL: return true;
    case K_BOOLEAN: return take(c, 1, &at) && *at <= 1;
    case K_INT: return read_int(c, &v);
    case K_LONG: return read_long(c, &v);
    case K_FLOAT: return take(c, 4, &at);
    case K_DOUBLE: return take(c, 8, &at);
    case K_BYTES:
    case K_STRING: return read_len(c, &len) && take(c, len, &at);
    case K_FIXED: return take(c, n->a, &at);
    case K_ENUM: return read_int(c, &v) && v >= 0 && (uint64_t)v < n->n;
    case K_RECORD: return skip_record(s, c, n, depth);
    case K_ARRAY:
    case K_MAP: return skip_blocks(s, c, n, depth);
    case K_UNION: return read_branch(s, c, n, &branch) && skip(s, c, branch, depth + 1);
    }
    return false;
}

/* ---- values that feed a slot ---- */

static bool seconds_slot(ew_needed_field f)
{
    return f == EW_F_TIMESTAMP || f == EW_F_TTFB || f == EW_F_ORIGIN_FBL;
}

/* Integers are ms for the timestamp and latencies unless the writer
 * annotated them as micros or nanos. */
static ew_decode_error put_integer(ew_cf_record *r, ew_needed_field f, const node *n, int64_t v)
{
    if (seconds_slot(f) && n->unit == U_MICROS)
        v /= 1000;
    else if (seconds_slot(f) && n->unit == U_NANOS)
        v /= 1000000;
    return ew_cf_put_int(r, f, v);
}

/* Floating point is seconds for the timestamp and latencies; elsewhere
 * its integer part, and a slot that needs a number rejects NaN or huge. */
static ew_decode_error put_real(ew_cf_record *r, ew_needed_field f, double v)
{
    if (seconds_slot(f))
        return ew_cf_put_seconds(r, f, v);
    if (!(v > -9.0e18 && v < 9.0e18))
        return f == EW_F_STATUS ? EW_DECODE_STATUS : f == EW_F_BYTES ? EW_DECODE_BYTES : EW_DECODE_OK;
    return ew_cf_put_int(r, f, (int64_t)v);
}

/* int, long, float, double: false when malformed, else *e from the slot. */
static bool put_number(cursor *c, const node *n, ew_needed_field f, ew_cf_record *r, ew_decode_error *e)
{
    int64_t v;
    double d;
    if (n->kind == K_INT || n->kind == K_LONG) {
        if (!(n->kind == K_INT ? read_int(c, &v) : read_long(c, &v)))
            return false;
        *e = put_integer(r, f, n, v);
        return true;
    }
    if (!read_double(c, n->kind == K_FLOAT, &d))
        return false;
    *e = put_real(r, f, d);
    return true;
}

/* Values that become text: bytes, string and fixed point into the datum,
 * an enum to its symbol in the schema, a boolean to a constant. */
static bool put_text_value(const ew_avro_schema *s, cursor *c, const node *n, ew_needed_field f,
                           ew_cf_record *r, ew_decode_error *e)
{
    int64_t v;
    size_t len = n->a; /* fixed */
    const uint8_t *at;
    switch ((kind)n->kind) {
    case K_BOOLEAN:
        if (!take(c, 1, &at) || *at > 1)
            return false;
        *e = ew_cf_put_text(r, f, *at ? ew_str_make("true", 4) : ew_str_make("false", 5));
        return true;
    case K_ENUM:
        if (!read_int(c, &v) || v < 0 || (uint64_t)v >= n->n)
            return false;
        *e = ew_cf_put_text(r, f, ew_str_make(s->pool + s->syms[n->a + v].off, s->syms[n->a + v].len));
        return true;
    case K_BYTES:
    case K_STRING:
    case K_FIXED:
        if ((n->kind != K_FIXED && !read_len(c, &len)) || !take(c, len, &at))
            return false;
        *e = ew_cf_put_text(r, f, ew_str_make((const char *)at, len));
        return true;
    default:
        return false;
    }
}

/* Reads one value of node ix into slot f. False for a malformed datum; a
 * value the slot rejects goes to *bad (first one wins) so that reading
 * continues and a later structural fault still counts. */
static bool put_value(const ew_avro_schema *s, cursor *c, uint32_t ix, ew_needed_field f, ew_cf_record *r,
                      ew_decode_error *bad, int depth)
{
    const node *n = &s->nodes[ix];
    ew_decode_error e = EW_DECODE_OK;
    uint32_t branch;
    bool ok;
    switch ((kind)n->kind) {
    case K_NULL:
        return true; /* absent */
    case K_UNION:
        return depth <= MAX_DATUM_DEPTH && read_branch(s, c, n, &branch) &&
               put_value(s, c, branch, f, r, bad, depth + 1);
    case K_RECORD:
    case K_ARRAY:
    case K_MAP:
        return skip(s, c, ix, depth); /* nothing a slot can take */
    case K_INT:
    case K_LONG:
    case K_FLOAT:
    case K_DOUBLE:
        ok = put_number(c, n, f, r, &e);
        break;
    default:
        ok = put_text_value(s, c, n, f, r, &e);
        break;
    }
    if (ok && e != EW_DECODE_OK && *bad == EW_DECODE_OK)
        *bad = e;
    return ok;
}

/* One datum from the start of buf; *used gets its length. */
static ew_decode_error decode_datum(const ew_avro_schema *s, const uint8_t *p, size_t len, ew_cf_record *out,
                                    size_t *used)
{
    ew_cf_record_reset(out);
    cursor c = {p, p ? p + len : p};
    const node *top = &s->nodes[0];
    ew_decode_error bad = EW_DECODE_OK;
    for (uint32_t i = 0; i < top->n; i++) {
        uint32_t ix = s->kids[top->a + i];
        bool ok = s->slot[i] < 0 ? skip(s, &c, ix, 1)
                                 : put_value(s, &c, ix, (ew_needed_field)s->slot[i], out, &bad, 1);
        if (!ok)
            return EW_DECODE_AVRO;
    }
    *used = (size_t)(c.p - p);
    if (bad != EW_DECODE_OK)
        return bad;
    return ew_cf_finish(out);
}

ew_decode_error ew_cf_decode_avro(const ew_avro_schema *s, const void *datum, size_t len, ew_cf_record *out)
{
    size_t used = 0;
    ew_decode_error e = decode_datum(s, datum, len, out, &used);
    if (e == EW_DECODE_AVRO || used != len)
        return EW_DECODE_AVRO;
    return e;
}

ew_decode_error ew_cf_decode_avro_prefix(const ew_avro_schema *s, const void *buf, size_t len, ew_cf_record *out,
                                         size_t *used)
{
    *used = 0;
    return decode_datum(s, buf, len, out, used);
}
