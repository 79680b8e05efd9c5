/* topk.c -- Space-Saving heavy hitters per dimension, and their text form.
 *
 * Adding is on the per-record hot path (five adds per record), so it only
 * touches the struct: the value is cut, checked a word at a time for
 * control bytes (sanitized into a stack buffer only when it has some),
 * then compared with at most its dimension's slots, length first, then with
 * a few word loads that overlap instead of a memcmp call or a byte loop.
 * Most adds of a long tail evict, so the copy is done the same way and the
 * smallest count is picked without branches. With three short slots a
 * hash would cost more than it saves, in time and in the bytes every delta
 * carries.
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
#define OFF_ASN (EW_TOPK_IP_SLOTS * EW_TOPK_CAP_CLIENT_IP)
#define OFF_COUNTRY (OFF_ASN + EW_TOPK_SLOTS * EW_TOPK_CAP_ASN)
#define OFF_URI (OFF_COUNTRY + EW_TOPK_SLOTS * EW_TOPK_CAP_COUNTRY)
#define OFF_EDGE (OFF_URI + EW_TOPK_SLOTS * EW_TOPK_CAP_URI)
static const uint16_t dim_off[EW_DIMS] = {0, OFF_ASN, OFF_COUNTRY, OFF_URI, OFF_EDGE};
_Static_assert(OFF_EDGE + EW_TOPK_SLOTS * EW_TOPK_CAP_EDGE == EW_TOPK_VALUE_BYTES,
               "dimension offsets must tile the value pool");
/* Each dimension's first slot in the count, err and len arrays. */
static const uint8_t dim_slots[EW_DIMS] = {EW_TOPK_IP_SLOTS, EW_TOPK_SLOTS, EW_TOPK_SLOTS, EW_TOPK_SLOTS,
                                           EW_TOPK_SLOTS};
static const uint8_t dim_first[EW_DIMS] = {0, EW_TOPK_IP_SLOTS, EW_TOPK_IP_SLOTS + EW_TOPK_SLOTS,
                                           EW_TOPK_IP_SLOTS + 2 * EW_TOPK_SLOTS, EW_TOPK_IP_SLOTS + 3 * EW_TOPK_SLOTS};
_Static_assert(EW_TOPK_IP_SLOTS + 4 * EW_TOPK_SLOTS == EW_TOPK_ALL_SLOTS, "slots must tile the arrays");

#define CAP_MAX EW_TOPK_CAP_URI
_Static_assert(CAP_MAX < 256, "slot lengths are uint8_t");

/* Longest entry: 10 digits of a uint32_t count, TAB, value, LF. */
_Static_assert(EW_TOPK_SLOTS_MAX * (10 + 1 + CAP_MAX + 1) + 1 <= EW_TOPK_TEXT_MAX, "EW_TOPK_TEXT_MAX too small");
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

static uint64_t load64(const char *p)
{
    uint64_t w;
    memcpy(&w, p, sizeof w);
    return w;
}

#define ONES 0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL

/* Whether a word has a byte below 0x20 or equal to 0x7f. The classic
 * has-less / has-zero bit tricks: exact as a yes/no answer. */
static bool word_has_control(uint64_t w)
{
    uint64_t below = (w - 0x20 * ONES) & ~w & HIGHS;
    uint64_t del = w ^ (0x7f * ONES);
    return ((below | ((del - ONES) & ~del)) & HIGHS) != 0;
}

static uint32_t load32(const char *p)
{
    uint32_t w;
    memcpy(&w, p, sizeof w);
    return w;
}

static uint16_t load16(const char *p)
{
    uint16_t w;
    memcpy(&w, p, sizeof w);
    return w;
}

/* The n <= 8 bytes at p in one word, some of them twice: two loads that
 * overlap, never reading outside [0, n). */
static uint64_t load_short(const char *p, size_t n)
{
    if (n >= 4)
        return load32(p) | (uint64_t)load32(p + n - 4) << 32;
    if (n >= 2)
        return load16(p) | (uint64_t)load16(p + n - 2) << 16 | 0x2020202000000000ULL;
    return (unsigned char)p[0] | 0x2020202020202000ULL;
}

