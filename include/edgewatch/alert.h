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

/* One top contributor of the anomalous window: for traffic, its share of
 * the requests; for cost, its impact (actual - expected, per day) and that
 * impact's share of the project's. */
typedef struct {
    const char *dimension; /* client_ip, asn, country, uri, edge_location; service, usage_type, resource_id */
    char value[256];
    double share;
    double impact;         /* NAN for traffic */
} ew_contributor;

#define EW_ALERT_ID_LEN 64

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
    const ew_contributor *top;           /* n_top of them, heaviest first per dimension */
    size_t n_top;
    const char *suppressed_by;           /* silence or expected event id; NULL if none */
    const char (*related)[EW_ALERT_ID_LEN]; /* overlapping alerts of linked entities */
    size_t n_related;
    const char *report_version;          /* cost: the billing refresh scored; NULL for traffic */
    int64_t emitted_at_ms;
    bool replay;
} ew_alert;

/* event_id = alert_id + status + window: "<alert_id>-f-<ws>" for firing
 * events and their updates, "<alert_id>-r-<ws>" for resolved. */
void ew_event_id(const ew_alert *a, char *out, size_t cap);
/* The JSON text of the event; caller frees. */
char *ew_alert_json(const ew_alert *a);
/* One sentence, e.g. "E2… (checkout-web) 403 rate 38% vs 0.4% expected". */
void ew_alert_summary(const ew_alert *a, char *out, size_t cap);

#endif
