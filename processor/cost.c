/* cost.c -- cost_spike and cost_drop math (cost.h; docs/billing.md).
 *
 * Costs differ from traffic: a few refreshes a day instead of a window a
 * minute, few samples (one per day), and history that is revised. So the
 * baseline is robust rather than smooth: the median of the same hours on
 * each trailing day, with a day-of-week factor that is itself a ratio of
 * medians, and the MAD as spread. A median ignores the odd spiky day in
 * history (a past incident does not raise the bar for the next one), and
 * organic growth of a fraction of a percent a day leaves it a few percent
 * behind, far below the percent threshold users set.
 */
#include "edgewatch/cost.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HOUR_MS EW_BILL_HOUR_MS
#define DAY_MS EW_BILL_DAY_MS
#define MICROS 1e6
/* A spread below this share of the spend (or $1/day) is noise we cannot
 * see in a few samples, not certainty. */
#define SIGMA_FLOOR_SHARE 0.02
#define SIGMA_FLOOR_ABS 1.0
#define MAD_TO_SIGMA 1.4826
#define MAX_SAMPLES (EW_COST_MAX_DAYS + 1)

static int64_t floor_to(int64_t ms, int64_t unit) { return (ms / unit - (ms % unit < 0)) * unit; }

/* 0 = Monday; 1970-01-01 was a Thursday. */
static int weekday_of(int64_t ms)
{
    int64_t days = floor_to(ms, DAY_MS) / DAY_MS;
    return (int)(((days + 3) % 7 + 7) % 7);
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median_of(const double *v, size_t n)
{
    if (n == 0)
        return 0;
    double tmp[MAX_SAMPLES];
    n = n > MAX_SAMPLES ? MAX_SAMPLES : n;
    memcpy(tmp, v, n * sizeof *v);
    qsort(tmp, n, sizeof *tmp, by_value);
    return n % 2 ? tmp[n / 2] : (tmp[n / 2 - 1] + tmp[n / 2]) / 2;
}

/* Of two samples the ratio nearer 1: a true weekly pattern shows in both,
 * a step in spend next to one of them only in that one. Of more, the median. */
static double weekday_ratio(const double *ratios, size_t k)
{
    if (k > 2)
        return median_of(ratios, k);
    return fabs(log(ratios[0])) <= fabs(log(ratios[1])) ? ratios[0] : ratios[1];
}

/* Each sample over its local level (the median of the week around it), a
 * weekday's factor weekday_ratio of its samples' ratios, once every weekday
 * has two samples to speak for it; 1 before. A local level rather than the
 * overall median keeps a lasting step in spend (a scale-up ten days ago)
 * from reading as a weekday pattern. Clamped so a weekday with next to no
 * spend does not divide by almost zero. */
static void weekday_factors(const double *values, const int *weekdays, size_t n, double f[7])
{
    for (int d = 0; d < 7; d++)
        f[d] = 1;
    if (n < 14)
        return;
    double ratio[MAX_SAMPLES];
    for (size_t i = 0; i < n; i++) {
        /* A whole week, shifted inward at the ends, so every weekday is in it once. */
        size_t lo = i >= 3 ? i - 3 : 0;
        lo = lo + 7 > n ? n - 7 : lo;
        double level = median_of(values + lo, 7);
        ratio[i] = level > 0 ? fmin(5.0, fmax(0.2, values[i] / level)) : 1;
    }
    for (int d = 0; d < 7; d++) {
        double same[MAX_SAMPLES];
        size_t k = 0;
        for (size_t i = 0; i < n; i++)
            if (weekdays[i] == d)
                same[k++] = ratio[i];
        if (k >= 2)
            f[d] = weekday_ratio(same, k);
    }
}

ew_cost_baseline ew_cost_baseline_of(const double *values, const int *weekdays, size_t n, int target_weekday)
{
    ew_cost_baseline b = {0, SIGMA_FLOOR_ABS, n};
    if (n == 0)
        return b;
    n = n > MAX_SAMPLES ? MAX_SAMPLES : n;
    double f[7], y[MAX_SAMPLES], dev[MAX_SAMPLES];
    weekday_factors(values, weekdays, n, f);
    for (size_t i = 0; i < n; i++)
        y[i] = values[i] / f[weekdays[i]];
    double level = median_of(y, n);
    for (size_t i = 0; i < n; i++)
        dev[i] = fabs(y[i] - level);
    double ft = f[target_weekday % 7];
    b.expected = level * ft;
    b.sigma = fmax(MAD_TO_SIGMA * median_of(dev, n) * ft, fmax(SIGMA_FLOOR_SHARE * fabs(b.expected), SIGMA_FLOOR_ABS));
    return b;
}

/* ---- reading the series ---- */

static int64_t hour_total(const ew_cost_series *s, int64_t hour_ms)
{
    int64_t day = floor_to(hour_ms, DAY_MS);
    if (day < s->first_day_ms)
        return 0;
    size_t i = (size_t)((day - s->first_day_ms) / DAY_MS);
    return i < s->n_days ? s->days[i].hour_micros[(hour_ms - day) / HOUR_MS] : 0;
}

static double per_day(const ew_cost_series *s, int64_t from, int64_t to)
{
    int64_t sum = 0;
    for (int64_t h = from; h < to; h += HOUR_MS)
        sum += hour_total(s, h);
    return (double)sum / MICROS * (double)DAY_MS / (double)(to - from);
}

int64_t ew_cost_first_day(int64_t horizon_ms, const ew_rule_config *r)
{
    return floor_to(horizon_ms, DAY_MS) - DAY_MS - r->long_window_ms;
}

size_t ew_cost_day_count(int64_t horizon_ms, const ew_rule_config *r)
{
    int64_t last = floor_to(horizon_ms - 1, DAY_MS);
    int64_t n = (last - ew_cost_first_day(horizon_ms, r)) / DAY_MS + 1;
    return n > EW_COST_MAX_DAYS ? EW_COST_MAX_DAYS : (size_t)n;
}

/* The measure of [from, to) against the same hours on each earlier day
 * since the project's first cost. */
static ew_cost_measure measure(const ew_cost_series *s, const ew_rule_config *r, int64_t from, int64_t to,
                               bool completed_day)
{
    ew_cost_measure m = {.completed_day = completed_day, .from_ms = from, .to_ms = to, .z = NAN};
    if (from < s->first_ms || to <= from)
        return m;
    double values[MAX_SAMPLES];
    int weekdays[MAX_SAMPLES];
    size_t n = 0;
    for (int64_t back = DAY_MS; back <= r->long_window_ms && n < MAX_SAMPLES; back += DAY_MS) {
        if (from - back < s->first_ms)
            break;
        values[n] = per_day(s, from - back, to - back);
        weekdays[n++] = weekday_of(from - back);
    }
    ew_cost_baseline b = ew_cost_baseline_of(values, weekdays, n, weekday_of(from));
    m.actual = per_day(s, from, to);
    m.expected = b.expected;
    m.sigma = b.sigma;
    m.history = n;
    m.z = (m.actual - m.expected) / m.sigma;
    m.scored = n >= (size_t)(r->warmup_windows > 0 ? r->warmup_windows : 1);
    return m;
}

ew_cost_measure ew_cost_run_rate(const ew_cost_series *s, const ew_rule_config *r)
{
    int64_t to = floor_to(s->horizon_ms, HOUR_MS);
    return measure(s, r, to - r->run_rate_hours * HOUR_MS, to, false);
}

ew_cost_measure ew_cost_completed_day(const ew_cost_series *s, const ew_rule_config *r)
{
    int64_t day = floor_to(s->horizon_ms, DAY_MS) - DAY_MS;
    return measure(s, r, day, day + DAY_MS, true);
}

bool ew_cost_breaches(const ew_cost_measure *m, const ew_rule_config *r, int direction)
{
    if (!m->scored || !r->enabled)
        return false;
    double impact = direction * (m->actual - m->expected);
    bool relative = m->expected <= 0 || 100 * impact / m->expected >= r->min_impact_percent;
    return impact >= r->min_impact && relative && direction * m->z >= r->z_warning;
}

/* ---- contributors ---- */

typedef struct {
    char dim;
    const char *value;
    size_t sample; /* 0: the measured hours; k: k days before */
    int64_t micros;
} piece;

static int by_dim_value_sample(const void *a, const void *b)
{
    const piece *x = a, *y = b;
    if (x->dim != y->dim)
        return x->dim - y->dim;
    int c = strcmp(x->value, y->value);
    return c ? c : (x->sample > y->sample) - (x->sample < y->sample);
}

static void add_pieces(const ew_cost_series *s, int64_t from, int64_t to, size_t sample, piece **out, size_t *n,
                       size_t *cap)
{
    for (int64_t day = floor_to(from, DAY_MS); day < to; day += DAY_MS) {
        if (day < s->first_day_ms || (size_t)((day - s->first_day_ms) / DAY_MS) >= s->n_days)
            continue;
        const ew_cost_day *d = &s->days[(day - s->first_day_ms) / DAY_MS];
        for (size_t i = 0; i < d->n_entries; i++) {
            int64_t h = day + d->entries[i].hour * HOUR_MS;
            if (h < from || h >= to)
                continue;
            if (*n == *cap) {
                *cap = *cap ? 2 * *cap : 256;
                *out = realloc(*out, *cap * sizeof **out);
            }
            (*out)[(*n)++] = (piece){d->entries[i].dim, d->entries[i].value, sample, d->entries[i].micros};
        }
    }
}

static const char *dim_name(char dim)
{
    return dim == 's' ? "service" : dim == 'u' ? "usage_type" : "resource_id";
}

/* The contributor's history is scaled by the project's day-of-week factor
 * (expected over the plain median), so a weekday's lower spend does not
 * read as every service dropping. */
static double season_ratio(const ew_cost_series *s, const ew_cost_measure *m)
{
    double v[MAX_SAMPLES];
    for (size_t k = 1; k <= m->history; k++)
        v[k - 1] = per_day(s, m->from_ms - (int64_t)k * DAY_MS, m->to_ms - (int64_t)k * DAY_MS);
    double med = median_of(v, m->history);
    return med > 0 ? m->expected / med : 1;
}

static int by_impact_desc(const void *a, const void *b)
{
    const ew_contributor *x = a, *y = b;
    double dx = fabs(x->impact), dy = fabs(y->impact);
    if (dx != dy)
        return (dx < dy) - (dx > dy);
    int c = strcmp(x->dimension, y->dimension);
    return c ? c : strcmp(x->value, y->value);
}

static size_t group_impacts(const piece *p, size_t n, const ew_cost_measure *m, double ratio, int direction,
                            ew_contributor *out, size_t cap)
{
    double scale = (double)DAY_MS / (double)(m->to_ms - m->from_ms) / MICROS;
    double project_impact = m->actual - m->expected;
    size_t n_out = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        double hist[MAX_SAMPLES] = {0}, actual = 0;
        for (; j < n && p[j].dim == p[i].dim && strcmp(p[j].value, p[i].value) == 0; j++) {
            if (p[j].sample == 0)
                actual += (double)p[j].micros * scale;
            else if (p[j].sample <= m->history)
                hist[p[j].sample - 1] += (double)p[j].micros * scale;
        }
        double impact = actual - median_of(hist, m->history) * ratio;
        if (direction * impact > 0 && n_out < cap) {
            ew_contributor *c = &out[n_out++];
            c->dimension = dim_name(p[i].dim);
            snprintf(c->value, sizeof c->value, "%s", p[i].value);
            c->impact = impact;
            c->share = project_impact != 0 ? impact / project_impact : 0;
        }
        i = j;
    }
    return n_out;
}

