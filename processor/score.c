/* score.c -- z-score against an EWMA baseline, and the incident lifecycle.
 *
 * Why EWMA: it needs O(1) state per distribution (no 180-window history
 * read per score) and its span maps one-to-one onto the "short window"
 * teams tuned by hand (24 h, 8 h, 3 h).
 */
#include "edgewatch/score.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

void ew_baseline_init(ew_baseline *b)
{
    memset(b, 0, sizeof *b);
    b->last_ws = -1;
}

static double alpha_for(const ew_spike_rule *rule, int64_t window_ms)
{
    double span = (double)rule->short_window_ms / (double)window_ms;
    return span <= 1 ? 1.0 : 2.0 / (span + 1.0);
}

/* The baseline as it stood before window ws was folded in. */
static void baseline_before(const ew_baseline *b, int64_t ws, double *mean, double *var, int64_t *n)
{
    if (b->last_ws >= ws) {
        *mean = b->prev_mean;
        *var = b->prev_var;
        *n = b->prev_n;
    } else {
        *mean = b->mean;
        *var = b->var;
        *n = b->n;
    }
}

ew_score ew_score_requests(const ew_spike_rule *rule, int64_t window_ms, const ew_baseline *b, int64_t ws, double x)
{
    (void)window_ms;
    double mean, var;
    int64_t n;
    baseline_before(b, ws, &mean, &var, &n);
    ew_score s = {.observed = x, .expected = mean};
    double sd = sqrt(fmax(var, fmax(mean, 1.0)));
    s.z = (x - mean) / sd;
    s.threshold = mean + rule->z_warning * sd;
    s.scored = rule->enabled && n >= rule->warmup_windows && x >= (double)rule->min_requests;
    s.breach = s.scored && s.z >= rule->z_warning;
    s.severity = s.z >= rule->z_critical ? EW_SEV_CRITICAL : EW_SEV_WARNING;
    return s;
}

void ew_baseline_update(ew_baseline *b, const ew_spike_rule *rule, int64_t window_ms, int64_t ws, const ew_score *s)
{
    if (b->last_ws >= ws)
        return;
    b->prev_mean = b->mean;
    b->prev_var = b->var;
    b->prev_n = b->n;
    b->last_ws = ws;
    double x = s->breach ? s->threshold : s->observed;
    if (b->n == 0) {
        b->mean = x;
        b->var = 0;
    } else {
        double a = alpha_for(rule, window_ms);
        double diff = x - b->mean, incr = a * diff;
        b->mean += incr;
        b->var = (1 - a) * (b->var + diff * incr);
    }
    b->n++;
}

void ew_incident_init(ew_incident *inc)
{
    memset(inc, 0, sizeof *inc);
    inc->start_ws = -1;
    inc->resolved_ws = -1;
    inc->last_ws = -1;
}

void ew_alert_id(const char *rule, const char *entity, int64_t start_ws, char out[24])
{
    char buf[512];
    int n = snprintf(buf, sizeof buf, "%s|%s|%lld", rule, entity, (long long)start_ws);
    uint64_t h = ew_hash64(buf, (size_t)(n < (int)sizeof buf ? n : (int)sizeof buf - 1), EW_HASH_SEED);
    snprintf(out, 24, "ew-%016llx", (unsigned long long)h);
}

ew_event_kind ew_incident_step(ew_incident *inc, const ew_score *s, int64_t ws, const char *rule, const char *entity)
{
    if (ws <= inc->last_ws) {
        if (inc->start_ws == ws)
            return EW_EVENT_FIRING;
        if (inc->resolved_ws == ws)
            return EW_EVENT_RESOLVED;
        return EW_EVENT_NONE;
    }
    inc->last_ws = ws;
    if (s->breach && !inc->open) {
        inc->open = true;
        inc->start_ws = ws;
        inc->resolved_ws = -1;
        inc->severity = s->severity;
        ew_alert_id(rule, entity, ws, inc->alert_id);
        return EW_EVENT_FIRING;
    }
    if (!s->breach && inc->open && s->scored) {
        inc->open = false;
        inc->resolved_ws = ws;
        return EW_EVENT_RESOLVED;
    }
    return EW_EVENT_NONE;
}
