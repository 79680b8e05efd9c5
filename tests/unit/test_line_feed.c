/* test_line_feed.c -- unit tests for the read-ahead line decoder of replay
 * (processor/line_feed.c): the records it hands over, in order, must be
 * exactly what splitting the input by replay's line rules and decoding each
 * line gives, whatever the batch and read boundaries and whichever thread
 * decoded them (a slow caller leaves the decoding to the reading thread, a
 * quick one does part of it).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "edgewatch/line_feed.h"
#include "edgewatch/topk.h"

#define MAX_LINE 300

static const char *const fields[] = {"timestamp", "c-ip", "sc-status", "cs-uri-stem", "x-host-header"};

static ew_config small_config(void)
{
    ew_config cfg;
    memset(&cfg, 0, sizeof cfg);
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        cfg.fields[i] = (char *)fields[i];
    cfg.n_fields = sizeof fields / sizeof fields[0];
    cfg.max_line_bytes = MAX_LINE;
    cfg.avro_bare = (char *)"none";
    return cfg;
}

typedef struct {
    char *data;
    size_t len, cap;
} text;

static void put(text *t, const char *s, size_t n)
{
    if (t->len + n > t->cap) {
        t->cap = 2 * (t->len + n);
        t->data = realloc(t->data, t->cap);
    }
    memcpy(t->data + t->len, s, n);
    t->len += n;
}

static void putf(text *t, const char *fmt, int i)
{
    char buf[512];
    int n = snprintf(buf, sizeof buf, fmt, 1700000000 + i, i % 251, i);
    put(t, buf, (size_t)n);
}

/* Lines of every kind the reader must keep apart: plain, CR LF, escaped
 * paths (decoded into scratch), JSON, bad, empty, too long (and so cut),
 * and an unterminated last line. Enough to fill several batches. */
static text sample_input(int n_lines, bool scratch_heavy)
{
    text t = {0};
    char longline[3 * MAX_LINE];
    memset(longline, 'z', sizeof longline);
    for (int i = 0; i < n_lines; i++) {
        int kind = i % 11;
        if (scratch_heavy && (kind <= 1 || kind == 3 || kind >= 8))
            kind = 8;
        switch (kind) {
        case 0: putf(&t, "%d.5\t10.0.0.%d\t200\t/a%%41b/%d\td1.cloudfront.net\n", i); break;
        case 1: putf(&t, "%d.25\t10.0.1.%d\t404\t/x%%01/%d?q=1\td2.cloudfront.net\r\n", i); break;
        case 2: put(&t, "\n", 1); break;
        case 3: putf(&t, "{\"timestamp\": %d.1, \"c-ip\": \"10.9.9.%d\", \"x-host-header\": \"d3\", \"cs-uri-stem\": \"/j/%d\"}\n", i); break;
        case 4: put(&t, longline, sizeof longline - (size_t)(i % 7)); put(&t, "\n", 1); break;
        case 5: putf(&t, "%d\tnot-a-line %d %d\n", i); break;
        case 6: put(&t, "\r\n", 2); break;
        case 7: put(&t, longline, MAX_LINE); put(&t, "\r\n", 2); break; /* CR makes it one too long */
        case 8:
            if (scratch_heavy) { /* a 237-byte path decoded into scratch */
                putf(&t, "%d.5\t10.0.3.%d\t200\t/%%41%d", i);
                put(&t, longline, 230);
                put(&t, "\td5.cloudfront.net\n", 19);
                break;
            }
            /* fall through */
        case 9: /* a client IP longer than the top list keeps */
            putf(&t, "%d.5\t2001:db8:0:0:0:ff00:42:8329:abcd:ef01:%d:%d\t200\t/v\tD1.cloudfront.net\n", i);
            break;
        default: putf(&t, "%d.75\t10.0.2.%d\t503\t/%%E2%%82%%AC/%d\td4.cloudfront.net\n", i); break;
        }
    }
    putf(&t, "%d.5\t10.0.0.%d\t200\t/last/%d\td1.cloudfront.net", n_lines);
    return t;
}

/* Replay's line rules, written plainly. */
static size_t reference_lines(const text *t, const char **starts, size_t *lens, size_t cap)
{
    size_t n = 0, pos = 0;
    while (pos < t->len && n < cap) {
        const char *nl = memchr(t->data + pos, '\n', t->len - pos);
        size_t raw = (nl ? (size_t)(nl - t->data) : t->len) - pos;
        size_t len = raw > MAX_LINE ? MAX_LINE + 1 : raw;
        if (len > 0 && len <= MAX_LINE && t->data[pos + len - 1] == '\r')
            len--;
        if (len > 0) {
            starts[n] = t->data + pos;
            lens[n++] = len;
        }
        pos += raw + 1;
    }
    return n;
}

