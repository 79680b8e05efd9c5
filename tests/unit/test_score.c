/* test_score.c -- unit tests for the two-baseline detector, the incident
 * lifecycle and the stored text of the detector state (processor/score.c).
 *
 * Rules come from ew_config_defaults(), so the tests follow the shipped
 * defaults; a test that depends on one value says so. Windows are driven as
 * processor/core.c's score_rule drives them (observe, detect, learn,
 * lifecycle) on the slice of a full seasonal history that the window's
 * hour and weekday select, as state/memory.c stores it. Noise comes from a
 * fixed LCG, so every run sees the same series.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>

#include <cmocka.h>

#include "edgewatch/score.h"

#define W 60000LL /* the default window width */
#define HOUR 3600000LL
#define DAY (24 * HOUR)
/* 2026-11-23T00:00:00Z, a Monday. */
#define T0 1795392000000LL
#define ENTITY "E2QWRUHAPOMQZL"

/* ---- noise ---- */

static uint64_t lcg_state;

static double uniform01(void)
{
    lcg_state = lcg_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return ((double)(lcg_state >> 11) + 0.5) / 9007199254740992.0;
}

/* Poisson-like counts: Knuth's method while exp(-lambda) is representable,
 * then the normal approximation (what a busy distribution looks like). */
static double poisson(double lambda)
{
    if (lambda < 30) {
        double limit = exp(-lambda), p = 1.0;
        int k = 0;
        do {
            k++;
            p *= uniform01();
        } while (p > limit);
        return k - 1;
    }
    double g = sqrt(-2 * log(uniform01())) * cos(2 * M_PI * uniform01());
    return fmax(0, round(lambda + sqrt(lambda) * g));
}

/* ---- a rule and its state, driven like processor/core.c ---- */

typedef struct {
    ew_rule_config rule; /* tests may change it; p.cfg points here */
    ew_rule_params p;
    ew_rule_history h; /* everything a backend keeps for the rule */
} rig;

static void rig_init(rig *r, ew_rule_id id)
{
    ew_config cfg;
    ew_config_defaults(&cfg);
    memset(r, 0, sizeof *r);
    r->rule = cfg.rules[id];
    r->p = (ew_rule_params){id, &r->rule, cfg.window_ms, cfg.traffic_floor_per_min * (double)cfg.window_ms / 60000.0,
                            1.0};
    ew_config_free(&cfg);
    ew_rule_history_init(&r->h);
}

typedef struct {
    ew_detection d;
    ew_event_kind ev;
} outcome;

/* One window: detect against the state before it, learn, advance the
 * incident, store the slice back. */
static outcome step(rig *r, int64_t ws, const uint64_t c[EW_COUNTERS])
{
    ew_rule_state st;
    ew_history_slice(&r->h, ws, &st);
    ew_observation o = ew_observe(r->p.id, c);
    outcome out = {ew_detect(&r->p, &st, o), EW_EVENT_NONE};
    ew_learn(&r->p, &st, o, &out.d);
    out.ev = ew_lifecycle(&r->p, &st.inc, &out.d, ws, ENTITY);
    ew_history_store(&r->h, ws, &st);
    return out;
}

/* What window ws would be scored as, without scoring it. */
static ew_detection peek(const rig *r, int64_t ws, const uint64_t c[EW_COUNTERS])
{
    ew_rule_state st;
    ew_history_slice(&r->h, ws, &st);
    return ew_detect(&r->p, &st, ew_observe(r->p.id, c));
}

/* ---- counters ---- */

static void requests(uint64_t c[EW_COUNTERS], double n)
{
    memset(c, 0, EW_COUNTERS * sizeof *c);
    c[EW_C_REQ] = (uint64_t)n;
}

static void denied(uint64_t c[EW_COUNTERS], double req, double n403)
{
    requests(c, req);
    c[EW_C_STATUS + EW_S403] = (uint64_t)n403;
    c[EW_C_STATUS + EW_S4XX] = (uint64_t)n403; /* 403 also counts in 4xx */
}

static void cache(uint64_t c[EW_COUNTERS], double req, double hit, double miss)
{
    requests(c, req);
    c[EW_C_RESULT + EW_RESULT_HIT] = (uint64_t)hit;
    c[EW_C_RESULT + EW_RESULT_MISS] = (uint64_t)miss;
}

static void origin(uint64_t c[EW_COUNTERS], int32_t ms, uint64_t n)
{
    c[EW_C_ORIGIN + ew_latency_bucket(ms)] += n;
}

static outcome step_requests(rig *r, int64_t ws, double n)
{
    uint64_t c[EW_COUNTERS];
    requests(c, n);
    return step(r, ws, c);
}

static ew_detection peek_requests(const rig *r, int64_t ws, double n)
{
    uint64_t c[EW_COUNTERS];
    requests(c, n);
    return peek(r, ws, c);
}

/* n windows of exactly x from ws: mean x, variance 0. */
static int64_t constant_requests(rig *r, int64_t ws, int n, double x)
{
    for (int i = 0; i < n; i++, ws += W)
        step_requests(r, ws, x);
    return ws;
}

/* n Poisson(lambda) windows from ws; fails on any breach. Returns the next
 * window start. */
static int64_t steady_requests(rig *r, int64_t ws, int n, double lambda)
{
    for (int i = 0; i < n; i++, ws += W) {
        outcome o = step_requests(r, ws, poisson(lambda));
        if (o.d.breach)
            fail_msg("steady window %d: x=%.0f expected %.1f z_short %.2f breached", i, o.d.observed,
                     o.d.expected, o.d.z_short);
    }
    return ws;
}

/* ---- observations ---- */

static void test_observe_counts(void **state)
{
    (void)state;
    uint64_t c[EW_COUNTERS];
    requests(c, 250);
    c[EW_C_STATUS + EW_S403] = 7; /* other counters do not matter */
    for (ew_rule_id r = EW_RULE_REQUEST_SPIKE; r <= EW_RULE_REQUEST_DROP; r++) {
        ew_observation o = ew_observe(r, c);
        assert_true(o.valid);
        assert_true(o.value == 250.0);
        assert_true(o.volume == 250.0);
        assert_true(o.count == 250.0);
    }
    /* No traffic is a measurement too: a silent distribution counts 0. */
    requests(c, 0);
    ew_observation o = ew_observe(EW_RULE_REQUEST_DROP, c);
    assert_true(o.valid);
    assert_true(o.value == 0.0);
}

static void test_observe_rates(void **state)
{
    (void)state;
    uint64_t c[EW_COUNTERS];
    denied(c, 200, 30);
    c[EW_C_STATUS + EW_S5XX] = 8;
    ew_observation o = ew_observe(EW_RULE_ERROR_403_RATE, c);
    assert_true(o.valid);
    assert_true(o.value == 30.0 / 200.0);
    assert_true(o.volume == 200.0);
    assert_true(o.count == 30.0);
    o = ew_observe(EW_RULE_ERROR_5XX_RATE, c);
    assert_true(o.valid);
    assert_true(o.value == 8.0 / 200.0);
    assert_true(o.count == 8.0);
    /* A rate of nothing is no measurement. */
    requests(c, 0);
    assert_false(ew_observe(EW_RULE_ERROR_403_RATE, c).valid);
    assert_false(ew_observe(EW_RULE_ERROR_5XX_RATE, c).valid);
}

