/* test_decode_message.c -- the per-message decoder (processor/decode_message.c),
 * the record builders shared by every encoding (processor/decode.c), and the
 * generator's record shapes (tools/gen_shape.c), which the integration tests
 * rely on to know what the processor must dead-letter.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "edgewatch/config.h"
#include "edgewatch/decode.h"
#include "decode_asserts.h"
#include "edgewatch/tools.h"

/* A 43-field default line: d5 domain, IPv6 client, URL-encoded path. */
static const char good_line[] =
    "1700000012.345\t2001:db8:85a3::8a2e:370:7334\t0.012\t403\t1234\tGET\thttps\twww.example.com\t"
    "/caf%C3%A9/menu%20du%20jour.html?lang=fr&x=%2F\t321\tFRA56-P1\tabcDEF123==\td5.cloudfront.net\t0.020\t"
    "HTTP/2.0\tIPv6\tMozilla/5.0%20(X11)\t-\t-\tlang=fr&x=%2F\tError\t-\tTLSv1.3\tTLS_AES_128_GCM_SHA256\t"
    "Error\t-\t-\ttext/html\t1200\t-\t-\t51234\tError\tDE\tgzip\ttext/html\t*\tHost:www.example.com%0A\t"
    "Host%0A\t1\t0.007\t0.009\t3320";

static void init_md(ew_message_decoder *md, const char *const *fields, size_t n)
{
    static const int32_t ids[] = {1, 42};
    static const char *const paths[] = {"builtin", "builtin"};
    char err[256];
    if (!ew_message_decoder_init(md, fields, n, 16384, ids, paths, 2, "builtin", err, sizeof err))
        fail_msg("init: %s", err);
}

static const char *const *default_names(size_t *n) { return ew_default_fields(n); }

static void test_sniff(void **state)
{
    (void)state;
    assert_int_equal(ew_sniff_encoding("1700000000.000\tx", 16), EW_ENC_TSV);
    assert_int_equal(ew_sniff_encoding("  {\"a\":1}", 9), EW_ENC_JSON);
    assert_int_equal(ew_sniff_encoding("{", 1), EW_ENC_JSON);
    assert_int_equal(ew_sniff_encoding("\x00\x00\x00\x00\x01", 5), EW_ENC_AVRO_CONFLUENT);
    assert_int_equal(ew_sniff_encoding("\x01\xab", 2), EW_ENC_UNSUPPORTED);
    assert_int_equal(ew_sniff_encoding("\xC3\x01\x00", 3), EW_ENC_UNSUPPORTED);
    assert_int_equal(ew_sniff_encoding("\xC3\x02", 2), EW_ENC_AVRO_BARE);
    assert_int_equal(ew_sniff_encoding("\x9c\xa0", 2), EW_ENC_AVRO_BARE);
    assert_string_equal(ew_encoding_name(EW_ENC_AVRO_CONFLUENT), "avro_confluent");
}

/* The same record in each encoding decodes to the same values. */
static void test_every_encoding_agrees(void **state)
{
    (void)state;
    size_t n;
    const char *const *names = default_names(&n);
    ew_message_decoder md;
    init_md(&md, names, n);
    static ew_cf_record want, got;
    assert_int_equal(ew_decode_message(&md, good_line, strlen(good_line), &want), EW_DECODE_OK);
    assert_int_equal(want.ts_ms, 1700000012345LL);
    assert_int_equal(want.status, 403);
    assert_slice(want.client_ip, "2001:db8:85a3::8a2e:370:7334");
    assert_slice(want.uri_path, "/caf\xc3\xa9/menu du jour.html");
    for (int e = EW_GEN_JSON; e <= EW_GEN_AVRO_CONFLUENT; e++) {
        uint8_t msg[8192];
        size_t len = ew_gen_encode((ew_gen_encoding)e, 42, 0, names, n, good_line, strlen(good_line), msg, sizeof msg);
        assert_true(len > 0);
        ew_decode_error err = ew_decode_message(&md, msg, len, &got);
        if (err != EW_DECODE_OK)
            fail_msg("encoding %d: %s", e, ew_decode_error_name(err));
        assert_same_record(&got, &want);
    }
    assert_int_equal(md.by_encoding[EW_ENC_TSV], 1);
    assert_int_equal(md.by_encoding[EW_ENC_JSON], 1);
    assert_int_equal(md.by_encoding[EW_ENC_AVRO_BARE], 1);
    assert_int_equal(md.by_encoding[EW_ENC_AVRO_CONFLUENT], 1);
    ew_message_decoder_free(&md);
}

/* Every malformed shape the generator injects is dead-lettered with the
 * reason it claims: the integration test counts DLQ reasons against these. */
