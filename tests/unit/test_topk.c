/* test_topk.c -- unit tests for the per-window heavy-hitter summaries and
 * their text form (processor/topk.c).
 *
 * The Space-Saving guarantees are checked after every single add of a few
 * streams built to defeat them (the heavy value arriving last, a heavy value
 * drowned in one-off values, a skewed pseudo-random mix), against exact
 * counts kept by the test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "edgewatch/topk.h"

static ew_str S(const char *s) { return ew_str_make(s, strlen(s)); }

static void add_n(ew_topk *t, ew_dim dim, const char *v, int n)
{
    for (int i = 0; i < n; i++)
        ew_topk_add(t, dim, S(v));
}

static void assert_format(const ew_topk *t, ew_dim dim, const char *want)
{
    char buf[EW_TOPK_TEXT_MAX];
    size_t n = ew_topk_format(t, dim, buf, sizeof buf);
    assert_string_equal(buf, want);
    assert_int_equal(n, strlen(want));
}

static void assert_merge(const char *a, const char *b, size_t keep, const char *want)
{
    char out[EW_TOPK_MERGED_MAX];
    size_t n = ew_topk_merge_text(a, strlen(a), b, strlen(b), keep, out, sizeof out);
    assert_string_equal(out, want);
    assert_int_equal(n, strlen(want));
}

/* ---- exact counting ---- */

static void test_exact_counts_few_values(void **state)
{
    (void)state;
    ew_topk t;
    ew_topk_clear(&t);
    add_n(&t, EW_DIM_CLIENT_IP, "192.0.2.1", 5);
    add_n(&t, EW_DIM_CLIENT_IP, "2001:db8::1", 3);
    add_n(&t, EW_DIM_CLIENT_IP, "192.0.2.1", 2);
    add_n(&t, EW_DIM_CLIENT_IP, "10.0.0.1", 1);
    add_n(&t, EW_DIM_ASN, "16509", 4);
    assert_format(&t, EW_DIM_CLIENT_IP, "7\t192.0.2.1\n3\t2001:db8::1\n1\t10.0.0.1\n");
    assert_format(&t, EW_DIM_ASN, "4\t16509\n");
    assert_format(&t, EW_DIM_URI, "");
}

/* A full summary evicts the smallest count, the lowest slot among equals,
 * and the newcomer inherits that count plus one. */
static void test_eviction_rule(void **state)
{
    (void)state;
    ew_topk t;
    ew_topk_clear(&t);
    add_n(&t, EW_DIM_URI, "/a", 2); /* slot 0 */
    add_n(&t, EW_DIM_URI, "/b", 1); /* slot 1 */
    add_n(&t, EW_DIM_URI, "/c", 1); /* slot 2 */
    /* The text shows count - inherited count: an evicting value starts at 1. */
    add_n(&t, EW_DIM_URI, "/d", 1); /* replaces /b, not /c */
    assert_format(&t, EW_DIM_URI, "2\t/a\n1\t/c\n1\t/d\n");
    add_n(&t, EW_DIM_URI, "/e", 1); /* replaces /c, the only 1 */
    assert_format(&t, EW_DIM_URI, "2\t/a\n1\t/d\n1\t/e\n");
    add_n(&t, EW_DIM_URI, "/f", 1); /* all 2: replaces slot 0 */
    assert_format(&t, EW_DIM_URI, "1\t/d\n1\t/e\n1\t/f\n");
    add_n(&t, EW_DIM_URI, "/d", 3); /* a real heavy hitter climbs */
    assert_format(&t, EW_DIM_URI, "4\t/d\n1\t/e\n1\t/f\n");
}

static void test_count_saturates(void **state)
{
    (void)state;
    ew_topk t;
    ew_topk_clear(&t);
    add_n(&t, EW_DIM_EDGE, "SFO53-P7", 1);
    t.count[EW_TOPK_IP_SLOTS + 3 * EW_TOPK_SLOTS] = UINT32_MAX - 1; /* the first edge slot */
    add_n(&t, EW_DIM_EDGE, "SFO53-P7", 2);
    assert_format(&t, EW_DIM_EDGE, "4294967295\tSFO53-P7\n");
}

