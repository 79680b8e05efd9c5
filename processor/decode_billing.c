/* decode_billing.c -- billing line items and refresh ends (billing.h) from
 * JSON objects or Avro datums of schemas/billing_event.avsc.
 *
 * Two stages, so that both encodings obey one set of rules:
 *
 *   1. A reader (JSON scanner or Avro walker) checks the message's
 *      structure and collects each field it knows as a `value`: a typed
 *      slice of the message, nothing copied yet. A structural fault always
 *      wins over a bad value, so garbage reads as bad_json or bad_avro.
 *      JSON also accepts the CUR 2.0 column names as aliases; collecting
 *      first is what lets our own name win whatever the key order.
 *   2. build_record() turns the values into an ew_billing_record in schema
 *      order; the first bad field names the reason.
 *
 * Like decode_json.c and decode_avro.c, nothing allocates: strings are
 * unescaped straight into the record's fixed buffers, and every read of
 * the message is bounded by its length. The JSON scanner repeats the small
 * string helpers of decode_json.c because those are private to that file.
 *
 * Costs must sum exactly, so a cost written as decimal text (JSON numbers
 * and CUR's "12.3400000000" strings) is converted to micros digit by
 * digit, never through a double. Only Avro, whose cost is a double on the
 * wire, goes through llround.
 */
#include "edgewatch/billing.h"
#include "edgewatch/json_text.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Containers open at once in a JSON message, the top-level object included. */
#define JSON_MAX_DEPTH 64
/* Longer keys cannot be field names, so they need no lookup. */
#define JSON_KEY_MAX 64
/* |cost| beyond this many micros (9 million currency units) is not a line item. */
#define COST_MAX_MICROS 9000000000000LL
/* 9999-12-31T23:59:59.999Z: the last instant RFC 3339 can write. */
#define TIME_MAX_MS 253402300799999LL
/* Room for a time, amount or period given as text; longer is malformed. */
#define TEXT_SCRATCH 128
#define UNIT_SEPARATOR '\x1f'

/* The fields a message may carry, in schema (and checking) order. */
typedef enum {
    F_KIND, F_PERIOD, F_VERSION, F_FULL, F_LINE_KEY, F_ACCOUNT, F_TYPE, F_SERVICE, F_USAGE_TYPE,
    F_OPERATION, F_RESOURCE, F_REGION, F_START, F_END, F_AMOUNT, F_COST, F_CURRENCY, F_PROJECT,
    F_TAGS,          /* JSON "tags" object: searched for the project tag */
    F_RESOURCE_TAGS, /* JSON "resource_tags" object (CUR 2.0) */
    F_TAG_PROJECT,   /* the project tag's value, once found in either */
    F_COUNT
} field;

typedef enum {
    V_ABSENT,  /* not given, or null */
    V_TEXT,    /* a string; raw is still JSON-escaped when escaped is set */
    V_NUMBER,  /* a JSON number: raw is its text */
    V_BOOL,
    V_OBJECT,  /* a JSON object: raw spans it, braces included */
    V_OTHER,   /* a JSON array */
    V_LONG,    /* Avro long */
    V_DOUBLE,  /* Avro double */
} value_type;

typedef struct {
    uint8_t type;
    uint8_t rank;   /* which name gave it: 0 = ours, higher = a weaker alias */
    bool escaped;
    bool b;
    ew_str raw;
    int64_t i;
    double d;
} value;

typedef struct {
    value v[F_COUNT];
} fields;

static void fields_init(fields *f)
{
    memset(f, 0, sizeof *f);
}

/* ================= JSON ================= */

/* Our names (rank 0) and the CUR 2.0 columns that mean the same (rank 1;
 * product_region, the older name, is rank 2). */
static const struct {
    const char *name;
    uint8_t field, rank;
} json_keys[] = {
    {"kind", F_KIND, 0},
    {"billing_period", F_PERIOD, 0},
    {"bill_billing_period_start_date", F_PERIOD, 1},
    {"report_version", F_VERSION, 0},
    {"refresh_id", F_VERSION, 1},
    {"full", F_FULL, 0},
    {"line_key", F_LINE_KEY, 0},
    {"usage_account_id", F_ACCOUNT, 0},
    {"line_item_usage_account_id", F_ACCOUNT, 1},
    {"line_item_type", F_TYPE, 0},
    {"line_item_line_item_type", F_TYPE, 1},
    {"service", F_SERVICE, 0},
    {"line_item_product_code", F_SERVICE, 1},
    {"usage_type", F_USAGE_TYPE, 0},
    {"line_item_usage_type", F_USAGE_TYPE, 1},
    {"operation", F_OPERATION, 0},
    {"line_item_operation", F_OPERATION, 1},
    {"resource_id", F_RESOURCE, 0},
    {"line_item_resource_id", F_RESOURCE, 1},
    {"region", F_REGION, 0},
    {"product_region_code", F_REGION, 1},
    {"product_region", F_REGION, 2},
    {"usage_start", F_START, 0},
    {"line_item_usage_start_date", F_START, 1},
    {"usage_end", F_END, 0},
    {"line_item_usage_end_date", F_END, 1},
    {"usage_amount", F_AMOUNT, 0},
    {"line_item_usage_amount", F_AMOUNT, 1},
    {"unblended_cost", F_COST, 0},
    {"line_item_unblended_cost", F_COST, 1},
    {"currency", F_CURRENCY, 0},
    {"line_item_currency_code", F_CURRENCY, 1},
    {"project", F_PROJECT, 0},
    {"tags", F_TAGS, 0},
    {"resource_tags", F_RESOURCE_TAGS, 0},
};