static void test_generated_bad_records_have_their_reason(void **state)
{
    (void)state;
    size_t n;
    const char *const *names = default_names(&n);
    ew_message_decoder md;
    init_md(&md, names, n);
    static ew_cf_record r;
    static uint8_t msg[65536];
    bool seen[EW_DECODE_REASONS] = {false};
    for (unsigned k = 0; k < EW_GEN_BAD_KINDS; k++) {
        const char *reason = NULL;
        size_t len = ew_gen_bad_record(k, 1, names, n, good_line, strlen(good_line), msg, sizeof msg, &reason);
        ew_decode_error e = ew_decode_message(&md, msg, len, &r);
        if (strcmp(ew_decode_error_name(e), reason) != 0)
            fail_msg("bad kind %u: decoded as %s, generator says %s", k, ew_decode_error_name(e), reason);
        seen[e] = true;
    }
    /* Every CloudFront reason except "ok" is covered by at least one kind
     * (the ones after EW_DECODE_EMPTY are billing reasons). */
    for (int e = 1; e <= EW_DECODE_EMPTY; e++)
        if (!seen[e])
            fail_msg("no generated record for reason %s", ew_decode_error_name((ew_decode_error)e));
    ew_message_decoder_free(&md);
}

static void test_unknown_schema_and_bare_disabled(void **state)
{
    (void)state;
    size_t n;
    const char *const *names = default_names(&n);
    ew_message_decoder md;
    char err[256];
    assert_true(ew_message_decoder_init(&md, names, n, 16384, NULL, NULL, 0, "none", err, sizeof err));
    static ew_cf_record r;
    uint8_t msg[8192];
    size_t len = ew_gen_encode(EW_GEN_AVRO_CONFLUENT, 1, 0, names, n, good_line, strlen(good_line), msg, sizeof msg);
    assert_int_equal(ew_decode_message(&md, msg, len, &r), EW_DECODE_SCHEMA_ID);
    len = ew_gen_encode(EW_GEN_AVRO, 1, 0, names, n, good_line, strlen(good_line), msg, sizeof msg);
    assert_int_equal(ew_decode_message(&md, msg, len, &r), EW_DECODE_ENCODING);
    assert_int_equal(ew_decode_message(&md, "\x00\x00\x01", 3, &r), EW_DECODE_AVRO);
    ew_message_decoder_free(&md);
}

static void test_bad_schema_path_is_named(void **state)
{
    (void)state;
    size_t n;
    const char *const *names = default_names(&n);
    ew_message_decoder md;
    char err[256] = "";
    const int32_t ids[] = {3};
    const char *const paths[] = {"/nonexistent/cf.avsc"};
    assert_false(ew_message_decoder_init(&md, names, n, 16384, ids, paths, 1, "builtin", err, sizeof err));
    assert_non_null(strstr(err, "/nonexistent/cf.avsc"));
}

static void test_too_long_any_encoding(void **state)
{
    (void)state;
    size_t n;
    const char *const *names = default_names(&n);
    ew_message_decoder md;
    char err[256];
    assert_true(ew_message_decoder_init(&md, names, n, 200, NULL, NULL, 0, "builtin", err, sizeof err));
    static ew_cf_record r;
    assert_int_equal(ew_decode_message(&md, good_line, strlen(good_line), &r), EW_DECODE_TOO_LONG);
    uint8_t msg[8192];
    size_t len = ew_gen_encode(EW_GEN_JSON, 1, 0, names, n, good_line, strlen(good_line), msg, sizeof msg);
    assert_int_equal(ew_decode_message(&md, msg, len, &r), EW_DECODE_TOO_LONG);
    assert_int_equal(ew_decode_message(&md, "", 0, &r), EW_DECODE_EMPTY);
    ew_message_decoder_free(&md);
}

/* ---- record builders ---- */