/* ---- Space-Saving guarantees ---- */

enum { IDS = 64 };

typedef struct {
    ew_topk t;
    uint64_t truth[IDS];
    uint64_t n;
} stream;

static void check_present_counts(const stream *s, const ew_top_entry *e, size_t k, bool *present)
{
    uint64_t sum = 0;
    for (size_t i = 0; i < k; i++) {
        int id = atoi(e[i].value + 1);
        assert_true(id >= 0 && id < IDS);
        present[id] = true;
        sum += e[i].count;
        /* The text carries the lower bound: never above the truth, and
         * short of it by at most N / slots. */
        assert_true(e[i].count >= 1 && e[i].count <= s->truth[id]);
        assert_true((s->truth[id] - e[i].count) * EW_TOPK_SLOTS <= s->n);
    }
    assert_true(sum <= s->n);
}

static void check_guarantees(const stream *s)
{
    char text[EW_TOPK_TEXT_MAX];
    size_t len = ew_topk_format(&s->t, EW_DIM_URI, text, sizeof text);
    ew_top_entry e[EW_TOPK_SLOTS + 1];
    size_t k = ew_topk_parse(text, len, e, EW_TOPK_SLOTS + 1);
    assert_true(k <= EW_TOPK_SLOTS);
    bool present[IDS] = {false};
    check_present_counts(s, e, k, present);
    for (int id = 0; id < IDS; id++)
        if (s->truth[id] * EW_TOPK_SLOTS > s->n)
            assert_true(present[id]);
}

static void feed(stream *s, int id)
{
    char name[8];
    snprintf(name, sizeof name, "v%02d", id);
    ew_topk_add(&s->t, EW_DIM_URI, S(name));
    s->truth[id]++;
    s->n++;
    check_guarantees(s);
}

static void stream_init(stream *s)
{
    memset(s, 0, sizeof *s);
    ew_topk_clear(&s->t);
}

static void test_guarantee_heavy_last(void **state)
{
    (void)state;
    stream s;
    stream_init(&s);
    for (int round = 0; round < 2; round++)
        for (int id = 1; id <= 60; id++)
            feed(&s, id);
    for (int i = 0; i < 61; i++)
        feed(&s, 0);
    assert_true(s.truth[0] * EW_TOPK_SLOTS > s.n);
}

static void test_guarantee_heavy_among_one_offs(void **state)
{
    (void)state;
    stream s;
    stream_init(&s);
    static const bool heavy[5] = {true, false, true, false, false}; /* 2/5 > 1/3 */
    int fresh = 1;
    for (int i = 0; i < 1000; i++) {
        if (heavy[i % 5]) {
            feed(&s, 0);
        } else {
            feed(&s, fresh);
            fresh = fresh % (IDS - 1) + 1;
        }
    }
}

static void test_guarantee_skewed_random(void **state)
{
    (void)state;
    stream s;
    stream_init(&s);
    uint32_t x = 12345;
    for (int i = 0; i < 3000; i++) {
        x = x * 1664525u + 1013904223u;
        uint32_t r = (x >> 8) % 100;
        feed(&s, r < 36 ? 0 : r < 70 ? 1 : 2 + (int)((x >> 16) % (IDS - 2)));
    }
}

/* ---- text order ---- */

static void test_format_order_ties(void **state)
{
    (void)state;
    ew_topk t;
    ew_topk_clear(&t);
    /* Unsigned bytes: 'B' < 'a' < 'ab' (prefix first) < "\xc3\xa9". */
    add_n(&t, EW_DIM_URI, "\xc3\xa9", 1);
    add_n(&t, EW_DIM_URI, "ab", 1);
    add_n(&t, EW_DIM_URI, "a", 1);
    assert_format(&t, EW_DIM_URI, "1\ta\n1\tab\n1\t\xc3\xa9\n");
    ew_topk_clear(&t);
    add_n(&t, EW_DIM_COUNTRY, "a", 1);
    add_n(&t, EW_DIM_COUNTRY, "B", 1);
    add_n(&t, EW_DIM_COUNTRY, "C", 2);
    assert_format(&t, EW_DIM_COUNTRY, "2\tC\n1\tB\n1\ta\n");
}

