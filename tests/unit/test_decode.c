/* test_decode.c -- unit tests for CloudFront real-time log decoding
 * (processor/decode.c).
 *
 * The 40-field record below is the real public record of
 * /work/shared/context/samples/realtime-40-fields.tsv (from
 * claygregory/node-cloudfront-log-parser, MIT), embedded verbatim with its
 * "#Fields:" line so the test does not depend on files outside the repo.
 * When that file is present, it is decoded from disk as well.
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

#define SAMPLE_PATH "/work/shared/context/samples/realtime-40-fields.tsv"

static const char sample_tsv[] =
    "#Fields: timestamp c-ip time-to-first-byte sc-status sc-bytes cs-method cs-protocol cs-hos"
    "t cs-uri-stem cs-bytes x-edge-location x-edge-request-id x-host-header time-taken cs-proto"
    "col-version c-ip-version cs-user-agent cs-referer cs-cookie cs-uri-query x-edge-response-r"
    "esult-type x-forwarded-for ssl-protocol ssl-cipher x-edge-result-type fle-encrypted-fields"
    " fle-status sc-content-type sc-content-len sc-range-start sc-range-end c-port x-edge-detai"
    "led-result-type c-country cs-accept-encoding cs-accept cache-behavior-path-pattern cs-head"
    "ers cs-header-names cs-headers-count"
    "\n"
    "1607374321.541\t127.0.0.1\t0.042\t200\t485\tGET\thttp\ttest.cloudfront.net\t/i?stm=1607374"
    "321563&e=pp&url=http%253A%252F%252Flocalhost%253A5000%252Fpage-2&refr=http%253A%252F%252Fl"
    "ocalhost%253A5000%252F&pp_mix=0&pp_max=0&pp_miy=0&pp_may=0&tv=js-2.6.2&tna=cf&aid=site&p=w"
    "eb&tz=America%252FNew_York&lang=en-US&cs=UTF-8&res=3840x1600&cd=24&cookie=1&eid=d778127d-4"
    "ddf-4c04-90af-ffccc980eee8&dtm=1607374321561&vp=2450x1431&ds=2450x1431&vid=5&sid=a88ec782-"
    "713b-4e0d-b2da-c408e5730834&duid=eaa664f5-8ba9-41e9-9c98-a2ad088ca440&fp=2033130908\t745\t"
    "EWR52-C4\t6PfZe0cc_AjXUjFuGnL9pGOmFdUx8xR8ZU8nr44JYJWi-DaeJjcxkw==\ttest.cloudfront.net\t0"
    ".042\tHTTP/1.1\tIPv4\tMozilla/5.0%20(Macintosh;%20Intel%20Mac%20OS%20X%2010.15;%20rv:83.0)"
    "%20Gecko/20100101%20Firefox/83.0\thttp://localhost:5000/page-2\t-\tstm=1607374321563&e=pp&"
    "url=http%253A%252F%252Flocalhost%253A5000%252Fpage-2&refr=http%253A%252F%252Flocalhost%253"
    "A5000%252F&pp_mix=0&pp_max=0&pp_miy=0&pp_may=0&tv=js-2.6.2&tna=cf&aid=site&p=web&tz=Americ"
    "a%252FNew_York&lang=en-US&cs=UTF-8&res=3840x1600&cd=24&cookie=1&eid=d778127d-4ddf-4c04-90a"
    "f-ffccc980eee8&dtm=1607374321561&vp=2450x1431&ds=2450x1431&vid=5&sid=a88ec782-713b-4e0d-b2"
    "da-c408e5730834&duid=eaa664f5-8ba9-41e9-9c98-a2ad088ca440&fp=2033130908\tMiss\t-\t-\t-\tMi"
    "ss\t-\t-\timage/gif\t35\t-\t-\t49323\tMiss\tUS\tgzip,%20deflate\timage/webp,*/*\t*\tHost:t"
    "est.cloudfront.net%0AUser-Agent:Mozilla/5.0%20(Macintosh;%20Intel%20Mac%20OS%20X%2010.15;%"
    "20rv:83.0)%20Gecko/20100101%20Firefox/83.0%0AAccept:image/webp,*/*%0AAccept-Language:en-US"
    ",en;q=0.5%0AAccept-Encoding:gzip,%20deflate%0ADNT:1%0AConnection:keep-alive%0AReferer:http"
    "://localhost:5000/page-2%0A\tHost%0AUser-Agent%0AAccept%0AAccept-Language%0AAccept-Encodin"
    "g%0ADNT%0AConnection%0AReferer%0A\t8"
    "\n";