typedef struct {
    const char *p, *end;
} scanner;

static bool scan_value(scanner *s, int depth, value *out);

static int peek(scanner *s) { return ew_json_peek(&s->p, s->end); }
static bool expect(scanner *s, char c) { return ew_json_expect(&s->p, s->end, c); }

/* The next character of v's text as bytes in buf; returns how many, and
 * advances *p past it. Only JSON text has escapes: a backslash in an Avro
 * string is itself. */
static size_t next_char(const value *v, const char **p, const char *end, char buf[4])
{
    uint32_t cp;
    size_t k;
    if (v->escaped && **p == '\\' && (k = ew_json_read_escape(*p, end, &cp)) != 0) {
        *p += k;
        return ew_utf8_put(buf, cp);
    }
    buf[0] = *(*p)++;
    return 1;
}

/* Unescapes v's text into dst (cap bytes, NUL included). Returns the
 * length, or -1 when it does not fit. */
static long text_copy(const value *v, char *dst, size_t cap)
{
    const char *p = v->raw.ptr, *end = p + v->raw.len;
    size_t n = 0;
    if (!v->escaped) {
        if (v->raw.len >= cap)
            return -1;
        if (v->raw.len)
            memcpy(dst, p, v->raw.len);
        dst[v->raw.len] = '\0';
        return (long)v->raw.len;
    }
    while (p < end) {
        char ch[4];
        size_t k = next_char(v, &p, end, ch);
        if (n + k >= cap)
            return -1;
        memcpy(dst + n, ch, k);
        n += k;
    }
    dst[n] = '\0';
    return (long)n;
}

/* True when v's text, unescaped, is exactly want (want_len bytes). */
static bool text_equals(const value *v, const char *want, size_t want_len)
{
    const char *p = v->raw.ptr, *end = p + v->raw.len;
    size_t n = 0;
    while (p < end) {
        char ch[4];
        size_t k = next_char(v, &p, end, ch);
        if (n + k > want_len || memcmp(want + n, ch, k) != 0)
            return false;
        n += k;
    }
    return n == want_len;
}

/* The string at s->p (on its opening quote) into *out. */
static bool scan_string(scanner *s, value *out)
{
    *out = (value){.type = V_TEXT};
    return ew_json_scan_string(&s->p, s->end, &out->raw, &out->escaped);
}

static const char *skip_digits(const char *p, const char *end)
{
    while (p < end && *p >= '0' && *p <= '9')
        p++;
    return p;
}

/* The end of a number in JSON's grammar starting at p, or NULL:
 * -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
static const char *number_end(const char *p, const char *end)
{
    const char *q;
    if (p < end && *p == '-')
        p++;
    if (p < end && *p == '0')
        p++;
    else if ((q = skip_digits(p, end)) != p)
        p = q;
    else
        return NULL;
    if (p < end && *p == '.') {
        if ((q = skip_digits(p + 1, end)) == p + 1)
            return NULL;
        p = q;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        if ((q = skip_digits(p, end)) == p)
            return NULL;
        p = q;
    }
    return p;
}

static bool scan_number(scanner *s, value *out)
{
    const char *end = number_end(s->p, s->end);
    if (!end)
        return false;
    *out = (value){.type = V_NUMBER, .raw = ew_str_make(s->p, (size_t)(end - s->p))};
    s->p = end;
    return true;
}

static bool scan_literal(scanner *s, value *out)
{
    static const struct {
        const char *word;
        uint8_t type;
        bool b;
    } words[] = {{"true", V_BOOL, true}, {"false", V_BOOL, false}, {"null", V_ABSENT, false}};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
        size_t n = strlen(words[i].word);
        if ((size_t)(s->end - s->p) >= n && memcmp(s->p, words[i].word, n) == 0) {
            *out = (value){.type = words[i].type, .b = words[i].b};
            s->p += n;
            return true;
        }
    }
    return false;
}

/* Members of an object whose '{' was consumed. on_member, when set, sees
 * each key with its value (top level only: nested values are checked and
 * skipped). */
typedef void member_fn(void *ctx, const value *key, const value *val);

