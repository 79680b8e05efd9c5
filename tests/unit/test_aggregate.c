/* test_aggregate.c -- unit tests for entity interning and per-(entity,
 * window) deltas (processor/aggregate.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "edgewatch/aggregate.h"

static ew_str S(const char *s) { return ew_str_make(s, strlen(s)); }

static ew_cf_record rec(uint32_t status, uint64_t bytes, ew_edge_result result, int32_t ttfb, int32_t ofbl)
{
    ew_cf_record r;
    memset(&r, 0, sizeof r);
    r.ts_ms = 1700000000000LL;
    r.status = status;
    r.bytes = bytes;
    r.result = result;
    r.ttfb_ms = ttfb;
    r.origin_fbl_ms = ofbl;
    r.host_header = S("d1.cloudfront.net");
    return r;
}

/* ---- interning ---- */

static void test_intern_same_and_different(void **state)
{
    (void)state;
    ew_aggregate *a = ew_aggregate_new(16);
    assert_non_null(a);
    assert_int_equal(ew_entity_count(a), 0);
    uint32_t x = ew_entity_intern(a, S("E2QWRUHAPOMQZL"));
    uint32_t y = ew_entity_intern(a, S("d111111abcdef8.cloudfront.net"));
    assert_int_not_equal(x, y);
    assert_int_equal(ew_entity_count(a), 2);
    /* The same name, from a different buffer and as a sub-slice. */
    char buf[] = "xxE2QWRUHAPOMQZLyy";
    assert_int_equal(ew_entity_intern(a, ew_str_make(buf + 2, 14)), x);
    assert_int_equal(ew_entity_intern(a, S("d111111abcdef8.cloudfront.net")), y);
    assert_int_equal(ew_entity_count(a), 2);
    /* A prefix is a different entity; names are NUL-terminated copies. */
    uint32_t z = ew_entity_intern(a, ew_str_make(buf + 2, 13));
    assert_int_not_equal(z, x);
    assert_int_equal(ew_entity_count(a), 3);
    assert_string_equal(ew_entity_name(a, x), "E2QWRUHAPOMQZL");
    assert_string_equal(ew_entity_name(a, z), "E2QWRUHAPOMQZ");
    buf[2] = '#';
    assert_string_equal(ew_entity_name(a, x), "E2QWRUHAPOMQZL");
    /* Case matters for ids (metadata handles case-insensitive domains). */
    assert_int_not_equal(ew_entity_intern(a, S("e2qwruhapomqzl")), x);
    ew_aggregate_free(a);
}

static void test_intern_many_entities(void **state)
{
    (void)state;
    enum { N = 3000 };
    ew_aggregate *a = ew_aggregate_new(16);
    char name[64];
    for (int i = 0; i < N; i++) {
        snprintf(name, sizeof name, "d%05d.cloudfront.net", i);
        uint32_t id = ew_entity_intern(a, S(name));
        assert_int_equal(id, (uint32_t)i); /* dense ids in first-seen order */
    }
    assert_int_equal(ew_entity_count(a), N);
    /* After the index grew several times past 1024, every name still maps
     * to its own id, and nothing new is created. */
    for (int i = N - 1; i >= 0; i--) {
        snprintf(name, sizeof name, "d%05d.cloudfront.net", i);
        assert_int_equal(ew_entity_intern(a, S(name)), (uint32_t)i);
        assert_string_equal(ew_entity_name(a, (uint32_t)i), name);
    }
    assert_int_equal(ew_entity_count(a), N);
    uint32_t extra = ew_entity_intern(a, S("new.example.com"));
    assert_int_equal(extra, N);
    assert_int_equal(ew_entity_count(a), N + 1);
    ew_aggregate_free(a);
}

/* ---- pair table ---- */

