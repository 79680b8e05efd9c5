/* score.h -- detection math and alert lifecycle, free of I/O.
 *
 * The short-term baseline of a distribution's request count is an
 * exponentially weighted mean and variance whose span is the configured
 * short window (3 h of 60 s windows by default). A closed window scores
 * z = (x - mean) / sd with sd floored at sqrt(mean) (Poisson noise), so a
 * quiet, steady distribution cannot alert on a handful of requests.
 *
 * Everything a window's scoring writes is keyed by that window, so redoing
 * it after a crash reproduces the same result instead of applying twice:
 * the baseline keeps the state before its last update, and the incident
 * remembers which windows opened and resolved it. See docs/detection.md.
 */
#ifndef EDGEWATCH_SCORE_H
#define EDGEWATCH_SCORE_H

#include "edgewatch/common.h"
#include "edgewatch/config.h"

typedef struct {
    double mean, var;
    int64_t n;        /* windows folded in */
    int64_t last_ws;  /* window start of the last update, -1 if none */
    double prev_mean, prev_var;
    int64_t prev_n;
} ew_baseline;

typedef enum { EW_SEV_WARNING, EW_SEV_CRITICAL } ew_severity;

typedef struct {
    double observed, expected, threshold, z;
    bool scored;      /* false during warm-up or under the traffic floor */
    bool breach;
    ew_severity severity;
} ew_score;

typedef struct {
    char alert_id[24]; /* "" when no incident was ever opened */
    bool open;
    int64_t start_ws;
    int64_t resolved_ws; /* -1 while open */
    int64_t last_ws;     /* last window stepped through */
    ew_severity severity;
} ew_incident;

typedef enum { EW_EVENT_NONE, EW_EVENT_FIRING, EW_EVENT_RESOLVED } ew_event_kind;

void ew_baseline_init(ew_baseline *b);
/* Scores x for window ws against the baseline as it was before ws. */
ew_score ew_score_requests(const ew_spike_rule *rule, int64_t window_ms, const ew_baseline *b, int64_t ws, double x);
/* Folds window ws into the baseline once; a breaching value is clamped to
 * the threshold so an attack does not become the new normal at once. */
void ew_baseline_update(ew_baseline *b, const ew_spike_rule *rule, int64_t window_ms, int64_t ws,
                        const ew_score *s);
void ew_incident_init(ew_incident *inc);
/* Advances the incident through window ws and returns the event to emit.
 * Stepping a window already stepped re-emits exactly the event it emitted. */
ew_event_kind ew_incident_step(ew_incident *inc, const ew_score *s, int64_t ws, const char *rule,
                               const char *entity);
/* "ew-" + 16 hex digits, from (rule, entity, incident start). */
void ew_alert_id(const char *rule, const char *entity, int64_t start_ws, char out[24]);

#endif
