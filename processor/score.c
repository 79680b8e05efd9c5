/* score.c -- two baselines per rule, and the incident lifecycle.
 *
 * Why two baselines: teams who did this by hand found that a z-score
 * against a short-term trend and a long-term (two-week) trend at once
 * finds real anomalies; either alone fires on the daily ramp (short) or
 * misses a slow afternoon outage (long). Why EWMAs: O(1) state per
 * baseline, no history read per score, and a span that maps one-to-one
 * onto the "short window" teams tuned (24 h, 8 h, 3 h). The long baseline
 * is an EWMA per hour of day, because traffic follows the clock; request
 * counts also get a day-of-week factor, because weekends are quieter.
 * Everything here is pure: the core loads the state, calls these, and
 * stores it back. docs/detection.md has the maths and the defaults' why.
 */
#include "edgewatch/score.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HOUR_MS (3600LL * 1000)
#define DAY_MS (24 * HOUR_MS)
/* A weekday factor outside this range is a broken baseline, not a season. */
#define WEEKDAY_MIN 0.2
#define WEEKDAY_MAX 5.0

typedef enum { UNIT_COUNT, UNIT_RATIO, UNIT_LATENCY, UNIT_ANY } rule_unit;

static rule_unit unit_of(ew_rule_id r)
{
    switch (r) {
    case EW_RULE_REQUEST_SPIKE:
    case EW_RULE_REQUEST_DROP:
        return UNIT_COUNT;
    case EW_RULE_ERROR_403_RATE:
    case EW_RULE_ERROR_5XX_RATE:
    case EW_RULE_CACHE_HIT_DROP:
        return UNIT_RATIO;
    case EW_RULE_ORIGIN_LATENCY:
        return UNIT_LATENCY;
    default:
        return UNIT_ANY;
    }
}

/* +1: anomalies are increases; -1: decreases; 0: both (generic). */
static int direction_of(ew_rule_id r)
{
    if (r == EW_RULE_REQUEST_DROP || r == EW_RULE_CACHE_HIT_DROP)
        return -1;
    return r == EW_RULE_GENERIC ? 0 : 1;
}

/* ---- observations ---- */

/* Linear interpolation inside the bucket that holds the rank: the
 * histogram's buckets are wide (100-200 ms, 200-500 ms, ...), and the
 * bucket bound alone would move in jumps no baseline can follow. */
static double latency_quantile(const uint64_t *hist, double q, double *total_out)
{
    double total = 0;
    for (int b = 0; b < EW_LAT_BUCKETS; b++)
        total += (double)hist[b];
    *total_out = total;
    if (total <= 0)
        return NAN;
    double rank = q * total, seen = 0;
    for (int b = 0; b < EW_LAT_BUCKETS - 1; b++) {
        double in = (double)hist[b];
        if (seen + in >= rank && in > 0) {
            double lo = b ? ew_latency_bounds_ms[b - 1] : 0, hi = ew_latency_bounds_ms[b];
            return lo + (hi - lo) * (rank - seen) / in;
        }
        seen += in;
    }
    return ew_latency_bounds_ms[EW_LAT_BUCKETS - 2];
}

static ew_observation ratio(double part, double whole, double volume)
{
    return (ew_observation){whole > 0 ? part / whole : 0, volume, part, whole > 0};
}

ew_observation ew_observe(ew_rule_id r, const uint64_t c[EW_COUNTERS])
{
    double req = (double)c[EW_C_REQ];
    switch (r) {
    case EW_RULE_REQUEST_SPIKE:
    case EW_RULE_REQUEST_DROP:
        return (ew_observation){req, req, req, true};
    case EW_RULE_ERROR_403_RATE:
        return ratio((double)c[EW_C_STATUS + EW_S403], req, req);
    case EW_RULE_ERROR_5XX_RATE:
        return ratio((double)c[EW_C_STATUS + EW_S5XX], req, req);
    case EW_RULE_CACHE_HIT_DROP: {
        double hit = (double)c[EW_C_RESULT + EW_RESULT_HIT], miss = (double)c[EW_C_RESULT + EW_RESULT_MISS];
        ew_observation o = ratio(hit, hit + miss, req);
        o.count = hit + miss;
        return o;
    }
    case EW_RULE_ORIGIN_LATENCY: {
        double n;
        double p95 = latency_quantile(&c[EW_C_ORIGIN], 0.95, &n);
        return (ew_observation){p95, req, n, n > 0};
    }
    default:
        return (ew_observation){0, 0, 0, false};
    }
}

