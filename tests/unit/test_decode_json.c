/* test_decode_json.c -- unit tests for the JSON decoder
 * (processor/decode_json.c) and the TSV -> JSON transcoder
 * (tools/encode_json.c).
 *
 * The central check is a round trip: a TSV line encoded as JSON must decode
 * to the very record the TSV decoder makes from the line itself, for the
 * default field list, all 69 fields and a minimal one. The rest pins down
 * the JSON grammar: every malformed input is bad_json, never a crash, and
 * truncated inputs are passed in buffers of their exact size so that ASan
 * catches any read past the end.
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

#define MAX_BYTES 16384

/* ---- helpers ---- */

static ew_decode_error rt(const char *json, ew_cf_record *r)
{
    return ew_cf_decode_json(EW_JSON_REALTIME, json, strlen(json), MAX_BYTES, r);
}

static ew_decode_error std(const char *json, ew_cf_record *r)
{
    return ew_cf_decode_json(EW_JSON_STANDARD, json, strlen(json), MAX_BYTES, r);
}

/* Decodes exactly len bytes from a heap copy of that size. */
static ew_decode_error rt_exact(const char *json, size_t len, ew_cf_record *r)
{
    char *copy = malloc(len ? len : 1);
    assert_non_null(copy);
    if (len)
        memcpy(copy, json, len);
    ew_decode_error e = ew_cf_decode_json(EW_JSON_REALTIME, copy, len, MAX_BYTES, r);
    free(copy);
    return e;
}

typedef struct {
    const char *name, *value;
} kv;

/* Joins values for names into one TSV line, in canonical column order;
 * names without a value get "-". */
static void build_line(const char *const *names, size_t n, const kv *vals, size_t nv, char *out, size_t cap)
{
    size_t len = 0;
    bool first = true;
    out[0] = '\0';
    for (int pos = 1; pos <= EW_CF_CANONICAL_FIELDS; pos++) {
        const char *name = ew_field_name(pos);
        bool selected = false;
        for (size_t i = 0; i < n; i++)
            selected |= strcmp(names[i], name) == 0;
        if (!selected)
            continue;
        const char *v = "-";
        for (size_t i = 0; i < nv; i++)
            if (strcmp(vals[i].name, name) == 0)
                v = vals[i].value;
        int w = snprintf(out + len, cap - len, "%s%s", first ? "" : "\t", v);
        assert_true(w > 0 && (size_t)w < cap - len);
        len += (size_t)w;
        first = false;
    }
}

/* TSV line -> JSON -> record must equal TSV line -> record. Returns the
 * JSON length; json receives the text. */
static size_t round_trip(const char *const *names, size_t n, const char *line, char *json, size_t cap)
{
    char err[256] = "";
    ew_cf_decoder d;
    if (!ew_cf_decoder_init(&d, names, n, MAX_BYTES, err, sizeof err))
        fail_msg("decoder init failed: %s", err);
    static ew_cf_record from_tsv, from_json;
    assert_int_equal(ew_cf_decode_tsv(&d, line, strlen(line), &from_tsv), EW_DECODE_OK);
    size_t len = ew_encode_json_line(names, n, line, strlen(line), json, cap);
    assert_true(len > 0);
    assert_int_equal(json[len], '\0');
    assert_int_equal(ew_cf_decode_json(EW_JSON_REALTIME, json, len, MAX_BYTES, &from_json), EW_DECODE_OK);
    assert_same_record(&from_tsv, &from_json);
    return len;
}

static const kv sample_values[] = {
    {"timestamp", "1684226820.937"}, {"c-ip", "16.170.16.21"}, {"time-to-first-byte", "0.332"},
    {"sc-status", "403"}, {"sc-bytes", "347"}, {"cs-method", "GET"}, {"cs-protocol", "https"},
    {"cs-host", "www.example.com"}, {"cs-uri-stem", "/caf\xc3\xa9/a%20b?x=1"},
    {"x-edge-location", "ARN56-P1"}, {"x-host-header", "d111111abcdef8.cloudfront.net"},
    {"x-edge-result-type", "Error"}, {"x-edge-response-result-type", "Hit"},
    {"x-edge-detailed-result-type", "ClientGeoBlocked"}, {"c-country", "SE"}, {"origin-fbl", "0.120"},
    {"origin-lbl", "0.250"}, {"asn", "16509"}, {"cs-headers-count", "7"}, {"c-port", "49323"},
    {"cs-user-agent", "quote\" back\\slash \x01\x1f\x7f"}, {"sc-content-len", "000"},
};
#define N_SAMPLE_VALUES (sizeof sample_values / sizeof sample_values[0])

/* ---- round trips ---- */