static void test_observe_cache_hit_ratio(void **state)
{
    (void)state;
    uint64_t c[EW_COUNTERS];
    cache(c, 100, 60, 20);
    c[EW_C_RESULT + EW_RESULT_ERROR] = 20; /* errors are neither */
    ew_observation o = ew_observe(EW_RULE_CACHE_HIT_DROP, c);
    assert_true(o.valid);
    assert_true(o.value == 0.75);
    assert_true(o.volume == 100.0);
    assert_true(o.count == 80.0);
    /* Requests, but no hit or miss to make a ratio of. */
    cache(c, 50, 0, 0);
    assert_false(ew_observe(EW_RULE_CACHE_HIT_DROP, c).valid);
}

static void test_observe_origin_p95(void **state)
{
    (void)state;
    uint64_t c[EW_COUNTERS];
    requests(c, 100);
    origin(c, 80, 90);  /* (50, 100] */
    origin(c, 300, 10); /* (200, 500] */
    ew_observation o = ew_observe(EW_RULE_ORIGIN_LATENCY, c);
    assert_true(o.valid);
    /* Rank 95 is the 5th of 10 in (200, 500]: 200 + 300 * 5/10. */
    assert_true(o.value == 350.0);
    assert_true(o.volume == 100.0);
    assert_true(o.count == 100.0);

    /* In every closed bucket, the p95 lands inside that bucket. */
    for (int b = 0; b < EW_LAT_BUCKETS - 1; b++) {
        requests(c, 40);
        c[EW_C_ORIGIN + b] = 40;
        double lo = b ? ew_latency_bounds_ms[b - 1] : 0, hi = ew_latency_bounds_ms[b];
        o = ew_observe(EW_RULE_ORIGIN_LATENCY, c);
        assert_true(o.valid);
        assert_true(o.value > lo && o.value <= hi);
        assert_true(fabs(o.value - (lo + 0.95 * (hi - lo))) < 1e-9);
    }
    /* The open last bucket reports its lower bound. */
    requests(c, 5);
    origin(c, 25000, 5);
    o = ew_observe(EW_RULE_ORIGIN_LATENCY, c);
    assert_true(o.valid);
    assert_true(o.value == 10000.0);
    /* Requests served from cache only: no origin sample, no p95. */
    requests(c, 500);
    assert_false(ew_observe(EW_RULE_ORIGIN_LATENCY, c).valid);
}

/* ---- warm-up and the traffic floor ---- */

static void test_warmup(void **state)
{
    (void)state;
    rig r;
    rig_init(&r, EW_RULE_REQUEST_SPIKE);
    assert_int_equal(r.rule.warmup_windows, 10);
    int64_t ws = constant_requests(&r, T0, 9, 100);
    /* One window short: a 10x window is measured but not scored. */
    ew_detection d = peek_requests(&r, ws, 1000);
    assert_false(d.scored);
    assert_false(d.breach);
    assert_true(d.z_short == 90.0);
    assert_true(d.expected == 100.0);
    ws = constant_requests(&r, ws, 1, 100);
    d = peek_requests(&r, ws, 1000);
    assert_true(d.scored);
    assert_true(d.breach);
    /* Warm-up is per rule. */
    r.rule.warmup_windows = 11;
    assert_false(peek_requests(&r, ws, 1000).scored);
    /* A disabled rule scores nothing. */
    r.rule.warmup_windows = 10;
    r.rule.enabled = false;
    d = peek_requests(&r, ws, 1000);
    assert_false(d.scored);
    assert_false(d.breach);
}

static void test_floor_of_count_rules_is_the_usual_level(void **state)
{
    (void)state;
    rig spike, drop;
    rig_init(&spike, EW_RULE_REQUEST_SPIKE);
    rig_init(&drop, EW_RULE_REQUEST_DROP);
    assert_true(spike.p.floor_per_window == 10.0); /* 10/min, 60 s windows */
    /* A tiny series (5 a window): never scored, whatever it does. */
    lcg_state = 11;
    int64_t ws = T0;
    for (int i = 0; i < 200; i++, ws += W) {
        double x = i == 150 ? 500 : i == 170 ? 0 : poisson(5);
        assert_false(step_requests(&spike, ws, x).d.scored);
        assert_false(step_requests(&drop, ws, x).d.scored);
    }

    /* A big series that falls silent: scored, a drop, and it fires. */
    rig_init(&spike, EW_RULE_REQUEST_SPIKE);
    rig_init(&drop, EW_RULE_REQUEST_DROP);
    for (ws = T0; ws < T0 + HOUR; ws += W) {
        double x = poisson(1000);
        step_requests(&spike, ws, x);
        assert_false(step_requests(&drop, ws, x).d.breach);
    }
    ew_detection d = peek_requests(&spike, ws, 0);
    assert_true(d.scored); /* a quiet window of a busy distribution is judged */
    assert_false(d.breach);
    outcome o = step_requests(&drop, ws, 0);
    assert_true(o.d.scored);
    assert_true(o.d.breach);
    assert_int_equal(o.d.severity, EW_SEV_CRITICAL);
    assert_true(o.d.z_short < -8);
    assert_int_equal(o.ev, EW_EVENT_NONE);
    assert_int_equal(step_requests(&drop, ws + W, 0).ev, EW_EVENT_FIRING);
    /* The floor scales with the distribution's setting. */
    drop.p.floor_per_window = 2000;
    assert_false(peek_requests(&drop, ws + 2 * W, 0).scored);
}

static void test_floor_of_rate_rules_is_the_window_volume(void **state)
{
    (void)state;
    rig r;
    rig_init(&r, EW_RULE_ERROR_403_RATE);
    uint64_t c[EW_COUNTERS];
    int64_t ws = T0;
    for (int i = 0; i < 30; i++, ws += W) {
        denied(c, 1000, 10);
        step(&r, ws, c);
    }
    /* 9 requests, all 403: under the floor of 10, not scored. */
    denied(c, 9, 9);
    assert_false(peek(&r, ws, c).scored);
    denied(c, 10, 10);
    ew_detection d = peek(&r, ws, c);
    assert_true(d.scored);
    assert_true(d.breach);

    /* A usually tiny distribution is scored in a busy window. */
    rig_init(&r, EW_RULE_ERROR_403_RATE);
    ws = T0;
    for (int i = 0; i < 30; i++, ws += W) {
        denied(c, 12, 0);
        step(&r, ws, c);
    }
    denied(c, 1000, 400);
    d = peek(&r, ws, c);
    assert_true(d.scored);
    assert_true(d.breach);
}

/* ---- request_spike ---- */

static void test_spike_on_poisson_series(void **state)
{
    (void)state;
    rig r;
    rig_init(&r, EW_RULE_REQUEST_SPIKE);
    lcg_state = 20261123;
    int64_t ws = T0 + 10 * HOUR;
    int scored = 0;
    for (int i = 0; i < 180; i++, ws += W) {
        outcome o = step_requests(&r, ws, poisson(300));
        assert_false(o.d.breach);
        assert_true(isnan(o.d.z_long));
        scored += o.d.scored;
    }
    assert_int_equal(scored, 180 - r.rule.warmup_windows);
    assert_true(fabs(r.h.recent.mean - 300) < 15);

    outcome o = step_requests(&r, ws, 1800);
    assert_true(o.d.scored);
    assert_true(o.d.breach);
    assert_int_equal(o.d.severity, EW_SEV_CRITICAL);
    assert_true(o.d.z_short > r.rule.z_critical);
    assert_true(isnan(o.d.z_long)); /* hour 13 was never seen for a day */
    assert_true(fabs(o.d.expected - 300) < 15);
    /* threshold: the larger of z_warning sd and min_change above. */
    assert_true(o.d.threshold >= o.d.expected * 1.5);
    assert_true(o.d.threshold >= o.d.expected + 4 * sqrt(o.d.expected) - 1e-9);
    assert_int_equal(o.ev, EW_EVENT_NONE);
    assert_int_equal(step_requests(&r, ws + W, 1800).ev, EW_EVENT_FIRING);
}