/* ---- baselines ---- */

static int64_t windows_per(int64_t span_ms, int64_t window_ms)
{
    int64_t n = span_ms / (window_ms > 0 ? window_ms : 1);
    return n > 0 ? n : 1;
}

/* Early on the mean is the plain average of what was seen: starting an
 * EWMA from its first value would let one odd window dominate for hours. */
static double alpha_for(double span, uint32_t n)
{
    double a = span <= 1 ? 1.0 : 2.0 / (span + 1.0), cumulative = 1.0 / ((double)n + 1.0);
    return cumulative > a ? cumulative : a;
}

static void ewma_add(ew_ewma *e, double x, double span)
{
    if (e->n == 0) {
        e->mean = x;
        e->var = 0;
    } else {
        double a = alpha_for(span, e->n), diff = x - e->mean, incr = a * diff;
        e->mean += incr;
        e->var = (1 - a) * (e->var + diff * incr);
    }
    if (e->n < UINT32_MAX)
        e->n++;
}

/* The noise a baseline cannot see below: Poisson for counts, binomial for
 * ratios, 10 % (at least 5 ms) for latency. Without it a steady, quiet
 * series has a variance near 0 and any wobble is "infinitely" anomalous. */
static double noise_floor(rule_unit u, double mu, double volume)
{
    switch (u) {
    case UNIT_COUNT:
        return sqrt(fmax(mu, 1.0));
    case UNIT_RATIO: {
        double p = fmin(fmax(mu, 0.0), 1.0);
        return sqrt(fmax(p * (1 - p), 0.01) / fmax(volume, 1.0));
    }
    case UNIT_LATENCY:
        /* A p95 of n samples rests on the top 5 % of them: its relative
         * error shrinks like 1/sqrt(n), and is 10 % at best. */
        return fmax(mu * fmax(0.1, 1.0 / sqrt(fmax(volume, 1.0))), 5.0);
    default:
        return fmax(0.01 * fabs(mu), 1e-9);
    }
}

typedef struct {
    double mu, sd;
    bool warm;
} baseline_view;

/* How many samples the noise floor rests on: requests for counts and
 * ratios, origin fetches for a latency quantile. */
static double samples_of(const ew_rule_params *p, ew_observation o)
{
    return unit_of(p->id) == UNIT_LATENCY ? o.count : o.volume;
}

static double weekday_factor(const ew_rule_params *p, const ew_rule_state *st)
{
    if (unit_of(p->id) != UNIT_COUNT && p->id != EW_RULE_GENERIC)
        return 1.0;
    if ((int64_t)st->weekday.n < windows_per(DAY_MS, p->window_ms) / 2)
        return 1.0;
    return fmin(fmax(st->weekday.mean, WEEKDAY_MIN), WEEKDAY_MAX);
}

static bool warmed(const ew_ewma *e, const ew_rule_params *p)
{
    return e->n >= (uint32_t)(p->cfg->warmup_windows > 0 ? p->cfg->warmup_windows : 0);
}

static baseline_view short_view(const ew_rule_params *p, const ew_rule_state *st, double volume, double mult)
{
    double mu = st->recent.mean * mult, floor = noise_floor(unit_of(p->id), mu, volume);
    return (baseline_view){mu, sqrt(fmax(st->recent.var * mult * mult, floor * floor)), warmed(&st->recent, p)};
}

/* The short-term view once the long baseline is warm: the expectation for
 * this hour plus the recent residual from it. A raw short baseline's
 * variance holds the daily ramp itself, which hides a spike just after the
 * afternoon descent; the residual's variance holds only the noise around
 * the season. */
