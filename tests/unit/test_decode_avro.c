/* test_decode_avro.c -- unit tests for Avro datums (processor/decode_avro.c)
 * and the TSV-to-Avro transcoder (tools/encode_avro.c).
 *
 * The builtin schema is checked against the canonical field list, then
 * used for round trips: a TSV line decoded directly must give the same
 * record as the same line encoded to Avro and decoded back. Writer
 * schemas with every Avro type are exercised with datums built byte by
 * byte here, so the decoder is not only tested against its own encoder.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "edgewatch/config.h"
#include "edgewatch/decode.h"
#include "decode_asserts.h"
#include "edgewatch/tools.h"

/* ---- helpers ---- */

static bool points_into(ew_str s, const void *buf, size_t len)
{
    const char *b = buf;
    return s.len && s.ptr >= b && s.ptr + s.len <= b + len;
}

static ew_avro_schema *compile_ok(const char *json)
{
    char err[256] = "";
    ew_avro_schema *s = ew_avro_schema_compile(json, strlen(json), err, sizeof err);
    if (!s)
        fail_msg("schema did not compile: %s", err);
    return s;
}

static ew_avro_schema *builtin(void) { return compile_ok(ew_schema_cloudfront_realtime_log); }

/* A datum under construction. */
typedef struct {
    uint8_t b[16384];
    size_t n;
} buf;

static void b_raw(buf *b, const void *p, size_t n)
{
    assert_true(n <= sizeof b->b - b->n);
    memcpy(b->b + b->n, p, n);
    b->n += n;
}

static void b_long(buf *b, int64_t v)
{
    uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
    do {
        uint8_t c = (uint8_t)(z & 0x7F);
        z >>= 7;
        if (z)
            c |= 0x80;
        b_raw(b, &c, 1);
    } while (z);
}

static void b_bytes(buf *b, const void *p, size_t n)
{
    b_long(b, (int64_t)n);
    b_raw(b, p, n);
}

static void b_str(buf *b, const char *s) { b_bytes(b, s, strlen(s)); }

static void b_byte(buf *b, uint8_t c) { b_raw(b, &c, 1); }

static void b_double(buf *b, double d)
{
    uint64_t bits;
    memcpy(&bits, &d, 8);
    for (int i = 0; i < 8; i++)
        b_byte(b, (uint8_t)(bits >> (8 * i)));
}

static void b_float(buf *b, float f)
{
    uint32_t bits;
    memcpy(&bits, &f, 4);
    for (int i = 0; i < 4; i++)
        b_byte(b, (uint8_t)(bits >> (8 * i)));
}

/* One TSV line from name=value pairs, columns in canonical order; selected
 * names without a value get "-". */
typedef struct {
    const char *name, *value;
} kv;

static void build_line(const char *const *names, size_t n, const kv *vals, size_t nv, char *out, size_t cap)
{
    size_t len = 0;
    out[0] = '\0';
    for (int pos = 1; pos <= EW_CF_CANONICAL_FIELDS; pos++) {
        const char *name = ew_field_name(pos);
        bool selected = false;
        for (size_t i = 0; i < n; i++)
            selected = selected || strcmp(names[i], name) == 0;
        if (!selected)
            continue;
        const char *v = "-";
        for (size_t i = 0; i < nv; i++)
            if (strcmp(vals[i].name, name) == 0)
                v = vals[i].value;
        int w = snprintf(out + len, cap - len, "%s%s", len ? "\t" : "", v);
        assert_true(w > 0 && (size_t)w < cap - len);
        len += (size_t)w;
    }
}

/* TSV decode == TSV -> Avro -> decode, both OK; returns the datum size. */
static size_t check_round_trip(const ew_avro_schema *s, const char *const *names, size_t n, const char *line,
                               uint8_t *datum, size_t cap)
{
    char err[256] = "";
    ew_cf_decoder d;
    if (!ew_cf_decoder_init(&d, names, n, 65536, err, sizeof err))
        fail_msg("decoder init: %s", err);
    static ew_cf_record from_tsv, from_avro;
    assert_int_equal(ew_cf_decode_tsv(&d, line, strlen(line), &from_tsv), EW_DECODE_OK);
    size_t len = ew_encode_avro_line(names, n, line, strlen(line), datum, cap);
    assert_true(len > 0);
    assert_true(datum[0] >= 0x80);
    assert_int_equal(ew_cf_decode_avro(s, datum, len, &from_avro), EW_DECODE_OK);
    assert_same_record(&from_tsv, &from_avro);
    /* Zero copy: strings point into the datum. */
    if (from_avro.host_header.len)
        assert_true(points_into(from_avro.host_header, datum, len));
    return len;
}

static const kv sample_values[] = {
    {"timestamp", "1607374321.541"}, {"c-ip", "2001:db8::7"}, {"s-ip", "192.0.2.1"},
    {"time-to-first-byte", "0.042"}, {"sc-status", "200"}, {"sc-bytes", "485"}, {"cs-method", "GET"},
    {"cs-protocol", "https"}, {"cs-host", "www.example.com"}, {"cs-uri-stem", "/a%20b/%E2%9C%93?x=1"},
    {"cs-bytes", "745"}, {"x-edge-location", "EWR52-C4"}, {"x-edge-request-id", "6PfZe0cc_AjXUjFuGnL9p=="},
    {"x-host-header", "d111111abcdef8.cloudfront.net"}, {"time-taken", "0.051"},
    {"cs-protocol-version", "HTTP/2.0"}, {"c-ip-version", "IPv6"}, {"cs-user-agent", "Mozilla/5.0%20(X11)"},
    {"cs-referer", "https://example.com/"}, {"cs-cookie", ""}, {"cs-uri-query", "x=1"},
    {"x-edge-response-result-type", "Miss"}, {"x-forwarded-for", "198.51.100.1,%20198.51.100.2"},
    {"ssl-protocol", "TLSv1.3"}, {"ssl-cipher", "TLS_AES_128_GCM_SHA256"}, {"x-edge-result-type", "RefreshHit"},
    {"fle-encrypted-fields", "3"}, {"fle-status", "Processed"}, {"sc-content-type", "image/gif"},
    {"sc-content-len", "35"}, {"sc-range-start", "0"}, {"sc-range-end", "9999999999"}, {"c-port", "49323"},
    {"x-edge-detailed-result-type", "Miss"}, {"c-country", "US"}, {"cs-accept-encoding", "gzip"},
    {"cs-accept", "*/*"}, {"cache-behavior-path-pattern", "*"}, {"cs-headers", "Host:x%0A"},
    {"cs-header-names", "Host%0A"}, {"cs-headers-count", "8"}, {"primary-distribution-id", "E1ABC"},
    {"primary-distribution-dns-name", "d2.cloudfront.net"}, {"origin-fbl", "0.120"}, {"origin-lbl", "1.5"},
    {"asn", "16509"}, {"cmcd-encoded-bitrate", "3200"}, {"cmcd-buffer-length", "30000"},
    {"cmcd-buffer-starvation", "true"}, {"cmcd-content-id", "movie-1"}, {"cmcd-object-duration", "4004"},
    {"cmcd-deadline", "3000"}, {"cmcd-measured-throughput", "25400"}, {"cmcd-next-object-request", "..%2F4.m4s"},
    {"cmcd-next-range-request", "100-"}, {"cmcd-object-type", "v"}, {"cmcd-playback-rate", "1"},
    {"cmcd-requested-maximum-throughput", "15000"}, {"cmcd-streaming-format", "d"},
    {"cmcd-session-id", "6e2fb550"}, {"cmcd-stream-type", "v"}, {"cmcd-startup", "true"},
    {"cmcd-top-bitrate", "6000"}, {"cmcd-version", "1"}, {"r-host", "origin-a.example.com"},
    {"sr-reason", "ATP"}, {"x-edge-mqcs", "90"}, {"distribution-tenant-id", "dt_2abc"},
    {"connection-id", "WBnVN3D5Pu3ro4rDdLJ2Q=="},
};
#define N_SAMPLE (sizeof sample_values / sizeof sample_values[0])

