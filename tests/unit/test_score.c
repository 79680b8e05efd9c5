/* test_score.c -- unit tests for the request-spike score, the EWMA
 * baseline and the incident lifecycle (processor/score.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <math.h>

#include <cmocka.h>

#include "edgewatch/score.h"

#define W 60000LL /* window width */

static ew_spike_rule default_rule(void)
{
    return (ew_spike_rule){
        .enabled = true,
        .short_window_ms = 3LL * 3600 * 1000, /* span 180 windows: alpha = 2/181 */
        .z_warning = 4.0,
        .z_critical = 8.0,
        .warmup_windows = 10,
        .min_requests = 0,
    };
}

/* Scores x for window ws and folds it in, as the pipeline does. */
static ew_score feed(ew_baseline *b, const ew_spike_rule *r, int64_t ws, double x)
{
    ew_score s = ew_score_requests(r, W, b, ws, x);
    ew_baseline_update(b, r, W, ws, &s);
    return s;
}

/* A baseline of n windows of exactly x: mean x, variance 0. */
static void constant_baseline(ew_baseline *b, const ew_spike_rule *r, int n, double x)
{
    ew_baseline_init(b);
    for (int i = 0; i < n; i++)
        feed(b, r, i * W, x);
}

/* Deterministic Poisson(lambda) draws: a fixed LCG and Knuth's method. */
static uint64_t lcg_state;
static double uniform01(void)
{
    lcg_state = lcg_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return ((double)(lcg_state >> 11) + 0.5) / 9007199254740992.0;
}
static double poisson(double lambda)
{
    double limit = exp(-lambda), p = 1.0;
    int k = 0;
    do {
        k++;
        p *= uniform01();
    } while (p > limit);
    return k - 1;
}

static void assert_baseline_equal(const ew_baseline *a, const ew_baseline *b)
{
    assert_true(a->mean == b->mean);
    assert_true(a->var == b->var);
    assert_int_equal(a->n, b->n);
    assert_int_equal(a->last_ws, b->last_ws);
    assert_true(a->prev_mean == b->prev_mean);
    assert_true(a->prev_var == b->prev_var);
    assert_int_equal(a->prev_n, b->prev_n);
}

/* ---- baseline and score ---- */

static void test_baseline_init(void **state)
{
    (void)state;
    ew_baseline b;
    memset(&b, 0x5a, sizeof b);
    ew_baseline_init(&b);
    assert_true(b.mean == 0.0);
    assert_true(b.var == 0.0);
    assert_int_equal(b.n, 0);
    assert_int_equal(b.last_ws, -1);
}

static void test_warmup_suppresses_scoring(void **state)
{
    (void)state;
    ew_spike_rule r = default_rule();
    ew_baseline b;
    constant_baseline(&b, &r, 9, 100);
    assert_int_equal(b.n, 9);
    /* One window short of warm-up: a 10x value is not scored. */
    ew_score s = ew_score_requests(&r, W, &b, 9 * W, 1000);
    assert_false(s.scored);
    assert_false(s.breach);
    assert_true(s.z == 90.0); /* computed, but not acted on */
    /* With the 10th window folded in, the same value breaches. */
    feed(&b, &r, 9 * W, 100);
    assert_int_equal(b.n, 10);
    s = ew_score_requests(&r, W, &b, 10 * W, 1000);
    assert_true(s.scored);
    assert_true(s.breach);
    /* Warm-up is per rule. */
    r.warmup_windows = 20;
    s = ew_score_requests(&r, W, &b, 10 * W, 1000);
    assert_false(s.scored);
    assert_false(s.breach);
}

static void test_traffic_floor_and_disabled(void **state)
{
    (void)state;
    ew_spike_rule r = default_rule();
    ew_baseline b;
    constant_baseline(&b, &r, 20, 4);
    r.min_requests = 50;
    ew_score s = ew_score_requests(&r, W, &b, 20 * W, 49); /* z = 22.5 */
    assert_false(s.scored);
    assert_false(s.breach);
    s = ew_score_requests(&r, W, &b, 20 * W, 50);
    assert_true(s.scored);
    assert_true(s.breach);
    r.min_requests = 0;
    r.enabled = false;
    s = ew_score_requests(&r, W, &b, 20 * W, 1000);
    assert_false(s.scored);
    assert_false(s.breach);
}