static baseline_view residual_view(const ew_rule_params *p, const ew_rule_state *st, const baseline_view *l,
                                   double volume, double mult)
{
    double mu = l->mu + st->residual.mean * mult, floor = noise_floor(unit_of(p->id), mu, volume);
    return (baseline_view){mu, sqrt(fmax(st->residual.var * mult * mult, floor * floor)), true};
}

/* Warm once the hour has been seen for a whole day: 60 windows of 60 s. */
static baseline_view long_view(const ew_rule_params *p, const ew_rule_state *st, double volume, double mult)
{
    int64_t need = windows_per(HOUR_MS, p->window_ms);
    double f = weekday_factor(p, st) * mult, mu = st->hour.mean * f;
    double floor = noise_floor(unit_of(p->id), mu, volume);
    return (baseline_view){mu, sqrt(fmax(st->hour.var * f * f, floor * floor)),
                           (int64_t)st->hour.n >= (need > 3 ? need : 3)};
}

/* ---- detection ---- */

static bool change_is_enough(const ew_rule_params *p, double x, double expected)
{
    double mc = p->cfg->min_change;
    switch (p->id) {
    case EW_RULE_REQUEST_SPIKE:
    case EW_RULE_ORIGIN_LATENCY:
        return x >= expected * (1 + mc);
    case EW_RULE_REQUEST_DROP:
        return x <= expected * (1 - mc);
    case EW_RULE_ERROR_403_RATE:
    case EW_RULE_ERROR_5XX_RATE:
        return x - expected >= mc;
    case EW_RULE_CACHE_HIT_DROP:
        return expected - x >= mc;
    default:
        return fabs(x - expected) >= mc * fabs(expected);
    }
}

/* Whether the window carries enough traffic to be judged at all. The floor
 * applies to a distribution's usual traffic for the count rules (a silent
 * big distribution is an outage, a silent tiny one is nothing), and to the
 * window's own traffic for the ratio and latency rules. */
static bool enough_traffic(const ew_rule_params *p, ew_observation o, double expected)
{
    if (p->id == EW_RULE_GENERIC)
        return true;
    if (o.volume < (double)p->cfg->min_requests)
        return false;
    if (unit_of(p->id) == UNIT_COUNT)
        return expected >= p->floor_per_window;
    if (o.volume < p->floor_per_window)
        return false;
    /* A hit ratio or a p95 of a handful of requests is noise. */
    bool sampled = p->id == EW_RULE_CACHE_HIT_DROP || p->id == EW_RULE_ORIGIN_LATENCY;
    return !sampled || o.count >= (double)p->cfg->min_count;
}

/* The z in the rule's direction; generic takes the weaker side of both. */
static double directed(int dir, double z) { return dir >= 0 ? z : -z; }

static double threshold_of(const ew_rule_params *p, int dir, double expected, double sd)
{
    double zw = p->cfg->z_warning, mc = p->cfg->min_change;
    switch (unit_of(p->id)) {
    case UNIT_COUNT:
    case UNIT_LATENCY:
        return dir >= 0 ? fmax(expected + zw * sd, expected * (1 + mc)) : fmin(expected - zw * sd, expected * (1 - mc));
    case UNIT_RATIO:
        return dir >= 0 ? fmax(expected + zw * sd, expected + mc) : fmin(expected - zw * sd, expected - mc);
    default:
        return expected + zw * sd;
    }
}