/* Sample values with a few fields replaced by "-" or another value. */
static void round_trip_variants(const char *const *names, size_t n)
{
    ew_avro_schema *s = builtin();
    static char line[16384];
    static uint8_t datum[16384];
    kv vals[N_SAMPLE];
    memcpy(vals, sample_values, sizeof vals);
    build_line(names, n, vals, N_SAMPLE, line, sizeof line);
    check_round_trip(s, names, n, line, datum, sizeof datum);
    /* Everything but timestamp and identity absent. */
    build_line(names, n, (const kv[]){{"timestamp", "1700000000"}, {"x-host-header", "d3.cloudfront.net"},
                                      {"cs-host", "h.example"}, {"distribution-tenant-id", "dt_1"}},
               4, line, sizeof line);
    check_round_trip(s, names, n, line, datum, sizeof datum);
    /* Other numbers and results. */
    for (size_t i = 0; i < N_SAMPLE; i++) {
        if (strcmp(vals[i].name, "sc-status") == 0)
            vals[i].value = "000";
        if (strcmp(vals[i].name, "time-to-first-byte") == 0)
            vals[i].value = "12.3456789"; /* ms precision, like TSV */
        if (strcmp(vals[i].name, "x-edge-result-type") == 0)
            vals[i].value = "LimitExceeded";
        if (strcmp(vals[i].name, "timestamp") == 0)
            vals[i].value = "1700000000.5";
    }
    build_line(names, n, vals, N_SAMPLE, line, sizeof line);
    check_round_trip(s, names, n, line, datum, sizeof datum);
    ew_avro_schema_free(s);
}

/* ---- the builtin schema ---- */

static void test_builtin_schema_fields(void **state)
{
    (void)state;
    json_error_t jerr;
    json_t *root = json_loads(ew_schema_cloudfront_realtime_log, 0, &jerr);
    assert_non_null(root);
    assert_string_equal(json_string_value(json_object_get(root, "type")), "record");
    assert_string_equal(json_string_value(json_object_get(root, "name")), "CloudFrontRealtimeLog");
    assert_string_equal(json_string_value(json_object_get(root, "namespace")), "edgewatch");
    json_t *fields = json_object_get(root, "fields");
    assert_int_equal(json_array_size(fields), EW_CF_CANONICAL_FIELDS);
    for (int pos = 1; pos <= EW_CF_CANONICAL_FIELDS; pos++) {
        json_t *f = json_array_get(fields, (size_t)pos - 1);
        char want[64];
        snprintf(want, sizeof want, "%s", ew_field_name(pos));
        for (char *p = want; *p; p++)
            *p = *p == '-' ? '_' : *p;
        assert_string_equal(json_string_value(json_object_get(f, "name")), want);
        assert_true(json_string_length(json_object_get(f, "doc")) > 0);
        json_t *type = json_object_get(f, "type");
        if (pos == 1) {
            assert_string_equal(json_string_value(json_object_get(type, "type")), "long");
            assert_string_equal(json_string_value(json_object_get(type, "logicalType")), "timestamp-millis");
            continue;
        }
        assert_int_equal(json_array_size(type), 2);
        assert_string_equal(json_string_value(json_array_get(type, 0)), "null");
        assert_true(json_is_null(json_object_get(f, "default")));
        const char *t = json_string_value(json_array_get(type, 1));
        const char *name = ew_field_name(pos);
        const char *expect = "string";
        if (!strcmp(name, "sc-status") || !strcmp(name, "c-port") || !strcmp(name, "cs-headers-count") ||
            !strcmp(name, "fle-encrypted-fields"))
            expect = "int";
        else if (!strcmp(name, "sc-bytes") || !strcmp(name, "cs-bytes") || !strcmp(name, "sc-content-len") ||
                 !strcmp(name, "sc-range-start") || !strcmp(name, "sc-range-end"))
            expect = "long";
        else if (!strcmp(name, "time-to-first-byte") || !strcmp(name, "time-taken") ||
                 !strcmp(name, "origin-fbl") || !strcmp(name, "origin-lbl"))
            expect = "double";
        assert_string_equal(t, expect);
    }
    json_decref(root);
    ew_avro_schema_free(builtin());
}

static void test_first_byte_is_high(void **state)
{
    (void)state;
    /* 2020-01-01 to 2100: the zig-zag varint of epoch ms always continues. */
    const char *names[] = {"timestamp", "x-host-header"};
    const char *lines[] = {"1577836800.000\td1.cloudfront.net", "1607374321.541\t-",
                           "1735689600\td1.cloudfront.net", "4102444800.999\td1.cloudfront.net"};
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
        uint8_t datum[128];
        size_t n = ew_encode_avro_line(names, 2, lines[i], strlen(lines[i]), datum, sizeof datum);
        assert_true(n > 0);
        assert_true(datum[0] >= 0x80);
    }
}

/* ---- round trips ---- */

static void test_round_trip_default_fields(void **state)
{
    (void)state;
    ew_config cfg;
    ew_config_defaults(&cfg);
    assert_int_equal(cfg.n_fields, 43);
    round_trip_variants((const char *const *)cfg.fields, cfg.n_fields);
    ew_config_free(&cfg);
}

static void test_round_trip_all_fields(void **state)
{
    (void)state;
    const char *names[EW_CF_CANONICAL_FIELDS];
    for (int pos = 1; pos <= EW_CF_CANONICAL_FIELDS; pos++)
        names[pos - 1] = ew_field_name(pos);
    round_trip_variants(names, EW_CF_CANONICAL_FIELDS);
    /* Listed backwards: the encoder still reads columns in canonical order. */
    const char *reversed[EW_CF_CANONICAL_FIELDS];
    for (int i = 0; i < EW_CF_CANONICAL_FIELDS; i++)
        reversed[i] = names[EW_CF_CANONICAL_FIELDS - 1 - i];
    round_trip_variants(reversed, EW_CF_CANONICAL_FIELDS);
}

