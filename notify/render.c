/* render.c -- one alert event (JSON) to one readable line.
 *
 * Decoding and rendering are split: decode_alert() pulls the contract fields
 * out of the JSON object into an alert_view (borrowed pointers, valid while
 * the json_t lives), and the put_* functions append the pieces of the line.
 * The number format is exported (ew_render_number) so the Slack renderer in
 * receiver.c shows the same figures as the line.
 *
 * All output goes through a bounded line builder that stops at the first
 * piece that does not fit, so a too-small buffer is an error, never an
 * overflow and never a silently truncated alert.
 */
#include "edgewatch/notify.h"

#include "edgewatch/common.h"

#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* Latest epoch ms ew_format_time can print with a four-digit year
 * (9999-12-31T23:59:59Z); anything outside renders as "-". */
#define MAX_RENDERABLE_MS 253402300799999LL

typedef struct {
    char *buf;
    size_t cap;
    size_t len;
    bool overflow;
} line_builder;

/* Borrowed view of the fields the line shows. */
typedef struct {
    const char *alert_id;
    const char *status;
    const char *severity;
    const char *rule;
    const char *entity_type;
    const char *entity_id;
    const char *project;
    const char *owner;
    const char *route;
    const char *suppressed_by;
    const json_t *window_start;
    const json_t *window_end;
    const json_t *observed;
    const json_t *expected;
    const json_t *z_short;
    const json_t *z_long;
} alert_view;

/* ---- bounded line builder ------------------------------------------------ */

static void put_bytes(line_builder *lb, const char *bytes, size_t n)
{
    if (lb->overflow)
        return;
    /* Strictly less: one byte must stay free for the terminating NUL. */
    if (lb->cap == 0 || n >= lb->cap - lb->len) {
        lb->overflow = true;
        return;
    }
    memcpy(lb->buf + lb->len, bytes, n);
    lb->len += n;
    lb->buf[lb->len] = '\0';
}

static void put_literal(line_builder *lb, const char *text)
{
    put_bytes(lb, text, strlen(text));
}

/* Field text from the alert: control characters (newline, ESC, ...) become
 * spaces because a producer-controlled newline would split one alert into
 * two lines and an ESC could rewrite an operator's terminal. */
static void put_field(line_builder *lb, const char *text)
{
    if (!text || !*text) {
        put_literal(lb, "-");
        return;
    }
    for (const char *p = text; *p; p++) {
        unsigned char c = (unsigned char)*p;
        char safe = (c < 0x20 || c == 0x7f) ? ' ' : (char)c;
        put_bytes(lb, &safe, 1);
    }
}

/* ---- decoding -------------------------------------------------------------- */

/* A non-empty string, or NULL for anything else: optional fields degrade
 * to "-" instead of rejecting the alert. */
static const char *optional_string(const json_t *root, const char *key)
{
    const char *value = json_string_value(json_object_get(root, key));
    return value && *value ? value : NULL;
}

static bool required_string(const json_t *root, const char *key, const char **out, char *err, size_t errcap)
{
    const json_t *value = json_object_get(root, key);
    if (!value) {
        ew_set_error(err, errcap, "missing required field %s", key);
        return false;
    }
    *out = json_string_value(value);
    if (!*out || !**out) {
        ew_set_error(err, errcap, "field %s must be a non-empty string", key);
        return false;
    }
    return true;
}

/* The identity (alert_id, rule + entity) and the status are what a receiver
 * needs to act on an alert at all; without them the event is unusable. */
static bool decode_required(const json_t *root, alert_view *view, char *err, size_t errcap)
{
    if (!required_string(root, "alert_id", &view->alert_id, err, errcap) ||
        !required_string(root, "status", &view->status, err, errcap) ||
        !required_string(root, "rule", &view->rule, err, errcap) ||
        !required_string(root, "entity_id", &view->entity_id, err, errcap))
        return false;
    if (strcmp(view->status, "firing") != 0 && strcmp(view->status, "resolved") != 0) {
        ew_set_error(err, errcap, "field status must be \"firing\" or \"resolved\"");
        return false;
    }
    return true;
}

static void decode_optional(const json_t *root, alert_view *view)
{
    view->severity = optional_string(root, "severity");
    view->entity_type = optional_string(root, "entity_type");
    view->project = optional_string(root, "project");
    view->owner = optional_string(root, "owner");
    view->route = optional_string(root, "route");
    view->suppressed_by = optional_string(root, "suppressed_by");
    view->window_start = json_object_get(root, "window_start");
    view->window_end = json_object_get(root, "window_end");
    view->observed = json_object_get(root, "observed");
    view->expected = json_object_get(root, "expected");
    view->z_short = json_object_get(root, "z_short");
    view->z_long = json_object_get(root, "z_long");
}

static bool decode_alert(const json_t *root, alert_view *view, char *err, size_t errcap)
{
    if (!json_is_object(root)) {
        ew_set_error(err, errcap, "alert event is not a JSON object");
        return false;
    }
    memset(view, 0, sizeof *view);
    if (!decode_required(root, view, err, errcap))
        return false;
    decode_optional(root, view);
    return true;
}

/* ---- numbers and times ------------------------------------------------------ */

/* Drops trailing zeros of a fixed-point rendering ("301.50" -> "301.5",
 * "3.00" -> "3") so the line shows what matters without noise. */
