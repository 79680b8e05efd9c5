/* test_state_memory.c -- unit tests for the in-memory state backend
 * (state/memory.c).
 *
 * The backend must answer as the Valkey backend with state/flush.lua,
 * close.lua and assign.lua does for one member, so each test states one of
 * those scripts' rules and checks it through the public interface only
 * (state.h): what a flush stores is observed with read_range, load_window,
 * claim_closed and partitions, as the pipeline and `state show` see it.
 * Batches are built with the real aggregator, as the pipeline builds them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "edgewatch/aggregate.h"
#include "edgewatch/state.h"

#define TOPIC "cloudfront-realtime-logs"
#define MIN 60000LL
#define HOUR 3600000LL
/* An hour boundary (1699999200 s), so hourly rollups are easy to predict. */
#define H0 (472222LL * HOUR)

typedef struct {
    ew_config cfg;
    ew_state *st;
    ew_aggregate *agg;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    ew_config_defaults(&f->cfg);
    f->st = ew_state_open_memory(&f->cfg);
    f->agg = ew_aggregate_new(256);
    *state = f;
    return f->st && f->agg ? 0 : -1;
}

static int teardown(void **state)
{
    fixture *f = *state;
    ew_state_close(f->st);
    ew_aggregate_free(f->agg);
    ew_config_free(&f->cfg);
    free(f);
    return 0;
}

static ew_str S(const char *s) { return ew_str_make(s, strlen(s)); }

static ew_cf_record rec(uint32_t status, uint64_t bytes, ew_edge_result result, int32_t ttfb, int32_t ofbl)
{
    ew_cf_record r;
    memset(&r, 0, sizeof r);
    r.ts_ms = H0;
    r.status = status;
    r.bytes = bytes;
    r.result = result;
    r.ttfb_ms = ttfb;
    r.origin_fbl_ms = ofbl;
    r.host_header = S("d1.cloudfront.net");
    return r;
}

static ew_cf_record ok_rec(void) { return rec(200, 100, EW_RESULT_HIT, 3, 80); }

static ew_delta *slot(fixture *f, const char *entity, int64_t ws)
{
    ew_delta *d = ew_aggregate_slot(f->agg, ew_entity_intern(f->agg, S(entity)), ws);
    assert_non_null(d);
    return d;
}

static void add(fixture *f, const char *entity, int64_t ws, int n, bool late, const ew_cf_record *r)
{
    ew_delta *d = slot(f, entity, ws);
    for (int i = 0; i < n; i++)
        ew_delta_add(d, r, late);
}

/* One partition's batch; on success the aggregate is told, as the pipeline
 * does, so the next batch carries only what came after. */
static ew_state_status flush_ship(fixture *f, int32_t p, int64_t from, int64_t next, int64_t wm, int64_t ship)
{
    ew_flush_partition part = {p, from, next, wm};
    int32_t rp = -7;
    int64_t ro = -7;
    ew_state_status st = ew_state_flush(f->st, TOPIC, &part, 1, f->agg, ship, &rp, &ro);
    if (st == EW_STATE_OK)
        ew_aggregate_flushed(f->agg, ship);
    return st;
}

/* Ships no sketch: these tests look at counters. */
static void flush_ok(fixture *f, int32_t p, int64_t from, int64_t next, int64_t wm)
{
    assert_int_equal(flush_ship(f, p, from, next, wm, INT64_MIN), EW_STATE_OK);
}

/* ---- reading back ---- */

#define MAX_READ 16

typedef struct {
    size_t n;
    int64_t start[MAX_READ];
    uint64_t counters[MAX_READ][EW_COUNTERS];
    size_t n_tops[MAX_READ];
    char fields[MAX_READ][EW_MAX_STORED_TOPS][16];
    char texts[MAX_READ][EW_MAX_STORED_TOPS][EW_TOPK_MERGED_MAX];
} readout;

static void on_window(void *ctx, const ew_stored_window *w)
{
    readout *r = ctx;
    assert_true(r->n < MAX_READ);
    r->start[r->n] = w->start_ms;
    memcpy(r->counters[r->n], w->counters, sizeof w->counters);
    r->n_tops[r->n] = w->n_tops;
    for (size_t k = 0; k < w->n_tops; k++) {
        snprintf(r->fields[r->n][k], sizeof r->fields[r->n][k], "%s", w->top_fields[k]);
        snprintf(r->texts[r->n][k], sizeof r->texts[r->n][k], "%s", w->top_texts[k]);
    }
    r->n++;
}

/* Heap-allocated: the stored texts make a readout large. Caller frees. */
static readout *read_range(fixture *f, const char *entity, bool hourly, int64_t from, int64_t to)
{
    readout *r = calloc(1, sizeof *r);
    assert_int_equal(ew_state_read_range(f->st, entity, hourly, from, to, on_window, r), EW_STATE_OK);
    return r;
}

