/* test_alert_examples.c -- the example alert events of docs/alerts.md.
 *
 * One realistic event per rule, plus a resolved and a suppressed one, is
 * built here as an ew_alert and encoded with ew_alert_json. Three checks
 * keep the examples honest:
 *   - each encoding equals tests/fixtures/alerts/<name>.json byte for byte,
 *     so the fixtures cannot drift from the encoder;
 *   - each fixture survives JSON -> Avro (bare, and Confluent-framed with
 *     schema id 42) -> JSON unchanged, so schemas/alert_event.avsc carries
 *     every field the encoder writes;
 *   - each fixture appears in docs/alerts.md (the JSON block after
 *     "<!-- fixture: NAME -->") as the same JSON value.
 * After a deliberate change to the encoder, rewrite the fixtures with
 *   EW_WRITE_FIXTURES=1 build/tests/test_alert_examples
 * and paste the new ones into docs/alerts.md (python3 -m json.tool FILE).
 * Paths are relative to the repository root, where `make unit` runs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>

#include <cmocka.h>
#include <jansson.h>

#include "edgewatch/alert.h"
#include "edgewatch/alert_avro.h"

#define FIXTURE_DIR "tests/fixtures/alerts"
#define DOC "docs/alerts.md"

/* 2026-11-01T12:40:00Z: the minute every traffic example is about. */
#define WS 1793536800000LL
#define MINUTE 60000LL
#define HOUR 3600000LL

/* ---- the examples ---- */

static const ew_contributor spike_top[] = {
    {"client_ip", "203.0.113.7", 0.3112, NAN},      {"client_ip", "198.51.100.23", 0.1245, NAN},
    {"asn", "64496", 0.4398, NAN},                  {"country", "BR", 0.5207, NAN},
    {"uri", "/api/cart", 0.6141, NAN},              {"edge_location", "GRU3-C1", 0.4822, NAN},
};
static const ew_contributor drop_top[] = {
    {"country", "US", 0.75, NAN},
    {"uri", "/healthz", 0.6667, NAN},
    {"edge_location", "IAD89-P2", 0.5833, NAN},
};
static const ew_contributor e403_top[] = {
    {"client_ip", "192.0.2.44", 0.2875, NAN},
    {"asn", "64511", 0.3318, NAN},
    {"uri", "/login", 0.8046, NAN},
};
static const ew_contributor e5xx_top[] = {
    {"uri", "/api/checkout", 0.7125, NAN},
    {"edge_location", "FRA56-P4", 0.3391, NAN},
};
static const ew_contributor cache_top[] = {
    {"uri", "/assets/app.js", 0.4107, NAN},
    {"uri", "/assets/vendor.css", 0.2218, NAN},
    {"edge_location", "LHR61-C1", 0.3552, NAN},
};
static const ew_contributor latency_top[] = {
    {"uri", "/api/search", 0.8833, NAN},
    {"edge_location", "NRT57-P3", 0.2917, NAN},
};
static const ew_contributor promo_top[] = {
    {"country", "US", 0.4716, NAN},
    {"uri", "/promo/autumn-sale", 0.5829, NAN},
};
static const ew_contributor cost_spike_top[] = {
    {"service", "AmazonMSK", 0.9704, 2490.25},
    {"usage_type", "USE1-Kafka.m5.2xlarge", 0.9393, 2410.5},
    {"resource_id", "arn:aws:kafka:us-east-1:123456789012:cluster/streaming-events/2c6eda67-4ea1", 0.9393,
     2410.5},
};
static const ew_contributor cost_drop_top[] = {
    {"service", "AmazonEC2", 0.9873, -1908.4},
    {"usage_type", "USE1-BoxUsage:p3.8xlarge", 0.9712, -1877.28},
};
/* A request spike of one of the project's distributions, open meanwhile. */
static const char cost_related[][EW_ALERT_ID_LEN] = {"ew-8a3e61f09c4d2b75"};

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

static ew_alert traffic(const char *id, const char *rule, ew_severity sev)
{
    return (ew_alert){
        .alert_id = id,
        .kind = EW_EVENT_FIRING,
        .severity = sev,
        .rule = rule,
        .entity_type = "distribution",
        .window_start_ms = WS,
        .window_end_ms = WS + MINUTE,
        .z_long = NAN,
        .emitted_at_ms = WS + MINUTE + 4210,
    };
}

static void place(ew_alert *a, const char *dist, const char *project, const char *owner, const char *route)
{
    a->entity_id = dist;
    a->project = project;
    a->owner = owner;
    a->route = route;
}

