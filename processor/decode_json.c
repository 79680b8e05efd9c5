/* decode_json.c -- one flat JSON object per message into an ew_cf_record.
 *
 * Why not jansson: it builds a tree and allocates for every key and value,
 * and this runs once per request CloudFront logged. The objects we get are
 * flat (custom Kinesis->Kafka routes, standard logging v2 via Firehose), so
 * a single pass that hands each value straight to ew_cf_put_text() is all
 * we need. Values without a backslash stay slices of the message; escaped
 * ones are unescaped into the record's scratch buffer. Nothing allocates.
 *
 * Everything is still validated, including values we skip: a message that
 * is not well-formed JSON goes to the DLQ as bad_json rather than half
 * decoded. Nesting is bounded so a hostile message cannot eat the stack.
 * When the JSON is well-formed but a field is bad, the first bad field
 * (in key order) decides the reason, as the column order does for TSV.
 */
#include "edgewatch/decode.h"
#include "edgewatch/json_text.h"

#include <stdlib.h>
#include <string.h>

/* Containers open at once, the top-level object included. */
#define JSON_MAX_DEPTH 64
/* Longer keys cannot be field names, so they need no lookup. */
#define JSON_KEY_MAX 64

typedef struct {
    const char *p, *end;
    ew_json_dialect dialect;
    ew_cf_record *r;
    ew_decode_error err; /* first field error; kept until the JSON is known good */
} scanner;

static bool value(scanner *s, int slot, int depth);

static int peek(scanner *s) { return ew_json_peek(&s->p, s->end); }
static bool expect(scanner *s, char c) { return ew_json_expect(&s->p, s->end, c); }

/* ---- strings ---- */

/* Unescapes a string already validated by scan_string. No escape is
 * shorter than what it stands for, so dst needs raw.len bytes at most. */
static size_t unescape(ew_str raw, char *dst)
{
    const char *p = raw.ptr, *end = raw.ptr + raw.len;
    size_t n = 0;
    while (p < end) {
        uint32_t cp;
        size_t k;
        if (*p != '\\') {
            dst[n++] = *p++;
        } else if ((k = ew_json_read_escape(p, end, &cp)) != 0) {
            n += ew_utf8_put(dst + n, cp);
            p += k;
        } else {
            break; /* cannot happen after scan_string */
        }
    }
    return n;
}

static bool scan_string(scanner *s, ew_str *raw, bool *escaped)
{
    return ew_json_scan_string(&s->p, s->end, raw, escaped);
}

/* ---- values ---- */

static void put(scanner *s, int slot, ew_str v)
{
    if (slot >= 0 && s->err == EW_DECODE_OK)
        s->err = ew_cf_put_text(s->r, (ew_needed_field)slot, v);
}

/* An escaped value goes through the scratch buffer, trimmed afterwards
 * to what unescaping actually produced. */
static void put_escaped(scanner *s, int slot, ew_str raw)
{
    if (slot < 0 || s->err != EW_DECODE_OK)
        return;
    size_t before = s->r->scratch_used;
    char *dst = ew_cf_scratch(s->r, raw.len);
    if (!dst) {
        s->err = EW_DECODE_TOO_LONG;
        return;
    }
    size_t n = unescape(raw, dst);
    s->r->scratch_used = before + n;
    put(s, slot, ew_str_make(dst, n));
}

static bool string_value(scanner *s, int slot)
{
    ew_str raw;
    bool escaped;
    if (!scan_string(s, &raw, &escaped))
        return false;
    if (escaped)
        put_escaped(s, slot, raw);
    else
        put(s, slot, raw);
    return true;
}

static const char *digits(const char *p, const char *end)
{
    while (p < end && *p >= '0' && *p <= '9')
        p++;
    return p;
}

/* Exponent form (Jackson writes 1.607374321541E9 for doubles >= 1e7):
 * through strtod, then as seconds for time-valued slots or as an integer
 * where the value is whole. Plain numbers keep the exact text path. */
static void put_exponent(scanner *s, int slot, ew_str v)
{
    char buf[64];
    if (slot < 0 || s->err != EW_DECODE_OK)
        return;
    if (v.len >= sizeof buf) {
        put(s, slot, v); /* let the slot's own parser name the error */
        return;
    }
    memcpy(buf, v.ptr, v.len);
    buf[v.len] = '\0';
    double d = strtod(buf, NULL);
    ew_needed_field f = (ew_needed_field)slot;
    if (f == EW_F_TIMESTAMP || f == EW_F_TTFB || f == EW_F_ORIGIN_FBL)
        s->err = ew_cf_put_seconds(s->r, f, d);
    else if (d >= -9e18 && d <= 9e18 && d == (double)(int64_t)d)
        s->err = ew_cf_put_int(s->r, f, (int64_t)d);
    else
        put(s, slot, v);
}