static uint64_t counter(const readout *r, size_t i, const char *name)
{
    int c = ew_counter_index(name);
    assert_true(c >= 0);
    return r->counters[i][c];
}

/* What the pending delta of (entity, ws) will add, by counter index. */
static void expect_delta(fixture *f, const char *entity, int64_t ws, uint64_t want[EW_COUNTERS])
{
    ew_field_value fv[EW_DELTA_MAX_FIELDS];
    size_t n = ew_delta_fields(slot(f, entity, ws), fv);
    for (size_t i = 0; i < n; i++)
        want[ew_counter_index(fv[i].name)] += fv[i].value;
}

static size_t claim(fixture *f, int64_t *starts, size_t cap, int64_t *low)
{
    size_t n = 99;
    assert_int_equal(ew_state_claim_closed(f->st, TOPIC, starts, cap, &n, low), EW_STATE_OK);
    return n;
}

static void load(fixture *f, int64_t ws, ew_score_item **items, size_t *n)
{
    assert_int_equal(ew_state_load_window(f->st, ws, items, n), EW_STATE_OK);
    assert_non_null(*items);
}

static void score_and_commit(fixture *f, int64_t ws)
{
    ew_score_item *items;
    size_t n;
    load(f, ws, &items, &n);
    assert_int_equal(ew_state_commit_window(f->st, items, n, ws), EW_STATE_OK);
    free(items);
}

/* ---- flush: counters ---- */

static void test_counters_add_across_flushes(void **state)
{
    fixture *f = *state;
    uint64_t want[EW_COUNTERS] = {0};
    ew_cf_record hit = ok_rec(), denied = rec(403, 50, EW_RESULT_MISS, -1, -1);
    add(f, "E1", H0, 3, false, &hit);
    add(f, "E1", H0, 1, false, &denied);
    expect_delta(f, "E1", H0, want);
    flush_ok(f, 0, 0, 4, H0);
    add(f, "E1", H0, 2, false, &hit);
    add(f, "E1", H0, 1, true, &denied);
    expect_delta(f, "E1", H0, want);
    flush_ok(f, 0, 4, 7, H0);

    readout *r = read_range(f, "E1", false, H0, H0 + MIN);
    assert_int_equal(r->n, 1);
    assert_int_equal(r->start[0], H0);
    assert_int_equal(counter(r, 0, "req"), 7);
    assert_int_equal(counter(r, 0, "bytes"), 5 * 100 + 2 * 50);
    assert_int_equal(counter(r, 0, "late"), 1);
    assert_int_equal(counter(r, 0, "s2xx"), 5);
    assert_int_equal(counter(r, 0, "s4xx"), 2);
    assert_int_equal(counter(r, 0, "s403"), 2);
    assert_int_equal(counter(r, 0, "hit"), 5);
    assert_int_equal(counter(r, 0, "miss"), 2);
    assert_int_equal(r->counters[0][EW_C_TTFB + ew_latency_bucket(3)], 5);
    assert_int_equal(r->counters[0][EW_C_ORIGIN + ew_latency_bucket(80)], 5);
    assert_memory_equal(r->counters[0], want, sizeof want);
    free(r);

    ew_score_item *items;
    size_t n;
    load(f, H0, &items, &n);
    assert_int_equal(n, 1);
    assert_string_equal(items[0].entity, "E1");
    assert_int_equal(items[0].counters[EW_C_REQ], 7);
    free(items);
}

static void test_hourly_rollup_is_sum_of_windows(void **state)
{
    fixture *f = *state;
    ew_cf_record a = ok_rec(), b = rec(503, 7, EW_RESULT_ERROR, 20000, 2);
    const int64_t ws[] = {H0 - MIN, H0, H0 + 59 * MIN, H0 + HOUR, H0 + 30 * MIN};
    int64_t off = 0;
    for (int round = 0; round < 3; round++) {
        for (size_t i = 0; i < sizeof ws / sizeof ws[0]; i++) {
            add(f, "E1", ws[i], (int)i + round + 1, false, &a);
            add(f, "E1", ws[i], round, round == 2, &b);
        }
        flush_ok(f, 0, off, off + 10, H0);
        off += 10;
    }
    readout *hours = read_range(f, "E1", true, H0 - HOUR, H0 + 2 * HOUR);
    assert_int_equal(hours->n, 3);
    uint64_t req_total = 0;
    for (size_t h = 0; h < 3; h++) {
        assert_int_equal(hours->start[h], H0 + ((int64_t)h - 1) * HOUR);
        assert_int_equal(hours->n_tops[h], 0);
        readout *mins = read_range(f, "E1", false, hours->start[h], hours->start[h] + HOUR);
        assert_true(mins->n > 0);
        uint64_t sum[EW_COUNTERS] = {0};
        for (size_t m = 0; m < mins->n; m++)
            for (int c = 0; c < EW_COUNTERS; c++)
                sum[c] += mins->counters[m][c];
        assert_memory_equal(hours->counters[h], sum, sizeof sum);
        req_total += counter(hours, h, "req");
        free(mins);
    }
    /* Window i gets i + round + 1 records of a and round of b per round. */
    uint64_t want = 0;
    for (int round = 0; round < 3; round++)
        for (int i = 0; i < 5; i++)
            want += (uint64_t)(i + round + 1 + round);
    assert_int_equal(req_total, want);
    /* Hour H0 holds windows 1, 2 and 4 (H0, H0 + 59 min, H0 + 30 min). */
    assert_int_equal(counter(hours, 1, "req"), (2 + 3 + 4) + (3 + 4 + 5) + (5 + 6 + 7) + 3 * (0 + 1 + 2));
    free(hours);
}