static void values(ew_alert *a, double observed, double expected, double threshold, double z_short, double z_long)
{
    a->observed = observed;
    a->expected = expected;
    a->threshold = threshold;
    a->z_short = z_short;
    a->z_long = z_long;
}

static ew_alert request_spike(void)
{
    ew_alert a = traffic("ew-7f3a9c2e51d08b46", "request_spike", EW_SEV_CRITICAL);
    place(&a, "E2QWRUHAPOMQZL", "checkout-web", "team-checkout", "slack:#checkout-oncall");
    values(&a, 24107, 3015.5, 4872.25, 45.38, 21.62);
    a.top = spike_top;
    a.n_top = N_OF(spike_top);
    return a;
}

static ew_alert request_drop(void)
{
    ew_alert a = traffic("ew-1c84e0b7a39f5d62", "request_drop", EW_SEV_CRITICAL);
    place(&a, "E1K7ZP3MNB8VXA", "search-api", "team-search", "webhook:https://hooks.example.com/search-oncall");
    values(&a, 12, 1480.3, 740.15, -14.21, -9.83);
    a.top = drop_top;
    a.n_top = N_OF(drop_top);
    return a;
}

static ew_alert error_403_rate(void)
{
    ew_alert a = traffic("ew-b2d95e07c6a4183f", "error_403_rate", EW_SEV_WARNING);
    place(&a, "E3M9TQ4HX2LRPC", "accounts", "team-identity", "slack:#identity-alerts");
    values(&a, 0.3812, 0.0041, 0.0541, 6.87, NAN);
    a.top = e403_top;
    a.n_top = N_OF(e403_top);
    return a;
}

static ew_alert error_5xx_rate(void)
{
    ew_alert a = traffic("ew-4e0f2a6d8b1c9357", "error_5xx_rate", EW_SEV_CRITICAL);
    place(&a, "E2QWRUHAPOMQZL", "checkout-web", "team-checkout", "slack:#checkout-oncall");
    values(&a, 0.2137, 0.0018, 0.0318, 11.94, 8.41);
    a.top = e5xx_top;
    a.n_top = N_OF(e5xx_top);
    return a;
}

static ew_alert cache_hit_drop(void)
{
    ew_alert a = traffic("ew-96c1b3e7f0a25d48", "cache_hit_drop", EW_SEV_WARNING);
    place(&a, "E5UPP7672XOLWT", "video-stream", "team-video", "slack:#video-stream-oncall");
    values(&a, 0.1534, 0.8521, 0.7021, -5.12, -4.37);
    a.top = cache_top;
    a.n_top = N_OF(cache_top);
    return a;
}

static ew_alert origin_latency(void)
{
    ew_alert a = traffic("ew-0d57a9f3c2e6b184", "origin_latency", EW_SEV_WARNING);
    place(&a, "E1K7ZP3MNB8VXA", "search-api", "team-search", "webhook:https://hooks.example.com/search-oncall");
    values(&a, 2400, 310.4, 465.6, 9.08, 6.55);
    a.top = latency_top;
    a.n_top = N_OF(latency_top);
    return a;
}

/* A cost alert's window is the run-rate's last 3 hours before the refresh
 * (docs/billing.md): 13:00-16:00 of 16 October, refresh 2026-10-16T16. */
static ew_alert cost_spike(void)
{
    ew_alert a = {
        .alert_id = "ew-5d0c3f7ae1b24968",
        .kind = EW_EVENT_FIRING,
        .severity = EW_SEV_CRITICAL,
        .rule = "cost_spike",
        .entity_type = "project",
        .window_start_ms = 1792155600000LL,
        .window_end_ms = 1792155600000LL + 3 * HOUR,
        .top = cost_spike_top,
        .n_top = N_OF(cost_spike_top),
        .related = cost_related,
        .n_related = N_OF(cost_related),
        .report_version = "2026-10-16T16",
        .emitted_at_ms = 1792169112000LL,
    };
    place(&a, "streaming", "streaming", "team-data-platform", "slack:#data-platform-alerts");
    values(&a, 6745.12, 4178.9, 5178.9, 12.41, NAN);
    return a;
}