/* -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? ; the text goes to the
 * slot as it is, so "1684226820.937" reads like the TSV column would. */
static bool number_value(scanner *s, int slot)
{
    const char *p = s->p, *end = s->end, *q;
    if (p < end && *p == '-')
        p++;
    if (p < end && *p == '0')
        p++;
    else if ((q = digits(p, end)) != p)
        p = q;
    else
        return false;
    if (p < end && *p == '.') {
        if ((q = digits(p + 1, end)) == p + 1)
            return false;
        p = q;
    }
    bool exponent = p < end && (*p == 'e' || *p == 'E');
    if (exponent) {
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        if ((q = digits(p, end)) == p)
            return false;
        p = q;
    }
    if (exponent)
        put_exponent(s, slot, ew_str_make(s->p, (size_t)(p - s->p)));
    else
        put(s, slot, ew_str_make(s->p, (size_t)(p - s->p)));
    s->p = p;
    return true;
}

/* true, false and null: none of them sets a slot (null means absent). */
static bool literal(scanner *s)
{
    static const char *const words[] = {"true", "false", "null"};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
        size_t n = strlen(words[i]);
        if ((size_t)(s->end - s->p) >= n && memcmp(s->p, words[i], n) == 0) {
            s->p += n;
            return true;
        }
    }
    return false;
}

/* ---- containers ---- */

/* The slot a top-level key feeds, or -1. Escaped keys are unescaped into
 * a small stack buffer; one holding \u0000 is no field name (raw keys
 * cannot hold a NUL: scan_string rejects control bytes). */
static int key_slot(const scanner *s, ew_str raw, bool escaped)
{
    char key[JSON_KEY_MAX + 1];
    size_t n = raw.len;
    if (n > JSON_KEY_MAX)
        return -1;
    if (escaped) {
        n = unescape(raw, key);
        if (memchr(key, '\0', n))
            return -1;
    } else {
        memcpy(key, raw.ptr, n);
    }
    key[n] = '\0';
    if (s->dialect == EW_JSON_STANDARD)
        return ew_stdlog_field_slot(ew_str_make(key, n));
    return ew_field_slot(key);
}

/* Members of an object whose '{' was consumed; depth counts it. Only the
 * top-level object's keys feed slots: nested values are skipped. */
static bool object(scanner *s, int depth)
{
    if (expect(s, '}'))
        return true;
    for (;;) {
        ew_str key;
        bool escaped;
        if (peek(s) != '"' || !scan_string(s, &key, &escaped) || !expect(s, ':'))
            return false;
        int slot = depth == 1 ? key_slot(s, key, escaped) : -1;
        if (!value(s, slot, depth))
            return false;
        if (expect(s, '}'))
            return true;
        if (!expect(s, ','))
            return false;
    }
}

/* Elements of an array whose '[' was consumed. */
static bool array(scanner *s, int depth)
{
    if (expect(s, ']'))
        return true;
    for (;;) {
        if (!value(s, -1, depth))
            return false;
        if (expect(s, ']'))
            return true;
        if (!expect(s, ','))
            return false;
    }
}

/* One value inside depth open containers; slot >= 0 when it feeds one. */
static bool value(scanner *s, int slot, int depth)
{
    int c = peek(s);
    switch (c) {
    case -1:
        return false;
    case '"':
        return string_value(s, slot);
    case '{':
    case '[':
        if (depth >= JSON_MAX_DEPTH)
            return false;
        s->p++;
        return c == '{' ? object(s, depth + 1) : array(s, depth + 1);
    case 't':
    case 'f':
    case 'n':
        return literal(s);
    default:
        return number_value(s, slot);
    }
}

ew_decode_error ew_cf_decode_json(ew_json_dialect dialect, const char *buf, size_t len, size_t max_bytes,
                                  ew_cf_record *out)
{
    ew_cf_record_reset(out);
    if (len > max_bytes)
        return EW_DECODE_TOO_LONG;
    if (!buf || len == 0)
        return EW_DECODE_JSON;
    scanner s = {.p = buf, .end = buf + len, .dialect = dialect, .r = out, .err = EW_DECODE_OK};
    if (!expect(&s, '{') || !object(&s, 1) || peek(&s) != -1)
        return EW_DECODE_JSON;
    if (s.err != EW_DECODE_OK)
        return s.err;
    return ew_cf_finish(out);
}