/* ---- flush: offsets and watermarks ---- */

static void test_refused_batch_writes_nothing(void **state)
{
    fixture *f = *state;
    ew_cf_record r = ok_rec();
    add(f, "E1", H0, 2, false, &r);
    /* No stored offset: any starting offset is accepted. */
    flush_ok(f, 0, 100, 110, H0 + 5 * MIN);

    add(f, "E1", H0, 5, false, &r);
    add(f, "E2", H0 + MIN, 3, false, &r);
    ew_flush_partition parts[] = {{1, 0, 4, H0 + 9 * MIN}, {0, 107, 120, H0 + 9 * MIN}};
    int32_t rp = -7;
    int64_t ro = -7;
    assert_int_equal(ew_state_flush(f->st, TOPIC, parts, 2, f->agg, INT64_MAX, &rp, &ro), EW_STATE_REFUSED);
    assert_int_equal(rp, 0);
    assert_int_equal(ro, 110);

    int32_t ps[] = {0, 1};
    int64_t next[2], wm[2];
    assert_int_equal(ew_state_partitions(f->st, TOPIC, ps, 2, next, wm), EW_STATE_OK);
    assert_int_equal(next[0], 110);
    assert_int_equal(wm[0], H0 + 5 * MIN);
    assert_int_equal(next[1], -1);
    assert_true(wm[1] == INT64_MIN);
    readout *e1 = read_range(f, "E1", false, H0 - HOUR, H0 + HOUR);
    assert_int_equal(e1->n, 1);
    assert_int_equal(counter(e1, 0, "req"), 2);
    assert_int_equal(e1->n_tops[0], 0);
    free(e1);
    readout *e2 = read_range(f, "E2", false, H0 - HOUR, H0 + HOUR);
    assert_int_equal(e2->n, 0);
    free(e2);
    readout *h2 = read_range(f, "E2", true, H0 - HOUR, H0 + HOUR);
    assert_int_equal(h2->n, 0);
    free(h2);

    /* The pipeline drops the batch; the refused window never got queued. */
    ew_aggregate_clear(f->agg);
    flush_ok(f, 0, 110, 111, H0 + 9 * MIN);
    int64_t starts[8], low;
    assert_int_equal(claim(f, starts, 8, &low), 1);
    assert_int_equal(starts[0], H0);
}

static void test_watermark_only_rises(void **state)
{
    fixture *f = *state;
    int32_t p = 3;
    int64_t next, wm;
    flush_ok(f, p, 0, 10, 5000);
    flush_ok(f, p, 10, 20, 3000);
    assert_int_equal(ew_state_partition(f->st, TOPIC, p, &next, &wm), EW_STATE_OK);
    assert_int_equal(next, 20);
    assert_int_equal(wm, 5000);
    flush_ok(f, p, 20, 25, 9000);
    assert_int_equal(ew_state_partition(f->st, TOPIC, p, &next, &wm), EW_STATE_OK);
    assert_int_equal(next, 25);
    assert_int_equal(wm, 9000);

    /* Registration sets -1 only where there is no watermark (HSETNX). */
    int32_t both[] = {p, 4};
    assert_int_equal(ew_state_register_partitions(f->st, TOPIC, both, 2), EW_STATE_OK);
    int64_t nexts[2], wms[2];
    assert_int_equal(ew_state_partitions(f->st, TOPIC, both, 2, nexts, wms), EW_STATE_OK);
    assert_int_equal(nexts[0], 25);
    assert_int_equal(wms[0], 9000);
    assert_int_equal(nexts[1], -1);
    assert_int_equal(wms[1], -1);
    /* Another topic is another set of partitions. */
    assert_int_equal(ew_state_partition(f->st, "other", p, &next, &wm), EW_STATE_OK);
    assert_int_equal(next, -1);
    assert_true(wm == INT64_MIN);
}

/* ---- flush: the scoring queue ---- */

