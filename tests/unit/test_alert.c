/* test_alert.c -- unit tests for the alert event JSON of the contract
 * (processor/alert.c; architecture.md §3 "Alert event"). The output is
 * parsed back with jansson and every contract field is checked.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>

#include <cmocka.h>
#include <jansson.h>

#include "edgewatch/alert.h"

/* 2026-11-01T12:40:00Z, one minute later, and ten seconds after that. */
#define WS 1793536800000LL
#define WE 1793536860000LL
#define EMITTED 1793536870000LL

static const char *const contract_fields[] = {
    "alert_id", "event_id", "status", "severity", "rule", "entity_type", "entity_id", "project",
    "owner", "route", "window_start", "window_end", "observed", "expected", "threshold", "z_short",
    "z_long", "top_contributors", "suppressed_by", "related_alerts", "report_version", "summary", "emitted_at",
    "processor", "replay",
};
#define N_CONTRACT (sizeof contract_fields / sizeof contract_fields[0])

static ew_alert firing_alert(void)
{
    return (ew_alert){
        .alert_id = "ew-1a2b3c4d5e6f7a8b",
        .kind = EW_EVENT_FIRING,
        .severity = EW_SEV_CRITICAL,
        .rule = "request_spike",
        .entity_type = "distribution",
        .entity_id = "E2QWRUHAPOMQZL",
        .project = "checkout-web",
        .owner = "team-checkout",
        .route = "slack:#checkout-oncall",
        .window_start_ms = WS,
        .window_end_ms = WE,
        .observed = 2410,
        .expected = 301.5,
        .threshold = 370.25,
        .z_short = 38.25,
        .z_long = NAN,
        .emitted_at_ms = EMITTED,
        .replay = false,
    };
}

static json_t *parse(const ew_alert *a)
{
    char *text = ew_alert_json(a);
    assert_non_null(text);
    json_error_t jerr;
    json_t *root = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        fail_msg("alert JSON does not parse (%s): %s", jerr.text, text);
    free(text);
    assert_true(json_is_object(root));
    return root;
}

static const char *str(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_string(v))
        fail_msg("\"%s\" is not a string", key);
    return json_string_value(v);
}

static double num(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_number(v))
        fail_msg("\"%s\" is not a number", key);
    return json_number_value(v);
}

static void test_firing_has_every_contract_field(void **state)
{
    (void)state;
    ew_alert a = firing_alert();
    json_t *o = parse(&a);
    for (size_t i = 0; i < N_CONTRACT; i++)
        if (!json_object_get(o, contract_fields[i]))
            fail_msg("missing contract field \"%s\"", contract_fields[i]);
    assert_int_equal(json_object_size(o), N_CONTRACT);

    assert_string_equal(str(o, "alert_id"), "ew-1a2b3c4d5e6f7a8b");
    char event_id[64];
    ew_event_id(&a, event_id, sizeof event_id);
    assert_string_equal(str(o, "event_id"), event_id);
    assert_string_equal(str(o, "status"), "firing");
    assert_string_equal(str(o, "severity"), "critical");
    assert_string_equal(str(o, "rule"), "request_spike");
    assert_string_equal(str(o, "entity_type"), "distribution");
    assert_string_equal(str(o, "entity_id"), "E2QWRUHAPOMQZL");
    assert_string_equal(str(o, "project"), "checkout-web");
    assert_string_equal(str(o, "owner"), "team-checkout");
    assert_string_equal(str(o, "route"), "slack:#checkout-oncall");
    /* window bounds are integer epoch milliseconds */
    assert_true(json_is_integer(json_object_get(o, "window_start")));
    assert_true(json_is_integer(json_object_get(o, "window_end")));
    assert_int_equal(json_integer_value(json_object_get(o, "window_start")), WS);
    assert_int_equal(json_integer_value(json_object_get(o, "window_end")), WE);
    assert_true(num(o, "observed") == 2410.0);
    assert_true(num(o, "expected") == 301.5);
    assert_true(num(o, "threshold") == 370.25);
    assert_true(num(o, "z_short") == 38.25);
    assert_true(json_is_null(json_object_get(o, "z_long")));
    assert_true(json_is_array(json_object_get(o, "top_contributors")));
    assert_int_equal(json_array_size(json_object_get(o, "top_contributors")), 0);
    assert_true(json_is_null(json_object_get(o, "suppressed_by")));
    assert_true(json_is_array(json_object_get(o, "related_alerts")));
    assert_int_equal(json_array_size(json_object_get(o, "related_alerts")), 0);
    const char *summary = str(o, "summary");
    assert_non_null(strstr(summary, "E2QWRUHAPOMQZL"));
    assert_non_null(strstr(summary, "checkout-web"));
    assert_non_null(strstr(summary, "2410"));
    assert_non_null(strstr(summary, "301.5"));
    assert_string_equal(str(o, "emitted_at"), "2026-11-01T12:41:10Z");
    assert_string_equal(str(o, "processor"), "edgewatch/" EW_VERSION);
    assert_true(json_is_false(json_object_get(o, "replay")));
    json_decref(o);
}