static void test_spike_warning_and_critical(void **state)
{
    (void)state;
    rig r;
    rig_init(&r, EW_RULE_REQUEST_SPIKE);
    int64_t ws = constant_requests(&r, T0, 20, 30);
    /* Variance 0: sd is the Poisson floor sqrt(30). */
    const double sd = sqrt(30.0);
    ew_detection d = peek_requests(&r, ws, 44);
    assert_true(d.scored);
    assert_false(d.breach);
    assert_true(fabs(d.z_short - 14 / sd) < 1e-12);
    assert_true(fabs(d.threshold - (30 + 4 * sd)) < 1e-12);
    d = peek_requests(&r, ws, 60);
    assert_true(d.breach);
    assert_int_equal(d.severity, EW_SEV_WARNING);
    d = peek_requests(&r, ws, 30 + 8 * sd + 1);
    assert_true(d.breach);
    assert_int_equal(d.severity, EW_SEV_CRITICAL);
    /* A drop is no spike. */
    d = peek_requests(&r, ws, 0);
    assert_true(d.z_short < -4);
    assert_false(d.breach);

    /* With a warm long baseline, critical takes both past z_critical. */
    ew_rule_state st = {.recent = {300, 0, 200}, .hour = {300, 900, 60}}; /* sd sqrt(300), 30 */
    ew_incident_init(&st.inc);
    uint64_t c[EW_COUNTERS];
    requests(c, 300 + 7 * 30);
    d = ew_detect(&r.p, &st, ew_observe(EW_RULE_REQUEST_SPIKE, c));
    assert_true(d.z_short > 8);
    assert_true(fabs(d.z_long - 7) < 1e-9);
    assert_true(d.breach);
    assert_int_equal(d.severity, EW_SEV_WARNING);
    assert_true(d.expected == 300.0);
    requests(c, 300 + 9 * 30);
    d = ew_detect(&r.p, &st, ew_observe(EW_RULE_REQUEST_SPIKE, c));
    assert_int_equal(d.severity, EW_SEV_CRITICAL);
    /* ... and a breach both past z_warning. */
    st.hour.var = 300 * 300;
    d = ew_detect(&r.p, &st, ew_observe(EW_RULE_REQUEST_SPIKE, c));
    assert_true(d.z_short > 8 && d.z_long < 4);
    assert_false(d.breach);
}

static void test_long_baseline_warms_after_a_day(void **state)
{
    (void)state;
    rig r;
    rig_init(&r, EW_RULE_REQUEST_SPIKE);
    lcg_state = 7;
    int64_t ws = T0;
    for (; ws < T0 + DAY; ws += W)
        assert_true(isnan(step_requests(&r, ws, poisson(300)).d.z_long));
    for (int h = 0; h < 24; h++)
        assert_int_equal(r.h.hour[h].n, 60);
    /* One window short of a day for hour 0 of the next day. */
    r.h.hour[0].n = 59;
    assert_true(isnan(peek_requests(&r, ws, 300).z_long));
    r.h.hour[0].n = 60;
    for (; ws < T0 + DAY + 2 * HOUR; ws += W) {
        outcome o = step_requests(&r, ws, poisson(300));
        assert_false(isnan(o.d.z_long));
        assert_true(fabs(o.d.z_long) < 4);
    }
    outcome o = step_requests(&r, ws, 1800);
    assert_true(o.d.breach);
    assert_int_equal(o.d.severity, EW_SEV_CRITICAL);
    assert_true(o.d.z_long > r.rule.z_critical);
    assert_true(fabs(o.d.expected - r.h.hour[2].mean) < 1e-9);
}

/* A smooth daily cycle, 200 at 18:00 to 1800 at 06:00 (UTC). */
static double sinusoid(int64_t ws) { return 1000 + 800 * sin(2 * M_PI * (double)(ws % DAY) / (double)DAY); }

static void test_daily_sinusoid(void **state)
{
    (void)state;
    rig r;
    rig_init(&r, EW_RULE_REQUEST_SPIKE);
    lcg_state = 99;
    int64_t ws = T0;
    for (; ws < T0 + 4 * DAY; ws += W) {
        outcome o = step_requests(&r, ws, poisson(sinusoid(ws)));
        if (o.d.breach)
            fail_msg("window %lld (day %lld %02lld:%02lld): x=%.0f expected %.1f z %.2f / %.2f breached",
                     (long long)((ws - T0) / W), (long long)((ws - T0) / DAY), (long long)(ws % DAY / HOUR),
                     (long long)(ws % HOUR / W), o.d.observed, o.d.expected, o.d.z_short, o.d.z_long);
        if (ws >= T0 + DAY)
            assert_false(isnan(o.d.z_long));
    }
    /* The hour buckets hold the cycle: peak and trough apart. */
    assert_true(fabs(r.h.hour[5].mean - sinusoid(5 * HOUR + 30 * W)) < 60);
    assert_true(fabs(r.h.hour[17].mean - sinusoid(17 * HOUR + 30 * W)) < 60);
    assert_true(r.h.hour[5].mean > 4 * r.h.hour[17].mean);
    /* x4 on the morning rise: both baselines see it. */
    for (int64_t end = ws + 3 * HOUR; ws < end; ws += W)
        assert_false(step_requests(&r, ws, poisson(sinusoid(ws))).d.breach);
    ew_detection d = peek_requests(&r, ws, 4 * sinusoid(ws));
    assert_true(d.breach);
    assert_true(d.z_long > r.rule.z_warning);
    assert_true(d.z_short > r.rule.z_warning);
}

/* The same cycle, x4 at 17:00 (level ~230), after the afternoon descent.
 * The long baseline is sure (z ~40); the short one's variance still holds
 * the descent of the last hours, so it must not veto the breach. */
static void test_daily_sinusoid_spike_in_trough(void **state)
{
    (void)state;
    rig r;
    rig_init(&r, EW_RULE_REQUEST_SPIKE);
    lcg_state = 99;
    int64_t ws = T0;
    for (; ws < T0 + 4 * DAY + 17 * HOUR; ws += W)
        step_requests(&r, ws, poisson(sinusoid(ws)));
    ew_detection d = peek_requests(&r, ws, 4 * sinusoid(ws));
    assert_true(d.z_long > r.rule.z_critical);
    if (!d.breach)
        fail_msg("x4 in the trough missed: x=%.0f expected %.1f z_short %.2f z_long %.2f", d.observed, d.expected,
                 d.z_short, d.z_long);
}

/* Quiet nights, a 30 min morning ramp to 10x at 08:00 and back at 20:00. */
static double ramp_day(int64_t ws)
{
    double m = (double)(ws % DAY / W), ramp = 30;
    if (m < 480 || m >= 1200 + ramp)
        return 200;
    if (m < 480 + ramp)
        return 200 + 1800 * (m - 480) / ramp;
    return m < 1200 ? 2000 : 2000 - 1800 * (m - 1200) / ramp;
}