/* ---- truncation and sanitizing ---- */

static void repeat(char *dst, const char *unit, int times)
{
    dst[0] = '\0';
    for (int i = 0; i < times; i++)
        strcat(dst, unit);
}

static void test_truncate_at_utf8_boundary(void **state)
{
    (void)state;
    ew_topk t;
    ew_topk_clear(&t);
    char v[128], want[160];
    repeat(v, "\xc3\xa9", 35); /* 70 bytes; 55 would split the 28th char */
    ew_topk_add(&t, EW_DIM_URI, S(v));
    v[54] = '\0';
    snprintf(want, sizeof want, "1\t%s\n", v);
    assert_format(&t, EW_DIM_URI, want);

    repeat(v, "1", 44);
    strcat(v, "\xc3\xa9"); /* 46 bytes: the cut at 45 would split it */
    ew_topk_add(&t, EW_DIM_CLIENT_IP, S(v));
    v[44] = '\0';
    snprintf(want, sizeof want, "1\t%s\n", v);
    assert_format(&t, EW_DIM_CLIENT_IP, want);

    ew_topk_add(&t, EW_DIM_EDGE, S("\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac")); /* 4 x 3 bytes */
    assert_format(&t, EW_DIM_EDGE, "1\t\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\n");
    ew_topk_add(&t, EW_DIM_COUNTRY, S("\xf0\x9f\x98\x80")); /* 4 bytes > 3: nothing left */
    ew_topk_add(&t, EW_DIM_COUNTRY, S("\xc3\x84\xc3\x96"));
    assert_format(&t, EW_DIM_COUNTRY, "1\t\xc3\x84\n");
}

/* Bytes that are not UTF-8 are cut at most 3 bytes short of the capacity:
 * no real sequence has more continuation bytes than that. */
static void test_truncate_not_utf8(void **state)
{
    (void)state;
    ew_topk t;
    ew_topk_clear(&t);
    char v[64], want[80];
    memset(v, 0x80, 50);
    v[50] = '\0';
    ew_topk_add(&t, EW_DIM_CLIENT_IP, S(v));
    v[EW_TOPK_CAP_CLIENT_IP - 3] = '\0';
    snprintf(want, sizeof want, "1\t%s\n", v);
    assert_format(&t, EW_DIM_CLIENT_IP, want);
}

static void test_truncated_values_are_one_value(void **state)
{
    (void)state;
    ew_topk t;
    ew_topk_clear(&t);
    char v[128], want[160];
    repeat(v, "/x", 40);
    strcpy(v + 70, "tail-one");
    ew_topk_add(&t, EW_DIM_URI, S(v));
    strcpy(v + 70, "tail-two");
    ew_topk_add(&t, EW_DIM_URI, S(v));
    v[EW_TOPK_CAP_URI] = '\0';
    snprintf(want, sizeof want, "2\t%s\n", v);
    assert_format(&t, EW_DIM_URI, want);
}

static void test_sanitize_control_bytes(void **state)
{
    (void)state;
    ew_topk t;
    ew_topk_clear(&t);
    ew_topk_add(&t, EW_DIM_URI, ew_str_make("a\tb\nc\x7f\x01\0d", 9));
    ew_topk_add(&t, EW_DIM_URI, S("a?b?c???d"));
    ew_topk_add(&t, EW_DIM_URI, S("\x1f \x80~"));
    assert_format(&t, EW_DIM_URI, "2\ta?b?c???d\n1\t? \x80~\n");
}

/* ---- empty values and records ---- */