ew_detection ew_detect(const ew_rule_params *p, const ew_rule_state *st, ew_observation o)
{
    ew_detection d = {.observed = o.value, .expected = NAN, .threshold = NAN, .z_short = NAN, .z_long = NAN};
    if (!o.valid || !p->cfg->enabled)
        return d;
    double mult = p->id == EW_RULE_REQUEST_SPIKE && p->expect_multiplier > 0 ? p->expect_multiplier : 1.0;
    baseline_view s = short_view(p, st, samples_of(p, o), mult), l = long_view(p, st, samples_of(p, o), mult);
    if (l.warm && warmed(&st->residual, p))
        s = residual_view(p, st, &l, samples_of(p, o), mult);
    baseline_view best = l.warm ? l : s;
    int dir = direction_of(p->id);
    d.expected = best.mu;
    d.z_short = (o.value - s.mu) / s.sd;
    if (l.warm)
        d.z_long = (o.value - l.mu) / l.sd;
    if (dir == 0) /* generic: the sign of the short-term deviation decides */
        dir = d.z_short >= 0 ? 1 : -1;
    d.threshold = threshold_of(p, dir, best.mu, best.sd);
    d.scored = s.warm && enough_traffic(p, o, best.mu);
    if (!d.scored)
        return d;
    double zs = directed(dir, d.z_short), zl = l.warm ? directed(dir, d.z_long) : zs;
    double zw = p->cfg->z_warning, zc = p->cfg->z_critical;
    bool counted = unit_of(p->id) != UNIT_RATIO || p->id == EW_RULE_CACHE_HIT_DROP || o.count >= (double)p->cfg->min_count;
    d.breach = zs >= zw && zl >= zw && counted && change_is_enough(p, o.value, best.mu);
    d.severity = zs >= zc && zl >= zc ? EW_SEV_CRITICAL : EW_SEV_WARNING;
    return d;
}

/* Folds x into e with x limited to mean ± zw·sd. A limited value moves the
 * mean only: folding zw·sd into the variance at every anomalous window
 * would inflate it ~1.8× per window (α = 0.05), and after a few windows
 * the anomaly would stop looking like one. */
static void ewma_add_limited(ew_ewma *e, double x, const baseline_view *v, double zw, double span)
{
    double lo = v->mu - zw * v->sd, hi = v->mu + zw * v->sd;
    if (!v->warm || (x >= lo && x <= hi)) {
        ewma_add(e, x, span);
        return;
    }
    double var = e->var;
    ewma_add(e, fmin(fmax(x, lo), hi), span);
    e->var = var;
}

static void learn_long(const ew_rule_params *p, ew_rule_state *st, double x, const baseline_view *l)
{
    double zw = p->cfg->z_warning, f = weekday_factor(p, st), days = (double)p->cfg->long_window_ms / (double)DAY_MS;
    double per_hour = (double)windows_per(HOUR_MS, p->window_ms), per_day = (double)windows_per(DAY_MS, p->window_ms);
    double level = st->hour.mean;
    baseline_view unscaled = {l->mu / f, l->sd / f, l->warm};
    ewma_add_limited(&st->hour, x / f, &unscaled, zw, days * per_hour);
    if ((unit_of(p->id) == UNIT_COUNT || p->id == EW_RULE_GENERIC) && l->warm && level > 0)
        ewma_add(&st->weekday, fmin(fmax(x / level, WEEKDAY_MIN), WEEKDAY_MAX), days / 7.0 * per_day);
}

void ew_learn(const ew_rule_params *p, ew_rule_state *st, ew_observation o, const ew_detection *d)
{
    if (!o.valid)
        return;
    double zw = p->cfg->z_warning, x = o.value;
    double short_span = (double)windows_per(p->cfg->short_window_ms, p->window_ms);
    baseline_view s = short_view(p, st, samples_of(p, o), 1.0), l = long_view(p, st, samples_of(p, o), 1.0);
    ewma_add_limited(&st->recent, x, &s, zw, short_span);
    if (l.warm) {
        baseline_view r = {st->residual.mean, sqrt(fmax(st->residual.var, 0)), warmed(&st->residual, p)};
        if (r.warm) /* limit like the value: noise floor included */
            r.sd = residual_view(p, st, &l, samples_of(p, o), 1.0).sd;
        ewma_add_limited(&st->residual, x - l.mu, &r, zw, short_span);
    }
    /* The long baseline is what "normal for this hour" means: once it is
     * warm, anomalies and open incidents stay out of it, so yesterday's
     * attack cannot make today's look normal. Until then there is nothing
     * to protect, and a distribution's steep daily ramp must be learned on
     * its first day, not only on days it happens not to breach. */
    if (l.warm && (d->breach || st->inc.open))
        return;
    learn_long(p, st, x, &l);
}

