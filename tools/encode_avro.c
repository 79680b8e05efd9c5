/* encode_avro.c -- a real-time TSV line as one bare Avro datum of
 * schemas/cloudfront_realtime_log.avsc.
 *
 * Used by `edgewatch gen --encoding avro` and the tests, never on the hot
 * path. The schema is simple enough (a non-null timestamp-millis, then
 * ["null", T] for every canonical field, in canonical order) that its
 * field types are known here by name rather than by parsing the .avsc;
 * test_decode_avro.c decodes what this writes with the embedded schema, so
 * the two cannot drift apart silently. Nothing is allocated.
 */
#include "edgewatch/decode.h"
#include "edgewatch/tools.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

typedef enum { T_STRING, T_INT, T_LONG, T_SECONDS } field_type;

typedef struct {
    uint8_t *p;
    size_t n, cap;
    bool ok;
} writer;

static field_type type_of(const char *name)
{
    static const char *const ints[] = {"sc-status", "c-port", "cs-headers-count", "fle-encrypted-fields"};
    static const char *const longs[] = {"sc-bytes", "cs-bytes", "sc-content-len", "sc-range-start", "sc-range-end"};
    static const char *const seconds[] = {"time-to-first-byte", "time-taken", "origin-fbl", "origin-lbl"};
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++)
        if (strcmp(name, ints[i]) == 0)
            return T_INT;
    for (size_t i = 0; i < sizeof longs / sizeof longs[0]; i++)
        if (strcmp(name, longs[i]) == 0)
            return T_LONG;
    for (size_t i = 0; i < sizeof seconds / sizeof seconds[0]; i++)
        if (strcmp(name, seconds[i]) == 0)
            return T_SECONDS;
    return T_STRING;
}

static void put_bytes(writer *w, const void *p, size_t n)
{
    if (!w->ok || n > w->cap - w->n) {
        w->ok = false;
        return;
    }
    memcpy(w->p + w->n, p, n);
    w->n += n;
}

static void put_long(writer *w, int64_t v)
{
    uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63); /* zig-zag */
    uint8_t buf[10];
    size_t n = 0;
    do {
        buf[n] = (uint8_t)(z & 0x7F);
        z >>= 7;
        buf[n] |= z ? 0x80 : 0;
        n++;
    } while (z);
    put_bytes(w, buf, n);
}

static void put_double(writer *w, double d)
{
    uint64_t bits;
    uint8_t buf[8];
    memcpy(&bits, &d, sizeof bits);
    for (int i = 0; i < 8; i++)
        buf[i] = (uint8_t)(bits >> (8 * i)); /* little-endian */
    put_bytes(w, buf, 8);
}

/* Optional minus sign, then digits. */
static bool parse_i64(ew_str s, int64_t *out)
{
    bool neg = s.len && s.ptr[0] == '-';
    uint64_t v;
    if (!ew_parse_u64(ew_str_make(s.ptr + neg, s.len - neg), &v) || v > (uint64_t)INT64_MAX)
        return false;
    *out = neg ? -(int64_t)v : (int64_t)v;
    return true;
}

/* One present value as the second union branch; false when the text does
 * not fit the field's type. */
static bool put_value(writer *w, field_type t, ew_str v)
{
    int64_t n;
    put_long(w, 1);
    switch (t) {
    case T_INT:
        if (!parse_i64(v, &n) || n < INT32_MIN || n > INT32_MAX)
            return false;
        put_long(w, n);
        return true;
    case T_LONG:
        if (!parse_i64(v, &n))
            return false;
        put_long(w, n);
        return true;
    case T_SECONDS:
        if (!ew_parse_seconds_ms(v, &n))
            return false;
        put_double(w, (double)n / 1000.0);
        return true;
    case T_STRING:
        put_long(w, (int64_t)v.len);
        put_bytes(w, v.ptr, v.len);
        return true;
    }
    return false;
}

/* The line's columns by canonical position (1-based); false when the
 * names are not a valid selection or the column count differs. */
static bool split_columns(const char *const *names, size_t n, const char *line, size_t len,
                          ew_str col[EW_CF_CANONICAL_FIELDS + 1], bool selected[EW_CF_CANONICAL_FIELDS + 1])
{
    for (size_t i = 0; i < n; i++) {
        int pos = ew_field_position(names[i]);
        if (!pos || selected[pos])
            return false;
        selected[pos] = true;
    }
    while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
        len--;
    const char *p = line, *end = line + len;
    for (int pos = 1; pos <= EW_CF_CANONICAL_FIELDS; pos++) {
        if (!selected[pos])
            continue;
        if (!p)
            return false; /* fewer columns than fields */
        const char *tab = memchr(p, '\t', (size_t)(end - p));
        const char *stop = tab ? tab : end;
        col[pos] = ew_str_make(p, (size_t)(stop - p));
        p = tab ? tab + 1 : NULL;
    }
    return p == NULL; /* no columns left over */
}