static void test_round_trip_default_fields(void **state)
{
    (void)state;
    ew_config cfg;
    ew_config_defaults(&cfg);
    assert_int_equal(cfg.n_fields, 43);
    const char *const *names = (const char *const *)cfg.fields;
    char line[4096], json[8192];
    build_line(names, cfg.n_fields, sample_values, N_SAMPLE_VALUES, line, sizeof line);
    round_trip(names, cfg.n_fields, line, json, sizeof json);
    /* Numbers as numbers, "-" as null, strings escaped, canonical order. */
    assert_non_null(strstr(json, "{\"timestamp\":1684226820.937,\"c-ip\":\"16.170.16.21\","
                                 "\"time-to-first-byte\":0.332,\"sc-status\":403,\"sc-bytes\":347,"));
    assert_non_null(strstr(json, "\"cs-bytes\":null,"));
    assert_non_null(strstr(json, "\"c-port\":49323,"));
    assert_non_null(strstr(json, "\"sc-content-len\":\"000\","));
    assert_non_null(strstr(json, "\"asn\":\"16509\"}"));
    assert_non_null(strstr(json, "\"cs-user-agent\":\"quote\\\" back\\\\slash \\u0001\\u001f\x7f\","));
    assert_non_null(strstr(json, "\"cs-uri-stem\":\"/caf\xc3\xa9/a%20b?x=1\","));
    /* Every value "-": all null. */
    build_line(names, cfg.n_fields, (const kv[]){{"timestamp", "1700000000"}, {"cs-host", "h"}}, 2, line,
               sizeof line);
    round_trip(names, cfg.n_fields, line, json, sizeof json);
    assert_non_null(strstr(json, "\"sc-status\":null,"));
    ew_config_free(&cfg);
}

static void test_round_trip_all_fields(void **state)
{
    (void)state;
    const char *names[EW_CF_CANONICAL_FIELDS];
    kv vals[EW_CF_CANONICAL_FIELDS + N_SAMPLE_VALUES + 8];
    char synth[EW_CF_CANONICAL_FIELDS][16];
    size_t nv = 0;
    /* Reverse order: the encoder must sort by canonical position. */
    for (int i = 0; i < EW_CF_CANONICAL_FIELDS; i++)
        names[i] = ew_field_name(EW_CF_CANONICAL_FIELDS - i);
    for (int pos = 1; pos <= EW_CF_CANONICAL_FIELDS; pos++) {
        snprintf(synth[pos - 1], sizeof synth[0], "v%d", pos);
        vals[nv++] = (kv){ew_field_name(pos), synth[pos - 1]};
    }
    for (size_t i = 0; i < N_SAMPLE_VALUES; i++)
        vals[nv++] = sample_values[i]; /* later entries win in build_line */
    vals[nv++] = (kv){"time-taken", "1.5"};
    vals[nv++] = (kv){"cs-bytes", "0"};
    vals[nv++] = (kv){"sc-status", "000"};
    vals[nv++] = (kv){"distribution-tenant-id", "dt_2yswABC"};
    assert_true(nv <= sizeof vals / sizeof vals[0]);
    char line[8192], json[16384];
    build_line(names, EW_CF_CANONICAL_FIELDS, vals, nv, line, sizeof line);
    size_t len = round_trip(names, EW_CF_CANONICAL_FIELDS, line, json, sizeof json);
    assert_true(len > 1000);
    assert_non_null(strstr(json, "\"time-taken\":1.5,"));
    assert_non_null(strstr(json, "\"cs-bytes\":0,"));
    assert_non_null(strstr(json, "\"sc-status\":\"000\","));
    assert_non_null(strstr(json, "\"s-ip\":\"v3\","));
    assert_non_null(strstr(json, "\"connection-id\":\"v69\"}"));
    ew_cf_record r;
    assert_int_equal(ew_cf_decode_json(EW_JSON_REALTIME, json, len, MAX_BYTES, &r), EW_DECODE_OK);
    assert_slice(r.tenant_id, "dt_2yswABC");
    assert_slice(r.uri_path, "/caf\xc3\xa9/a b");
    assert_int_equal(r.status, 0);
}

static void test_round_trip_minimal(void **state)
{
    (void)state;
    const char *names[] = {"x-host-header", "timestamp"};
    char json[256];
    size_t len = round_trip(names, 2, "1700000000.250\td2.cloudfront.net\n", json, sizeof json);
    assert_string_equal(json, "{\"timestamp\":1700000000.250,\"x-host-header\":\"d2.cloudfront.net\"}");
    assert_int_equal(len, strlen(json));
    const char *more[] = {"timestamp", "sc-status", "cs-host", "sc-bytes"};
    round_trip(more, 4, "1700000000\t000\t-\twww.example.com", json, sizeof json);
    assert_string_equal(json, "{\"timestamp\":1700000000,\"sc-status\":\"000\",\"sc-bytes\":null,"
                              "\"cs-host\":\"www.example.com\"}");
}

/* ---- the encoder's limits ---- */