static void test_put_text_values(void **state)
{
    (void)state;
    static ew_cf_record r;
    ew_cf_record_reset(&r);
    assert_int_equal(ew_cf_put_text(&r, EW_F_STATUS, ew_str_make("-", 1)), EW_DECODE_OK);
    assert_int_equal(r.status, 0);
    assert_int_equal(ew_cf_put_text(&r, EW_F_STATUS, ew_str_make("000", 3)), EW_DECODE_OK);
    assert_int_equal(ew_cf_put_text(&r, EW_F_STATUS, ew_str_make("", 0)), EW_DECODE_STATUS);
    assert_int_equal(ew_cf_put_text(&r, EW_F_TTFB, ew_str_make("-", 1)), EW_DECODE_OK);
    assert_int_equal(r.ttfb_ms, -1);
    assert_int_equal(ew_cf_put_text(&r, EW_F_TTFB, ew_str_make("0.0425", 6)), EW_DECODE_OK);
    assert_int_equal(r.ttfb_ms, 42);
    assert_int_equal(ew_cf_put_text(&r, EW_F_ORIGIN_FBL, ew_str_make("86401", 5)), EW_DECODE_LATENCY);
    static const struct {
        const char *text;
        ew_edge_result want;
    } results[] = {
        {"Hit", EW_RESULT_HIT}, {"RefreshHit", EW_RESULT_HIT}, {"OriginShieldHit", EW_RESULT_HIT},
        {"Miss", EW_RESULT_MISS}, {"Error", EW_RESULT_ERROR}, {"LimitExceeded", EW_RESULT_LIMIT},
        {"CapacityExceeded", EW_RESULT_CAPACITY}, {"Redirect", EW_RESULT_OTHER},
        {"FunctionGeneratedResponse", EW_RESULT_OTHER}, {"LambdaExecutionError", EW_RESULT_OTHER},
        {"hit", EW_RESULT_OTHER},
    };
    for (size_t i = 0; i < sizeof results / sizeof results[0]; i++) {
        assert_int_equal(ew_cf_put_text(&r, EW_F_RESULT, ew_str_make(results[i].text, strlen(results[i].text))),
                         EW_DECODE_OK);
        assert_int_equal(r.result, results[i].want);
    }
}

static void test_put_int_and_seconds(void **state)
{
    (void)state;
    static ew_cf_record r;
    ew_cf_record_reset(&r);
    assert_int_equal(ew_cf_put_int(&r, EW_F_TIMESTAMP, 1700000000123LL), EW_DECODE_OK);
    assert_int_equal(r.ts_ms, 1700000000123LL);
    assert_int_equal(ew_cf_put_int(&r, EW_F_TIMESTAMP, -1), EW_DECODE_TIMESTAMP);
    assert_int_equal(ew_cf_put_int(&r, EW_F_STATUS, 1000), EW_DECODE_STATUS);
    assert_int_equal(ew_cf_put_int(&r, EW_F_BYTES, -5), EW_DECODE_BYTES);
    assert_int_equal(ew_cf_put_int(&r, EW_F_ASN, 16509), EW_DECODE_OK);
    assert_true(ew_str_eq(r.asn, "16509"));
    assert_int_equal(ew_cf_put_seconds(&r, EW_F_TTFB, 0.0415), EW_DECODE_OK);
    assert_int_equal(r.ttfb_ms, 42);
    assert_int_equal(ew_cf_put_seconds(&r, EW_F_TIMESTAMP, 1607374321.541), EW_DECODE_OK);
    assert_int_equal(r.ts_ms, 1607374321541LL);
    assert_int_equal(ew_cf_put_seconds(&r, EW_F_TTFB, -1.0), EW_DECODE_LATENCY);
    assert_int_equal(ew_cf_put_seconds(&r, EW_F_TIMESTAMP, 1.0 / 0.0), EW_DECODE_TIMESTAMP);
}

static void test_finish_date_time_and_identity(void **state)
{
    (void)state;
    static ew_cf_record r;
    ew_cf_record_reset(&r);
    assert_int_equal(ew_cf_put_text(&r, EW_F_DATE, ew_str_make("2024-02-29", 10)), EW_DECODE_OK);
    assert_int_equal(ew_cf_put_text(&r, EW_F_TIME, ew_str_make("23:59:59", 8)), EW_DECODE_OK);
    assert_int_equal(ew_cf_finish(&r), EW_DECODE_NO_IDENTITY);
    assert_int_equal(r.ts_ms, 1709251199000LL);
    ew_cf_record_reset(&r);
    assert_int_equal(ew_cf_put_text(&r, EW_F_DATE, ew_str_make("2023-02-29", 10)), EW_DECODE_TIMESTAMP);
    assert_int_equal(ew_cf_put_text(&r, EW_F_DATE, ew_str_make("2023-13-01", 10)), EW_DECODE_TIMESTAMP);
    assert_int_equal(ew_cf_put_text(&r, EW_F_TIME, ew_str_make("24:00:00", 8)), EW_DECODE_TIMESTAMP);
    assert_int_equal(ew_cf_finish(&r), EW_DECODE_TIMESTAMP);
    /* Identity preference: distribution id, host header, host, tenant. */
    ew_cf_record_reset(&r);
    r.ts_ms = 0;
    r.tenant_id = ew_str_make("dt_1", 4);
    assert_int_equal(ew_cf_finish(&r), EW_DECODE_OK);
    assert_true(ew_str_eq(ew_cf_identity(&r), "dt_1"));
    r.cs_host = ew_str_make("www.a", 5);
    assert_true(ew_str_eq(ew_cf_identity(&r), "www.a"));
    r.host_header = ew_str_make("d1.cloudfront.net", 17);
    assert_true(ew_str_eq(ew_cf_identity(&r), "d1.cloudfront.net"));
    r.distribution_id = ew_str_make("E1", 2);
    assert_true(ew_str_eq(ew_cf_identity(&r), "E1"));
}