static void test_round_trip_minimal_fields(void **state)
{
    (void)state;
    const char *host[] = {"timestamp", "x-host-header"};
    round_trip_variants(host, 2);
    const char *tenant[] = {"distribution-tenant-id", "timestamp"};
    round_trip_variants(tenant, 2);
    const char *pipeline[] = {"timestamp", "sc-status", "sc-bytes", "x-host-header", "x-edge-result-type",
                              "time-to-first-byte", "origin-fbl", "c-ip", "asn", "c-country", "cs-uri-stem"};
    round_trip_variants(pipeline, sizeof pipeline / sizeof pipeline[0]);
}

static void test_round_trip_sample_record(void **state)
{
    (void)state;
    /* The real 40-field record's pipeline-relevant columns (test_decode.c). */
    const char *names[] = {"timestamp", "c-ip", "time-to-first-byte", "sc-status", "sc-bytes", "cs-host",
                           "cs-uri-stem", "x-edge-location", "x-host-header", "x-edge-result-type", "c-country"};
    const char *line = "1607374321.541\t127.0.0.1\t0.042\t200\t485\ttest.cloudfront.net\t/i?stm=1607374321563"
                       "&url=http%253A%252F%252Flocalhost%253A5000%252Fpage-2\tEWR52-C4\ttest.cloudfront.net"
                       "\tMiss\tUS\n";
    ew_avro_schema *s = builtin();
    uint8_t datum[1024];
    check_round_trip(s, names, sizeof names / sizeof names[0], line, datum, sizeof datum);
    ew_cf_record r;
    size_t n = ew_encode_avro_line(names, sizeof names / sizeof names[0], line, strlen(line), datum, sizeof datum);
    assert_int_equal(ew_cf_decode_avro(s, datum, n, &r), EW_DECODE_OK);
    assert_int_equal(r.ts_ms, 1607374321541LL);
    assert_int_equal(r.ttfb_ms, 42);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.bytes, 485);
    assert_int_equal(r.result, EW_RESULT_MISS);
    assert_slice(r.host_header, "test.cloudfront.net");
    assert_slice(r.country, "US");
    ew_avro_schema_free(s);
}

static void test_encoder_rejects(void **state)
{
    (void)state;
    const char *names[] = {"timestamp", "sc-status", "sc-bytes", "x-host-header", "time-to-first-byte"};
    uint8_t out[256];
#define ENC(line) ew_encode_avro_line(names, 5, line, strlen(line), out, sizeof out)
    /* Columns in canonical order: timestamp, time-to-first-byte, sc-status, sc-bytes, x-host-header. */
    assert_true(ENC("1700000000.000\t0.1\t200\t5\th") > 0);
    assert_int_equal(ENC("1700000000.000\t0.1\tOK\t5\th"), 0);        /* non-numeric int */
    assert_int_equal(ENC("1700000000.000\t0.1\t99999999999\t5\th"), 0); /* beyond an Avro int */
    assert_int_equal(ENC("1700000000.000\t0.1\t200\t5x\th"), 0);      /* non-numeric long */
    assert_int_equal(ENC("1700000000.000\tfast\t200\t5\th"), 0);     /* non-numeric seconds */
    assert_int_equal(ENC("-\t0.1\t200\t5\th"), 0);                    /* timestamp cannot be null */
    assert_int_equal(ENC("1700000000.000\t0.1\t200\t5"), 0);          /* a column short */
    assert_int_equal(ENC("1700000000.000\t0.1\t200\t5\th\tx"), 0);    /* a column over */
    const char *ok = "1700000000.000\t0.1\t200\t5\th";
    assert_int_equal(ew_encode_avro_line(names, 5, ok, strlen(ok), out, 8), 0); /* out too small */
    const char *dup[] = {"timestamp", "timestamp"};
    assert_int_equal(ew_encode_avro_line(dup, 2, "1\t1", 3, out, sizeof out), 0);
    const char *unknown[] = {"timestamp", "x-bogus"};
    assert_int_equal(ew_encode_avro_line(unknown, 2, "1\t1", 3, out, sizeof out), 0);
    const char *no_ts[] = {"x-host-header"};
    assert_int_equal(ew_encode_avro_line(no_ts, 1, "h", 1, out, sizeof out), 0);
#undef ENC
}

/* ---- writer schemas with every type ---- */

static const char weird_schema[] =
    "{\"type\": \"record\", \"name\": \"Weird\", \"namespace\": \"test\", \"fields\": ["
    " {\"name\": \"pre_null\", \"type\": \"null\"},"
    " {\"name\": \"pre_bool\", \"type\": \"boolean\"},"
    " {\"name\": \"pre_int\", \"type\": {\"type\": \"int\"}},"
    " {\"name\": \"pre_float\", \"type\": \"float\"},"
    " {\"name\": \"pre_bytes\", \"type\": \"bytes\"},"
    " {\"name\": \"pre_str\", \"type\": {\"type\": \"string\", \"avro.java.string\": \"String\"}},"
    " {\"name\": \"pre_decimal\", \"type\": {\"type\": \"bytes\", \"logicalType\": \"decimal\","
    "   \"precision\": 4, \"scale\": 2}},"
    " {\"name\": \"pre_fixed\", \"type\": {\"type\": \"fixed\", \"name\": \"Md5\", \"size\": 4}},"
    " {\"name\": \"pre_enum\", \"type\": {\"type\": \"enum\", \"name\": \"Color\", \"symbols\": [\"RED\", \"GREEN\"]}},"
    " {\"name\": \"pre_rec\", \"type\": {\"type\": \"record\", \"name\": \"Inner\", \"fields\": ["
    "   {\"name\": \"a\", \"type\": \"long\"},"
    "   {\"name\": \"b\", \"type\": {\"type\": \"array\", \"items\": \"string\"}},"
    "   {\"name\": \"next\", \"type\": [\"null\", \"Inner\"]}]}},"
    " {\"name\": \"pre_arr\", \"type\": {\"type\": \"array\", \"items\": \"test.Inner\"}},"
    " {\"name\": \"pre_map\", \"type\": {\"type\": \"map\", \"values\": [\"null\", \"double\", \"Color\"]}},"
    " {\"name\": \"pre_union\", \"type\": [\"null\", \"int\", \"string\", \"Md5\", \"test.Inner\","
    "   {\"type\": \"map\", \"values\": \"long\"}]},"
    " {\"name\": \"pre_other_ns\", \"type\": {\"type\": \"fixed\", \"name\": \"Ip\", \"namespace\": \"net\","
    "   \"size\": 16}},"
    " {\"name\": \"timestamp\", \"type\": {\"type\": \"long\", \"logicalType\": \"timestamp-millis\"}},"
    " {\"name\": \"x_host_header\", \"type\": \"string\"},"
    " {\"name\": \"sc_status\", \"type\": [\"null\", \"int\"]},"
    " {\"name\": \"sc_bytes\", \"type\": \"long\"},"
    " {\"name\": \"time_to_first_byte\", \"type\": [\"null\", \"double\"]},"
    " {\"name\": \"origin_fbl\", \"type\": \"float\"},"
    " {\"name\": \"x_edge_result_type\", \"type\": {\"type\": \"enum\", \"name\": \"Result\","
    "   \"symbols\": [\"Hit\", \"Miss\", \"Error\"]}},"
    " {\"name\": \"c_country\", \"type\": {\"type\": \"fixed\", \"name\": \"Country\", \"size\": 2}},"
    " {\"name\": \"asn\", \"type\": \"long\"},"
    " {\"name\": \"cs_uri_stem\", \"type\": \"bytes\"},"
    " {\"name\": \"cs_host\", \"type\": {\"type\": \"enum\", \"name\": \"Hosts\","
    "   \"symbols\": [\"a_example_com\", \"www\"]}},"
    " {\"name\": \"c_ip\", \"type\": [\"null\", \"net.Ip\", \"string\"]},"
    " {\"name\": \"post_arr_null\", \"type\": {\"type\": \"array\", \"items\": \"null\"}},"
    " {\"name\": \"post_map\", \"type\": {\"type\": \"map\", \"values\": {\"type\": \"array\", \"items\": \"int\"}}},"
    " {\"name\": \"post_rec\", \"type\": \"Inner\"},"
    " {\"name\": \"post_union\", \"type\": [\"string\", \"Color\", \"boolean\"]},"
    " {\"name\": \"post_double\", \"type\": \"double\"},"
    " {\"name\": \"post_empty\", \"type\": {\"type\": \"record\", \"name\": \"Empty\", \"fields\": []}},"
    " {\"name\": \"post_fixed0\", \"type\": {\"type\": \"fixed\", \"name\": \"Nothing\", \"size\": 0}},"
    " {\"name\": \"post_arr_empty\", \"type\": {\"type\": \"array\", \"items\": \"Empty\"}},"
    " {\"name\": \"post_error\", \"type\": {\"type\": \"error\", \"name\": \"Oops\", \"fields\": ["
    "   {\"name\": \"why\", \"type\": \"string\"}]}}"
    "]}";