/* ---- helpers ---- */

static bool slice_starts_with(ew_str s, const char *prefix)
{
    size_t n = strlen(prefix);
    return s.len >= n && memcmp(s.ptr, prefix, n) == 0;
}

static bool slice_ends_with(ew_str s, const char *suffix)
{
    size_t n = strlen(suffix);
    return s.len >= n && memcmp(s.ptr + s.len - n, suffix, n) == 0;
}

typedef struct {
    char buf[4096];     /* the #Fields names, NUL-separated */
    const char *names[EW_MAX_FIELDS];
    size_t n;
    const char *record; /* the line after the #Fields line, with its '\n' */
    size_t record_len;
} sample;

/* Splits "#Fields: a b c\n<record>\n" into the field list and the record. */
static void parse_sample(const char *text, sample *s)
{
    memset(s, 0, sizeof *s);
    const char *nl = strchr(text, '\n');
    assert_non_null(nl);
    assert_int_equal(strncmp(text, "#Fields:", 8), 0);
    size_t hlen = (size_t)(nl - text) - 8;
    assert_true(hlen < sizeof s->buf);
    memcpy(s->buf, text + 8, hlen);
    s->buf[hlen] = '\0';
    char *save = NULL;
    for (char *tok = strtok_r(s->buf, " \t\r", &save); tok; tok = strtok_r(NULL, " \t\r", &save)) {
        assert_true(s->n < EW_MAX_FIELDS);
        s->names[s->n++] = tok;
    }
    s->record = nl + 1;
    const char *end = strchr(s->record, '\n');
    s->record_len = end ? (size_t)(end - s->record) + 1 : strlen(s->record);
}

static void init_decoder(ew_cf_decoder *d, const char *const *names, size_t n, size_t max_line)
{
    char err[256] = "";
    if (!ew_cf_decoder_init(d, names, n, max_line, err, sizeof err))
        fail_msg("decoder init failed: %s", err);
}

static ew_decode_error decode_cstr(const ew_cf_decoder *d, const char *line, ew_cf_record *r)
{
    return ew_cf_decode_tsv(d, line, strlen(line), r);
}

/* Checks everything the pipeline reads from the real 40-field record. */
static void check_sample_record(const ew_cf_record *r)
{
    assert_int_equal(r->ts_ms, 1607374321541LL);
    assert_int_equal(r->status, 200);
    assert_int_equal(r->bytes, 485);
    assert_slice(r->host_header, "test.cloudfront.net");
    assert_slice(r->cs_host, "test.cloudfront.net");
    assert_int_equal(r->tenant_id.len, 0);
    assert_int_equal(r->result, EW_RESULT_MISS);
    assert_int_equal(r->ttfb_ms, 42);
    assert_int_equal(r->origin_fbl_ms, -1); /* not selected */
    assert_slice(r->client_ip, "127.0.0.1");
    assert_int_equal(r->asn.len, 0);       /* not selected */
    assert_slice(r->country, "US");
    assert_slice(r->edge_location, "EWR52-C4");
    assert_true(slice_starts_with(r->uri_stem, "/i?stm="));
    assert_true(slice_ends_with(r->uri_stem, "&fp=2033130908"));
    assert_null(memchr(r->uri_stem.ptr, '\t', r->uri_stem.len));
    assert_slice(ew_cf_identity(r), "test.cloudfront.net");
}

/* ---- the real 40-field record ---- */

static void test_sample_fields_line(void **state)
{
    (void)state;
    sample s;
    parse_sample(sample_tsv, &s);
    assert_int_equal(s.n, 40);
    assert_string_equal(s.names[0], "timestamp");
    assert_string_equal(s.names[2], "time-to-first-byte");
    assert_string_equal(s.names[39], "cs-headers-count");
    char err[256] = "";
    assert_true(ew_fieldset_check(s.names, s.n, err, sizeof err));
    ew_cf_decoder d;
    init_decoder(&d, s.names, s.n, 16384);
    assert_int_equal(d.n_columns, 40);
    assert_true(d.has_field[EW_F_TIMESTAMP]);
    assert_true(d.has_field[EW_F_HOST_HEADER]);
    assert_true(d.has_field[EW_F_CS_HOST]);
    assert_false(d.has_field[EW_F_TENANT]);
    assert_false(d.has_field[EW_F_ORIGIN_FBL]);
    assert_false(d.has_field[EW_F_ASN]);
    /* Column 3 (time-to-first-byte) feeds TTFB; column 13 x-host-header. */
    assert_int_equal(d.slot_of_column[0], EW_F_TIMESTAMP);
    assert_int_equal(d.slot_of_column[2], EW_F_TTFB);
    assert_int_equal(d.slot_of_column[12], EW_F_HOST_HEADER);
    assert_int_equal(d.slot_of_column[5], -1); /* cs-method: not needed */
    assert_int_equal(d.slot_of_column[40], -1);
}

