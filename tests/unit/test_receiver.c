/* test_receiver.c -- unit tests for the notifier's receivers (notify/receiver.c):
 * Slack, webhook and stdout bodies, link templates, and sending.
 *
 * Bodies are checked exactly where the format is the contract (webhook,
 * stdout, the Slack texts of a typical alert) and structurally (parsed with
 * jansson) where limits and escaping matter. Sending is tested against a
 * real HTTP server (libmicrohttpd) on an ephemeral loopback port, started
 * per test, answering with the status, body and delay the test sets; stdout
 * is tested by pointing file descriptor 1 at a temporary file or /dev/full.
 */
#include "edgewatch/common.h"
#include "edgewatch/notify.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "notify_alert_fixture.h"

#define LINK_TEMPLATE "https://dash.example/d/edge?dist={entity_id}&from={window_start}&to={window_end}"
#define GROUP_KEY "root.1/checkout-slack/project=checkout-web"
#define MAX_ALERTS 64

/* A traffic alert as the processor emits it; 12:40-12:41 UTC, 2026-11-01. */
static const char firing_json[] =
    "{\"alert_id\":\"ew-1a2b3c4d5e6f7a8b\",\"event_id\":\"ew-1a2b3c4d5e6f7a8b-f-1793536800000\","
    "\"status\":\"firing\",\"severity\":\"critical\",\"rule\":\"request_spike\",\"entity_type\":\"distribution\","
    "\"entity_id\":\"E2ABCDEFGHIJKL\",\"project\":\"checkout-web\",\"owner\":\"team-checkout\","
    "\"route\":\"slack:#checkout-oncall\",\"window_start\":1793536800000,\"window_end\":1793536860000,"
    "\"observed\":2410,\"expected\":301.5,\"threshold\":1200,\"z_short\":38.2,\"z_long\":null,"
    "\"top_contributors\":[{\"dimension\":\"client_ip\",\"value\":\"192.0.2.1\",\"share\":0.6},"
    "{\"dimension\":\"uri\",\"value\":\"/api/cart\",\"share\":0.25}],\"suppressed_by\":null,\"related_alerts\":[],"
    "\"summary\":\"E2ABCDEFGHIJKL (checkout-web) requests per window 2410 vs 301.5 expected (z=38.2)\","
    "\"emitted_at\":\"2026-11-01T12:41:10Z\",\"processor\":\"edgewatch/0.1.0\",\"replay\":false}";

static const char firing_header[] = ":rotating_light: FIRING critical · request_spike · checkout-web";

static const char firing_section[] =
    "*FIRING* critical · *request_spike* · distribution E2ABCDEFGHIJKL\n"
    "E2ABCDEFGHIJKL (checkout-web) requests per window 2410 vs 301.5 expected (z=38.2)\n"
    "<https://dash.example/d/edge?dist=E2ABCDEFGHIJKL&amp;from=1793536800000&amp;to=1793536860000|Open details>\n"
    "*Project:* checkout-web · *Owner:* team-checkout\n"
    "*Observed:* 2410 vs 301.5 expected (threshold 1200)\n"
    "*z:* short 38.2\n"
    "*Window:* 2026-11-01 12:40–12:41 UTC\n"
    "*Top contributors:*\n"
    "• client_ip 192.0.2.1 60%\n"
    "• uri /api/cart 25%\n"
    "*Alert:* ew-1a2b3c4d5e6f7a8b";

static const char firing_line[] =
    "FIRING critical request_spike distribution E2ABCDEFGHIJKL (checkout-web, owner team-checkout) "
    "window 2026-11-01T12:40:00Z..12:41:00Z observed 2410 vs expected 301.5 (z=38.2) "
    "-> slack:#checkout-oncall [alert ew-1a2b3c4d5e6f7a8b]";

/* A cost alert over one day: dollars, both z-scores, impacts. */
static const char cost_json[] =
    "{\"alert_id\":\"ew-00000000000000cc\",\"event_id\":\"ew-00000000000000cc-f-1793491200000\","
    "\"status\":\"firing\",\"severity\":\"warning\",\"rule\":\"cost_spike\",\"entity_type\":\"project\","
    "\"entity_id\":\"streaming\",\"project\":\"streaming\",\"owner\":\"team-data\",\"route\":null,"
    "\"window_start\":1793491200000,\"window_end\":1793577600000,\"observed\":6745,\"expected\":4820,"
    "\"threshold\":5820.5,\"z_short\":4.25,\"z_long\":3.1,\"top_contributors\":["
    "{\"dimension\":\"usage_type\",\"value\":\"USE1-Kafka.m5.2xlarge\",\"share\":1.25,\"impact\":2400.5},"
    "{\"dimension\":\"service\",\"value\":\"AmazonMSK\",\"share\":1.0,\"impact\":1920}],"
    "\"summary\":\"streaming spend up: $6745/day vs $4820/day expected (+$1925/day, +40%)\"}";

/* ---- receivers and notifications ----------------------------------------------------- */

static ew_receiver *make_receiver(ew_receiver_type type, const char *url, bool batch, const char *channel)
{
    char name[] = "checkout-slack", url_copy[256] = "", channel_copy[64] = "";
    char *headers[] = {"X-Team: checkout", "Authorization: Bearer t0ken"};
    snprintf(url_copy, sizeof url_copy, "%s", url ? url : "");
    snprintf(channel_copy, sizeof channel_copy, "%s", channel ? channel : "");
    ew_receiver_config rc = {
        .name = name, .type = type, .url = url ? url_copy : NULL, .batch = batch,
        .headers = headers, .n_headers = 2, .channel = channel ? channel_copy : NULL,
    };
    ew_receiver *r = ew_receiver_new(&rc, LINK_TEMPLATE);
    assert_non_null(r);
    return r;
}

static ew_receiver *slack_receiver(void) { return make_receiver(EW_RECEIVER_SLACK, "http://127.0.0.1:1/", false, NULL); }