static void test_resolved_and_optional_fields(void **state)
{
    (void)state;
    ew_alert a = firing_alert();
    a.kind = EW_EVENT_RESOLVED;
    a.severity = EW_SEV_WARNING;
    a.project = NULL;
    a.owner = "";
    a.route = NULL;
    a.observed = 290;
    a.z_short = NAN;
    a.z_long = 2.5;
    a.replay = true;
    json_t *o = parse(&a);
    assert_int_equal(json_object_size(o), N_CONTRACT);
    assert_string_equal(str(o, "status"), "resolved");
    assert_string_equal(str(o, "severity"), "warning");
    /* Missing metadata is null, never omitted. */
    assert_true(json_is_null(json_object_get(o, "project")));
    assert_true(json_is_null(json_object_get(o, "owner")));
    assert_true(json_is_null(json_object_get(o, "route")));
    assert_true(json_is_null(json_object_get(o, "z_short")));
    assert_true(num(o, "z_long") == 2.5);
    assert_true(num(o, "observed") == 290.0);
    assert_true(json_is_true(json_object_get(o, "replay")));
    const char *summary = str(o, "summary");
    assert_non_null(strstr(summary, "resolved"));
    assert_non_null(strstr(summary, "unmapped"));
    assert_non_null(strstr(summary, "E2QWRUHAPOMQZL"));
    json_decref(o);
}

static void test_event_ids(void **state)
{
    (void)state;
    ew_alert a = firing_alert();
    char f1[64], f2[64], r1[64], other[64];
    ew_event_id(&a, f1, sizeof f1);
    ew_event_id(&a, f2, sizeof f2);
    assert_string_equal(f1, f2); /* stable */
    assert_string_equal(f1, "ew-1a2b3c4d5e6f7a8b-f-1793536800000");
    /* Stable across everything that is not identity (time, replay, values). */
    a.emitted_at_ms += 123456;
    a.observed = 1;
    a.replay = true;
    ew_event_id(&a, f2, sizeof f2);
    assert_string_equal(f1, f2);

    /* Firing and resolved of the same alert differ, even for one window. */
    a.kind = EW_EVENT_RESOLVED;
    ew_event_id(&a, r1, sizeof r1);
    assert_string_not_equal(f1, r1);
    assert_string_equal(r1, "ew-1a2b3c4d5e6f7a8b-r-1793536800000");
    a.window_start_ms = WS + 180000;
    ew_event_id(&a, other, sizeof other);
    assert_string_not_equal(other, r1);

    /* Different alert, different event. */
    a = firing_alert();
    a.alert_id = "ew-0000000000000001";
    ew_event_id(&a, other, sizeof other);
    assert_string_not_equal(other, f1);

    /* The JSON carries the same id. */
    a = firing_alert();
    a.kind = EW_EVENT_RESOLVED;
    json_t *o = parse(&a);
    assert_string_equal(str(o, "event_id"), r1);
    assert_string_equal(str(o, "alert_id"), "ew-1a2b3c4d5e6f7a8b");
    json_decref(o);
}

static void test_json_is_deterministic(void **state)
{
    (void)state;
    ew_alert a = firing_alert();
    char *x = ew_alert_json(&a);
    char *y = ew_alert_json(&a);
    assert_non_null(x);
    assert_non_null(y);
    assert_string_equal(x, y);
    assert_null(strchr(x, '\n')); /* one line per Kafka message */
    free(x);
    free(y);
}

static void test_strings_are_escaped(void **state)
{
    (void)state;
    ew_alert a = firing_alert();
    a.project = "web \"beta\"\tteam";
    a.route = "webhook:https://hooks.example.com/a?b=c&d=\\e";
    json_t *o = parse(&a);
    assert_string_equal(str(o, "project"), "web \"beta\"\tteam");
    assert_string_equal(str(o, "route"), "webhook:https://hooks.example.com/a?b=c&d=\\e");
    json_decref(o);
}