static void test_empty_values_ignored(void **state)
{
    (void)state;
    ew_topk t;
    ew_topk_clear(&t);
    ew_topk_add(&t, EW_DIM_URI, ew_str_make("abc", 0));
    ew_topk_add(&t, EW_DIM_ASN, ew_str_make(NULL, 0));
    ew_cf_record r;
    ew_cf_record_reset(&r);
    ew_topk_add_record(&t, &r);
    for (int d = 0; d < EW_DIMS; d++) {
        char buf[8] = "#######";
        assert_int_equal(ew_topk_format(&t, (ew_dim)d, buf, sizeof buf), 0);
        assert_string_equal(buf, "");
    }
}

static void test_add_record_dimensions(void **state)
{
    (void)state;
    ew_topk t;
    ew_topk_clear(&t);
    ew_cf_record r;
    ew_cf_record_reset(&r);
    r.client_ip = S("198.51.100.7");
    r.asn = S("16509");
    r.country = S("DE");
    r.uri_path = S("/index.html");
    r.edge_location = S("FRA56-P1");
    r.uri_stem = S("/index.html?q=1");
    ew_topk_add_record(&t, &r);
    r.country = ew_str_make(NULL, 0);
    ew_topk_add_record(&t, &r);
    assert_format(&t, EW_DIM_CLIENT_IP, "2\t198.51.100.7\n");
    assert_format(&t, EW_DIM_ASN, "2\t16509\n");
    assert_format(&t, EW_DIM_COUNTRY, "1\tDE\n");
    assert_format(&t, EW_DIM_URI, "2\t/index.html\n");
    assert_format(&t, EW_DIM_EDGE, "2\tFRA56-P1\n");
}

/* ---- cleaning ahead (ew_topk_clean_record) ---- */

/* A value of 0..80 bytes from a small alphabet with control bytes, DEL,
 * and UTF-8 sequences that the cut may split. */
static size_t random_value(uint32_t *seed, char *buf)
{
    static const char *const parts[] = {"a", "b", "1", ".", ":", "\t", "\n", "\x01", "\x7f", "\xc3\xa9", "\xe2\x82\xac",
                                        "\xf0\x9f\x98\x80"};
    size_t n = 0, want;
    *seed = *seed * 1103515245u + 12345u;
    want = (*seed >> 16) % 81;
    while (n < want) {
        *seed = *seed * 1103515245u + 12345u;
        const char *p = parts[(*seed >> 16) % (sizeof parts / sizeof parts[0])];
        size_t k = strlen(p);
        memcpy(buf + n, p, k);
        n += k;
    }
    return n;
}

/* Counting a cleaned record with ew_topk_add_clean_record leaves the very
 * same struct as counting the original with ew_topk_add_record; cleaning
 * twice changes nothing, and add_record counts a cleaned record the same. */
static void test_clean_record_counts_the_same(void **state)
{
    (void)state;
    ew_topk *a = malloc(sizeof *a), *b = malloc(sizeof *b), *c = malloc(sizeof *c);
    memset(a, 0, sizeof *a);
    memset(b, 0, sizeof *b);
    memset(c, 0, sizeof *c);
    uint32_t seed = 7;
    for (int i = 0; i < 20000; i++) {
        char vals[5][100], clean[EW_TOPK_CLEAN_MAX], again[EW_TOPK_CLEAN_MAX];
        ew_cf_record r;
        ew_cf_record_reset(&r);
        ew_str *dims[5] = {&r.client_ip, &r.asn, &r.country, &r.uri_path, &r.edge_location};
        for (int d = 0; d < 5; d++)
            *dims[d] = ew_str_make(vals[d], i % 5 == 0 ? random_value(&seed, vals[d]) % 4 : random_value(&seed, vals[d]));
        ew_topk_add_record(a, &r);
        ew_cf_record cleaned = r;
        size_t used = ew_topk_clean_record(&cleaned, clean);
        assert_true(used <= EW_TOPK_CLEAN_MAX);
        ew_topk_add_clean_record(b, &cleaned);
        ew_cf_record twice = cleaned;
        ew_topk_clean_record(&twice, again);
        ew_str *c1[5] = {&cleaned.client_ip, &cleaned.asn, &cleaned.country, &cleaned.uri_path, &cleaned.edge_location};
        ew_str *c2[5] = {&twice.client_ip, &twice.asn, &twice.country, &twice.uri_path, &twice.edge_location};
        for (int d = 0; d < 5; d++) {
            assert_int_equal(c1[d]->len, c2[d]->len);
            if (c1[d]->len)
                assert_memory_equal(c1[d]->ptr, c2[d]->ptr, c1[d]->len);
        }
        ew_topk_add_record(c, &cleaned);
    }
    assert_memory_equal(a, b, sizeof *a);
    assert_memory_equal(a, c, sizeof *a);
    free(a);
    free(b);
    free(c);
}