static void assert_str(ew_str a, ew_str b)
{
    assert_int_equal(a.len, b.len);
    if (a.len)
        assert_memory_equal(a.ptr, b.ptr, a.len);
}

static void assert_same_record(const ew_cf_record *a, const ew_cf_record *b)
{
    assert_int_equal(a->ts_ms, b->ts_ms);
    assert_int_equal(a->status, b->status);
    assert_str(a->client_ip, b->client_ip);
    assert_str(a->host_header, b->host_header);
    assert_str(a->uri_stem, b->uri_stem);
    assert_str(a->uri_path, b->uri_path);
}

static void write_file(const char *path, const text *t, bool gz)
{
    if (gz) {
        gzFile g = gzopen(path, "wb");
        assert_non_null(g);
        assert_int_equal(gzwrite(g, t->data, (unsigned)t->len), (int)t->len);
        gzclose(g);
        return;
    }
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(t->data, 1, t->len, f), t->len);
    fclose(f);
}

/* Reads path through the feed (stopping after `stop_after` records when
 * non-zero) and checks every record against the reference. A slow caller
 * pauses now and then, so the reading thread decodes ahead of it. With
 * meta, the feed also prepares records (ew_line_feed_prepare): the
 * reference is then cleaned and looked up the same way here. */
static void check_feed_prepared(ew_line_feed *f, const char *path, const text *t, size_t stop_after, bool slow,
                                const ew_metadata *meta)
{
    size_t cap = t->len, n_ref;
    const char **starts = malloc(cap * sizeof *starts);
    size_t *lens = malloc(cap * sizeof *lens);
    n_ref = reference_lines(t, starts, lens, cap);
    ew_config cfg = small_config();
    ew_message_decoder md;
    char err[256];
    assert_true(ew_message_decoder_init(&md, (const char *const *)cfg.fields, cfg.n_fields, cfg.max_line_bytes, NULL,
                                        NULL, 0, "none", err, sizeof err));
    ew_cf_record *want = malloc(sizeof *want), *got = malloc(sizeof *got);
    gzFile gz = gzopen(path, "rb");
    gzbuffer(gz, 64 << 10);
    ew_line_feed_prepare(f, meta);
    assert_true(ew_line_feed_start(f, gz, err, sizeof err));
    size_t n = 0;
    ew_decode_error e;
    typedef struct {
        size_t target, dist;
        int64_t ts_ms;
        bool valid;
    } peeked;
    peeked peeks[8];
    memset(peeks, 0, sizeof peeks);
    size_t n_checked = 0;
    while ((stop_after == 0 || n < stop_after) && ew_line_feed_next(f, got, &e)) {
        assert_true(n < n_ref);
        if (slow && n % 1000 == 0)
            usleep(2000);
        ew_decode_error we = ew_decode_message(&md, starts[n], lens[n], want);
        assert_int_equal(e, we);
        if (e == EW_DECODE_OK && meta) {
            char clean[EW_TOPK_CLEAN_MAX];
            ew_topk_clean_record(want, clean);
            const ew_distribution *d = ew_metadata_by_domain(meta, ew_cf_identity(want));
            assert_int_equal(ew_line_feed_dist(f), d ? ew_metadata_index_of(meta, d) + 1 : 0);
            const peeked *p = &peeks[n % 8];
            if (p->valid && p->target == n) { /* what peek said of this record 1 to 3 records ago */
                n_checked++;
                assert_int_equal(p->ts_ms, got->ts_ms);
                assert_int_equal(p->dist, ew_line_feed_dist(f));
            }
        }
        if (meta) { /* 1, 2 or 3 ahead, in turn */
            size_t ahead = 1 + n % 3;
            peeked *p = &peeks[(n + ahead) % 8];
            p->target = n + ahead;
            p->valid = ew_line_feed_peek(f, ahead, &p->ts_ms, &p->dist);
        }
        if (e == EW_DECODE_OK)
            assert_same_record(got, want);
        n++;
    }
    ew_line_feed_stop(f);
    gzclose(gz);
    assert_int_equal(n, stop_after ? stop_after : n_ref);
    if (meta && slow) /* the reading thread decoded ahead: peeks saw records */
        assert_true(n_checked > n / 4);
    free(want);
    free(got);
    free(starts);
    free(lens);
    ew_message_decoder_free(&md);
}