static void test_daily_ramp_needs_both_baselines(void **state)
{
    (void)state;
    rig r;
    rig_init(&r, EW_RULE_REQUEST_SPIKE);
    lcg_state = 5;
    int first_day = 0, short_past_warning = 0;
    int64_t ws = T0;
    for (; ws < T0 + 5 * DAY; ws += W) {
        outcome o = step_requests(&r, ws, poisson(ramp_day(ws)));
        first_day += ws < T0 + DAY && o.d.breach;
        if (isnan(o.d.z_long))
            continue;
        short_past_warning += o.d.z_short >= r.rule.z_warning;
        if (o.d.breach)
            fail_msg("window %lld: ramp breached with a warm long baseline (z %.2f / %.2f)",
                     (long long)((ws - T0) / W), o.d.z_short, o.d.z_long);
    }
    /* Alone, the short baseline calls the ramp an anomaly. */
    assert_true(first_day > 0);
    assert_true(short_past_warning >= 10);
    /* A x4 burst in the afternoon still breaches both. */
    for (int64_t end = ws + 14 * HOUR; ws < end; ws += W)
        step_requests(&r, ws, poisson(ramp_day(ws)));
    ew_detection d = peek_requests(&r, ws, 8000);
    assert_true(d.breach);
    assert_true(d.z_long > r.rule.z_warning);
}

static void test_min_change_gate(void **state)
{
    (void)state;
    rig r;
    rig_init(&r, EW_RULE_REQUEST_SPIKE);
    assert_true(r.rule.min_change == 0.5);
    int64_t ws = constant_requests(&r, T0, 20, 10000);
    /* +40 %: z 40 against a Poisson sd of 100, but no 50 % change. */
    ew_detection d = peek_requests(&r, ws, 14000);
    assert_true(d.scored);
    assert_true(d.z_short == 40.0);
    assert_false(d.breach);
    assert_true(d.threshold == 15000.0);
    assert_true(ew_anomaly_score(&r.p, &d) <= 0.49);
    assert_true(peek_requests(&r, ws, 15000).breach);
    r.rule.min_change = 0.3;
    assert_true(peek_requests(&r, ws, 14000).breach);
}

/* ---- error_403_rate ---- */

static int64_t steady_403(rig *r, int64_t ws, int n, double volume, double rate)
{
    uint64_t c[EW_COUNTERS];
    for (int i = 0; i < n; i++, ws += W) {
        denied(c, volume, round(volume * rate));
        assert_false(step(r, ws, c).d.breach);
    }
    return ws;
}

static void test_403_min_count(void **state)
{
    (void)state;
    rig r;
    rig_init(&r, EW_RULE_ERROR_403_RATE);
    assert_int_equal(r.rule.min_count, 10);
    int64_t ws = steady_403(&r, T0, 30, 30, 0);
    uint64_t c[EW_COUNTERS];
    /* 9 of 30 (30 %) is far out, but 9 403s are too few to call. */
    denied(c, 30, 9);
    ew_detection d = peek(&r, ws, c);
    assert_true(d.scored); /* a normal window: it may resolve an incident */
    assert_true(d.z_short > 8);
    assert_false(d.breach);
    denied(c, 30, 10);
    assert_true(peek(&r, ws, c).breach);
}

static void test_403_binomial_noise_floor(void **state)
{
    (void)state;
    rig r;
    rig_init(&r, EW_RULE_ERROR_403_RATE);
    r.rule.min_change = 0; /* the floor alone */
    int64_t ws = steady_403(&r, T0, 30, 1000, 0.02);
    assert_true(r.h.recent.var == 0.0);
    const double sd = sqrt(0.02 * 0.98 / 1000);
    uint64_t c[EW_COUNTERS];
    denied(c, 1000, 30);
    ew_detection d = peek(&r, ws, c);
    assert_true(fabs(d.z_short - 0.01 / sd) < 1e-9);
    assert_false(d.breach);
    /* The floor is the window's own volume: 10x the requests, 1/sqrt(10) the sd. */
    denied(c, 10000, 300);
    d = peek(&r, ws, c);
    assert_true(fabs(d.z_short - 0.01 / (sd / sqrt(10))) < 1e-9);
    assert_true(d.breach);
    /* A rate of 0 still has a floor: p(1-p) is taken as at least 0.01. */
    rig_init(&r, EW_RULE_ERROR_403_RATE);
    ws = steady_403(&r, T0, 30, 1000, 0);
    denied(c, 1000, 12);
    d = peek(&r, ws, c);
    assert_true(isfinite(d.z_short));
    assert_true(fabs(d.z_short - 0.012 / sqrt(0.01 / 1000)) < 1e-9);
}

static void test_403_storm(void **state)
{
    (void)state;
    rig r;
    rig_init(&r, EW_RULE_ERROR_403_RATE);
    lcg_state = 403;
    uint64_t c[EW_COUNTERS];
    int64_t ws = T0;
    for (int i = 0; i < 120; i++, ws += W) {
        double req = poisson(1000);
        denied(c, req, poisson(req * 0.01));
        assert_false(step(&r, ws, c).d.breach);
    }
    denied(c, 1000, 400);
    outcome o = step(&r, ws, c);
    assert_true(o.d.breach);
    assert_int_equal(o.d.severity, EW_SEV_CRITICAL);
    assert_true(o.d.threshold <= 0.01 + 0.05 + 0.02);
    assert_int_equal(step(&r, ws + W, c).ev, EW_EVENT_FIRING);

    /* 5xx is the same detector on its own counter. */
    rig_init(&r, EW_RULE_ERROR_5XX_RATE);
    ws = T0;
    for (int i = 0; i < 60; i++, ws += W) {
        requests(c, 1000);
        c[EW_C_STATUS + EW_S5XX] = 5;
        assert_false(step(&r, ws, c).d.breach);
    }
    c[EW_C_STATUS + EW_S5XX] = 200;
    assert_true(peek(&r, ws, c).breach);
    denied(c, 1000, 400); /* 403s are no 5xx */
    assert_false(peek(&r, ws, c).breach);
}

/* ---- cache_hit_drop and origin_latency ---- */

static void test_cache_hit_drop(void **state)
{
    (void)state;
    rig r;
    rig_init(&r, EW_RULE_CACHE_HIT_DROP);
    lcg_state = 77;
    uint64_t c[EW_COUNTERS];
    int64_t ws = T0;
    for (int i = 0; i < 120; i++, ws += W) {
        double miss = poisson(100);
        cache(c, 1000, 1000 - miss, miss);
        assert_false(step(&r, ws, c).d.breach);
    }
    cache(c, 1000, 300, 700);
    outcome o = step(&r, ws, c);
    assert_true(o.d.scored);
    assert_true(o.d.breach);
    assert_true(o.d.z_short < -8);
    assert_int_equal(o.d.severity, EW_SEV_CRITICAL);
    assert_true(o.d.threshold < 0.76); /* min_change 0.15 below ~0.9 */
    /* Better caching is no anomaly. */
    cache(c, 1000, 999, 1);
    assert_false(peek(&r, ws + W, c).breach);
    /* 19 lookups (min_count 20) say nothing about a hit ratio. */
    cache(c, 1000, 0, 19);
    assert_false(peek(&r, ws + W, c).scored);
    /* 12 points down is under min_change 0.15, however sure. */
    cache(c, 100000, 78000, 22000);
    ew_detection d = peek(&r, ws + W, c);
    assert_true(d.z_short < -4);
    assert_false(d.breach);
}

