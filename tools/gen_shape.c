/* gen_shape.c -- the shapes `edgewatch gen` gives its records on the wire.
 *
 * The generator draws TSV lines; this file turns them into the other
 * encodings a CloudFront topic carries (JSON objects, bare or Confluent-
 * framed Avro), and into malformed records, one kind per dead-letter
 * reason, so tests can check that every reason reaches the DLQ and that
 * the good records around them are counted exactly.
 */
#include "edgewatch/common.h"
#include "edgewatch/decode.h"
#include "edgewatch/tools.h"

#include <stdio.h>
#include <string.h>

static const char *const encoding_names[EW_GEN_ENCODINGS] = {"tsv", "json", "avro", "avro-confluent", "mixed"};

bool ew_gen_encoding_parse(const char *name, ew_gen_encoding *out)
{
    for (int i = 0; i < EW_GEN_ENCODINGS; i++)
        if (strcmp(name, encoding_names[i]) == 0) {
            *out = (ew_gen_encoding)i;
            return true;
        }
    return false;
}

static size_t confluent(int32_t schema_id, const char *const *names, size_t n, const char *line, size_t len,
                        uint8_t *out, size_t cap)
{
    if (cap < 5)
        return 0;
    out[0] = 0;
    out[1] = (uint8_t)((uint32_t)schema_id >> 24);
    out[2] = (uint8_t)((uint32_t)schema_id >> 16);
    out[3] = (uint8_t)((uint32_t)schema_id >> 8);
    out[4] = (uint8_t)schema_id;
    size_t k = ew_encode_avro_line(names, n, line, len, out + 5, cap - 5);
    return k ? k + 5 : 0;
}

size_t ew_gen_encode(ew_gen_encoding enc, int32_t schema_id, uint64_t pick, const char *const *names, size_t n,
                     const char *line, size_t len, uint8_t *out, size_t cap)
{
    if (enc == EW_GEN_MIXED)
        enc = (ew_gen_encoding)(pick % EW_GEN_MIXED);
    switch (enc) {
    case EW_GEN_JSON:
        return ew_encode_json_line(names, n, line, len, (char *)out, cap);
    case EW_GEN_AVRO:
        return ew_encode_avro_line(names, n, line, len, out, cap);
    case EW_GEN_AVRO_CONFLUENT:
        return confluent(schema_id, names, n, line, len, out, cap);
    default:
        if (len > cap)
            return 0;
        memcpy(out, line, len);
        return len;
    }
}

/* ---- malformed records ---- */

/* Column c (0-based, in line order) of a TSV line. */
static ew_str column(const char *line, size_t len, size_t c)
{
    const char *p = line, *end = line + len;
    for (size_t i = 0; i < c; i++) {
        const char *tab = memchr(p, '\t', (size_t)(end - p));
        if (!tab)
            return ew_str_make(end, 0);
        p = tab + 1;
    }
    const char *tab = memchr(p, '\t', (size_t)(end - p));
    return ew_str_make(p, (size_t)((tab ? tab : end) - p));
}

/* Column index of a field name in a line with these selected fields. */
static int column_of(const char *const *names, size_t n, const char *name)
{
    int pos = ew_field_position(name), col = 0;
    bool found = false;
    for (size_t i = 0; i < n; i++) {
        int p = ew_field_position(names[i]);
        if (p < pos)
            col++;
        found |= p == pos;
    }
    return found ? col : -1;
}

/* The line with one column's value replaced. */
static size_t replace_column(const char *const *names, size_t n, const char *line, size_t len, const char *name,
                             const char *value, uint8_t *out, size_t cap)
{
    int c = column_of(names, n, name);
    if (c < 0)
        return 0;
    ew_str old = column(line, len, (size_t)c);
    size_t head = (size_t)(old.ptr - line), tail = len - head - old.len, vlen = strlen(value);
    if (head + vlen + tail > cap)
        return 0;
    memcpy(out, line, head);
    memcpy(out + head, value, vlen);
    memcpy(out + head + vlen, old.ptr + old.len, tail);
    return head + vlen + tail;
}