static bool scan_members(scanner *s, int depth, member_fn *on_member, void *ctx)
{
    if (expect(s, '}'))
        return true;
    for (;;) {
        value key, val;
        if (peek(s) != '"' || !scan_string(s, &key) || !expect(s, ':') || !scan_value(s, depth, &val))
            return false;
        if (on_member)
            on_member(ctx, &key, &val);
        if (expect(s, '}'))
            return true;
        if (!expect(s, ','))
            return false;
    }
}

static bool scan_elements(scanner *s, int depth)
{
    if (expect(s, ']'))
        return true;
    for (;;) {
        value ignored;
        if (!scan_value(s, depth, &ignored))
            return false;
        if (expect(s, ']'))
            return true;
        if (!expect(s, ','))
            return false;
    }
}

/* A container inside depth open ones: checked through, spanned by out. */
static bool scan_container(scanner *s, int depth, value *out)
{
    const char *start = s->p;
    bool is_object = *s->p == '{';
    if (depth >= JSON_MAX_DEPTH)
        return false;
    s->p++;
    if (is_object ? !scan_members(s, depth + 1, NULL, NULL) : !scan_elements(s, depth + 1))
        return false;
    *out = (value){.type = is_object ? V_OBJECT : V_OTHER, .raw = ew_str_make(start, (size_t)(s->p - start))};
    return true;
}

static bool scan_value(scanner *s, int depth, value *out)
{
    switch (peek(s)) {
    case -1:
        return false;
    case '"':
        return scan_string(s, out);
    case '{':
    case '[':
        return scan_container(s, depth, out);
    case 't':
    case 'f':
    case 'n':
        return scan_literal(s, out);
    default:
        return scan_number(s, out);
    }
}

/* Keeps a top-level member we know. null is absence, so an alias given
 * alongside our null still counts; among equal names the last one wins. */
static void collect_member(void *ctx, const value *key, const value *val)
{
    fields *f = ctx;
    if (val->type == V_ABSENT || key->raw.len > JSON_KEY_MAX)
        return;
    for (size_t i = 0; i < sizeof json_keys / sizeof json_keys[0]; i++) {
        if (!text_equals(key, json_keys[i].name, strlen(json_keys[i].name)))
            continue;
        value *slot = &f->v[json_keys[i].field];
        if (slot->type == V_ABSENT || json_keys[i].rank <= slot->rank) {
            *slot = *val;
            slot->rank = json_keys[i].rank;
        }
        return;
    }
}

typedef struct {
    const char *key;
    size_t key_len;
    value found;
} tag_search;

static void match_tag(void *ctx, const value *key, const value *val)
{
    tag_search *t = ctx;
    if (val->type == V_TEXT && text_equals(key, t->key, t->key_len))
        t->found = *val;
}

/* The value of key in a tags object already checked by the scan; an
 * empty or non-string value is no tag. */
static value find_tag(const value *object, const char *key, size_t key_len)
{
    tag_search t = {.key = key, .key_len = key_len};
    if (object->type != V_OBJECT || key_len == 0)
        return t.found;
    scanner s = {.p = object->raw.ptr + 1, .end = object->raw.ptr + object->raw.len};
    scan_members(&s, 1, match_tag, &t);
    if (t.found.raw.len == 0)
        t.found.type = V_ABSENT;
    return t.found;
}

/* CUR 2.0 writes tag keys as map keys in lower case with ':' as '_'
 * ("user:Project" is "user_project"). Returns the length, 0 if too long. */