static void test_origin_latency(void **state)
{
    (void)state;
    rig r;
    rig_init(&r, EW_RULE_ORIGIN_LATENCY);
    lcg_state = 500;
    uint64_t c[EW_COUNTERS];
    int64_t ws = T0;
    for (int i = 0; i < 120; i++, ws += W) {
        requests(c, 2000);
        double slow = poisson(20); /* p95 stays in (50, 100] */
        origin(c, 80, (uint64_t)(1000 - slow));
        origin(c, 150, (uint64_t)slow);
        assert_false(step(&r, ws, c).d.breach);
    }
    requests(c, 2000);
    origin(c, 80, 500);
    origin(c, 1500, 500);
    outcome o = step(&r, ws, c);
    assert_true(o.d.observed > 1000 && o.d.observed <= 2000);
    assert_true(o.d.breach);
    assert_int_equal(o.d.severity, EW_SEV_CRITICAL);
    /* 19 fetches (min_count 20) are not a p95. */
    requests(c, 2000);
    origin(c, 5000, 19);
    assert_false(peek(&r, ws + W, c).scored);
    /* p95 145 (rank 950: 41 of 91 into (100, 200]), ~+47 %: past
     * z_warning against the 10 % floor, under min_change 0.5. */
    requests(c, 2000);
    origin(c, 80, 909);
    origin(c, 150, 91);
    ew_detection d = peek(&r, ws + W, c);
    assert_true(fabs(d.observed - (100 + 100 * 41.0 / 91.0)) < 1e-9);
    assert_true(d.z_short > 4);
    assert_false(d.breach);
}

/* ---- learning ---- */

static void test_long_spike_does_not_poison_baselines(void **state)
{
    (void)state;
    rig r;
    rig_init(&r, EW_RULE_REQUEST_SPIKE);
    lcg_state = 1234;
    /* A day and two hours of normal, then three hours at x5 from 02:00. */
    int64_t ws = steady_requests(&r, T0, 26 * 60, 500);
    assert_int_equal(r.h.hour[2].n, 60);
    ew_rule_history before = r.h;
    bool ever_resolved = false;
    for (int i = 0; i < 180; i++, ws += W)
        ever_resolved |= step_requests(&r, ws, poisson(2500)).ev == EW_EVENT_RESOLVED;
    for (int h = 2; h < 5; h++)
        if (r.h.hour[h].mean != before.hour[h].mean)
            fail_msg("hour %d learnt the attack: mean %.3f -> %.3f (n %u -> %u)", h, before.hour[h].mean,
                     r.h.hour[h].mean, before.hour[h].n, r.h.hour[h].n);
    if (r.h.recent.mean > 1500)
        fail_msg("short baseline followed the attack: mean %.1f (was %.1f, spike 2500)", r.h.recent.mean,
                 before.recent.mean);
    assert_false(ever_resolved);
    assert_true(r.h.inc.open);
}

static void test_breaching_window_is_clamped(void **state)
{
    (void)state;
    rig r;
    rig_init(&r, EW_RULE_REQUEST_SPIKE);
    /* Past 180 windows alpha is 2/181 (before, the plain average). */
    int64_t ws = constant_requests(&r, T0, 200, 100);
    outcome o = step_requests(&r, ws, 800);
    assert_true(o.d.breach);
    /* Folded in at mean + z_warning sd = 140, not 800, and into the mean
     * only: a variance fed zw sd every window would grow until the attack
     * looked normal. */
    const double a = 2.0 / 181.0;
    assert_true(fabs(r.h.recent.mean - (100 + a * 40)) < 1e-9);
    assert_true(r.h.recent.var == 0.0);
    assert_int_equal(r.h.recent.n, 201);
    /* A value inside the band is folded in as it is, variance too. */
    double mean = r.h.recent.mean;
    step_requests(&r, ws + W, 130);
    assert_true(fabs(r.h.recent.mean - (mean + a * (130 - mean))) < 1e-9);
    assert_true(fabs(r.h.recent.var - (1 - a) * a * (130 - mean) * (130 - mean)) < 1e-9);
}

static void test_expected_event_multiplier(void **state)
{
    (void)state;
    rig r;
    rig_init(&r, EW_RULE_REQUEST_SPIKE);
    int64_t ws = constant_requests(&r, T0, 30, 1000);
    assert_true(peek_requests(&r, ws, 2500).breach); /* without the event */
    r.p.expect_multiplier = 3;
    ew_detection d = peek_requests(&r, ws, 2500);
    assert_false(d.breach);
    assert_true(d.expected == 3000.0);
    d = peek_requests(&r, ws, 6000);
    assert_true(d.breach);
    assert_true(d.expected == 3000.0);
    /* Only request counts have an expected level to multiply. */
    rig e;
    rig_init(&e, EW_RULE_ERROR_403_RATE);
    uint64_t c[EW_COUNTERS];
    e.rule.min_change = 0;
    ws = steady_403(&e, T0, 30, 1000, 0.01);
    e.p.expect_multiplier = 3;
    denied(c, 1000, 25); /* z ~4.7 against 1 %, none against 3 % */
    d = peek(&e, ws, c);
    assert_true(d.breach);
    assert_true(d.expected == 0.01);
}

/* ---- lifecycle ---- */

static const ew_detection normal = {.observed = 100, .expected = 100, .threshold = 150, .z_short = 0, .z_long = NAN,
                                    .scored = true};
static const ew_detection unscored = {.observed = 3, .expected = 100, .threshold = 150, .z_short = -9.7,
                                      .z_long = NAN};

static ew_detection breach(ew_severity sev)
{
    double z = sev == EW_SEV_CRITICAL ? 70 : 5;
    return (ew_detection){.observed = 100 + 10 * z, .expected = 100, .threshold = 150, .z_short = z, .z_long = NAN,
                          .scored = true, .breach = true, .severity = sev};
}

typedef struct {
    rig r;
    ew_incident inc;
    int64_t ws;
} lifecycle;

static void lifecycle_init(lifecycle *l)
{
    rig_init(&l->r, EW_RULE_REQUEST_SPIKE);
    ew_incident_init(&l->inc);
    l->ws = T0;
}

/* The next window's event for detection d. */
static ew_event_kind next(lifecycle *l, ew_detection d)
{
    ew_event_kind ev = ew_lifecycle(&l->r.p, &l->inc, &d, l->ws, ENTITY);
    l->ws += W;
    return ev;
}

static void test_fire_after_n_of_m(void **state)
{
    (void)state;
    lifecycle l;
    lifecycle_init(&l);
    assert_int_equal(l.r.rule.fire_after, 2);
    assert_int_equal(l.r.rule.fire_window, 3);
    /* Breaches two scored windows apart never fire. */
    for (int i = 0; i < 5; i++) {
        assert_int_equal(next(&l, breach(EW_SEV_CRITICAL)), EW_EVENT_NONE);
        assert_int_equal(next(&l, normal), EW_EVENT_NONE);
        assert_int_equal(next(&l, normal), EW_EVENT_NONE);
    }
    assert_false(l.inc.open);
    assert_string_equal(l.inc.alert_id, "");
    /* Two within three: fires on the second. */
    assert_int_equal(next(&l, breach(EW_SEV_WARNING)), EW_EVENT_NONE);
    assert_int_equal(next(&l, normal), EW_EVENT_NONE);
    int64_t fired = l.ws;
    assert_int_equal(next(&l, breach(EW_SEV_WARNING)), EW_EVENT_FIRING);
    assert_true(l.inc.open);
    assert_int_equal(l.inc.start_ws, fired);
    assert_int_equal(l.inc.last_emit_ws, fired);
    assert_int_equal(l.inc.severity, EW_SEV_WARNING);

    /* Back to back, too. */
    lifecycle_init(&l);
    assert_int_equal(next(&l, breach(EW_SEV_CRITICAL)), EW_EVENT_NONE);
    assert_int_equal(next(&l, breach(EW_SEV_CRITICAL)), EW_EVENT_FIRING);
    assert_int_equal(l.inc.severity, EW_SEV_CRITICAL);
}