static void test_clear_empties(void **state)
{
    (void)state;
    ew_topk t;
    ew_topk_clear(&t);
    for (int d = 0; d < EW_DIMS; d++) {
        add_n(&t, (ew_dim)d, "1", 3);
        add_n(&t, (ew_dim)d, "2", 2);
        add_n(&t, (ew_dim)d, "3", 1);
    }
    ew_topk_clear(&t);
    for (int d = 0; d < EW_DIMS; d++)
        assert_format(&t, (ew_dim)d, "");
    add_n(&t, EW_DIM_ASN, "4", 1);
    assert_format(&t, EW_DIM_ASN, "1\t4\n");
}

static void test_dim_names(void **state)
{
    (void)state;
    static const char *const names[EW_DIMS] = {"client_ip", "asn", "country", "uri", "edge_location"};
    static const char *const fields[EW_DIMS] = {"top:ip", "top:asn", "top:country", "top:uri", "top:edge"};
    for (int d = 0; d < EW_DIMS; d++) {
        assert_string_equal(ew_dim_name((ew_dim)d), names[d]);
        assert_string_equal(ew_dim_field((ew_dim)d), fields[d]);
    }
    assert_string_equal(ew_dim_name(EW_DIMS), "unknown");
}

/* ---- format into small buffers ---- */

static void assert_format_cap(const ew_topk *t, ew_dim dim, size_t cap, const char *want)
{
    char buf[64];
    memset(buf, '#', sizeof buf);
    size_t n = ew_topk_format(t, dim, buf, cap);
    assert_string_equal(buf, want);
    assert_int_equal(n, strlen(want));
}

static void test_format_cap_too_small(void **state)
{
    (void)state;
    ew_topk t;
    ew_topk_clear(&t);
    add_n(&t, EW_DIM_URI, "a", 3);
    add_n(&t, EW_DIM_URI, "bb", 2);
    add_n(&t, EW_DIM_URI, "c", 1); /* "3\ta\n2\tbb\n1\tc\n": 13 bytes */
    char buf[4] = "###";
    assert_int_equal(ew_topk_format(&t, EW_DIM_URI, buf, 0), 0);
    assert_string_equal(buf, "###");
    assert_format_cap(&t, EW_DIM_URI, 1, "");
    assert_format_cap(&t, EW_DIM_URI, 4, "");
    assert_format_cap(&t, EW_DIM_URI, 5, "3\ta\n");
    assert_format_cap(&t, EW_DIM_URI, 9, "3\ta\n");
    assert_format_cap(&t, EW_DIM_URI, 10, "3\ta\n2\tbb\n");
    assert_format_cap(&t, EW_DIM_URI, 13, "3\ta\n2\tbb\n");
    assert_format_cap(&t, EW_DIM_URI, 14, "3\ta\n2\tbb\n1\tc\n");
}

/* A list of the heaviest must not skip one: once an entry does not fit,
 * lighter ones are not written even when they would. */
static void test_format_cap_keeps_prefix(void **state)
{
    (void)state;
    ew_topk t;
    ew_topk_clear(&t);
    add_n(&t, EW_DIM_URI, "/longvalue", 3);
    add_n(&t, EW_DIM_URI, "/", 1);
    assert_format_cap(&t, EW_DIM_URI, 6, "");
    assert_format_cap(&t, EW_DIM_URI, 14, "3\t/longvalue\n");
}

/* ---- parse ---- */