static void test_pending_needs_on_time_records(void **state)
{
    fixture *f = *state;
    ew_cf_record r = ok_rec();
    add(f, "E1", H0, 4, true, &r);       /* late only */
    add(f, "E1", H0 + MIN, 1, false, &r); /* on time */
    flush_ok(f, 0, 0, 5, H0 + HOUR);
    int64_t starts[8], low;
    assert_int_equal(claim(f, starts, 8, &low), 1);
    assert_int_equal(starts[0], H0 + MIN);
    assert_int_equal(low, H0 + HOUR);
    /* The late records are stored all the same. */
    readout *r0 = read_range(f, "E1", false, H0, H0 + MIN);
    assert_int_equal(r0->n, 1);
    assert_int_equal(counter(r0, 0, "req"), 4);
    assert_int_equal(counter(r0, 0, "late"), 4);
    free(r0);
    score_and_commit(f, H0 + MIN);
    assert_int_equal(claim(f, starts, 8, &low), 0);
    /* One on-time record queues the window. */
    add(f, "E2", H0, 1, false, &r);
    flush_ok(f, 0, 5, 6, H0 + HOUR);
    assert_int_equal(claim(f, starts, 8, &low), 1);
    assert_int_equal(starts[0], H0);
}

static void test_done_window_not_queued_again(void **state)
{
    fixture *f = *state;
    ew_cf_record r = ok_rec();
    add(f, "E1", H0, 2, false, &r);
    flush_ok(f, 0, 0, 2, H0 + HOUR);
    int64_t starts[8], low;
    assert_int_equal(claim(f, starts, 8, &low), 1);
    score_and_commit(f, H0);
    assert_int_equal(claim(f, starts, 8, &low), 0);

    add(f, "E1", H0, 3, false, &r);
    add(f, "E2", H0, 1, false, &r);
    add(f, "E2", H0 + MIN, 1, false, &r);
    flush_ok(f, 0, 2, 7, H0 + HOUR);
    /* With one claim per call, a done window back in the queue would take
     * the only candidate place (close.lua's LIMIT comes before its checks). */
    assert_int_equal(claim(f, starts, 1, &low), 1);
    assert_int_equal(starts[0], H0 + MIN);
    /* Still counted and listed, only not scored again. */
    ew_score_item *items;
    size_t n;
    load(f, H0, &items, &n);
    assert_int_equal(n, 2);
    assert_string_equal(items[0].entity, "E1");
    assert_int_equal(items[0].counters[EW_C_REQ], 5);
    assert_string_equal(items[1].entity, "E2");
    assert_int_equal(items[1].counters[EW_C_REQ], 1);
    free(items);
}

/* ---- closing windows ---- */

static void test_claim_follows_low_watermark(void **state)
{
    fixture *f = *state;
    int64_t starts[8], low = 12345;
    assert_int_equal(claim(f, starts, 8, &low), 0);
    assert_int_equal(low, -1); /* no partition at all */

    int32_t ps[] = {0, 1};
    assert_int_equal(ew_state_register_partitions(f->st, TOPIC, ps, 2), EW_STATE_OK);
    ew_cf_record r = ok_rec();
    const int64_t order[] = {3, 1, 0, 2};
    for (size_t i = 0; i < 4; i++)
        add(f, "E1", H0 + order[i] * MIN, 1, false, &r);
    flush_ok(f, 0, 0, 4, H0 + HOUR);
    /* Partition 1 registered but silent: its -1 holds every window. */
    assert_int_equal(claim(f, starts, 8, &low), 0);
    assert_int_equal(low, -1);

    flush_ok(f, 1, 0, 1, H0 + 2 * MIN + MIN); /* window 2 ends here */
    assert_int_equal(claim(f, starts, 2, &low), 2);
    assert_int_equal(low, H0 + 3 * MIN);
    assert_int_equal(starts[0], H0);
    assert_int_equal(starts[1], H0 + MIN);
    /* Not committed: the next call hands them out again. */
    assert_int_equal(claim(f, starts, 2, &low), 2);
    assert_int_equal(starts[0], H0);
    assert_int_equal(starts[1], H0 + MIN);
    score_and_commit(f, H0);
    /* Committed windows leave the queue at once and take no claim place. */
    assert_int_equal(claim(f, starts, 1, &low), 1);
    assert_int_equal(starts[0], H0 + MIN);
    assert_int_equal(claim(f, starts, 8, &low), 2);
    assert_int_equal(starts[0], H0 + MIN);
    assert_int_equal(starts[1], H0 + 2 * MIN);

    /* One millisecond short of window 3's end keeps it open. */
    flush_ok(f, 1, 1, 2, H0 + 4 * MIN - 1);
    assert_int_equal(claim(f, starts, 8, &low), 2);
    assert_int_equal(low, H0 + 4 * MIN - 1);
    flush_ok(f, 1, 2, 3, H0 + 4 * MIN);
    assert_int_equal(claim(f, starts, 8, &low), 3);
    assert_int_equal(starts[2], H0 + 3 * MIN);
    assert_int_equal(claim(f, starts, 0, &low), 0);
}

/* ---- scoring state ---- */