static void test_resolve_after_k_normal(void **state)
{
    (void)state;
    lifecycle l;
    lifecycle_init(&l);
    assert_int_equal(l.r.rule.resolve_after, 3);
    next(&l, breach(EW_SEV_WARNING));
    assert_int_equal(next(&l, breach(EW_SEV_WARNING)), EW_EVENT_FIRING);
    char id[24];
    snprintf(id, sizeof id, "%s", l.inc.alert_id);
    /* Two normal, then a breach: the count starts over. */
    assert_int_equal(next(&l, normal), EW_EVENT_NONE);
    assert_int_equal(next(&l, normal), EW_EVENT_NONE);
    assert_int_equal(next(&l, breach(EW_SEV_WARNING)), EW_EVENT_NONE);
    assert_int_equal(next(&l, normal), EW_EVENT_NONE);
    assert_int_equal(next(&l, normal), EW_EVENT_NONE);
    assert_true(l.inc.open);
    int64_t resolved = l.ws;
    assert_int_equal(next(&l, normal), EW_EVENT_RESOLVED);
    assert_false(l.inc.open);
    assert_int_equal(l.inc.last_emit_ws, resolved);
    assert_string_equal(l.inc.alert_id, id); /* the resolved event names it */
    assert_int_equal(next(&l, normal), EW_EVENT_NONE);
}

static void test_unscored_windows_neither_open_nor_resolve(void **state)
{
    (void)state;
    lifecycle l;
    lifecycle_init(&l);
    /* An unscored window between two breaches does not count in the three. */
    assert_int_equal(next(&l, breach(EW_SEV_WARNING)), EW_EVENT_NONE);
    assert_int_equal(next(&l, normal), EW_EVENT_NONE);
    for (int i = 0; i < 10; i++)
        assert_int_equal(next(&l, unscored), EW_EVENT_NONE);
    assert_false(l.inc.open);
    assert_int_equal(next(&l, breach(EW_SEV_WARNING)), EW_EVENT_FIRING);
    /* While open: silence resolves nothing, and does not break a run. */
    for (int i = 0; i < 10; i++)
        assert_int_equal(next(&l, unscored), EW_EVENT_NONE);
    assert_true(l.inc.open);
    assert_int_equal(next(&l, normal), EW_EVENT_NONE);
    assert_int_equal(next(&l, unscored), EW_EVENT_NONE);
    assert_int_equal(next(&l, normal), EW_EVENT_NONE);
    assert_int_equal(next(&l, unscored), EW_EVENT_NONE);
    assert_true(l.inc.open);
    assert_int_equal(next(&l, normal), EW_EVENT_RESOLVED);
}

static void test_update_on_severity_and_repeat(void **state)
{
    (void)state;
    lifecycle l;
    lifecycle_init(&l);
    assert_true(l.r.rule.repeat_interval_ms == HOUR);
    next(&l, breach(EW_SEV_WARNING));
    assert_int_equal(next(&l, breach(EW_SEV_WARNING)), EW_EVENT_FIRING);
    assert_int_equal(next(&l, breach(EW_SEV_WARNING)), EW_EVENT_NONE);
    int64_t up = l.ws;
    assert_int_equal(next(&l, breach(EW_SEV_CRITICAL)), EW_EVENT_UPDATE);
    assert_int_equal(l.inc.severity, EW_SEV_CRITICAL);
    assert_int_equal(l.inc.last_emit_ws, up);
    assert_int_equal(next(&l, breach(EW_SEV_CRITICAL)), EW_EVENT_NONE);
    /* Back down is no news: a critical incident whose windows wobble
     * around z_critical would otherwise send an event per window. */
    assert_int_equal(next(&l, normal), EW_EVENT_NONE);
    assert_int_equal(next(&l, breach(EW_SEV_WARNING)), EW_EVENT_NONE);
    assert_int_equal(l.inc.severity, EW_SEV_CRITICAL);
    assert_int_equal(next(&l, breach(EW_SEV_CRITICAL)), EW_EVENT_NONE);
    /* Again once repeat_interval has passed since the last event. */
    while (l.ws < up + HOUR)
        assert_int_equal(next(&l, breach(EW_SEV_WARNING)), EW_EVENT_NONE);
    assert_int_equal(next(&l, breach(EW_SEV_WARNING)), EW_EVENT_UPDATE);
    assert_int_equal(l.inc.last_emit_ws, up + HOUR);
    assert_int_equal(next(&l, breach(EW_SEV_WARNING)), EW_EVENT_NONE);
    /* repeat_interval 0: only escalations. */
    l.r.rule.repeat_interval_ms = 0;
    for (int i = 0; i < 200; i++)
        assert_int_equal(next(&l, breach(EW_SEV_WARNING)), EW_EVENT_NONE);
}

static void test_alert_id_per_incident(void **state)
{
    (void)state;
    char a[24], b[24], c[24];
    ew_alert_id("request_spike", ENTITY, T0, a);
    ew_alert_id("request_spike", ENTITY, T0, b);
    assert_string_equal(a, b);
    assert_int_equal(strlen(a), 19);
    assert_int_equal(strncmp(a, "ew-", 3), 0);
    assert_int_equal(strspn(a + 3, "0123456789abcdef"), 16);
    ew_alert_id("request_spike", "E1KZ8VX3QYB7JD", T0, c);
    assert_string_not_equal(a, c);
    ew_alert_id("request_spike", ENTITY, T0 + W, c);
    assert_string_not_equal(a, c);
    ew_alert_id("request_drop", ENTITY, T0, c);
    assert_string_not_equal(a, c);

    lifecycle l;
    lifecycle_init(&l);
    next(&l, breach(EW_SEV_WARNING));
    int64_t start = l.ws;
    assert_int_equal(next(&l, breach(EW_SEV_WARNING)), EW_EVENT_FIRING);
    ew_alert_id("request_spike", ENTITY, start, a);
    assert_string_equal(l.inc.alert_id, a);
    next(&l, breach(EW_SEV_CRITICAL));
    next(&l, normal);
    next(&l, breach(EW_SEV_WARNING));
    for (int i = 0; i < 3; i++)
        next(&l, normal);
    assert_false(l.inc.open);
    assert_string_equal(l.inc.alert_id, a);
    /* The next incident is another one. */
    next(&l, breach(EW_SEV_WARNING));
    start = l.ws;
    assert_int_equal(next(&l, breach(EW_SEV_WARNING)), EW_EVENT_FIRING);
    ew_alert_id("request_spike", ENTITY, start, b);
    assert_string_equal(l.inc.alert_id, b);
    assert_string_not_equal(a, b);
    assert_int_equal(l.inc.start_ws, start);
}

/* ---- anomaly score ---- */

static void test_anomaly_score(void **state)
{
    (void)state;
    rig r;
    rig_init(&r, EW_RULE_REQUEST_SPIKE);
    r.rule.min_change = 0.4;
    int64_t ws = constant_requests(&r, T0, 20, 100);
    /* 140: z exactly 4 (sd 10) and exactly +40 %. */
    ew_detection d = peek_requests(&r, ws, 140);
    assert_true(d.z_short == 4.0);
    assert_true(d.breach);
    assert_true(ew_anomaly_score(&r.p, &d) == 0.5);
    /* Monotonic in z, inside [0, 1]. */
    double last = 0.5;
    for (double x = 150; x < 1e7; x *= 1.7) {
        double s = ew_anomaly_score(&r.p, (d = peek_requests(&r, ws, x), &d));
        assert_true(s > last && s <= 1.0);
        last = s;
    }
    for (double x = 139; x >= 0; x -= 13) {
        double s = ew_anomaly_score(&r.p, (d = peek_requests(&r, ws, x), &d));
        assert_true(s >= 0.0 && s < 0.5);
    }
    assert_true(ew_anomaly_score(&r.p, (d = peek_requests(&r, ws, 50), &d)) == 0.0);
    /* Past z_warning but too small a change. */
    r.rule.min_change = 0.5;
    d = peek_requests(&r, ws, 149);
    assert_true(d.z_short > 4);
    assert_false(d.breach);
    assert_true(ew_anomaly_score(&r.p, &d) <= 0.49);
    /* The weaker of the two baselines counts; drops score on their side. */
    ew_detection both = {.z_short = 12, .z_long = 4, .scored = true, .breach = true};
    assert_true(ew_anomaly_score(&r.p, &both) == 0.5);
    rig drop;
    rig_init(&drop, EW_RULE_REQUEST_DROP);
    ew_detection fall = {.z_short = -4, .z_long = NAN, .scored = true, .breach = true};
    assert_true(ew_anomaly_score(&drop.p, &fall) == 0.5);
    fall.scored = false;
    assert_true(ew_anomaly_score(&drop.p, &fall) == 0.0);
}