/* Drops are judged on completed UTC days only: 15 October. */
static ew_alert cost_drop(void)
{
    ew_alert a = {
        .alert_id = "ew-e7b6048c1f3a95d2",
        .kind = EW_EVENT_FIRING,
        .severity = EW_SEV_INFO,
        .rule = "cost_drop",
        .entity_type = "project",
        .window_start_ms = 1792022400000LL,
        .window_end_ms = 1792022400000LL + 24 * HOUR,
        .top = cost_drop_top,
        .n_top = N_OF(cost_drop_top),
        .report_version = "2026-10-16T08",
        .emitted_at_ms = 1792139905000LL,
    };
    place(&a, "ml-training", "ml-training", "team-ml", "slack:#ml-infra");
    values(&a, 312.55, 2245.8, 1245.8, -8.73, NAN);
    return a;
}

/* error_5xx_rate's incident above, resolved 9 minutes later: same alert_id,
 * no contributors (resolved events carry none). */
static ew_alert resolved(void)
{
    ew_alert a = error_5xx_rate();
    a.kind = EW_EVENT_RESOLVED;
    a.window_start_ms = WS + 9 * MINUTE;
    a.window_end_ms = WS + 10 * MINUTE;
    a.emitted_at_ms = WS + 10 * MINUTE + 3870;
    a.top = NULL;
    a.n_top = 0;
    values(&a, 0.0021, 0.0019, 0.0319, 0.08, 0.05);
    return a;
}

/* A promotion registered as an expected event: the spike is published,
 * marked, so history stays complete while the notifier stays quiet. */
static ew_alert suppressed(void)
{
    ew_alert a = traffic("ew-3b9f7d1e0a6c5842", "request_spike", EW_SEV_WARNING);
    place(&a, "E4STRFRNT8Q2ZD", "storefront", "team-storefront", "slack:#storefront-oncall");
    values(&a, 9120, 2040.7, 3860.2, 15.56, 11.02);
    a.top = promo_top;
    a.n_top = N_OF(promo_top);
    a.suppressed_by = "evt-3f9a1c2b7d4e";
    return a;
}

typedef struct {
    const char *name;
    ew_alert (*build)(void);
} example;

static const example examples[] = {
    {"request_spike", request_spike}, {"request_drop", request_drop},     {"error_403_rate", error_403_rate},
    {"error_5xx_rate", error_5xx_rate}, {"cache_hit_drop", cache_hit_drop}, {"origin_latency", origin_latency},
    {"cost_spike", cost_spike},       {"cost_drop", cost_drop},           {"resolved", resolved},
    {"suppressed", suppressed},
};
#define N_EXAMPLES N_OF(examples)

/* ---- files ---- */

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    if (len)
        *len = (size_t)n;
    return buf;
}

static void fixture_path(const example *e, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s.json", FIXTURE_DIR, e->name);
}

static json_t *load_fixture(const example *e)
{
    char path[256];
    fixture_path(e, path, sizeof path);
    json_error_t jerr;
    json_t *j = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (!j)
        fail_msg("%s: %s", path, jerr.text);
    return j;
}

/* ---- tests ---- */

static void write_fixture(const char *path, const char *json)
{
    FILE *f = fopen(path, "w");
    if (!f)
        fail_msg("cannot write %s", path);
    fprintf(f, "%s\n", json);
    fclose(f);
    print_message("wrote %s\n", path);
}

/* A fixture is one line: the encoder's text and a newline. */
static void test_fixtures_equal_encoder(void **state)
{
    (void)state;
    bool rewrite = getenv("EW_WRITE_FIXTURES") && strcmp(getenv("EW_WRITE_FIXTURES"), "1") == 0;
    for (size_t i = 0; i < N_EXAMPLES; i++) {
        ew_alert a = examples[i].build();
        char *json = ew_alert_json(&a), path[256];
        assert_non_null(json);
        fixture_path(&examples[i], path, sizeof path);
        if (rewrite)
            write_fixture(path, json);
        char *text = read_file(path, NULL);
        if (!text)
            fail_msg("cannot read %s (run from the repository root; EW_WRITE_FIXTURES=1 writes it)", path);
        size_t n = strlen(json);
        if (strncmp(text, json, n) != 0 || strcmp(text + n, "\n") != 0)
            fail_msg("%s differs from ew_alert_json:\n  file:    %s  encoder: %s", path, text, json);
        free(text);
        free(json);
    }
}