static char *render_many(const ew_receiver *r, ew_notify_alert *alerts, size_t n, bool repeat)
{
    const ew_notify_alert *list[MAX_ALERTS];
    assert_true(n <= MAX_ALERTS);
    for (size_t i = 0; i < n; i++)
        list[i] = &alerts[i];
    ew_notification note = {list, n, GROUP_KEY, repeat};
    return ew_receiver_render(r, &note);
}

static char *render_one(const ew_receiver *r, ew_notify_alert *a) { return render_many(r, a, 1, false); }

static json_t *parse(const char *body)
{
    json_error_t jerr;
    assert_non_null(body);
    json_t *j = json_loads(body, 0, &jerr);
    if (!j)
        fail_msg("body is not valid JSON (%s): %s", jerr.text, body);
    return j;
}

static json_t *block(const json_t *body, size_t i) { return json_array_get(json_object_get(body, "blocks"), i); }

static const char *block_text(const json_t *body, size_t i)
{
    const char *t = json_string_value(json_object_get(json_object_get(block(body, i), "text"), "text"));
    assert_non_null(t);
    return t;
}

static const char *block_type(const json_t *body, size_t i)
{
    return json_string_value(json_object_get(block(body, i), "type"));
}

static const char *fallback_of(const json_t *body) { return json_string_value(json_object_get(body, "text")); }

static void assert_starts_with(const char *s, const char *prefix)
{
    if (strncmp(s, prefix, strlen(prefix)) != 0)
        fail_msg("\"%s\" does not start with \"%s\"", s, prefix);
}

static void assert_contains(const char *haystack, const char *needle)
{
    if (!strstr(haystack, needle))
        fail_msg("\"%s\" not found in:\n%s", needle, haystack);
}

/* ---- Slack bodies ---------------------------------------------------------------------- */

static void test_slack_single_alert(void **state)
{
    (void)state;
    ew_receiver *r = slack_receiver();
    ew_notify_alert a;
    fixture_alert(&a, firing_json);
    char *body = render_one(r, &a);
    json_t *j = parse(body);
    assert_null(json_object_get(j, "channel"));
    assert_int_equal(json_array_size(json_object_get(j, "blocks")), 2);
    assert_string_equal(block_type(j, 0), "header");
    assert_string_equal(block_text(j, 0), firing_header);
    assert_string_equal(block_type(j, 1), "section");
    assert_string_equal(json_string_value(json_object_get(json_object_get(block(j, 1), "text"), "type")), "mrkdwn");
    assert_string_equal(block_text(j, 1), firing_section);
    /* the fallback is mrkdwn too: the line's "->" arrives as "-&gt;" */
    char fallback[2048];
    const char *arrow = strstr(firing_line, "->");
    snprintf(fallback, sizeof fallback, "%s\n%.*s-&gt;%s", firing_header, (int)(arrow - firing_line), firing_line,
             arrow + 2);
    assert_string_equal(fallback_of(j), fallback);
    json_decref(j);
    free(body);
    fixture_release(&a);
    ew_receiver_free(r);
}

static void test_slack_channel_when_configured(void **state)
{
    (void)state;
    ew_receiver *r = make_receiver(EW_RECEIVER_SLACK, "http://127.0.0.1:1/", false, "#checkout-oncall");
    ew_notify_alert a;
    fixture_alert(&a, firing_json);
    char *body = render_one(r, &a);
    json_t *j = parse(body);
    assert_string_equal(json_string_value(json_object_get(j, "channel")), "#checkout-oncall");
    json_decref(j);
    free(body);
    fixture_release(&a);
    ew_receiver_free(r);
}

static void test_slack_resolved_suppressed_and_repeat(void **state)
{
    (void)state;
    ew_receiver *r = slack_receiver();
    ew_notify_alert a;
    fixture_patch(&a, firing_json, "{\"status\":\"resolved\"}");
    char *body = render_one(r, &a);
    json_t *j = parse(body);
    assert_string_equal(block_text(j, 0), ":white_check_mark: RESOLVED critical · request_spike · checkout-web");
    assert_starts_with(block_text(j, 1), "*RESOLVED* critical · *request_spike* · distribution E2ABCDEFGHIJKL\n");
    json_decref(j);
    free(body);
    fixture_release(&a);

    fixture_patch(&a, firing_json, "{\"suppressed_by\":\"silence:maint-42\"}");
    body = render_many(r, &a, 1, true);
    j = parse(body);
    assert_string_equal(block_text(j, 0), ":rotating_light: FIRING critical · request_spike · checkout-web "
                                          "(suppressed by silence:maint-42) (still firing)");
    assert_contains(block_text(j, 1), "distribution E2ABCDEFGHIJKL (suppressed by silence:maint-42)\n");
    json_decref(j);
    free(body);
    fixture_release(&a);
    ew_receiver_free(r);
}

static void test_slack_cost_alert(void **state)
{
    (void)state;
    ew_receiver *r = slack_receiver();
    ew_notify_alert a;
    fixture_alert(&a, cost_json);
    char *body = render_one(r, &a);
    json_t *j = parse(body);
    assert_string_equal(block_text(j, 0), ":rotating_light: FIRING warning · cost_spike · streaming");
    const char *section = block_text(j, 1);
    assert_starts_with(section, "*FIRING* warning · *cost_spike* · project streaming\n");
    assert_contains(section, "\n*Observed:* $6745/day vs $4820/day expected (threshold $5820.5/day)\n");
    assert_contains(section, "\n*z:* short 4.25 · long 3.1\n");
    assert_contains(section, "\n*Window:* 2026-11-01 00:00–2026-11-02 00:00 UTC\n");
    assert_contains(section, "\n• usage_type USE1-Kafka.m5.2xlarge 125% · impact $2400.5/day"
                             "\n• service AmazonMSK 100% · impact $1920/day\n");
    assert_contains(section, "<https://dash.example/d/edge?dist=streaming&amp;from=1793491200000&amp;"
                             "to=1793577600000|Open details>");
    json_decref(j);
    free(body);
    fixture_release(&a);
    ew_receiver_free(r);
}