static void test_sd_floor_is_poisson(void **state)
{
    (void)state;
    ew_spike_rule r = default_rule();
    ew_baseline b;
    /* Mean 100 and variance 0: sd is floored at sqrt(100) = 10. */
    constant_baseline(&b, &r, 20, 100);
    assert_true(b.mean == 100.0);
    assert_true(b.var == 0.0);
    ew_score s = ew_score_requests(&r, W, &b, 20 * W, 139);
    assert_true(s.expected == 100.0);
    assert_true(s.observed == 139.0);
    assert_true(s.threshold == 140.0);
    assert_true(fabs(s.z - 3.9) < 1e-12);
    assert_true(s.scored);
    assert_false(s.breach);
    s = ew_score_requests(&r, W, &b, 20 * W, 140); /* z exactly 4 */
    assert_true(s.z == 4.0);
    assert_true(s.breach);
    assert_int_equal(s.severity, EW_SEV_WARNING);
    /* A quiet distribution: mean 1, sd floor 1; 4 requests is z 3. */
    constant_baseline(&b, &r, 20, 1);
    s = ew_score_requests(&r, W, &b, 20 * W, 4);
    assert_true(s.z == 3.0);
    assert_false(s.breach);
    /* Mean 0: sd is floored at 1, not 0. */
    constant_baseline(&b, &r, 20, 0);
    s = ew_score_requests(&r, W, &b, 20 * W, 3);
    assert_true(s.z == 3.0);
    assert_true(isfinite(s.z));
    assert_false(s.breach);
}

static void test_steady_series_never_breaches(void **state)
{
    (void)state;
    ew_spike_rule r = default_rule();
    ew_baseline b;
    ew_baseline_init(&b);
    lcg_state = 20261101;
    double max_z = -1e9, min_z = 1e9;
    int scored = 0;
    for (int i = 0; i < 1500; i++) {
        double x = poisson(300);
        ew_score s = feed(&b, &r, i * W, x);
        if (!s.scored)
            continue;
        scored++;
        if (s.breach)
            fail_msg("window %d: x=%.0f expected %.2f z=%.3f breached", i, x, s.expected, s.z);
        max_z = fmax(max_z, s.z);
        min_z = fmin(min_z, s.z);
    }
    assert_int_equal(scored, 1500 - 10);
    assert_true(max_z < 4.0);
    assert_true(max_z > 1.0);  /* the series does vary */
    assert_true(min_z < -1.0);
    assert_true(fabs(b.mean - 300) < 15);
}

static void test_spike_8x_is_critical(void **state)
{
    (void)state;
    ew_spike_rule r = default_rule();
    ew_baseline b;
    constant_baseline(&b, &r, 20, 100);
    ew_score s = ew_score_requests(&r, W, &b, 20 * W, 800);
    assert_true(s.scored);
    assert_true(s.breach);
    assert_int_equal(s.severity, EW_SEV_CRITICAL);
    assert_true(s.z == 70.0);
    assert_true(s.expected == 100.0);
    assert_true(s.threshold == 140.0);
    /* Warning between z_warning and z_critical, critical from z 8. */
    s = ew_score_requests(&r, W, &b, 20 * W, 150);
    assert_true(s.breach);
    assert_int_equal(s.severity, EW_SEV_WARNING);
    s = ew_score_requests(&r, W, &b, 20 * W, 179);
    assert_int_equal(s.severity, EW_SEV_WARNING);
    s = ew_score_requests(&r, W, &b, 20 * W, 180);
    assert_true(s.breach);
    assert_int_equal(s.severity, EW_SEV_CRITICAL);

    /* Against a noisy Poisson baseline too. */
    ew_baseline_init(&b);
    lcg_state = 7;
    for (int i = 0; i < 300; i++)
        feed(&b, &r, i * W, poisson(300));
    s = ew_score_requests(&r, W, &b, 300 * W, 2400);
    assert_true(s.scored);
    assert_true(s.breach);
    assert_int_equal(s.severity, EW_SEV_CRITICAL);
    assert_true(s.z > 8.0);
    /* A drop is not a spike. */
    s = ew_score_requests(&r, W, &b, 300 * W, 0);
    assert_true(s.z < 0);
    assert_false(s.breach);
}

