/* topk.c -- Space-Saving heavy hitters per dimension, and their text form.
 *
 * Adding is on the per-record hot path (five adds per record), so it only
 * touches the struct: the value is cut and sanitized into a stack buffer,
 * then compared with at most EW_TOPK_SLOTS slots (length first, bytes
 * last). With three short slots a hash would cost more than it saves, in
 * time and in the bytes every delta carries.
 *
 * The text side (format, parse, merge) runs once per flushed delta and
 * dimension. It sorts with insertion sort: at most a few dozen entries.
 * Sorting is by count descending, then by value as unsigned bytes with a
 * prefix first, so the order is total and every writer (C here, Lua in
 * state/flush.lua) produces the same bytes from the same counts.
 */
#include "edgewatch/topk.h"

#include <string.h>

static const uint8_t dim_cap[EW_DIMS] = {EW_TOPK_CAP_CLIENT_IP, EW_TOPK_CAP_ASN, EW_TOPK_CAP_COUNTRY,
                                         EW_TOPK_CAP_URI, EW_TOPK_CAP_EDGE};

/* Offset of each dimension's first slot in ew_topk.bytes; slot i of a
 * dimension starts i * dim_cap bytes further. */
#define OFF_ASN (EW_TOPK_SLOTS * EW_TOPK_CAP_CLIENT_IP)
#define OFF_COUNTRY (OFF_ASN + EW_TOPK_SLOTS * EW_TOPK_CAP_ASN)
#define OFF_URI (OFF_COUNTRY + EW_TOPK_SLOTS * EW_TOPK_CAP_COUNTRY)
#define OFF_EDGE (OFF_URI + EW_TOPK_SLOTS * EW_TOPK_CAP_URI)
static const uint16_t dim_off[EW_DIMS] = {0, OFF_ASN, OFF_COUNTRY, OFF_URI, OFF_EDGE};
_Static_assert(OFF_EDGE + EW_TOPK_SLOTS * EW_TOPK_CAP_EDGE == EW_TOPK_SLOTS * EW_TOPK_VALUE_BYTES,
               "dimension offsets must tile the value pool");

#define CAP_MAX EW_TOPK_CAP_URI
_Static_assert(CAP_MAX < 256, "slot lengths are uint8_t");

/* Longest entry: 10 digits of a uint32_t count, TAB, value, LF. */
_Static_assert(EW_TOPK_SLOTS * (10 + 1 + CAP_MAX + 1) + 1 <= EW_TOPK_TEXT_MAX, "EW_TOPK_TEXT_MAX too small");
/* Longest merged entry: a sum of 2 * EW_TOPK_MERGE_IN counts below 10^15
 * has at most 17 digits. */
_Static_assert(EW_TOPK_KEEP * (17 + 1 + 71 + 1) + 1 <= EW_TOPK_MERGED_MAX, "EW_TOPK_MERGED_MAX too small");

#define COUNT_DIGITS_MAX 15 /* 10^15 - 1 < 2^53: exact as a Lua 5.1 number */

static const char *const dim_names[EW_DIMS] = {"client_ip", "asn", "country", "uri", "edge_location"};
static const char *const dim_fields[EW_DIMS] = {"top:ip", "top:asn", "top:country", "top:uri", "top:edge"};

const char *ew_dim_name(ew_dim d)
{
    return (unsigned)d < EW_DIMS ? dim_names[d] : "unknown";
}

const char *ew_dim_field(ew_dim d)
{
    return (unsigned)d < EW_DIMS ? dim_fields[d] : "top:unknown";
}

void ew_topk_clear(ew_topk *t)
{
    memset(t, 0, sizeof *t);
}

/* ---- adding ---- */

static bool utf8_continuation(unsigned char c)
{
    return (c & 0xc0) == 0x80;
}

/* Length of v cut to cap bytes without splitting a UTF-8 sequence: when
 * the first byte left out continues a sequence, the sequence's start is
 * left out too. A sequence has at most 3 continuation bytes; input that is
 * not UTF-8 is simply cut near cap. */
static size_t clip_utf8(ew_str v, size_t cap)
{
    if (v.len <= cap)
        return v.len;
    const unsigned char *s = (const unsigned char *)v.ptr;
    size_t n = cap;
    while (n > 0 && n + 3 > cap && utf8_continuation(s[n]))
        n--;
    return n;
}