/* ---- seasons ---- */

static void test_season_of(void **state)
{
    (void)state;
    int h, wd;
    ew_season_of(0, &h, &wd);
    assert_int_equal(h, 0);
    assert_int_equal(wd, 3); /* 1970-01-01, a Thursday */
    ew_season_of(1795447800000LL, &h, &wd); /* 2026-11-23T15:30Z, a Monday */
    assert_int_equal(h, 15);
    assert_int_equal(wd, 0);
    ew_season_of(T0 + 6 * DAY + 23 * HOUR + 59 * W, &h, &wd); /* Sunday 23:59 */
    assert_int_equal(h, 23);
    assert_int_equal(wd, 6);
    ew_season_of(T0 + 7 * DAY, &h, &wd);
    assert_int_equal(h, 0);
    assert_int_equal(wd, 0);
    /* Before 1970: the floor, not truncation toward zero. */
    ew_season_of(-1, &h, &wd); /* 1969-12-31T23:59:59.999, a Wednesday */
    assert_int_equal(h, 23);
    assert_int_equal(wd, 2);
    ew_season_of(-DAY, &h, &wd);
    assert_int_equal(h, 0);
    assert_int_equal(wd, 2);
    ew_season_of(-DAY - 1, &h, &wd);
    assert_int_equal(h, 23);
    assert_int_equal(wd, 1);
    ew_season_of(-7 * DAY + 5 * HOUR, &h, &wd); /* 1969-12-25T05:00, a Thursday */
    assert_int_equal(h, 5);
    assert_int_equal(wd, 3);
    ew_season_of(-1000 * DAY - HOUR, &h, &wd); /* 1967-04-06T23:00, a Thursday */
    assert_int_equal(h, 23);
    assert_int_equal(wd, 3);
}

static void test_history_slice_and_store(void **state)
{
    (void)state;
    ew_rule_history h;
    ew_rule_history_init(&h);
    for (int i = 0; i < 24; i++)
        h.hour[i] = (ew_ewma){100.0 + i, 1.0 + i, (uint32_t)i};
    for (int i = 0; i < 7; i++)
        h.weekday[i] = (ew_ewma){0.5 + i, 0.25 + i, (uint32_t)(30 + i)};
    h.recent = (ew_ewma){42, 7, 99};
    const int64_t monday_15 = T0 + 15 * HOUR + 17 * W;
    ew_rule_state st;
    ew_history_slice(&h, monday_15, &st);
    assert_true(st.hour.mean == 115.0);
    assert_true(st.weekday.mean == 0.5);
    assert_true(st.recent.mean == 42.0);
    assert_int_equal(st.inc.start_ws, -1);

    ew_rule_history before = h;
    st.recent = (ew_ewma){1, 2, 3};
    st.hour = (ew_ewma){4, 5, 6};
    st.weekday = (ew_ewma){7, 8, 9};
    st.inc.open = true;
    st.inc.start_ws = monday_15;
    ew_history_store(&h, monday_15, &st);
    for (int i = 0; i < 24; i++)
        if (i != 15)
            assert_memory_equal(&h.hour[i], &before.hour[i], sizeof h.hour[i]);
    for (int i = 1; i < 7; i++)
        assert_memory_equal(&h.weekday[i], &before.weekday[i], sizeof h.weekday[i]);
    assert_true(h.hour[15].mean == 4.0 && h.hour[15].var == 5.0 && h.hour[15].n == 6);
    assert_true(h.weekday[0].mean == 7.0 && h.weekday[0].var == 8.0 && h.weekday[0].n == 9);
    assert_true(h.recent.mean == 1.0 && h.recent.n == 3);
    assert_true(h.inc.open);
    assert_int_equal(h.inc.start_ws, monday_15);
}

/* ---- stored text ---- */

static void sample_state(ew_detector_state *s)
{
    ew_detector_init(s);
    s->last_ws = T0 + 15 * HOUR;
    const double odd[] = {0.1, 1.0 / 3.0, 4.9406564584124654e-324, -2.5e17, 1e300, 123456.789012345678};
    for (int r = 0; r < EW_TRAFFIC_RULES; r++) {
        ew_rule_state *st = &s->rule[r];
        st->recent = (ew_ewma){odd[r % 6], fabs(odd[(r + 1) % 6]) * 3, UINT32_MAX - (uint32_t)r};
        st->residual = (ew_ewma){-odd[(r + 4) % 6], fabs(odd[(r + 5) % 6]), (uint32_t)r + 7};
        /* Variances are never negative: the parser refuses one. */
        st->hour = (ew_ewma){odd[(r + 2) % 6] / 7, fabs(odd[(r + 3) % 6]), (uint32_t)r * 1000};
        st->weekday = (ew_ewma){M_PI * (r + 1), M_E / (r + 1), 720};
        if (r % 2)
            continue; /* odd rules keep an initial incident: empty ids */
        ew_incident *i = &st->inc;
        ew_alert_id(ew_rule_name((ew_rule_id)r), ENTITY, T0 + r * W, i->alert_id);
        snprintf(i->suppressed_by, sizeof i->suppressed_by, "launch-2026-11-0%c", (char)('0' + r));
        i->open = r == 0;
        i->start_ws = T0 + r * W;
        i->last_emit_ws = T0 + (r + 5) * W;
        i->severity = r == 2 ? EW_SEV_CRITICAL : EW_SEV_WARNING;
        i->breaches = 0xfffffffbu - (uint32_t)r;
        i->normal_run = (uint32_t)r + 1;
    }
}

static void assert_ewma_identical(const ew_ewma *a, const ew_ewma *b)
{
    assert_memory_equal(&a->mean, &b->mean, sizeof a->mean); /* bit-exact */
    assert_memory_equal(&a->var, &b->var, sizeof a->var);
    assert_int_equal(a->n, b->n);
}

static void assert_states_identical(const ew_detector_state *a, const ew_detector_state *b)
{
    assert_int_equal(a->last_ws, b->last_ws);
    for (int r = 0; r < EW_TRAFFIC_RULES; r++) {
        const ew_rule_state *x = &a->rule[r], *y = &b->rule[r];
        assert_ewma_identical(&x->recent, &y->recent);
        assert_ewma_identical(&x->residual, &y->residual);
        assert_ewma_identical(&x->hour, &y->hour);
        assert_ewma_identical(&x->weekday, &y->weekday);
        assert_string_equal(x->inc.alert_id, y->inc.alert_id);
        assert_string_equal(x->inc.suppressed_by, y->inc.suppressed_by);
        assert_int_equal(x->inc.open, y->inc.open);
        assert_int_equal(x->inc.start_ws, y->inc.start_ws);
        assert_int_equal(x->inc.last_emit_ws, y->inc.last_emit_ws);
        assert_int_equal(x->inc.severity, y->inc.severity);
        assert_int_equal(x->inc.breaches, y->inc.breaches);
        assert_int_equal(x->inc.normal_run, y->inc.normal_run);
    }
}