static void round_trip(ew_alert_codec *codec, const char *name, const char *text, const json_t *want, int32_t id)
{
    unsigned char *avro = NULL;
    char err[256] = "";
    long n = ew_alert_to_avro(codec, text, id, &avro, err, sizeof err);
    if (n < 0)
        fail_msg("%s: to Avro (schema id %d): %s", name, id, err);
    if (id >= 0) {
        static const unsigned char frame42[5] = {0, 0, 0, 0, 42};
        assert_memory_equal(avro, frame42, 5);
    }
    json_t *back = ew_alert_from_avro(codec, avro, (size_t)n, err, sizeof err);
    if (!back)
        fail_msg("%s: from Avro (schema id %d): %s", name, id, err);
    if (!json_equal(back, want)) {
        char *got = json_dumps(back, JSON_COMPACT);
        fail_msg("%s: JSON -> Avro -> JSON changed the event:\n  %s\n  %s", name, text, got);
    }
    /* Fields in schema order = JSON order: the same text again. */
    char *again = json_dumps(back, JSON_COMPACT | JSON_REAL_PRECISION(10));
    assert_string_equal(again, text);
    free(again);
    json_decref(back);
    free(avro);
}

static void test_fixtures_round_trip_avro(void **state)
{
    (void)state;
    char err[256];
    ew_alert_codec *codec = ew_alert_codec_new(err, sizeof err);
    if (!codec)
        fail_msg("codec: %s", err);
    for (size_t i = 0; i < N_EXAMPLES; i++) {
        char path[256];
        fixture_path(&examples[i], path, sizeof path);
        char *text = read_file(path, NULL);
        assert_non_null(text);
        text[strcspn(text, "\n")] = '\0';
        json_t *want = load_fixture(&examples[i]);
        round_trip(codec, examples[i].name, text, want, -1);
        round_trip(codec, examples[i].name, text, want, 42);
        json_decref(want);
        free(text);
    }
    ew_alert_codec_free(codec);
}

/* The JSON block that follows "<!-- fixture: NAME -->" in the doc. */
static json_t *doc_example(const char *doc, const char *name)
{
    char marker[128];
    snprintf(marker, sizeof marker, "<!-- fixture: %s -->", name);
    const char *at = strstr(doc, marker);
    if (!at) {
        fail_msg("%s lacks the example %s", DOC, marker);
        return NULL;
    }
    at += strlen(marker);
    if (strstr(at, marker))
        fail_msg("%s has %s twice", DOC, marker);
    const char *open = strstr(at, "```json\n"), *close = open ? strstr(open + 8, "\n```") : NULL;
    if (!close)
        fail_msg("%s: no ```json block after %s", DOC, marker);
    json_error_t jerr;
    json_t *j = json_loadb(open + 8, (size_t)(close - open - 8), JSON_REJECT_DUPLICATES, &jerr);
    if (!j)
        fail_msg("%s, example %s, line %d: %s", DOC, name, jerr.line, jerr.text);
    return j;
}

static void test_doc_examples_equal_fixtures(void **state)
{
    (void)state;
    char *doc = read_file(DOC, NULL);
    if (!doc)
        fail_msg("%s is missing", DOC);
    for (size_t i = 0; i < N_EXAMPLES; i++) {
        json_t *in_doc = doc_example(doc, examples[i].name), *want = load_fixture(&examples[i]);
        if (!json_equal(in_doc, want))
            fail_msg("%s: the %s example differs from %s/%s.json", DOC, examples[i].name, FIXTURE_DIR,
                     examples[i].name);
        json_decref(in_doc);
        json_decref(want);
    }
    free(doc);
}

/* What the examples are meant to show, so an edit cannot quietly lose it. */
static void test_examples_cover_the_contract(void **state)
{
    (void)state;
    static const char *const rules[] = {"request_spike", "request_drop", "error_403_rate", "error_5xx_rate",
                                        "cache_hit_drop", "origin_latency", "cost_spike", "cost_drop"};
    for (size_t r = 0; r < N_OF(rules); r++) {
        ew_alert a = examples[r].build();
        assert_string_equal(a.rule, rules[r]);
        assert_int_equal(a.kind, EW_EVENT_FIRING);
        assert_true(a.n_top > 0);
        bool cost = strncmp(a.rule, "cost_", 5) == 0;
        assert_string_equal(a.entity_type, cost ? "project" : "distribution");
        assert_true(cost == (a.report_version != NULL));
        assert_true(cost == !isnan(a.top[0].impact));
    }
    assert_int_equal(cost_drop().severity, EW_SEV_INFO);
    ew_alert r = resolved(), f = error_5xx_rate(), s = suppressed();
    assert_int_equal(r.kind, EW_EVENT_RESOLVED);
    assert_string_equal(r.alert_id, f.alert_id);
    assert_non_null(s.suppressed_by);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixtures_equal_encoder),
        cmocka_unit_test(test_fixtures_round_trip_avro),
        cmocka_unit_test(test_doc_examples_equal_fixtures),
        cmocka_unit_test(test_examples_cover_the_contract),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