static void test_update_is_idempotent_per_window(void **state)
{
    (void)state;
    ew_spike_rule r = default_rule();
    ew_baseline b;
    ew_baseline_init(&b);
    lcg_state = 42;
    for (int i = 0; i < 50; i++)
        feed(&b, &r, i * W, poisson(200));
    const int64_t ws = 50 * W;
    ew_baseline before = b;
    ew_score s = ew_score_requests(&r, W, &b, ws, 260);
    assert_true(s.expected == before.mean);
    ew_baseline_update(&b, &r, W, ws, &s);
    ew_baseline once = b;
    assert_int_equal(once.n, 51);
    assert_int_equal(once.last_ws, ws);
    assert_true(once.prev_mean == before.mean);
    assert_true(once.prev_var == before.var);
    assert_int_equal(once.prev_n, 50);
    assert_true(once.mean != before.mean);

    /* Updating the same window again changes nothing... */
    ew_baseline_update(&b, &r, W, ws, &s);
    assert_baseline_equal(&b, &once);
    /* ...nor does an older window. */
    ew_baseline_update(&b, &r, W, ws - W, &s);
    assert_baseline_equal(&b, &once);

    /* Re-scoring ws after its update sees the baseline from before ws. */
    ew_score again = ew_score_requests(&r, W, &b, ws, 260);
    assert_true(again.z == s.z);
    assert_true(again.expected == s.expected);
    assert_true(again.threshold == s.threshold);
    assert_int_equal(again.breach, s.breach);
    assert_int_equal(again.scored, s.scored);
    /* A crash-and-redo of ws (score, then update) reproduces the state. */
    ew_baseline_update(&b, &r, W, ws, &again);
    assert_baseline_equal(&b, &once);

    /* The next window scores against the updated baseline. */
    ew_score next = ew_score_requests(&r, W, &b, ws + W, 260);
    assert_true(next.expected == once.mean);
    assert_true(next.z != s.z);
    ew_baseline_update(&b, &r, W, ws + W, &next);
    assert_int_equal(b.n, 52);
    assert_true(b.prev_mean == once.mean);
}

static void test_ewma_math(void **state)
{
    (void)state;
    ew_spike_rule r = default_rule();
    ew_baseline b;
    ew_baseline_init(&b);
    /* The first window sets the mean outright, whatever its size. */
    feed(&b, &r, 0, 500);
    assert_true(b.mean == 500.0);
    assert_true(b.var == 0.0);
    assert_int_equal(b.n, 1);
    /* Then mean += a*diff, var = (1-a)*(var + diff*a*diff), a = 2/181. */
    const double a = 2.0 / 181.0;
    feed(&b, &r, W, 600);
    assert_true(fabs(b.mean - (500 + a * 100)) < 1e-9);
    assert_true(fabs(b.var - (1 - a) * (a * 100 * 100)) < 1e-9);
    /* A span of one window or less means alpha = 1: the last value. */
    r.short_window_ms = W;
    ew_baseline_init(&b);
    feed(&b, &r, 0, 500);
    feed(&b, &r, W, 600);
    assert_true(b.mean == 600.0);
    assert_true(b.var == 0.0);
}

static void test_breach_is_clamped_in_update(void **state)
{
    (void)state;
    ew_spike_rule r = default_rule();
    ew_baseline b;
    constant_baseline(&b, &r, 20, 100);
    ew_score s = feed(&b, &r, 20 * W, 800);
    assert_true(s.breach);
    assert_true(s.threshold == 140.0);
    const double a = 2.0 / 181.0;
    /* Folded in as 140 (the threshold), not 800. */
    assert_true(fabs(b.mean - (100 + a * 40)) < 1e-9);
    assert_true(fabs(b.var - (1 - a) * (a * 40 * 40)) < 1e-9);
    assert_true(b.mean < 100.5);
    assert_int_equal(b.n, 21);
    /* A non-breaching value is folded in as observed. */
    constant_baseline(&b, &r, 20, 100);
    s = feed(&b, &r, 20 * W, 130);
    assert_false(s.breach);
    assert_true(fabs(b.mean - (100 + a * 30)) < 1e-9);
    /* During warm-up nothing breaches, so nothing is clamped. */
    constant_baseline(&b, &r, 5, 100);
    s = feed(&b, &r, 5 * W, 800);
    assert_false(s.breach);
    assert_true(fabs(b.mean - (100 + a * 700)) < 1e-9);
}