/* Inner{a, b: [strs...], next: null} */
static void b_inner(buf *b, int64_t a, const char *s1)
{
    b_long(b, a);
    if (s1) {
        b_long(b, 1);
        b_str(b, s1);
    }
    b_long(b, 0);
    b_long(b, 0); /* next: null */
}

static void build_weird(buf *b)
{
    b->n = 0;
    b_byte(b, 1);                     /* pre_bool */
    b_long(b, -123456);               /* pre_int */
    b_float(b, 1.5f);                 /* pre_float */
    b_bytes(b, "\x00\xff\x10", 3);    /* pre_bytes */
    b_str(b, "hello");                /* pre_str */
    b_bytes(b, "\x04\xd2", 2);        /* pre_decimal */
    b_raw(b, "\x01\x02\x03\x04", 4);  /* pre_fixed */
    b_long(b, 1);                     /* pre_enum: GREEN */
    /* pre_rec: Inner{5, ["x", "yz"], Inner{6, <-1 block, 2 bytes: "q">, null}} */
    b_long(b, 5);
    b_long(b, 2), b_str(b, "x"), b_str(b, "yz"), b_long(b, 0);
    b_long(b, 1);
    b_long(b, 6);
    b_long(b, -1), b_long(b, 2), b_str(b, "q"), b_long(b, 0);
    b_long(b, 0);
    /* pre_arr: two blocks of Inner */
    b_long(b, 1), b_inner(b, 7, NULL);
    b_long(b, 2), b_inner(b, 8, "s"), b_inner(b, -9, NULL), b_long(b, 0);
    /* pre_map: {k1: 2.5, k2: null, k3: RED}, then a sized block {k4: 1.0} */
    b_long(b, 3);
    b_str(b, "k1"), b_long(b, 1), b_double(b, 2.5);
    b_str(b, "k2"), b_long(b, 0);
    b_str(b, "k3"), b_long(b, 2), b_long(b, 0);
    buf blk = {.n = 0};
    b_str(&blk, "k4"), b_long(&blk, 1), b_double(&blk, 1.0);
    b_long(b, -1), b_long(b, (int64_t)blk.n), b_raw(b, blk.b, blk.n);
    b_long(b, 0);
    b_long(b, 4), b_inner(b, 10, "u");  /* pre_union: branch test.Inner */
    b_raw(b, "0123456789abcdef", 16);   /* pre_other_ns */
    b_long(b, 1607374321541LL);         /* timestamp */
    b_str(b, "d111.cloudfront.net");    /* x_host_header */
    b_long(b, 1), b_long(b, 503);       /* sc_status */
    b_long(b, 9876543210LL);            /* sc_bytes */
    b_long(b, 1), b_double(b, 0.042);   /* time_to_first_byte */
    b_float(b, 0.25f);                  /* origin_fbl */
    b_long(b, 1);                       /* x_edge_result_type: Miss */
    b_raw(b, "SE", 2);                  /* c_country */
    b_long(b, 16509);                   /* asn */
    b_str(b, "/p%20q?x=1");             /* cs_uri_stem */
    b_long(b, 1);                       /* cs_host: www */
    b_long(b, 2), b_str(b, "192.0.2.9"); /* c_ip: string branch */
    b_long(b, 1000000000000LL), b_long(b, 0); /* post_arr_null: many nulls, no bytes */
    b_long(b, 1), b_str(b, "m"), b_long(b, 2), b_long(b, 1), b_long(b, -1), b_long(b, 0), b_long(b, 0);
    b_inner(b, 0, NULL);                /* post_rec */
    b_long(b, 2), b_byte(b, 1);         /* post_union: boolean true */
    b_double(b, 3.25);                  /* post_double */
    /* post_empty, post_fixed0: nothing */
    b_long(b, 5), b_long(b, 0);         /* post_arr_empty: five Empty records */
    b_str(b, "because");                /* post_error */
}

static void test_unknown_fields_of_every_type(void **state)
{
    (void)state;
    ew_avro_schema *s = compile_ok(weird_schema);
    static buf b;
    build_weird(&b);
    ew_cf_record r;
    assert_int_equal(ew_cf_decode_avro(s, b.b, b.n, &r), EW_DECODE_OK);
    assert_int_equal(r.ts_ms, 1607374321541LL);
    assert_slice(r.host_header, "d111.cloudfront.net");
    assert_true(points_into(r.host_header, b.b, b.n));
    assert_int_equal(r.status, 503);
    assert_int_equal(r.bytes, 9876543210ULL);
    assert_int_equal(r.ttfb_ms, 42);
    assert_int_equal(r.origin_fbl_ms, 250);
    assert_int_equal(r.result, EW_RESULT_MISS);
    assert_slice(r.country, "SE");
    assert_true(points_into(r.country, b.b, b.n));
    assert_slice(r.asn, "16509");
    assert_slice(r.uri_stem, "/p%20q?x=1");
    assert_slice(r.uri_path, "/p q");
    assert_slice(r.cs_host, "www"); /* an enum symbol: from the schema, not the datum */
    assert_false(points_into(r.cs_host, b.b, b.n));
    assert_slice(r.client_ip, "192.0.2.9");
    assert_slice(ew_cf_identity(&r), "d111.cloudfront.net");
    /* Every strict prefix is truncated; one byte more is trailing. */
    for (size_t n = 0; n < b.n; n++)
        assert_int_equal(ew_cf_decode_avro(s, b.b, n, &r), EW_DECODE_AVRO);
    b.b[b.n] = 0;
    assert_int_equal(ew_cf_decode_avro(s, b.b, b.n + 1, &r), EW_DECODE_AVRO);
    ew_avro_schema_free(s);
}

