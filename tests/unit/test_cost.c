/* test_cost.c -- cost_spike / cost_drop maths (processor/cost.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "edgewatch/cost.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DAY EW_BILL_DAY_MS
#define HOUR EW_BILL_HOUR_MS
/* 2026-10-05 was a Monday. */
#define MONDAY 1791158400000LL
#define N_DAYS 30

typedef struct {
    ew_cost_day days[N_DAYS];
    ew_cost_entry entries[N_DAYS][24 * 3];
    ew_cost_series s;
    ew_config cfg;
} world;

static ew_rule_config spike_rule(world *w) { return w->cfg.rules[EW_RULE_COST_SPIKE]; }

/* Every hour of every day costs per_hour (dollars) on service "svc" /
 * usage type "small"; days from MONDAY - 20 days. */
static void flat_world(world *w, double per_hour)
{
    memset(w, 0, sizeof *w);
    ew_config_defaults(&w->cfg);
    for (int d = 0; d < N_DAYS; d++) {
        w->days[d].day_ms = MONDAY - 20 * DAY + d * DAY;
        w->days[d].entries = w->entries[d];
        for (int h = 0; h < 24; h++) {
            int64_t micros = (int64_t)llround(per_hour * 1e6);
            w->days[d].hour_micros[h] = micros;
            w->entries[d][w->days[d].n_entries++] = (ew_cost_entry){'s', (uint8_t)h, micros, "svc"};
            w->entries[d][w->days[d].n_entries++] = (ew_cost_entry){'u', (uint8_t)h, micros, "small"};
        }
    }
    w->s = (ew_cost_series){w->days, N_DAYS, MONDAY - 20 * DAY, MONDAY - 20 * DAY, INT64_MIN};
}

/* From hour `from` on (absolute ms), add per_hour dollars of usage type "big". */
static void add_jump(world *w, int64_t from, double per_hour)
{
    for (int d = 0; d < N_DAYS; d++)
        for (int h = 0; h < 24; h++) {
            if (w->days[d].day_ms + h * HOUR < from)
                continue;
            int64_t micros = (int64_t)llround(per_hour * 1e6);
            w->days[d].hour_micros[h] += micros;
            w->entries[d][w->days[d].n_entries++] = (ew_cost_entry){'u', (uint8_t)h, micros, "big"};
            /* the service total grows as well */
            for (size_t i = 0; i < w->days[d].n_entries; i++)
                if (w->entries[d][i].dim == 's' && w->entries[d][i].hour == h)
                    w->entries[d][i].micros += micros;
        }
}

static void free_world(world *w) { ew_config_free(&w->cfg); }

static void test_baseline_is_the_median_and_ignores_one_wild_day(void **state)
{
    (void)state;
    double v[10] = {100, 101, 99, 100, 5000, 100, 102, 98, 100, 100};
    int wd[10] = {0, 1, 2, 3, 4, 5, 6, 0, 1, 2};
    ew_cost_baseline b = ew_cost_baseline_of(v, wd, 10, 3);
    assert_true(fabs(b.expected - 100) < 0.01);
    assert_true(b.sigma < 5);
    assert_int_equal(b.n, 10);
}

static void test_baseline_sigma_has_a_floor(void **state)
{
    (void)state;
    double v[8] = {1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000};
    int wd[8] = {0, 1, 2, 3, 4, 5, 6, 0};
    ew_cost_baseline b = ew_cost_baseline_of(v, wd, 8, 1);
    assert_true(fabs(b.sigma - 20) < 1e-9); /* 2 % of 1000 */
}

static void test_weekday_factor_after_two_weeks(void **state)
{
    (void)state;
    /* weekends (5, 6) cost half */
    double v[14];
    int wd[14];
    for (int i = 0; i < 14; i++) {
        wd[i] = i % 7;
        v[i] = wd[i] >= 5 ? 500 : 1000;
    }
    assert_true(fabs(ew_cost_baseline_of(v, wd, 14, 6).expected - 500) < 1e-6);
    assert_true(fabs(ew_cost_baseline_of(v, wd, 14, 2).expected - 1000) < 1e-6);
    /* one week is not enough to tell a weekday from noise */
    assert_true(fabs(ew_cost_baseline_of(v, wd, 7, 6).expected - 1000) < 1e-6);
}

