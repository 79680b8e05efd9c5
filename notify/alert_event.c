/* alert_event.c -- a message of the alert topic, decoded for routing.
 *
 * The notifier must read whatever the processor was configured to write:
 * JSON by default, or Avro of schemas/alert_event.avsc, framed or bare. Both
 * become the same JSON object, so routing, rendering and webhooks see one
 * shape. Labels point into that object: nothing is copied per field.
 */
#include "edgewatch/notify.h"

#include "edgewatch/alert_avro.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const LABELS[] = {"rule",      "project",  "owner", "severity", "status",
                                     "entity_type", "entity_id", "route", "alert_id"};

bool ew_notify_label_known(const char *name)
{
    for (size_t i = 0; i < sizeof LABELS / sizeof LABELS[0]; i++)
        if (strcmp(LABELS[i], name) == 0)
            return true;
    return false;
}

const char *ew_notify_alert_label(const ew_notify_alert *a, const char *name)
{
    const char *const values[] = {a->rule,   a->project, a->owner, a->severity, a->status,
                                  a->entity_type, a->entity_id, a->route, a->alert_id};
    for (size_t i = 0; i < sizeof LABELS / sizeof LABELS[0]; i++)
        if (strcmp(LABELS[i], name) == 0)
            return values[i];
    return NULL;
}

static const char *string_field(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

static bool fail(ew_notify_alert *a, char *err, size_t errcap, const char *fmt, const char *what)
{
    snprintf(err, errcap, fmt, what);
    ew_notify_alert_release(a);
    return false;
}

static json_t *parse_value(const void *value, size_t len, struct ew_alert_codec *codec, char *err, size_t errcap)
{
    const unsigned char *p = value;
    size_t i = 0;
    while (i < len && (p[i] == ' ' || p[i] == '\t' || p[i] == '\n' || p[i] == '\r'))
        i++;
    if (i < len && p[i] == '{') {
        json_error_t jerr;
        json_t *o = json_loadb(value, len, JSON_REJECT_DUPLICATES, &jerr);
        if (!o)
            snprintf(err, errcap, "bad_json: %s at byte %d", jerr.text, jerr.position);
        return o;
    }
    if (!codec) {
        snprintf(err, errcap, "bad_json: not a JSON object");
        return NULL;
    }
    char why[200] = "";
    json_t *o = ew_alert_from_avro(codec, value, len, why, sizeof why);
    if (!o)
        snprintf(err, errcap, "bad_avro: %s", why);
    return o;
}

bool ew_notify_alert_decode(ew_notify_alert *a, const void *value, size_t len, struct ew_alert_codec *codec,
                            char *err, size_t errcap)
{
    memset(a, 0, sizeof *a);
    a->event = parse_value(value, len, codec, err, errcap);
    if (!a->event)
        return false;
    if (!json_is_object(a->event))
        return fail(a, err, errcap, "bad_json: %s", "the event is not a JSON object");
    a->alert_id = string_field(a->event, "alert_id");
    a->event_id = string_field(a->event, "event_id");
    a->status = string_field(a->event, "status");
    a->severity = string_field(a->event, "severity");
    a->rule = string_field(a->event, "rule");
    a->entity_type = string_field(a->event, "entity_type");
    a->entity_id = string_field(a->event, "entity_id");
    a->project = string_field(a->event, "project");
    a->owner = string_field(a->event, "owner");
    a->route = string_field(a->event, "route");
    a->suppressed_by = string_field(a->event, "suppressed_by");
    a->window_start = json_integer_value(json_object_get(a->event, "window_start"));
    a->window_end = json_integer_value(json_object_get(a->event, "window_end"));
    const char *required[] = {"alert_id", "event_id", "rule", "entity_id"};
    const char *values[] = {a->alert_id, a->event_id, a->rule, a->entity_id};
    for (size_t i = 0; i < 4; i++)
        if (!*values[i])
            return fail(a, err, errcap, "missing_field: %s", required[i]);
    if (strcmp(a->status, "firing") != 0 && strcmp(a->status, "resolved") != 0)
        return fail(a, err, errcap, "bad_status: \"%s\" is not firing or resolved", a->status);
    a->firing = a->status[0] == 'f';
    a->text = json_dumps(a->event, JSON_COMPACT | JSON_REAL_PRECISION(10));
    return true;
}

void ew_notify_alert_release(ew_notify_alert *a)
{
    json_decref(a->event);
    free(a->text);
    memset(a, 0, sizeof *a);
}