/* ---- lifecycle ---- */

static unsigned popcount32(uint32_t v)
{
    unsigned n = 0;
    for (; v; v &= v - 1)
        n++;
    return n;
}

static ew_event_kind open_incident(const ew_rule_params *p, ew_incident *inc, const ew_detection *d, int64_t ws,
                                   const char *entity)
{
    inc->open = true;
    inc->start_ws = inc->last_emit_ws = ws;
    inc->severity = d->severity;
    inc->normal_run = 0;
    inc->suppressed_by[0] = '\0';
    ew_alert_id(ew_rule_name(p->id), entity, ws, inc->alert_id);
    return EW_EVENT_FIRING;
}

ew_event_kind ew_lifecycle(const ew_rule_params *p, ew_incident *inc, const ew_detection *d, int64_t ws,
                           const char *entity)
{
    /* A window without enough traffic says nothing: it neither opens nor
     * resolves an incident, and does not count in the debounce. */
    if (!d->scored)
        return EW_EVENT_NONE;
    const ew_rule_config *c = p->cfg;
    uint32_t mask = c->fire_window >= 32 ? UINT32_MAX : (1u << c->fire_window) - 1;
    inc->breaches = (inc->breaches << 1) | (d->breach ? 1u : 0u);
    if (!inc->open)
        return d->breach && popcount32(inc->breaches & mask) >= (unsigned)c->fire_after
                   ? open_incident(p, inc, d, ws, entity)
                   : EW_EVENT_NONE;
    if (!d->breach) {
        if (++inc->normal_run < (uint32_t)c->resolve_after)
            return EW_EVENT_NONE;
        inc->open = false;
        inc->breaches = 0;
        inc->last_emit_ws = ws;
        return EW_EVENT_RESOLVED;
    }
    inc->normal_run = 0;
    /* Only an escalation is news: a critical incident whose windows wobble
     * between warning and critical would otherwise send one event each. */
    bool escalated = d->severity == EW_SEV_CRITICAL && inc->severity != EW_SEV_CRITICAL;
    bool repeat = c->repeat_interval_ms > 0 && ws - inc->last_emit_ws >= c->repeat_interval_ms;
    if (!escalated && !repeat)
        return EW_EVENT_NONE;
    if (escalated)
        inc->severity = EW_SEV_CRITICAL;
    inc->last_emit_ws = ws;
    return EW_EVENT_UPDATE;
}

double ew_anomaly_score(const ew_rule_params *p, const ew_detection *d)
{
    if (!d->scored || isnan(d->z_short))
        return 0;
    int dir = direction_of(p->id);
    if (dir == 0)
        dir = d->z_short >= 0 ? 1 : -1;
    double zs = directed(dir, d->z_short), zl = isnan(d->z_long) ? zs : directed(dir, d->z_long);
    double z = fmin(zs, zl), zw = p->cfg->z_warning;
    if (z <= 0)
        return 0;
    double score = z * z / (z * z + zw * zw);
    /* Past z_warning but too small a change is not an anomaly either. */
    return d->breach ? score : fmin(score, 0.49);
}

/* ---- state ---- */

void ew_incident_init(ew_incident *inc)
{
    memset(inc, 0, sizeof *inc);
    inc->start_ws = -1;
    inc->last_emit_ws = -1;
}

void ew_detector_init(ew_detector_state *s)
{
    memset(s, 0, sizeof *s);
    s->last_ws = -1;
    for (int r = 0; r < EW_TRAFFIC_RULES; r++)
        ew_incident_init(&s->rule[r].inc);
}

void ew_rule_history_init(ew_rule_history *h)
{
    memset(h, 0, sizeof *h);
    ew_incident_init(&h->inc);
}

void ew_season_of(int64_t ws, int *hour, int *weekday)
{
    int64_t days = ws >= 0 ? ws / DAY_MS : (ws - DAY_MS + 1) / DAY_MS;
    *hour = (int)((ws - days * DAY_MS) / HOUR_MS);
    /* 1970-01-01 was a Thursday: day 0 is weekday 3 when Monday is 0. */
    *weekday = (int)(((days % 7) + 7 + 3) % 7);
}