/* A mapped field whose type is a record, array or map feeds nothing. */
static void test_complex_type_in_mapped_field(void **state)
{
    (void)state;
    ew_avro_schema *s = compile_ok(
        "{\"type\": \"record\", \"name\": \"R\", \"fields\": ["
        " {\"name\": \"timestamp\", \"type\": \"long\"},"
        " {\"name\": \"x_host_header\", \"type\": \"string\"},"
        " {\"name\": \"cs_host\", \"type\": {\"type\": \"array\", \"items\": \"string\"}},"
        " {\"name\": \"c_ip\", \"type\": {\"type\": \"map\", \"values\": \"string\"}},"
        " {\"name\": \"asn\", \"type\": [\"null\", {\"type\": \"record\", \"name\": \"A\","
        "   \"fields\": [{\"name\": \"n\", \"type\": \"long\"}]}]},"
        " {\"name\": \"c_country\", \"type\": \"boolean\"}]}");
    buf b = {.n = 0};
    b_long(&b, 1700000000000LL);
    b_str(&b, "h");
    b_long(&b, 1), b_str(&b, "x"), b_long(&b, 0);
    b_long(&b, 1), b_str(&b, "k"), b_str(&b, "v"), b_long(&b, 0);
    b_long(&b, 1), b_long(&b, 16509);
    b_byte(&b, 0);
    ew_cf_record r;
    assert_int_equal(ew_cf_decode_avro(s, b.b, b.n, &r), EW_DECODE_OK);
    assert_int_equal(r.cs_host.len, 0);
    assert_int_equal(r.client_ip.len, 0);
    assert_int_equal(r.asn.len, 0);
    assert_slice(r.country, "false");
    ew_avro_schema_free(s);
}

/* ---- nulls and typed numbers ---- */

static void test_null_branches_are_absent(void **state)
{
    (void)state;
    ew_avro_schema *s = builtin();
    buf b = {.n = 0};
    b_long(&b, 1700000000123LL);
    for (int pos = 2; pos <= EW_CF_CANONICAL_FIELDS; pos++) {
        if (strcmp(ew_field_name(pos), "x-host-header") == 0) {
            b_long(&b, 1);
            b_str(&b, "d9.cloudfront.net");
        } else {
            b_long(&b, 0);
        }
    }
    ew_cf_record r;
    assert_int_equal(ew_cf_decode_avro(s, b.b, b.n, &r), EW_DECODE_OK);
    assert_int_equal(r.ts_ms, 1700000000123LL);
    assert_int_equal(r.status, 0);
    assert_int_equal(r.bytes, 0);
    assert_int_equal(r.ttfb_ms, -1);
    assert_int_equal(r.origin_fbl_ms, -1);
    assert_int_equal(r.result, EW_RESULT_OTHER);
    assert_int_equal(r.client_ip.len, 0);
    assert_int_equal(r.asn.len, 0);
    assert_int_equal(r.cs_host.len, 0);
    assert_int_equal(r.tenant_id.len, 0);
    assert_slice(r.host_header, "d9.cloudfront.net");
    /* Without any identity the record is rejected as such, not as Avro. */
    b.n = 0;
    b_long(&b, 1700000000123LL);
    for (int pos = 2; pos <= EW_CF_CANONICAL_FIELDS; pos++)
        b_long(&b, 0);
    assert_int_equal(ew_cf_decode_avro(s, b.b, b.n, &r), EW_DECODE_NO_IDENTITY);
    ew_avro_schema_free(s);
}

static void test_typed_numbers(void **state)
{
    (void)state;
    ew_cf_record r;
    /* Seconds as double, latencies in ms as long and int, numbers as text. */
    ew_avro_schema *s = compile_ok(
        "{\"type\": \"record\", \"name\": \"T\", \"fields\": ["
        " {\"name\": \"timestamp\", \"type\": \"double\"}, {\"name\": \"cs_host\", \"type\": \"string\"},"
        " {\"name\": \"time_to_first_byte\", \"type\": \"long\"}, {\"name\": \"origin_fbl\", \"type\": \"int\"},"
        " {\"name\": \"sc_status\", \"type\": \"string\"}, {\"name\": \"sc_bytes\", \"type\": \"string\"},"
        " {\"name\": \"asn\", \"type\": \"int\"}, {\"name\": \"c_ip\", \"type\": \"bytes\"}]}");
    buf b = {.n = 0};
    b_double(&b, 1607374321.541), b_str(&b, "h"), b_long(&b, 42), b_long(&b, 7), b_str(&b, "404");
    b_str(&b, "123"), b_long(&b, 16509), b_str(&b, "10.0.0.1");
    assert_int_equal(ew_cf_decode_avro(s, b.b, b.n, &r), EW_DECODE_OK);
    assert_int_equal(r.ts_ms, 1607374321541LL);
    assert_int_equal(r.ttfb_ms, 42);
    assert_int_equal(r.origin_fbl_ms, 7);
    assert_int_equal(r.status, 404);
    assert_int_equal(r.bytes, 123);
    assert_slice(r.asn, "16509");
    assert_slice(r.client_ip, "10.0.0.1");
    /* A negative latency is a bad latency. */
    b.n = 0;
    b_double(&b, 1607374321.541), b_str(&b, "h"), b_long(&b, -5), b_long(&b, 7), b_str(&b, "404");
    b_str(&b, "123"), b_long(&b, 16509), b_str(&b, "10.0.0.1");
    assert_int_equal(ew_cf_decode_avro(s, b.b, b.n, &r), EW_DECODE_LATENCY);
    /* Status as text must still be a status. */
    b.n = 0;
    b_double(&b, 1607374321.541), b_str(&b, "h"), b_long(&b, 5), b_long(&b, 7), b_str(&b, "OK");
    b_str(&b, "123"), b_long(&b, 16509), b_str(&b, "10.0.0.1");
    assert_int_equal(ew_cf_decode_avro(s, b.b, b.n, &r), EW_DECODE_STATUS);
    ew_avro_schema_free(s);

    /* Micro- and nanosecond annotations; status and bytes as long/int/double. */
    s = compile_ok(
        "{\"type\": \"record\", \"name\": \"U\", \"fields\": ["
        " {\"name\": \"timestamp\", \"type\": {\"type\": \"long\", \"logicalType\": \"timestamp-micros\"}},"
        " {\"name\": \"x_host_header\", \"type\": \"string\"},"
        " {\"name\": \"time_to_first_byte\", \"type\": {\"type\": \"long\", \"logicalType\": \"time-micros\"}},"
        " {\"name\": \"origin_fbl\", \"type\": {\"type\": \"long\", \"logicalType\": \"local-timestamp-nanos\"}},"
        " {\"name\": \"sc_status\", \"type\": \"long\"}, {\"name\": \"sc_bytes\", \"type\": \"double\"}]}");
    b.n = 0;
    b_long(&b, 1607374321541999LL), b_str(&b, "h"), b_long(&b, 42000), b_long(&b, 250000000);
    b_long(&b, 200), b_double(&b, 5.0);
    assert_int_equal(ew_cf_decode_avro(s, b.b, b.n, &r), EW_DECODE_OK);
    assert_int_equal(r.ts_ms, 1607374321541LL);
    assert_int_equal(r.ttfb_ms, 42);
    assert_int_equal(r.origin_fbl_ms, 250);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.bytes, 5);
    b.n = 0;
    b_long(&b, 1607374321541999LL), b_str(&b, "h"), b_long(&b, 42000), b_long(&b, 250000000);
    b_long(&b, 200), b_double(&b, -1.0);
    assert_int_equal(ew_cf_decode_avro(s, b.b, b.n, &r), EW_DECODE_BYTES);
    ew_avro_schema_free(s);

    /* Timestamp as text (seconds) and as a float union branch. */
    s = compile_ok(
        "{\"type\": \"record\", \"name\": \"V\", \"fields\": ["
        " {\"name\": \"timestamp\", \"type\": [\"string\", \"float\", \"long\"]},"
        " {\"name\": \"distribution_tenant_id\", \"type\": \"string\"}]}");
    b.n = 0;
    b_long(&b, 0), b_str(&b, "1607374321.541"), b_str(&b, "dt_1");
    assert_int_equal(ew_cf_decode_avro(s, b.b, b.n, &r), EW_DECODE_OK);
    assert_int_equal(r.ts_ms, 1607374321541LL);
    assert_slice(ew_cf_identity(&r), "dt_1");
    b.n = 0;
    b_long(&b, 1), b_float(&b, 1024.5f), b_str(&b, "dt_1");
    assert_int_equal(ew_cf_decode_avro(s, b.b, b.n, &r), EW_DECODE_OK);
    assert_int_equal(r.ts_ms, 1024500);
    b.n = 0;
    b_long(&b, 2), b_long(&b, -1), b_str(&b, "dt_1");
    assert_int_equal(ew_cf_decode_avro(s, b.b, b.n, &r), EW_DECODE_TIMESTAMP);
    b.n = 0;
    b_long(&b, 0), b_str(&b, "yesterday"), b_str(&b, "dt_1");
    assert_int_equal(ew_cf_decode_avro(s, b.b, b.n, &r), EW_DECODE_TIMESTAMP);
    ew_avro_schema_free(s);
}