/* Loads ws, marks every item scored there as the core does, commits. */
static void commit_scored(fixture *f, int64_t ws)
{
    ew_score_item *items;
    size_t n;
    load(f, ws, &items, &n);
    for (size_t i = 0; i < n; i++)
        items[i].det.last_ws = ws;
    assert_int_equal(ew_state_commit_window(f->st, items, n, ws), EW_STATE_OK);
    free(items);
}

/* Distinct values in every part of a rule's slice, so that a part lost,
 * swapped with another or rounded on its way through the store shows. */
static void fill_rule_state(ew_rule_state *st, double seed, int64_t ws)
{
    st->recent = (ew_ewma){seed + 0.1, seed / 3.0, (uint32_t)seed + 1};
    st->hour = (ew_ewma){seed + 0.2, seed / 7.0, (uint32_t)seed + 2};
    st->weekday = (ew_ewma){seed + 0.3, seed / 11.0, (uint32_t)seed + 3};
    ew_incident_init(&st->inc);
    ew_alert_id("request_spike", "alpha", ws, st->inc.alert_id);
    snprintf(st->inc.suppressed_by, sizeof st->inc.suppressed_by, "deploy-%d", (int)seed);
    st->inc.open = true;
    st->inc.start_ws = ws - MIN;
    st->inc.last_emit_ws = ws;
    st->inc.severity = EW_SEV_CRITICAL;
    st->inc.breaches = 5;
    st->inc.normal_run = 1;
}

/* Field by field: a slice copied by assignment need not keep its padding. */
static void assert_ewma_equal(const ew_ewma *a, const ew_ewma *b)
{
    assert_true(a->mean == b->mean);
    assert_true(a->var == b->var);
    assert_int_equal(a->n, b->n);
}

static void assert_ewma_fresh(const ew_ewma *e)
{
    const ew_ewma zero = {0, 0, 0};
    assert_ewma_equal(e, &zero);
}

static void assert_incident_equal(const ew_incident *a, const ew_incident *b)
{
    assert_string_equal(a->alert_id, b->alert_id);
    assert_string_equal(a->suppressed_by, b->suppressed_by);
    assert_int_equal(a->open, b->open);
    assert_int_equal(a->start_ws, b->start_ws);
    assert_int_equal(a->last_emit_ws, b->last_emit_ws);
    assert_int_equal(a->severity, b->severity);
    assert_int_equal(a->breaches, b->breaches);
    assert_int_equal(a->normal_run, b->normal_run);
}

static void assert_rule_state_equal(const ew_rule_state *a, const ew_rule_state *b)
{
    assert_ewma_equal(&a->recent, &b->recent);
    assert_ewma_equal(&a->hour, &b->hour);
    assert_ewma_equal(&a->weekday, &b->weekday);
    assert_incident_equal(&a->inc, &b->inc);
}

static void assert_detector_equal(const ew_detector_state *a, const ew_detector_state *b)
{
    assert_int_equal(a->last_ws, b->last_ws);
    for (int r = 0; r < EW_TRAFFIC_RULES; r++)
        assert_rule_state_equal(&a->rule[r], &b->rule[r]);
}