void ew_history_slice(const ew_rule_history *h, int64_t ws, ew_rule_state *out)
{
    int hour, weekday;
    ew_season_of(ws, &hour, &weekday);
    *out = (ew_rule_state){h->recent, h->residual, h->hour[hour], h->weekday[weekday], h->inc};
}

void ew_history_store(ew_rule_history *h, int64_t ws, const ew_rule_state *in)
{
    int hour, weekday;
    ew_season_of(ws, &hour, &weekday);
    h->recent = in->recent;
    h->residual = in->residual;
    h->hour[hour] = in->hour;
    h->weekday[weekday] = in->weekday;
    h->inc = in->inc;
}

void ew_alert_id(const char *rule, const char *entity, int64_t start_ws, char out[24])
{
    char buf[512];
    int n = snprintf(buf, sizeof buf, "%s|%s|%lld", rule, entity, (long long)start_ws);
    uint64_t h = ew_hash64(buf, (size_t)(n < (int)sizeof buf ? n : (int)sizeof buf - 1), EW_HASH_SEED);
    snprintf(out, 24, "ew-%016llx", (unsigned long long)h);
}

/* ---- stored text ---- */

void ew_detector_field_names(int64_t ws, char names[EW_DETECTOR_FIELDS][EW_DETECTOR_FIELD_LEN])
{
    int hour, weekday;
    ew_season_of(ws, &hour, &weekday);
    snprintf(names[0], EW_DETECTOR_FIELD_LEN, "last");
    for (int r = 0; r < EW_TRAFFIC_RULES; r++) {
        const char *rule = ew_rule_name((ew_rule_id)r);
        snprintf(names[1 + 4 * r], EW_DETECTOR_FIELD_LEN, "%s:r", rule);
        snprintf(names[2 + 4 * r], EW_DETECTOR_FIELD_LEN, "%s:h%02d", rule, hour);
        snprintf(names[3 + 4 * r], EW_DETECTOR_FIELD_LEN, "%s:w%d", rule, weekday);
        snprintf(names[4 + 4 * r], EW_DETECTOR_FIELD_LEN, "%s:i", rule);
    }
}

/* What a field of window ws holds: 0 "last"; then per rule r:short
 * (recent and residual), h:hour bucket, w:weekday bucket, i:incident. */
typedef enum { F_LAST, F_SHORT, F_HOUR, F_WEEKDAY, F_INCIDENT } field_kind;

static field_kind kind_of(size_t field) { return field == 0 ? F_LAST : (field_kind)(F_SHORT + (field - 1) % 4); }
static ew_rule_state *rule_of(ew_detector_state *s, size_t field) { return &s->rule[(field - 1) / 4]; }

static int format_ewma(const ew_ewma *e, char *out, size_t cap)
{
    return snprintf(out, cap, "%.17g %.17g %u", e->mean, e->var, e->n);
}

void ew_incident_format(const ew_incident *i, char *out, size_t cap)
{
    snprintf(out, cap, "%d %lld %lld %d %u %u %s %s", i->open ? 1 : 0, (long long)i->start_ws,
             (long long)i->last_emit_ws, i->severity == EW_SEV_CRITICAL ? 1 : 0, i->breaches, i->normal_run,
             i->alert_id[0] ? i->alert_id : "-", i->suppressed_by[0] ? i->suppressed_by : "-");
}

void ew_detector_format(const ew_detector_state *s, size_t field, char *out, size_t cap)
{
    ew_rule_state *r = field ? rule_of((ew_detector_state *)s, field) : NULL;
    switch (kind_of(field)) {
    case F_LAST:
        snprintf(out, cap, "%lld", (long long)s->last_ws);
        return;
    case F_SHORT: {
        int n = format_ewma(&r->recent, out, cap);
        if (n > 0 && (size_t)n < cap)
            out[n++] = ' ';
        if (n > 0 && (size_t)n < cap)
            format_ewma(&r->residual, out + n, cap - (size_t)n);
        return;
    }
    case F_HOUR:
        format_ewma(&r->hour, out, cap);
        return;
    case F_WEEKDAY:
        format_ewma(&r->weekday, out, cap);
        return;
    case F_INCIDENT:
        ew_incident_format(&r->inc, out, cap);
        return;
    }
}