static void test_sample_record_decodes(void **state)
{
    (void)state;
    sample s;
    parse_sample(sample_tsv, &s);
    ew_cf_decoder d;
    init_decoder(&d, s.names, s.n, 16384);
    ew_cf_record r;
    assert_int_equal(ew_cf_decode_tsv(&d, s.record, s.record_len, &r), EW_DECODE_OK);
    check_sample_record(&r);
    /* Without its trailing newline too. */
    assert_int_equal(s.record[s.record_len - 1], '\n');
    assert_int_equal(ew_cf_decode_tsv(&d, s.record, s.record_len - 1, &r), EW_DECODE_OK);
    check_sample_record(&r);
}

static void test_sample_record_column_count_errors(void **state)
{
    (void)state;
    sample s;
    parse_sample(sample_tsv, &s);
    ew_cf_decoder d;
    init_decoder(&d, s.names, s.n, 16384);
    ew_cf_record r;
    /* Drop the last column ("\t8\n"): 39 columns. */
    const char *last_tab = NULL;
    for (const char *p = s.record; p < s.record + s.record_len; p++)
        if (*p == '\t')
            last_tab = p;
    assert_non_null(last_tab);
    assert_int_equal(ew_cf_decode_tsv(&d, s.record, (size_t)(last_tab - s.record), &r), EW_DECODE_COLUMNS);
    /* Append one column: 41 columns. */
    char *longer = malloc(s.record_len + 8);
    assert_non_null(longer);
    memcpy(longer, s.record, s.record_len - 1);
    memcpy(longer + s.record_len - 1, "\textra\n", 7);
    assert_int_equal(ew_cf_decode_tsv(&d, longer, s.record_len + 6, &r), EW_DECODE_COLUMNS);
    free(longer);
    /* The same record against a field list one longer is short a column. */
    const char *more[EW_MAX_FIELDS];
    memcpy(more, s.names, s.n * sizeof more[0]);
    more[s.n] = "asn";
    init_decoder(&d, more, s.n + 1, 16384);
    assert_int_equal(d.n_columns, 41);
    assert_int_equal(ew_cf_decode_tsv(&d, s.record, s.record_len, &r), EW_DECODE_COLUMNS);
}

static void test_sample_file_on_disk(void **state)
{
    (void)state;
    FILE *f = fopen(SAMPLE_PATH, "rb");
    if (!f)
        skip();
    static char text[65536];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    sample s;
    parse_sample(text, &s);
    assert_int_equal(s.n, 40);
    ew_cf_decoder d;
    init_decoder(&d, s.names, s.n, 16384);
    ew_cf_record r;
    assert_int_equal(ew_cf_decode_tsv(&d, s.record, s.record_len, &r), EW_DECODE_OK);
    check_sample_record(&r);
}

/* ---- field lists ---- */

/* Joins values for names into one TSV line, in canonical column order;
 * names without a value get "-". */
typedef struct {
    const char *name, *value;
} kv;