/* A group of mixed alerts: the header summarizes, each alert keeps its
 * section, and rates show in percent. */
static void test_slack_group_of_alerts(void **state)
{
    (void)state;
    ew_receiver *r = slack_receiver();
    ew_notify_alert a[3];
    fixture_alert(&a[0], firing_json);
    fixture_patch(&a[1], firing_json,
                  "{\"rule\":\"error_403_rate\",\"severity\":\"warning\",\"observed\":0.38,\"expected\":0.004,"
                  "\"threshold\":0.05}");
    fixture_patch(&a[2], firing_json, "{\"status\":\"resolved\",\"project\":\"search-web\"}");
    char *body = render_many(r, a, 3, false);
    json_t *j = parse(body);
    assert_string_equal(block_text(j, 0),
                        ":rotating_light: FIRING critical · 2 rules · 2 projects · 3 alerts, 1 resolved");
    assert_int_equal(json_array_size(json_object_get(j, "blocks")), 6);
    const char *types[] = {"header", "section", "divider", "section", "divider", "section"};
    for (size_t i = 0; i < 6; i++)
        assert_string_equal(block_type(j, i), types[i]);
    assert_contains(block_text(j, 3), "\n*Observed:* 38% vs 0.4% expected (threshold 5%)\n");
    assert_contains(block_text(j, 5), "*RESOLVED* critical");
    const char *fallback = fallback_of(j);
    assert_starts_with(fallback, block_text(j, 0));
    assert_contains(fallback, "\nFIRING warning error_403_rate distribution E2ABCDEFGHIJKL ");
    assert_contains(fallback, "\nRESOLVED critical request_spike distribution E2ABCDEFGHIJKL (search-web, ");
    json_decref(j);
    free(body);
    for (size_t i = 0; i < 3; i++)
        fixture_release(&a[i]);
    ew_receiver_free(r);
}

/* Values are data, never markup: no mention, link or entity of an alert
 * field reaches Slack unescaped, and no field starts a new line. */
static void test_slack_escapes_values(void **state)
{
    (void)state;
    ew_receiver *r = slack_receiver();
    ew_notify_alert a;
    fixture_patch(&a, firing_json,
                  "{\"owner\":\"<!channel> & co\",\"project\":\"a<b>&c\","
                  "\"summary\":\"first\\nsecond <https://evil.example|click here>\"}");
    char *body = render_one(r, &a);
    json_t *j = parse(body);
    const char *section = block_text(j, 1);
    assert_contains(section, "*Project:* a&lt;b&gt;&amp;c · *Owner:* &lt;!channel&gt; &amp; co\n");
    assert_contains(section, "\nfirst second &lt;https://evil.example|click here&gt;\n");
    assert_null(strstr(section, "<!channel>"));
    assert_null(strstr(fallback_of(j), "<!channel>"));
    assert_contains(fallback_of(j), "&lt;!channel&gt;");
    /* plain_text is shown as is: escaping it would show "&lt;" to people */
    assert_string_equal(block_text(j, 0), ":rotating_light: FIRING critical · request_spike · a<b>&c");
    json_decref(j);
    free(body);
    fixture_release(&a);
    ew_receiver_free(r);
}

static json_t *repeated_string(const char *unit, size_t times)
{
    size_t n = strlen(unit);
    char *s = malloc(n * times + 1);
    assert_non_null(s);
    for (size_t i = 0; i < times; i++)
        memcpy(s + i * n, unit, n);
    s[n * times] = '\0';
    json_t *j = json_string(s);
    free(s);
    return j;
}