static void test_bad_status_int(void **state)
{
    (void)state;
    ew_avro_schema *s = builtin();
    const char *names[] = {"timestamp", "sc-status", "x-host-header"};
    const char *line = "1700000000.000\t1000\td1.cloudfront.net";
    uint8_t datum[128];
    size_t n = ew_encode_avro_line(names, 3, line, strlen(line), datum, sizeof datum);
    assert_true(n > 0);
    ew_cf_record r;
    assert_int_equal(ew_cf_decode_avro(s, datum, n, &r), EW_DECODE_STATUS);
    /* TSV agrees. */
    char err[128];
    ew_cf_decoder d;
    assert_true(ew_cf_decoder_init(&d, names, 3, 1024, err, sizeof err));
    assert_int_equal(ew_cf_decode_tsv(&d, line, strlen(line), &r), EW_DECODE_STATUS);
    /* A structural fault after the bad value wins: garbage is bad_avro. */
    assert_int_equal(ew_cf_decode_avro(s, datum, n - 1, &r), EW_DECODE_AVRO);
    ew_avro_schema_free(s);
}

/* ---- malformed datums ---- */

/* A valid builtin datum of every field, for mangling. */
static size_t full_datum(uint8_t *datum, size_t cap)
{
    const char *names[EW_CF_CANONICAL_FIELDS];
    for (int pos = 1; pos <= EW_CF_CANONICAL_FIELDS; pos++)
        names[pos - 1] = ew_field_name(pos);
    static char line[16384];
    build_line(names, EW_CF_CANONICAL_FIELDS, sample_values, N_SAMPLE, line, sizeof line);
    size_t n = ew_encode_avro_line(names, EW_CF_CANONICAL_FIELDS, line, strlen(line), datum, cap);
    assert_true(n > 0);
    return n;
}

static void test_every_truncation(void **state)
{
    (void)state;
    ew_avro_schema *s = builtin();
    static uint8_t datum[16384];
    size_t len = full_datum(datum, sizeof datum);
    ew_cf_record r;
    assert_int_equal(ew_cf_decode_avro(s, datum, len, &r), EW_DECODE_OK);
    for (size_t n = 0; n < len; n++) {
        /* A copy of exactly n bytes, so ASan sees any overread. */
        uint8_t *copy = malloc(n ? n : 1);
        assert_non_null(copy);
        memcpy(copy, datum, n);
        assert_int_equal(ew_cf_decode_avro(s, copy, n, &r), EW_DECODE_AVRO);
        free(copy);
    }
    ew_avro_schema_free(s);
}

static void test_trailing_bytes(void **state)
{
    (void)state;
    ew_avro_schema *s = builtin();
    static uint8_t datum[16384];
    size_t len = full_datum(datum, sizeof datum);
    ew_cf_record r;
    datum[len] = 0;
    assert_int_equal(ew_cf_decode_avro(s, datum, len + 1, &r), EW_DECODE_AVRO);
    ew_avro_schema_free(s);
}

/* Builtin datum: timestamp, c_ip given as raw bytes, then nulls except the
 * host header. */
static void builtin_with_c_ip(buf *b, const void *c_ip, size_t n)
{
    b->n = 0;
    b_long(b, 1700000000000LL);
    b_raw(b, c_ip, n);
    for (int pos = 3; pos <= EW_CF_CANONICAL_FIELDS; pos++) {
        if (strcmp(ew_field_name(pos), "x-host-header") == 0)
            b_long(b, 1), b_str(b, "d1.cloudfront.net");
        else
            b_long(b, 0);
    }
}