static void test_load_commit_round_trip(void **state)
{
    fixture *f = *state;
    ew_cf_record r = ok_rec();
    add(f, "gamma", H0, 3, false, &r);
    add(f, "alpha", H0, 1, false, &r);
    add(f, "beta", H0, 2, false, &r);
    flush_ok(f, 0, 0, 6, H0 + HOUR);

    ew_score_item *items;
    size_t n;
    load(f, H0, &items, &n);
    assert_int_equal(n, 3);
    const char *names[] = {"alpha", "beta", "gamma"};
    ew_detector_state fresh;
    ew_detector_init(&fresh);
    for (size_t i = 0; i < 3; i++) {
        assert_string_equal(items[i].entity, names[i]);
        assert_int_equal(items[i].counters[EW_C_REQ], i + 1);
        assert_detector_equal(&items[i].det, &fresh);
    }
    /* alpha: every part of every rule; beta: one bucket of one rule. */
    for (int rule = 0; rule < EW_TRAFFIC_RULES; rule++)
        fill_rule_state(&items[0].det.rule[rule], 10.0 * rule + 1, H0);
    items[1].det.rule[EW_RULE_ERROR_403_RATE].hour = (ew_ewma){0.0625, 1.0 / 3.0, 77};
    for (size_t i = 0; i < 3; i++)
        items[i].det.last_ws = H0;
    ew_detector_state alpha = items[0].det, beta = items[1].det, gamma = items[2].det;
    assert_int_equal(ew_state_commit_window(f->st, items, n, H0), EW_STATE_OK);
    free(items);

    /* The next window, same hour (22 h) and weekday (Tuesday): all back. */
    add(f, "alpha", H0 + MIN, 1, false, &r);
    add(f, "beta", H0 + MIN, 1, false, &r);
    flush_ok(f, 0, 6, 8, H0 + HOUR);
    load(f, H0 + MIN, &items, &n);
    assert_int_equal(n, 3); /* gamma is known from H0 */
    assert_detector_equal(&items[0].det, &alpha);
    assert_detector_equal(&items[1].det, &beta);
    assert_detector_equal(&items[2].det, &gamma);
    assert_int_equal(items[2].counters[EW_C_REQ], 0);
    free(items);

    /* Another hour of the same day: a fresh hour bucket; the short
     * baseline, the weekday and the incident are the entity's own. */
    load(f, H0 + HOUR, &items, &n);
    assert_int_equal(n, 3);
    assert_string_equal(items[0].entity, "alpha");
    assert_int_equal(items[0].det.last_ws, H0);
    for (int rule = 0; rule < EW_TRAFFIC_RULES; rule++) {
        const ew_rule_state *got = &items[0].det.rule[rule], *want = &alpha.rule[rule];
        assert_ewma_equal(&got->recent, &want->recent);
        assert_ewma_fresh(&got->hour);
        assert_ewma_equal(&got->weekday, &want->weekday);
        assert_incident_equal(&got->inc, &want->inc);
    }
    assert_ewma_fresh(&items[1].det.rule[EW_RULE_ERROR_403_RATE].hour);
    /* Stored under hour 23 only: hour 22 keeps what H0 stored. */
    ew_rule_state *spike = &items[0].det.rule[EW_RULE_REQUEST_SPIKE];
    spike->hour = (ew_ewma){123.5, 4.25, 60};
    spike->recent.n = 999;
    for (size_t i = 0; i < n; i++)
        items[i].det.last_ws = H0 + HOUR;
    assert_int_equal(ew_state_commit_window(f->st, items, n, H0 + HOUR), EW_STATE_OK);
    free(items);

    load(f, H0 + 2 * MIN, &items, &n);
    spike = &items[0].det.rule[EW_RULE_REQUEST_SPIKE];
    assert_ewma_equal(&spike->hour, &alpha.rule[EW_RULE_REQUEST_SPIKE].hour);
    assert_int_equal(spike->recent.n, 999);
    assert_int_equal(items[0].det.last_ws, H0 + HOUR);
    free(items);
    load(f, H0 + HOUR + 5 * MIN, &items, &n);
    assert_true(items[0].det.rule[EW_RULE_REQUEST_SPIKE].hour.mean == 123.5);
    free(items);

    /* Midnight: Wednesday's weekday bucket and hour 0 are fresh too. */
    load(f, H0 + 2 * HOUR, &items, &n);
    assert_int_equal(n, 3);
    for (int rule = 0; rule < EW_TRAFFIC_RULES; rule++) {
        assert_ewma_fresh(&items[0].det.rule[rule].hour);
        assert_ewma_fresh(&items[0].det.rule[rule].weekday);
        assert_incident_equal(&items[0].det.rule[rule].inc, &alpha.rule[rule].inc);
    }
    free(items);
}

/* A distribution that falls silent must still be scored (at 0) so that its
 * outage is seen, for as long as state.retention remembers it. */
static void test_known_entities_listed_until_retention(void **state)
{
    fixture *f = *state;
    const int64_t keep = f->cfg.retention_ms;
    ew_cf_record r = ok_rec();
    add(f, "quiet", H0, 4, false, &r);
    add(f, "busy", H0, 2, false, &r);
    flush_ok(f, 0, 0, 6, H0 + HOUR);
    commit_scored(f, H0);
    add(f, "busy", H0 + MIN, 3, false, &r);
    /* Traffic that was never scored does not make an entity known. */
    add(f, "unscored", H0 + 2 * MIN, 1, false, &r);
    flush_ok(f, 0, 6, 10, H0 + HOUR);

    ew_score_item *items;
    size_t n;
    load(f, H0 + MIN, &items, &n);
    assert_int_equal(n, 2);
    assert_string_equal(items[0].entity, "busy");
    assert_int_equal(items[0].counters[EW_C_REQ], 3);
    assert_string_equal(items[1].entity, "quiet");
    uint64_t zero[EW_COUNTERS] = {0};
    assert_memory_equal(items[1].counters, zero, sizeof zero);
    assert_int_equal(items[1].det.last_ws, H0);
    free(items);
    /* Scoring quiet's silent window does not make it known for longer. */
    commit_scored(f, H0 + MIN);

    load(f, H0 + 3 * MIN, &items, &n);
    assert_int_equal(n, 2);
    assert_string_equal(items[0].entity, "busy");
    assert_string_equal(items[1].entity, "quiet");
    assert_int_equal(items[1].det.last_ws, H0 + MIN);
    free(items);

    /* Exactly retention after its last traffic: still known. */
    load(f, H0 + keep, &items, &n);
    assert_int_equal(n, 2);
    assert_string_equal(items[1].entity, "quiet");
    assert_memory_equal(items[1].counters, zero, sizeof zero);
    free(items);
    /* One window later quiet is forgotten; busy (traffic at H0 + MIN) is not. */
    load(f, H0 + keep + MIN, &items, &n);
    assert_int_equal(n, 1);
    assert_string_equal(items[0].entity, "busy");
    assert_memory_equal(items[0].counters, zero, sizeof zero);
    free(items);
    load(f, H0 + keep + 2 * MIN, &items, &n);
    assert_int_equal(n, 0);
    free(items);
}