/* Eight contributors (five are shown) with 300-byte values. */
static json_t *long_contributors(void)
{
    json_t *list = json_array();
    for (int i = 0; i < 8; i++) {
        json_t *c = json_pack("{s:o, s:o, s:f}", "dimension", repeated_string("d", 300), "value",
                              repeated_string("<v>", 100), "share", 0.1);
        json_array_append_new(list, c);
    }
    return list;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Oversized values are cut with "…" at character boundaries (the body
 * stays valid JSON, which json_loads checks, UTF-8 included), within
 * Slack's limits; the link, third line, survives. */
static void test_slack_truncation_keeps_limits(void **state)
{
    (void)state;
    char tmpl[2048];
    int n = snprintf(tmpl, sizeof tmpl, "https://dash.example/%0*d?dist={entity_id}", 1400, 0);
    assert_true(n > 0 && (size_t)n < sizeof tmpl);
    char name[] = "s";
    ew_receiver_config rc = {.name = name, .type = EW_RECEIVER_SLACK, .url = name, .link_template = tmpl};
    ew_receiver *r = ew_receiver_new(&rc, NULL);
    assert_non_null(r);
    ew_notify_alert a;
    fixture_patch_new(&a, firing_json,
                      json_pack("{s:o, s:o, s:o}", "summary", repeated_string("é", 5000), "project",
                                repeated_string("p", 300), "top_contributors", long_contributors()));
    char *body = render_one(r, &a);
    json_t *j = parse(body);
    const char *header = block_text(j, 0), *section = block_text(j, 1);
    assert_true(strlen(header) <= 150);
    assert_true(ends_with(header, "…"));
    assert_true(strlen(section) <= 3000);
    assert_true(strlen(section) > 2900);
    assert_true(ends_with(section, "…"));
    assert_contains(section, "éé…\n<https://dash.example/000");
    assert_contains(section, "?dist=E2ABCDEFGHIJKL|Open details>\n");
    assert_contains(section, " ddd");
    assert_contains(section, "d… &lt;v&gt;&lt;v");
    assert_contains(section, "&lt;v… 10%\n");
    json_decref(j);
    free(body);
    fixture_release(&a);
    ew_receiver_free(r);
}

/* A link too long for a section is left out rather than cut. */
static void test_slack_overlong_link_is_left_out(void **state)
{
    (void)state;
    char name[] = "s", tmpl[] = "https://dash.example/?s={summary}";
    ew_receiver_config rc = {.name = name, .type = EW_RECEIVER_SLACK, .url = name, .link_template = tmpl};
    ew_receiver *r = ew_receiver_new(&rc, NULL);
    assert_non_null(r);
    ew_notify_alert a;
    fixture_patch_new(&a, firing_json, json_pack("{s:o}", "summary", repeated_string("x y", 600)));
    char *body = render_one(r, &a);
    json_t *j = parse(body);
    assert_null(strstr(block_text(j, 1), "Open details"));
    assert_contains(block_text(j, 1), "\n*Project:* checkout-web");
    json_decref(j);
    free(body);
    fixture_release(&a);
    ew_receiver_free(r);
}

/* More alerts than blocks allow: 24 sections, a note, and every alert
 * still in the fallback text. */
static void test_slack_block_limit(void **state)
{
    (void)state;
    ew_receiver *r = slack_receiver();
    ew_notify_alert a[30];
    for (size_t i = 0; i < 30; i++) {
        char id[32];
        snprintf(id, sizeof id, "{\"alert_id\":\"ew-%02zu\"}", i);
        fixture_patch(&a[i], firing_json, id);
    }
    char *body = render_many(r, a, 30, false);
    json_t *j = parse(body);
    assert_int_equal(json_array_size(json_object_get(j, "blocks")), 50);
    assert_string_equal(block_type(j, 49), "context");
    const json_t *note = json_array_get(json_object_get(block(j, 49), "elements"), 0);
    assert_string_equal(json_string_value(json_object_get(note, "text")),
                        "…and 6 more alerts, listed in the notification text");
    assert_contains(block_text(j, 47), "*Alert:* ew-23");
    assert_contains(fallback_of(j), "[alert ew-29]");
    json_decref(j);
    free(body);
    for (size_t i = 0; i < 30; i++)
        fixture_release(&a[i]);
    ew_receiver_free(r);
}

/* ---- webhook and stdout bodies ----------------------------------------------------------- */

static void test_webhook_unbatched_is_the_event(void **state)
{
    (void)state;
    ew_receiver *r = make_receiver(EW_RECEIVER_WEBHOOK, "http://127.0.0.1:1/", false, NULL);
    ew_notify_alert a[2];
    fixture_alert(&a[0], firing_json);
    fixture_alert(&a[1], cost_json);
    char *body = render_one(r, &a[0]);
    assert_string_equal(body, a[0].text);
    free(body);
    assert_null(render_many(r, a, 2, false));
    fixture_release(&a[0]);
    fixture_release(&a[1]);
    ew_receiver_free(r);
}

static void test_webhook_batched_keeps_order(void **state)
{
    (void)state;
    ew_receiver *r = make_receiver(EW_RECEIVER_WEBHOOK, "http://127.0.0.1:1/", true, NULL);
    ew_notify_alert a[3];
    fixture_alert(&a[0], firing_json);
    fixture_alert(&a[1], cost_json);
    fixture_patch(&a[2], firing_json, "{\"status\":\"resolved\"}");
    char *body = render_many(r, a, 3, false);
    json_t *j = parse(body);
    assert_string_equal(json_string_value(json_object_get(j, "version")), "1");
    assert_string_equal(json_string_value(json_object_get(j, "receiver")), "checkout-slack");
    assert_string_equal(json_string_value(json_object_get(j, "group_key")), GROUP_KEY);
    json_t *alerts = json_object_get(j, "alerts");
    assert_int_equal(json_array_size(alerts), 3);
    const char *at = body;
    for (size_t i = 0; i < 3; i++) {
        assert_true(json_equal(json_array_get(alerts, i), a[i].event));
        at = strstr(at, a[i].text); /* byte for byte, in order */
        assert_non_null(at);
    }
    json_decref(j);
    free(body);
    for (size_t i = 0; i < 3; i++)
        fixture_release(&a[i]);
    ew_receiver_free(r);
}

static void test_stdout_body_is_lines(void **state)
{
    (void)state;
    ew_receiver *r = make_receiver(EW_RECEIVER_STDOUT, NULL, false, NULL);
    ew_notify_alert a[2];
    fixture_alert(&a[0], firing_json);
    fixture_patch(&a[1], firing_json, "{\"status\":\"resolved\"}");
    char *body = render_many(r, a, 2, true);
    char want[2048];
    snprintf(want, sizeof want, "%s\nRESOLVED%s\n", firing_line, firing_line + strlen("FIRING"));
    assert_string_equal(body, want);
    free(body);
    fixture_release(&a[0]);
    fixture_release(&a[1]);
    ew_receiver_free(r);
}

static void test_render_rejects_empty_notification(void **state)
{
    (void)state;
    ew_receiver *r = slack_receiver();
    assert_null(render_many(r, NULL, 0, false));
    ew_receiver_free(r);
}

/* ---- configuration ------------------------------------------------------------------- */

static void test_config_defaults(void **state)
{
    (void)state;
    char name[] = "n", url[] = "http://127.0.0.1:1/", own[] = "https://own/{alert_id}";
    ew_receiver_config rc = {.name = name, .type = EW_RECEIVER_SLACK, .url = url, .max_batch = 100};
    ew_receiver *r = ew_receiver_new(&rc, LINK_TEMPLATE);
    assert_non_null(r);
    name[0] = 'x'; /* the receiver has its own copy */
    const ew_receiver_config *c = ew_receiver_config_of(r);
    assert_string_equal(c->name, "n");
    assert_int_equal(c->timeout_ms, 5000);
    assert_int_equal(c->connect_timeout_ms, 2000);
    assert_int_equal(c->max_batch, EW_SLACK_MAX_ALERTS);
    assert_string_equal(c->link_template, LINK_TEMPLATE);
    ew_receiver_free(r);

    rc = (ew_receiver_config){.name = name, .type = EW_RECEIVER_WEBHOOK, .url = url, .timeout_ms = 300,
                              .link_template = own, .max_batch = 7};
    r = ew_receiver_new(&rc, LINK_TEMPLATE);
    assert_int_equal(ew_receiver_config_of(r)->timeout_ms, 300);
    assert_int_equal(ew_receiver_config_of(r)->max_batch, 1);
    assert_string_equal(ew_receiver_config_of(r)->link_template, own);
    ew_receiver_free(r);

}

static void test_config_batch_url_and_stdout(void **state)
{
    (void)state;
    char name[] = "n", url[] = "http://127.0.0.1:1/";
    ew_receiver_config rc = {.name = name, .type = EW_RECEIVER_WEBHOOK, .url = url, .batch = true};
    ew_receiver *r = ew_receiver_new(&rc, NULL);
    assert_int_equal(ew_receiver_config_of(r)->max_batch, 100);
    assert_null(ew_receiver_config_of(r)->link_template);
    ew_receiver_free(r);

    rc.url = NULL; /* an HTTP receiver needs somewhere to send */
    assert_null(ew_receiver_new(&rc, NULL));
    rc = (ew_receiver_config){.name = name, .type = EW_RECEIVER_STDOUT};
    r = ew_receiver_new(&rc, NULL);
    assert_int_equal(ew_receiver_config_of(r)->max_batch, SIZE_MAX);
    assert_null(ew_receiver_config_of(r)->link_template);
    ew_receiver_free(r);
}

/* ---- links --------------------------------------------------------------------------- */

static size_t link_of(const ew_notify_alert *a, const char *tmpl, char *out, size_t cap)
{
    size_t n = ew_notify_link(a, tmpl, out, cap);
    assert_int_equal(n, strlen(out));
    return n;
}

static void test_link_encodes_values(void **state)
{
    (void)state;
    ew_notify_alert a;
    fixture_patch(&a, firing_json, "{\"project\":\"a b/c&d=e?f#g%h+é~._-\"}");
    char out[512];
    link_of(&a, "https://x.example/p/{project}?e={entity_id}", out, sizeof out);
    assert_string_equal(out, "https://x.example/p/a%20b%2Fc%26d%3De%3Ff%23g%25h%2B%C3%A9~._-?e=E2ABCDEFGHIJKL");
    fixture_release(&a);
}

static void test_link_numbers_and_booleans(void **state)
{
    (void)state;
    ew_notify_alert a;
    fixture_patch(&a, firing_json, "{\"replay\":true,\"ratio\":0.1,\"big\":1e21,\"whole\":2410.0}");
    char out[512];
    link_of(&a, "{window_start}/{expected}/{z_short}/{ratio}/{big}/{whole}/{replay}/{observed}", out, sizeof out);
    assert_string_equal(out, "1793536800000/301.5/38.2/0.1/1e%2B21/2410/true/2410");
    fixture_release(&a);
}

static void test_link_unknown_null_and_literals(void **state)
{
    (void)state;
    ew_notify_alert a;
    fixture_alert(&a, firing_json);
    char out[512];
    link_of(&a, "a={nope}&z={z_long}&s={suppressed_by}&t={top_contributors}", out, sizeof out);
    assert_string_equal(out, "a=&z=&s=&t=");
    link_of(&a, "{{rule}}={rule} {not a field} {} {rule", out, sizeof out);
    assert_string_equal(out, "{rule}}=request_spike {not a field} {} {rule");
    assert_int_equal(ew_notify_link(&a, "", out, sizeof out), 0);
    assert_string_equal(out, "");
    fixture_release(&a);
}

/* Like snprintf: the needed length comes back, nothing past cap is
 * written (heap buffers of the exact size let ASan see any overrun). */
static void test_link_small_cap(void **state)
{
    (void)state;
    ew_notify_alert a;
    fixture_alert(&a, firing_json);
    const char *tmpl = "https://x.example/{entity_id}";
    const char *full = "https://x.example/E2ABCDEFGHIJKL";
    char *small = malloc(10);
    assert_non_null(small);
    assert_int_equal(ew_notify_link(&a, tmpl, small, 10), strlen(full));
    assert_string_equal(small, "https://x");
    free(small);
    char *exact = malloc(strlen(full) + 1);
    assert_non_null(exact);
    assert_int_equal(ew_notify_link(&a, tmpl, exact, strlen(full) + 1), strlen(full));
    assert_string_equal(exact, full);
    free(exact);
    assert_int_equal(ew_notify_link(&a, tmpl, NULL, 0), strlen(full));
    fixture_release(&a);
}

/* ---- a real HTTP server ----------------------------------------------------------------- */

typedef struct {
    struct MHD_Daemon *daemon;
    char url[64];
    pthread_mutex_t lock;
    /* the answer, set by the test */
    unsigned status;
    const char *answer;
    const char *retry_after; /* a Retry-After header on the answer, or NULL */
    int64_t delay_ms;
    bool stopping;
    /* what the server saw of the last request */
    int requests, connections;
    bool has_key;
    char method[16], path[64], key[320], content_type[128], team[64], auth[64], user_agent[64];
    char body[1 << 16];
    size_t body_len;
} test_server;

static void copy_header(struct MHD_Connection *c, const char *name, char *out, size_t cap)
{
    const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
    snprintf(out, cap, "%s", v ? v : "");
}

static void record_request(test_server *s, struct MHD_Connection *c, const char *method, const char *path)
{
    pthread_mutex_lock(&s->lock);
    s->requests++;
    s->body_len = 0;
    snprintf(s->method, sizeof s->method, "%s", method);
    snprintf(s->path, sizeof s->path, "%s", path);
    s->has_key = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Idempotency-Key") != NULL;
    copy_header(c, "Idempotency-Key", s->key, sizeof s->key);
    copy_header(c, "Content-Type", s->content_type, sizeof s->content_type);
    copy_header(c, "X-Team", s->team, sizeof s->team);
    copy_header(c, "Authorization", s->auth, sizeof s->auth);
    copy_header(c, "User-Agent", s->user_agent, sizeof s->user_agent);
    pthread_mutex_unlock(&s->lock);
}

static void record_body(test_server *s, const char *data, size_t n)
{
    pthread_mutex_lock(&s->lock);
    size_t room = sizeof s->body - 1 - s->body_len;
    n = n < room ? n : room;
    memcpy(s->body + s->body_len, data, n);
    s->body_len += n;
    s->body[s->body_len] = '\0';
    pthread_mutex_unlock(&s->lock);
}

/* Sleeps in small steps so stopping the server does not wait out a long
 * delay. */
static void wait_delay(test_server *s)
{
    int64_t until = ew_mono_ms() + s->delay_ms;
    for (;;) {
        pthread_mutex_lock(&s->lock);
        bool done = s->stopping || ew_mono_ms() >= until;
        pthread_mutex_unlock(&s->lock);
        if (done)
            return;
        usleep(5000);
    }
}

static enum MHD_Result send_answer(test_server *s, struct MHD_Connection *c)
{
    wait_delay(s);
    pthread_mutex_lock(&s->lock);
    unsigned status = s->status;
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(strlen(s->answer), (void *)s->answer, MHD_RESPMEM_MUST_COPY);
    if (s->retry_after)
        MHD_add_response_header(resp, "Retry-After", s->retry_after);
    pthread_mutex_unlock(&s->lock);
    enum MHD_Result result = MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    return result;
}

/* MHD calls this once with the headers, then per piece of the body, then
 * once more with nothing left: that last call answers. */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **request_state)
{
    test_server *s = cls;
    (void)version;
    if (!*request_state) {
        *request_state = s;
        record_request(s, c, method, url);
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        record_body(s, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    return send_answer(s, c);
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    test_server *s = cls;
    (void)c;
    (void)socket_context;
    if (code != MHD_CONNECTION_NOTIFY_STARTED)
        return;
    pthread_mutex_lock(&s->lock);
    s->connections++;
    pthread_mutex_unlock(&s->lock);
}

/* A thread per connection, so a delayed answer blocks only its own. */
static test_server *server_start(unsigned status, const char *answer, int64_t delay_ms)
{
    test_server *s = calloc(1, sizeof *s);
    assert_non_null(s);
    pthread_mutex_init(&s->lock, NULL);
    s->status = status;
    s->answer = answer;
    s->delay_ms = delay_ms;
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = 0, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    s->daemon = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0, NULL, NULL,
                                 on_request, s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
                                 MHD_OPTION_NOTIFY_CONNECTION, on_connection, s, MHD_OPTION_END);
    assert_non_null(s->daemon);
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    assert_non_null(info);
    assert_true(info->port > 0);
    snprintf(s->url, sizeof s->url, "http://127.0.0.1:%u/hook", (unsigned)info->port);
    return s;
}

static void server_answer(test_server *s, unsigned status, const char *answer)
{
    pthread_mutex_lock(&s->lock);
    s->status = status;
    s->answer = answer;
    pthread_mutex_unlock(&s->lock);
}

static void server_stop(test_server *s)
{
    pthread_mutex_lock(&s->lock);
    s->stopping = true;
    pthread_mutex_unlock(&s->lock);
    MHD_stop_daemon(s->daemon);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

/* Posts one rendered alert to a fresh webhook receiver of the server. */
static ew_send_result post_alert(test_server *s, ew_receiver_type type, char *err, size_t errcap)
{
    ew_receiver *r = make_receiver(type, s->url, false, NULL);
    ew_notify_alert a;
    fixture_alert(&a, firing_json);
    char *body = render_one(r, &a);
    ew_send_result result = ew_receiver_post(r, body, "ew-1a2b3c4d5e6f7a8b-f-1793536800000", err, errcap);
    free(body);
    fixture_release(&a);
    ew_receiver_free(r);
    return result;
}

static void test_post_200_sends_exact_request(void **state)
{
    (void)state;
    test_server *s = server_start(200, "ok", 0);
    ew_receiver *r = make_receiver(EW_RECEIVER_WEBHOOK, s->url, false, NULL);
    ew_notify_alert a;
    fixture_alert(&a, firing_json);
    char *body = render_one(r, &a);
    char err[256] = "junk";
    assert_int_equal(ew_receiver_post(r, body, "ew-1a2b3c4d5e6f7a8b-f-1793536800000", err, sizeof err),
                     EW_SEND_OK);
    assert_string_equal(err, "");
    assert_int_equal(s->requests, 1);
    assert_string_equal(s->method, "POST");
    assert_string_equal(s->path, "/hook");
    assert_string_equal(s->body, body);
    assert_int_equal(s->body_len, strlen(body));
    assert_true(s->has_key);
    assert_string_equal(s->key, "ew-1a2b3c4d5e6f7a8b-f-1793536800000");
    assert_string_equal(s->content_type, "application/json");
    assert_string_equal(s->team, "checkout");
    assert_string_equal(s->auth, "Bearer t0ken");
    assert_string_equal(s->user_agent, "edgewatch-notify/" EW_VERSION);
    free(body);
    fixture_release(&a);
    ew_receiver_free(r);
    server_stop(s);
}

static void test_post_without_key_sends_no_key_header(void **state)
{
    (void)state;
    test_server *s = server_start(204, "", 0);
    ew_receiver *r = make_receiver(EW_RECEIVER_WEBHOOK, s->url, false, NULL);
    char err[256];
    assert_int_equal(ew_receiver_post(r, "{}", NULL, err, sizeof err), EW_SEND_OK);
    assert_false(s->has_key);
    assert_string_equal(s->body, "{}");
    ew_receiver_free(r);
    server_stop(s);
}

static void test_post_500_retries(void **state)
{
    (void)state;
    test_server *s = server_start(500, "", 0);
    char err[256];
    assert_int_equal(post_alert(s, EW_RECEIVER_WEBHOOK, err, sizeof err), EW_SEND_RETRY);
    assert_string_equal(err, "HTTP 500");
    server_stop(s);
}

static void test_post_429_retries(void **state)
{
    (void)state;
    test_server *s = server_start(429, "slow down", 0);
    char err[256];
    assert_int_equal(post_alert(s, EW_RECEIVER_WEBHOOK, err, sizeof err), EW_SEND_RETRY);
    assert_string_equal(err, "HTTP 429: slow down");
    server_stop(s);
}

static void test_post_429_retry_after(void **state)
{
    (void)state;
    test_server *s = server_start(429, "rate_limited", 0);
    pthread_mutex_lock(&s->lock);
    s->retry_after = "3";
    pthread_mutex_unlock(&s->lock);
    ew_receiver *r = make_receiver(EW_RECEIVER_SLACK, s->url, false, NULL);
    ew_notify_alert a;
    fixture_alert(&a, firing_json);
    char *body = render_one(r, &a);
    char err[256];
    assert_int_equal(ew_receiver_post(r, body, "k1", err, sizeof err), EW_SEND_RETRY);
    assert_int_equal(ew_receiver_retry_after_ms(r), 3000);
    pthread_mutex_lock(&s->lock);
    s->retry_after = NULL;
    pthread_mutex_unlock(&s->lock);
    assert_int_equal(ew_receiver_post(r, body, "k1", err, sizeof err), EW_SEND_RETRY);
    assert_int_equal(ew_receiver_retry_after_ms(r), 0); /* only the last answer counts */
    free(body);
    fixture_release(&a);
    ew_receiver_free(r);
    server_stop(s);
}

static void test_post_404_is_permanent(void **state)
{
    (void)state;
    test_server *s = server_start(404, "", 0);
    char err[256];
    assert_int_equal(post_alert(s, EW_RECEIVER_WEBHOOK, err, sizeof err), EW_SEND_PERMANENT);
    assert_string_equal(err, "HTTP 404");
    server_stop(s);
}

/* Slack explains a rejection in the body: the error line carries it, cut
 * to 100 bytes and to one line. */
static void test_post_slack_error_body(void **state)
{
    (void)state;
    char long_answer[300];
    memset(long_answer, 'x', sizeof long_answer - 1);
    long_answer[sizeof long_answer - 1] = '\0';
    memcpy(long_answer, "no_text\nmore", 12);
    test_server *s = server_start(400, "invalid_payload", 0);
    char err[256];
    assert_int_equal(post_alert(s, EW_RECEIVER_SLACK, err, sizeof err), EW_SEND_PERMANENT);
    assert_string_equal(err, "HTTP 400: invalid_payload");
    server_answer(s, 410, long_answer);
    assert_int_equal(post_alert(s, EW_RECEIVER_SLACK, err, sizeof err), EW_SEND_PERMANENT);
    assert_int_equal(strlen(err), strlen("HTTP 410: ") + 100);
    assert_starts_with(err, "HTTP 410: no_text morexxx");
    server_stop(s);
}

/* Every class of status through one kept-alive connection. */
static void test_post_status_classes(void **state)
{
    (void)state;
    static const struct {
        unsigned status;
        ew_send_result want;
    } cases[] = {
        {200, EW_SEND_OK},        {201, EW_SEND_OK},        {204, EW_SEND_OK},        {301, EW_SEND_PERMANENT},
        {400, EW_SEND_PERMANENT}, {401, EW_SEND_PERMANENT}, {404, EW_SEND_PERMANENT}, {410, EW_SEND_PERMANENT},
        {408, EW_SEND_RETRY},     {429, EW_SEND_RETRY},     {500, EW_SEND_RETRY},     {502, EW_SEND_RETRY},
        {503, EW_SEND_RETRY},     {200, EW_SEND_OK},
    };
    test_server *s = server_start(200, "", 0);
    ew_receiver *r = make_receiver(EW_RECEIVER_WEBHOOK, s->url, false, NULL);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char err[256];
        server_answer(s, cases[i].status, "");
        ew_send_result got = ew_receiver_post(r, "{\"n\":1}", "k", err, sizeof err);
        if (got != cases[i].want)
            fail_msg("HTTP %u: got %d (%s), want %d", cases[i].status, got, err, cases[i].want);
    }
    ew_receiver_free(r);
    server_stop(s);
}

/* One curl handle per receiver: consecutive notifications share the
 * connection instead of reconnecting (and, with TLS, re-handshaking). */
static void test_post_reuses_connection(void **state)
{
    (void)state;
    test_server *s = server_start(200, "ok", 0);
    ew_receiver *r = make_receiver(EW_RECEIVER_SLACK, s->url, false, NULL);
    char err[256];
    for (int i = 0; i < 3; i++)
        assert_int_equal(ew_receiver_post(r, "{\"text\":\"x\"}", "k", err, sizeof err), EW_SEND_OK);
    assert_int_equal(s->requests, 3);
    assert_int_equal(s->connections, 1);
    ew_receiver_free(r);
    server_stop(s);
}

static void test_post_timeout_retries_in_time(void **state)
{
    (void)state;
    test_server *s = server_start(200, "late", 5000);
    char name[] = "slow";
    ew_receiver_config rc = {.name = name, .type = EW_RECEIVER_WEBHOOK, .url = s->url, .timeout_ms = 300};
    ew_receiver *r = ew_receiver_new(&rc, NULL);
    assert_non_null(r);
    char err[256];
    int64_t start = ew_mono_ms();
    assert_int_equal(ew_receiver_post(r, "{}", "k", err, sizeof err), EW_SEND_RETRY);
    int64_t elapsed = ew_mono_ms() - start;
    assert_true(elapsed >= 280);
    assert_true(elapsed < 1500);
    assert_contains(err, "Timeout was reached");
    assert_contains(err, "timed out after");
    ew_receiver_free(r);
    server_stop(s);
}

/* A loopback port that nobody listens on: bound, then closed. */
static unsigned closed_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = 0, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof addr;
    assert_int_equal(bind(fd, (struct sockaddr *)&addr, sizeof addr), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&addr, &len), 0);
    close(fd);
    return ntohs(addr.sin_port);
}