static void test_run_rate_projects_the_last_hours_to_a_day(void **state)
{
    (void)state;
    world *w = malloc(sizeof *w);
    flat_world(w, 100); /* $2,400 a day */
    w->s.horizon_ms = MONDAY + 14 * HOUR + 30 * 60000; /* mid-hour: the window ends at 14:00 */
    ew_rule_config r = spike_rule(w);
    ew_cost_measure m = ew_cost_run_rate(&w->s, &r);
    assert_true(m.scored);
    assert_false(m.completed_day);
    assert_int_equal(m.to_ms, MONDAY + 14 * HOUR);
    assert_int_equal(m.from_ms, MONDAY + 11 * HOUR);
    assert_true(fabs(m.actual - 2400) < 1e-6);
    assert_true(fabs(m.expected - 2400) < 1e-6);
    assert_int_equal(m.history, 14);
    assert_false(ew_cost_breaches(&m, &r, 1));
    free_world(w);
    free(w);
}

static void test_jump_of_2000_a_day_alerts_at_the_first_refresh(void **state)
{
    (void)state;
    world *w = malloc(sizeof *w);
    flat_world(w, 200); /* $4,800 a day */
    add_jump(w, MONDAY + 6 * HOUR, 2000.0 / 24);
    w->s.horizon_ms = MONDAY + 14 * HOUR;
    ew_rule_config r = spike_rule(w);
    ew_cost_measure m = ew_cost_run_rate(&w->s, &r);
    assert_true(fabs(m.actual - 6800) < 1e-3);
    assert_true(ew_cost_breaches(&m, &r, 1));
    /* below either threshold: no alert */
    r.min_impact = 2500;
    assert_false(ew_cost_breaches(&m, &r, 1));
    r.min_impact = 1000;
    r.min_impact_percent = 50;
    assert_false(ew_cost_breaches(&m, &r, 1));
    free_world(w);
    free(w);
}

static void test_big_base_small_percent_does_not_alert(void **state)
{
    (void)state;
    world *w = malloc(sizeof *w);
    flat_world(w, 1000); /* $24,000 a day */
    add_jump(w, MONDAY, 1500.0 / 24);
    w->s.horizon_ms = MONDAY + 12 * HOUR;
    ew_rule_config r = spike_rule(w);
    ew_cost_measure m = ew_cost_run_rate(&w->s, &r);
    assert_true(m.actual - m.expected >= 1000);
    assert_false(ew_cost_breaches(&m, &r, 1)); /* 6 % < 20 % */
    free_world(w);
    free(w);
}

static void test_warmup_needs_days_of_history(void **state)
{
    (void)state;
    world *w = malloc(sizeof *w);
    flat_world(w, 100);
    w->s.first_ms = MONDAY - 3 * DAY; /* three days of history */
    w->s.horizon_ms = MONDAY + 12 * HOUR;
    ew_rule_config r = spike_rule(w);
    ew_cost_measure m = ew_cost_run_rate(&w->s, &r);
    assert_int_equal(m.history, 3);
    assert_false(m.scored);
    r.warmup_windows = 3;
    assert_true(ew_cost_run_rate(&w->s, &r).scored);
    free_world(w);
    free(w);
}

static void test_completed_day_is_the_day_before_the_horizon(void **state)
{
    (void)state;
    world *w = malloc(sizeof *w);
    flat_world(w, 100);
    w->s.horizon_ms = MONDAY + 6 * HOUR;
    ew_rule_config r = spike_rule(w);
    ew_cost_measure m = ew_cost_completed_day(&w->s, &r);
    assert_true(m.completed_day);
    assert_int_equal(m.from_ms, MONDAY - DAY);
    assert_int_equal(m.to_ms, MONDAY);
    assert_true(fabs(m.actual - 2400) < 1e-6);
    free_world(w);
    free(w);
}

static void test_drop_is_judged_in_the_other_direction(void **state)
{
    (void)state;
    world *w = malloc(sizeof *w);
    flat_world(w, 200);
    /* the whole day before the horizon cost half */
    for (int h = 0; h < 24; h++)
        w->days[19].hour_micros[h] = 100000000;
    w->s.horizon_ms = MONDAY + 6 * HOUR;
    ew_rule_config r = w->cfg.rules[EW_RULE_COST_DROP];
    ew_cost_measure m = ew_cost_completed_day(&w->s, &r);
    assert_true(fabs(m.actual - 2400) < 1e-6);
    assert_true(ew_cost_breaches(&m, &r, -1));
    assert_false(ew_cost_breaches(&m, &r, 1));
    free_world(w);
    free(w);
}

static void test_contributors_name_the_new_usage_type_first(void **state)
{
    (void)state;
    world *w = malloc(sizeof *w);
    flat_world(w, 200);
    add_jump(w, MONDAY + 6 * HOUR, 2000.0 / 24);
    w->s.horizon_ms = MONDAY + 14 * HOUR;
    ew_rule_config r = spike_rule(w);
    ew_cost_measure m = ew_cost_run_rate(&w->s, &r);
    ew_contributor top[9];
    size_t n = ew_cost_contributors(&w->s, &m, 1, 3, top, 9);
    assert_int_equal(n, 2); /* "small" did not change: no impact */
    bool saw_big = false, saw_svc = false;
    for (size_t i = 0; i < n; i++) {
        assert_true(fabs(top[i].impact - 2000) < 1e-3);
        assert_true(fabs(top[i].share - 1) < 1e-6);
        saw_big |= strcmp(top[i].dimension, "usage_type") == 0 && strcmp(top[i].value, "big") == 0;
        saw_svc |= strcmp(top[i].dimension, "service") == 0 && strcmp(top[i].value, "svc") == 0;
    }
    assert_true(saw_big && saw_svc);
    free_world(w);
    free(w);
}