static void test_encode_errors(void **state)
{
    (void)state;
    const char *names[] = {"timestamp", "x-host-header"};
    char out[256];
    const char *line = "1700000000\td.cloudfront.net";
    size_t want = strlen("{\"timestamp\":1700000000,\"x-host-header\":\"d.cloudfront.net\"}");
    assert_int_equal(ew_encode_json_line(names, 2, line, strlen(line), out, sizeof out), want);
    /* Exactly big enough (no room for the NUL), then one byte short. */
    assert_int_equal(ew_encode_json_line(names, 2, line, strlen(line), out, want), want);
    assert_int_equal(ew_encode_json_line(names, 2, line, strlen(line), out, want - 1), 0);
    assert_int_equal(ew_encode_json_line(names, 2, line, strlen(line), out, 0), 0);
    /* Column count mismatches. */
    assert_int_equal(ew_encode_json_line(names, 2, "1700000000", 10, out, sizeof out), 0);
    assert_int_equal(ew_encode_json_line(names, 2, "1\t2\t3", 5, out, sizeof out), 0);
    assert_int_equal(ew_encode_json_line(names, 1, line, strlen(line), out, sizeof out), 0);
    /* Unknown or repeated names. */
    const char *bad[] = {"timestamp", "no-such-field"};
    assert_int_equal(ew_encode_json_line(bad, 2, line, strlen(line), out, sizeof out), 0);
    const char *twice[] = {"timestamp", "timestamp"};
    assert_int_equal(ew_encode_json_line(twice, 2, line, strlen(line), out, sizeof out), 0);
    assert_int_equal(ew_encode_json_line(names, 0, "", 0, out, sizeof out), 0);
    /* Numeric text that is no JSON number stays a string. */
    const char *num[] = {"timestamp", "sc-bytes", "time-taken", "c-port", "cs-host"};
    const char *odd = "1700000000.\t01\t42\t.5\t1e3";
    assert_true(ew_encode_json_line(num, 5, odd, strlen(odd), out, sizeof out) > 0);
    assert_string_equal(out, "{\"timestamp\":\"1700000000.\",\"sc-bytes\":\"01\",\"cs-host\":\"42\","
                             "\"time-taken\":\".5\",\"c-port\":\"1e3\"}");
}

/* ---- values ---- */

static void test_numbers_and_strings(void **state)
{
    (void)state;
    ew_cf_record a, b;
    assert_int_equal(rt("{\"timestamp\":1684226820.937,\"sc-status\":200,\"sc-bytes\":1234,"
                        "\"time-to-first-byte\":0.002,\"origin-fbl\":1,\"asn\":16509,"
                        "\"x-host-header\":\"d1.cloudfront.net\"}", &a),
                     EW_DECODE_OK);
    assert_int_equal(rt("{\"timestamp\":\"1684226820.937\",\"sc-status\":\"200\",\"sc-bytes\":\"1234\","
                        "\"time-to-first-byte\":\"0.002\",\"origin-fbl\":\"1\",\"asn\":\"16509\","
                        "\"x-host-header\":\"d1.cloudfront.net\"}", &b),
                     EW_DECODE_OK);
    assert_same_record(&a, &b);
    assert_int_equal(a.ts_ms, 1684226820937LL);
    assert_int_equal(a.status, 200);
    assert_int_equal(a.bytes, 1234);
    assert_int_equal(a.ttfb_ms, 2);
    assert_int_equal(a.origin_fbl_ms, 1000);
    assert_slice(a.asn, "16509");
    /* Integer seconds; -0 is valid JSON but no timestamp. */
    assert_int_equal(rt("{\"timestamp\":1700000000,\"cs-host\":\"h\"}", &a), EW_DECODE_OK);
    assert_int_equal(a.ts_ms, 1700000000000LL);
    assert_int_equal(rt("{\"timestamp\":-0,\"cs-host\":\"h\"}", &a), EW_DECODE_TIMESTAMP);
    /* Exponent form, as Jackson writes doubles of 1e7 and more. */
    assert_int_equal(rt("{\"timestamp\":1.607374321541E9,\"time-to-first-byte\":4.2E-2,\"sc-bytes\":1.0E3,"
                        "\"sc-status\":2e2,\"cs-host\":\"h\"}", &a),
                     EW_DECODE_OK);
    assert_int_equal(a.ts_ms, 1607374321541LL);
    assert_int_equal(a.ttfb_ms, 42);
    assert_int_equal(a.bytes, 1000);
    assert_int_equal(a.status, 200);
    assert_int_equal(rt("{\"timestamp\":1.7e9,\"sc-bytes\":1.5e0,\"cs-host\":\"h\"}", &a), EW_DECODE_BYTES);
    assert_int_equal(rt("{\"timestamp\":-1.7e9,\"cs-host\":\"h\"}", &a), EW_DECODE_TIMESTAMP);
    /* Numbers for unused keys are only validated. */
    assert_int_equal(rt("{\"x\":-0.5E-3,\"y\":0,\"z\":1e+2,\"timestamp\":1,\"cs-host\":\"h\"}", &a), EW_DECODE_OK);
}