static size_t normalized_tag_key(const char *key, char *out, size_t cap)
{
    size_t n = strlen(key);
    if (n >= cap)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = key[i];
        out[i] = c == ':' ? '_' : (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
    out[n] = '\0';
    return n;
}

static void find_json_project_tag(const ew_billing_decoder *d, fields *f)
{
    if (!d->project_tag)
        return;
    char norm[256];
    size_t key_len = strlen(d->project_tag), norm_len = normalized_tag_key(d->project_tag, norm, sizeof norm);
    value v = find_tag(&f->v[F_TAGS], d->project_tag, key_len);
    if (v.type == V_ABSENT)
        v = find_tag(&f->v[F_RESOURCE_TAGS], d->project_tag, key_len);
    if (v.type == V_ABSENT)
        v = find_tag(&f->v[F_RESOURCE_TAGS], norm, norm_len);
    f->v[F_TAG_PROJECT] = v;
}

static ew_decode_error read_json(const ew_billing_decoder *d, const char *buf, size_t len, fields *f)
{
    scanner s = {.p = buf, .end = buf + len};
    if (!expect(&s, '{') || !scan_members(&s, 1, collect_member, f) || peek(&s) != -1)
        return EW_DECODE_JSON;
    /* tags that are not an object are no place to look for a project */
    if ((f->v[F_TAGS].type != V_ABSENT && f->v[F_TAGS].type != V_OBJECT) ||
        (f->v[F_RESOURCE_TAGS].type != V_ABSENT && f->v[F_RESOURCE_TAGS].type != V_OBJECT))
        return EW_DECODE_JSON;
    find_json_project_tag(d, f);
    return EW_DECODE_OK;
}

/* ================= Avro ================= */

typedef struct {
    const uint8_t *p, *end;
} cursor;

static size_t left(const cursor *c) { return (size_t)(c->end - c->p); }

static bool read_long(cursor *c, int64_t *out) { return ew_avro_read_long(&c->p, c->end, out); }

/* A length or byte size: never negative, never past the end. */
static bool read_len(cursor *c, size_t *out)
{
    int64_t n;
    if (!read_long(c, &n) || n < 0 || (uint64_t)n > left(c))
        return false;
    *out = (size_t)n;
    return true;
}

static bool read_string(cursor *c, value *out)
{
    size_t n;
    if (!read_len(c, &n))
        return false;
    *out = (value){.type = V_TEXT, .raw = ew_str_make((const char *)c->p, n)};
    c->p += n;
    return true;
}

static bool read_double(cursor *c, double *out)
{
    if (left(c) < 8)
        return false;
    uint64_t bits = 0;
    for (int i = 7; i >= 0; i--)
        bits = bits << 8 | c->p[i];
    memcpy(out, &bits, sizeof *out);
    c->p += 8;
    return true;
}

static bool read_boolean(cursor *c, bool *out)
{
    if (left(c) < 1 || *c->p > 1)
        return false;
    *out = *c->p++ == 1;
    return true;
}

/* ["null", T]: true with *present set, false on a bad branch index. */
static bool read_null_union(cursor *c, bool *present)
{
    int64_t branch;
    if (!read_long(c, &branch) || (branch != 0 && branch != 1))
        return false;
    *present = branch == 1;
    return true;
}

static bool read_optional_string(cursor *c, value *out)
{
    bool present;
    *out = (value){.type = V_ABSENT};
    return read_null_union(c, &present) && (!present || read_string(c, out));
}

static bool read_optional_long(cursor *c, value *out)
{
    bool present;
    *out = (value){.type = V_ABSENT};
    if (!read_null_union(c, &present))
        return false;
    if (present) {
        out->type = V_LONG;
        return read_long(c, &out->i);
    }
    return true;
}

static bool read_optional_double(cursor *c, value *out)
{
    bool present;
    *out = (value){.type = V_ABSENT};
    if (!read_null_union(c, &present))
        return false;
    if (present) {
        out->type = V_DOUBLE;
        return read_double(c, &out->d);
    }
    return true;
}

typedef struct {
    const char *key, *norm;
    size_t key_len, norm_len;
    value exact, normalized; /* last match of each form */
} avro_tag_search;

static bool read_map_entry(cursor *c, avro_tag_search *t)
{
    value key, val;
    if (!read_string(c, &key) || !read_string(c, &val))
        return false;
    if (t->key_len && text_equals(&key, t->key, t->key_len))
        t->exact = val;
    else if (t->norm_len && text_equals(&key, t->norm, t->norm_len))
        t->normalized = val;
    return true;
}

/* Map blocks: (count, entries)... 0; a negative count is followed by the
 * block's byte size, which must match the entries. Every entry is read,
 * since the project tag may be anywhere. */
static bool read_tags_map(cursor *c, avro_tag_search *t)
{
    for (;;) {
        int64_t count;
        size_t size = 0;
        bool sized = false;
        if (!read_long(c, &count) || count == INT64_MIN)
            return false;
        if (count == 0)
            return true;
        if (count < 0) {
            count = -count;
            sized = true;
            if (!read_len(c, &size))
                return false;
        }
        /* each entry takes at least two bytes (two lengths) */
        if ((uint64_t)count > left(c) / 2)
            return false;
        const uint8_t *block = c->p;
        for (int64_t i = 0; i < count; i++)
            if (!read_map_entry(c, t))
                return false;
        if (sized && (size_t)(c->p - block) != size)
            return false;
    }
}

static bool read_optional_tags(const ew_billing_decoder *d, cursor *c, value *project)
{
    bool present;
    char norm[256];
    avro_tag_search t = {.key = d->project_tag, .norm = norm};
    *project = (value){.type = V_ABSENT};
    if (!read_null_union(c, &present))
        return false;
    if (!present)
        return true;
    if (d->project_tag) {
        t.key_len = strlen(d->project_tag);
        t.norm_len = normalized_tag_key(d->project_tag, norm, sizeof norm);
    }
    if (!read_tags_map(c, &t))
        return false;
    *project = t.exact.raw.len ? t.exact : t.normalized;
    if (project->raw.len == 0)
        project->type = V_ABSENT;
    return true;
}

static bool read_kind(cursor *c, value *out)
{
    static const char *const symbols[] = {"line", "refresh_end"};
    int64_t ix;
    if (!read_long(c, &ix) || ix < 0 || ix > 1)
        return false;
    *out = (value){.type = V_TEXT, .raw = ew_str_make(symbols[ix], strlen(symbols[ix]))};
    return true;
}

/* One datum of schemas/billing_event.avsc, which must end exactly at end. */
static bool read_avro_datum(const ew_billing_decoder *d, const uint8_t *p, size_t len, fields *f)
{
    static const field optional_strings[] = {F_LINE_KEY, F_ACCOUNT, F_TYPE, F_SERVICE,
                                             F_USAGE_TYPE, F_OPERATION, F_RESOURCE, F_REGION};
    cursor c = {p, p + len};
    value *v = f->v;
    fields_init(f);
    if (!read_kind(&c, &v[F_KIND]) || !read_string(&c, &v[F_PERIOD]) || !read_string(&c, &v[F_VERSION]))
        return false;
    v[F_FULL].type = V_BOOL;
    if (!read_boolean(&c, &v[F_FULL].b))
        return false;
    for (size_t i = 0; i < sizeof optional_strings / sizeof optional_strings[0]; i++)
        if (!read_optional_string(&c, &v[optional_strings[i]]))
            return false;
    return read_optional_long(&c, &v[F_START]) && read_optional_long(&c, &v[F_END]) &&
           read_optional_double(&c, &v[F_AMOUNT]) && read_optional_double(&c, &v[F_COST]) &&
           read_optional_string(&c, &v[F_CURRENCY]) && read_optional_string(&c, &v[F_PROJECT]) &&
           read_optional_tags(d, &c, &v[F_TAG_PROJECT]) && c.p == c.end;
}

/* 00 + 4-byte schema id + datum. A bare datum of kind "line" also starts
 * with 00 (enum index 0), so when the framed reading fails the whole
 * message is tried as a bare datum before it is called bad_avro. */
static ew_decode_error read_avro(const ew_billing_decoder *d, const uint8_t *p, size_t len, fields *f)
{
    if (p[0] == 0x00 && len >= 5 && read_avro_datum(d, p + 5, len - 5, f))
        return EW_DECODE_OK;
    return read_avro_datum(d, p, len, f) ? EW_DECODE_OK : EW_DECODE_AVRO;
}

/* ================= values into the record ================= */

/* Text in a fixed buffer: empty when absent; JSON numbers keep their text
 * (an account id may come as a number). */
static ew_decode_error put_text(const value *v, char *dst, size_t cap)
{
    dst[0] = '\0';
    if (v->type == V_ABSENT)
        return EW_DECODE_OK;
    if (v->type != V_TEXT && v->type != V_NUMBER)
        return EW_DECODE_JSON;
    long n = text_copy(v, dst, cap);
    if (n < 0)
        return EW_DECODE_TOO_LONG;
    /* The text ends up in keys, metrics and alerts: it must be printable
     * as UTF-8, and a NUL would cut it short. */
    if (memchr(dst, '\0', (size_t)n) || !ew_utf8_valid(dst, (size_t)n))
        return EW_DECODE_UTF8;
    return EW_DECODE_OK;
}

static ew_decode_error put_required_text(const value *v, char *dst, size_t cap)
{
    ew_decode_error e = put_text(v, dst, cap);
    if (e == EW_DECODE_OK && dst[0] == '\0')
        return EW_DECODE_MISSING_FIELD;
    return e;
}

/* Short text (a time, amount or code) into buf; false when it is longer
 * than any valid value could be. */
static bool short_text(const value *v, char buf[TEXT_SCRATCH], size_t *len)
{
    long n = text_copy(v, buf, TEXT_SCRATCH);
    if (n < 0)
        return false;
    *len = (size_t)n;
    return true;
}

static bool is_digit(char c) { return c >= '0' && c <= '9'; }

/* n digits at p as a number; -1 when one is not a digit. */
static int digits_value(const char *p, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!is_digit(p[i]))
            return -1;
        v = v * 10 + (p[i] - '0');
    }
    return v;
}