static void test_slot_find_or_insert(void **state)
{
    (void)state;
    ew_aggregate *a = ew_aggregate_new(8);
    uint32_t e1 = ew_entity_intern(a, S("E1")), e2 = ew_entity_intern(a, S("E2"));
    assert_int_equal(ew_aggregate_pairs(a), 0);
    ew_delta *d = ew_aggregate_slot(a, e1, 60000);
    assert_non_null(d);
    assert_int_equal(ew_aggregate_pairs(a), 1);
    assert_int_equal(d->entity, e1);
    assert_int_equal(d->window_start_ms, 60000);
    assert_int_equal(d->requests, 0);
    assert_int_equal(ew_aggregate_pairs(a), 1);
    assert_ptr_equal(ew_aggregate_slot(a, e1, 60000), d);
    assert_int_equal(ew_aggregate_pairs(a), 1);
    ew_delta *d2 = ew_aggregate_slot(a, e1, 120000);
    ew_delta *d3 = ew_aggregate_slot(a, e2, 60000);
    assert_non_null(d2);
    assert_non_null(d3);
    assert_ptr_not_equal(d2, d);
    assert_ptr_not_equal(d3, d);
    assert_ptr_not_equal(d3, d2);
    assert_int_equal(ew_aggregate_pairs(a), 3);
    /* Insertion order. */
    assert_ptr_equal(ew_aggregate_pair(a, 0), d);
    assert_ptr_equal(ew_aggregate_pair(a, 1), d2);
    assert_ptr_equal(ew_aggregate_pair(a, 2), d3);
    assert_int_equal(ew_aggregate_pair(a, 2)->entity, e2);
    ew_aggregate_free(a);
}

static void test_slot_null_when_full(void **state)
{
    (void)state;
    ew_aggregate *a = ew_aggregate_new(3);
    uint32_t e = ew_entity_intern(a, S("E1"));
    assert_non_null(ew_aggregate_slot(a, e, 0));
    assert_non_null(ew_aggregate_slot(a, e, 60000));
    assert_false(ew_aggregate_full(a));
    ew_delta *last = ew_aggregate_slot(a, e, 120000);
    assert_non_null(last);
    assert_true(ew_aggregate_full(a));
    assert_null(ew_aggregate_slot(a, e, 180000));
    assert_null(ew_aggregate_slot(a, e + 1, 0));
    assert_int_equal(ew_aggregate_pairs(a), 3);
    /* Existing pairs are still found when full. */
    assert_ptr_equal(ew_aggregate_slot(a, e, 120000), last);
    assert_int_equal(ew_aggregate_pairs(a), 3);
    ew_aggregate_free(a);
}

static void test_many_pairs_distinct(void **state)
{
    (void)state;
    enum { N = 2000 };
    ew_aggregate *a = ew_aggregate_new(N);
    for (uint32_t i = 0; i < N; i++) {
        ew_delta *d = ew_aggregate_slot(a, i % 50, (int64_t)(i / 50) * 60000);
        assert_non_null(d);
        assert_int_equal(d->requests, 0);
        d->requests = i + 1;
    }
    assert_true(ew_aggregate_full(a));
    for (uint32_t i = 0; i < N; i++) {
        ew_delta *d = ew_aggregate_slot(a, i % 50, (int64_t)(i / 50) * 60000);
        assert_non_null(d);
        assert_int_equal(d->requests, i + 1);
        assert_int_equal(ew_aggregate_pair(a, i)->requests, i + 1);
    }
    ew_aggregate_free(a);
}

/* ---- deltas ---- */

static void test_latency_buckets(void **state)
{
    (void)state;
    assert_int_equal(ew_latency_bucket(0), 0);
    assert_int_equal(ew_latency_bucket(1), 0);
    assert_int_equal(ew_latency_bucket(2), 1);
    assert_int_equal(ew_latency_bucket(3), 2);
    assert_int_equal(ew_latency_bucket(5), 2);
    assert_int_equal(ew_latency_bucket(6), 3);
    assert_int_equal(ew_latency_bucket(10), 3);
    assert_int_equal(ew_latency_bucket(11), 4);
    assert_int_equal(ew_latency_bucket(100), 6);
    assert_int_equal(ew_latency_bucket(101), 7);
    assert_int_equal(ew_latency_bucket(1000), 9);
    assert_int_equal(ew_latency_bucket(5000), 11);
    assert_int_equal(ew_latency_bucket(10000), 12);
    assert_int_equal(ew_latency_bucket(10001), 13);
    assert_int_equal(ew_latency_bucket(86400000), 13);
    assert_int_equal(ew_latency_bounds_ms[0], 1);
    assert_int_equal(ew_latency_bounds_ms[EW_LAT_BUCKETS - 2], 10000);
}

