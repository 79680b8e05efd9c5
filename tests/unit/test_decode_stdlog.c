/* test_decode_stdlog.c -- unit tests for archived standard log files
 * (processor/decode_stdlog.c).
 *
 * The fixtures are in tests/fixtures/stdlog/ (README.md there lists what
 * each holds; gen.py writes them). Paths are relative to the repository
 * root, where `make unit` runs the tests; EW_FIXTURES overrides the
 * directory. Cases that need odd bytes (long lines, CRLF, truncated gzip,
 * a distribution id in the name of a JSON file) write small files into a
 * temporary directory instead.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#include <cmocka.h>

#include "edgewatch/decode.h"
#include "decode_asserts.h"

#define MAX_LINE 65536

static char tmpdir[64];
static char tmpfiles[32][160];
static int n_tmpfiles;

/* ---- helpers ---- */

static const char *fixture(const char *name)
{
    static char path[512];
    const char *dir = getenv("EW_FIXTURES");
    snprintf(path, sizeof path, "%s/%s", dir && *dir ? dir : "tests/fixtures/stdlog", name);
    return path;
}

static ew_stdlog_reader *open_ok(const char *path, size_t max_line)
{
    char err[512] = "";
    ew_stdlog_reader *rd = ew_stdlog_open(path, max_line, err, sizeof err);
    if (!rd)
        fail_msg("open %s: %s", path, err);
    return rd;
}

/* Next line, which must exist; returns its reason. */
static ew_decode_error next_ok(ew_stdlog_reader *rd, ew_cf_record *r)
{
    char err[512] = "";
    ew_decode_error e = EW_DECODE_REASONS;
    int n = ew_stdlog_next(rd, r, &e, err, sizeof err);
    if (n != 1)
        fail_msg("expected a line, got %d (%s) after line %llu", n, err,
                 (unsigned long long)ew_stdlog_line(rd));
    return e;
}

static void expect_eof(ew_stdlog_reader *rd, ew_cf_record *r)
{
    char err[512] = "";
    ew_decode_error e;
    assert_int_equal(ew_stdlog_next(rd, r, &e, err, sizeof err), 0);
    assert_int_equal(ew_stdlog_next(rd, r, &e, err, sizeof err), 0);
}