static void test_post_connection_refused_retries(void **state)
{
    (void)state;
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/hook", closed_port());
    ew_receiver *r = make_receiver(EW_RECEIVER_WEBHOOK, url, false, NULL);
    char err[256];
    assert_int_equal(ew_receiver_post(r, "{}", "k", err, sizeof err), EW_SEND_RETRY);
    assert_contains(err, "Couldn't connect to server");
    ew_receiver_free(r);
}

/* A key that could inject header lines is refused before any request. */
static void test_post_rejects_bad_key(void **state)
{
    (void)state;
    test_server *s = server_start(200, "", 0);
    ew_receiver *r = make_receiver(EW_RECEIVER_WEBHOOK, s->url, false, NULL);
    char err[256], long_key[EW_IDEMPOTENCY_KEY_MAX + 2];
    memset(long_key, 'k', sizeof long_key - 1);
    long_key[sizeof long_key - 1] = '\0';
    assert_int_equal(ew_receiver_post(r, "{}", "k\r\nX-Evil: 1", err, sizeof err), EW_SEND_PERMANENT);
    assert_contains(err, "idempotency key");
    assert_int_equal(ew_receiver_post(r, "{}", long_key, err, sizeof err), EW_SEND_PERMANENT);
    assert_int_equal(s->requests, 0);
    long_key[EW_IDEMPOTENCY_KEY_MAX] = '\0';
    assert_int_equal(ew_receiver_post(r, "{}", long_key, err, sizeof err), EW_SEND_OK);
    assert_string_equal(s->key, long_key);
    ew_receiver_free(r);
    server_stop(s);
}

