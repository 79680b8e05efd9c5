/* encode_json.c -- a real-time TSV line as one JSON object, the shape custom
 * Kinesis->Kafka routes write (keys = AWS field names), so `edgewatch gen`
 * and the tests can feed the JSON decoder the same records as the TSV one.
 *
 * Keys come in canonical order because that is the order of the columns;
 * the decoder does not care. "-" becomes null, which the decoder reads as
 * absent exactly like "-" in TSV. Numeric fields become JSON numbers only
 * when their text is already a valid JSON number ("000" is not: it stays a
 * string), so decoding sees the very same text the TSV column held. The
 * output is NUL-terminated when there is room for it; nothing allocates.
 */
#include "edgewatch/decode.h"
#include "edgewatch/tools.h"

#include <stdbool.h>
#include <string.h>

typedef struct {
    char *out;
    size_t cap, len;
    bool ok;
} writer;

static void put_bytes(writer *w, const char *p, size_t n)
{
    if (!w->ok || n > w->cap - w->len) {
        w->ok = false;
        return;
    }
    memcpy(w->out + w->len, p, n);
    w->len += n;
}

static void put_cstr(writer *w, const char *s) { put_bytes(w, s, strlen(s)); }

static bool numeric_field(const char *name)
{
    static const char *const numeric[] = {
        "timestamp", "sc-status", "sc-bytes", "cs-bytes", "time-to-first-byte", "time-taken",
        "origin-fbl", "origin-lbl", "c-port", "sc-content-len", "cs-headers-count",
    };
    for (size_t i = 0; i < sizeof numeric / sizeof numeric[0]; i++)
        if (strcmp(numeric[i], name) == 0)
            return true;
    return false;
}

/* (0|[1-9][0-9]*)(.[0-9]+)? : a decimal JSON accepts as a number and that
 * reads back as the same text. */
static bool plain_decimal(const char *p, size_t n)
{
    size_t i = 0;
    while (i < n && p[i] >= '0' && p[i] <= '9')
        i++;
    if (i == 0 || (p[0] == '0' && i > 1))
        return false;
    if (i == n)
        return true;
    if (p[i] != '.' || i + 1 == n)
        return false;
    for (i++; i < n; i++)
        if (p[i] < '0' || p[i] > '9')
            return false;
    return true;
}

/* A JSON string: quote, backslash and control bytes escaped, everything
 * else (UTF-8 included) copied as it is. */
static void put_string(writer *w, const char *p, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    put_bytes(w, "\"", 1);
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        put_bytes(w, p + run, i - run);
        run = i + 1;
        if (c == '"' || c == '\\') {
            char esc[2] = {'\\', (char)c};
            put_bytes(w, esc, 2);
        } else {
            char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            put_bytes(w, esc, 6);
        }
    }
    put_bytes(w, p + run, n - run);
    put_bytes(w, "\"", 1);
}

static void put_member(writer *w, const char *name, const char *v, size_t n)
{
    put_string(w, name, strlen(name));
    put_bytes(w, ":", 1);
    if (n == 1 && v[0] == '-')
        put_cstr(w, "null");
    else if (numeric_field(name) && plain_decimal(v, n))
        put_bytes(w, v, n);
    else
        put_string(w, v, n);
}

/* The selected canonical positions in column order, or 0 when a name is
 * unknown or listed twice. */
static size_t column_positions(const char *const *names, size_t n, int *pos)
{
    bool selected[EW_CF_CANONICAL_FIELDS + 1] = {false};
    for (size_t i = 0; i < n; i++) {
        int p = ew_field_position(names[i]);
        if (!p || selected[p])
            return 0;
        selected[p] = true;
    }
    size_t k = 0;
    for (int p = 1; p <= EW_CF_CANONICAL_FIELDS; p++)
        if (selected[p])
            pos[k++] = p;
    return k;
}

size_t ew_encode_json_line(const char *const *names, size_t n, const char *line, size_t len, char *out,
                           size_t cap)
{
    int pos[EW_CF_CANONICAL_FIELDS];
    if (n == 0 || n > EW_CF_CANONICAL_FIELDS || column_positions(names, n, pos) != n)
        return 0;
    while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
        len--;
    writer w = {out, cap, 0, true};
    const char *p = line, *end = line + len;
    put_bytes(&w, "{", 1);
    for (size_t c = 0; c < n; c++) {
        const char *tab = memchr(p, '\t', (size_t)(end - p));
        if ((tab != NULL) != (c + 1 < n))
            return 0;
        const char *stop = tab ? tab : end;
        if (c)
            put_bytes(&w, ",", 1);
        put_member(&w, ew_field_name(pos[c]), p, (size_t)(stop - p));
        p = stop + 1;
    }
    put_bytes(&w, "}", 1);
    if (!w.ok)
        return 0;
    if (w.len < cap)
        out[w.len] = '\0';
    return w.len;
}
