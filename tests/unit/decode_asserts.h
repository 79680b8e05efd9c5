/* decode_asserts.h -- cmocka assertions on decoded records, shared by the
 * decoder tests so every encoding is compared field by field the same way.
 * Include after <cmocka.h> and "edgewatch/decode.h".
 */
#ifndef EDGEWATCH_TEST_DECODE_ASSERTS_H
#define EDGEWATCH_TEST_DECODE_ASSERTS_H

#include <string.h>

/* Asserts that a borrowed slice holds exactly want. */
static inline void assert_slice(ew_str s, const char *want)
{
    char buf[4096];
    assert_true(s.len < sizeof buf);
    if (s.len)
        memcpy(buf, s.ptr, s.len);
    buf[s.len] = '\0';
    assert_string_equal(buf, want);
    assert_int_equal(s.len, strlen(want));
}

static inline void assert_same_slice(ew_str a, ew_str b)
{
    assert_int_equal(a.len, b.len);
    if (a.len)
        assert_memory_equal(a.ptr, b.ptr, a.len);
}

/* Everything the pipeline reads from a record, compared by value. */
static inline void assert_same_record(const ew_cf_record *a, const ew_cf_record *b)
{
    assert_int_equal(a->ts_ms, b->ts_ms);
    assert_int_equal(a->status, b->status);
    assert_int_equal(a->bytes, b->bytes);
    assert_int_equal(a->result, b->result);
    assert_int_equal(a->ttfb_ms, b->ttfb_ms);
    assert_int_equal(a->origin_fbl_ms, b->origin_fbl_ms);
    assert_same_slice(a->distribution_id, b->distribution_id);
    assert_same_slice(a->host_header, b->host_header);
    assert_same_slice(a->cs_host, b->cs_host);
    assert_same_slice(a->tenant_id, b->tenant_id);
    assert_same_slice(a->client_ip, b->client_ip);
    assert_same_slice(a->asn, b->asn);
    assert_same_slice(a->country, b->country);
    assert_same_slice(a->edge_location, b->edge_location);
    assert_same_slice(a->uri_stem, b->uri_stem);
    assert_same_slice(a->uri_path, b->uri_path);
}

#endif