static void test_detector_text_round_trip(void **state)
{
    (void)state;
    ew_detector_state s, back;
    sample_state(&s);
    ew_detector_init(&back);
    for (size_t f = 0; f < EW_DETECTOR_FIELDS; f++) {
        char text[256];
        ew_detector_format(&s, f, text, sizeof text);
        assert_true(strlen(text) > 0);
        if (!ew_detector_parse(&back, f, text))
            fail_msg("field %zu: \"%s\" does not parse", f, text);
    }
    assert_states_identical(&back, &s);

    /* An initial state round-trips too; empty ids are written "-". */
    ew_detector_init(&s);
    char text[256];
    ew_detector_format(&s, 4, text, sizeof text);
    assert_string_equal(text, "0 -1 -1 0 0 0 - -");
    ew_detector_format(&s, 0, text, sizeof text);
    assert_string_equal(text, "-1");
    sample_state(&back);
    for (size_t f = 0; f < EW_DETECTOR_FIELDS; f++) {
        ew_detector_format(&s, f, text, sizeof text);
        assert_true(ew_detector_parse(&back, f, text));
    }
    assert_states_identical(&back, &s);
}

static void test_detector_parse_absent_and_garbage(void **state)
{
    (void)state;
    ew_detector_state s, init;
    ew_detector_init(&s);
    ew_detector_init(&init);
    /* Absent fields (a new hour or weekday bucket) keep the initial value. */
    for (size_t f = 0; f < EW_DETECTOR_FIELDS; f++)
        assert_true(ew_detector_parse(&s, f, NULL));
    assert_states_identical(&s, &init);

    const char *bad_last[] = {"", "abc", "-"};
    for (size_t i = 0; i < 3; i++)
        assert_false(ew_detector_parse(&s, 0, bad_last[i]));
    const char *bad_ewma[] = {"", "1.5", "1.5 2", "x 2 3", "1.5 2 x"};
    for (size_t i = 0; i < 5; i++)
        assert_false(ew_detector_parse(&s, 1, bad_ewma[i]));
    const char *bad_inc[] = {"", "1 2 3", "1 2 3 0 0 0 ew-1", "open -1 -1 0 0 0 - -"};
    for (size_t i = 0; i < 4; i++)
        assert_false(ew_detector_parse(&s, 4, bad_inc[i]));
    assert_false(ew_detector_parse(&s, EW_DETECTOR_FIELDS, "1 2 3"));
}

static void test_detector_field_names(void **state)
{
    (void)state;
    char names[EW_DETECTOR_FIELDS][EW_DETECTOR_FIELD_LEN];
    ew_detector_field_names(T0 + 15 * HOUR + 30 * W, names); /* Monday 15:30 */
    assert_string_equal(names[0], "last");
    const char *rules[EW_TRAFFIC_RULES] = {"request_spike",  "request_drop",    "error_403_rate",
                                           "error_5xx_rate", "cache_hit_drop", "origin_latency"};
    for (int r = 0; r < EW_TRAFFIC_RULES; r++) {
        char want[EW_DETECTOR_FIELD_LEN];
        snprintf(want, sizeof want, "%s:r", rules[r]);
        assert_string_equal(names[1 + 4 * r], want);
        snprintf(want, sizeof want, "%s:h15", rules[r]);
        assert_string_equal(names[2 + 4 * r], want);
        snprintf(want, sizeof want, "%s:w0", rules[r]);
        assert_string_equal(names[3 + 4 * r], want);
        snprintf(want, sizeof want, "%s:i", rules[r]);
        assert_string_equal(names[4 + 4 * r], want);
    }
    /* The hour is two digits; Sunday is 6. */
    ew_detector_field_names(T0 + 6 * DAY + 7 * HOUR, names);
    assert_string_equal(names[2], "request_spike:h07");
    assert_string_equal(names[3], "request_spike:w6");
    assert_string_equal(names[1], "request_spike:r");
}


/* A malformed field leaves the state as it was: half a parse would, e.g.,
 * leave every debounce bit set and fire on the next breaching window. */
static void test_detector_parse_is_all_or_nothing(void **state)
{
    (void)state;
    ew_detector_state s;
    ew_detector_init(&s);
    assert_false(ew_detector_parse(&s, 0, "abc"));
    assert_false(ew_detector_parse(&s, 0, "12abc"));
    assert_int_equal(s.last_ws, -1);
    assert_false(ew_detector_parse(&s, 4, "0 -1 -1 0 4294967295 9 ew-x"));
    assert_int_equal(s.rule[0].inc.breaches, 0);
    assert_int_equal(s.rule[0].inc.normal_run, 0);
    assert_false(ew_detector_parse(&s, 4, "0 -1 -1 0 -1 0 - -"));
    assert_false(ew_detector_parse(&s, 4, "0 -1 -1 0 0 0 - - extra"));
    assert_false(ew_detector_parse(&s, 1, "1 2 3"));       /* the residual is missing */
    assert_false(ew_detector_parse(&s, 1, "1 -2 3 0 0 0")); /* negative variance */
    assert_false(ew_detector_parse(&s, 2, "nan 1 1"));
    assert_int_equal(s.rule[0].recent.n, 0);
    assert_true(ew_detector_parse(&s, 1, "1.5 2 3 -0.5 0.25 4"));
    assert_true(s.rule[0].recent.mean == 1.5 && s.rule[0].residual.mean == -0.5 && s.rule[0].residual.n == 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_observe_counts),
        cmocka_unit_test(test_observe_rates),
        cmocka_unit_test(test_observe_cache_hit_ratio),
        cmocka_unit_test(test_observe_origin_p95),
        cmocka_unit_test(test_warmup),
        cmocka_unit_test(test_floor_of_count_rules_is_the_usual_level),
        cmocka_unit_test(test_floor_of_rate_rules_is_the_window_volume),
        cmocka_unit_test(test_spike_on_poisson_series),
        cmocka_unit_test(test_spike_warning_and_critical),
        cmocka_unit_test(test_long_baseline_warms_after_a_day),
        cmocka_unit_test(test_daily_sinusoid),
        cmocka_unit_test(test_daily_sinusoid_spike_in_trough),
        cmocka_unit_test(test_daily_ramp_needs_both_baselines),
        cmocka_unit_test(test_min_change_gate),
        cmocka_unit_test(test_403_min_count),
        cmocka_unit_test(test_403_binomial_noise_floor),
        cmocka_unit_test(test_403_storm),
        cmocka_unit_test(test_cache_hit_drop),
        cmocka_unit_test(test_origin_latency),
        cmocka_unit_test(test_long_spike_does_not_poison_baselines),
        cmocka_unit_test(test_breaching_window_is_clamped),
        cmocka_unit_test(test_expected_event_multiplier),
        cmocka_unit_test(test_fire_after_n_of_m),
        cmocka_unit_test(test_resolve_after_k_normal),
        cmocka_unit_test(test_unscored_windows_neither_open_nor_resolve),
        cmocka_unit_test(test_update_on_severity_and_repeat),
        cmocka_unit_test(test_alert_id_per_incident),
        cmocka_unit_test(test_anomaly_score),
        cmocka_unit_test(test_season_of),
        cmocka_unit_test(test_history_slice_and_store),
        cmocka_unit_test(test_detector_text_round_trip),
        cmocka_unit_test(test_detector_parse_is_all_or_nothing),
        cmocka_unit_test(test_detector_parse_absent_and_garbage),
        cmocka_unit_test(test_detector_field_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