static void test_null_is_absent(void **state)
{
    (void)state;
    ew_cf_record r;
    assert_int_equal(rt("{\"timestamp\":1700000000.5,\"x-host-header\":\"d1.cloudfront.net\",\"sc-status\":null,"
                        "\"sc-bytes\":null,\"time-to-first-byte\":null,\"origin-fbl\":null,\"cs-host\":null,"
                        "\"x-edge-result-type\":null,\"cs-uri-stem\":null,\"asn\":null}", &r),
                     EW_DECODE_OK);
    assert_int_equal(r.ts_ms, 1700000000500LL);
    assert_int_equal(r.status, 0);
    assert_int_equal(r.bytes, 0);
    assert_int_equal(r.ttfb_ms, -1);
    assert_int_equal(r.origin_fbl_ms, -1);
    assert_int_equal(r.cs_host.len, 0);
    assert_int_equal(r.result, EW_RESULT_OTHER);
    assert_int_equal(r.uri_path.len, 0);
    assert_int_equal(r.asn.len, 0);
    /* A null timestamp is a missing one; true/false set nothing either. */
    assert_int_equal(rt("{\"timestamp\":null,\"cs-host\":\"h\"}", &r), EW_DECODE_TIMESTAMP);
    assert_int_equal(rt("{\"timestamp\":true,\"cs-host\":\"h\"}", &r), EW_DECODE_TIMESTAMP);
    assert_int_equal(rt("{\"timestamp\":1,\"cs-host\":false,\"x-host-header\":null}", &r), EW_DECODE_NO_IDENTITY);
    /* "-" is absent too, as in TSV. */
    assert_int_equal(rt("{\"timestamp\":1,\"cs-host\":\"h\",\"sc-status\":\"-\"}", &r), EW_DECODE_OK);
    assert_int_equal(r.status, 0);
    /* Duplicate keys: the last one wins, but null never overwrites. */
    assert_int_equal(rt("{\"timestamp\":1,\"cs-host\":\"a\",\"cs-host\":\"b\",\"cs-host\":null}", &r), EW_DECODE_OK);
    assert_slice(r.cs_host, "b");
}

static void test_key_order_irrelevant(void **state)
{
    (void)state;
    static const char *const members[] = {
        "\"timestamp\":1700000000.123", "\"sc-status\":\"502\"", "\"x-host-header\":\"d9.cloudfront.net\"",
        "\"cs-uri-stem\":\"/p%C3%A9?q\"", "\"x-edge-result-type\":\"RefreshHit\"", "\"c-country\":\"FR\"",
    };
    enum { N = sizeof members / sizeof members[0] };
    ew_cf_record first, r;
    char texts[2][512]; /* the first record's slices point into texts[0] */
    for (size_t rot = 0; rot < N; rot++)
        for (int rev = 0; rev < 2; rev++) {
            char *json = texts[rot || rev];
            strcpy(json, "{");
            for (size_t i = 0; i < N; i++) {
                size_t k = (rot + (rev ? N - i : i)) % N;
                strcat(json, members[k]);
                strcat(json, i + 1 < N ? " , " : "}");
            }
            ew_cf_record *out = rot == 0 && rev == 0 ? &first : &r;
            assert_int_equal(rt(json, out), EW_DECODE_OK);
            if (out == &r)
                assert_same_record(&first, &r);
        }
    assert_int_equal(first.ts_ms, 1700000000123LL);
    assert_int_equal(first.status, 502);
    assert_int_equal(first.result, EW_RESULT_HIT);
    assert_slice(first.uri_path, "/p\xc3\xa9");
}

static void test_escapes(void **state)
{
    (void)state;
    ew_cf_record r;
    /* \u00e9 and a surrogate pair (U+1F600) decode to UTF-8. */
    assert_int_equal(rt("{\"timestamp\":1,\"cs-host\":\"h\","
                        "\"cs-uri-stem\":\"/caf\\u00e9/\\ud83d\\uDE00\\/x?y=\\\"1\\\"\"}", &r),
                     EW_DECODE_OK);
    assert_slice(r.uri_stem, "/caf\xc3\xa9/\xf0\x9f\x98\x80/x?y=\"1\"");
    assert_slice(r.uri_path, "/caf\xc3\xa9/\xf0\x9f\x98\x80/x");
    /* The short escapes, and \u for one-, two- and three-byte UTF-8. */
    assert_int_equal(rt("{\"timestamp\":1,\"cs-host\":\"h\","
                        "\"c-ip\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u0041\\u00A9\\u20ac\"}", &r),
                     EW_DECODE_OK);
    assert_slice(r.client_ip, "\"\\/\b\f\n\r\tA\xc2\xa9\xe2\x82\xac");
    /* \u0000 is a legal value byte. */
    assert_int_equal(rt("{\"timestamp\":1,\"cs-host\":\"a\\u0000b\"}", &r), EW_DECODE_OK);
    assert_int_equal(r.cs_host.len, 3);
    assert_memory_equal(r.cs_host.ptr, "a\0b", 3);
    /* Unescaped values borrow the message; escaped ones use the scratch. */
    const char *json = "{\"timestamp\":1,\"cs-host\":\"plain\",\"c-ip\":\"\\u0031.2\"}";
    assert_int_equal(rt(json, &r), EW_DECODE_OK);
    assert_true(r.cs_host.ptr > json && r.cs_host.ptr < json + strlen(json));
    assert_true(r.client_ip.ptr >= r.scratch && r.client_ip.ptr < r.scratch + EW_CF_SCRATCH);
    assert_slice(r.client_ip, "1.2");
    assert_int_equal(r.scratch_used, 3); /* trimmed to what unescaping produced */
    /* Escaped keys name fields too; a NUL in a key names none. */
    assert_int_equal(rt("{\"\\u0074imestamp\":1,\"x-host\\u002dheader\":\"d1.cloudfront.net\"}", &r), EW_DECODE_OK);
    assert_slice(r.host_header, "d1.cloudfront.net");
    assert_int_equal(rt("{\"timestamp\\u0000x\":1,\"cs-host\":\"h\"}", &r), EW_DECODE_TIMESTAMP);
    /* Raw UTF-8 passes through. */
    assert_int_equal(rt("{\"timestamp\":1,\"cs-host\":\"h\",\"cs-uri-stem\":\"/\xe2\x82\xac\"}", &r), EW_DECODE_OK);
    assert_slice(r.uri_path, "/\xe2\x82\xac");
}