static void test_parse_round_trip(void **state)
{
    (void)state;
    ew_topk t;
    ew_topk_clear(&t);
    add_n(&t, EW_DIM_URI, "/api/v1/items?", 41);
    add_n(&t, EW_DIM_URI, "/\xc3\xa9t\xc3\xa9", 7);
    add_n(&t, EW_DIM_URI, "/x y", 7);
    char text[EW_TOPK_TEXT_MAX];
    size_t len = ew_topk_format(&t, EW_DIM_URI, text, sizeof text);
    ew_top_entry e[8];
    assert_int_equal(ew_topk_parse(text, len, e, 8), 3);
    assert_string_equal(e[0].value, "/api/v1/items?");
    assert_int_equal(e[0].count, 41);
    assert_string_equal(e[1].value, "/x y");
    assert_int_equal(e[1].count, 7);
    assert_string_equal(e[2].value, "/\xc3\xa9t\xc3\xa9");
    assert_int_equal(e[2].count, 7);
    assert_int_equal(ew_topk_parse(text, len, e, 2), 2);
    assert_int_equal(ew_topk_parse(text, 0, e, 8), 0);
}

static void test_parse_skips_garbage(void **state)
{
    (void)state;
    char v71[72], v72[73], text[512];
    memset(v71, 'v', 71);
    v71[71] = '\0';
    memset(v72, 'w', 72);
    v72[72] = '\0';
    snprintf(text, sizeof text,
             "\n" "garbage\n" "\tnocount\n" "12\n" "12\t\n" "-1\tneg\n" "+1\tplus\n" "1x\tbad\n"
             "0\tzero\n" "1 \tspace\n" "1\tctl\x01\n" "1\tcr\r\n" "1\ttab\tinside\n" "1234567890123456\ttoo-long\n"
             "1\t%s\n" "007\tseven\n" "999999999999999\tbig\n" "2\t%s\n" "3\tlast",
             v72, v71);
    ew_top_entry e[8];
    assert_int_equal(ew_topk_parse(text, strlen(text), e, 8), 4);
    assert_string_equal(e[0].value, "seven");
    assert_int_equal(e[0].count, 7);
    assert_string_equal(e[1].value, "big");
    assert_int_equal(e[1].count, 999999999999999ULL);
    assert_string_equal(e[2].value, v71);
    assert_int_equal(e[2].count, 2);
    assert_string_equal(e[3].value, "last");
    assert_int_equal(e[3].count, 3);
    /* A NUL is a control byte too; cap stops early. */
    assert_int_equal(ew_topk_parse("1\ta\0b\n2\tc\n3\td\n", 15, e, 1), 1);
    assert_string_equal(e[0].value, "c");
}

/* ---- merge ---- */

static void test_merge_sums_and_sorts(void **state)
{
    (void)state;
    assert_merge("5\tx\n2\ty\n", "3\ty\n1\tz\n", EW_TOPK_KEEP, "5\tx\n5\ty\n1\tz\n");
    assert_merge("1\tb\n1\tB\n", "1\t\xc3\xa9\n1\ta\n1\tab\n", EW_TOPK_KEEP,
                 "1\tB\n1\ta\n1\tab\n1\tb\n1\t\xc3\xa9\n");
    assert_merge("2\tx\n3\tx\n", "", EW_TOPK_KEEP, "5\tx\n");
    assert_merge("", "", EW_TOPK_KEEP, "");
    assert_merge("junk\n4\tq\n\n0\tr\n", "x\ty\n", EW_TOPK_KEEP, "4\tq\n");
    assert_merge("999999999999999\tbig\n", "999999999999999\tbig\n", 1, "1999999999999998\tbig\n");
}

static void test_merge_keeps_first(void **state)
{
    (void)state;
    const char *a = "9\ta\n7\tb\n5\tc\n", *b = "8\td\n7\tbb\n1\te\n";
    assert_merge(a, b, 3, "9\ta\n8\td\n7\tb\n");
    assert_merge(a, b, 4, "9\ta\n8\td\n7\tb\n7\tbb\n");
    assert_merge(a, b, 0, "");
    assert_merge(a, b, 100, "9\ta\n8\td\n7\tb\n7\tbb\n5\tc\n1\te\n");
}

