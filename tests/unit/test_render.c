/* test_render.c -- unit tests for the notifier's alert line (notify/render.c).
 *
 * The notifier's modules (all of notify/ but main.c) are part of
 * libedgewatch.a. Assertions compare exact lines or exact substrings so that
 * any change to the documented format fails here first.
 */
#include "edgewatch/notify.h"

#include <jansson.h>
#include <stdio.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* 2026-11-01T12:40:00Z and one minute later, in epoch ms. */
#define WINDOW_START "1793536800000"
#define WINDOW_END "1793536860000"

static const char firing_alert[] =
    "{\"alert_id\":\"ew-1a2b3c4d5e6f7a8b\",\"event_id\":\"ev-1\",\"status\":\"firing\","
    "\"severity\":\"critical\",\"rule\":\"request_spike\",\"entity_type\":\"distribution\","
    "\"entity_id\":\"E2ABCDEFGHIJKL\",\"project\":\"checkout-web\",\"owner\":\"team-checkout\","
    "\"route\":\"slack:#checkout-oncall\",\"window_start\":" WINDOW_START ",\"window_end\":" WINDOW_END ","
    "\"observed\":2410,\"expected\":301.5,\"threshold\":8,\"z_short\":38.2,\"z_long\":null,"
    "\"top_contributors\":[{\"dimension\":\"c-ip\",\"value\":\"192.0.2.1\",\"share\":0.6}],"
    "\"suppressed_by\":null,\"related_alerts\":[],\"summary\":\"E2ABCDEFGHIJKL request spike\","
    "\"emitted_at\":1793536870000,\"processor\":\"0.1.0\",\"replay\":false}";

static const char firing_line[] =
    "FIRING critical request_spike distribution E2ABCDEFGHIJKL (checkout-web, owner team-checkout) "
    "window 2026-11-01T12:40:00Z..12:41:00Z observed 2410 vs expected 301.5 (z=38.2) "
    "-> slack:#checkout-oncall [alert ew-1a2b3c4d5e6f7a8b]";

/* Renders text and asserts success; the line lands in out. */
static void render_ok(const char *json, char *out, size_t cap)
{
    char err[256] = "";
    int n = ew_render_alert_line(json, strlen(json), out, cap, err, sizeof err);
    if (n < 0)
        fail_msg("render failed: %s", err);
    assert_int_equal((size_t)n, strlen(out));
}

/* Renders text and asserts failure with a reason containing expected. */
static void render_fails(const char *json, size_t cap, const char *expected_reason)
{
    char out[1024];
    char err[256] = "";
    assert_true(cap <= sizeof out);
    int n = ew_render_alert_line(json, strlen(json), out, cap, err, sizeof err);
    assert_int_equal(n, -1);
    assert_non_null(strstr(err, expected_reason));
    if (cap > 0)
        assert_string_equal(out, "");
}

/* Copies the firing alert with one `"key":value` pair replaced. */
static char *with_field(const char *key_and_old, const char *key_and_new)
{
    const char *at = strstr(firing_alert, key_and_old);
    assert_non_null(at);
    size_t head = (size_t)(at - firing_alert);
    size_t size = sizeof firing_alert + strlen(key_and_new);
    char *json = malloc(size);
    assert_non_null(json);
    snprintf(json, size, "%.*s%s%s", (int)head, firing_alert, key_and_new, at + strlen(key_and_old));
    return json;
}

static void test_firing_line_is_exact(void **state)
{
    (void)state;
    char out[1024];
    render_ok(firing_alert, out, sizeof out);
    assert_string_equal(out, firing_line);
}

static void test_resolved_starts_with_resolved(void **state)
{
    (void)state;
    char out[1024];
    char *json = with_field("\"status\":\"firing\"", "\"status\":\"resolved\"");
    render_ok(json, out, sizeof out);
    assert_int_equal(strncmp(out, "RESOLVED ", 9), 0);
    assert_string_equal(out + strlen("RESOLVED"), firing_line + strlen("FIRING"));
    free(json);
}

static void test_suppressed_is_appended(void **state)
{
    (void)state;
    char out[1024];
    char *json = with_field("\"suppressed_by\":null", "\"suppressed_by\":\"silence:maint-42\"");
    render_ok(json, out, sizeof out);
    size_t base = strlen(firing_line);
    assert_int_equal(strncmp(out, firing_line, base), 0);
    assert_string_equal(out + base, " (suppressed by silence:maint-42)");
    free(json);
}

static void test_missing_optional_fields_render_as_dash(void **state)
{
    (void)state;
    char out[1024];
    render_ok("{\"alert_id\":\"ew-1\",\"status\":\"firing\",\"rule\":\"cost_spike\",\"entity_id\":\"shop\"}", out,
              sizeof out);
    assert_string_equal(out, "FIRING - cost_spike - shop (-, owner -) window -..- observed - vs expected - (z=-) "
                             "-> - [alert ew-1]");
}

static void test_empty_and_mistyped_optionals_render_as_dash(void **state)
{
    (void)state;
    char out[1024];
    render_ok("{\"alert_id\":\"ew-1\",\"status\":\"resolved\",\"rule\":\"r\",\"entity_id\":\"e\",\"owner\":\"\","
              "\"project\":7,\"route\":null,\"observed\":\"many\",\"window_start\":-5,\"suppressed_by\":\"\"}",
              out, sizeof out);
    assert_string_equal(out, "RESOLVED - r - e (-, owner -) window -..- observed - vs expected - (z=-) -> - [alert ew-1]");
}

