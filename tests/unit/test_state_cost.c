/* test_state_cost.c -- the cost (billing) state and incidents by project,
 * through state.h only, against both backends.
 *
 * Every scenario runs against the memory backend, and again against a
 * real Valkey/Redis when EW_TEST_VALKEY_PORT is set (127.0.0.1, a fresh
 * namespace per test, dropped afterwards); without it those cases are
 * skipped. tests/integration/test_cost_state.sh starts a server and sets
 * it. The expected hour parts come from ew_billing_hour_part, so these
 * tests also pin cost.lua's arithmetic to the C rule; the last tests run
 * one pseudo-random history of restatements, moves, credits and full
 * refreshes and check the totals against the surviving lines, and the two
 * backends against each other.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <hiredis/hiredis.h>

#include "edgewatch/state.h"

#define TOPIC "billing-events"
#define PERIOD "2026-03"
#define H EW_BILL_HOUR_MS
#define D EW_BILL_DAY_MS
#define T0 1772323200000LL /* 2026-03-01T00:00:00Z */
#define MAX_DAYS 32
#define CF "AmazonCloudFront"

typedef struct {
    ew_config cfg;
    ew_state *st;
    bool valkey;
    int64_t next_offset; /* partition 0 of TOPIC */
} fixture;

/* ---- fixtures ---- */

static fixture *fixture_new(void)
{
    fixture *f = calloc(1, sizeof *f);
    ew_config_defaults(&f->cfg);
    return f;
}

static int setup_memory(void **state)
{
    fixture *f = fixture_new();
    f->st = ew_state_open_memory(&f->cfg);
    *state = f;
    return f->st ? 0 : -1;
}

/* A namespace of its own per test (drop_namespace empties it after). */
static int setup_valkey(void **state)
{
    fixture *f = fixture_new();
    *state = f;
    const char *port = getenv("EW_TEST_VALKEY_PORT");
    if (!port || !*port)
        return 0; /* f->st NULL: the test skips */
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    char prefix[96];
    snprintf(prefix, sizeof prefix, "ewtest:ns:cost%ld-%lld-%ld:", (long)getpid(), (long long)ts.tv_sec, ts.tv_nsec);
    free(f->cfg.prefix);
    f->cfg.prefix = strdup(prefix);
    free(f->cfg.valkey_host);
    f->cfg.valkey_host = strdup("127.0.0.1");
    f->cfg.valkey_port = atoi(port);
    f->st = ew_state_open_valkey(&f->cfg);
    f->valkey = true;
    return f->st ? 0 : -1;
}

static int teardown(void **state)
{
    fixture *f = *state;
    if (f->st) {
        uint64_t deleted;
        ew_state_drop_namespace(f->st, &deleted);
        ew_state_close(f->st);
    }
    ew_config_free(&f->cfg);
    free(f);
    return 0;
}

static fixture *use(void **state)
{
    fixture *f = *state;
    if (!f->st)
        skip();
    return f;
}

/* ---- building and applying records ---- */

static ew_billing_record line(const char *key, const char *version, const char *project, const char *service,
                              const char *usage, const char *resource, int64_t start, int64_t end, int64_t cost)
{
    ew_billing_record r;
    memset(&r, 0, sizeof r);
    r.kind = EW_BILL_LINE;
    snprintf(r.billing_period, sizeof r.billing_period, "%s", PERIOD);
    snprintf(r.report_version, sizeof r.report_version, "%s", version);
    snprintf(r.line_key, sizeof r.line_key, "%s", key);
    snprintf(r.project, sizeof r.project, "%s", project);
    snprintf(r.service, sizeof r.service, "%s", service);
    snprintf(r.usage_type, sizeof r.usage_type, "%s", usage);
    snprintf(r.resource_id, sizeof r.resource_id, "%s", resource);
    snprintf(r.currency, sizeof r.currency, "USD");
    r.usage_start_ms = start;
    r.usage_end_ms = end;
    r.cost_micros = cost;
    return r;
}

static ew_billing_record refresh_in(const char *period, const char *version, bool full)
{
    ew_billing_record r;
    memset(&r, 0, sizeof r);
    r.kind = EW_BILL_REFRESH_END;
    snprintf(r.billing_period, sizeof r.billing_period, "%s", period);
    snprintf(r.report_version, sizeof r.report_version, "%s", version);
    r.full = full;
    return r;
}

static ew_billing_record refresh(const char *version, bool full) { return refresh_in(PERIOD, version, full); }

/* One batch on partition 0, right after the previous one. */
static void apply(fixture *f, const ew_billing_record *recs, size_t n)
{
    ew_flush_partition part = {0, f->next_offset, f->next_offset + (int64_t)n, 0};
    int32_t rp = -7;
    int64_t ro = -7;
    assert_int_equal(ew_state_cost_apply(f->st, TOPIC, &part, 1, recs, n, &rp, &ro), EW_STATE_OK);
    f->next_offset += (int64_t)n;
}