/* Each input contributes its first EW_TOPK_MERGE_IN entries only (the Lua
 * side does the same), however heavy a later one is. */
static void test_merge_input_limit(void **state)
{
    (void)state;
    char a[EW_TOPK_MERGE_IN * 16 + 32] = "";
    size_t len = 0;
    for (int i = 0; i < EW_TOPK_MERGE_IN; i++)
        len += (size_t)snprintf(a + len, sizeof a - len, "1\tv%02d\n", i);
    snprintf(a + len, sizeof a - len, "100\toverflow\n");
    char out[EW_TOPK_MERGE_IN * 16 + 32];
    size_t n = ew_topk_merge_text(a, strlen(a), "2\tb\n", 4, 100, out, sizeof out);
    assert_null(strstr(out, "overflow"));
    assert_int_equal(n, len + 4);
    assert_memory_equal(out, "2\tb\n1\tv00\n", 10);
}

static void test_merge_matches_format(void **state)
{
    (void)state;
    ew_topk t;
    ew_topk_clear(&t);
    add_n(&t, EW_DIM_CLIENT_IP, "203.0.113.9", 4);
    add_n(&t, EW_DIM_CLIENT_IP, "203.0.113.10", 4);
    add_n(&t, EW_DIM_CLIENT_IP, "::ffff:203.0.113.9", 2);
    char text[EW_TOPK_TEXT_MAX], merged[EW_TOPK_MERGED_MAX];
    size_t len = ew_topk_format(&t, EW_DIM_CLIENT_IP, text, sizeof text);
    assert_int_equal(ew_topk_merge_text(NULL, 0, text, len, EW_TOPK_KEEP, merged, sizeof merged), len);
    assert_string_equal(merged, text);
    assert_merge(text, text, EW_TOPK_KEEP, "8\t203.0.113.10\n8\t203.0.113.9\n4\t::ffff:203.0.113.9\n");
}

/* The in-memory store (state/memory.c) stores a formatted list as it is
 * where nothing was stored yet, instead of merging it with nothing: that
 * must give the same bytes for every sketch, whatever its values (long,
 * cut, sanitized, UTF-8), counts and errors. */
static void test_merge_of_format_is_identity(void **state)
{
    (void)state;
    uint32_t seed = 11;
    for (int round = 0; round < 2000; round++) {
        ew_topk t;
        ew_topk_clear(&t);
        int adds = 1 + round % 97;
        for (int i = 0; i < adds; i++) {
            char v[100];
            size_t n = random_value(&seed, v);
            /* Few distinct values now and then, so some counts grow large. */
            if (round % 3 == 0)
                n %= 3;
            for (int d = 0; d < EW_DIMS; d++)
                ew_topk_add(&t, (ew_dim)d, ew_str_make(v, n));
        }
        for (int d = 0; d < EW_DIMS; d++) {
            char text[EW_TOPK_TEXT_MAX], merged[EW_TOPK_MERGED_MAX];
            size_t len = ew_topk_format(&t, (ew_dim)d, text, sizeof text);
            assert_int_equal(ew_topk_merge_text("", 0, text, len, EW_TOPK_KEEP, merged, sizeof merged), len);
            assert_memory_equal(merged, text, len + 1);
        }
    }
}

static void test_merge_cap_too_small(void **state)
{
    (void)state;
    char out[16];
    memset(out, '#', sizeof out);
    assert_int_equal(ew_topk_merge_text("3\ta\n", 4, "2\tbb\n", 5, 10, out, 9), 4);
    assert_string_equal(out, "3\ta\n");
    assert_int_equal(ew_topk_merge_text("3\ta\n", 4, "2\tbb\n", 5, 10, out, 10), 9);
    assert_string_equal(out, "3\ta\n2\tbb\n");
    memset(out, '#', sizeof out);
    assert_int_equal(ew_topk_merge_text("3\ta\n", 4, "", 0, 10, out, 0), 0);
    assert_int_equal(out[0], '#');
}