static void test_uri_path(void **state)
{
    (void)state;
    static ew_cf_record r;
    static const struct {
        const char *stem, *path;
        ew_decode_error e;
    } cases[] = {
        {"/a/b.jpg?x=1", "/a/b.jpg", EW_DECODE_OK},
        {"/plain", "/plain", EW_DECODE_OK},
        {"/a%20b%3Fc?q", "/a b?c", EW_DECODE_OK},
        {"/%25253A", "/%253A", EW_DECODE_OK}, /* decoded once: double encoding is kept */
        {"/bad%zzescape%4", "/bad%zzescape%4", EW_DECODE_OK},
        {"/%E2%82%AC", "/\xe2\x82\xac", EW_DECODE_OK},
        {"/%C0%AF", "", EW_DECODE_UTF8},      /* overlong '/' */
        {"/%ED%A0%80", "", EW_DECODE_UTF8},   /* surrogate */
        {"/%FF", "", EW_DECODE_UTF8},
        {"/%E2%82", "", EW_DECODE_UTF8},      /* truncated sequence */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ew_cf_record_reset(&r);
        r.ts_ms = 0;
        r.cs_host = ew_str_make("h", 1);
        r.uri_stem = ew_str_make(cases[i].stem, strlen(cases[i].stem));
        ew_decode_error e = ew_cf_finish(&r);
        if (e != cases[i].e)
            fail_msg("%s: got %s", cases[i].stem, ew_decode_error_name(e));
        if (e == EW_DECODE_OK && !ew_str_eq(r.uri_path, cases[i].path))
            fail_msg("%s: path %.*s", cases[i].stem, (int)r.uri_path.len, r.uri_path.ptr);
    }
}

static void test_utf8_and_url_decode(void **state)
{
    (void)state;
    assert_true(ew_utf8_valid("", 0));
    assert_true(ew_utf8_valid("h\xc3\xa9\xf0\x9f\x98\x80", 8));
    assert_false(ew_utf8_valid("\xf4\x90\x80\x80", 4)); /* > U+10FFFF */
    assert_false(ew_utf8_valid("\xe0\x80\xaf", 3));     /* overlong */
    assert_false(ew_utf8_valid("\x80", 1));
    char out[8];
    /* Truncates at cap without splitting the output. */
    assert_int_equal(ew_url_decode(ew_str_make("%41%42%43%44%45%46%47%48%49", 27), out, sizeof out), 8);
    assert_memory_equal(out, "ABCDEFGH", 8);
    assert_int_equal(ew_url_decode(ew_str_make("%4", 2), out, sizeof out), 2);
}

static void test_stdlog_names(void **state)
{
    (void)state;
    assert_int_equal(ew_stdlog_field_slot(ew_str_make("cs(Host)", 8)), EW_F_HOST_HEADER);
    assert_int_equal(ew_stdlog_field_slot(ew_str_make("x-host-header", 13)), EW_F_CS_HOST);
    assert_int_equal(ew_stdlog_field_slot(ew_str_make("timestamp(ms)", 13)), EW_F_TIMESTAMP_MS);
    assert_int_equal(ew_stdlog_field_slot(ew_str_make("cs(Referer)", 11)), -1);
    assert_int_equal(ew_field_slot("x-host-header"), EW_F_HOST_HEADER);
    assert_int_equal(ew_field_slot("cs-user-agent"), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sniff),
        cmocka_unit_test(test_every_encoding_agrees),
        cmocka_unit_test(test_generated_bad_records_have_their_reason),
        cmocka_unit_test(test_unknown_schema_and_bare_disabled),
        cmocka_unit_test(test_bad_schema_path_is_named),
        cmocka_unit_test(test_too_long_any_encoding),
        cmocka_unit_test(test_put_text_values),
        cmocka_unit_test(test_put_int_and_seconds),
        cmocka_unit_test(test_finish_date_time_and_identity),
        cmocka_unit_test(test_uri_path),
        cmocka_unit_test(test_utf8_and_url_decode),
        cmocka_unit_test(test_stdlog_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