static void build_line(const char *const *names, size_t n, const kv *vals, size_t nv, char *out, size_t cap)
{
    size_t len = 0;
    out[0] = '\0';
    bool first = true;
    for (int pos = 1; pos <= EW_CF_CANONICAL_FIELDS; pos++) {
        const char *name = ew_field_name(pos);
        bool selected = false;
        for (size_t i = 0; i < n; i++)
            if (strcmp(names[i], name) == 0)
                selected = true;
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

static size_t count_tabs(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += *s == '\t';
    return n;
}

static void test_default_43_fields(void **state)
{
    (void)state;
    ew_config cfg;
    ew_config_defaults(&cfg);
    assert_int_equal(cfg.n_fields, 43);
    /* The default list is already in canonical order, without s-ip. */
    for (size_t i = 1; i < cfg.n_fields; i++)
        assert_true(ew_field_position(cfg.fields[i - 1]) < ew_field_position(cfg.fields[i]));
    assert_string_equal(cfg.fields[0], "timestamp");
    assert_string_equal(cfg.fields[1], "c-ip");
    assert_string_equal(cfg.fields[2], "time-to-first-byte");
    assert_string_equal(cfg.fields[40], "origin-fbl");
    assert_string_equal(cfg.fields[41], "origin-lbl");
    assert_string_equal(cfg.fields[42], "asn");

    ew_cf_decoder d;
    init_decoder(&d, (const char *const *)cfg.fields, cfg.n_fields, cfg.max_line_bytes);
    assert_int_equal(d.n_columns, 43);
    assert_true(d.has_field[EW_F_ORIGIN_FBL]);
    assert_true(d.has_field[EW_F_ASN]);
    assert_false(d.has_field[EW_F_TENANT]);

    const kv vals[] = {
        {"timestamp", "1684226820.937"}, {"c-ip", "16.170.16.21"}, {"time-to-first-byte", "0.332"},
        {"sc-status", "403"}, {"sc-bytes", "347"}, {"cs-method", "GET"}, {"cs-protocol", "https"},
        {"cs-host", "www.example.com"}, {"cs-uri-stem", "/a%20b?x=1"}, {"x-edge-location", "ARN56-P1"},
        {"x-host-header", "d111111abcdef8.cloudfront.net"}, {"x-edge-result-type", "Error"},
        {"x-edge-response-result-type", "Hit"}, {"x-edge-detailed-result-type", "ClientGeoBlocked"},
        {"c-country", "SE"}, {"origin-fbl", "0.120"}, {"origin-lbl", "0.250"}, {"asn", "16509"},
        {"cs-headers-count", "7"},
    };
    char line[4096];
    build_line((const char *const *)cfg.fields, cfg.n_fields, vals, sizeof vals / sizeof vals[0], line, sizeof line);
    assert_int_equal(count_tabs(line), 42);
    ew_cf_record r;
    assert_int_equal(decode_cstr(&d, line, &r), EW_DECODE_OK);
    assert_int_equal(r.ts_ms, 1684226820937LL);
    assert_slice(r.client_ip, "16.170.16.21");
    assert_int_equal(r.ttfb_ms, 332);
    assert_int_equal(r.status, 403);
    assert_int_equal(r.bytes, 347);
    assert_slice(r.cs_host, "www.example.com");
    assert_slice(r.uri_stem, "/a%20b?x=1");
    assert_slice(r.edge_location, "ARN56-P1");
    assert_slice(r.host_header, "d111111abcdef8.cloudfront.net");
    assert_int_equal(r.result, EW_RESULT_ERROR); /* x-edge-result-type, not the response type */
    assert_slice(r.country, "SE");
    assert_int_equal(r.origin_fbl_ms, 120);
    assert_slice(r.asn, "16509");
    assert_slice(ew_cf_identity(&r), "d111111abcdef8.cloudfront.net");
    ew_config_free(&cfg);
}

static void test_noncanonical_config_order(void **state)
{
    (void)state;
    /* Listed out of order; CloudFront still delivers canonical order:
     * timestamp(1) sc-status(5) sc-bytes(6) x-host-header(14) c-country(35). */
    const char *names[] = {"c-country", "x-host-header", "sc-bytes", "timestamp", "sc-status"};
    ew_cf_decoder d;
    init_decoder(&d, names, 5, 1024);
    assert_int_equal(d.n_columns, 5);
    assert_int_equal(d.slot_of_column[0], EW_F_TIMESTAMP);
    assert_int_equal(d.slot_of_column[1], EW_F_STATUS);
    assert_int_equal(d.slot_of_column[2], EW_F_BYTES);
    assert_int_equal(d.slot_of_column[3], EW_F_HOST_HEADER);
    assert_int_equal(d.slot_of_column[4], EW_F_COUNTRY);
    ew_cf_record r;
    assert_int_equal(decode_cstr(&d, "1700000000.250\t404\t1234\td2.cloudfront.net\tDE", &r), EW_DECODE_OK);
    assert_int_equal(r.ts_ms, 1700000000250LL);
    assert_int_equal(r.status, 404);
    assert_int_equal(r.bytes, 1234);
    assert_slice(r.host_header, "d2.cloudfront.net");
    assert_slice(r.country, "DE");
    assert_int_equal(r.ttfb_ms, -1);
    assert_int_equal(r.result, EW_RESULT_OTHER); /* not selected */
}

static const char *const basic_fields[] = {
    "timestamp", "c-ip", "time-to-first-byte", "sc-status", "sc-bytes", "x-host-header",
    "x-edge-result-type", "origin-fbl",
};
#define N_BASIC (sizeof basic_fields / sizeof basic_fields[0])

static void test_dash_values(void **state)
{
    (void)state;
    ew_cf_decoder d;
    init_decoder(&d, basic_fields, N_BASIC, 1024);
    ew_cf_record r;
    assert_int_equal(decode_cstr(&d, "1700000000.000\t198.51.100.7\t-\t-\t-\td3.cloudfront.net\t-\t-", &r),
                     EW_DECODE_OK);
    assert_int_equal(r.ts_ms, 1700000000000LL);
    assert_int_equal(r.status, 0);
    assert_int_equal(r.bytes, 0);
    assert_int_equal(r.ttfb_ms, -1);
    assert_int_equal(r.origin_fbl_ms, -1);
    assert_int_equal(r.result, EW_RESULT_OTHER);
    /* Present values in the same positions. */
    assert_int_equal(decode_cstr(&d, "1700000000.001\t198.51.100.7\t0.007\t000\t0\td3.cloudfront.net\tHit\t0.005", &r),
                     EW_DECODE_OK);
    assert_int_equal(r.ts_ms, 1700000000001LL);
    assert_int_equal(r.status, 0); /* "000": viewer went away */
    assert_int_equal(r.bytes, 0);
    assert_int_equal(r.ttfb_ms, 7);
    assert_int_equal(r.origin_fbl_ms, 5);
    assert_int_equal(r.result, EW_RESULT_HIT);
    assert_int_equal(decode_cstr(&d, "1700000000\t198.51.100.7\t1.5\t502\t18446744073709551\td3.cloudfront.net\tError\t2", &r),
                     EW_DECODE_OK);
    assert_int_equal(r.ts_ms, 1700000000000LL);
    assert_int_equal(r.ttfb_ms, 1500);
    assert_int_equal(r.origin_fbl_ms, 2000);
    assert_int_equal(r.status, 502);
    assert_int_equal(r.bytes, 18446744073709551ULL);
}

static void test_ipv6_client(void **state)
{
    (void)state;
    ew_cf_decoder d;
    init_decoder(&d, basic_fields, N_BASIC, 1024);
    ew_cf_record r;
    assert_int_equal(decode_cstr(&d, "1700000000.000\t2001:db8:85a3::8a2e:370:7334\t0.010\t200\t10\td4.cloudfront.net\tMiss\t0.009", &r),
                     EW_DECODE_OK);
    assert_slice(r.client_ip, "2001:db8:85a3::8a2e:370:7334");
    assert_int_equal(r.status, 200);
    assert_int_equal(r.ttfb_ms, 10);
    assert_int_equal(r.origin_fbl_ms, 9);
}

static void test_every_result_type(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        ew_edge_result want;
    } cases[] = {
        {"Hit", EW_RESULT_HIT}, {"RefreshHit", EW_RESULT_HIT}, {"OriginShieldHit", EW_RESULT_HIT},
        {"Miss", EW_RESULT_MISS}, {"Error", EW_RESULT_ERROR}, {"LimitExceeded", EW_RESULT_LIMIT},
        {"CapacityExceeded", EW_RESULT_CAPACITY}, {"FunctionGeneratedResponse", EW_RESULT_OTHER},
        {"Redirect", EW_RESULT_OTHER}, {"LambdaExecutionError", EW_RESULT_OTHER}, {"hit", EW_RESULT_OTHER},
        {"Hits", EW_RESULT_OTHER}, {"-", EW_RESULT_OTHER}, {"", EW_RESULT_OTHER},
    };
    ew_cf_decoder d;
    init_decoder(&d, basic_fields, N_BASIC, 1024);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char line[256];
        snprintf(line, sizeof line, "1700000000.000\t192.0.2.1\t0.001\t200\t1\td5.cloudfront.net\t%s\t-", cases[i].text);
        ew_cf_record r;
        assert_int_equal(decode_cstr(&d, line, &r), EW_DECODE_OK);
        if (r.result != cases[i].want)
            fail_msg("result \"%s\": got %d, want %d", cases[i].text, (int)r.result, (int)cases[i].want);
    }
}