/* ---- stdout ------------------------------------------------------------------------ */

/* Posts with file descriptor 1 pointed at fd for the duration. */
static ew_send_result post_to_fd(ew_receiver *r, const char *body, int fd, char *err, size_t errcap)
{
    fflush(stdout);
    int saved = dup(STDOUT_FILENO);
    assert_true(saved >= 0);
    assert_true(dup2(fd, STDOUT_FILENO) >= 0);
    ew_send_result result = ew_receiver_post(r, body, "ignored", err, errcap);
    fflush(stdout);
    dup2(saved, STDOUT_FILENO);
    close(saved);
    return result;
}

static void test_stdout_post_writes_and_flushes(void **state)
{
    (void)state;
    ew_receiver *r = make_receiver(EW_RECEIVER_STDOUT, NULL, false, NULL);
    FILE *capture = tmpfile();
    assert_non_null(capture);
    char err[256], got[256] = "";
    assert_int_equal(post_to_fd(r, "line one\nline two\n", fileno(capture), err, sizeof err), EW_SEND_OK);
    rewind(capture);
    assert_int_equal(fread(got, 1, sizeof got - 1, capture), 18);
    assert_string_equal(got, "line one\nline two\n");
    fclose(capture);
    ew_receiver_free(r);
}

/* A full disk (/dev/full) is a RETRY, and the failed bytes are not left
 * in the buffer to be written twice by the retry. */