static void test_delta_add_counts(void **state)
{
    (void)state;
    ew_aggregate *a = ew_aggregate_new(4);
    ew_delta *d = ew_aggregate_slot(a, ew_entity_intern(a, S("E1")), 0);
    ew_cf_record r;
    r = rec(200, 100, EW_RESULT_HIT, 1, -1);
    ew_delta_add(d, &r, false);
    r = rec(204, 50, EW_RESULT_HIT, 2, 3);
    ew_delta_add(d, &r, false);
    r = rec(301, 0, EW_RESULT_OTHER, -1, -1);
    ew_delta_add(d, &r, false);
    r = rec(403, 700, EW_RESULT_ERROR, 3, -1);
    ew_delta_add(d, &r, true);
    r = rec(404, 1, EW_RESULT_MISS, 10001, 10001);
    ew_delta_add(d, &r, false);
    r = rec(503, 2, EW_RESULT_CAPACITY, 0, 10000);
    ew_delta_add(d, &r, true);
    r = rec(0, 3, EW_RESULT_LIMIT, -1, -1);
    ew_delta_add(d, &r, false);
    r = rec(600, 4, EW_RESULT_MISS, -1, -1);
    ew_delta_add(d, &r, false);

    assert_int_equal(d->requests, 8);
    assert_int_equal(d->bytes, 860);
    assert_int_equal(d->status[EW_S2XX], 2);
    assert_int_equal(d->status[EW_S3XX], 1);
    assert_int_equal(d->status[EW_S4XX], 2); /* 403 and 404 */
    assert_int_equal(d->status[EW_S403], 1);
    assert_int_equal(d->status[EW_S5XX], 1);
    assert_int_equal(d->status[EW_SOTHER], 2); /* 0 and 600 */
    assert_int_equal(d->result[EW_RESULT_HIT], 2);
    assert_int_equal(d->result[EW_RESULT_MISS], 2);
    assert_int_equal(d->result[EW_RESULT_ERROR], 1);
    assert_int_equal(d->result[EW_RESULT_LIMIT], 1);
    assert_int_equal(d->result[EW_RESULT_CAPACITY], 1);
    assert_int_equal(d->result[EW_RESULT_OTHER], 1);
    assert_int_equal(d->ttfb[0], 2); /* 1 and 0 */
    assert_int_equal(d->ttfb[1], 1); /* 2 */
    assert_int_equal(d->ttfb[2], 1); /* 3 */
    assert_int_equal(d->ttfb[13], 1);
    uint32_t ttfb_total = 0, ofbl_total = 0;
    for (int i = 0; i < EW_LAT_BUCKETS; i++) {
        ttfb_total += d->ttfb[i];
        ofbl_total += d->origin_fbl[i];
    }
    assert_int_equal(ttfb_total, 5); /* absent (-1) values are not counted */
    assert_int_equal(ofbl_total, 3);
    assert_int_equal(d->origin_fbl[2], 1);  /* 3 */
    assert_int_equal(d->origin_fbl[12], 1); /* 10000 */
    assert_int_equal(d->origin_fbl[13], 1); /* 10001 */
    assert_int_equal(d->late, 2);
    assert_true(d->on_time);
    ew_aggregate_free(a);
}

static void test_delta_only_late(void **state)
{
    (void)state;
    ew_aggregate *a = ew_aggregate_new(4);
    ew_delta *d = ew_aggregate_slot(a, ew_entity_intern(a, S("E1")), 0);
    ew_cf_record r = rec(200, 1, EW_RESULT_HIT, -1, -1);
    ew_delta_add(d, &r, true);
    ew_delta_add(d, &r, true);
    assert_int_equal(d->requests, 2);
    assert_int_equal(d->late, 2);
    assert_false(d->on_time);
    ew_delta_add(d, &r, false);
    assert_int_equal(d->late, 2);
    assert_true(d->on_time);
    ew_aggregate_free(a);
}

