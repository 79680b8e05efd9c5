/* alert.c -- build alert events.
 *
 * Alerts are rare compared to records, so this uses jansson freely; the
 * field set is exactly the contract's, with nulls rather than omissions so
 * consumers can rely on every key being present.
 */
#include "edgewatch/alert.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static const char *status_name(ew_event_kind k) { return k == EW_EVENT_RESOLVED ? "resolved" : "firing"; }

void ew_event_id(const ew_alert *a, char *out, size_t cap)
{
    snprintf(out, cap, "%s-%c-%lld", a->alert_id, a->kind == EW_EVENT_RESOLVED ? 'r' : 'f',
             (long long)a->window_start_ms);
}

void ew_alert_summary(const ew_alert *a, char *out, size_t cap)
{
    if (a->kind == EW_EVENT_RESOLVED)
        snprintf(out, cap, "%s (%s) %s resolved: requests %.0f per window vs %.1f expected", a->entity_id,
                 a->project && *a->project ? a->project : "unmapped", a->rule, a->observed, a->expected);
    else
        snprintf(out, cap, "%s (%s) requests %.0f per window vs %.1f expected (z=%.1f)", a->entity_id,
                 a->project && *a->project ? a->project : "unmapped", a->observed, a->expected, a->z_short);
}

static json_t *string_or_null(const char *s) { return s && *s ? json_string(s) : json_null(); }
static json_t *real_or_null(double v) { return isfinite(v) ? json_real(v) : json_null(); }

char *ew_alert_json(const ew_alert *a)
{
    char event_id[64], summary[512], emitted[32];
    ew_event_id(a, event_id, sizeof event_id);
    ew_alert_summary(a, summary, sizeof summary);
    ew_format_time(a->emitted_at_ms, emitted, sizeof emitted);
    json_t *o = json_object();
    json_object_set_new(o, "alert_id", json_string(a->alert_id));
    json_object_set_new(o, "event_id", json_string(event_id));
    json_object_set_new(o, "status", json_string(status_name(a->kind)));
    json_object_set_new(o, "severity", json_string(a->severity == EW_SEV_CRITICAL ? "critical" : "warning"));
    json_object_set_new(o, "rule", json_string(a->rule));
    json_object_set_new(o, "entity_type", json_string(a->entity_type));
    json_object_set_new(o, "entity_id", json_string(a->entity_id));
    json_object_set_new(o, "project", string_or_null(a->project));
    json_object_set_new(o, "owner", string_or_null(a->owner));
    json_object_set_new(o, "route", string_or_null(a->route));
    json_object_set_new(o, "window_start", json_integer(a->window_start_ms));
    json_object_set_new(o, "window_end", json_integer(a->window_end_ms));
    json_object_set_new(o, "observed", real_or_null(a->observed));
    json_object_set_new(o, "expected", real_or_null(a->expected));
    json_object_set_new(o, "threshold", real_or_null(a->threshold));
    json_object_set_new(o, "z_short", real_or_null(a->z_short));
    json_object_set_new(o, "z_long", real_or_null(a->z_long));
    json_object_set_new(o, "top_contributors", json_array());
    json_object_set_new(o, "suppressed_by", json_null());
    json_object_set_new(o, "related_alerts", json_array());
    json_object_set_new(o, "summary", json_string(summary));
    json_object_set_new(o, "emitted_at", json_string(emitted));
    json_object_set_new(o, "processor", json_string("edgewatch/" EW_VERSION));
    json_object_set_new(o, "replay", json_boolean(a->replay));
    char *text = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(10));
    json_decref(o);
    return text;
}