/* Keeps the per_dim largest of each dimension, largest first overall. */
static size_t keep_top(ew_contributor *all, size_t n, size_t per_dim, ew_contributor *out, size_t cap)
{
    qsort(all, n, sizeof *all, by_impact_desc);
    size_t n_out = 0, seen[3] = {0};
    for (size_t i = 0; i < n && n_out < cap; i++) {
        size_t d = all[i].dimension[0] == 's' ? 0 : all[i].dimension[0] == 'u' ? 1 : 2;
        if (seen[d]++ < per_dim)
            out[n_out++] = all[i];
    }
    return n_out;
}

size_t ew_cost_contributors(const ew_cost_series *s, const ew_cost_measure *m, int direction, size_t per_dim,
                            ew_contributor *out, size_t cap)
{
    if (!m->scored)
        return 0;
    piece *p = NULL;
    size_t n = 0, pcap = 0;
    add_pieces(s, m->from_ms, m->to_ms, 0, &p, &n, &pcap);
    for (size_t k = 1; k <= m->history; k++)
        add_pieces(s, m->from_ms - (int64_t)k * DAY_MS, m->to_ms - (int64_t)k * DAY_MS, k, &p, &n, &pcap);
    if (n == 0)
        return 0;
    qsort(p, n, sizeof *p, by_dim_value_sample);
    ew_contributor *all = malloc(n * sizeof *all);
    size_t n_all = group_impacts(p, n, m, season_ratio(s, m), direction, all, n);
    size_t kept = keep_top(all, n_all, per_dim, out, cap);
    free(all);
    free(p);
    return kept;
}

