/* score.h -- detection math and alert lifecycle, free of I/O.
 *
 * Every rule measures one number per closed window (requests, 403 rate,
 * 5xx rate, cache hit ratio, p95 origin latency) and compares it with two
 * baselines of its own:
 *   - short-term: an exponentially weighted mean and variance whose span is
 *     the rule's short_window (3 h by default), of the value itself and,
 *     once the long baseline is warm, of its residual from it;
 *   - long-term: a seasonal profile, one EWMA per hour of the day, whose
 *     memory is long_window (14 days), times a day-of-week factor for
 *     request counts.
 * A window breaches when it is outside both (where the long one is warm),
 * by at least the rule's smallest meaningful change. Breaches pass through
 * a debounce (fire after N of the last M windows) and a hysteresis
 * (resolve after K normal windows). See docs/detection.md for the maths.
 *
 * A scored window reads and writes only a slice of an entity's detector
 * state: its short baselines, the long buckets of its hour and weekday,
 * and its incidents (ew_detector_state). Backends store that slice; the
 * text form of each part is defined here so every backend agrees.
 */
#ifndef EDGEWATCH_SCORE_H
#define EDGEWATCH_SCORE_H

#include "edgewatch/aggregate.h"
#include "edgewatch/common.h"
#include "edgewatch/config.h"

/* Exponentially weighted mean and variance; n counts updates. */
typedef struct {
    double mean, var;
    uint32_t n;
} ew_ewma;

/* Info: reported, not a problem (a cost drop). */
typedef enum { EW_SEV_WARNING, EW_SEV_CRITICAL, EW_SEV_INFO } ew_severity;

typedef struct {
    char alert_id[24];      /* "" when no incident was ever opened */
    char suppressed_by[24]; /* expected event the incident opened under, "" if none */
    bool open;
    int64_t start_ws;       /* window that opened the incident */
    int64_t last_emit_ws;   /* window of the last event sent */
    ew_severity severity;
    uint32_t breaches;      /* bit i set: the i-th last scored window breached */
    uint32_t normal_run;    /* normal windows in a row while open */
} ew_incident;

/* One rule's state as one window sees it. */
typedef struct {
    ew_ewma recent;   /* short-term baseline of the value */
    ew_ewma residual; /* short-term baseline of value − long-term expectation */
    ew_ewma hour;    /* long-term level of this window's hour of day (UTC) */
    ew_ewma weekday; /* long-term factor of this window's day of week */
    ew_incident inc;
} ew_rule_state;

typedef struct {
    int64_t last_ws; /* last window scored into this state, -1 if none */
    ew_rule_state rule[EW_TRAFFIC_RULES];
} ew_detector_state;

/* The whole seasonal state of one rule, for backends that keep it all
 * (state/memory.c, `edgewatch score`). */
typedef struct {
    ew_ewma recent, residual, hour[24], weekday[7];
    ew_incident inc;
} ew_rule_history;

/* What one window says about one rule: the value in the rule's unit, the
 * requests it rests on, and how many requests matched (403s, ...). */
typedef struct {
    double value, volume, count;
    bool valid; /* false: nothing to measure (no origin fetches, ...) */
} ew_observation;

typedef struct {
    double observed, expected, threshold;
    double z_short, z_long; /* NAN when that baseline is not warm */
    bool scored;            /* false during warm-up, under the traffic floor, or with too few samples */
    bool breach;
    ew_severity severity;
} ew_detection;

/* Everything about a rule that is not state. */
typedef struct {
    ew_rule_id id;
    const ew_rule_config *cfg;
    int64_t window_ms;
    double floor_per_window;  /* traffic floor in requests per window */
    double expect_multiplier; /* expected event: traffic up to this many times normal is expected (1 = none) */
} ew_rule_params;

typedef enum { EW_EVENT_NONE, EW_EVENT_FIRING, EW_EVENT_UPDATE, EW_EVENT_RESOLVED } ew_event_kind;

/* The rule's number in a window of stored counters. */
ew_observation ew_observe(ew_rule_id r, const uint64_t counters[EW_COUNTERS]);
/* Scores an observation against the baselines as they were before it. */
ew_detection ew_detect(const ew_rule_params *p, const ew_rule_state *st, ew_observation o);
/* Folds the observation into the baselines. Breaching values are clamped in
 * the short baseline and left out of the long one, so an attack does not
 * become normal. */
void ew_learn(const ew_rule_params *p, ew_rule_state *st, ew_observation o, const ew_detection *d);
/* Advances the incident through window ws; returns the event to send. */
ew_event_kind ew_lifecycle(const ew_rule_params *p, ew_incident *inc, const ew_detection *d, int64_t ws,
                           const char *entity);
/* 0..1: how anomalous a detection is (0.5 at z_warning), for `score`. */
double ew_anomaly_score(const ew_rule_params *p, const ew_detection *d);

void ew_incident_init(ew_incident *inc);
/* An incident's text, as in the `RULE:i` fields of det:<entity>, and back
 * (all or nothing). */
void ew_incident_format(const ew_incident *i, char *out, size_t cap);
bool ew_incident_parse(const char *text, ew_incident *out);
void ew_detector_init(ew_detector_state *s);
void ew_rule_history_init(ew_rule_history *h);
/* Hour of day and day of week (0 = Monday), UTC, of a window start. */
void ew_season_of(int64_t ws, int *hour, int *weekday);
/* The slice of a history that window ws reads, and writing it back. */
void ew_history_slice(const ew_rule_history *h, int64_t ws, ew_rule_state *out);
void ew_history_store(ew_rule_history *h, int64_t ws, const ew_rule_state *in);

/* "ew-" + 16 hex digits, from (rule, entity, incident start). */
void ew_alert_id(const char *rule, const char *entity, int64_t start_ws, char out[24]);

/* Text form of the stored state (state/README.md, key det:<entity>):
 * field names of window ws, in a fixed order, and each value's text. */
#define EW_DETECTOR_FIELDS (1 + 4 * EW_TRAFFIC_RULES)
#define EW_DETECTOR_FIELD_LEN 32
void ew_detector_field_names(int64_t ws, char names[EW_DETECTOR_FIELDS][EW_DETECTOR_FIELD_LEN]);
void ew_detector_format(const ew_detector_state *s, size_t field, char *out, size_t cap);
/* Parses a field's text (NULL = absent, leaves the initial value). On
 * malformed text returns false and leaves the state as it was. */
bool ew_detector_parse(ew_detector_state *s, size_t field, const char *text);

#endif