static void test_delta_fields(void **state)
{
    (void)state;
    ew_aggregate *a = ew_aggregate_new(4);
    ew_delta *d = ew_aggregate_slot(a, ew_entity_intern(a, S("E1")), 0);
    ew_field_value f[EW_DELTA_MAX_FIELDS];

    assert_int_equal(ew_delta_fields(d, f), 0);

    ew_cf_record r = rec(403, 100, EW_RESULT_MISS, 3, -1);
    ew_delta_add(d, &r, false);
    size_t n = ew_delta_fields(d, f);
    static const struct {
        const char *name;
        uint64_t value;
    } want1[] = {{"req", 1}, {"bytes", 100}, {"s4xx", 1}, {"s403", 1}, {"miss", 1}, {"t2", 1}};
    assert_int_equal(n, 6);
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(f[i].name, want1[i].name);
        assert_int_equal(f[i].value, want1[i].value);
    }

    r = rec(200, 0, EW_RESULT_HIT, -1, 10001);
    ew_delta_add(d, &r, true);
    r = rec(503, 5, EW_RESULT_ERROR, 20, 0);
    ew_delta_add(d, &r, false);
    n = ew_delta_fields(d, f);
    static const struct {
        const char *name;
        uint64_t value;
    } want2[] = {
        {"req", 3}, {"bytes", 105}, {"late", 1}, {"s2xx", 1}, {"s4xx", 1}, {"s403", 1}, {"s5xx", 1},
        {"hit", 1}, {"miss", 1}, {"err", 1}, {"t2", 1}, {"t4", 1}, {"o0", 1}, {"o13", 1},
    };
    assert_int_equal(n, sizeof want2 / sizeof want2[0]);
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(f[i].name, want2[i].name);
        assert_int_equal(f[i].value, want2[i].value);
    }

    /* Remaining names: s3xx, sother, limit, cap, oth. */
    r = rec(302, 0, EW_RESULT_LIMIT, -1, -1);
    ew_delta_add(d, &r, false);
    r = rec(0, 0, EW_RESULT_CAPACITY, -1, -1);
    ew_delta_add(d, &r, false);
    r = rec(0, 0, EW_RESULT_OTHER, -1, -1);
    ew_delta_add(d, &r, false);
    n = ew_delta_fields(d, f);
    const char *seen = "";
    uint64_t s3 = 0, so = 0, lim = 0, cap = 0, oth = 0;
    for (size_t i = 0; i < n; i++) {
        if (!strcmp(f[i].name, "s3xx"))
            s3 = f[i].value;
        if (!strcmp(f[i].name, "sother"))
            so = f[i].value;
        if (!strcmp(f[i].name, "limit"))
            lim = f[i].value;
        if (!strcmp(f[i].name, "cap"))
            cap = f[i].value;
        if (!strcmp(f[i].name, "oth"))
            oth = f[i].value;
        seen = f[i].name;
    }
    assert_string_equal(seen, "o13"); /* origin buckets come last */
    assert_int_equal(s3, 1);
    assert_int_equal(so, 2);
    assert_int_equal(lim, 1);
    assert_int_equal(cap, 1);
    assert_int_equal(oth, 1);
    assert_int_equal(n, 19);
    ew_aggregate_free(a);
}

