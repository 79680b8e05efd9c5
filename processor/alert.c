/* alert.c -- build alert events.
 *
 * Alerts are rare compared to records, so this uses jansson freely; the
 * field set is exactly the contract's, with nulls rather than omissions so
 * consumers can rely on every key being present (a traffic contributor's
 * impact and a traffic alert's report_version are null too). The Avro form
 * (alert_avro.c) then has the same shape as the JSON, field for field.
 */
#include "edgewatch/alert.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *status_name(ew_event_kind k) { return k == EW_EVENT_RESOLVED ? "resolved" : "firing"; }

void ew_event_id(const ew_alert *a, char *out, size_t cap)
{
    snprintf(out, cap, "%s-%c-%lld", a->alert_id, a->kind == EW_EVENT_RESOLVED ? 'r' : 'f',
             (long long)a->window_start_ms);
}

/* The rule's number as people read it: a count, a percentage, ms. */
static void format_value(const char *rule, double v, char *out, size_t cap)
{
    if (!isfinite(v))
        snprintf(out, cap, "n/a");
    else if (strncmp(rule, "cost_", 5) == 0)
        snprintf(out, cap, "$%.0f/day", v);
    else if (strstr(rule, "_rate") || strcmp(rule, "cache_hit_drop") == 0)
        snprintf(out, cap, "%.1f%%", 100 * v);
    else if (strcmp(rule, "origin_latency") == 0)
        snprintf(out, cap, "%.0f ms", v);
    else if (fabs(v) >= 1000)
        snprintf(out, cap, "%.0f", v);
    else
        snprintf(out, cap, "%.4g", v);
}

static const char *what_of(const char *rule)
{
    static const struct {
        const char *rule, *what;
    } names[] = {
        {"request_spike", "requests per window"}, {"request_drop", "requests per window"},
        {"error_403_rate", "403 rate"},           {"error_5xx_rate", "5xx rate"},
        {"cache_hit_drop", "cache hit ratio"},    {"origin_latency", "p95 origin latency"},
        {"cost_spike", "spend"},                  {"cost_drop", "spend"},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(names[i].rule, rule) == 0)
            return names[i].what;
    return rule;
}

/* "streaming spend $6,745/day vs $4,179/day expected (+$2,566/day, +61%), top USE1-Kafka.m5.2xlarge" */
static void cost_summary(const ew_alert *a, char *out, size_t cap)
{
    double change = a->observed - a->expected;
    char pct[32] = "";
    if (a->expected > 0)
        snprintf(pct, sizeof pct, ", %+.0f%%", 100 * change / a->expected);
    int n = snprintf(out, cap, "%s %s%s: $%.0f/day vs $%.0f/day expected (%s$%.0f/day%s)", a->entity_id,
                     strcmp(a->rule, "cost_drop") == 0 ? "spend dropped" : "spend up",
                     a->kind == EW_EVENT_RESOLVED ? ", resolved" : "", a->observed, a->expected, change < 0 ? "-" : "+",
                     fabs(change), pct);
    if (a->n_top > 0 && n > 0 && (size_t)n < cap)
        snprintf(out + n, cap - (size_t)n, ", top %s %s", a->top[0].dimension, a->top[0].value);
}

void ew_alert_summary(const ew_alert *a, char *out, size_t cap)
{
    if (strncmp(a->rule, "cost_", 5) == 0) {
        cost_summary(a, out, cap);
        return;
    }
    char observed[32], expected[32];
    format_value(a->rule, a->observed, observed, sizeof observed);
    format_value(a->rule, a->expected, expected, sizeof expected);
    const char *project = a->project && *a->project ? a->project : "unmapped";
    if (a->kind == EW_EVENT_RESOLVED)
        snprintf(out, cap, "%s (%s) %s resolved: %s %s vs %s expected", a->entity_id, project, a->rule,
                 what_of(a->rule), observed, expected);
    else
        snprintf(out, cap, "%s (%s) %s %s vs %s expected (z=%.1f)", a->entity_id, project, what_of(a->rule), observed,
                 expected, a->z_short);
}

static json_t *string_or_null(const char *s) { return s && *s ? json_string(s) : json_null(); }
static json_t *real_or_null(double v) { return isfinite(v) ? json_real(v) : json_null(); }

static json_t *contributors_json(const ew_alert *a)
{
    json_t *list = json_array();
    for (size_t i = 0; i < a->n_top; i++) {
        json_t *c = json_pack("{s:s, s:s, s:f, s:o}", "dimension", a->top[i].dimension, "value", a->top[i].value,
                              "share", a->top[i].share, "impact", real_or_null(a->top[i].impact));
        json_array_append_new(list, c);
    }
    return list;
}

static json_t *related_json(const ew_alert *a)
{
    json_t *list = json_array();
    for (size_t i = 0; i < a->n_related; i++)
        json_array_append_new(list, json_string(a->related[i]));
    return list;
}

static const char *severity_name(ew_severity s)
{
    return s == EW_SEV_CRITICAL ? "critical" : s == EW_SEV_INFO ? "info" : "warning";
}

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
    json_object_set_new(o, "severity", json_string(severity_name(a->severity)));
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
    json_object_set_new(o, "top_contributors", contributors_json(a));
    json_object_set_new(o, "suppressed_by", string_or_null(a->suppressed_by));
    json_object_set_new(o, "related_alerts", related_json(a));
    json_object_set_new(o, "report_version", string_or_null(a->report_version));
    json_object_set_new(o, "summary", json_string(summary));
    json_object_set_new(o, "emitted_at", json_string(emitted));
    json_object_set_new(o, "processor", json_string("edgewatch/" EW_VERSION));
    json_object_set_new(o, "replay", json_boolean(a->replay));
    char *text = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(10));
    json_decref(o);
    return text;
}