static void apply1(fixture *f, ew_billing_record r) { apply(f, &r, 1); }

/* ---- reading back ---- */

typedef struct {
    ew_cost_project proj;
    ew_cost_day days[MAX_DAYS];
    size_t n;
} view;

static view *read_view(fixture *f, const char *project, int64_t first_day, size_t n)
{
    view *v = calloc(1, sizeof *v);
    v->n = n;
    assert_int_equal(ew_state_cost_read(f->st, project, first_day, n, true, &v->proj, v->days), EW_STATE_OK);
    return v;
}

static void view_free(view *v)
{
    ew_cost_days_free(v->days, v->n);
    free(v);
}

static int64_t entry(const ew_cost_day *d, char dim, int hour, const char *value)
{
    for (size_t i = 0; i < d->n_entries; i++)
        if (d->entries[i].dim == dim && d->entries[i].hour == hour && strcmp(d->entries[i].value, value) == 0)
            return d->entries[i].micros;
    return 0;
}

static int64_t view_total(const view *v)
{
    int64_t sum = 0;
    for (size_t i = 0; i < v->n; i++)
        for (int h = 0; h < 24; h++)
            sum += v->days[i].hour_micros[h];
    return sum;
}

/* The sum of one dimension's entries: each dimension splits the total. */
static int64_t view_dim_total(const view *v, char dim)
{
    int64_t sum = 0;
    for (size_t i = 0; i < v->n; i++)
        for (size_t e = 0; e < v->days[i].n_entries; e++)
            sum += v->days[i].entries[e].dim == dim ? v->days[i].entries[e].micros : 0;
    return sum;
}

/* Hour totals over the read days, hour by hour (day-major). */
static int64_t view_hour(const view *v, int64_t hour_ms)
{
    int64_t i = (hour_ms - v->days[0].day_ms) / D;
    return v->days[i].hour_micros[(hour_ms - v->days[i].day_ms) / H];
}

static size_t view_entries(const view *v)
{
    size_t n = 0;
    for (size_t i = 0; i < v->n; i++)
        n += v->days[i].n_entries;
    return n;
}

/* Claims one refresh, which must exist. Caller frees. */
static ew_cost_refresh claim(fixture *f)
{
    ew_cost_refresh r;
    bool found = false;
    assert_int_equal(ew_state_cost_claim_refresh(f->st, &r, &found), EW_STATE_OK);
    assert_true(found);
    return r;
}

static void claim_none(fixture *f)
{
    ew_cost_refresh r;
    bool found = true;
    assert_int_equal(ew_state_cost_claim_refresh(f->st, &r, &found), EW_STATE_OK);
    assert_false(found);
    ew_cost_refresh_free(&r);
}

static void commit_nothing(fixture *f, uint64_t seq)
{
    assert_int_equal(ew_state_cost_commit(f->st, seq, NULL, NULL, 0), EW_STATE_OK);
}

/* "a,b" of a refresh's projects. */
static void assert_projects(const ew_cost_refresh *r, const char *want)
{
    char got[512] = "";
    for (size_t i = 0; i < r->n_projects; i++)
        snprintf(got + strlen(got), sizeof got - strlen(got), "%s%s", i ? "," : "", r->projects[i]);
    assert_string_equal(got, want);
}

/* ---- Valkey-only looks at the keys themselves ---- */

static redisReply *raw(fixture *f, const char *fmt, const char *key_suffix)
{
    redisContext *c = redisConnect("127.0.0.1", f->cfg.valkey_port);
    assert_non_null(c);
    assert_int_equal(c->err, 0);
    char key[256];
    snprintf(key, sizeof key, "%s%s", f->cfg.prefix, key_suffix);
    redisReply *r = redisCommand(c, fmt, key);
    assert_non_null(r);
    redisFree(c);
    return r;
}

static long long raw_int(fixture *f, const char *fmt, const char *key_suffix)
{
    redisReply *r = raw(f, fmt, key_suffix);
    assert_int_equal(r->type, REDIS_REPLY_INTEGER);
    long long v = r->integer;
    freeReplyObject(r);
    return v;
}

/* ---- scenarios ---- */

/* A line spread over the hours it touches, each dimension too; one round
 * trip per call in Valkey. */