/* "YYYY-MM" at t, checked; the month's number in *month. */
static bool year_month(const char *t, size_t n, int *year, int *month)
{
    if (n < 7 || t[4] != '-')
        return false;
    *year = digits_value(t, 4);
    *month = digits_value(t + 5, 2);
    return *year >= 0 && *month >= 1 && *month <= 12;
}

/* RFC 3339 (CUR's times are UTC; Athena and CSV drop the Z), from 1970 to 9999. */
static bool parse_usage_time(const char *t, size_t n, int64_t *out_ms)
{
    return ew_parse_rfc3339_ms(ew_str_make(t, n), true, out_ms) && *out_ms >= 0 && *out_ms <= TIME_MAX_MS;
}

/* A JSON integer of epoch milliseconds (no fraction, no exponent). */
static bool parse_epoch_ms(ew_str text, int64_t *out_ms)
{
    uint64_t ms;
    if (text.len == 0 || text.ptr[0] == '-')
        return false;
    if (!ew_parse_u64(text, &ms) || ms > (uint64_t)TIME_MAX_MS)
        return false;
    *out_ms = (int64_t)ms;
    return true;
}

static ew_decode_error put_time(const value *v, int64_t *out_ms)
{
    char buf[TEXT_SCRATCH];
    size_t n;
    switch (v->type) {
    case V_ABSENT:
        return EW_DECODE_MISSING_FIELD;
    case V_LONG:
        *out_ms = v->i;
        return v->i >= 0 && v->i <= TIME_MAX_MS ? EW_DECODE_OK : EW_DECODE_INTERVAL;
    case V_NUMBER:
        return parse_epoch_ms(v->raw, out_ms) ? EW_DECODE_OK : EW_DECODE_INTERVAL;
    case V_TEXT:
        if (v->raw.len == 0)
            return EW_DECODE_MISSING_FIELD;
        return short_text(v, buf, &n) && parse_usage_time(buf, n, out_ms) ? EW_DECODE_OK : EW_DECODE_INTERVAL;
    default:
        return EW_DECODE_INTERVAL;
    }
}