/* Writes a file into the temporary directory; returns its path. */
static const char *write_tmp(const char *name, const void *data, size_t len)
{
    assert_true(n_tmpfiles < 32);
    char *path = tmpfiles[n_tmpfiles++];
    snprintf(path, sizeof tmpfiles[0], "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
    return path;
}

static const char *write_tmp_str(const char *name, const char *text)
{
    return write_tmp(name, text, strlen(text));
}

static size_t read_whole(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    size_t n = fread(buf, 1, cap, f);
    assert_true(n < cap);
    fclose(f);
    return n;
}

static int setup_tmp(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/ew_stdlog_XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown_tmp(void **state)
{
    (void)state;
    for (int i = 0; i < n_tmpfiles; i++)
        unlink(tmpfiles[i]);
    rmdir(tmpdir);
    return 0;
}

/* ---- the current 33-field format, gzip, id in the file name ---- */

typedef struct {
    uint64_t line;
    int64_t ts_ms;
    uint32_t status;
    uint64_t bytes;
    ew_edge_result result;
    int32_t ttfb_ms;
    const char *client_ip;
    const char *edge_location;
} expected;

static const expected current_lines[] = {
    {3, 1731618847000LL, 200, 392, EW_RESULT_HIT, 1, "192.0.2.100", "LAX1-C1"},
    {4, 1731618151000LL, 200, 10240, EW_RESULT_MISS, 198, "2001:db8:85a3::8a2e:370:7334", "FRA56-P3"},
    {5, 1731620275000LL, 403, 451, EW_RESULT_ERROR, 2, "198.51.100.7", "IAD89-C1"},
    {6, 1731618312000LL, 503, 613, EW_RESULT_ERROR, 30004, "203.0.113.45", "NRT57-C2"},
    {7, 1731621599000LL, 200, 1520, EW_RESULT_HIT, 45, "192.0.2.33", "SEA19-C3"},
    {8, 1731618000000LL, 206, 256712, EW_RESULT_HIT, 120, "198.51.100.200", "LHR62-C5"},
    {9, 1731619245000LL, 503, 547, EW_RESULT_LIMIT, 0, "203.0.113.99", "GRU3-C1"},
    {10, 1731620910000LL, 304, 1045, EW_RESULT_HIT, 2, "192.0.2.250", "AMS1-C1"},
};

static void check_current(ew_stdlog_reader *rd, ew_cf_record *r, const expected *x)
{
    assert_int_equal(next_ok(rd, r), EW_DECODE_OK);
    assert_int_equal(ew_stdlog_line(rd), x->line);
    assert_int_equal(r->ts_ms, x->ts_ms);
    assert_int_equal(r->status, x->status);
    assert_int_equal(r->bytes, x->bytes);
    assert_int_equal(r->result, x->result);
    assert_int_equal(r->ttfb_ms, x->ttfb_ms);
    assert_int_equal(r->origin_fbl_ms, -1);
    assert_slice(r->client_ip, x->client_ip);
    assert_slice(r->edge_location, x->edge_location);
    assert_slice(r->distribution_id, "E2EXAMPLE123");
    /* Standard logs: cs(Host) is the d… domain, x-host-header the viewer's Host. */
    assert_slice(r->host_header, "d111111abcdef8.cloudfront.net");
    assert_slice(r->cs_host, "www.example.com");
    assert_slice(ew_cf_identity(r), "E2EXAMPLE123");
    assert_int_equal(r->tenant_id.len, 0);
}

static void test_current_gzip(void **state)
{
    (void)state;
    ew_stdlog_reader *rd = open_ok(fixture("E2EXAMPLE123.2024-11-14-21.abcd1234.gz"), MAX_LINE);
    ew_cf_record r;
    for (size_t i = 0; i < sizeof current_lines / sizeof current_lines[0]; i++)
        check_current(rd, &r, &current_lines[i]);
    expect_eof(rd, &r);
    assert_int_equal(ew_stdlog_line(rd), 10);
    ew_stdlog_close(rd);
}

static void test_current_paths(void **state)
{
    (void)state;
    ew_stdlog_reader *rd = open_ok(fixture("E2EXAMPLE123.2024-11-14-21.abcd1234.gz"), MAX_LINE);
    ew_cf_record r;
    const char *want[] = {"/index.html", "/images/hero.jpg", "/admin/login", "/api/v1/items",
                          "/css/site.css", "/video/intro.mp4", "/download/big.zip",
                          "/caf\xC3\xA9/men\xC3\xBC.html"};
    for (size_t i = 0; i < 8; i++) {
        assert_int_equal(next_ok(rd, &r), EW_DECODE_OK);
        assert_slice(r.uri_path, want[i]);
    }
    assert_slice(r.uri_stem, "/caf%C3%A9/men%C3%BC.html"); /* as received */
    ew_stdlog_close(rd);
}

/* Every buffer size from just enough for the #Fields line upwards: lines
 * land at every offset of the sliding buffer and must all decode the same. */
static void test_current_every_buffer_size(void **state)
{
    (void)state;
    for (size_t max = 560; max <= 720; max++) {
        ew_stdlog_reader *rd = open_ok(fixture("E2EXAMPLE123.2024-11-14-21.abcd1234.gz"), max);
        ew_cf_record r;
        for (size_t i = 0; i < sizeof current_lines / sizeof current_lines[0]; i++)
            check_current(rd, &r, &current_lines[i]);
        expect_eof(rd, &r);
        ew_stdlog_close(rd);
    }
}

/* ---- a 2014 file that ends at time-taken ---- */

static void test_old_19_columns(void **state)
{
    (void)state;
    static const struct {
        uint64_t line;
        int64_t ts_ms;
        uint32_t status;
        uint64_t bytes;
        ew_edge_result result;
    } want[] = {
        {3, 1398939462000LL, 200, 2390, EW_RESULT_HIT},
        {4, 1398938585000LL, 200, 15022, EW_RESULT_MISS},
        {5, 1398941159000LL, 404, 512, EW_RESULT_ERROR},
        {6, 1398940153000LL, 304, 2390, EW_RESULT_HIT},
    };
    ew_stdlog_reader *rd = open_ok(fixture("E2OLDFORMAT99.2014-05-01-10.0001.gz"), MAX_LINE);
    ew_cf_record r;
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(next_ok(rd, &r), EW_DECODE_OK);
        assert_int_equal(ew_stdlog_line(rd), want[i].line);
        assert_int_equal(r.ts_ms, want[i].ts_ms);
        assert_int_equal(r.status, want[i].status);
        assert_int_equal(r.bytes, want[i].bytes);
        assert_int_equal(r.result, want[i].result);
        assert_int_equal(r.ttfb_ms, -1); /* no time-to-first-byte column yet */
        assert_slice(r.distribution_id, "E2OLDFORMAT99");
        assert_slice(r.host_header, "d2abcdefgh1234.cloudfront.net");
        assert_slice(r.cs_host, "static.example.net");
    }
    expect_eof(rd, &r);
    ew_stdlog_close(rd);
}

/* ---- plain text, no id in the name, 35 columns, CRLF ---- */

static void test_plain_no_id(void **state)
{
    (void)state;
    ew_stdlog_reader *rd = open_ok(fixture("plain-no-id.log"), MAX_LINE);
    ew_cf_record r;

    assert_int_equal(next_ok(rd, &r), EW_DECODE_OK);
    assert_int_equal(ew_stdlog_line(rd), 3);
    assert_int_equal(r.ts_ms, 1575493351000LL);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.bytes, 392);
    assert_int_equal(r.result, EW_RESULT_HIT);
    assert_int_equal(r.distribution_id.len, 0);
    assert_slice(r.host_header, "d111111abcdef8.cloudfront.net");
    assert_slice(r.cs_host, "www.example.org");
    assert_slice(ew_cf_identity(&r), "d111111abcdef8.cloudfront.net");
    assert_int_equal(r.tenant_id.len, 0);

    assert_int_equal(next_ok(rd, &r), EW_DECODE_OK);
    assert_int_equal(ew_stdlog_line(rd), 4);
    assert_int_equal(r.status, 502);
    assert_int_equal(r.result, EW_RESULT_ERROR);
    assert_slice(r.uri_path, "/favicon.ico");

    /* line 5 is empty */
    assert_int_equal(next_ok(rd, &r), EW_DECODE_OK);
    assert_int_equal(ew_stdlog_line(rd), 6);
    assert_int_equal(r.ts_ms, 1575493319000LL);
    assert_int_equal(r.result, EW_RESULT_MISS);
    assert_slice(ew_cf_identity(&r), "d222222abcdef8.cloudfront.net");
    assert_slice(r.tenant_id, "dt_2abcdefGHIJ0123456789klmno");
    expect_eof(rd, &r);
    ew_stdlog_close(rd);
}