static void test_new_line(void **state)
{
    fixture *f = use(state);
    ew_state_stats before = *ew_state_stats_of(f->st);
    apply1(f, line("k1", "v1", "web", CF, "DataTransfer-Out", "E1", T0 + 30 * 60000, T0 + 3 * H, 3000007));
    view *v = read_view(f, "web", T0, 2);
    if (f->valkey)
        assert_int_equal(ew_state_stats_of(f->st)->round_trips - before.round_trips, 2);
    assert_int_equal(v->days[0].day_ms, T0);
    assert_int_equal(v->days[1].day_ms, T0 + D);
    for (int h = 0; h < 3; h++) {
        int64_t want = ew_billing_hour_part(3000007, 3, h);
        assert_int_equal(v->days[0].hour_micros[h], want);
        assert_int_equal(entry(&v->days[0], 's', h, CF), want);
        assert_int_equal(entry(&v->days[0], 'u', h, "DataTransfer-Out"), want);
        assert_int_equal(entry(&v->days[0], 'r', h, "E1"), want);
    }
    assert_int_equal(v->days[0].hour_micros[0], 1000003);
    assert_int_equal(v->days[0].hour_micros[3], 0);
    assert_int_equal(v->days[0].n_entries, 9);
    /* Sorted by hour, then dimension (r < s < u). */
    assert_int_equal(v->days[0].entries[0].hour, 0);
    assert_int_equal(v->days[0].entries[0].dim, 'r');
    assert_int_equal(v->days[0].entries[8].hour, 2);
    assert_int_equal(v->days[0].entries[8].dim, 'u');
    assert_int_equal(v->days[1].n_entries, 0);
    assert_int_equal(v->proj.first_ms, T0);
    assert_int_equal(v->proj.horizon_ms, T0 + 3 * H);
    assert_string_equal(v->proj.det, "");
    view_free(v);
}

/* The same line again changes nothing, not even the changed projects. */
static void test_redelivery_is_noop(void **state)
{
    fixture *f = use(state);
    ew_billing_record l = line("k1", "v1", "web", CF, "Requests", "", T0, T0 + 2 * H, 1001);
    ew_billing_record batch[2] = {l, refresh("v1", false)};
    apply(f, batch, 2);
    ew_cost_refresh r = claim(f);
    assert_projects(&r, "web");
    commit_nothing(f, r.seq);
    ew_cost_refresh_free(&r);
    apply(f, batch, 2);
    apply1(f, l);
    r = claim(f);
    assert_int_equal(r.n_projects, 0);
    ew_cost_refresh_free(&r);
    view *v = read_view(f, "web", T0, 1);
    assert_int_equal(v->days[0].hour_micros[0], 501);
    assert_int_equal(v->days[0].hour_micros[1], 500);
    assert_int_equal(v->days[0].n_entries, 4); /* no resource: s and u only */
    view_free(v);
}

/* Restated up, then back: the totals return exactly; a changed service
 * moves the cost between services. */
static void test_restatement(void **state)
{
    fixture *f = use(state);
    apply1(f, line("k1", "v1", "web", CF, "Requests", "E1", T0, T0 + 3 * H, 1000));
    view *first = read_view(f, "web", T0, 1);
    apply1(f, line("k1", "v2", "web", CF, "Requests", "E1", T0, T0 + 3 * H, 5003));
    view *v = read_view(f, "web", T0, 1);
    assert_int_equal(v->days[0].hour_micros[0], 1669);
    assert_int_equal(v->days[0].hour_micros[2], 1667);
    view_free(v);
    apply1(f, line("k1", "v3", "web", CF, "Requests", "E1", T0, T0 + 3 * H, 1000));
    v = read_view(f, "web", T0, 1);
    assert_memory_equal(v->days[0].hour_micros, first->days[0].hour_micros, sizeof v->days[0].hour_micros);
    assert_int_equal(v->days[0].n_entries, first->days[0].n_entries);
    view_free(v);
    apply1(f, line("k1", "v4", "web", "AmazonS3", "Requests", "E1", T0, T0 + 3 * H, 1000));
    v = read_view(f, "web", T0, 1);
    assert_int_equal(entry(&v->days[0], 's', 0, CF), 0);
    assert_int_equal(entry(&v->days[0], 's', 0, "AmazonS3"), 334);
    assert_int_equal(v->days[0].n_entries, 9);
    view_free(v);
    view_free(first);
}

/* A tag activated later: the line leaves "untagged" for its project. */
static void test_line_moves_project(void **state)
{
    fixture *f = use(state);
    apply1(f, line("k1", "v1", EW_BILL_UNTAGGED, CF, "Requests", "E1", T0 + 23 * H, T0 + 25 * H, 999));
    ew_billing_record batch[2] = {line("k1", "v2", "web", CF, "Requests", "E1", T0 + 23 * H, T0 + 25 * H, 999),
                                  refresh("v2", false)};
    apply(f, batch, 2);
    view *gone = read_view(f, EW_BILL_UNTAGGED, T0, 2);
    assert_int_equal(view_total(gone), 0);
    assert_int_equal(view_entries(gone), 0);
    view *moved = read_view(f, "web", T0, 2);
    assert_int_equal(moved->days[0].hour_micros[23], 500);
    assert_int_equal(moved->days[1].hour_micros[0], 499);
    assert_int_equal(entry(&moved->days[1], 'r', 0, "E1"), 499);
    ew_cost_refresh r = claim(f);
    assert_projects(&r, "untagged,web");
    ew_cost_refresh_free(&r);
    view_free(gone);
    view_free(moved);
}