static void test_unknown_keys_skipped(void **state)
{
    (void)state;
    ew_cf_record r;
    assert_int_equal(rt("{\"meta\":{\"a\":[1,2.5,{\"b\":null,\"c\":[true,false,\"x\\\"y\"]}],\"d\":{}},"
                        "\"timestamp\":1700000000,\"list\":[[],[[]],{},\"s\",-1e-1],"
                        "\"sc-status\":{\"nested\":\"ignored\"},\"x-host-header\":\"d7.cloudfront.net\","
                        "\"cs-host\":[\"not\",\"a\",\"string\"],\"s-ip\":\"1.2.3.4\",\"flag\":true}", &r),
                     EW_DECODE_OK);
    assert_int_equal(r.ts_ms, 1700000000000LL);
    assert_int_equal(r.status, 0); /* a container for a field is skipped, not used */
    assert_int_equal(r.cs_host.len, 0);
    assert_slice(r.host_header, "d7.cloudfront.net");
    /* Nested keys never feed slots, even with field names. */
    assert_int_equal(rt("{\"x\":{\"timestamp\":1,\"cs-host\":\"h\"},\"cs-host\":\"h\"}", &r), EW_DECODE_TIMESTAMP);
    /* Whitespace anywhere between tokens, and around the object. */
    const char *spaced = " \r\n\t{ \"timestamp\" :\t1 ,\n\"cs-host\"\r: \"h\" , \"a\" : [ 1 , { } , [ ] ] }\r\n \n";
    assert_int_equal(rt(spaced, &r), EW_DECODE_OK);
    assert_slice(r.cs_host, "h");
}

/* ---- standard logging v2 ---- */

static const char stdlog_v2[] =
    "{\"date\":\"2024-11-14\",\"time\":\"21:34:06\",\"x-edge-location\":\"SFO53-P7\",\"sc-bytes\":\"1234\","
    "\"c-ip\":\"2001:db8::1\",\"cs-method\":\"GET\",\"cs(Host)\":\"d111111abcdef8.cloudfront.net\","
    "\"cs-uri-stem\":\"/index.html\",\"sc-status\":\"200\",\"cs(Referer)\":\"-\","
    "\"cs(User-Agent)\":\"Mozilla/5.0\",\"cs-uri-query\":\"-\",\"cs(Cookie)\":\"-\","
    "\"x-edge-result-type\":\"Hit\",\"x-edge-request-id\":\"abc==\",\"x-host-header\":\"www.example.com\","
    "\"cs-protocol\":\"https\",\"cs-bytes\":\"512\",\"time-taken\":\"0.003\",\"x-forwarded-for\":\"-\","
    "\"ssl-protocol\":\"TLSv1.3\",\"ssl-cipher\":\"TLS_AES_128_GCM_SHA256\","
    "\"x-edge-response-result-type\":\"Hit\",\"cs-protocol-version\":\"HTTP/2.0\",\"fle-status\":\"-\","
    "\"fle-encrypted-fields\":\"-\",\"c-port\":\"443\",\"time-to-first-byte\":\"0.002\","
    "\"x-edge-detailed-result-type\":\"Hit\",\"sc-content-type\":\"text/html\",\"sc-content-len\":\"1000\","
    "\"sc-range-start\":\"-\",\"sc-range-end\":\"-\",\"origin-fbl\":\"-\",\"origin-lbl\":\"-\","
    "\"asn\":\"64496\",\"c-country\":\"US\",\"distributionid\":\"E1ABCDEF\"}\n";

static void test_standard_dialect(void **state)
{
    (void)state;
    ew_cf_record r;
    assert_int_equal(std(stdlog_v2, &r), EW_DECODE_OK);
    assert_int_equal(r.ts_ms, 1731620046000LL);
    assert_slice(r.host_header, "d111111abcdef8.cloudfront.net");
    assert_slice(r.cs_host, "www.example.com");
    assert_slice(r.distribution_id, "E1ABCDEF");
    assert_slice(ew_cf_identity(&r), "E1ABCDEF");
    assert_int_equal(r.status, 200);
    assert_int_equal(r.bytes, 1234);
    assert_int_equal(r.ttfb_ms, 2);
    assert_int_equal(r.origin_fbl_ms, -1);
    assert_int_equal(r.result, EW_RESULT_HIT);
    assert_slice(r.client_ip, "2001:db8::1");
    assert_slice(r.edge_location, "SFO53-P7");
    assert_slice(r.asn, "64496");
    assert_slice(r.country, "US");
    assert_slice(r.uri_path, "/index.html");
    /* Read with real-time names, x-host-header is the d… domain and there
     * is no timestamp at all. */
    assert_int_equal(rt(stdlog_v2, &r), EW_DECODE_TIMESTAMP);
    assert_slice(r.host_header, "www.example.com");
    assert_int_equal(r.distribution_id.len, 0);
}