/* ---- detector state text: "HORIZON;SPIKE INCIDENT;DROP INCIDENT" ---- */

void ew_cost_det_init(ew_cost_det *d)
{
    d->last_horizon_ms = INT64_MIN;
    ew_incident_init(&d->spike);
    ew_incident_init(&d->drop);
}

void ew_cost_det_format(const ew_cost_det *d, char *out, size_t cap)
{
    char spike[160], drop[160];
    ew_incident_format(&d->spike, spike, sizeof spike);
    ew_incident_format(&d->drop, drop, sizeof drop);
    snprintf(out, cap, "%" PRId64 ";%s;%s", d->last_horizon_ms, spike, drop);
}

bool ew_cost_det_parse(const char *text, ew_cost_det *d)
{
    ew_cost_det fresh;
    ew_cost_det_init(&fresh);
    if (!text || !*text) {
        *d = fresh;
        return true;
    }
    char buf[EW_COST_DET_MAX], *end;
    snprintf(buf, sizeof buf, "%s", text);
    char *spike = strchr(buf, ';'), *drop = spike ? strchr(spike + 1, ';') : NULL;
    if (!drop)
        return false;
    *spike++ = '\0';
    *drop++ = '\0';
    fresh.last_horizon_ms = strtoll(buf, &end, 10);
    if (end == buf || *end || !ew_incident_parse(spike, &fresh.spike) || !ew_incident_parse(drop, &fresh.drop))
        return false;
    *d = fresh;
    return true;
}