/* Credits are negative and truncate toward zero, remainder first. */
static void test_credit(void **state)
{
    fixture *f = use(state);
    ew_billing_record batch[3] = {
        line("use", "v1", "web", CF, "Requests", "", T0, T0 + 2 * H, 2000000),
        line("credit", "v1", "web", CF, "Credit", "", T0, T0 + 2 * H, -1000001),
        line("refund", "v1", "api", CF, "Refund", "", T0 + 10 * H, T0 + 11 * H + 1, -7),
    };
    apply(f, batch, 3);
    view *v = read_view(f, "web", T0, 1);
    assert_int_equal(ew_billing_hour_part(-1000001, 2, 0), -500001);
    assert_int_equal(v->days[0].hour_micros[0], 1000000 - 500001);
    assert_int_equal(v->days[0].hour_micros[1], 1000000 - 500000);
    assert_int_equal(entry(&v->days[0], 'u', 0, "Credit"), -500001);
    assert_int_equal(entry(&v->days[0], 's', 1, CF), 500000);
    view_free(v);
    v = read_view(f, "api", T0, 1);
    assert_int_equal(v->days[0].hour_micros[10], ew_billing_hour_part(-7, 2, 0));
    assert_int_equal(v->days[0].hour_micros[11], ew_billing_hour_part(-7, 2, 1));
    assert_int_equal(view_total(v), -7);
    view_free(v);
}

static void assert_spread(const view *v, int64_t start, int64_t end, int64_t cost)
{
    int64_t n = ew_billing_hours(start, end), first = ew_billing_first_hour_ms(start);
    for (int64_t i = 0; i < n; i++)
        assert_int_equal(view_hour(v, first + i * H), ew_billing_hour_part(cost, n, i));
    assert_int_equal(view_total(v), cost);
    assert_int_equal(view_dim_total(v, 's'), cost);
    assert_int_equal(view_dim_total(v, 'u'), cost);
}

/* A line over three days and a monthly one (744 hours) sum exactly. */
static void test_long_lines(void **state)
{
    fixture *f = use(state);
    int64_t s3 = T0 + 5 * H + 10 * 60000, e3 = T0 + 3 * D + 5 * H;
    ew_billing_record batch[2] = {line("three", "v1", "batch", CF, "Requests", "E1", s3, e3, 7777777),
                                  line("month", "v1", "monthly", "AWSSupport", "Support", "", T0, T0 + 31 * D,
                                       123456789)};
    apply(f, batch, 2);
    assert_int_equal(ew_billing_hours(T0, T0 + 31 * D), 744);
    view *v = read_view(f, "batch", T0, 4);
    assert_spread(v, s3, e3, 7777777);
    assert_int_equal(v->proj.horizon_ms, INT64_MIN); /* spans more than a day */
    assert_int_equal(v->proj.first_ms, T0 + 5 * H);
    view_free(v);
    v = read_view(f, "monthly", T0, MAX_DAYS);
    assert_spread(v, T0, T0 + 31 * D, 123456789);
    assert_int_equal(v->days[31].n_entries, 0);
    view_free(v);
}

/* Each refresh end queues the projects its period changed since the last. */
static void test_refresh_queue(void **state)
{
    fixture *f = use(state);
    ew_billing_record batch[6] = {
        line("a", "v1", "p2", CF, "Requests", "", T0, T0 + H, 10),
        line("b", "v1", "p1", CF, "Requests", "", T0, T0 + H, 20),
        refresh("v1", false),
        refresh("v2", false),
    };
    ew_billing_record feb = line("c", "f1", "p3", CF, "Requests", "", T0 - D, T0 - D + H, 30);
    snprintf(feb.billing_period, sizeof feb.billing_period, "2026-02");
    batch[4] = feb;
    batch[5] = refresh_in("2026-02", "f1", true);
    apply(f, batch, 6);
    /* Strictly in order: the next waits until the one before is committed. */
    ew_cost_refresh r1 = claim(f);
    claim_none(f);
    commit_nothing(f, r1.seq);
    ew_cost_refresh r2 = claim(f);
    claim_none(f);
    commit_nothing(f, r2.seq);
    ew_cost_refresh r3 = claim(f);
    commit_nothing(f, r3.seq);
    claim_none(f);
    assert_true(r1.seq < r2.seq && r2.seq < r3.seq);
    assert_string_equal(r1.billing_period, PERIOD);
    assert_string_equal(r1.report_version, "v1");
    assert_projects(&r1, "p1,p2");
    assert_string_equal(r2.report_version, "v2");
    assert_int_equal(r2.n_projects, 0);
    assert_string_equal(r3.billing_period, "2026-02");
    assert_projects(&r3, "p3");
    ew_cost_refresh_free(&r1);
    ew_cost_refresh_free(&r2);
    ew_cost_refresh_free(&r3);
}