/* The last column is one we read, so a '\r' left on it would show. */
static void test_crlf_bom_and_no_final_newline(void **state)
{
    (void)state;
    const char *path = write_tmp_str("crlf.log", "\xEF\xBB\xBF#Version: 1.0\r\n"
                                                 "#Fields: date time cs(Host) sc-status\r\n"
                                                 "\r\n"
                                                 "2024-11-14\t21:10:00\td1.cloudfront.net\t200\r\n"
                                                 "2024-11-14\t21:10:01\td1.cloudfront.net\t404");
    ew_stdlog_reader *rd = open_ok(path, MAX_LINE);
    ew_cf_record r;
    assert_int_equal(next_ok(rd, &r), EW_DECODE_OK);
    assert_int_equal(ew_stdlog_line(rd), 4);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.ts_ms, 1731618600000LL);
    assert_int_equal(next_ok(rd, &r), EW_DECODE_OK);
    assert_int_equal(ew_stdlog_line(rd), 5);
    assert_int_equal(r.status, 404);
    expect_eof(rd, &r);
    ew_stdlog_close(rd);
}

/* ---- standard logging v2 JSON ---- */

static void test_v2_json(void **state)
{
    (void)state;
    ew_stdlog_reader *rd = open_ok(fixture("v2-json.log"), MAX_LINE);
    ew_cf_record r;

    assert_int_equal(next_ok(rd, &r), EW_DECODE_OK);
    assert_int_equal(ew_stdlog_line(rd), 1);
    assert_int_equal(r.ts_ms, 1731619801000LL);
    assert_slice(r.distribution_id, "E3V2JSONDIST01");
    assert_slice(r.host_header, "d3v2example.cloudfront.net");
    assert_slice(r.cs_host, "shop.example.com");
    assert_int_equal(r.status, 200);
    assert_int_equal(r.bytes, 1045);
    assert_int_equal(r.result, EW_RESULT_HIT);
    assert_int_equal(r.ttfb_ms, 3);
    assert_slice(r.asn, "64496");
    assert_slice(r.country, "FR");

    assert_int_equal(next_ok(rd, &r), EW_DECODE_OK);
    assert_int_equal(ew_stdlog_line(rd), 2);
    assert_int_equal(r.ts_ms, 1731620046814LL); /* "timestamp(ms)" */
    assert_slice(r.client_ip, "2001:db8::1");
    assert_int_equal(r.origin_fbl_ms, 70);
    assert_int_equal(r.result, EW_RESULT_MISS);
    assert_slice(ew_cf_identity(&r), "E3V2JSONDIST01");

    assert_int_equal(next_ok(rd, &r), EW_DECODE_OK);
    assert_int_equal(ew_stdlog_line(rd), 3);
    assert_int_equal(r.ts_ms, 1731619798000LL);
    assert_int_equal(r.distribution_id.len, 0);
    assert_slice(ew_cf_identity(&r), "d4other.cloudfront.net");
    assert_int_equal(r.status, 503);
    assert_int_equal(r.result, EW_RESULT_ERROR);
    assert_int_equal(r.ttfb_ms, -1);
    expect_eof(rd, &r);
    ew_stdlog_close(rd);
}