static void test_null_z_values(void **state)
{
    (void)state;
    char out[1024];
    char *json = with_field("\"z_short\":38.2", "\"z_short\":null");
    render_ok(json, out, sizeof out);
    assert_non_null(strstr(out, " observed 2410 vs expected 301.5 (z=-) -> "));
    assert_null(strstr(out, "z_long"));
    free(json);
}

static void test_z_long_shown_when_present(void **state)
{
    (void)state;
    char out[1024];
    char *json = with_field("\"z_long\":null", "\"z_long\":-4.25");
    render_ok(json, out, sizeof out);
    assert_non_null(strstr(out, " (z=38.2, z_long=-4.25) -> "));
    free(json);
}

static void test_window_across_midnight_keeps_end_date(void **state)
{
    (void)state;
    char out[1024];
    /* 2026-11-01T23:59:00Z .. 2026-11-02T00:00:00Z */
    char *json = with_field("\"window_start\":" WINDOW_START ",\"window_end\":" WINDOW_END,
                            "\"window_start\":1793577540000,\"window_end\":1793577600000");
    render_ok(json, out, sizeof out);
    assert_non_null(strstr(out, " window 2026-11-01T23:59:00Z..2026-11-02T00:00:00Z observed "));
    free(json);
}

static void test_number_formatting(void **state)
{
    (void)state;
    char out[1024];
    char *json = with_field("\"observed\":2410,\"expected\":301.5",
                            "\"observed\":0.38,\"expected\":0.004");
    render_ok(json, out, sizeof out);
    assert_non_null(strstr(out, " observed 0.38 vs expected 0.004 (z=38.2) "));
    free(json);
}

static void test_control_characters_cannot_split_the_line(void **state)
{
    (void)state;
    char out[1024];
    char *json = with_field("\"owner\":\"team-checkout\"", "\"owner\":\"team\\nFIRING fake\\u001b[2J\"");
    render_ok(json, out, sizeof out);
    assert_null(strchr(out, '\n'));
    assert_null(strchr(out, '\x1b'));
    assert_non_null(strstr(out, "(checkout-web, owner team FIRING fake [2J) "));
    free(json);
}

static void test_invalid_json_fails(void **state)
{
    (void)state;
    render_fails("{\"alert_id\":", 1024, "invalid JSON");
    render_fails("[1,2,3]", 1024, "not a JSON object");
    render_fails("", 1024, "empty message");
}

static void test_missing_required_fields_fail(void **state)
{
    (void)state;
    render_fails("{\"status\":\"firing\",\"rule\":\"r\",\"entity_id\":\"e\"}", 1024, "missing required field alert_id");
    render_fails("{\"alert_id\":\"a\",\"status\":\"firing\",\"rule\":\"r\"}", 1024, "missing required field entity_id");
    render_fails("{\"alert_id\":\"a\",\"status\":\"firing\",\"rule\":42,\"entity_id\":\"e\"}", 1024,
                 "field rule must be a non-empty string");
    render_fails("{\"alert_id\":\"a\",\"status\":\"pending\",\"rule\":\"r\",\"entity_id\":\"e\"}", 1024,
                 "field status must be \"firing\" or \"resolved\"");
}

static void test_small_buffer_fails_without_overflow(void **state)
{
    (void)state;
    size_t exact = strlen(firing_line);
    /* Heap buffers of the exact size let ASan catch any write past cap. */
    char *tight = malloc(exact);
    assert_non_null(tight);
    char err[256] = "";
    assert_int_equal(ew_render_alert_line(firing_alert, strlen(firing_alert), tight, exact, err, sizeof err), -1);
    assert_string_equal(tight, "");
    assert_non_null(strstr(err, "does not fit in"));
    free(tight);

    char *fits = malloc(exact + 1);
    assert_non_null(fits);
    assert_int_equal(ew_render_alert_line(firing_alert, strlen(firing_alert), fits, exact + 1, NULL, 0), (int)exact);
    assert_string_equal(fits, firing_line);
    free(fits);

    assert_int_equal(ew_render_alert_line(firing_alert, strlen(firing_alert), NULL, 0, NULL, 0), -1);
}

static void test_render_cap_macro_suffices(void **state)
{
    (void)state;
    size_t len = strlen(firing_alert);
    char *out = malloc(EW_RENDER_CAP(len));
    assert_non_null(out);
    assert_true(ew_render_alert_line(firing_alert, len, out, EW_RENDER_CAP(len), NULL, 0) > 0);
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_firing_line_is_exact),
        cmocka_unit_test(test_resolved_starts_with_resolved),
        cmocka_unit_test(test_suppressed_is_appended),
        cmocka_unit_test(test_missing_optional_fields_render_as_dash),
        cmocka_unit_test(test_empty_and_mistyped_optionals_render_as_dash),
        cmocka_unit_test(test_null_z_values),
        cmocka_unit_test(test_z_long_shown_when_present),
        cmocka_unit_test(test_window_across_midnight_keeps_end_date),
        cmocka_unit_test(test_number_formatting),
        cmocka_unit_test(test_control_characters_cannot_split_the_line),
        cmocka_unit_test(test_invalid_json_fails),
        cmocka_unit_test(test_missing_required_fields_fail),
        cmocka_unit_test(test_small_buffer_fails_without_overflow),
        cmocka_unit_test(test_render_cap_macro_suffices),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