static void test_stdout_post_failure_retries(void **state)
{
    (void)state;
    ew_receiver *r = make_receiver(EW_RECEIVER_STDOUT, NULL, false, NULL);
    int full = open("/dev/full", O_WRONLY);
    assert_true(full >= 0);
    char err[256];
    assert_int_equal(post_to_fd(r, "lost line\n", full, err, sizeof err), EW_SEND_RETRY);
    assert_contains(err, "No space left on device");
    close(full);
    FILE *capture = tmpfile();
    char got[256] = "";
    assert_int_equal(post_to_fd(r, "retried line\n", fileno(capture), err, sizeof err), EW_SEND_OK);
    rewind(capture);
    assert_true(fread(got, 1, sizeof got - 1, capture) > 0);
    assert_string_equal(got, "retried line\n");
    fclose(capture);
    ew_receiver_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_slack_single_alert),
        cmocka_unit_test(test_slack_channel_when_configured),
        cmocka_unit_test(test_slack_resolved_suppressed_and_repeat),
        cmocka_unit_test(test_slack_cost_alert),
        cmocka_unit_test(test_slack_group_of_alerts),
        cmocka_unit_test(test_slack_escapes_values),
        cmocka_unit_test(test_slack_truncation_keeps_limits),
        cmocka_unit_test(test_slack_overlong_link_is_left_out),
        cmocka_unit_test(test_slack_block_limit),
        cmocka_unit_test(test_webhook_unbatched_is_the_event),
        cmocka_unit_test(test_webhook_batched_keeps_order),
        cmocka_unit_test(test_stdout_body_is_lines),
        cmocka_unit_test(test_render_rejects_empty_notification),
        cmocka_unit_test(test_config_defaults),
        cmocka_unit_test(test_config_batch_url_and_stdout),
        cmocka_unit_test(test_link_encodes_values),
        cmocka_unit_test(test_link_numbers_and_booleans),
        cmocka_unit_test(test_link_unknown_null_and_literals),
        cmocka_unit_test(test_link_small_cap),
        cmocka_unit_test(test_post_200_sends_exact_request),
        cmocka_unit_test(test_post_without_key_sends_no_key_header),
        cmocka_unit_test(test_post_500_retries),
        cmocka_unit_test(test_post_429_retries),
        cmocka_unit_test(test_post_429_retry_after),
        cmocka_unit_test(test_post_404_is_permanent),
        cmocka_unit_test(test_post_slack_error_body),
        cmocka_unit_test(test_post_status_classes),
        cmocka_unit_test(test_post_reuses_connection),
        cmocka_unit_test(test_post_timeout_retries_in_time),
        cmocka_unit_test(test_post_connection_refused_retries),
        cmocka_unit_test(test_post_rejects_bad_key),
        cmocka_unit_test(test_stdout_post_writes_and_flushes),
        cmocka_unit_test(test_stdout_post_failure_retries),
    };
    /* What main does in edgewatch-notify, once, before any receiver. */
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return failed;
}