/* The file name's id wins over a record's own distributionid (decode.h),
 * and rescues a record that has no other identity. Without an id in the
 * name, a record's own distributionid is kept (test_v2_json). */
static void test_file_id_fills_in(void **state)
{
    (void)state;
    const char *path = write_tmp_str(
        "E9TEMPDIST.2024-11-14-21.x1",
        "{\"date\":\"2024-11-14\",\"time\":\"21:10:00\",\"distributionid\":\"E3OWN\",\"sc-status\":\"200\"}\n"
        "{\"date\":\"2024-11-14\",\"time\":\"21:10:00\",\"cs(Host)\":\"d1.cloudfront.net\"}\n"
        "{\"date\":\"2024-11-14\",\"time\":\"21:10:00\",\"sc-status\":\"200\"}\n"
        "#Fields: date time sc-status distributionid\n"
        "2024-11-14\t21:10:00\t200\tE4TSVOWN\n"
        "2024-11-14\t21:10:00\t200\t-\n"
        "{\"timestamp(ms)\":\"1731618600123\"}\n");
    ew_stdlog_reader *rd = open_ok(path, MAX_LINE);
    ew_cf_record r;
    for (size_t i = 0; i < 6; i++) {
        assert_int_equal(next_ok(rd, &r), EW_DECODE_OK);
        assert_slice(r.distribution_id, "E9TEMPDIST");
        assert_slice(ew_cf_identity(&r), "E9TEMPDIST");
    }
    assert_int_equal(r.ts_ms, 1731618600123LL);
    assert_int_equal(ew_stdlog_line(rd), 7);
    expect_eof(rd, &r);
    ew_stdlog_close(rd);

    rd = open_ok(write_tmp_str("no-id-in-name.log", "#Fields: date time sc-status distributionid\n"
                                                    "2024-11-14\t21:10:00\t200\tE4TSVOWN\n"),
                 MAX_LINE);
    assert_int_equal(next_ok(rd, &r), EW_DECODE_OK);
    assert_slice(r.distribution_id, "E4TSVOWN");
    expect_eof(rd, &r);
    ew_stdlog_close(rd);
}