/* A full refresh drops the period's lines it did not repeat; a partial
 * one drops nothing. */
static void test_full_refresh(void **state)
{
    fixture *f = use(state);
    ew_billing_record v1[4] = {
        line("k1", "v1", "p1", CF, "Requests", "", T0, T0 + H, 100),
        line("k2", "v1", "p2", CF, "Requests", "", T0, T0 + H, 200),
        line("k3", "v1", "p2", CF, "Requests", "", T0 + H, T0 + 2 * H, 300),
        refresh("v1", true),
    };
    apply(f, v1, 4);
    ew_cost_refresh r = claim(f);
    assert_projects(&r, "p1,p2");
    commit_nothing(f, r.seq);
    ew_cost_refresh_free(&r);
    ew_billing_record v2[2] = {line("k1", "v2", "p1", CF, "Requests", "", T0, T0 + H, 150), refresh("v2", false)};
    apply(f, v2, 2);
    view *v = read_view(f, "p2", T0, 1);
    assert_int_equal(view_total(v), 500);
    view_free(v);
    ew_billing_record v3[3] = {line("k1", "v3", "p1", CF, "Requests", "", T0, T0 + H, 170),
                               line("k3", "v3", "p2", CF, "Requests", "", T0 + H, T0 + 2 * H, 300),
                               refresh("v3", true)};
    apply(f, v3, 3);
    v = read_view(f, "p2", T0, 1);
    assert_int_equal(v->days[0].hour_micros[0], 0);
    assert_int_equal(v->days[0].hour_micros[1], 300);
    view_free(v);
    v = read_view(f, "p1", T0, 1);
    assert_int_equal(view_total(v), 170);
    view_free(v);
    ew_cost_refresh r2 = claim(f);
    commit_nothing(f, r2.seq);
    ew_cost_refresh r3 = claim(f);
    assert_projects(&r2, "p1");
    assert_projects(&r3, "p1,p2");
    ew_cost_refresh_free(&r2);
    ew_cost_refresh_free(&r3);
}

/* A batch whose offsets are already applied is refused whole. */
static void test_offsets_refusal(void **state)
{
    fixture *f = use(state);
    ew_billing_record batch[3] = {line("k1", "v1", "web", CF, "Requests", "", T0, T0 + H, 100),
                                  line("k2", "v1", "web", CF, "Requests", "", T0, T0 + H, 10), refresh("v1", false)};
    apply(f, batch, 3);
    ew_billing_record replay[2] = {line("k3", "v1", "web", CF, "Requests", "", T0, T0 + H, 1000), refresh("v2", true)};
    ew_flush_partition part = {0, 1, 3, 0};
    int32_t rp = -1;
    int64_t ro = -1;
    assert_int_equal(ew_state_cost_apply(f->st, TOPIC, &part, 1, replay, 2, &rp, &ro), EW_STATE_REFUSED);
    assert_int_equal(rp, 0);
    assert_int_equal(ro, 3);
    view *v = read_view(f, "web", T0, 1);
    assert_int_equal(view_total(v), 110);
    view_free(v);
    int64_t next, wm;
    assert_int_equal(ew_state_partition(f->st, TOPIC, 0, &next, &wm), EW_STATE_OK);
    assert_int_equal(next, 3);
    assert_int_equal(wm, INT64_MIN); /* the billing topic has no watermarks */
    ew_cost_refresh r = claim(f);
    assert_string_equal(r.report_version, "v1");
    ew_cost_refresh_free(&r);
    claim_none(f); /* the refused refresh end was not queued */
    part = (ew_flush_partition){0, 3, 5, 0};
    assert_int_equal(ew_state_cost_apply(f->st, TOPIC, &part, 1, replay, 2, &rp, &ro), EW_STATE_OK);
}

/* A claimed refresh is leased; a committed one is gone, its detector
 * states stored (and cut to EW_COST_DET_MAX - 1). */
