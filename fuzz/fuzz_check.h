/* fuzz_check.h -- invariants every libFuzzer target checks on a decoded
 * record. Any violation is a decoder bug, so it ends the run with
 * __builtin_trap() (libFuzzer saves the input as a crash artifact).
 *
 * Header-only and included once per target; everything is static inline
 * so each fuzz binary stays one translation unit plus the library.
 */
#ifndef EDGEWATCH_FUZZ_CHECK_H
#define EDGEWATCH_FUZZ_CHECK_H

#include <stdint.h>
#include <string.h>

#include "edgewatch/decode.h"

#define FUZZ_CHECK(cond)                                                                                   \
    do {                                                                                                   \
        if (!(cond))                                                                                       \
            __builtin_trap();                                                                              \
    } while (0)

/* Latest instant any encoding can express: 9999-12-31T23:59:60 plus a
 * margin, so a leap second in a standard log's "time" is not a finding. */
#define FUZZ_TS_MAX 253402387199999LL

/* Where a record's strings may point besides its own scratch buffer. A
 * NULL base means "unknown" (standard logs point into the reader's line
 * buffer): the bytes are then only read, so ASan reports a stray pointer. */
typedef struct {
    const void *base;
    size_t len;
} fuzz_span;

static inline unsigned fuzz_touch(ew_str s)
{
    /* Read every byte so ASan sees a dangling or out-of-bounds slice. The
     * volatile sink keeps the compiler from dropping the loads. */
    unsigned h = 0;
    for (size_t i = 0; i < s.len; i++)
        h = h * 31u + (unsigned char)s.ptr[i];
    volatile unsigned sink = h;
    (void)sink;
    return h;
}

static inline bool fuzz_within(const void *p, size_t n, const void *base, size_t len)
{
    uintptr_t a = (uintptr_t)p, b = (uintptr_t)base;
    return a >= b && n <= len && a - b <= len - n;
}

static inline void fuzz_check_str(const ew_cf_record *r, ew_str s, fuzz_span input, size_t max_len)
{
    if (s.len == 0)
        return;
    FUZZ_CHECK(s.ptr != NULL);
    FUZZ_CHECK(s.len <= max_len);
    bool in_scratch = fuzz_within(s.ptr, s.len, r->scratch, r->scratch_used);
    if (input.base)
        FUZZ_CHECK(in_scratch || fuzz_within(s.ptr, s.len, input.base, input.len));
    fuzz_touch(s);
}

/* The checks for a record a decoder returned EW_DECODE_OK for. max_len
 * bounds any string that does not live in the scratch buffer. */
static inline void fuzz_check_ok_record(const ew_cf_record *r, fuzz_span input, size_t max_len)
{
    FUZZ_CHECK(r->ts_ms != INT64_MIN);
    FUZZ_CHECK(r->ts_ms >= 0 && r->ts_ms <= FUZZ_TS_MAX);
    FUZZ_CHECK(r->status <= 999);
    FUZZ_CHECK((unsigned)r->result < EW_RESULT_COUNT);
    FUZZ_CHECK(r->ttfb_ms >= -1 && r->ttfb_ms <= 86400000);
    FUZZ_CHECK(r->origin_fbl_ms >= -1 && r->origin_fbl_ms <= 86400000);
    FUZZ_CHECK(r->scratch_used <= EW_CF_SCRATCH);
    if (max_len < EW_CF_SCRATCH)
        max_len = EW_CF_SCRATCH;

    const ew_str strs[] = {
        r->distribution_id, r->host_header, r->cs_host, r->tenant_id, r->client_ip,
        r->asn,             r->country,     r->edge_location, r->uri_stem, r->uri_path,
    };
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
        fuzz_check_str(r, strs[i], input, max_len);

    ew_str id = ew_cf_identity(r);
    FUZZ_CHECK(id.len > 0);
    FUZZ_CHECK(r->uri_path.len <= EW_CF_URI_MAX);
    FUZZ_CHECK(r->uri_path.len <= r->uri_stem.len);
    /* (not with a NULL pointer: NULL + 0 is itself undefined in C) */
    FUZZ_CHECK(r->uri_path.len == 0 || ew_utf8_valid(r->uri_path.ptr, r->uri_path.len));
    /* The path never carries the query. */
    FUZZ_CHECK(r->uri_path.len == 0 || !memchr(r->uri_path.ptr, '?', r->uri_path.len) ||
               /* unless the '?' came from URL-decoding %3F */
               fuzz_within(r->uri_path.ptr, r->uri_path.len, r->scratch, r->scratch_used));
}

static inline void fuzz_check_error(ew_decode_error e)
{
    FUZZ_CHECK((unsigned)e < EW_DECODE_REASONS);
    FUZZ_CHECK(strcmp(ew_decode_error_name(e), "unknown") != 0);
}

/* Any outcome: a valid reason, and the full record checks when it is OK. */
static inline void fuzz_check_outcome(ew_decode_error e, const ew_cf_record *r, fuzz_span input, size_t max_len)
{
    fuzz_check_error(e);
    if (e == EW_DECODE_OK)
        fuzz_check_ok_record(r, input, max_len);
}

/* Two decodes of the same bytes must agree (catches reads of stale or
 * uninitialised state that ASan alone does not). */
static inline bool fuzz_str_same(ew_str x, ew_str y)
{
    return x.len == y.len && (x.len == 0 || memcmp(x.ptr, y.ptr, x.len) == 0);
}

static inline void fuzz_check_same(ew_decode_error e1, const ew_cf_record *a, ew_decode_error e2,
                                   const ew_cf_record *b)
{
    FUZZ_CHECK(e1 == e2);
    if (e1 != EW_DECODE_OK)
        return;
    FUZZ_CHECK(a->ts_ms == b->ts_ms && a->status == b->status && a->bytes == b->bytes &&
               a->result == b->result && a->ttfb_ms == b->ttfb_ms && a->origin_fbl_ms == b->origin_fbl_ms);
    FUZZ_CHECK(fuzz_str_same(a->distribution_id, b->distribution_id));
    FUZZ_CHECK(fuzz_str_same(a->host_header, b->host_header));
    FUZZ_CHECK(fuzz_str_same(a->cs_host, b->cs_host));
    FUZZ_CHECK(fuzz_str_same(a->tenant_id, b->tenant_id));
    FUZZ_CHECK(fuzz_str_same(a->client_ip, b->client_ip));
    FUZZ_CHECK(fuzz_str_same(a->asn, b->asn));
    FUZZ_CHECK(fuzz_str_same(a->country, b->country));
    FUZZ_CHECK(fuzz_str_same(a->edge_location, b->edge_location));
    FUZZ_CHECK(fuzz_str_same(a->uri_stem, b->uri_stem));
    FUZZ_CHECK(fuzz_str_same(a->uri_path, b->uri_path));
}

/* All 69 canonical real-time field names, in AWS order. */
static inline size_t fuzz_all_fields(const char *names[EW_CF_CANONICAL_FIELDS])
{
    for (int i = 0; i < EW_CF_CANONICAL_FIELDS; i++)
        names[i] = ew_field_name(i + 1);
    return EW_CF_CANONICAL_FIELDS;
}


#endif
