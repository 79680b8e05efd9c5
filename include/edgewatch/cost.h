/* cost.h -- cost_spike and cost_drop: a project's spend against its own
 * trailing days, free of I/O.
 *
 * Two measures per project and billing refresh (docs/billing.md):
 *   run-rate       the last run_rate_hours complete hours before the
 *                  project's horizon, projected to a day;
 *   completed day  the last whole UTC day before the horizon.
 * Each is compared with the same hours (or day) on each of the previous
 * long_window days: a robust level (median) with a day-of-week factor once
 * two weeks are there, and a robust spread (MAD). A spike needs the
 * increase to reach min_impact per day AND min_impact_percent of expected
 * AND z_warning. A drop (information) is judged on completed days only,
 * because late-reporting services make the newest hours look low.
 */
#ifndef EDGEWATCH_COST_H
#define EDGEWATCH_COST_H

#include "edgewatch/alert.h"
#include "edgewatch/config.h"
#include "edgewatch/score.h"
#include "edgewatch/state.h"

/* Days read per project and refresh: the longest baseline, the run-rate
 * window that may cross midnight, and the day being scored. */
#define EW_COST_MAX_DAYS 60

typedef struct {
    double expected; /* per day */
    double sigma;    /* per day, floored (see cost.c) */
    size_t n;        /* history samples behind it */
} ew_cost_baseline;

/* values[i] was measured on weekday weekdays[i] (0 = Monday). */
ew_cost_baseline ew_cost_baseline_of(const double *values, const int *weekdays, size_t n, int target_weekday);

/* A project's stored days: days[i] is the UTC day first_day_ms + i days. */
typedef struct {
    const ew_cost_day *days;
    size_t n_days;
    int64_t first_day_ms;
    int64_t first_ms;   /* earliest hour with cost: history starts there */
    int64_t horizon_ms; /* costs are known up to here */
} ew_cost_series;

typedef struct {
    bool scored;            /* false: warming up, or nothing to measure */
    bool completed_day;     /* a whole day, else a run-rate */
    int64_t from_ms, to_ms; /* the hours measured */
    double actual, expected, sigma, z; /* per day */
    size_t history;
} ew_cost_measure;

/* The days a refresh must read for a project with this horizon. */
int64_t ew_cost_first_day(int64_t horizon_ms, const ew_rule_config *r);
size_t ew_cost_day_count(int64_t horizon_ms, const ew_rule_config *r);

ew_cost_measure ew_cost_run_rate(const ew_cost_series *s, const ew_rule_config *r);
ew_cost_measure ew_cost_completed_day(const ew_cost_series *s, const ew_rule_config *r);
/* direction +1: a spike of rule r; -1: a drop. */
bool ew_cost_breaches(const ew_cost_measure *m, const ew_rule_config *r, int direction);

/* The services, usage types and resource ids behind a measure, by impact
 * (actual - expected per day) in the direction given, largest first, at
 * most per_dim of each dimension and cap in all. Values point into out. */
size_t ew_cost_contributors(const ew_cost_series *s, const ew_cost_measure *m, int direction, size_t per_dim,
                            ew_contributor *out, size_t cap);

/* Per project: one incident per cost rule and the last horizon scored. */
typedef struct {
    int64_t last_horizon_ms;
    ew_incident spike, drop;
} ew_cost_det;

void ew_cost_det_init(ew_cost_det *d);
/* "" or NULL gives the initial state; false (d untouched) on a bad text. */
bool ew_cost_det_parse(const char *text, ew_cost_det *d);
void ew_cost_det_format(const ew_cost_det *d, char *out, size_t cap);

#endif