/* ---- bad lines ---- */

static void test_bad_lines(void **state)
{
    (void)state;
    static const struct {
        uint64_t line;
        ew_decode_error e;
    } want[] = {
        {3, EW_DECODE_OK},       {4, EW_DECODE_COLUMNS},     {5, EW_DECODE_COLUMNS},
        {6, EW_DECODE_TIMESTAMP}, {7, EW_DECODE_STATUS},     {8, EW_DECODE_BYTES},
        {9, EW_DECODE_OK},       {10, EW_DECODE_TIMESTAMP},  {11, EW_DECODE_NO_IDENTITY},
        {12, EW_DECODE_UTF8},    {13, EW_DECODE_JSON},       {14, EW_DECODE_OK},
    };
    ew_stdlog_reader *rd = open_ok(fixture("bad-lines.log"), MAX_LINE);
    ew_cf_record r;
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        ew_decode_error e = next_ok(rd, &r);
        if (e != want[i].e || ew_stdlog_line(rd) != want[i].line)
            fail_msg("entry %zu: line %llu reason %s, want line %llu reason %s", i,
                     (unsigned long long)ew_stdlog_line(rd), ew_decode_error_name(e),
                     (unsigned long long)want[i].line, ew_decode_error_name(want[i].e));
        if (want[i].line == 9) {
            assert_int_equal(r.status, 0); /* 000: no response */
            assert_int_equal(r.bytes, 0);
            assert_int_equal(r.ts_ms, 1731618660000LL);
        }
    }
    expect_eof(rd, &r);
    ew_stdlog_close(rd);
}

static void test_data_before_fields_and_redefinition(void **state)
{
    (void)state;
    const char *path = write_tmp_str("redefine.log", "2024-11-14\t21:10:00\td1.cloudfront.net\t200\n"
                                                     "#Fields: date time cs(Host) sc-status\n"
                                                     "2024-11-14\t21:10:00\td1.cloudfront.net\t200\n"
                                                     "#Comment: anything\n"
                                                     "#Fields: date  time\tsc-bytes cs(Host)\n"
                                                     "2024-11-14\t21:10:00\td1.cloudfront.net\t200\n"
                                                     "2024-11-14\t21:10:00\t77\td2.cloudfront.net\n");
    ew_stdlog_reader *rd = open_ok(path, MAX_LINE);
    ew_cf_record r;
    assert_int_equal(next_ok(rd, &r), EW_DECODE_COLUMNS);
    assert_int_equal(ew_stdlog_line(rd), 1);
    assert_int_equal(next_ok(rd, &r), EW_DECODE_OK);
    assert_int_equal(ew_stdlog_line(rd), 3);
    assert_int_equal(r.status, 200);
    assert_int_equal(next_ok(rd, &r), EW_DECODE_BYTES); /* host in the bytes column now */
    assert_int_equal(ew_stdlog_line(rd), 6);
    assert_int_equal(next_ok(rd, &r), EW_DECODE_OK);
    assert_int_equal(ew_stdlog_line(rd), 7);
    assert_int_equal(r.bytes, 77);
    assert_int_equal(r.status, 0);
    assert_slice(r.host_header, "d2.cloudfront.net");
    expect_eof(rd, &r);
    ew_stdlog_close(rd);
}

