/* notify_alert_fixture.h -- ew_notify_alert values built from JSON text for
 * the notifier's unit tests.
 *
 * The receivers are tested without alert_event.c (the decoder has its own
 * tests), so the alert is filled here the way notify.h documents it: string
 * members point into the event, or at "" when the field is absent or null;
 * text is the event as compact JSON. Include after <cmocka.h> and
 * "edgewatch/notify.h".
 */
#ifndef EDGEWATCH_TEST_NOTIFY_ALERT_FIXTURE_H
#define EDGEWATCH_TEST_NOTIFY_ALERT_FIXTURE_H

#include <jansson.h>
#include <string.h>

static inline const char *fixture_string(const json_t *event, const char *key)
{
    const char *s = json_string_value(json_object_get(event, key));
    return s ? s : "";
}

static inline int64_t fixture_integer(const json_t *event, const char *key)
{
    return (int64_t)json_integer_value(json_object_get(event, key));
}

/* Fills a from json; fails the test when json is not a JSON object. */
static inline void fixture_alert(ew_notify_alert *a, const char *json)
{
    json_error_t jerr;
    memset(a, 0, sizeof *a);
    a->event = json_loads(json, 0, &jerr);
    if (!json_is_object(a->event))
        fail_msg("fixture is not a JSON object: %s", jerr.text);
    a->text = json_dumps(a->event, JSON_COMPACT);
    assert_non_null(a->text);
    a->alert_id = fixture_string(a->event, "alert_id");
    a->event_id = fixture_string(a->event, "event_id");
    a->status = fixture_string(a->event, "status");
    a->severity = fixture_string(a->event, "severity");
    a->rule = fixture_string(a->event, "rule");
    a->entity_type = fixture_string(a->event, "entity_type");
    a->entity_id = fixture_string(a->event, "entity_id");
    a->project = fixture_string(a->event, "project");
    a->owner = fixture_string(a->event, "owner");
    a->route = fixture_string(a->event, "route");
    a->suppressed_by = fixture_string(a->event, "suppressed_by");
    a->window_start = fixture_integer(a->event, "window_start");
    a->window_end = fixture_integer(a->event, "window_end");
    a->firing = strcmp(a->status, "firing") == 0;
}

static inline void fixture_release(ew_notify_alert *a)
{
    free(a->text);
    json_decref(a->event);
    memset(a, 0, sizeof *a);
}

/* The fixture json with the fields of patch (a JSON object, stolen)
 * added or replaced: the alert's text and members then agree. */
static inline void fixture_patch_new(ew_notify_alert *a, const char *json, json_t *patch)
{
    json_t *event = json_loads(json, 0, NULL);
    assert_non_null(event);
    assert_true(json_is_object(patch));
    assert_int_equal(json_object_update(event, patch), 0);
    json_decref(patch);
    char *text = json_dumps(event, JSON_COMPACT);
    json_decref(event);
    fixture_alert(a, text);
    free(text);
}

/* The same with the patch as JSON text: fixture_patch(&a, base, "{\"owner\":\"x\"}"). */
static inline void fixture_patch(ew_notify_alert *a, const char *json, const char *patch_json)
{
    fixture_patch_new(a, json, json_loads(patch_json, 0, NULL));
}

#endif