static void test_standard_timestamp_ms(void **state)
{
    (void)state;
    ew_cf_record r;
    assert_int_equal(std("{\"timestamp(ms)\":\"1731620046814\",\"cs(Host)\":\"d1.cloudfront.net\","
                         "\"sc-status\":\"404\",\"x-edge-result-type\":\"Miss\"}", &r),
                     EW_DECODE_OK);
    assert_int_equal(r.ts_ms, 1731620046814LL);
    assert_int_equal(r.status, 404);
    assert_int_equal(r.result, EW_RESULT_MISS);
    assert_slice(ew_cf_identity(&r), "d1.cloudfront.net");
    /* As a JSON number it reads the same. */
    assert_int_equal(std("{\"timestamp(ms)\":1731620046814,\"distributionid\":\"E2\"}", &r), EW_DECODE_OK);
    assert_int_equal(r.ts_ms, 1731620046814LL);
    /* Epoch seconds as a string ("timestamp") work too; bad ms do not. */
    assert_int_equal(std("{\"timestamp\":\"1731620046\",\"distributionid\":\"E2\"}", &r), EW_DECODE_OK);
    assert_int_equal(r.ts_ms, 1731620046000LL);
    assert_int_equal(std("{\"timestamp(ms)\":\"1731620046.814\",\"distributionid\":\"E2\"}", &r),
                     EW_DECODE_TIMESTAMP);
    assert_int_equal(std("{\"date\":\"2024-11-14\",\"distributionid\":\"E2\"}", &r), EW_DECODE_TIMESTAMP);
}

/* ---- malformed input ---- */

static void test_truncated_prefixes(void **state)
{
    (void)state;
    const char *valid = "{\"timestamp\":1700000000.5,\"x\":{\"a\":[1,true,null,\"s\\u00e9\\ud83d\\ude00\"]},"
                        "\"cs-uri-stem\":\"/a\\\"b\",\"sc-status\":200,\"flag\":false,\"cs-host\":\"h\"}";
    size_t len = strlen(valid);
    ew_cf_record r;
    assert_int_equal(rt_exact(valid, len, &r), EW_DECODE_OK);
    for (size_t k = 0; k < len; k++)
        if (rt_exact(valid, k, &r) != EW_DECODE_JSON)
            fail_msg("prefix of %zu bytes was not bad_json", k);
    /* Each prefix of the standard-log line too (its last byte is '\n'). */
    len = strlen(stdlog_v2);
    for (size_t k = 0; k + 1 < len; k++) {
        char *copy = malloc(k ? k : 1);
        assert_non_null(copy);
        memcpy(copy, stdlog_v2, k);
        assert_int_equal(ew_cf_decode_json(EW_JSON_STANDARD, copy, k, MAX_BYTES, &r), EW_DECODE_JSON);
        free(copy);
    }
    assert_int_equal(ew_cf_decode_json(EW_JSON_STANDARD, NULL, 0, MAX_BYTES, &r), EW_DECODE_JSON);
}