/* "YYYY-MM", or a date or timestamp that starts with it (CUR 2.0's
 * bill_billing_period_start_date). */
static ew_decode_error put_period(const value *v, char out[8])
{
    char buf[TEXT_SCRATCH];
    size_t n;
    int y, mo;
    int64_t ms;
    if (v->type == V_ABSENT || (v->type == V_TEXT && v->raw.len == 0))
        return EW_DECODE_MISSING_FIELD;
    if (v->type != V_TEXT || !short_text(v, buf, &n) || !year_month(buf, n, &y, &mo))
        return EW_DECODE_INTERVAL;
    int64_t days;
    bool is_date = n == 10 && ew_parse_date_days(ew_str_make(buf, n), &days);
    if (n != 7 && !is_date && !parse_usage_time(buf, n, &ms))
        return EW_DECODE_INTERVAL;
    memcpy(out, buf, 7);
    out[7] = '\0';
    return EW_DECODE_OK;
}

/* A decimal in text: sign, digits (and where the fraction starts),
 * exponent; the grammar of JSON numbers, plus a leading '+' for strings. */
typedef struct {
    bool negative;
    const char *digits; /* integer and fraction digits, '.' in between */
    size_t int_len, frac_len;
    int64_t exponent;   /* clamped: beyond any cost and any digit count */
} decimal;

static bool parse_decimal(const char *p, size_t n, decimal *out)
{
    const char *end = p + n;
    *out = (decimal){0};
    if (p < end && (*p == '+' || *p == '-'))
        out->negative = *p++ == '-';
    if (p < end && (*p == '+' || *p == '-'))
        return false;
    const char *num_end = number_end(p, end);
    if (!num_end || num_end != end)
        return false;
    out->digits = p;
    out->int_len = (size_t)(skip_digits(p, end) - p);
    p += out->int_len;
    if (p < end && *p == '.') {
        out->frac_len = (size_t)(skip_digits(p + 1, end) - (p + 1));
        p += 1 + out->frac_len;
    }
    if (p < end) { /* the exponent */
        bool neg_exp = *++p == '-';
        p += *p == '+' || *p == '-';
        for (; p < end; p++)
            if (out->exponent < 1000000000000000LL)
                out->exponent = out->exponent * 10 + (*p - '0');
        if (neg_exp)
            out->exponent = -out->exponent;
    }
    return true;
}

/* The i-th significant digit of the decimal (integer then fraction). */
static int decimal_digit(const decimal *dec, size_t i)
{
    return dec->digits[i < dec->int_len ? i : i + 1] - '0';
}

/* value × 10^6, rounded half away from zero, exactly: the digits that
 * stay are summed as an integer, the first one dropped decides rounding. */
static bool decimal_to_micros(const decimal *dec, int64_t *out)
{
    size_t n = dec->int_len + dec->frac_len;
    int64_t shift = dec->exponent + 6 - (int64_t)dec->frac_len; /* value×1e6 = digits × 10^shift */
    int64_t keep = shift >= 0 ? (int64_t)n : (int64_t)n + shift;
    int64_t acc = 0;
    for (int64_t i = 0; i < keep; i++) {
        acc = acc * 10 + decimal_digit(dec, (size_t)i);
        if (acc > COST_MAX_MICROS)
            return false;
    }
    if (keep >= 0 && keep < (int64_t)n && decimal_digit(dec, (size_t)keep) >= 5)
        acc++;
    for (int64_t i = 0; i < shift && acc != 0; i++) {
        acc *= 10;
        if (acc > COST_MAX_MICROS)
            return false;
    }
    if (acc > COST_MAX_MICROS)
        return false;
    *out = dec->negative ? -acc : acc;
    return true;
}

/* JSON numbers and numeric strings, as text (never via double). */
static bool text_to_micros(const value *v, int64_t *out)
{
    char buf[TEXT_SCRATCH];
    size_t n;
    decimal dec;
    if (v->type == V_NUMBER)
        return parse_decimal(v->raw.ptr, v->raw.len, &dec) && decimal_to_micros(&dec, out);
    return short_text(v, buf, &n) && parse_decimal(buf, n, &dec) && decimal_to_micros(&dec, out);
}