/* ---- incidents ---- */

static const ew_score breach_critical = {.observed = 800, .expected = 100, .threshold = 140, .z = 70,
                                         .scored = true, .breach = true, .severity = EW_SEV_CRITICAL};
static const ew_score breach_warning = {.observed = 150, .expected = 100, .threshold = 140, .z = 5,
                                        .scored = true, .breach = true, .severity = EW_SEV_WARNING};
static const ew_score normal = {.observed = 100, .expected = 100, .threshold = 140, .z = 0, .scored = true};
static const ew_score unscored = {.observed = 3, .expected = 100, .threshold = 140, .z = -9.7};

static void assert_incident_equal(const ew_incident *a, const ew_incident *b)
{
    assert_string_equal(a->alert_id, b->alert_id);
    assert_int_equal(a->open, b->open);
    assert_int_equal(a->start_ws, b->start_ws);
    assert_int_equal(a->resolved_ws, b->resolved_ws);
    assert_int_equal(a->last_ws, b->last_ws);
    assert_int_equal(a->severity, b->severity);
}

static void test_alert_id(void **state)
{
    (void)state;
    char a[24], b[24], c[24];
    ew_alert_id("request_spike", "E2QWRUHAPOMQZL", 1793536800000LL, a);
    ew_alert_id("request_spike", "E2QWRUHAPOMQZL", 1793536800000LL, b);
    assert_string_equal(a, b);
    assert_int_equal(strlen(a), 19);
    assert_int_equal(strncmp(a, "ew-", 3), 0);
    assert_int_equal(strspn(a + 3, "0123456789abcdef"), 16);
    ew_alert_id("request_spike", "E1KZ8VX3QYB7JD", 1793536800000LL, c);
    assert_string_not_equal(a, c);
    ew_alert_id("request_spike", "E2QWRUHAPOMQZL", 1793536860000LL, c);
    assert_string_not_equal(a, c);
    ew_alert_id("error_403_rate", "E2QWRUHAPOMQZL", 1793536800000LL, c);
    assert_string_not_equal(a, c);
}

static void test_incident_lifecycle(void **state)
{
    (void)state;
    ew_incident inc;
    ew_incident_init(&inc);
    assert_string_equal(inc.alert_id, "");
    assert_false(inc.open);
    assert_int_equal(inc.start_ws, -1);
    assert_int_equal(inc.resolved_ws, -1);
    assert_int_equal(inc.last_ws, -1);

    assert_int_equal(ew_incident_step(&inc, &normal, 1 * W, "request_spike", "E1"), EW_EVENT_NONE);
    assert_false(inc.open);
    assert_string_equal(inc.alert_id, "");
    assert_int_equal(inc.last_ws, 1 * W);

    /* Breach opens, with the deterministic id. */
    assert_int_equal(ew_incident_step(&inc, &breach_critical, 2 * W, "request_spike", "E1"), EW_EVENT_FIRING);
    char want[24];
    ew_alert_id("request_spike", "E1", 2 * W, want);
    assert_string_equal(inc.alert_id, want);
    assert_true(inc.open);
    assert_int_equal(inc.start_ws, 2 * W);
    assert_int_equal(inc.resolved_ws, -1);
    assert_int_equal(inc.severity, EW_SEV_CRITICAL);

    /* Continued breach and unscored windows emit nothing, stay open. */
    assert_int_equal(ew_incident_step(&inc, &breach_warning, 3 * W, "request_spike", "E1"), EW_EVENT_NONE);
    assert_int_equal(ew_incident_step(&inc, &unscored, 4 * W, "request_spike", "E1"), EW_EVENT_NONE);
    assert_true(inc.open);
    assert_int_equal(inc.start_ws, 2 * W);
    assert_string_equal(inc.alert_id, want);

    /* A scored, non-breaching window resolves. */
    assert_int_equal(ew_incident_step(&inc, &normal, 5 * W, "request_spike", "E1"), EW_EVENT_RESOLVED);
    assert_false(inc.open);
    assert_int_equal(inc.resolved_ws, 5 * W);
    assert_int_equal(inc.last_ws, 5 * W);
    assert_string_equal(inc.alert_id, want); /* kept for the resolved event */
    assert_int_equal(ew_incident_step(&inc, &normal, 6 * W, "request_spike", "E1"), EW_EVENT_NONE);

    /* The next breach is a new incident with a new id. */
    assert_int_equal(ew_incident_step(&inc, &breach_warning, 7 * W, "request_spike", "E1"), EW_EVENT_FIRING);
    char want2[24];
    ew_alert_id("request_spike", "E1", 7 * W, want2);
    assert_string_equal(inc.alert_id, want2);
    assert_string_not_equal(want, want2);
    assert_int_equal(inc.severity, EW_SEV_WARNING);
    assert_int_equal(inc.resolved_ws, -1);
}