static void trim_fraction(char *text)
{
    if (!strchr(text, '.'))
        return;
    char *end = text + strlen(text) - 1;
    while (*end == '0')
        *end-- = '\0';
    if (*end == '.')
        *end = '\0';
}

/* Counts stay integers, large values stay short, ordinary values keep two
 * decimals (money), and small ratios keep three significant digits. */
char *ew_render_number(double value, char *buf, size_t cap)
{
    double magnitude = fabs(value);
    if (!isfinite(value) || magnitude >= 1e15) {
        snprintf(buf, cap, "%.6g", value);
    } else if (value == trunc(value)) {
        snprintf(buf, cap, "%.0f", value);
    } else if (magnitude >= 1) {
        snprintf(buf, cap, "%.2f", value);
        trim_fraction(buf);
    } else {
        snprintf(buf, cap, "%.3g", value);
    }
    return buf;
}

static void put_number(line_builder *lb, const json_t *value)
{
    char text[64];
    if (json_is_integer(value))
        snprintf(text, sizeof text, "%" JSON_INTEGER_FORMAT, json_integer_value(value));
    else if (json_is_real(value))
        ew_render_number(json_real_value(value), text, sizeof text);
    else
        snprintf(text, sizeof text, "-");
    put_literal(lb, text);
}

/* Epoch ms as RFC 3339, or false when the field is absent or unprintable. */
static bool format_epoch_ms(const json_t *value, char *buf, size_t cap)
{
    if (!json_is_integer(value))
        return false;
    json_int_t ms = json_integer_value(value);
    if (ms < 0 || ms > MAX_RENDERABLE_MS)
        return false;
    ew_format_time((int64_t)ms, buf, cap);
    return true;
}

/* "START..END"; END drops its date when it equals START's, because almost
 * every window starts and ends on the same day and the repeat is noise. */
static void put_window(line_builder *lb, const alert_view *view)
{
    char start[32], end[32];
    bool has_start = format_epoch_ms(view->window_start, start, sizeof start);
    bool has_end = format_epoch_ms(view->window_end, end, sizeof end);
    const size_t date_len = strlen("YYYY-MM-DDT");
    put_literal(lb, " window ");
    put_literal(lb, has_start ? start : "-");
    put_literal(lb, "..");
    if (!has_end)
        put_literal(lb, "-");
    else if (has_start && strncmp(start, end, date_len) == 0)
        put_literal(lb, end + date_len);
    else
        put_literal(lb, end);
}

/* ---- the line ------------------------------------------------------------- */

static void put_identity(line_builder *lb, const alert_view *view)
{
    put_literal(lb, strcmp(view->status, "firing") == 0 ? "FIRING " : "RESOLVED ");
    put_field(lb, view->severity);
    put_literal(lb, " ");
    put_field(lb, view->rule);
    put_literal(lb, " ");
    put_field(lb, view->entity_type);
    put_literal(lb, " ");
    put_field(lb, view->entity_id);
    put_literal(lb, " (");
    put_field(lb, view->project);
    put_literal(lb, ", owner ");
    put_field(lb, view->owner);
    put_literal(lb, ")");
}

/* z_long is shown only when present: most rules score against one baseline
 * and a constant "z_long=-" would be noise on every line. */
static void put_measurement(line_builder *lb, const alert_view *view)
{
    put_literal(lb, " observed ");
    put_number(lb, view->observed);
    put_literal(lb, " vs expected ");
    put_number(lb, view->expected);
    put_literal(lb, " (z=");
    put_number(lb, view->z_short);
    if (json_is_number(view->z_long)) {
        put_literal(lb, ", z_long=");
        put_number(lb, view->z_long);
    }
    put_literal(lb, ")");
}

static void put_delivery(line_builder *lb, const alert_view *view)
{
    put_literal(lb, " -> ");
    put_field(lb, view->route);
    put_literal(lb, " [alert ");
    put_field(lb, view->alert_id);
    put_literal(lb, "]");
    if (view->suppressed_by) {
        put_literal(lb, " (suppressed by ");
        put_field(lb, view->suppressed_by);
        put_literal(lb, ")");
    }
}

static int finish_line(line_builder *lb, char *err, size_t errcap)
{
    if (lb->overflow || lb->len > INT_MAX) {
        if (lb->cap > 0)
            lb->buf[0] = '\0';
        ew_set_error(err, errcap, "rendered line does not fit in %zu bytes", lb->cap);
        return -1;
    }
    return (int)lb->len;
}

int ew_render_alert_line(const char *json, size_t len, char *out, size_t cap, char *err, size_t errcap)
{
    line_builder lb = {out, cap, 0, false};
    if (cap > 0)
        out[0] = '\0';
    if (!json || len == 0) {
        ew_set_error(err, errcap, "empty message");
        return -1;
    }
    json_error_t jerr;
    json_t *root = json_loadb(json, len, 0, &jerr);
    if (!root) {
        ew_set_error(err, errcap, "invalid JSON at byte %d: %s", jerr.position, jerr.text);
        return -1;
    }
    alert_view view;
    int result = -1;
    if (decode_alert(root, &view, err, errcap)) {
        put_identity(&lb, &view);
        put_window(&lb, &view);
        put_measurement(&lb, &view);
        put_delivery(&lb, &view);
        result = finish_line(&lb, err, errcap);
    }
    json_decref(root);
    return result;
}