static void test_bad_json(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "{\"timestamp\" 1,\"cs-host\":\"h\"}",         /* missing colon */
        "{\"timestamp\":1,\"cs-host\":\"h\",}",        /* trailing comma */
        "{,\"timestamp\":1}",                          /* leading comma */
        "{\"timestamp\":1,,\"cs-host\":\"h\"}",        /* double comma */
        "{\"timestamp\":1 \"cs-host\":\"h\"}",         /* missing comma */
        "{\"timestamp\":1,\"cs-host\":\"h}",           /* unterminated string */
        "{\"timestamp\":1,\"cs-host:\"h\"}",           /* unterminated key */
        "{\"timestamp\":1,\"cs-host\":\"\\x\"}",       /* bad escape */
        "{\"timestamp\":1,\"cs-host\":\"\\u12G4\"}",   /* bad hex */
        "{\"timestamp\":1,\"cs-host\":\"\\ud83d\"}",   /* lone high surrogate */
        "{\"timestamp\":1,\"cs-host\":\"\\ud83dx\"}",  /* high surrogate, no escape after */
        "{\"timestamp\":1,\"cs-host\":\"\\ud83d\\u0041\"}", /* high + non-low */
        "{\"timestamp\":1,\"cs-host\":\"\\ude00\"}",   /* lone low surrogate */
        "{\"timestamp\":1,\"cs-host\":\"\\ud83d\\ud83d\"}", /* two highs */
        "{\"x\\q\":1,\"timestamp\":1,\"cs-host\":\"h\"}",   /* bad escape in a key */
        "{\"timestamp\":1,\"cs-host\":\"a\tb\"}",       /* raw control char */
        "{\"timestamp\":1,\"cs-host\":\"a\nb\"}",
        "{\"timestamp\":1,\"cs-host\":\"h\"}x",        /* trailing garbage */
        "{\"timestamp\":1,\"cs-host\":\"h\"}{}",
        "{\"timestamp\":1,\"cs-host\":\"h\"}}",
        "{\"timestamp\":1,\"cs-host\":\"h\"} ,",
        "[{\"timestamp\":1,\"cs-host\":\"h\"}]",       /* non-object top level */
        "\"timestamp\"",
        "1700000000",
        "null",
        "true",
        "",
        "   \n",
        "{",
        "}",
        "{\"timestamp\":01,\"cs-host\":\"h\"}",       /* leading zero */
        "{\"timestamp\":1.,\"cs-host\":\"h\"}",       /* no fraction digits */
        "{\"timestamp\":.5,\"cs-host\":\"h\"}",
        "{\"timestamp\":1e,\"cs-host\":\"h\"}",
        "{\"timestamp\":-,\"cs-host\":\"h\"}",
        "{\"timestamp\":+1,\"cs-host\":\"h\"}",
        "{\"timestamp\":0x10,\"cs-host\":\"h\"}",
        "{\"timestamp\":1,\"cs-host\":tru}",          /* bad literals */
        "{\"timestamp\":1,\"cs-host\":nul}",
        "{\"timestamp\":1,\"cs-host\":True}",
        "{\"timestamp\":1,\"cs-host\":truex}",
        "{\"timestamp\":1,\"cs-host\":'h'}",
        "{\"timestamp\":1,\"cs-host\":}",
        "{timestamp:1}",
        "{\"timestamp\":1,\"a\":[1,2,]}",             /* nested trailing comma */
        "{\"timestamp\":1,\"a\":[1 2]}",
        "{\"timestamp\":1,\"a\":{\"b\"}}",
        "{\"timestamp\":1,\"a\":{\"b\":1,}}",
        "{\"timestamp\":1,\"a\":{1:2}}",
        "{\"timestamp\":1,\"a\":[}",
        "{\"timestamp\":1,\"a\":{]}",
        "{\"timestamp\":1,\"a\":[\"\\z\"]}",          /* bad escape in a skipped value */
        "{\"sc-status\":\"abc\",\"timestamp\":1,\"cs-host\":\"h\"",  /* JSON errors beat field errors */
        "{\"sc-status\":\"abc\",\"timestamp\":1,\"cs-host\":\"h\"}x",
    };
    ew_cf_record r;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ew_decode_error e = rt_exact(bad[i], strlen(bad[i]), &r);
        if (e != EW_DECODE_JSON)
            fail_msg("case %zu (%s): got %s", i, bad[i], ew_decode_error_name(e));
    }
    /* A raw control byte in a key, and a NUL byte in the object. */
    assert_int_equal(rt_exact("{\"a\x01\":1}", 8, &r), EW_DECODE_JSON);
    assert_int_equal(rt_exact("{\"timestamp\":1,\0\"cs-host\":\"h\"}", 30, &r), EW_DECODE_JSON);
    assert_int_equal(rt_exact("{\"timestamp\":1,\"cs-host\":\"h\"}\0", 30, &r), EW_DECODE_JSON);
}

/* {"timestamp":1,"cs-host":"h","a":[[...]]} with levels arrays. */
static ew_decode_error nested_arrays(size_t levels)
{
    const char *head = "{\"timestamp\":1,\"cs-host\":\"h\",\"a\":";
    size_t hl = strlen(head), len = hl + 2 * levels + 1;
    char *buf = malloc(len);
    assert_non_null(buf);
    memcpy(buf, head, hl);
    memset(buf + hl, '[', levels);
    memset(buf + hl + levels, ']', levels);
    buf[len - 1] = '}';
    ew_cf_record r;
    ew_decode_error e = ew_cf_decode_json(EW_JSON_REALTIME, buf, len, len, &r);
    free(buf);
    return e;
}

/* {"timestamp":1,"cs-host":"h","k":{"k":{ ... {} ... }}} */
static ew_decode_error nested_objects(size_t levels)
{
    char buf[4096];
    size_t len = (size_t)snprintf(buf, sizeof buf, "{\"timestamp\":1,\"cs-host\":\"h\"");
    for (size_t i = 0; i < levels; i++)
        len += (size_t)snprintf(buf + len, sizeof buf - len, ",\"k\":{\"x\":0");
    for (size_t i = 0; i < levels; i++)
        buf[len++] = '}';
    buf[len++] = '}';
    ew_cf_record r;
    return ew_cf_decode_json(EW_JSON_REALTIME, buf, len, sizeof buf, &r);
}

static void test_depth_limit(void **state)
{
    (void)state;
    /* 64 containers in all, the top-level object included. */
    assert_int_equal(nested_arrays(63), EW_DECODE_OK);
    assert_int_equal(nested_arrays(64), EW_DECODE_JSON);
    assert_int_equal(nested_arrays(100000), EW_DECODE_JSON);
    assert_int_equal(nested_objects(63), EW_DECODE_OK);
    assert_int_equal(nested_objects(64), EW_DECODE_JSON);
}