static void test_trailing_newlines_tolerated(void **state)
{
    (void)state;
    const char *names[] = {"timestamp", "x-host-header", "origin-fbl"};
    ew_cf_decoder d;
    init_decoder(&d, names, 3, 1024);
    static const char *const lines[] = {
        "1700000000.100\td6.cloudfront.net\t0.042",
        "1700000000.100\td6.cloudfront.net\t0.042\n",
        "1700000000.100\td6.cloudfront.net\t0.042\r\n",
    };
    for (size_t i = 0; i < 3; i++) {
        ew_cf_record r;
        assert_int_equal(decode_cstr(&d, lines[i], &r), EW_DECODE_OK);
        assert_int_equal(r.ts_ms, 1700000000100LL);
        assert_slice(r.host_header, "d6.cloudfront.net");
        assert_int_equal(r.origin_fbl_ms, 42);
    }
    /* The identity as the last column must not keep the '\r'. */
    const char *names2[] = {"timestamp", "x-host-header"};
    init_decoder(&d, names2, 2, 1024);
    ew_cf_record r;
    assert_int_equal(decode_cstr(&d, "1700000000.100\td7.cloudfront.net\r\n", &r), EW_DECODE_OK);
    assert_slice(r.host_header, "d7.cloudfront.net");
}