static void test_clear_resets(void **state)
{
    (void)state;
    ew_aggregate *a = ew_aggregate_new(2);
    uint32_t e = ew_entity_intern(a, S("E1"));
    ew_delta *d = ew_aggregate_slot(a, e, 0);
    ew_cf_record r = rec(403, 10, EW_RESULT_MISS, 5, 5);
    ew_delta_add(d, &r, true);
    assert_non_null(ew_aggregate_slot(a, e, 60000));
    assert_true(ew_aggregate_full(a));
    ew_aggregate_clear(a);
    assert_int_equal(ew_aggregate_pairs(a), 0);
    assert_false(ew_aggregate_full(a));
    /* Entities survive a flush. */
    assert_int_equal(ew_entity_count(a), 1);
    assert_int_equal(ew_entity_intern(a, S("E1")), e);
    /* The same pair comes back zeroed. */
    d = ew_aggregate_slot(a, e, 0);
    assert_non_null(d);
    assert_int_equal(d->requests, 0);
    assert_int_equal(d->bytes, 0);
    assert_int_equal(d->late, 0);
    assert_false(d->on_time);
    assert_int_equal(d->status[EW_S403], 0);
    assert_int_equal(d->result[EW_RESULT_MISS], 0);
    assert_int_equal(d->ttfb[2], 0);
    assert_int_equal(d->origin_fbl[2], 0);
    ew_field_value f[EW_DELTA_MAX_FIELDS];
    assert_int_equal(ew_delta_fields(d, f), 0);
    /* And the table has room for max_pairs again. */
    assert_non_null(ew_aggregate_slot(a, e, 120000));
    assert_null(ew_aggregate_slot(a, e, 180000));
    ew_aggregate_free(a);
}

static void test_counter_names_round_trip(void **state)
{
    (void)state;
    assert_int_equal(EW_COUNTERS, 43);
    for (int i = 0; i < EW_COUNTERS; i++)
        assert_int_equal(ew_counter_index(ew_counter_name(i)), i);
    assert_int_equal(ew_counter_index("req"), EW_C_REQ);
    assert_int_equal(ew_counter_index("s403"), EW_C_STATUS + EW_S403);
    assert_int_equal(ew_counter_index("miss"), EW_C_RESULT + EW_RESULT_MISS);
    assert_int_equal(ew_counter_index("t0"), EW_C_TTFB);
    assert_int_equal(ew_counter_index("o13"), EW_C_ORIGIN + 13);
    assert_int_equal(ew_counter_index("top:ip"), -1);
    assert_null(ew_counter_name(EW_COUNTERS));
    /* Every field a delta stores reads back into its counter. */
    ew_delta d;
    memset(&d, 0, sizeof d);
    ew_cf_record r = rec(403, 7, EW_RESULT_ERROR, 3, 15000);
    ew_delta_add(&d, &r, true);
    ew_field_value f[EW_DELTA_MAX_FIELDS];
    size_t n = ew_delta_fields(&d, f);
    for (size_t i = 0; i < n; i++)
        assert_true(ew_counter_index(f[i].name) >= 0);
}

static void test_latency_quantile(void **state)
{
    (void)state;
    uint64_t h[EW_LAT_BUCKETS] = {0};
    assert_int_equal(ew_latency_quantile(h, 0.5), -1);
    h[ew_latency_bucket(3)] = 50;    /* <= 5 ms */
    h[ew_latency_bucket(80)] = 45;   /* <= 100 ms */
    h[ew_latency_bucket(700)] = 4;   /* <= 1000 ms */
    h[ew_latency_bucket(20000)] = 1; /* open bucket */
    assert_int_equal(ew_latency_quantile(h, 0.50), 5);
    assert_int_equal(ew_latency_quantile(h, 0.51), 100);
    assert_int_equal(ew_latency_quantile(h, 0.95), 100);
    assert_int_equal(ew_latency_quantile(h, 0.99), 1000);
    assert_int_equal(ew_latency_quantile(h, 1.0), 10000);
    assert_int_equal(ew_latency_quantile(h, 0.0), 5);
}

/* After a flush, pairs of windows still open keep their sketch but start
 * their counters again; pairs whose sketch shipped are gone; lookups still
 * find every survivor (the index is rebuilt). */