/* ---- limits and field errors ---- */

static void test_too_long(void **state)
{
    (void)state;
    const char *json = "{\"timestamp\":1,\"cs-host\":\"h\"}";
    size_t len = strlen(json);
    ew_cf_record r;
    assert_int_equal(ew_cf_decode_json(EW_JSON_REALTIME, json, len, len, &r), EW_DECODE_OK);
    assert_int_equal(ew_cf_decode_json(EW_JSON_REALTIME, json, len, len - 1, &r), EW_DECODE_TOO_LONG);
    assert_int_equal(r.ts_ms, INT64_MIN); /* the record was reset all the same */
    /* Escaped values beyond the scratch buffer are too long as well ... */
    static char big[3 * EW_CF_SCRATCH];
    size_t n = (size_t)snprintf(big, sizeof big, "{\"timestamp\":1,\"cs-host\":\"h\",\"cs-uri-stem\":\"");
    for (size_t i = 0; i < EW_CF_SCRATCH; i++)
        big[n++] = 'a';
    memcpy(big + n, "\\n\"}", 4);
    n += 4;
    assert_int_equal(ew_cf_decode_json(EW_JSON_REALTIME, big, n, sizeof big, &r), EW_DECODE_TOO_LONG);
    /* ... but only when they feed a field. */
    strstr(big, "cs-uri-stem")[10] = 'x';
    assert_int_equal(ew_cf_decode_json(EW_JSON_REALTIME, big, n, sizeof big, &r), EW_DECODE_OK);
}

static void test_field_errors(void **state)
{
    (void)state;
    ew_cf_record r;
    assert_int_equal(rt("{\"timestamp\":1,\"cs-host\":\"h\",\"sc-status\":\"abc\"}", &r), EW_DECODE_STATUS);
    assert_int_equal(rt("{\"timestamp\":1,\"cs-host\":\"h\",\"sc-status\":-1}", &r), EW_DECODE_STATUS);
    assert_int_equal(rt("{\"timestamp\":1,\"cs-host\":\"h\",\"sc-status\":2.001e2}", &r), EW_DECODE_STATUS);
    assert_int_equal(rt("{\"timestamp\":1,\"cs-host\":\"h\",\"sc-status\":1000}", &r), EW_DECODE_STATUS);
    assert_int_equal(rt("{\"timestamp\":1,\"cs-host\":\"h\",\"sc-bytes\":1.5}", &r), EW_DECODE_BYTES);
    assert_int_equal(rt("{\"timestamp\":1,\"cs-host\":\"h\",\"time-to-first-byte\":\"x\"}", &r),
                     EW_DECODE_LATENCY);
    assert_int_equal(rt("{\"cs-host\":\"h\",\"sc-status\":200}", &r), EW_DECODE_TIMESTAMP);
    assert_int_equal(rt("{\"timestamp\":\"soon\",\"cs-host\":\"h\"}", &r), EW_DECODE_TIMESTAMP);
    assert_int_equal(rt("{\"timestamp\":1,\"sc-status\":200}", &r), EW_DECODE_NO_IDENTITY);
    assert_int_equal(rt("{}", &r), EW_DECODE_TIMESTAMP);
    assert_int_equal(rt("{\"timestamp\":1,\"cs-host\":\"h\",\"cs-uri-stem\":\"/%ff\"}", &r), EW_DECODE_UTF8);
    /* The first bad field in key order decides. */
    assert_int_equal(rt("{\"sc-bytes\":\"x\",\"sc-status\":\"y\",\"timestamp\":1,\"cs-host\":\"h\"}", &r),
                     EW_DECODE_BYTES);
    assert_int_equal(rt("{\"sc-status\":\"y\",\"sc-bytes\":\"x\",\"timestamp\":1,\"cs-host\":\"h\"}", &r),
                     EW_DECODE_STATUS);
    /* Standard dialect: a bad date or status. */
    assert_int_equal(std("{\"date\":\"2024-13-01\",\"time\":\"00:00:00\",\"distributionid\":\"E\"}", &r),
                     EW_DECODE_TIMESTAMP);
    assert_int_equal(std("{\"timestamp(ms)\":\"1\",\"distributionid\":\"E\",\"sc-status\":\"abc\"}", &r),
                     EW_DECODE_STATUS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_default_fields),
        cmocka_unit_test(test_round_trip_all_fields),
        cmocka_unit_test(test_round_trip_minimal),
        cmocka_unit_test(test_encode_errors),
        cmocka_unit_test(test_numbers_and_strings),
        cmocka_unit_test(test_null_is_absent),
        cmocka_unit_test(test_key_order_irrelevant),
        cmocka_unit_test(test_escapes),
        cmocka_unit_test(test_unknown_keys_skipped),
        cmocka_unit_test(test_standard_dialect),
        cmocka_unit_test(test_standard_timestamp_ms),
        cmocka_unit_test(test_truncated_prefixes),
        cmocka_unit_test(test_bad_json),
        cmocka_unit_test(test_depth_limit),
        cmocka_unit_test(test_too_long),
        cmocka_unit_test(test_field_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