/* ---- bad input ---- */

static void test_column_count_errors(void **state)
{
    (void)state;
    ew_cf_decoder d;
    init_decoder(&d, basic_fields, N_BASIC, 1024);
    ew_cf_record r;
    /* 7 columns instead of 8. */
    assert_int_equal(decode_cstr(&d, "1700000000.000\t192.0.2.1\t0.001\t200\t1\td5.cloudfront.net\tHit", &r),
                     EW_DECODE_COLUMNS);
    /* 9 columns. */
    assert_int_equal(decode_cstr(&d, "1700000000.000\t192.0.2.1\t0.001\t200\t1\td5.cloudfront.net\tHit\t-\t-", &r),
                     EW_DECODE_COLUMNS);
    /* A trailing TAB is an extra (empty) column. */
    assert_int_equal(decode_cstr(&d, "1700000000.000\t192.0.2.1\t0.001\t200\t1\td5.cloudfront.net\tHit\t-\t", &r),
                     EW_DECODE_COLUMNS);
    assert_int_equal(decode_cstr(&d, "", &r), EW_DECODE_COLUMNS);
    assert_int_equal(decode_cstr(&d, "\n", &r), EW_DECODE_COLUMNS);
    assert_string_equal(ew_decode_error_name(EW_DECODE_COLUMNS), "column_count");
}

/* Decodes the basic line with column col replaced by each bad value and
 * expects reason for every one. */
static void expect_bad_values(size_t col, const char *const *bad, size_t n, ew_decode_error reason)
{
    static const char *const good[] = {"1700000000.000", "192.0.2.1", "0.001", "200", "1",
                                       "d5.cloudfront.net", "Hit", "-"};
    ew_cf_decoder d;
    init_decoder(&d, basic_fields, N_BASIC, 1024);
    for (size_t i = 0; i < n; i++) {
        char line[256];
        size_t len = 0;
        for (size_t c = 0; c < sizeof good / sizeof good[0]; c++)
            len += (size_t)snprintf(line + len, sizeof line - len, "%s%s", c ? "\t" : "", c == col ? bad[i] : good[c]);
        ew_cf_record r;
        ew_decode_error e = decode_cstr(&d, line, &r);
        if (e != reason)
            fail_msg("column %zu \"%s\": got %s, want %s", col, bad[i], ew_decode_error_name(e),
                     ew_decode_error_name(reason));
    }
}

static void test_bad_timestamp(void **state)
{
    (void)state;
    static const char *const bad[] = {"abc", "-", "", "1700000000.", "-1700000000.000", "17000000x0.000",
                                      "1700000000.0000000000"};
    expect_bad_values(0, bad, sizeof bad / sizeof bad[0], EW_DECODE_TIMESTAMP);
    assert_string_equal(ew_decode_error_name(EW_DECODE_TIMESTAMP), "bad_timestamp");
}

static void test_bad_status(void **state)
{
    (void)state;
    static const char *const bad[] = {"OK", "2O0", "20 0", "1000", "", "+200"};
    expect_bad_values(3, bad, sizeof bad / sizeof bad[0], EW_DECODE_STATUS);
    assert_string_equal(ew_decode_error_name(EW_DECODE_STATUS), "bad_status");
}

static void test_bad_bytes(void **state)
{
    (void)state;
    static const char *const bad[] = {"12a", "-5", "1.5", "", "12345678901234567890"};
    expect_bad_values(4, bad, sizeof bad / sizeof bad[0], EW_DECODE_BYTES);
    assert_string_equal(ew_decode_error_name(EW_DECODE_BYTES), "bad_bytes");
}