/* ---- top lists ---- */

static size_t format_dim(const ew_delta *d, ew_dim dim, char *out)
{
    return ew_topk_format(&d->top, dim, out, EW_TOPK_TEXT_MAX);
}

static void test_top_lists_merge(void **state)
{
    fixture *f = *state;
    ew_cf_record r = ok_rec();
    r.uri_path = S("/index.html");
    add(f, "E1", H0, 3, false, &r);
    /* Window still open for the member: counters only. */
    assert_int_equal(flush_ship(f, 0, 0, 3, H0, H0 - 1), EW_STATE_OK);
    readout *before = read_range(f, "E1", false, H0, H0 + MIN);
    assert_int_equal(before->n_tops[0], 0);
    free(before);

    /* Over for the member: the sketch of the whole window ships (uri only). */
    add(f, "E1", H0, 2, false, &r);
    char uri1[EW_TOPK_TEXT_MAX], uri2[EW_TOPK_TEXT_MAX], uri3[EW_TOPK_TEXT_MAX];
    assert_true(format_dim(slot(f, "E1", H0), EW_DIM_URI, uri1) > 0);
    assert_int_equal(flush_ship(f, 0, 3, 5, H0 + 2 * MIN, H0), EW_STATE_OK);

    /* Stragglers start new sketches, shipped and merged the same way. */
    r.client_ip = S("192.0.2.1");
    add(f, "E1", H0, 4, true, &r);
    r.client_ip = S("192.0.2.2");
    add(f, "E1", H0, 1, true, &r);
    char ip1[EW_TOPK_TEXT_MAX], ip2[EW_TOPK_TEXT_MAX];
    assert_true(format_dim(slot(f, "E1", H0), EW_DIM_CLIENT_IP, ip1) > 0);
    assert_true(format_dim(slot(f, "E1", H0), EW_DIM_URI, uri2) > 0);
    assert_int_equal(flush_ship(f, 0, 5, 10, H0 + 2 * MIN, H0), EW_STATE_OK);
    r.client_ip = S("192.0.2.2");
    add(f, "E1", H0, 5, true, &r);
    r.client_ip = S("198.51.100.3");
    add(f, "E1", H0, 2, true, &r);
    assert_true(format_dim(slot(f, "E1", H0), EW_DIM_CLIENT_IP, ip2) > 0);
    assert_true(format_dim(slot(f, "E1", H0), EW_DIM_URI, uri3) > 0);
    assert_int_equal(flush_ship(f, 0, 10, 17, H0 + 2 * MIN, H0), EW_STATE_OK);

    char want_ip[EW_TOPK_MERGED_MAX], want_uri[EW_TOPK_MERGED_MAX], tmp[EW_TOPK_MERGED_MAX];
    ew_topk_merge_text(ip1, strlen(ip1), ip2, strlen(ip2), EW_TOPK_KEEP, want_ip, sizeof want_ip);
    assert_string_equal(want_ip, "6\t192.0.2.2\n4\t192.0.2.1\n2\t198.51.100.3\n");
    ew_topk_merge_text(uri1, strlen(uri1), uri2, strlen(uri2), EW_TOPK_KEEP, tmp, sizeof tmp);
    ew_topk_merge_text(tmp, strlen(tmp), uri3, strlen(uri3), EW_TOPK_KEEP, want_uri, sizeof want_uri);
    assert_string_equal(want_uri, "17\t/index.html\n");

    readout *w = read_range(f, "E1", false, H0, H0 + MIN);
    assert_int_equal(w->n, 1);
    assert_int_equal(counter(w, 0, "req"), 17);
    assert_int_equal(w->n_tops[0], 2);
    /* Listed in the order first written, as HGETALL lists the hash. */
    assert_string_equal(w->fields[0][0], "top:uri");
    assert_string_equal(w->texts[0][0], want_uri);
    assert_string_equal(w->fields[0][1], "top:ip");
    assert_string_equal(w->texts[0][1], want_ip);
    free(w);
}