/* Copies n bytes with control characters turned into '?' (TAB and LF
 * separate the text form). */
static void sanitize(const char *src, size_t n, char *dst)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)src[i];
        dst[i] = (char)(c < 0x20 || c == 0x7f ? '?' : c);
    }
}

static uint32_t count_up(uint32_t c)
{
    return c == UINT32_MAX ? c : c + 1;
}

static char *slot_bytes(ew_topk *t, ew_dim dim, size_t i)
{
    return t->bytes + dim_off[dim] + i * dim_cap[dim];
}

static const char *slot_bytes_const(const ew_topk *t, ew_dim dim, size_t i)
{
    return t->bytes + dim_off[dim] + i * dim_cap[dim];
}

static void slot_set(ew_topk *t, ew_dim dim, size_t i, const char *v, size_t n, uint32_t inherited)
{
    memcpy(slot_bytes(t, dim, i), v, n);
    t->len[dim][i] = (uint8_t)n;
    t->count[dim][i] = count_up(inherited);
    t->err[dim][i] = inherited;
}

/* Index of the smallest count; the lowest index among equals, so eviction
 * is deterministic. */
static size_t slot_min(const uint32_t *count)
{
    size_t m = 0;
    for (size_t i = 1; i < EW_TOPK_SLOTS; i++)
        if (count[i] < count[m])
            m = i;
    return m;
}


void ew_topk_add(ew_topk *t, ew_dim dim, ew_str value)
{
    if ((unsigned)dim >= EW_DIMS)
        return;
    size_t n = clip_utf8(value, dim_cap[dim]);
    if (n == 0)
        return;
    char v[CAP_MAX];
    sanitize(value.ptr, n, v);
    uint32_t *count = t->count[dim];
    size_t i = 0;
    for (; i < EW_TOPK_SLOTS && count[i]; i++) {
        if (t->len[dim][i] == n && memcmp(slot_bytes(t, dim, i), v, n) == 0) {
            count[i] = count_up(count[i]);
            return;
        }
    }
    if (i < EW_TOPK_SLOTS) {
        slot_set(t, dim, i, v, n, 0);
        return;
    }
    size_t m = slot_min(count);
    slot_set(t, dim, m, v, n, count[m]);
}

void ew_topk_add_record(ew_topk *t, const ew_cf_record *r)
{
    ew_topk_add(t, EW_DIM_CLIENT_IP, r->client_ip);
    ew_topk_add(t, EW_DIM_ASN, r->asn);
    ew_topk_add(t, EW_DIM_COUNTRY, r->country);
    ew_topk_add(t, EW_DIM_URI, r->uri_path);
    ew_topk_add(t, EW_DIM_EDGE, r->edge_location);
}

/* ---- ordering and writing ---- */

static int value_cmp(const char *a, size_t an, const char *b, size_t bn)
{
    int c = memcmp(a, b, an < bn ? an : bn);
    if (c)
        return c;
    return an < bn ? -1 : an > bn;
}

/* Negative when entry a comes first: heavier, or as heavy and smaller. */
static int entry_cmp(uint64_t ac, const char *a, size_t an, uint64_t bc, const char *b, size_t bn)
{
    if (ac != bc)
        return ac > bc ? -1 : 1;
    return value_cmp(a, an, b, bn);
}

typedef struct {
    char *buf;
    size_t cap, len;
    bool full; /* an entry did not fit: later (lighter) ones are dropped too */
} text_writer;

static size_t u64_digits(uint64_t v, char *tmp)
{
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    return n;
}

/* Appends "COUNT\tVALUE\n" when it fits whole with room for the NUL. */
static void put_entry(text_writer *w, uint64_t count, const char *v, size_t n)
{
    char rev[20];
    size_t nd = u64_digits(count, rev);
    size_t need = nd + 1 + n + 1;
    if (w->full || w->cap == 0 || need > w->cap - 1 - w->len) {
        w->full = true;
        return;
    }
    char *p = w->buf + w->len;
    for (size_t i = 0; i < nd; i++)
        *p++ = rev[nd - 1 - i];
    *p++ = '\t';
    memcpy(p, v, n);
    p[n] = '\n';
    w->len += need;
}

static size_t writer_end(text_writer *w)
{
    if (w->cap > 0)
        w->buf[w->len] = '\0';
    return w->len;
}

/* ---- format ---- */