static void test_bad_latency(void **state)
{
    (void)state;
    ew_cf_decoder d;
    init_decoder(&d, basic_fields, N_BASIC, 1024);
    ew_cf_record r;
    assert_int_equal(decode_cstr(&d, "1700000000.000\t192.0.2.1\tfast\t200\t1\td5.cloudfront.net\tHit\t-", &r),
                     EW_DECODE_LATENCY);
    assert_int_equal(decode_cstr(&d, "1700000000.000\t192.0.2.1\t0.001\t200\t1\td5.cloudfront.net\tHit\t0,5", &r),
                     EW_DECODE_LATENCY);
    assert_string_equal(ew_decode_error_name(EW_DECODE_LATENCY), "bad_latency");
}

static void test_line_too_long(void **state)
{
    (void)state;
    const char *names[] = {"timestamp", "x-host-header"};
    ew_cf_decoder d;
    init_decoder(&d, names, 2, 64);
    /* "1700000000.000\t" is 15 bytes; pad the host to make 64 and 65. */
    char line[128];
    memset(line, 0, sizeof line);
    memcpy(line, "1700000000.000\t", 15);
    memset(line + 15, 'h', 49);
    assert_int_equal(strlen(line), 64);
    ew_cf_record r;
    assert_int_equal(decode_cstr(&d, line, &r), EW_DECODE_OK);
    assert_int_equal(r.host_header.len, 49);
    /* Line terminators do not count toward the limit. */
    memcpy(line + 64, "\r\n", 3);
    assert_int_equal(decode_cstr(&d, line, &r), EW_DECODE_OK);
    memset(line + 15, 'h', 50);
    line[65] = '\0';
    assert_int_equal(decode_cstr(&d, line, &r), EW_DECODE_TOO_LONG);
    assert_string_equal(ew_decode_error_name(EW_DECODE_TOO_LONG), "line_too_long");
}

static void test_no_identity(void **state)
{
    (void)state;
    ew_cf_record r;
    ew_cf_decoder d;
    /* x-host-header "-" and cs-host not selected. */
    const char *names[] = {"timestamp", "sc-status", "x-host-header"};
    init_decoder(&d, names, 3, 1024);
    assert_false(d.has_field[EW_F_CS_HOST]);
    assert_int_equal(decode_cstr(&d, "1700000000.000\t200\t-", &r), EW_DECODE_NO_IDENTITY);
    assert_int_equal(decode_cstr(&d, "1700000000.000\t200\t", &r), EW_DECODE_NO_IDENTITY);
    assert_string_equal(ew_decode_error_name(EW_DECODE_NO_IDENTITY), "no_identity");
    /* With cs-host selected, it is the fallback identity. */
    const char *names2[] = {"timestamp", "cs-host", "x-host-header"};
    init_decoder(&d, names2, 3, 1024);
    assert_int_equal(decode_cstr(&d, "1700000000.000\twww.example.com\t-", &r), EW_DECODE_OK);
    assert_int_equal(r.host_header.len, 0);
    assert_slice(ew_cf_identity(&r), "www.example.com");
    assert_int_equal(decode_cstr(&d, "1700000000.000\t-\t-", &r), EW_DECODE_NO_IDENTITY);
    /* Then distribution-tenant-id. */
    const char *names3[] = {"distribution-tenant-id", "timestamp", "cs-host", "x-host-header"};
    init_decoder(&d, names3, 4, 1024);
    assert_int_equal(decode_cstr(&d, "1700000000.000\t-\t-\tdt_2yswABC", &r), EW_DECODE_OK);
    assert_slice(ew_cf_identity(&r), "dt_2yswABC");
    assert_int_equal(decode_cstr(&d, "1700000000.000\twww.example.com\td8.cloudfront.net\tdt_2yswABC", &r),
                     EW_DECODE_OK);
    assert_slice(ew_cf_identity(&r), "d8.cloudfront.net");
}

static void test_error_names(void **state)
{
    (void)state;
    assert_string_equal(ew_decode_error_name(EW_DECODE_OK), "ok");
    assert_string_equal(ew_decode_error_name(EW_DECODE_REASONS), "unknown");
    assert_string_equal(ew_decode_error_name((ew_decode_error)-1), "unknown");
}

/* ---- field set checks ---- */