static ew_decode_error put_cost(const value *v, int64_t *out)
{
    switch (v->type) {
    case V_ABSENT:
        return EW_DECODE_MISSING_FIELD;
    case V_DOUBLE: {
        double micros = v->d * 1e6;
        if (!isfinite(micros) || fabs(micros) > (double)COST_MAX_MICROS)
            return EW_DECODE_AMOUNT;
        *out = llround(micros);
        return EW_DECODE_OK;
    }
    case V_TEXT:
        if (v->raw.len == 0)
            return EW_DECODE_MISSING_FIELD;
        return text_to_micros(v, out) ? EW_DECODE_OK : EW_DECODE_AMOUNT;
    case V_NUMBER:
        return text_to_micros(v, out) ? EW_DECODE_OK : EW_DECODE_AMOUNT;
    default:
        return EW_DECODE_AMOUNT;
    }
}

/* Usage amounts are not summed across lines, so a double is enough. */
static ew_decode_error put_amount(const value *v, double *out)
{
    char buf[TEXT_SCRATCH];
    size_t n;
    decimal dec;
    *out = NAN;
    switch (v->type) {
    case V_ABSENT:
        return EW_DECODE_OK;
    case V_DOUBLE:
        *out = v->d;
        return isfinite(v->d) ? EW_DECODE_OK : EW_DECODE_AMOUNT;
    case V_TEXT:
    case V_NUMBER:
        if (v->type == V_TEXT && v->raw.len == 0)
            return EW_DECODE_OK;
        /* checked first: strtod would also take "inf", "nan", hex and blanks */
        if (!short_text(v, buf, &n) || !parse_decimal(buf, n, &dec))
            return EW_DECODE_AMOUNT;
        *out = strtod(buf, NULL);
        return isfinite(*out) ? EW_DECODE_OK : EW_DECODE_AMOUNT;
    default:
        return EW_DECODE_AMOUNT;
    }
}

static ew_decode_error put_currency(const ew_billing_decoder *d, const value *v, char out[4])
{
    char buf[TEXT_SCRATCH];
    size_t n;
    if (v->type == V_ABSENT || (v->type == V_TEXT && v->raw.len == 0))
        return EW_DECODE_MISSING_FIELD;
    if (v->type != V_TEXT || !short_text(v, buf, &n) || n >= 4)
        return EW_DECODE_CURRENCY;
    for (size_t i = 0; i < d->n_currencies; i++) {
        if (d->currencies[i] && strcmp(d->currencies[i], buf) == 0) {
            memcpy(out, buf, n + 1);
            return EW_DECODE_OK;
        }
    }
    return EW_DECODE_CURRENCY;
}

/* The top-level project, else the project tag, else "untagged". */
static ew_decode_error put_project(const fields *f, char *out, size_t cap)
{
    ew_decode_error e = put_text(&f->v[F_PROJECT], out, cap);
    if (e == EW_DECODE_OK && out[0] == '\0')
        e = put_text(&f->v[F_TAG_PROJECT], out, cap);
    if (e == EW_DECODE_OK && out[0] == '\0')
        memcpy(out, EW_BILL_UNTAGGED, sizeof EW_BILL_UNTAGGED);
    return e;
}

static ew_decode_error put_kind(const value *v, ew_billing_kind *out)
{
    *out = EW_BILL_LINE;
    if (v->type == V_ABSENT)
        return EW_DECODE_OK;
    if (v->type == V_TEXT && text_equals(v, "line", 4))
        return EW_DECODE_OK;
    if (v->type == V_TEXT && text_equals(v, "refresh_end", 11)) {
        *out = EW_BILL_REFRESH_END;
        return EW_DECODE_OK;
    }
    return EW_DECODE_JSON;
}

static ew_decode_error put_full(const value *v, bool *out)
{
    *out = v->type == V_BOOL && v->b;
    return v->type == V_ABSENT || v->type == V_BOOL ? EW_DECODE_OK : EW_DECODE_JSON;
}

/* The text fields of a line, in schema order, and whether each must be there. */
#define TEXT_FIELD(f, member, required) {f, offsetof(ew_billing_record, member), \
                                          sizeof(((ew_billing_record *)0)->member), required}
static const struct {
    field f;
    size_t offset, cap;
    bool required;
} line_text_fields[] = {
    TEXT_FIELD(F_LINE_KEY, line_key, false),         TEXT_FIELD(F_ACCOUNT, usage_account, false),
    TEXT_FIELD(F_TYPE, line_item_type, true),        TEXT_FIELD(F_SERVICE, service, true),
    TEXT_FIELD(F_USAGE_TYPE, usage_type, false),     TEXT_FIELD(F_OPERATION, operation, false),
    TEXT_FIELD(F_RESOURCE, resource_id, false),      TEXT_FIELD(F_REGION, region, false),
};