static void test_contributors_and_suppression(void **state)
{
    (void)state;
    ew_contributor top[2] = {{"client_ip", "203.0.113.7", 0.625, NAN}, {"uri", "/login", 0.5, NAN}};
    ew_alert a = firing_alert();
    a.top = top;
    a.n_top = 2;
    a.suppressed_by = "evt-0123456789ab";
    json_t *o = parse(&a);
    json_t *list = json_object_get(o, "top_contributors");
    assert_int_equal(json_array_size(list), 2);
    json_t *first = json_array_get(list, 0);
    assert_string_equal(str(first, "dimension"), "client_ip");
    assert_string_equal(str(first, "value"), "203.0.113.7");
    assert_true(json_real_value(json_object_get(first, "share")) == 0.625);
    /* Traffic shares have no dollar impact, traffic alerts no billing
     * refresh: null, present like every other key. */
    assert_true(json_is_null(json_object_get(first, "impact")));
    assert_int_equal(json_object_size(first), 4);
    assert_true(json_is_null(json_object_get(o, "report_version")));
    assert_string_equal(str(json_array_get(list, 1), "value"), "/login");
    assert_string_equal(str(o, "suppressed_by"), "evt-0123456789ab");
    json_decref(o);
}

/* Each rule's summary states its number in its unit. */
static void test_summary_per_rule(void **state)
{
    (void)state;
    static const struct {
        const char *rule;
        double observed, expected;
        const char *want;
    } cases[] = {
        {"error_403_rate", 0.38, 0.004, "403 rate 38.0% vs 0.4% expected"},
        {"cache_hit_drop", 0.15, 0.85, "cache hit ratio 15.0% vs 85.0% expected"},
        {"origin_latency", 2400, 310.4, "p95 origin latency 2400 ms vs 310 ms expected"},
        {"request_drop", 0, 412.6, "requests per window 0 vs 412.6 expected"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ew_alert a = firing_alert();
        a.rule = cases[i].rule;
        a.observed = cases[i].observed;
        a.expected = cases[i].expected;
        char text[512];
        ew_alert_summary(&a, text, sizeof text);
        if (!strstr(text, cases[i].want) || !strstr(text, "E2QWRUHAPOMQZL (checkout-web)"))
            fail_msg("%s: \"%s\" lacks \"%s\"", cases[i].rule, text, cases[i].want);
    }
}

/* An update of a firing incident is a firing event of its own window. */
static void test_update_is_a_firing_event(void **state)
{
    (void)state;
    ew_alert a = firing_alert();
    a.kind = EW_EVENT_UPDATE;
    json_t *o = parse(&a);
    assert_string_equal(str(o, "status"), "firing");
    char want[64];
    snprintf(want, sizeof want, "%s-f-%lld", a.alert_id, (long long)WS);
    assert_string_equal(str(o, "event_id"), want);
    json_decref(o);
}

/* A cost alert: impacts, report version, related alerts, info severity. */
static void test_cost_alert_fields(void **state)
{
    (void)state;
    ew_contributor top[2] = {{"usage_type", "USE1-Kafka.m5.2xlarge", 1.25, 2400.5},
                             {"service", "AmazonMSK", 1.0, 1920}};
    char related[2][EW_ALERT_ID_LEN] = {"ew-00000000000000aa", "ew-00000000000000bb"};
    ew_alert a = firing_alert();
    a.rule = "cost_spike";
    a.entity_type = "project";
    a.entity_id = "streaming";
    a.observed = 6745;
    a.expected = 4820;
    a.top = top;
    a.n_top = 2;
    a.related = related;
    a.n_related = 2;
    a.report_version = "2026-10-17T08";
    json_t *o = parse(&a);
    json_t *first = json_array_get(json_object_get(o, "top_contributors"), 0);
    assert_true(json_real_value(json_object_get(first, "impact")) == 2400.5);
    assert_string_equal(str(o, "report_version"), "2026-10-17T08");
    json_t *rel = json_object_get(o, "related_alerts");
    assert_int_equal(json_array_size(rel), 2);
    assert_string_equal(json_string_value(json_array_get(rel, 1)), "ew-00000000000000bb");
    assert_string_equal(str(o, "summary"),
                        "streaming spend up: $6745/day vs $4820/day expected (+$1925/day, +40%), top usage_type "
                        "USE1-Kafka.m5.2xlarge");
    json_decref(o);
    a.rule = "cost_drop";
    a.severity = EW_SEV_INFO;
    a.observed = 3000;
    o = parse(&a);
    assert_string_equal(str(o, "severity"), "info");
    assert_non_null(strstr(str(o, "summary"), "spend dropped: $3000/day vs $4820/day expected (-$1820/day, -38%)"));
    json_decref(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_firing_has_every_contract_field),
        cmocka_unit_test(test_resolved_and_optional_fields),
        cmocka_unit_test(test_event_ids),
        cmocka_unit_test(test_json_is_deterministic),
        cmocka_unit_test(test_strings_are_escaped),
        cmocka_unit_test(test_contributors_and_suppression),
        cmocka_unit_test(test_summary_per_rule),
        cmocka_unit_test(test_cost_alert_fields),
        cmocka_unit_test(test_update_is_a_firing_event),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