static uint32_t guaranteed(const ew_topk *t, ew_dim dim, size_t i) { return t->count[dim][i] - t->err[dim][i]; }

static bool slot_before(const ew_topk *t, ew_dim dim, size_t a, size_t b)
{
    return entry_cmp(guaranteed(t, dim, a), slot_bytes_const(t, dim, a), t->len[dim][a], guaranteed(t, dim, b),
                     slot_bytes_const(t, dim, b), t->len[dim][b]) < 0;
}

/* Slots of dim with a non-zero lower bound, in text order; returns how many. */
static size_t sorted_slots(const ew_topk *t, ew_dim dim, size_t *order)
{
    size_t n = 0;
    for (size_t i = 0; i < EW_TOPK_SLOTS && t->count[dim][i]; i++) {
        if (!guaranteed(t, dim, i))
            continue;
        size_t j = n++;
        for (; j > 0 && slot_before(t, dim, i, order[j - 1]); j--)
            order[j] = order[j - 1];
        order[j] = i;
    }
    return n;
}

size_t ew_topk_format(const ew_topk *t, ew_dim dim, char *buf, size_t cap)
{
    text_writer w = {buf, cap, 0, false};
    if ((unsigned)dim >= EW_DIMS)
        return writer_end(&w);
    size_t order[EW_TOPK_SLOTS];
    size_t n = sorted_slots(t, dim, order);
    for (size_t k = 0; k < n; k++) {
        size_t i = order[k];
        put_entry(&w, guaranteed(t, dim, i), slot_bytes_const(t, dim, i), t->len[dim][i]);
    }
    return writer_end(&w);
}

/* ---- parse ---- */

static bool parse_count(const char *s, size_t n, uint64_t *out)
{
    if (n == 0 || n > COUNT_DIGITS_MAX)
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    *out = v;
    return v > 0;
}

static bool parse_value(const char *s, size_t n, char *out, size_t cap)
{
    if (n == 0 || n >= cap)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f)
            return false;
    }
    memcpy(out, s, n);
    out[n] = '\0';
    return true;
}

static bool parse_line(const char *s, size_t n, ew_top_entry *e)
{
    const char *tab = memchr(s, '\t', n);
    if (!tab)
        return false;
    size_t nd = (size_t)(tab - s);
    return parse_count(s, nd, &e->count) && parse_value(tab + 1, n - nd - 1, e->value, sizeof e->value);
}

size_t ew_topk_parse(const char *text, size_t len, ew_top_entry *out, size_t cap)
{
    size_t n = 0, pos = 0;
    while (pos < len && n < cap) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - text) : len;
        if (parse_line(text + pos, end - pos, &out[n]))
            n++;
        pos = end + 1;
    }
    return n;
}

/* ---- merge ---- */

static uint64_t add_sat(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* Folds e[0..n) into distinct values, summing counts; first sight keeps
 * its place. Returns the number of distinct values. */
static size_t sum_duplicates(ew_top_entry *e, size_t n)
{
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        size_t j = 0;
        while (j < m && strcmp(e[j].value, e[i].value) != 0)
            j++;
        if (j < m)
            e[j].count = add_sat(e[j].count, e[i].count);
        else
            e[m++] = e[i];
    }
    return m;
}

static bool top_before(const ew_top_entry *a, const ew_top_entry *b)
{
    return entry_cmp(a->count, a->value, strlen(a->value), b->count, b->value, strlen(b->value)) < 0;
}

static void sort_entries(ew_top_entry *e, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        ew_top_entry x = e[i];
        size_t j = i;
        for (; j > 0 && top_before(&x, &e[j - 1]); j--)
            e[j] = e[j - 1];
        e[j] = x;
    }
}

size_t ew_topk_merge_text(const char *a, size_t alen, const char *b, size_t blen, size_t keep, char *out,
                          size_t cap)
{
    ew_top_entry e[2 * EW_TOPK_MERGE_IN];
    size_t n = ew_topk_parse(a, alen, e, EW_TOPK_MERGE_IN);
    n += ew_topk_parse(b, blen, e + n, EW_TOPK_MERGE_IN);
    n = sum_duplicates(e, n);
    sort_entries(e, n);
    text_writer w = {out, cap, 0, false};
    for (size_t i = 0; i < n && i < keep; i++)
        put_entry(&w, e[i].count, e[i].value, strlen(e[i].value));
    return writer_end(&w);
}