static void test_claim_commit(void **state)
{
    fixture *f = use(state);
    ew_billing_record batch[4] = {line("k1", "v1", "p1", CF, "Requests", "", T0, T0 + H, 1), refresh("v1", false),
                                  line("k2", "v2", "p2", CF, "Requests", "", T0, T0 + H, 2), refresh("v2", false)};
    apply(f, batch, 4);
    ew_cost_refresh a = claim(f);
    assert_projects(&a, "p1");
    claim_none(f); /* the next refresh waits for the leased one before it */
    char *long_det = calloc(1, 3000);
    memset(long_det, 'x', 2999);
    const char *projects[2] = {"p1", "p2"}, *dets[2] = {"ewma 1.5 2 3", long_det};
    ew_state_stats before = *ew_state_stats_of(f->st);
    assert_int_equal(ew_state_cost_commit(f->st, a.seq, projects, dets, 2), EW_STATE_OK);
    if (f->valkey)
        assert_int_equal(ew_state_stats_of(f->st)->round_trips - before.round_trips, 1);
    ew_cost_refresh b = claim(f);
    assert_true(a.seq < b.seq);
    assert_projects(&b, "p2");
    commit_nothing(f, b.seq);
    view *v = read_view(f, "p1", T0, 0);
    assert_string_equal(v->proj.det, "ewma 1.5 2 3");
    view_free(v);
    v = read_view(f, "p2", T0, 0);
    assert_int_equal(strlen(v->proj.det), EW_COST_DET_MAX - 1);
    view_free(v);
    claim_none(f);
    if (f->valkey) {
        char key[64];
        snprintf(key, sizeof key, "bq:%llu", (unsigned long long)a.seq);
        assert_int_equal(raw_int(f, "EXISTS %s", key), 0);
        snprintf(key, sizeof key, "bq:claim:%llu", (unsigned long long)a.seq);
        assert_int_equal(raw_int(f, "EXISTS %s", key), 0);
        assert_int_equal(raw_int(f, "ZCARD %s", "bq"), 0);
    }
    ew_cost_refresh_free(&a);
    ew_cost_refresh_free(&b);
    free(long_det);
}

/* Zero days reads the summary only; unknown projects and days read as 0. */
static void test_read_edges(void **state)
{
    fixture *f = use(state);
    apply1(f, line("k1", "v1", "web", CF, "Requests", "", T0 + 2 * D, T0 + 2 * D + H, 5));
    ew_cost_project p;
    assert_int_equal(ew_state_cost_read(f->st, "web", T0, 0, false, &p, NULL), EW_STATE_OK);
    assert_int_equal(p.first_ms, T0 + 2 * D);
    assert_int_equal(p.horizon_ms, T0 + 2 * D + H);
    view *v = read_view(f, "nobody", T0, 3);
    assert_int_equal(v->proj.first_ms, INT64_MIN);
    assert_int_equal(v->proj.horizon_ms, INT64_MIN);
    assert_string_equal(v->proj.det, "");
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(v->days[i].day_ms, T0 + (int64_t)i * D);
        assert_int_equal(v->days[i].n_entries, 0);
        assert_null(v->days[i].entries);
    }
    assert_int_equal(view_total(v), 0);
    view_free(v);
}

static void test_incidents(void **state)
{
    fixture *f = use(state);
    ew_state *s = f->st;
    assert_int_equal(ew_state_incident_note(s, "web", "a", "distribution", 1000, 2000), EW_STATE_OK);
    assert_int_equal(ew_state_incident_note(s, "web", "b", "project", 1500, INT64_MAX), EW_STATE_OK);
    assert_int_equal(ew_state_incident_note(s, "web", "c", "distribution", 3000, 4000), EW_STATE_OK);
    assert_int_equal(ew_state_incident_note(s, "web", "d", "distribution", 1900, INT64_MAX), EW_STATE_OK);
    assert_int_equal(ew_state_incident_note(s, "api", "e", "distribution", 0, INT64_MAX), EW_STATE_OK);
    assert_int_equal(ew_state_incident_note(s, "web", "a", "distribution", 5000, 6000), EW_STATE_OK); /* rewritten */
    char ids[4][64];
    size_t n = 9;
    assert_int_equal(ew_state_incidents_overlapping(s, "web", "distribution", 1800, 3500, ids, 4, &n), EW_STATE_OK);
    assert_int_equal(n, 2);
    assert_string_equal(ids[0], "c");
    assert_string_equal(ids[1], "d");
    assert_int_equal(ew_state_incidents_overlapping(s, "web", "distribution", 1800, 3500, ids, 1, &n), EW_STATE_OK);
    assert_int_equal(n, 1);
    assert_string_equal(ids[0], "c");
    /* [from, to) against [start, end): touching ends do not overlap. */
    assert_int_equal(ew_state_incidents_overlapping(s, "web", "distribution", 0, 3000, ids, 4, &n), EW_STATE_OK);
    assert_int_equal(n, 1);
    assert_string_equal(ids[0], "d");
    assert_int_equal(ew_state_incidents_overlapping(s, "web", "distribution", 4000, 5001, ids, 4, &n), EW_STATE_OK);
    assert_int_equal(n, 2);
    assert_string_equal(ids[0], "a");
    assert_int_equal(ew_state_incidents_overlapping(s, "web", "project", 0, 1600, ids, 4, &n), EW_STATE_OK);
    assert_int_equal(n, 1);
    assert_string_equal(ids[0], "b");
    assert_int_equal(ew_state_incidents_overlapping(s, "nobody", "project", 0, INT64_MAX, ids, 4, &n), EW_STATE_OK);
    assert_int_equal(n, 0);
}