/* Most values are plain printable text, stored as they are: checking a
 * word at a time lets them be compared and copied without sanitizing. */
static bool has_control(const char *s, size_t n)
{
    if (n < 8)
        return word_has_control(load_short(s, n));
    for (size_t i = 0; i + 8 < n; i += 8)
        if (word_has_control(load64(s + i)))
            return true;
    return word_has_control(load64(s + n - 8));
}

/* Equality of n > 0 bytes, inlined: memcmp is a library call, and these
 * values are short. The last load overlaps the one before it, so no
 * byte-by-byte tail and no access outside [0, n). */
static bool same_bytes(const char *a, const char *b, size_t n)
{
    if (n >= 8) {
        for (size_t i = 0; i + 8 < n; i += 8)
            if (load64(a + i) != load64(b + i))
                return false;
        return load64(a + n - 8) == load64(b + n - 8);
    }
    return load_short(a, n) == load_short(b, n);
}

/* memcpy of n > 0 bytes, the same way. */
static void copy_bytes(char *dst, const char *src, size_t n)
{
    if (n >= 8) {
        for (size_t i = 0; i + 8 < n; i += 8)
            memcpy(dst + i, src + i, 8);
        memcpy(dst + n - 8, src + n - 8, 8);
    } else if (n >= 4) {
        uint32_t head = load32(src), tail = load32(src + n - 4);
        memcpy(dst, &head, 4);
        memcpy(dst + n - 4, &tail, 4);
    } else if (n >= 2) {
        uint16_t head = load16(src), tail = load16(src + n - 2);
        memcpy(dst, &head, 2);
        memcpy(dst + n - 2, &tail, 2);
    } else {
        dst[0] = src[0];
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

static inline __attribute__((always_inline)) void slot_set(ew_topk *t, ew_dim dim, size_t i, const char *v, size_t n,
                                                            uint32_t inherited)
{
    copy_bytes(slot_bytes(t, dim, i), v, n);
    t->len[dim_first[dim] + i] = (uint8_t)n;
    t->count[dim_first[dim] + i] = count_up(inherited);
    t->err[dim_first[dim] + i] = inherited;
}

/* Index of the smallest count; the lowest index among equals, so eviction
 * is deterministic. */
static size_t slot_min(const uint32_t *count, size_t slots)
{
    size_t m = 0;
    for (size_t i = 1; i < slots; i++)
        m = count[i] < count[m] ? i : m; /* a conditional move: evictions are a coin toss */
    return m;
}

/* The first min(n, 8) bytes at p in one word (load_short's for n < 8). */
static uint64_t load_head(const char *p, size_t n)
{
    return n >= 8 ? load64(p) : load_short(p, n);
}

/* Counts v (already cut and sanitized, n > 0) in dim; inlined with a
 * constant dim, so the slot count, offsets and capacity are constants and
 * the screening loop unrolls. Every slot is screened at once, without
 * branches: a bit for each used slot of the same length whose first 8
 * bytes (the whole value, when shorter) are v's. On a long tail which slot
 * matches is a coin toss, and a branch per slot mispredicted more than the
 * screening costs. A value is in one slot at most, so the one screened
 * slot that matches in full is the one the slot-by-slot search found. */
static inline __attribute__((always_inline)) void add_value(ew_topk *t, ew_dim dim, const char *v, size_t n)
{
    uint32_t *count = &t->count[dim_first[dim]];
    const uint8_t *len = &t->len[dim_first[dim]];
    size_t slots = dim_slots[dim];
    uint64_t head = load_head(v, n);
    unsigned used = 0, screened = 0;
    for (size_t i = 0; i < slots; i++) {
        unsigned in_use = count[i] != 0;
        used |= in_use << i;
        screened |= (in_use & (len[i] == n) & (load_head(slot_bytes(t, dim, i), n) == head)) << i;
    }
    for (; screened; screened &= screened - 1) {
        size_t i = (size_t)__builtin_ctz(screened);
        if (n <= 8 || same_bytes(slot_bytes(t, dim, i), v, n)) {
            count[i] = count_up(count[i]);
            return;
        }
    }
    /* Used slots are a prefix (counts never go back to 0), so the first
     * free one is the lowest clear bit: a bit scan, where popcount would be
     * a library call without -mpopcnt. */
    size_t free_slot = (size_t)__builtin_ctz(~used);
    if (free_slot < slots) {
        slot_set(t, dim, free_slot, v, n, 0);
        return;
    }
    size_t m = slot_min(count, slots);
    slot_set(t, dim, m, v, n, count[m]);
}

/* Inlined into ew_topk_add_record with a constant dim, so the capacity
 * and the offsets are constants too. */
static inline __attribute__((always_inline)) void add_dim(ew_topk *t, ew_dim dim, ew_str value)
{
    size_t n = clip_utf8(value, dim_cap[dim]);
    if (n == 0)
        return;
    if (!has_control(value.ptr, n)) {
        add_value(t, dim, value.ptr, n);
        return;
    }
    char v[CAP_MAX];
    sanitize(value.ptr, n, v);
    add_value(t, dim, v, n);
}

void ew_topk_add(ew_topk *t, ew_dim dim, ew_str value)
{
    if ((unsigned)dim < EW_DIMS)
        add_dim(t, dim, value);
}

void ew_topk_add_record(ew_topk *t, const ew_cf_record *r)
{
    add_dim(t, EW_DIM_CLIENT_IP, r->client_ip);
    add_dim(t, EW_DIM_ASN, r->asn);
    add_dim(t, EW_DIM_COUNTRY, r->country);
    add_dim(t, EW_DIM_URI, r->uri_path);
    add_dim(t, EW_DIM_EDGE, r->edge_location);
}

/* add_dim's cut and sanitizing, done ahead: the value is left as add_dim
 * would count it, so add_clean_dim counts it the same. */
static inline __attribute__((always_inline)) size_t clean_dim(ew_dim dim, ew_str *value, char *buf)
{
    size_t n = clip_utf8(*value, dim_cap[dim]);
    value->len = n;
    if (n == 0 || !has_control(value->ptr, n))
        return 0;
    sanitize(value->ptr, n, buf);
    value->ptr = buf;
    return n;
}

size_t ew_topk_clean_record(ew_cf_record *r, char *buf)
{
    size_t used = clean_dim(EW_DIM_CLIENT_IP, &r->client_ip, buf);
    used += clean_dim(EW_DIM_ASN, &r->asn, buf + used);
    used += clean_dim(EW_DIM_COUNTRY, &r->country, buf + used);
    used += clean_dim(EW_DIM_URI, &r->uri_path, buf + used);
    used += clean_dim(EW_DIM_EDGE, &r->edge_location, buf + used);
    return used;
}

static inline __attribute__((always_inline)) void add_clean_dim(ew_topk *t, ew_dim dim, ew_str value)
{
    if (value.len)
        add_value(t, dim, value.ptr, value.len);
}

void ew_topk_add_clean_record(ew_topk *t, const ew_cf_record *r)
{
    add_clean_dim(t, EW_DIM_CLIENT_IP, r->client_ip);
    add_clean_dim(t, EW_DIM_ASN, r->asn);
    add_clean_dim(t, EW_DIM_COUNTRY, r->country);
    add_clean_dim(t, EW_DIM_URI, r->uri_path);
    add_clean_dim(t, EW_DIM_EDGE, r->edge_location);
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

static uint32_t guaranteed(const ew_topk *t, ew_dim dim, size_t i)
{
    return t->count[dim_first[dim] + i] - t->err[dim_first[dim] + i];
}

bool ew_topk_used(const ew_topk *t, ew_dim dim)
{
    return (unsigned)dim < EW_DIMS && t->count[dim_first[dim]] != 0;
}

static bool slot_before(const ew_topk *t, ew_dim dim, size_t a, size_t b)
{
    return entry_cmp(guaranteed(t, dim, a), slot_bytes_const(t, dim, a), t->len[dim_first[dim] + a],
                     guaranteed(t, dim, b), slot_bytes_const(t, dim, b), t->len[dim_first[dim] + b]) < 0;
}

/* Slots of dim with a non-zero lower bound, in text order; returns how many. */
static size_t sorted_slots(const ew_topk *t, ew_dim dim, size_t *order)
{
    size_t n = 0;
    for (size_t i = 0; i < dim_slots[dim] && t->count[dim_first[dim] + i]; i++) {
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
    size_t order[EW_TOPK_SLOTS_MAX];
    size_t n = sorted_slots(t, dim, order);
    for (size_t k = 0; k < n; k++) {
        size_t i = order[k];
        put_entry(&w, guaranteed(t, dim, i), slot_bytes_const(t, dim, i), t->len[dim_first[dim] + i]);
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

/* A value of 1 .. cap - 1 bytes, none of them a control byte. */
static bool valid_value(const char *s, size_t n, size_t cap)
{
    if (n == 0 || n >= cap)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f)
            return false;
    }
    return true;
}

/* An entry of the text, its value left where it is. */
typedef struct {
    const char *value;
    size_t len;
    uint64_t count;
} text_entry;

#define VALUE_CAP (sizeof ((ew_top_entry *)0)->value)

static bool parse_line(const char *s, size_t n, text_entry *e)
{
    const char *tab = memchr(s, '\t', n);
    if (!tab)
        return false;
    size_t nd = (size_t)(tab - s);
    e->value = tab + 1;
    e->len = n - nd - 1;
    return parse_count(s, nd, &e->count) && valid_value(e->value, e->len, VALUE_CAP);
}

/* The next entry from *pos on; false when the text ends first. */
static bool next_entry(const char *text, size_t len, size_t *pos, text_entry *e)
{
    while (*pos < len) {
        const char *nl = memchr(text + *pos, '\n', len - *pos);
        size_t start = *pos, end = nl ? (size_t)(nl - text) : len;
        *pos = end + 1;
        if (parse_line(text + start, end - start, e))
            return true;
    }
    return false;
}

static size_t parse_entries(const char *text, size_t len, text_entry *out, size_t cap)
{
    size_t n = 0, pos = 0;
    while (n < cap && next_entry(text, len, &pos, &out[n]))
        n++;
    return n;
}

size_t ew_topk_parse(const char *text, size_t len, ew_top_entry *out, size_t cap)
{
    size_t n = 0, pos = 0;
    text_entry e;
    while (n < cap && next_entry(text, len, &pos, &e)) {
        memcpy(out[n].value, e.value, e.len);
        out[n].value[e.len] = '\0';
        out[n++].count = e.count;
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
static size_t sum_duplicates(text_entry *e, size_t n)
{
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        size_t j = 0;
        while (j < m && (e[j].len != e[i].len || memcmp(e[j].value, e[i].value, e[i].len) != 0))
            j++;
        if (j < m)
            e[j].count = add_sat(e[j].count, e[i].count);
        else
            e[m++] = e[i];
    }
    return m;
}

static bool top_before(const text_entry *a, const text_entry *b)
{
    return entry_cmp(a->count, a->value, a->len, b->count, b->value, b->len) < 0;
}

static void sort_entries(text_entry *e, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        text_entry x = e[i];
        size_t j = i;
        for (; j > 0 && top_before(&x, &e[j - 1]); j--)
            e[j] = e[j - 1];
        e[j] = x;
    }
}

/* Values stay in a and b, as slices: no copies, no strlen. */
size_t ew_topk_merge_text(const char *a, size_t alen, const char *b, size_t blen, size_t keep, char *out,
                          size_t cap)
{
    text_entry e[2 * EW_TOPK_MERGE_IN];
    size_t n = parse_entries(a, alen, e, EW_TOPK_MERGE_IN);
    n += parse_entries(b, blen, e + n, EW_TOPK_MERGE_IN);
    n = sum_duplicates(e, n);
    sort_entries(e, n);
    text_writer w = {out, cap, 0, false};
    for (size_t i = 0; i < n && i < keep; i++)
        put_entry(&w, e[i].count, e[i].value, e[i].len);
    return writer_end(&w);
}