static void test_contributors_keep_per_dimension_limit_and_order(void **state)
{
    (void)state;
    world *w = malloc(sizeof *w);
    flat_world(w, 200);
    w->s.horizon_ms = MONDAY + 14 * HOUR;
    /* five new resources with impacts 1..5 $/hour in the measured hours */
    static const char *names[5] = {"r1", "r2", "r3", "r4", "r5"};
    for (int k = 0; k < 5; k++)
        for (int h = 11; h < 14; h++)
            w->entries[20][w->days[20].n_entries++] = (ew_cost_entry){'r', (uint8_t)h, (k + 1) * 1000000, names[k]};
    ew_rule_config r = spike_rule(w);
    ew_cost_measure m = ew_cost_run_rate(&w->s, &r);
    ew_contributor top[9];
    size_t n = ew_cost_contributors(&w->s, &m, 1, 3, top, 9);
    assert_int_equal(n, 3);
    assert_string_equal(top[0].value, "r5");
    assert_string_equal(top[1].value, "r4");
    assert_string_equal(top[2].value, "r3");
    assert_true(fabs(top[0].impact - 5 * 24) < 1e-6);
    free_world(w);
    free(w);
}

static void test_day_window_reads_cover_baseline(void **state)
{
    (void)state;
    ew_config cfg;
    ew_config_defaults(&cfg);
    const ew_rule_config *r = &cfg.rules[EW_RULE_COST_SPIKE];
    int64_t h = MONDAY + 1 * HOUR; /* the run-rate window crosses midnight */
    int64_t first = ew_cost_first_day(h, r);
    size_t n = ew_cost_day_count(h, r);
    assert_int_equal(first, MONDAY - 15 * DAY);
    assert_int_equal(first + (int64_t)(n - 1) * DAY, MONDAY);
    ew_config_free(&cfg);
}

static void test_det_text_round_trip_and_rejects_junk(void **state)
{
    (void)state;
    ew_cost_det d, back;
    ew_cost_det_init(&d);
    d.last_horizon_ms = 1791180000000LL;
    d.spike.open = true;
    d.spike.start_ws = 1791158400000LL;
    d.spike.last_emit_ws = 1791169200000LL;
    d.spike.severity = EW_SEV_CRITICAL;
    snprintf(d.spike.alert_id, sizeof d.spike.alert_id, "ew-0123456789abcdef");
    char text[EW_COST_DET_MAX];
    ew_cost_det_format(&d, text, sizeof text);
    assert_true(ew_cost_det_parse(text, &back));
    assert_int_equal(back.last_horizon_ms, d.last_horizon_ms);
    assert_true(back.spike.open);
    assert_int_equal(back.spike.start_ws, d.spike.start_ws);
    assert_string_equal(back.spike.alert_id, "ew-0123456789abcdef");
    assert_false(back.drop.open);
    assert_true(ew_cost_det_parse("", &back));
    assert_int_equal(back.last_horizon_ms, INT64_MIN);
    assert_false(ew_cost_det_parse("12;garbage", &back));
    assert_false(ew_cost_det_parse("x;0 -1 -1 0 0 0 - -;0 -1 -1 0 0 0 - -", &back));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_baseline_is_the_median_and_ignores_one_wild_day),
        cmocka_unit_test(test_baseline_sigma_has_a_floor),
        cmocka_unit_test(test_weekday_factor_after_two_weeks),
        cmocka_unit_test(test_run_rate_projects_the_last_hours_to_a_day),
        cmocka_unit_test(test_jump_of_2000_a_day_alerts_at_the_first_refresh),
        cmocka_unit_test(test_big_base_small_percent_does_not_alert),
        cmocka_unit_test(test_warmup_needs_days_of_history),
        cmocka_unit_test(test_completed_day_is_the_day_before_the_horizon),
        cmocka_unit_test(test_drop_is_judged_in_the_other_direction),
        cmocka_unit_test(test_contributors_name_the_new_usage_type_first),
        cmocka_unit_test(test_contributors_keep_per_dimension_limit_and_order),
        cmocka_unit_test(test_day_window_reads_cover_baseline),
        cmocka_unit_test(test_det_text_round_trip_and_rejects_junk),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