/* Key names and TTLs as state/README.md documents them. */
static void test_valkey_keys(void **state)
{
    fixture *f = use(state);
    if (!f->valkey)
        skip();
    ew_billing_record batch[2] = {line("k1", "v1", "web", CF, "Requests", "E1", T0, T0 + H, 42), refresh("v1", false)};
    apply(f, batch, 2);
    char day[64];
    snprintf(day, sizeof day, "cd:web:%lld", (long long)(T0 / 1000));
    redisReply *r = raw(f, "HGET %s t:00", day);
    assert_string_equal(r->str, "42");
    freeReplyObject(r);
    long long ttl = raw_int(f, "TTL %s", day);
    assert_true(ttl > 15 * 86400 && ttl <= 16 * 86400);
    ttl = raw_int(f, "TTL %s", "bl:" PERIOD);
    assert_true(ttl > 69 * 86400 && ttl <= 70 * 86400);
    ttl = raw_int(f, "TTL %s", "cp:web");
    assert_true(ttl > 13 * 86400 && ttl <= 14 * 86400);
    ttl = raw_int(f, "TTL %s", "off:" TOPIC);
    assert_true(ttl > 13 * 86400 && ttl <= 14 * 86400);
    assert_int_equal(raw_int(f, "HLEN %s", day), 4);
    assert_int_equal(raw_int(f, "EXISTS %s", "bdirty:" PERIOD), 0);
    assert_int_equal(raw_int(f, "ZCARD %s", "bq"), 1);
    /* Back to 0: every field goes, and with them the key. */
    apply1(f, line("k1", "v2", "web", CF, "Requests", "E1", T0, T0 + H, 0));
    assert_int_equal(raw_int(f, "EXISTS %s", day), 0);
}

/* ---- a pseudo-random history ---- */

#define KEYS 120
#define PROJECTS 5
static const char *const project_names[PROJECTS] = {"api", "batch", "untagged", "web", "web:eu"};
static const char *const services[3] = {CF, "AmazonS3", "AWSLambda"};

typedef struct {
    uint64_t rng;
    ew_billing_record recs[4 * KEYS * 5];
    size_t n;
    /* What should survive: the lines in force. */
    bool alive[KEYS];
    int64_t cost[KEYS];
    char version[KEYS][8];
} history;

static uint64_t next_rand(history *h)
{
    h->rng ^= h->rng << 13;
    h->rng ^= h->rng >> 7;
    h->rng ^= h->rng << 17;
    return h->rng;
}

static int64_t pick(history *h, int64_t n) { return (int64_t)(next_rand(h) % (uint64_t)n); }

static ew_billing_record random_line(history *h, int k, const char *version)
{
    char key[16];
    snprintf(key, sizeof key, "line%03d", k);
    /* The interval is part of a line's identity: fixed per key. */
    int64_t start = T0 + (k * 7919 % (27 * 24)) * H + (k % 3) * 60000 * 17;
    int64_t span = k % 10 == 0 ? 31 * D - (start - T0) : (k % 7 == 0 ? 3 * D : (1 + k % 5) * H);
    int64_t cost = pick(h, 10) == 0 ? -pick(h, 5000000) : pick(h, 90000000) + 1;
    return line(key, version, project_names[pick(h, PROJECTS)], services[pick(h, 3)], k % 2 ? "Requests" : "Bytes",
                k % 3 ? "E1" : "", start, start + span, cost);
}

static void push(history *h, ew_billing_record r) { h->recs[h->n++] = r; }

static void push_line(history *h, int k, const char *version)
{
    ew_billing_record r = random_line(h, k, version);
    push(h, r);
    h->alive[k] = true;
    h->cost[k] = r.cost_micros;
    snprintf(h->version[k], sizeof h->version[k], "%s", version);
}

/* Four refreshes; each sends most lines (some restated, moved, or twice),
 * skips some; the second and fourth are full, dropping what they skipped. */
