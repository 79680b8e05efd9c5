/* json_text.c -- JSON whitespace, escapes and UTF-8 for the hand-written
 * JSON decoders (json_text.h).
 */
#include "edgewatch/json_text.h"

#include <string.h>

int ew_json_peek(const char **p, const char *end)
{
    while (*p < end && (**p == ' ' || **p == '\t' || **p == '\n' || **p == '\r'))
        (*p)++;
    return *p < end ? (unsigned char)**p : -1;
}

bool ew_json_expect(const char **p, const char *end, char c)
{
    if (ew_json_peek(p, end) != (unsigned char)c)
        return false;
    (*p)++;
    return true;
}

static bool hex4(const char *p, const char *end, uint32_t *out)
{
    uint32_t v = 0;
    if (end - p < 4)
        return false;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        uint32_t d;
        if (c >= '0' && c <= '9')
            d = (uint32_t)(c - '0');
        else if (c >= 'a' && c <= 'f')
            d = (uint32_t)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            d = (uint32_t)(c - 'A' + 10);
        else
            return false;
        v = v << 4 | d;
    }
    *out = v;
    return true;
}

/* The \u escape at p (a high surrogate must be followed by its low half). */
static size_t unicode_escape(const char *p, const char *end, uint32_t *cp)
{
    uint32_t hi, lo;
    if (!hex4(p + 2, end, &hi))
        return 0;
    if (hi < 0xD800 || hi > 0xDFFF) {
        *cp = hi;
        return 6;
    }
    if (hi >= 0xDC00 || end - p < 12 || p[6] != '\\' || p[7] != 'u' || !hex4(p + 8, end, &lo) ||
        lo < 0xDC00 || lo > 0xDFFF)
        return 0;
    *cp = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
    return 12;
}

/* The escape starting at the backslash p: bytes it spans, 0 if malformed.
 * Used both to validate and to unescape, so the two cannot disagree. */
size_t ew_json_read_escape(const char *p, const char *end, uint32_t *cp)
{
    static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
    if (end - p < 2)
        return 0;
    if (p[1] == 'u')
        return unicode_escape(p, end, cp);
    const char *k = p[1] ? strchr(from, p[1]) : NULL;
    if (!k)
        return 0;
    *cp = (unsigned char)to[k - from];
    return 2;
}

size_t ew_utf8_put(char *dst, uint32_t cp)
{
    if (cp < 0x80) {
        dst[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        dst[0] = (char)(0xC0 | cp >> 6);
        dst[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        dst[0] = (char)(0xE0 | cp >> 12);
        dst[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        dst[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    dst[0] = (char)(0xF0 | cp >> 18);
    dst[1] = (char)(0x80 | (cp >> 12 & 0x3F));
    dst[2] = (char)(0x80 | (cp >> 6 & 0x3F));
    dst[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

bool ew_json_scan_string(const char **p, const char *end, ew_str *raw, bool *escaped)
{
    const char *q = *p + 1, *start = q;
    *escaped = false;
    while (q < end) {
        unsigned char c = (unsigned char)*q;
        uint32_t cp;
        size_t k = 1;
        if (c == '"') {
            *raw = ew_str_make(start, (size_t)(q - start));
            *p = q + 1;
            return true;
        }
        if (c < 0x20)
            return false;
        if (c == '\\') {
            if ((k = ew_json_read_escape(q, end, &cp)) == 0)
                return false;
            *escaped = true;
        }
        q += k;
    }
    return false;
}