static void test_sketch_only_pair_touches_no_counters(void **state)
{
    fixture *f = *state;
    ew_delta *d = slot(f, "E9", H0 + 5 * MIN);
    ew_topk_add(&d->top, EW_DIM_CLIENT_IP, S("198.51.100.9"));
    ew_topk_add(&d->top, EW_DIM_CLIENT_IP, S("198.51.100.9"));
    assert_int_equal(d->requests, 0);
    /* n_parts = 0, as at revocation or shutdown. */
    int32_t rp;
    int64_t ro;
    assert_int_equal(ew_state_flush(f->st, TOPIC, NULL, 0, f->agg, INT64_MAX, &rp, &ro), EW_STATE_OK);
    ew_aggregate_flushed(f->agg, INT64_MAX);

    readout *w = read_range(f, "E9", false, H0, H0 + HOUR);
    assert_int_equal(w->n, 1);
    assert_int_equal(w->start[0], H0 + 5 * MIN);
    uint64_t zero[EW_COUNTERS] = {0};
    assert_memory_equal(w->counters[0], zero, sizeof zero);
    assert_int_equal(w->n_tops[0], 1);
    assert_string_equal(w->fields[0][0], "top:ip");
    assert_string_equal(w->texts[0][0], "2\t198.51.100.9\n");
    free(w);
    readout *h = read_range(f, "E9", true, H0, H0 + HOUR);
    assert_int_equal(h->n, 0);
    free(h);

    ew_score_item *items;
    size_t n;
    load(f, H0 + 5 * MIN, &items, &n);
    assert_int_equal(n, 0);
    free(items);
    /* Not queued, and no partition was recorded. */
    int64_t starts[8], low;
    assert_int_equal(claim(f, starts, 8, &low), 0);
    assert_int_equal(low, -1);
    flush_ok(f, 0, 0, 1, H0 + HOUR);
    assert_int_equal(claim(f, starts, 8, &low), 0);
    assert_int_equal(low, H0 + HOUR);
}

/* ---- reading ranges ---- */

static void test_read_range_in_order_skipping_gaps(void **state)
{
    fixture *f = *state;
    ew_cf_record r = ok_rec();
    add(f, "E1", H0 + 5 * MIN, 5, false, &r);
    add(f, "E2", H0 + MIN, 9, false, &r);
    flush_ok(f, 0, 0, 14, H0);
    add(f, "E1", H0, 1, false, &r);
    add(f, "E1", H0 + 2 * HOUR, 7, false, &r);
    flush_ok(f, 0, 14, 22, H0);
    add(f, "E1", H0 + 2 * MIN, 2, false, &r);
    /* Off the window grid: vk_read_range never reads that key, the hour
     * rollup holds it all the same. */
    add(f, "E1", H0 + 3 * MIN + 30000, 4, false, &r);
    flush_ok(f, 0, 22, 28, H0);

    /* From the middle of window 0: its window is included; to is exclusive. */
    readout *m = read_range(f, "E1", false, H0 + 30000, H0 + 5 * MIN);
    assert_int_equal(m->n, 2);
    assert_int_equal(m->start[0], H0);
    assert_int_equal(counter(m, 0, "req"), 1);
    assert_int_equal(m->start[1], H0 + 2 * MIN);
    assert_int_equal(counter(m, 1, "req"), 2);
    free(m);
    m = read_range(f, "E1", false, H0, H0 + 3 * HOUR);
    assert_int_equal(m->n, 4);
    const int64_t starts[] = {H0, H0 + 2 * MIN, H0 + 5 * MIN, H0 + 2 * HOUR};
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(m->start[i], starts[i]);
    free(m);

    readout *h = read_range(f, "E1", true, H0 - HOUR, H0 + 3 * HOUR);
    assert_int_equal(h->n, 2);
    assert_int_equal(h->start[0], H0);
    assert_int_equal(counter(h, 0, "req"), 1 + 2 + 4 + 5);
    assert_int_equal(h->start[1], H0 + 2 * HOUR);
    assert_int_equal(counter(h, 1, "req"), 7);
    free(h);
    h = read_range(f, "E1", true, H0 + HOUR + 1, H0 + 2 * HOUR);
    assert_int_equal(h->n, 0);
    free(h);
    h = read_range(f, "nobody", false, H0 - HOUR, H0 + 3 * HOUR);
    assert_int_equal(h->n, 0);
    free(h);
}

static void test_stats_and_error_are_empty(void **state)
{
    fixture *f = *state;
    ew_cf_record r = ok_rec();
    add(f, "E1", H0, 1, false, &r);
    flush_ok(f, 0, 0, 1, H0);
    const ew_state_stats *st = ew_state_stats_of(f->st);
    assert_int_equal(st->round_trips, 0);
    assert_int_equal(st->commands, 0);
    assert_string_equal(ew_state_last_error(f->st), "");
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_counters_add_across_flushes),
        T(test_hourly_rollup_is_sum_of_windows),
        T(test_refused_batch_writes_nothing),
        T(test_watermark_only_rises),
        T(test_pending_needs_on_time_records),
        T(test_done_window_not_queued_again),
        T(test_claim_follows_low_watermark),
        T(test_load_commit_round_trip),
        T(test_known_entities_listed_until_retention),
        T(test_top_lists_merge),
        T(test_sketch_only_pair_touches_no_counters),
        T(test_read_range_in_order_skipping_gaps),
        T(test_stats_and_error_are_empty),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