static void test_incident_restep_reemits(void **state)
{
    (void)state;
    ew_incident inc;
    ew_incident_init(&inc);
    assert_int_equal(ew_incident_step(&inc, &normal, 1 * W, "request_spike", "E9"), EW_EVENT_NONE);
    assert_int_equal(ew_incident_step(&inc, &breach_critical, 2 * W, "request_spike", "E9"), EW_EVENT_FIRING);
    ew_incident after_fire = inc;
    /* Re-stepping the firing window (e.g. after a crash) fires again,
     * whatever the score says this time, and changes nothing. */
    assert_int_equal(ew_incident_step(&inc, &breach_critical, 2 * W, "request_spike", "E9"), EW_EVENT_FIRING);
    assert_incident_equal(&inc, &after_fire);
    assert_int_equal(ew_incident_step(&inc, &normal, 2 * W, "request_spike", "E9"), EW_EVENT_FIRING);
    assert_incident_equal(&inc, &after_fire);
    /* An earlier quiet window stays quiet. */
    assert_int_equal(ew_incident_step(&inc, &breach_critical, 1 * W, "request_spike", "E9"), EW_EVENT_NONE);
    assert_incident_equal(&inc, &after_fire);

    assert_int_equal(ew_incident_step(&inc, &breach_critical, 3 * W, "request_spike", "E9"), EW_EVENT_NONE);
    assert_int_equal(ew_incident_step(&inc, &normal, 4 * W, "request_spike", "E9"), EW_EVENT_RESOLVED);
    ew_incident after_resolve = inc;
    /* Each stepped window re-emits exactly what it emitted. */
    assert_int_equal(ew_incident_step(&inc, &normal, 4 * W, "request_spike", "E9"), EW_EVENT_RESOLVED);
    assert_int_equal(ew_incident_step(&inc, &breach_critical, 4 * W, "request_spike", "E9"), EW_EVENT_RESOLVED);
    assert_int_equal(ew_incident_step(&inc, &breach_critical, 3 * W, "request_spike", "E9"), EW_EVENT_NONE);
    assert_int_equal(ew_incident_step(&inc, &normal, 2 * W, "request_spike", "E9"), EW_EVENT_FIRING);
    assert_incident_equal(&inc, &after_resolve);
    assert_false(inc.open);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_baseline_init),
        cmocka_unit_test(test_warmup_suppresses_scoring),
        cmocka_unit_test(test_traffic_floor_and_disabled),
        cmocka_unit_test(test_sd_floor_is_poisson),
        cmocka_unit_test(test_steady_series_never_breaches),
        cmocka_unit_test(test_spike_8x_is_critical),
        cmocka_unit_test(test_update_is_idempotent_per_window),
        cmocka_unit_test(test_ewma_math),
        cmocka_unit_test(test_breach_is_clamped_in_update),
        cmocka_unit_test(test_alert_id),
        cmocka_unit_test(test_incident_lifecycle),
        cmocka_unit_test(test_incident_restep_reemits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