static void test_malformed_datums(void **state)
{
    (void)state;
    ew_avro_schema *s = builtin();
    ew_cf_record r;
    buf b;
    builtin_with_c_ip(&b, "\x02\x04\x31\x32", 4); /* branch 1, "12" */
    assert_int_equal(ew_cf_decode_avro(s, b.b, b.n, &r), EW_DECODE_OK);
    assert_slice(r.client_ip, "12");
    builtin_with_c_ip(&b, "\x02\x01", 2); /* length -1 */
    assert_int_equal(ew_cf_decode_avro(s, b.b, b.n, &r), EW_DECODE_AVRO);
    builtin_with_c_ip(&b, "\x02\x80\x80\x04", 4); /* length 65536, beyond the buffer */
    assert_int_equal(ew_cf_decode_avro(s, b.b, b.n, &r), EW_DECODE_AVRO);
    builtin_with_c_ip(&b, "\x04", 1); /* union index 2 of 2 branches */
    assert_int_equal(ew_cf_decode_avro(s, b.b, b.n, &r), EW_DECODE_AVRO);
    builtin_with_c_ip(&b, "\x01", 1); /* union index -1 */
    assert_int_equal(ew_cf_decode_avro(s, b.b, b.n, &r), EW_DECODE_AVRO);
    builtin_with_c_ip(&b, "\x02\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 11); /* length INT64_MIN */
    assert_int_equal(ew_cf_decode_avro(s, b.b, b.n, &r), EW_DECODE_AVRO);

    /* Overlong varints in the timestamp. */
    uint8_t overlong[16] = {0xc6, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00};
    assert_int_equal(ew_cf_decode_avro(s, overlong, 12, &r), EW_DECODE_AVRO);
    uint8_t ten_bits[10] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x02}; /* bit 64 */
    assert_int_equal(ew_cf_decode_avro(s, ten_bits, 10, &r), EW_DECODE_AVRO);
    /* Ten bytes carrying bit 63 are a valid long (INT64_MIN): a bad
     * timestamp, not bad Avro. */
    builtin_with_c_ip(&b, "\x00", 1);
    size_t ts_len = 6; /* 1700000000000 takes 6 varint bytes */
    static buf big;
    big.n = 0;
    b_raw(&big, "\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 10);
    b_raw(&big, b.b + ts_len, b.n - ts_len);
    assert_int_equal(ew_cf_decode_avro(s, big.b, big.n, &r), EW_DECODE_TIMESTAMP);
    uint8_t endless[64];
    memset(endless, 0xff, sizeof endless);
    assert_int_equal(ew_cf_decode_avro(s, endless, sizeof endless, &r), EW_DECODE_AVRO);
    assert_int_equal(ew_cf_decode_avro(s, endless, 0, &r), EW_DECODE_AVRO);

    /* An Avro int beyond 32 bits: sc_status is position 5. */
    b.n = 0;
    b_long(&b, 1700000000000LL);
    for (int pos = 2; pos <= EW_CF_CANONICAL_FIELDS; pos++) {
        const char *name = ew_field_name(pos);
        if (strcmp(name, "sc-status") == 0)
            b_long(&b, 1), b_long(&b, 1LL << 31);
        else if (strcmp(name, "x-host-header") == 0)
            b_long(&b, 1), b_str(&b, "h");
        else
            b_long(&b, 0);
    }
    assert_int_equal(ew_cf_decode_avro(s, b.b, b.n, &r), EW_DECODE_AVRO);
    ew_avro_schema_free(s);
}

/* Blocks, enums and booleans in skipped fields. */
static void test_malformed_skipped_values(void **state)
{
    (void)state;
    ew_avro_schema *s = compile_ok(
        "{\"type\": \"record\", \"name\": \"S\", \"fields\": ["
        " {\"name\": \"timestamp\", \"type\": \"long\"}, {\"name\": \"cs_host\", \"type\": \"string\"},"
        " {\"name\": \"arr\", \"type\": {\"type\": \"array\", \"items\": \"long\"}},"
        " {\"name\": \"nulls\", \"type\": {\"type\": \"array\", \"items\": \"null\"}},"
        " {\"name\": \"m\", \"type\": {\"type\": \"map\", \"values\": \"string\"}},"
        " {\"name\": \"e\", \"type\": {\"type\": \"enum\", \"name\": \"E\", \"symbols\": [\"A\", \"B\"]}},"
        " {\"name\": \"flag\", \"type\": \"boolean\"}]}");
    ew_cf_record r;
    buf b;
    /* arr, nulls, m, e, flag given raw after the timestamp and host. */
#define TRY(raw, want)                                                                                    \
    do {                                                                                                  \
        b.n = 0;                                                                                          \
        b_long(&b, 1700000000000LL);                                                                      \
        b_str(&b, "h");                                                                                   \
        b_raw(&b, raw, sizeof raw - 1);                                                                   \
        assert_int_equal(ew_cf_decode_avro(s, b.b, b.n, &r), want);                                      \
    } while (0)
    TRY("\x04\x02\x04\x00" "\x00" "\x00" "\x02" "\x01", EW_DECODE_OK);       /* [1, 2], [], {}, B, true */
    TRY("\x03\x04\x02\x04\x00" "\x00" "\x00" "\x00" "\x00", EW_DECODE_OK);   /* block -2 of 2 bytes */
    TRY("\xfe\xff\xff\xff\x0f\x02\x00" "\x00" "\x00" "\x00" "\x00", EW_DECODE_AVRO); /* count > bytes left */
    TRY("\x00" "\xfe\xff\xff\xff\xff\xff\xff\xff\xff\x01\x00" "\x00" "\x00" "\x00", EW_DECODE_OK); /* 2^63-1 nulls */
    TRY("\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01\x00" "\x00" "\x00" "\x00" "\x00", EW_DECODE_AVRO); /* INT64_MIN */
    TRY("\x01\x7e\x00" "\x00" "\x00" "\x00" "\x00", EW_DECODE_AVRO);         /* sized block past the end */
    TRY("\x01\x01\x00" "\x00" "\x00" "\x00" "\x00", EW_DECODE_AVRO);         /* negative block size */
    TRY("\x00" "\x00" "\x02\x02k\x7f" "\x00" "\x00" "\x00", EW_DECODE_AVRO); /* map value length -64 */
    TRY("\x00" "\x00" "\x00" "\x04" "\x00", EW_DECODE_AVRO);                 /* enum index 2 */
    TRY("\x00" "\x00" "\x00" "\x01" "\x00", EW_DECODE_AVRO);                 /* enum index -1 */
    TRY("\x00" "\x00" "\x00" "\x00" "\x02", EW_DECODE_AVRO);                 /* boolean 2 */
#undef TRY
    ew_avro_schema_free(s);
}

static void test_recursion_depth(void **state)
{
    (void)state;
    ew_avro_schema *s = compile_ok(
        "{\"type\": \"record\", \"name\": \"L\", \"fields\": ["
        " {\"name\": \"timestamp\", \"type\": \"long\"}, {\"name\": \"cs_host\", \"type\": \"string\"},"
        " {\"name\": \"next\", \"type\": [\"null\", \"L\"]}]}");
    ew_cf_record r;
    static buf b;
    for (int depth = 0; depth <= 1000; depth += 10) {
        b.n = 0;
        for (int i = 0; i <= depth; i++) {
            b_long(&b, 1700000000000LL + i);
            b_str(&b, "h");
            b_long(&b, i < depth ? 1 : 0);
        }
        ew_decode_error e = ew_cf_decode_avro(s, b.b, b.n, &r);
        if (depth <= 20) {
            assert_int_equal(e, EW_DECODE_OK);
            assert_int_equal(r.ts_ms, 1700000000000LL); /* the outer record's */
        }
        if (depth >= 200)
            assert_int_equal(e, EW_DECODE_AVRO);
    }
    ew_avro_schema_free(s);
}

/* ---- bad schemas ---- */

static void expect_schema_error(const char *json, const char *needle)
{
    char err[256] = "";
    ew_avro_schema *s = ew_avro_schema_compile(json, strlen(json), err, sizeof err);
    if (s)
        fail_msg("schema accepted: %s", json);
    if (strncmp(err, "schema: ", 8) != 0 || !strstr(err, needle))
        fail_msg("for %s: got \"%s\", want \"%s\"", json, err, needle);
}

static void test_bad_schemas(void **state)
{
    (void)state;
    expect_schema_error("\"string\"", "top-level type must be a record");
    expect_schema_error("[\"null\", {\"type\": \"record\", \"name\": \"R\", \"fields\": []}]",
                        "top-level type must be a record");
    expect_schema_error("{\"type\": \"enum\", \"name\": \"E\", \"symbols\": [\"A\"]}",
                        "top-level type must be a record");
    expect_schema_error("{\"type\": \"record\", \"name\": \"R\", \"fields\": [{\"name\": \"a\", \"type\": \"strin\"}]}",
                        "unknown type \"strin\"");
    expect_schema_error("{\"type\": \"record\", \"name\": \"R\", \"fields\": [{\"name\": \"a\", \"type\": \"Later\"},"
                        " {\"name\": \"b\", \"type\": {\"type\": \"fixed\", \"name\": \"Later\", \"size\": 1}}]}",
                        "unknown type \"Later\"");
    expect_schema_error("{\"type\": \"record\", \"name\": \"R\", \"fields\": [", "bad JSON");
    expect_schema_error("", "bad JSON");
    expect_schema_error("{\"type\": \"record\", \"name\": \"R\"}", "\"fields\"");
    expect_schema_error("{\"type\": \"record\", \"fields\": []}", "\"name\"");
    expect_schema_error("{\"type\": \"record\", \"name\": \"R\", \"fields\": [{\"name\": \"a\"}]}", "\"type\"");
    expect_schema_error("{\"type\": \"record\", \"name\": \"R\", \"fields\": [{\"name\": \"a\","
                        " \"type\": [\"null\", [\"int\", \"long\"]]}]}",
                        "union may not directly contain a union");
    expect_schema_error("{\"type\": \"record\", \"name\": \"R\", \"fields\": [{\"name\": \"a\", \"type\": []}]}",
                        "at least one branch");
    expect_schema_error("{\"type\": \"record\", \"name\": \"R\", \"fields\": [{\"name\": \"a\","
                        " \"type\": {\"type\": \"enum\", \"name\": \"E\", \"symbols\": []}}]}",
                        "symbols");
    expect_schema_error("{\"type\": \"record\", \"name\": \"R\", \"fields\": [{\"name\": \"a\","
                        " \"type\": {\"type\": \"fixed\", \"name\": \"F\"}}]}",
                        "size");
    expect_schema_error("{\"type\": \"record\", \"name\": \"R\", \"fields\": [{\"name\": \"a\","
                        " \"type\": {\"type\": \"array\"}}]}",
                        "items");
    expect_schema_error("{\"type\": \"record\", \"name\": \"R\", \"fields\": [{\"name\": \"a\","
                        " \"type\": {\"type\": \"map\", \"items\": \"int\"}}]}",
                        "values");
    expect_schema_error("{\"type\": \"record\", \"name\": \"R\", \"fields\": [{\"name\": \"a\","
                        " \"type\": {\"type\": \"fixed\", \"name\": \"R\", \"size\": 1}}]}",
                        "defined twice");
    expect_schema_error("{\"type\": \"record\", \"name\": \"R\", \"fields\": [{\"name\": \"a\","
                        " \"type\": {\"type\": \"fixed\", \"name\": \"long\", \"size\": 1}}]}",
                        "primitive");
    expect_schema_error("{\"type\": \"record\", \"name\": \"R\", \"fields\": [{\"name\": \"a\", \"type\": 5}]}",
                        "a type must be");
    /* Nested far too deep. */
    static char deep[8192];
    size_t n = 0;
    n += (size_t)snprintf(deep + n, sizeof deep - n, "{\"type\": \"record\", \"name\": \"R\", \"fields\": [{\"name\": \"a\", \"type\": ");
    for (int i = 0; i < 100; i++)
        n += (size_t)snprintf(deep + n, sizeof deep - n, "{\"type\": \"array\", \"items\": ");
    n += (size_t)snprintf(deep + n, sizeof deep - n, "\"int\"");
    for (int i = 0; i < 100; i++)
        n += (size_t)snprintf(deep + n, sizeof deep - n, "}");
    snprintf(deep + n, sizeof deep - n, "}]}");
    expect_schema_error(deep, "nested");
}

static void test_lenient_schema_forms(void **state)
{
    (void)state;
    /* A wrapped top-level record and a named type given as {"type": name}. */
    ew_avro_schema *s = compile_ok(
        "{\"type\": {\"type\": \"record\", \"name\": \"W\", \"namespace\": \"a.b\", \"fields\": ["
        " {\"name\": \"t\", \"type\": {\"type\": \"fixed\", \"name\": \"T\", \"size\": 1}},"
        " {\"name\": \"timestamp\", \"type\": \"long\"},"
        " {\"name\": \"u\", \"type\": {\"type\": \"a.b.T\"}},"
        " {\"name\": \"cs_host\", \"type\": \"string\"}]}}");
    buf b = {.n = 0};
    b_byte(&b, 'x'), b_long(&b, 1700000000000LL), b_byte(&b, 'y'), b_str(&b, "host");
    ew_cf_record r;
    assert_int_equal(ew_cf_decode_avro(s, b.b, b.n, &r), EW_DECODE_OK);
    assert_slice(r.cs_host, "host");
    ew_avro_schema_free(s);
    ew_avro_schema_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_builtin_schema_fields),
        cmocka_unit_test(test_first_byte_is_high),
        cmocka_unit_test(test_round_trip_default_fields),
        cmocka_unit_test(test_round_trip_all_fields),
        cmocka_unit_test(test_round_trip_minimal_fields),
        cmocka_unit_test(test_round_trip_sample_record),
        cmocka_unit_test(test_encoder_rejects),
        cmocka_unit_test(test_unknown_fields_of_every_type),
        cmocka_unit_test(test_complex_type_in_mapped_field),
        cmocka_unit_test(test_null_branches_are_absent),
        cmocka_unit_test(test_typed_numbers),
        cmocka_unit_test(test_bad_status_int),
        cmocka_unit_test(test_every_truncation),
        cmocka_unit_test(test_trailing_bytes),
        cmocka_unit_test(test_malformed_datums),
        cmocka_unit_test(test_malformed_skipped_values),
        cmocka_unit_test(test_recursion_depth),
        cmocka_unit_test(test_bad_schemas),
        cmocka_unit_test(test_lenient_schema_forms),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