static void test_fields_header_limits(void **state)
{
    (void)state;
    char text[2048] = "#Fields:";
    for (int i = 0; i < 63; i++)
        strcat(text, " x-unknown");
    strcat(text, " cs(Host)\n");
    char line[256] = "";
    for (int i = 0; i < 63; i++)
        strcat(line, "-\t");
    strcat(line, "d1.cloudfront.net");
    char ok_text[4096];
    snprintf(ok_text, sizeof ok_text, "%s%s\n", text, line);
    ew_stdlog_reader *rd = open_ok(write_tmp_str("64cols.log", ok_text), MAX_LINE);
    ew_cf_record r;
    assert_int_equal(next_ok(rd, &r), EW_DECODE_TIMESTAMP); /* 64 columns mapped, no date */
    assert_slice(r.host_header, "d1.cloudfront.net");
    ew_stdlog_close(rd);

    char too_many[4096];
    snprintf(too_many, sizeof too_many, "#Version: 1.0\n%.*s extra\n%s\n", (int)strlen(text) - 1, text, line);
    rd = open_ok(write_tmp_str("65cols.log", too_many), MAX_LINE);
    char err[512] = "";
    ew_decode_error e;
    assert_int_equal(ew_stdlog_next(rd, &r, &e, err, sizeof err), -1);
    assert_non_null(strstr(err, "65cols.log:2"));
    assert_non_null(strstr(err, "64"));
    err[0] = '\0';
    assert_int_equal(ew_stdlog_next(rd, &r, &e, err, sizeof err), -1); /* stays failed */
    assert_non_null(strstr(err, "65cols.log:2"));
    ew_stdlog_close(rd);

    rd = open_ok(write_tmp_str("nocols.log", "#Fields:   \n2024-11-14\n"), MAX_LINE);
    assert_int_equal(ew_stdlog_next(rd, &r, &e, err, sizeof err), -1);
    assert_non_null(strstr(err, "no fields"));
    ew_stdlog_close(rd);
}

/* ---- line length ---- */

/* A data line of exactly n bytes with the given end. */
static void append_line(char *text, size_t cap, size_t n, const char *eol)
{
    static const char head[] = "2024-11-14\t21:10:00\t200\t";
    size_t host = n - (sizeof head - 1);
    size_t at = strlen(text);
    assert_true(at + n + strlen(eol) < cap);
    memcpy(text + at, head, sizeof head - 1);
    memset(text + at + sizeof head - 1, 'a', host);
    strcpy(text + at + n, eol);
}

static void test_line_too_long(void **state)
{
    (void)state;
    enum { MAX = 64 };
    char text[4096] = "#Fields: date time sc-status cs(Host)\n"; /* line 1 */
    append_line(text, sizeof text, 40, "\n");                     /* 2 ok */
    append_line(text, sizeof text, 300, "\n");                    /* 3 too long */
    append_line(text, sizeof text, 41, "\n");                     /* 4 ok */
    append_line(text, sizeof text, MAX, "\n");                    /* 5 ok: exactly the max */
    append_line(text, sizeof text, MAX + 1, "\n");                /* 6 too long by one */
    append_line(text, sizeof text, MAX, "\r\n");                  /* 7 ok: the \r does not count */
    append_line(text, sizeof text, MAX + 1, "\r\n");              /* 8 too long */
    append_line(text, sizeof text, 1000, "\n");                   /* 9 too long, several buffers */
    append_line(text, sizeof text, 42, "\n");                     /* 10 ok */
    append_line(text, sizeof text, 500, "");                      /* 11 too long, no final newline */
    static const struct {
        uint64_t line;
        ew_decode_error e;
        size_t host;
    } want[] = {
        {2, EW_DECODE_OK, 16},        {3, EW_DECODE_TOO_LONG, 0}, {4, EW_DECODE_OK, 17},
        {5, EW_DECODE_OK, MAX - 24},  {6, EW_DECODE_TOO_LONG, 0}, {7, EW_DECODE_OK, MAX - 24},
        {8, EW_DECODE_TOO_LONG, 0},   {9, EW_DECODE_TOO_LONG, 0}, {10, EW_DECODE_OK, 18},
        {11, EW_DECODE_TOO_LONG, 0},
    };
    ew_stdlog_reader *rd = open_ok(write_tmp_str("long.log", text), MAX);
    ew_cf_record r;
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        ew_decode_error e = next_ok(rd, &r);
        if (e != want[i].e || ew_stdlog_line(rd) != want[i].line)
            fail_msg("entry %zu: line %llu reason %s, want line %llu reason %s", i,
                     (unsigned long long)ew_stdlog_line(rd), ew_decode_error_name(e),
                     (unsigned long long)want[i].line, ew_decode_error_name(want[i].e));
        if (e == EW_DECODE_OK) {
            assert_int_equal(r.host_header.len, want[i].host);
            assert_int_equal(r.status, 200);
        }
    }
    expect_eof(rd, &r);
    ew_stdlog_close(rd);
}