static void check_feed(ew_line_feed *f, const char *path, const text *t, size_t stop_after, bool slow)
{
    check_feed_prepared(f, path, t, stop_after, slow, NULL);
}

static void run_case(int n_lines, bool gz, size_t stop_after, bool slow, bool scratch_heavy)
{
    text t = sample_input(n_lines, scratch_heavy);
    char path[] = "/tmp/test_line_feed.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    write_file(path, &t, gz);
    ew_config cfg = small_config();
    char err[256];
    ew_line_feed *f = ew_line_feed_new(&cfg, err, sizeof err);
    assert_non_null(f);
    check_feed(f, path, &t, stop_after, slow);
    /* A feed reads one input after another. */
    check_feed(f, path, &t, 0, !slow);
    ew_line_feed_free(f);
    unlink(path);
    free(t.data);
}

static void test_small_input(void **state)
{
    (void)state;
    run_case(40, false, 0, false, false);
}

static void test_many_batches_plain(void **state)
{
    (void)state;
    run_case(30000, false, 0, false, false);
}

static void test_many_batches_gzip(void **state)
{
    (void)state;
    run_case(30000, true, 0, true, false);
}

static void test_stop_early(void **state)
{
    (void)state;
    run_case(30000, false, 5000, false, false);
    run_case(30000, false, 5000, true, false);
}

/* More scratch bytes than a batch keeps for decoded records: the reading
 * thread leaves the rest of such a batch for the caller to decode. */
static void test_scratch_heavy(void **state)
{
    (void)state;
    run_case(60000, false, 0, true, true);
}

static const char metadata_text[] =
    "{\"distributions\": [\n"
    "  {\"id\": \"E1\", \"domain\": \"d1.cloudfront.net\"},\n"
    "  {\"id\": \"E2\", \"domain\": \"d2.cloudfront.net\"},\n"
    "  {\"id\": \"E5\", \"domain\": \"d5.cloudfront.net\"}\n"
    "]}\n";

/* Records prepared for ew_core_fold_prepared: values cut and sanitized
 * (long client IPs, control bytes in paths) and distributions looked up
 * (some names known, in any case, some not), by either thread. The same
 * feed then reads an input without preparing. */
static void test_prepared(void **state)
{
    (void)state;
    char mpath[] = "/tmp/test_line_feed_meta.XXXXXX", path[] = "/tmp/test_line_feed.XXXXXX", err[256];
    int fd = mkstemp(mpath);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, metadata_text, strlen(metadata_text)), (ssize_t)strlen(metadata_text));
    close(fd);
    ew_metadata *meta = ew_metadata_load(mpath, err, sizeof err);
    unlink(mpath);
    assert_non_null(meta);
    fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    ew_config cfg = small_config();
    ew_line_feed *f = ew_line_feed_new(&cfg, err, sizeof err);
    assert_non_null(f);
    for (int heavy = 0; heavy < 2; heavy++) {
        text t = sample_input(30000, heavy);
        write_file(path, &t, false);
        check_feed_prepared(f, path, &t, 0, false, meta);
        check_feed_prepared(f, path, &t, 0, true, meta);
        check_feed_prepared(f, path, &t, 0, false, NULL);
        free(t.data);
    }
    ew_line_feed_free(f);
    ew_metadata_free(meta);
    unlink(path);
}

static void test_empty_input(void **state)
{
    (void)state;
    char path[] = "/tmp/test_line_feed.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    ew_config cfg = small_config();
    char err[256];
    ew_line_feed *f = ew_line_feed_new(&cfg, err, sizeof err);
    gzFile gz = gzopen(path, "rb");
    assert_true(ew_line_feed_start(f, gz, err, sizeof err));
    ew_cf_record *r = malloc(sizeof *r);
    ew_decode_error e;
    assert_false(ew_line_feed_next(f, r, &e));
    assert_false(ew_line_feed_next(f, r, &e));
    ew_line_feed_free(f); /* stops the input itself */
    gzclose(gz);
    free(r);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_small_input),
        cmocka_unit_test(test_many_batches_plain),
        cmocka_unit_test(test_many_batches_gzip),
        cmocka_unit_test(test_stop_early),
        cmocka_unit_test(test_scratch_heavy),
        cmocka_unit_test(test_prepared),
        cmocka_unit_test(test_empty_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