size_t ew_encode_avro_line(const char *const *names, size_t n, const char *line, size_t len, uint8_t *out,
                           size_t cap)
{
    ew_str col[EW_CF_CANONICAL_FIELDS + 1];
    bool selected[EW_CF_CANONICAL_FIELDS + 1] = {false};
    int64_t ts_ms;
    if (n == 0 || !split_columns(names, n, line, len, col, selected))
        return 0;
    /* The timestamp is the one field that cannot be null. */
    if (!selected[1] || !ew_parse_seconds_ms(col[1], &ts_ms))
        return 0;
    writer w = {out, 0, cap, true};
    put_long(&w, ts_ms);
    for (int pos = 2; pos <= EW_CF_CANONICAL_FIELDS; pos++) {
        ew_str v = col[pos];
        if (!selected[pos] || (v.len == 1 && v.ptr[0] == '-'))
            put_long(&w, 0); /* the "null" branch */
        else if (!put_value(&w, type_of(ew_field_name(pos)), v))
            return 0;
    }
    return w.ok ? w.n : 0;
}

/* ---- object container files ---- */

struct ew_avro_file_writer {
    FILE *fp;
    bool deflate;
    uint8_t sync[16];
    uint8_t *buf, *zbuf;
    size_t len, cap;
    int64_t count;
};

static bool file_put_long(FILE *fp, int64_t v)
{
    uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
    do {
        uint8_t b = z & 0x7f;
        z >>= 7;
        if (fputc(z ? b | 0x80 : b, fp) == EOF)
            return false;
    } while (z);
    return true;
}

static bool file_put_bytes(FILE *fp, const void *p, size_t n)
{
    return file_put_long(fp, (int64_t)n) && fwrite(p, 1, n, fp) == n;
}

ew_avro_file_writer *ew_avro_file_writer_open(const char *path, const char *schema_json, bool deflate)
{
    FILE *fp = fopen(path, "wb");
    if (!fp)
        return NULL;
    ew_avro_file_writer *w = calloc(1, sizeof *w);
    w->fp = fp;
    w->deflate = deflate;
    /* Deterministic, so the same --seed gives the same file. */
    uint64_t h = ew_hash64(schema_json, strlen(schema_json), EW_HASH_SEED);
    for (int i = 0; i < 16; i++)
        w->sync[i] = (uint8_t)(h >> (8 * (i % 8))) ^ (uint8_t)i;
    const char *codec = deflate ? "deflate" : "null";
    bool ok = fwrite("Obj\x01", 1, 4, fp) == 4 && file_put_long(fp, 2) && file_put_bytes(fp, "avro.schema", 11) &&
              file_put_bytes(fp, schema_json, strlen(schema_json)) && file_put_bytes(fp, "avro.codec", 10) &&
              file_put_bytes(fp, codec, strlen(codec)) && file_put_long(fp, 0) && fwrite(w->sync, 1, 16, fp) == 16;
    if (!ok) {
        fclose(fp);
        free(w);
        return NULL;
    }
    return w;
}

static bool write_block(ew_avro_file_writer *w)
{
    if (w->count == 0)
        return true;
    const uint8_t *data = w->buf;
    size_t size = w->len;
    if (w->deflate) {
        uLong bound = compressBound((uLong)w->len) + 64;
        w->zbuf = realloc(w->zbuf, bound);
        z_stream z = {.next_in = w->buf, .avail_in = (uInt)w->len, .next_out = w->zbuf, .avail_out = (uInt)bound};
        if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK)
            return false;
        int rc = deflate(&z, Z_FINISH);
        size = z.total_out;
        deflateEnd(&z);
        if (rc != Z_STREAM_END)
            return false;
        data = w->zbuf;
    }
    bool ok = file_put_long(w->fp, w->count) && file_put_bytes(w->fp, data, size) && fwrite(w->sync, 1, 16, w->fp) == 16;
    w->len = 0;
    w->count = 0;
    return ok;
}

bool ew_avro_file_writer_add(ew_avro_file_writer *w, const uint8_t *datum, size_t len)
{
    if (w->len + len > w->cap) {
        w->cap = (w->len + len) * 2 + 4096;
        w->buf = realloc(w->buf, w->cap);
    }
    memcpy(w->buf + w->len, datum, len);
    w->len += len;
    w->count++;
    return w->len < (64u << 10) || write_block(w);
}

bool ew_avro_file_writer_close(ew_avro_file_writer *w)
{
    if (!w)
        return true;
    bool ok = write_block(w);
    ok = fclose(w->fp) == 0 && ok;
    free(w->buf);
    free(w->zbuf);
    free(w);
    return ok;
}