/* A skipped line is reported as too long whatever its last bytes are
 * (here '\r', which a line that fits would lose), at every length and
 * so at every place its end can fall in the buffer. */
static void test_too_long_whatever_it_holds(void **state)
{
    (void)state;
    enum { MAX = 32 };
    static char text[1024];
    for (size_t n = MAX + 1; n < 8 * MAX; n++) {
        int at = snprintf(text, sizeof text, "#Fields: date time cs(Host)\nx");
        memset(text + at, '\r', n);
        snprintf(text + at + n, sizeof text - (size_t)at - n, "\n2024-11-14\t21:10:00\td1\n\r\r\r\n");
        if (n > MAX + 1)
            n_tmpfiles--; /* the same file each time */
        ew_stdlog_reader *rd = open_ok(write_tmp_str("cr.log", text), MAX);
        ew_cf_record r;
        assert_int_equal(next_ok(rd, &r), EW_DECODE_TOO_LONG);
        assert_int_equal(ew_stdlog_line(rd), 2);
        assert_int_equal(next_ok(rd, &r), EW_DECODE_OK);
        assert_int_equal(ew_stdlog_line(rd), 3);
        assert_int_equal(next_ok(rd, &r), EW_DECODE_COLUMNS); /* "\r\r": one '\r' is dropped */
        assert_int_equal(ew_stdlog_line(rd), 4);
        expect_eof(rd, &r);
        ew_stdlog_close(rd);
    }
}

/* ---- gzip problems, stdin, open errors ---- */

static void test_truncated_and_corrupt_gzip(void **state)
{
    (void)state;
    static char gz[8192];
    size_t n = read_whole(fixture("E2EXAMPLE123.2024-11-14-21.abcd1234.gz"), gz, sizeof gz);
    const char *paths[2];
    paths[0] = write_tmp("E2CUT.2024-11-14-21.a.gz", gz, n / 2);
    gz[n - 6] ^= 0x55; /* the CRC-32 in the trailer */
    paths[1] = write_tmp("E2CRC.2024-11-14-21.a.gz", gz, n);
    for (int k = 0; k < 2; k++) {
        ew_stdlog_reader *rd = open_ok(paths[k], MAX_LINE);
        ew_cf_record r;
        ew_decode_error e;
        char err[512] = "";
        int got, lines = 0;
        while ((got = ew_stdlog_next(rd, &r, &e, err, sizeof err)) == 1)
            lines++;
        assert_int_equal(got, -1);
        assert_non_null(strstr(err, paths[k]));
        assert_true(lines <= 8); /* zlib may drop what it read with the bad block */
        ew_stdlog_close(rd);
    }
}