static void make_history(history *h, uint64_t seed)
{
    memset(h, 0, sizeof *h);
    h->rng = seed;
    for (int c = 1; c <= 4; c++) {
        char version[4] = {'v', (char)('0' + c), '\0', '\0'};
        for (int k = 0; k < KEYS; k++) {
            if (pick(h, 5) == 0)
                continue;
            push_line(h, k, version);
            if (pick(h, 4) == 0)
                push(h, h->recs[h->n - 1]); /* re-delivered */
            if (pick(h, 6) == 0)
                push_line(h, k, version); /* restated within the refresh */
        }
        bool full = c % 2 == 0;
        push(h, refresh(version, full));
        for (int k = 0; full && k < KEYS; k++)
            if (h->alive[k] && strcmp(h->version[k], version) != 0)
                h->alive[k] = false;
    }
}

static void apply_history(fixture *f, const history *h)
{
    for (size_t at = 0; at < h->n; at += 25)
        apply(f, h->recs + at, h->n - at < 25 ? h->n - at : 25);
}

static int64_t surviving_cost(const history *h)
{
    int64_t sum = 0;
    for (int k = 0; k < KEYS; k++)
        sum += h->alive[k] ? h->cost[k] : 0;
    return sum;
}

/* After everything: the hours hold exactly the lines in force. */
static void test_ground_truth(void **state)
{
    fixture *f = use(state);
    history *h = malloc(sizeof *h);
    make_history(h, 0x9e3779b97f4a7c15ULL);
    apply_history(f, h);
    int64_t sum = 0;
    for (int p = 0; p < PROJECTS; p++) {
        view *v = read_view(f, project_names[p], T0, MAX_DAYS);
        int64_t total = view_total(v);
        assert_int_equal(view_dim_total(v, 's'), total);
        assert_int_equal(view_dim_total(v, 'u'), total);
        sum += total;
        view_free(v);
    }
    assert_int_equal(sum, surviving_cost(h));
    free(h);
}

static void assert_same_view(const view *a, const view *b)
{
    assert_int_equal(a->proj.first_ms, b->proj.first_ms);
    assert_int_equal(a->proj.horizon_ms, b->proj.horizon_ms);
    for (size_t i = 0; i < a->n; i++) {
        const ew_cost_day *x = &a->days[i], *y = &b->days[i];
        assert_memory_equal(x->hour_micros, y->hour_micros, sizeof x->hour_micros);
        assert_int_equal(x->n_entries, y->n_entries);
        for (size_t e = 0; e < x->n_entries; e++) {
            assert_int_equal(x->entries[e].dim, y->entries[e].dim);
            assert_int_equal(x->entries[e].hour, y->entries[e].hour);
            assert_int_equal(x->entries[e].micros, y->entries[e].micros);
            assert_string_equal(x->entries[e].value, y->entries[e].value);
        }
    }
}

/* The same history in memory and in Valkey reads back identically, and
 * queues the same refreshes. */
static void test_backends_agree(void **state)
{
    fixture *f = use(state);
    if (!f->valkey)
        skip();
    fixture *m = fixture_new();
    m->st = ew_state_open_memory(&m->cfg);
    history *h = malloc(sizeof *h);
    make_history(h, 12345);
    apply_history(f, h);
    apply_history(m, h);
    for (int p = 0; p < PROJECTS; p++) {
        view *a = read_view(f, project_names[p], T0, MAX_DAYS), *b = read_view(m, project_names[p], T0, MAX_DAYS);
        assert_same_view(a, b);
        view_free(a);
        view_free(b);
    }
    for (int i = 0; i < 4; i++) {
        ew_cost_refresh a = claim(f), b = claim(m);
        commit_nothing(f, a.seq);
        commit_nothing(m, b.seq);
        assert_int_equal(a.seq, b.seq);
        assert_string_equal(a.report_version, b.report_version);
        assert_int_equal(a.n_projects, b.n_projects);
        for (size_t k = 0; k < a.n_projects; k++)
            assert_string_equal(a.projects[k], b.projects[k]);
        ew_cost_refresh_free(&a);
        ew_cost_refresh_free(&b);
    }
    free(h);
    ew_state_close(m->st);
    ew_config_free(&m->cfg);
    free(m);
}

#define BOTH(fn) {"memory: " #fn, fn, setup_memory, teardown, NULL}, {"valkey: " #fn, fn, setup_valkey, teardown, NULL}

int main(void)
{
    const struct CMUnitTest tests[] = {
        BOTH(test_new_line),
        BOTH(test_redelivery_is_noop),
        BOTH(test_restatement),
        BOTH(test_line_moves_project),
        BOTH(test_credit),
        BOTH(test_long_lines),
        BOTH(test_refresh_queue),
        BOTH(test_full_refresh),
        BOTH(test_offsets_refusal),
        BOTH(test_claim_commit),
        BOTH(test_read_edges),
        BOTH(test_incidents),
        BOTH(test_ground_truth),
        {"valkey: test_valkey_keys", test_valkey_keys, setup_valkey, teardown, NULL},
        {"valkey: test_backends_agree", test_backends_agree, setup_valkey, teardown, NULL},
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