static void test_fieldset_check(void **state)
{
    (void)state;
    char err[256];

    const char *ok[] = {"timestamp", "x-host-header"};
    err[0] = '\0';
    assert_true(ew_fieldset_check(ok, 2, err, sizeof err));

    const char *unknown[] = {"timestamp", "x-host-header", "bogus-field"};
    err[0] = '\0';
    assert_false(ew_fieldset_check(unknown, 3, err, sizeof err));
    assert_non_null(strstr(err, "\"bogus-field\""));

    const char *dup[] = {"timestamp", "sc-status", "x-host-header", "sc-status"};
    err[0] = '\0';
    assert_false(ew_fieldset_check(dup, 4, err, sizeof err));
    assert_non_null(strstr(err, "\"sc-status\""));
    assert_non_null(strstr(err, "twice"));

    const char *no_ts[] = {"sc-status", "x-host-header"};
    err[0] = '\0';
    assert_false(ew_fieldset_check(no_ts, 2, err, sizeof err));
    assert_non_null(strstr(err, "timestamp"));

    const char *no_id[] = {"timestamp", "sc-status", "c-ip"};
    err[0] = '\0';
    assert_false(ew_fieldset_check(no_id, 3, err, sizeof err));
    assert_non_null(strstr(err, "x-host-header"));

    err[0] = '\0';
    assert_false(ew_fieldset_check(ok, 0, err, sizeof err));
    assert_true(strlen(err) > 0);

    /* Each identity field alone is enough. */
    const char *cs_host[] = {"timestamp", "cs-host"};
    assert_true(ew_fieldset_check(cs_host, 2, err, sizeof err));
    const char *tenant[] = {"timestamp", "distribution-tenant-id"};
    assert_true(ew_fieldset_check(tenant, 2, err, sizeof err));

    /* The decoder refuses the same lists. */
    ew_cf_decoder d;
    err[0] = '\0';
    assert_false(ew_cf_decoder_init(&d, unknown, 3, 1024, err, sizeof err));
    assert_non_null(strstr(err, "bogus-field"));
}

static void test_field_positions(void **state)
{
    (void)state;
    assert_int_equal(ew_field_position("timestamp"), 1);
    assert_int_equal(ew_field_position("c-ip"), 2);
    assert_int_equal(ew_field_position("s-ip"), 3);
    assert_int_equal(ew_field_position("x-host-header"), 14);
    assert_int_equal(ew_field_position("x-edge-result-type"), 26);
    assert_int_equal(ew_field_position("c-country"), 35);
    assert_int_equal(ew_field_position("cs-headers-count"), 41);
    assert_int_equal(ew_field_position("origin-fbl"), 44);
    assert_int_equal(ew_field_position("asn"), 46);
    assert_int_equal(ew_field_position("cmcd-version"), 64);
    assert_int_equal(ew_field_position("r-host"), 65);
    assert_int_equal(ew_field_position("x-edge-mqcs"), 67);
    assert_int_equal(ew_field_position("distribution-tenant-id"), 68);
    assert_int_equal(ew_field_position("connection-id"), 69);
    assert_int_equal(ew_field_position("bogus"), 0);
    assert_int_equal(ew_field_position("Timestamp"), 0);
    assert_int_equal(ew_field_position(""), 0);
    assert_string_equal(ew_field_name(1), "timestamp");
    assert_string_equal(ew_field_name(46), "asn");
    assert_string_equal(ew_field_name(69), "connection-id");
    assert_null(ew_field_name(0));
    assert_null(ew_field_name(70));
    for (int pos = 1; pos <= EW_CF_CANONICAL_FIELDS; pos++)
        assert_int_equal(ew_field_position(ew_field_name(pos)), pos);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sample_fields_line),
        cmocka_unit_test(test_sample_record_decodes),
        cmocka_unit_test(test_sample_record_column_count_errors),
        cmocka_unit_test(test_sample_file_on_disk),
        cmocka_unit_test(test_default_43_fields),
        cmocka_unit_test(test_noncanonical_config_order),
        cmocka_unit_test(test_dash_values),
        cmocka_unit_test(test_ipv6_client),
        cmocka_unit_test(test_every_result_type),
        cmocka_unit_test(test_trailing_newlines_tolerated),
        cmocka_unit_test(test_column_count_errors),
        cmocka_unit_test(test_bad_timestamp),
        cmocka_unit_test(test_bad_status),
        cmocka_unit_test(test_bad_bytes),
        cmocka_unit_test(test_bad_latency),
        cmocka_unit_test(test_line_too_long),
        cmocka_unit_test(test_no_identity),
        cmocka_unit_test(test_error_names),
        cmocka_unit_test(test_fieldset_check),
        cmocka_unit_test(test_field_positions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