static void test_stdin(void **state)
{
    (void)state;
    int saved = dup(0);
    assert_true(saved >= 0);
    int fd = open(fixture("E2EXAMPLE123.2024-11-14-21.abcd1234.gz"), O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(dup2(fd, 0), 0);
    close(fd);
    ew_stdlog_reader *rd = open_ok("-", MAX_LINE);
    ew_cf_record r;
    for (int i = 0; i < 8; i++) {
        assert_int_equal(next_ok(rd, &r), EW_DECODE_OK);
        assert_int_equal(r.distribution_id.len, 0); /* no file name to take it from */
        assert_slice(ew_cf_identity(&r), "d111111abcdef8.cloudfront.net");
        assert_int_equal(r.ts_ms, current_lines[i].ts_ms);
    }
    expect_eof(rd, &r);
    ew_stdlog_close(rd);
    assert_int_equal(dup2(saved, 0), 0);
    close(saved);
}

static void test_open_errors(void **state)
{
    (void)state;
    char err[512] = "";
    const char *path = "tests/fixtures/stdlog/E2NOSUCH.2024-11-14-21.zzzz.gz";
    assert_null(ew_stdlog_open(path, MAX_LINE, err, sizeof err));
    assert_non_null(strstr(err, path));
    assert_non_null(strstr(err, "No such file"));
    err[0] = '\0';
    assert_null(ew_stdlog_open(fixture("plain-no-id.log"), 0, err, sizeof err));
    assert_non_null(strstr(err, "plain-no-id.log"));
}

/* ---- distribution id from the object name ---- */

static void check_name(const char *path, const char *want)
{
    ew_str id = ew_stdlog_distribution_from_name(path);
    assert_slice(id, want);
    if (id.len) {
        assert_true(id.ptr >= path && id.ptr + id.len <= path + strlen(path));
    }
}

static void test_distribution_from_name(void **state)
{
    (void)state;
    char id64[128], id65[128];
    memset(id64, 'A', 64);
    strcpy(id64 + 64, ".2024-11-14-21.abcd.gz");
    memset(id65, 'A', 65);
    strcpy(id65 + 65, ".2024-11-14-21.abcd.gz");

    check_name("E2EXAMPLE123.2024-11-14-21.abcd1234.gz", "E2EXAMPLE123");
    check_name("tests/fixtures/stdlog/E2EXAMPLE123.2024-11-14-21.abcd1234.gz", "E2EXAMPLE123");
    check_name("/srv/s3/AWSLogs/123456789012/CloudFront/EMLARXS9EXAMPLE.2019-11-14-20.RT4KCN4SGK9.gz",
               "EMLARXS9EXAMPLE");
    check_name("logs/E2OLDFORMAT99.2014-05-01-10.0001", "E2OLDFORMAT99");
    check_name("E1.2024-11-14-21.a", "E1");
    check_name("E1.2024-11-14-21.a.b.gz", "E1");
    check_name("lower.case/E7DIR.2024-11-14-21.x.gz", "E7DIR");
    check_name(id64, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");

    check_name(id65, "");
    check_name("plain-no-id.log", "");
    check_name("v2-json.log", "");
    check_name("e2lower.2024-11-14-21.abcd.gz", "");
    check_name("E2EX-AMPLE.2024-11-14-21.abcd.gz", "");
    check_name("E2EXAMPLE123.2024-11-14.abcd.gz", "");    /* no hour */
    check_name("E2EXAMPLE123.2024-11-14-2.abcd.gz", "");  /* one-digit hour */
    check_name("E2EXAMPLE123.2024-1a-14-21.abcd.gz", ""); /* not a date */
    check_name("E2EXAMPLE123.2024-11-14-21.", "");        /* no unique part */
    check_name("E2EXAMPLE123.2024-11-14-21.gz", "E2EXAMPLE123"); /* "gz" is the unique part */
    check_name("E2EXAMPLE123.2024-11-14-21..gz", "");     /* only ".gz" */
    check_name("E2EXAMPLE123.2024-11-14-21", "");
    check_name(".2024-11-14-21.abcd.gz", "");
    check_name("E2EXAMPLE123.2024-11-14-21.abcd1234.gz/", "");
    check_name("E2EXAMPLE123.2024-11-14-21.abcd1234.gz/other.log", "");
    check_name("-", "");
    check_name("", "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_current_gzip),
        cmocka_unit_test(test_current_paths),
        cmocka_unit_test(test_current_every_buffer_size),
        cmocka_unit_test(test_old_19_columns),
        cmocka_unit_test(test_plain_no_id),
        cmocka_unit_test(test_crlf_bom_and_no_final_newline),
        cmocka_unit_test(test_v2_json),
        cmocka_unit_test(test_file_id_fills_in),
        cmocka_unit_test(test_bad_lines),
        cmocka_unit_test(test_data_before_fields_and_redefinition),
        cmocka_unit_test(test_fields_header_limits),
        cmocka_unit_test(test_line_too_long),
        cmocka_unit_test(test_too_long_whatever_it_holds),
        cmocka_unit_test(test_truncated_and_corrupt_gzip),
        cmocka_unit_test(test_stdin),
        cmocka_unit_test(test_open_errors),
        cmocka_unit_test(test_distribution_from_name),
    };
    return cmocka_run_group_tests(tests, setup_tmp, teardown_tmp);
}
