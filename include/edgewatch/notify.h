/* notify.h -- the notifier's pure pieces: turning an alert event into text.
 *
 * edgewatch-notify runs consume -> decode -> render -> deliver -> commit.
 * Rendering is kept free of I/O and Kafka so it can be unit-tested on plain
 * JSON strings and reused by every receiver (stdout today; Slack and
 * webhooks later render from the same decoded fields).
 */
#ifndef EDGEWATCH_NOTIFY_H
#define EDGEWATCH_NOTIFY_H

#include <stddef.h>

/* Output capacity that always suffices for an alert of json_len bytes: every
 * rendered string is a decoded JSON string, which is never longer than its
 * source text, and numbers and fixed text stay well under the slack. Sizing
 * the buffer this way means no alert is ever dropped for being long. */
#define EW_RENDER_CAP(json_len) ((json_len) + 1024)

/* Renders one alert event (JSON, contract of architecture.md section 3) as a
 * single human-readable line without a trailing newline:
 *
 *   FIRING critical request_spike distribution E2ABC (checkout-web, owner
 *   team-checkout) window 2026-11-01T12:40:00Z..12:41:00Z observed 2410 vs
 *   expected 301.5 (z=38.2) -> slack:#checkout-oncall [alert ew-1a2b]
 *
 * (shown wrapped; the output is one line). Required: alert_id, rule,
 * entity_id (non-empty strings) and status ("firing" or "resolved").
 * Optional fields that are missing, null, empty or of the wrong type render
 * as "-": a readable alert with a gap beats a dropped one. Control characters
 * in strings become spaces so one alert is always exactly one line.
 *
 * Returns the number of bytes written to out (NUL-terminated), or -1 with a
 * one-line reason in err (if err is non-NULL) when the JSON is invalid, a
 * required field is missing, or the line does not fit in cap bytes; on -1
 * out holds an empty string (when cap > 0) and nothing past cap is written. */
int ew_render_alert_line(const char *json, size_t len, char *out, size_t cap, char *err, size_t errcap);

#endif