/* The same inputs and expected bytes as test_flush_merges_top_lists in
 * tests/integration/test_lua.sh, which runs state/flush.lua on a real
 * server: together they pin the C and Lua merges to one result. */
static void test_merge_shared_vector_with_lua(void **state)
{
    (void)state;
    assert_merge("5\t/x\n3\t/b\n3\t/a\n1\t/zz\n",
                 "2\t/a\n9\t/q\n1\t/\xc3\xa9\n1\t/e\n4\t/c\n2\tbad\tline\n0\t/zero\n1\t/1\n1\t/2\n1\t/3\n1\t/4\n",
                 EW_TOPK_KEEP, "9\t/q\n5\t/a\n5\t/x\n4\t/c\n3\t/b\n1\t/1\n1\t/2\n1\t/3\n1\t/4\n1\t/e\n");
}


/* A DDoS from a handful of addresses: 5 IPs send two thirds of a window,
 * interleaved with a third of one-off addresses. All 5 must come out, each
 * with a lower bound of at least 10 % of the window. */
static void test_client_ips_of_a_ddos(void **state)
{
    (void)state;
    ew_topk t;
    ew_topk_clear(&t);
    uint64_t n = 0;
    for (int i = 0; i < 3000; i++) {
        char ip[32];
        if (i % 3 == 2)
            snprintf(ip, sizeof ip, "198.51.%d.%d", i / 250, i % 250);
        else
            snprintf(ip, sizeof ip, "203.0.113.%d", (i * 7) % 5 + 1);
        ew_topk_add(&t, EW_DIM_CLIENT_IP, S(ip));
        n++;
    }
    char text[EW_TOPK_TEXT_MAX];
    size_t len = ew_topk_format(&t, EW_DIM_CLIENT_IP, text, sizeof text);
    ew_top_entry e[EW_TOPK_SLOTS_MAX];
    size_t k = ew_topk_parse(text, len, e, EW_TOPK_SLOTS_MAX);
    assert_true(k >= 5);
    for (size_t i = 0; i < 5; i++) {
        if (strncmp(e[i].value, "203.0.113.", 10) != 0 || e[i].count * 10 < n)
            fail_msg("entry %zu: %s with %llu of %llu", i, e[i].value, (unsigned long long)e[i].count,
                     (unsigned long long)n);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exact_counts_few_values),
        cmocka_unit_test(test_eviction_rule),
        cmocka_unit_test(test_count_saturates),
        cmocka_unit_test(test_client_ips_of_a_ddos),
        cmocka_unit_test(test_guarantee_heavy_last),
        cmocka_unit_test(test_guarantee_heavy_among_one_offs),
        cmocka_unit_test(test_guarantee_skewed_random),
        cmocka_unit_test(test_format_order_ties),
        cmocka_unit_test(test_truncate_at_utf8_boundary),
        cmocka_unit_test(test_truncate_not_utf8),
        cmocka_unit_test(test_truncated_values_are_one_value),
        cmocka_unit_test(test_sanitize_control_bytes),
        cmocka_unit_test(test_empty_values_ignored),
        cmocka_unit_test(test_add_record_dimensions),
        cmocka_unit_test(test_clear_empties),
        cmocka_unit_test(test_dim_names),
        cmocka_unit_test(test_format_cap_too_small),
        cmocka_unit_test(test_format_cap_keeps_prefix),
        cmocka_unit_test(test_parse_round_trip),
        cmocka_unit_test(test_parse_skips_garbage),
        cmocka_unit_test(test_merge_sums_and_sorts),
        cmocka_unit_test(test_merge_keeps_first),
        cmocka_unit_test(test_merge_input_limit),
        cmocka_unit_test(test_merge_matches_format),
        cmocka_unit_test(test_clean_record_counts_the_same),
        cmocka_unit_test(test_merge_shared_vector_with_lua),
        cmocka_unit_test(test_merge_of_format_is_identity),
        cmocka_unit_test(test_merge_cap_too_small),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