static size_t without_last_column(const char *line, size_t len, uint8_t *out, size_t cap)
{
    const char *tab = len ? memrchr(line, '\t', len) : NULL;
    size_t n = tab ? (size_t)(tab - line) : 0;
    if (n > cap)
        return 0;
    memcpy(out, line, n);
    return n;
}

/* A cs-uri-stem longer than the default 16 KiB line limit. */
static size_t too_long(const char *const *names, size_t n, const char *line, size_t len, uint8_t *out, size_t cap)
{
    char stem[17001];
    memset(stem, 'a', sizeof stem - 1);
    stem[0] = '/';
    stem[sizeof stem - 1] = '\0';
    return replace_column(names, n, line, len, "cs-uri-stem", stem, out, cap);
}

/* Every identity field "-": nothing to key the record on. */
static size_t without_identity(const char *const *names, size_t n, const char *line, size_t len, uint8_t *out,
                               size_t cap)
{
    static const char *const identity[] = {"x-host-header", "cs-host", "distribution-tenant-id"};
    uint8_t a[8192], b[8192];
    if (len > sizeof a)
        return 0;
    memcpy(a, line, len);
    size_t m = len;
    for (size_t i = 0; i < sizeof identity / sizeof identity[0]; i++) {
        if (column_of(names, n, identity[i]) < 0)
            continue;
        m = replace_column(names, n, (const char *)a, m, identity[i], "-", b, sizeof b);
        memcpy(a, b, m);
    }
    if (m > cap)
        return 0;
    memcpy(out, a, m);
    return m;
}

size_t ew_gen_bad_record(unsigned k, int32_t schema_id, const char *const *names, size_t n, const char *line,
                         size_t len, uint8_t *out, size_t cap, const char **reason)
{
    size_t m;
    switch (k % EW_GEN_BAD_KINDS) {
    case 0:
        *reason = "column_count";
        return without_last_column(line, len, out, cap);
    case 1:
        *reason = "bad_timestamp";
        return replace_column(names, n, line, len, "timestamp", "yesterday", out, cap);
    case 2:
        *reason = "bad_status";
        return replace_column(names, n, line, len, "sc-status", "2x0", out, cap);
    case 3:
        *reason = "bad_bytes";
        return replace_column(names, n, line, len, "sc-bytes", "12a", out, cap);
    case 4:
        *reason = "bad_latency";
        return replace_column(names, n, line, len, "time-to-first-byte", "fast", out, cap);
    case 5:
        *reason = "bad_utf8"; /* %C3%28 is not a UTF-8 sequence once decoded */
        return replace_column(names, n, line, len, "cs-uri-stem", "/caf%C3%28.html", out, cap);
    case 6:
        *reason = "no_identity";
        return without_identity(names, n, line, len, out, cap);
    case 7:
        *reason = "line_too_long";
        return too_long(names, n, line, len, out, cap);
    case 8:
        *reason = "bad_json"; /* cut in the middle of the object */
        m = ew_encode_json_line(names, n, line, len, (char *)out, cap);
        return m / 2;
    case 9:
        *reason = "bad_avro"; /* framing and the first bytes of the datum only */
        m = confluent(schema_id, names, n, line, len, out, cap);
        return m > 8 ? 8 : m;
    case 10:
        *reason = "unknown_schema_id";
        return confluent(schema_id == 999 ? 998 : 999, names, n, line, len, out, cap);
    case 11:
        *reason = "unsupported_encoding"; /* Confluent v1: magic 1 + 16-byte GUID */
        if (cap < 17)
            return 0;
        out[0] = 1;
        memset(out + 1, 0xab, 16);
        return 17;
    case 12:
        *reason = "empty";
        return 0;
    default:
        *reason = "column_count"; /* a stray text line on the topic */
        m = strlen("not a cloudfront line");
        memcpy(out, "not a cloudfront line", m);
        return m;
    }
}