/* ---- parsing: all or nothing, no trailing junk ---- */

typedef struct {
    const char *p;
    bool ok;
} cursor;

static const char *next_token(cursor *c, size_t *len)
{
    while (*c->p == ' ')
        c->p++;
    const char *start = c->p;
    while (*c->p && *c->p != ' ')
        c->p++;
    *len = (size_t)(c->p - start);
    if (!*len)
        c->ok = false;
    return start;
}

static double take_double(cursor *c)
{
    size_t len;
    const char *t = next_token(c, &len);
    char *end;
    double v = c->ok ? strtod(t, &end) : 0;
    if (!c->ok || end != t + len || !isfinite(v))
        c->ok = false;
    return v;
}

static long long take_int(cursor *c, long long lo, long long hi)
{
    size_t len;
    const char *t = next_token(c, &len);
    char *end;
    long long v = c->ok ? strtoll(t, &end, 10) : 0;
    if (!c->ok || end != t + len || v < lo || v > hi)
        c->ok = false;
    return v;
}

static void take_id(cursor *c, char out[24])
{
    size_t len;
    const char *t = next_token(c, &len);
    if (!c->ok || len >= 24) {
        c->ok = false;
        return;
    }
    snprintf(out, 24, "%.*s", (int)len, t);
    if (strcmp(out, "-") == 0)
        out[0] = '\0';
}

static ew_ewma take_ewma(cursor *c)
{
    ew_ewma e;
    e.mean = take_double(c);
    e.var = take_double(c);
    e.n = (uint32_t)take_int(c, 0, UINT32_MAX);
    if (e.var < 0)
        c->ok = false;
    return e;
}

static ew_incident take_incident(cursor *c)
{
    ew_incident i;
    ew_incident_init(&i);
    i.open = take_int(c, 0, 1) != 0;
    i.start_ws = take_int(c, -1, INT64_MAX);
    i.last_emit_ws = take_int(c, -1, INT64_MAX);
    i.severity = take_int(c, 0, 1) ? EW_SEV_CRITICAL : EW_SEV_WARNING;
    i.breaches = (uint32_t)take_int(c, 0, UINT32_MAX);
    i.normal_run = (uint32_t)take_int(c, 0, UINT32_MAX);
    take_id(c, i.alert_id);
    take_id(c, i.suppressed_by);
    return i;
}

bool ew_incident_parse(const char *text, ew_incident *out)
{
    cursor c = {text, true};
    ew_incident i = take_incident(&c);
    while (*c.p == ' ')
        c.p++;
    if (!c.ok || *c.p)
        return false;
    *out = i;
    return true;
}

bool ew_detector_parse(ew_detector_state *s, size_t field, const char *text)
{
    if (!text)
        return true;
    if (field >= EW_DETECTOR_FIELDS)
        return false;
    cursor c = {text, true};
    ew_rule_state r = field ? *rule_of(s, field) : (ew_rule_state){0};
    long long last = 0;
    switch (kind_of(field)) {
    case F_LAST:
        last = take_int(&c, -1, INT64_MAX);
        break;
    case F_SHORT:
        r.recent = take_ewma(&c);
        r.residual = take_ewma(&c);
        break;
    case F_HOUR:
        r.hour = take_ewma(&c);
        break;
    case F_WEEKDAY:
        r.weekday = take_ewma(&c);
        break;
    case F_INCIDENT:
        r.inc = take_incident(&c);
        break;
    }
    while (*c.p == ' ')
        c.p++;
    if (!c.ok || *c.p)
        return false;
    if (field)
        *rule_of(s, field) = r;
    else
        s->last_ws = last;
    return true;
}