static ew_decode_error put_line_texts(const fields *f, ew_billing_record *r)
{
    for (size_t i = 0; i < sizeof line_text_fields / sizeof line_text_fields[0]; i++) {
        char *dst = (char *)r + line_text_fields[i].offset;
        const value *v = &f->v[line_text_fields[i].f];
        ew_decode_error e = line_text_fields[i].required ? put_required_text(v, dst, line_text_fields[i].cap)
                                                         : put_text(v, dst, line_text_fields[i].cap);
        if (e != EW_DECODE_OK)
            return e;
    }
    return EW_DECODE_OK;
}

static ew_decode_error put_interval(const fields *f, ew_billing_record *r)
{
    ew_decode_error e = put_time(&f->v[F_START], &r->usage_start_ms);
    if (e == EW_DECODE_OK)
        e = put_time(&f->v[F_END], &r->usage_end_ms);
    if (e != EW_DECODE_OK)
        return e;
    if (r->usage_end_ms < r->usage_start_ms || r->usage_end_ms - r->usage_start_ms > EW_BILL_MAX_SPAN_MS)
        return EW_DECODE_INTERVAL;
    return EW_DECODE_OK;
}

/* A line's fields after period and version, in schema order. */
static ew_decode_error build_line(const ew_billing_decoder *d, const fields *f, ew_billing_record *r)
{
    ew_decode_error e = put_line_texts(f, r);
    if (e == EW_DECODE_OK)
        e = put_interval(f, r);
    if (e == EW_DECODE_OK)
        e = put_amount(&f->v[F_AMOUNT], &r->usage_amount);
    if (e == EW_DECODE_OK)
        e = put_cost(&f->v[F_COST], &r->cost_micros);
    if (e == EW_DECODE_OK)
        e = put_currency(d, &f->v[F_CURRENCY], r->currency);
    if (e == EW_DECODE_OK)
        e = put_project(f, r->project, sizeof r->project);
    if (e != EW_DECODE_OK)
        return e;
    /* A credit has a negative cost; a negative usage billed positive is not one. */
    if (r->usage_amount < 0 && r->cost_micros > 0)
        return EW_DECODE_USAGE_SIGN;
    if (r->line_key[0] == '\0')
        ew_billing_line_key(r, r->line_key);
    return EW_DECODE_OK;
}

static ew_decode_error build_record(const ew_billing_decoder *d, const fields *f, ew_billing_record *r)
{
    ew_decode_error e = put_kind(&f->v[F_KIND], &r->kind);
    if (e == EW_DECODE_OK)
        e = put_period(&f->v[F_PERIOD], r->billing_period);
    if (e == EW_DECODE_OK)
        e = put_required_text(&f->v[F_VERSION], r->report_version, sizeof r->report_version);
    if (e != EW_DECODE_OK)
        return e;
    if (r->kind == EW_BILL_REFRESH_END)
        return put_full(&f->v[F_FULL], &r->full);
    return build_line(d, f, r);
}

static void record_reset(ew_billing_record *r)
{
    /* all of it, padding and unused buffer tails too: two decodes of the
     * same message then give byte-identical records */
    memset(r, 0, sizeof *r);
    r->usage_amount = NAN;
}

/* Text goes to the JSON reader, so a non-object or garbage text is
 * bad_json; binary goes to the Avro reader. No datum is lost that way: a
 * valid one starts with the kind's enum index, 00 or 02. */
static bool looks_like_json(const char *buf, size_t len)
{
    scanner s = {buf, buf + len};
    int c = peek(&s);
    return c == -1 || (c >= 0x20 && c < 0x7f);
}

ew_decode_error ew_billing_decode(const ew_billing_decoder *d, const void *buf, size_t len, ew_billing_record *out)
{
    fields f;
    record_reset(out);
    if (!buf || len == 0)
        return EW_DECODE_EMPTY;
    if (len > d->max_bytes)
        return EW_DECODE_TOO_LONG;
    fields_init(&f);
    ew_decode_error e = looks_like_json(buf, len) ? read_json(d, buf, len, &f) : read_avro(d, buf, len, &f);
    if (e == EW_DECODE_OK)
        e = build_record(d, &f, out);
    if (e != EW_DECODE_OK) {
        record_reset(out);
        return e;
    }
    return EW_DECODE_OK;
}

/* ================= line key ================= */

static uint64_t hash_field(uint64_t h, const char *s)
{
    static const char separator = UNIT_SEPARATOR;
    h = ew_hash64(s, strlen(s), h);
    return ew_hash64(&separator, 1, h);
}

void ew_billing_line_key(const ew_billing_record *r, char out[64])
{
    char start[24], end[24];
    snprintf(start, sizeof start, "%" PRId64, r->usage_start_ms);
    snprintf(end, sizeof end, "%" PRId64, r->usage_end_ms);
    const char *parts[] = {r->billing_period, r->usage_account, r->line_item_type, r->service, r->usage_type,
                           r->operation,      r->resource_id,   r->region,         start,      end};
    uint64_t h = EW_HASH_SEED;
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
        h = hash_field(h, parts[i]);
    snprintf(out, 64, "%016" PRIx64, h);
}