static void test_flushed_keeps_open_windows(void **state)
{
    (void)state;
    ew_aggregate *a = ew_aggregate_new(64);
    ew_cf_record r = rec(200, 10, EW_RESULT_HIT, 1, 1);
    r.client_ip = S("192.0.2.7");
    uint32_t e[20];
    for (int i = 0; i < 20; i++) {
        char name[16];
        snprintf(name, sizeof name, "E%d", i);
        e[i] = ew_entity_intern(a, S(name));
        ew_delta_add(ew_aggregate_slot(a, e[i], 0), &r, false);
        ew_delta_add(ew_aggregate_slot(a, e[i], 60000), &r, false);
    }
    assert_int_equal(ew_aggregate_pending(a), 40);
    ew_aggregate_flushed(a, 0); /* window 0 shipped, window 60000 open */
    assert_int_equal(ew_aggregate_pairs(a), 20);
    assert_int_equal(ew_aggregate_pending(a), 0);
    for (int i = 0; i < 20; i++) {
        ew_delta *d = ew_aggregate_slot(a, e[i], 60000);
        assert_int_equal(ew_aggregate_pairs(a), 20);
        assert_int_equal(d->requests, 0);
        assert_false(d->on_time);
        assert_int_equal(d->top.count[0], 1); /* the first client-IP slot */
        ew_delta_add(d, &r, false);
        assert_int_equal(d->top.count[0], 2);
    }
    assert_int_equal(ew_aggregate_pending(a), 20);
    ew_delta *back = ew_aggregate_slot(a, e[3], 0); /* a straggler starts afresh */
    assert_int_equal(back->requests, 0);
    assert_int_equal(back->top.count[0], 0);
    ew_aggregate_flushed(a, INT64_MAX);
    assert_int_equal(ew_aggregate_pairs(a), 0);
    ew_aggregate_free(a);
}

/* ew_delta_counters is ew_delta_fields by index: every counter with its
 * own value, looked up by name, lands where the index says, and counters
 * it does not list are 0. */
static void test_delta_counters_match_fields(void **state)
{
    (void)state;
    for (int zeros = 0; zeros < 2; zeros++) {
        ew_delta d;
        memset(&d, 0, sizeof d);
        uint32_t v = 1;
        d.requests = zeros ? 0 : v++;
        d.bytes = (uint64_t)v++ << 33;
        d.late = zeros ? 0 : v++;
        for (int i = 0; i < EW_STATUS_CLASSES; i++)
            d.status[i] = zeros && i % 2 ? 0 : v++;
        for (int i = 0; i < EW_RESULT_COUNT; i++)
            d.result[i] = zeros && i % 2 ? 0 : v++;
        for (int i = 0; i < EW_LAT_BUCKETS; i++) {
            d.ttfb[i] = zeros && i % 3 ? 0 : v++;
            d.origin_fbl[i] = zeros && i % 3 == 1 ? 0 : v++;
        }
        ew_field_value f[EW_DELTA_MAX_FIELDS];
        size_t nf = ew_delta_fields(&d, f);
        uint64_t want[EW_COUNTERS], got[EW_COUNTERS];
        memset(want, 0, sizeof want);
        for (size_t i = 0; i < nf; i++) {
            int c = ew_counter_index(f[i].name);
            assert_true(c >= 0);
            want[c] += f[i].value;
        }
        memset(got, 0xab, sizeof got);
        ew_delta_counters(&d, got);
        assert_memory_equal(got, want, sizeof want);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_delta_counters_match_fields),
        cmocka_unit_test(test_intern_same_and_different),
        cmocka_unit_test(test_intern_many_entities),
        cmocka_unit_test(test_slot_find_or_insert),
        cmocka_unit_test(test_slot_null_when_full),
        cmocka_unit_test(test_many_pairs_distinct),
        cmocka_unit_test(test_latency_buckets),
        cmocka_unit_test(test_delta_add_counts),
        cmocka_unit_test(test_delta_only_late),
        cmocka_unit_test(test_delta_fields),
        cmocka_unit_test(test_clear_resets),
        cmocka_unit_test(test_counter_names_round_trip),
        cmocka_unit_test(test_latency_quantile),
        cmocka_unit_test(test_flushed_keeps_open_windows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
