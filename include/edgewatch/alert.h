/* alert.h -- the alert event of the contract (architecture.md §3), as JSON.
 *
 * An alert names who and what: rule, distribution, project, owner, route,
 * observed vs expected. Its ids are deterministic (rule, entity, incident
 * start, status, window), so re-emission after a crash repeats ids rather
 * than inventing new ones, and consumers can deduplicate on event_id.
 */
#ifndef EDGEWATCH_ALERT_H
#define EDGEWATCH_ALERT_H

#include "edgewatch/common.h"
#include "edgewatch/score.h"

typedef struct {
    const char *alert_id;
    ew_event_kind kind;
    ew_severity severity;
    const char *rule;
    const char *entity_type;
    const char *entity_id;
    const char *project, *owner, *route; /* NULL when metadata has none */
    int64_t window_start_ms, window_end_ms;
    double observed, expected, threshold;
    double z_short, z_long;              /* NAN when the rule does not use it */
    int64_t emitted_at_ms;
    bool replay;
} ew_alert;

/* event_id = alert_id + status + window, hashed: "<alert_id>-f-<ws>" style. */
void ew_event_id(const ew_alert *a, char *out, size_t cap);
/* The JSON text of the event; caller frees. */
char *ew_alert_json(const ew_alert *a);
/* One sentence, e.g. "E2… (checkout-web) requests 2410/min vs 301 expected". */
void ew_alert_summary(const ew_alert *a, char *out, size_t cap);

#endif
