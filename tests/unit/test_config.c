/* test_config.c -- unit tests for configuration defaults, the JSON file,
 * EDGEWATCH_* environment overrides, --set, validation (processor/config.c)
 * and the duration and time parsers it relies on (processor/common.c).
 *
 * Every test starts with the EDGEWATCH_* variables unset so the results do
 * not depend on the environment `make unit` runs in.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "edgewatch/common.h"
#include "edgewatch/config.h"

static const char *const env_vars[] = {
    "EDGEWATCH_BROKERS", "EDGEWATCH_GROUP_ID", "EDGEWATCH_VALKEY_PASSWORD", "EDGEWATCH_VALKEY_ADDR",
};

static int clear_env(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof env_vars / sizeof env_vars[0]; i++)
        unsetenv(env_vars[i]);
    return 0;
}

/* Writes text to a fresh temporary file; the caller unlinks path. */
static void write_temp(const char *text, char path[64])
{
    snprintf(path, 64, "/tmp/ew-test-config-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    size_t n = strlen(text);
    assert_int_equal(write(fd, text, n), (ssize_t)n);
    assert_int_equal(close(fd), 0);
}

/* Loads text as a config file; returns the number of problems. */
static size_t load_text(const char *text, ew_config *cfg, ew_config_errors *errs)
{
    char path[64];
    write_temp(text, path);
    memset(errs, 0, sizeof *errs);
    size_t n = ew_config_load(cfg, path, errs);
    unlink(path);
    return n;
}

static bool any_error_contains(const ew_config_errors *errs, const char *needle)
{
    for (size_t i = 0; i < errs->n; i++)
        if (strstr(errs->lines[i], needle))
            return true;
    return false;
}

static void print_errors(const ew_config_errors *errs)
{
    for (size_t i = 0; i < errs->n; i++)
        print_message("config error: %s\n", errs->lines[i]);
}

/* ---- defaults ---- */

static void test_defaults(void **state)
{
    (void)state;
    ew_config cfg;
    ew_config_defaults(&cfg);
    assert_int_equal(cfg.window_ms, 60000);
    assert_int_equal(cfg.lateness_ms, 60000);
    assert_int_equal(cfg.idle_timeout_ms, 30000);
    assert_int_equal(cfg.flush_interval_ms, 1000);
    assert_int_equal(cfg.flush_max_pairs, 20000);
    assert_int_equal(cfg.retention_ms, 14LL * 86400 * 1000);
    assert_string_equal(cfg.prefix, "ew:");
    assert_string_equal(cfg.valkey_host, "127.0.0.1");
    assert_int_equal(cfg.valkey_port, 6379);
    assert_null(cfg.valkey_password);
    assert_int_equal(cfg.valkey_timeout_ms, 2000);
    assert_int_equal(cfg.n_fields, 43);
    assert_string_equal(cfg.fields[0], "timestamp");
    assert_string_equal(cfg.fields[12], "x-host-header");
    assert_string_equal(cfg.fields[42], "asn");
    assert_int_equal(cfg.max_line_bytes, 16384);
    assert_string_equal(ew_config_kafka_get(&cfg, "group.id"), "edgewatch");
    assert_string_equal(ew_config_kafka_get(&cfg, "bootstrap.servers"), "127.0.0.1:9092");
    assert_string_equal(ew_config_kafka_get(&cfg, "no.such.key"), "");
    assert_string_equal(cfg.topic_cloudfront, "cloudfront-realtime-logs");
    assert_string_equal(cfg.topic_billing, "billing-events");
    assert_string_equal(cfg.topic_alerts, "edgewatch-alerts");
    assert_string_equal(cfg.topic_dlq, "edgewatch-dlq");
    assert_true(cfg.rules[EW_RULE_REQUEST_SPIKE].enabled);
    assert_int_equal(cfg.rules[EW_RULE_REQUEST_SPIKE].short_window_ms, 3LL * 3600 * 1000);
    assert_true(cfg.rules[EW_RULE_REQUEST_SPIKE].z_warning == 4.0);
    assert_true(cfg.rules[EW_RULE_REQUEST_SPIKE].z_critical == 8.0);
    assert_int_equal(cfg.rules[EW_RULE_REQUEST_SPIKE].warmup_windows, 10);
    assert_int_equal(cfg.rules[EW_RULE_REQUEST_SPIKE].min_requests, 0);
    assert_null(cfg.metadata_path);
    assert_string_equal(cfg.notify_group, "edgewatch-notify");
    ew_config_errors errs = {.n = 0};
    assert_int_equal(ew_config_validate(&cfg, &errs), 0);
    ew_config_free(&cfg);
}

static void test_load_null_path_is_defaults(void **state)
{
    (void)state;
    ew_config cfg;
    ew_config_errors errs = {.n = 0};
    assert_int_equal(ew_config_load(&cfg, NULL, &errs), 0);
    assert_int_equal(errs.n, 0);
    assert_int_equal(cfg.window_ms, 60000);
    assert_string_equal(ew_config_kafka_get(&cfg, "group.id"), "edgewatch");
    ew_config_free(&cfg);
}

/* ---- the JSON file ---- */

static void test_load_nested_file(void **state)
{
    (void)state;
    static const char text[] =
        "{\n"
        "  \"kafka\": {\"bootstrap.servers\": \"kafka-1:9092,kafka-2:9092\", \"acks\": \"all\",\n"
        "            \"queue.buffering.max.ms\": 5, \"enable.idempotence\": true},\n"
        "  \"topics\": {\"cloudfront\": \"cf-logs\", \"dlq\": \"cf-dlq\"},\n"
        "  \"valkey\": {\"host\": \"valkey.internal\", \"port\": 6380, \"prefix\": \"edge:\",\n"
        "             \"password\": \"s3cret\", \"timeout\": \"500ms\"},\n"
        "  \"cloudfront\": {\"fields\": [\"timestamp\", \"sc-status\", \"x-host-header\"],\n"
        "                 \"max_line_bytes\": 4096},\n"
        "  \"window\": {\"width\": \"30s\", \"allowed_lateness\": \"2m\", \"idle_timeout\": 10},\n"
        "  \"flush\": {\"interval\": \"250ms\", \"max_pairs\": 500},\n"
        "  \"state\": {\"retention\": \"7d\"},\n"
        "  \"rules\": {\"request_spike\": {\"enabled\": false, \"short_window\": \"8h\",\n"
        "             \"z_warning\": 5, \"z_critical\": 9.5, \"warmup_windows\": 3.0,\n"
        "             \"min_requests\": 20}},\n"
        "  \"metadata\": \"/etc/edgewatch/metadata.json\",\n"
        "  \"notify\": {\"group_id\": \"notify-2\"}\n"
        "}\n";
    ew_config cfg;
    ew_config_errors errs;
    size_t n = load_text(text, &cfg, &errs);
    print_errors(&errs);
    assert_int_equal(n, 0);
    assert_string_equal(ew_config_kafka_get(&cfg, "bootstrap.servers"), "kafka-1:9092,kafka-2:9092");
    assert_string_equal(ew_config_kafka_get(&cfg, "acks"), "all");
    assert_string_equal(ew_config_kafka_get(&cfg, "queue.buffering.max.ms"), "5");
    assert_string_equal(ew_config_kafka_get(&cfg, "enable.idempotence"), "true");
    assert_string_equal(ew_config_kafka_get(&cfg, "group.id"), "edgewatch"); /* default kept */
    assert_string_equal(cfg.topic_cloudfront, "cf-logs");
    assert_string_equal(cfg.topic_dlq, "cf-dlq");
    assert_string_equal(cfg.topic_alerts, "edgewatch-alerts");
    assert_string_equal(cfg.valkey_host, "valkey.internal");
    assert_int_equal(cfg.valkey_port, 6380);
    assert_string_equal(cfg.prefix, "edge:");
    assert_string_equal(cfg.valkey_password, "s3cret");
    assert_int_equal(cfg.valkey_timeout_ms, 500);
    assert_int_equal(cfg.n_fields, 3);
    assert_string_equal(cfg.fields[0], "timestamp");
    assert_string_equal(cfg.fields[1], "sc-status");
    assert_string_equal(cfg.fields[2], "x-host-header");
    assert_int_equal(cfg.max_line_bytes, 4096);
    assert_int_equal(cfg.window_ms, 30000);
    assert_int_equal(cfg.lateness_ms, 120000);
    assert_int_equal(cfg.idle_timeout_ms, 10000); /* bare number = seconds */
    assert_int_equal(cfg.flush_interval_ms, 250);
    assert_int_equal(cfg.flush_max_pairs, 500);
    assert_int_equal(cfg.retention_ms, 7LL * 86400 * 1000);
    assert_false(cfg.rules[EW_RULE_REQUEST_SPIKE].enabled);
    assert_int_equal(cfg.rules[EW_RULE_REQUEST_SPIKE].short_window_ms, 8LL * 3600 * 1000);
    assert_true(cfg.rules[EW_RULE_REQUEST_SPIKE].z_warning == 5.0);
    assert_true(cfg.rules[EW_RULE_REQUEST_SPIKE].z_critical == 9.5);
    assert_int_equal(cfg.rules[EW_RULE_REQUEST_SPIKE].warmup_windows, 3);
    assert_int_equal(cfg.rules[EW_RULE_REQUEST_SPIKE].min_requests, 20);
    assert_string_equal(cfg.metadata_path, "/etc/edgewatch/metadata.json");
    assert_string_equal(cfg.notify_group, "notify-2");
    assert_int_equal(ew_config_validate(&cfg, &errs), 0);
    ew_config_free(&cfg);
}

static void test_example_config_loads(void **state)
{
    (void)state;
    const char *path = "config/edgewatch.example.json";
    if (access(path, R_OK) != 0)
        skip();
    ew_config cfg;
    ew_config_errors errs = {.n = 0};
    size_t n = ew_config_load(&cfg, path, &errs);
    print_errors(&errs);
    assert_int_equal(n, 0);
    assert_int_equal(ew_config_validate(&cfg, &errs), 0);
    assert_int_equal(cfg.n_fields, 43);
    ew_config_free(&cfg);
}

static void test_unknown_key_is_an_error(void **state)
{
    (void)state;
    ew_config cfg;
    ew_config_errors errs;
    assert_int_equal(load_text("{\"window\": {\"widht\": \"60s\"}}", &cfg, &errs), 1);
    assert_int_equal(errs.n, 1);
    assert_non_null(strstr(errs.lines[0], "window.widht"));
    assert_non_null(strstr(errs.lines[0], "/tmp/ew-test-config-")); /* names the file */
    assert_int_equal(cfg.window_ms, 60000);
    ew_config_free(&cfg);

    assert_int_equal(load_text("{\"rules\": {\"request_spike\": {\"z_warnign\": 3}}, \"topik\": \"x\"}", &cfg, &errs), 2);
    assert_true(any_error_contains(&errs, "\"rules.request_spike.z_warnign\""));
    assert_true(any_error_contains(&errs, "\"topik\""));
    assert_true(cfg.rules[EW_RULE_REQUEST_SPIKE].z_warning == 4.0);
    ew_config_free(&cfg);
}

static void test_wrong_type_is_an_error(void **state)
{
    (void)state;
    static const struct {
        const char *json, *needle;
    } cases[] = {
        {"{\"valkey\": {\"port\": \"six\"}}", "valkey.port"},
        {"{\"valkey\": {\"port\": true}}", "valkey.port"},
        {"{\"valkey\": {\"port\": 63.5}}", "valkey.port"},
        {"{\"valkey\": {\"port\": -1}}", "valkey.port"},
        {"{\"valkey\": {\"port\": [6379]}}", "valkey.port"},
        {"{\"valkey\": {\"host\": 12}}", NULL}, /* numbers become strings: allowed */
        {"{\"topics\": {\"dlq\": true}}", "topics.dlq"},
        {"{\"rules\": {\"request_spike\": {\"enabled\": \"yes\"}}}", "rules.request_spike.enabled"},
        {"{\"rules\": {\"request_spike\": {\"z_warning\": \"high\"}}}", "rules.request_spike.z_warning"},
        {"{\"rules\": {\"request_spike\": {\"z_warning\": null}}}", "rules.request_spike.z_warning"},
        {"{\"cloudfront\": {\"fields\": \"timestamp x-host-header\"}}", "cloudfront.fields"},
        {"{\"cloudfront\": {\"fields\": [\"timestamp\", 7]}}", "cloudfront.fields[1]"},
        {"{\"window\": {\"width\": \"3x\"}}", "window.width"},
        {"{\"window\": {\"width\": {\"seconds\": 60}}}", "window.width"},
        {"{\"kafka\": {\"acks\": [1]}}", "kafka.acks"},
        {"[1, 2]", "top level"},
        {"{\"window\": ", "ew-test-config-"}, /* not JSON */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ew_config cfg;
        ew_config_errors errs;
        size_t n = load_text(cases[i].json, &cfg, &errs);
        if (!cases[i].needle) {
            assert_int_equal(n, 0);
        } else {
            if (n != 1)
                fail_msg("%s: %zu errors, want 1", cases[i].json, n);
            if (!strstr(errs.lines[0], cases[i].needle))
                fail_msg("%s: error \"%s\" does not name %s", cases[i].json, errs.lines[0], cases[i].needle);
        }
        ew_config_free(&cfg);
    }
    /* The wrong value never replaces the default. */
    ew_config cfg;
    ew_config_errors errs;
    assert_int_equal(load_text("{\"valkey\": {\"port\": \"six\"}, \"window\": {\"width\": \"3x\"}}", &cfg, &errs), 2);
    assert_int_equal(cfg.valkey_port, 6379);
    assert_int_equal(cfg.window_ms, 60000);
    ew_config_free(&cfg);
}

static void test_missing_file_is_an_error(void **state)
{
    (void)state;
    ew_config cfg;
    ew_config_errors errs = {.n = 0};
    assert_int_equal(ew_config_load(&cfg, "/nonexistent/edgewatch.json", &errs), 1);
    assert_non_null(strstr(errs.lines[0], "/nonexistent/edgewatch.json"));
    ew_config_free(&cfg);
}

/* ---- durations ---- */

static void test_durations(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        int64_t ms;
    } good[] = {
        {"60s", 60000}, {"3h", 10800000}, {"14d", 1209600000}, {"250ms", 250}, {"1.5h", 5400000},
        {"2m", 120000}, {"90", 90000}, {"0.5s", 500}, {"0s", 0}, {"24h", 86400000},
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        int64_t ms = -7;
        if (!ew_parse_duration_ms(good[i].text, &ms))
            fail_msg("\"%s\" rejected", good[i].text);
        if (ms != good[i].ms)
            fail_msg("\"%s\" -> %lld, want %lld", good[i].text, (long long)ms, (long long)good[i].ms);
    }
    static const char *const bad[] = {"3x", "", "-1s", "s", "60 s", "60S", "1h30m", "ms", "3hours"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t ms = -7;
        if (ew_parse_duration_ms(bad[i], &ms))
            fail_msg("\"%s\" accepted as %lld ms", bad[i], (long long)ms);
        assert_int_equal(ms, -7);
    }
    int64_t ms = 0;
    assert_false(ew_parse_duration_ms(NULL, &ms));
}

/* ---- --set ---- */

static void test_config_set(void **state)
{
    (void)state;
    ew_config cfg;
    ew_config_defaults(&cfg);
    ew_config_errors errs = {.n = 0};
    assert_true(ew_config_set(&cfg, "rules.request_spike.z_warning=5", &errs));
    assert_true(cfg.rules[EW_RULE_REQUEST_SPIKE].z_warning == 5.0);
    assert_true(ew_config_set(&cfg, "window.width=30s", &errs));
    assert_int_equal(cfg.window_ms, 30000);
    assert_true(ew_config_set(&cfg, "valkey.port=6390", &errs));
    assert_int_equal(cfg.valkey_port, 6390);
    assert_true(ew_config_set(&cfg, "rules.request_spike.enabled=false", &errs));
    assert_false(cfg.rules[EW_RULE_REQUEST_SPIKE].enabled);
    assert_true(ew_config_set(&cfg, "valkey.prefix=replay:1:", &errs));
    assert_string_equal(cfg.prefix, "replay:1:");
    assert_true(ew_config_set(&cfg, "kafka.bootstrap.servers=b:9092", &errs));
    assert_string_equal(ew_config_kafka_get(&cfg, "bootstrap.servers"), "b:9092");
    assert_true(ew_config_set(&cfg, "kafka.client.id=ew-test", &errs));
    assert_string_equal(ew_config_kafka_get(&cfg, "client.id"), "ew-test");
    assert_true(ew_config_set(&cfg, "cloudfront.fields=timestamp,sc-status x-host-header", &errs));
    assert_int_equal(cfg.n_fields, 3);
    assert_string_equal(cfg.fields[2], "x-host-header");
    assert_int_equal(errs.n, 0);

    assert_false(ew_config_set(&cfg, "rules.request_spike.z_warnign=5", &errs));
    assert_int_equal(errs.n, 1);
    assert_non_null(strstr(errs.lines[0], "rules.request_spike.z_warnign"));
    assert_false(ew_config_set(&cfg, "rules.request_spike.z_warning", &errs)); /* no '=' */
    assert_false(ew_config_set(&cfg, "=5", &errs));
    assert_false(ew_config_set(&cfg, "valkey.port=abc", &errs));
    assert_non_null(strstr(errs.lines[3], "valkey.port"));
    assert_false(ew_config_set(&cfg, "window.width=3x", &errs));
    assert_int_equal(errs.n, 5);
    assert_int_equal(cfg.valkey_port, 6390);
    assert_int_equal(cfg.window_ms, 30000);
    assert_true(cfg.rules[EW_RULE_REQUEST_SPIKE].z_warning == 5.0);
    ew_config_free(&cfg);
}

/* ---- environment ---- */

static void test_env_overrides(void **state)
{
    (void)state;
    setenv("EDGEWATCH_BROKERS", "k1:9092,k2:9092", 1);
    setenv("EDGEWATCH_GROUP_ID", "edgewatch-blue", 1);
    setenv("EDGEWATCH_VALKEY_ADDR", "cache.internal:6390", 1);
    setenv("EDGEWATCH_VALKEY_PASSWORD", "pw", 1);
    ew_config cfg;
    ew_config_errors errs;
    /* The environment wins over the file. */
    size_t n = load_text("{\"kafka\": {\"bootstrap.servers\": \"file:9092\"}, \"valkey\": {\"host\": \"h\", \"port\": 1}}",
                         &cfg, &errs);
    print_errors(&errs);
    assert_int_equal(n, 0);
    assert_string_equal(ew_config_kafka_get(&cfg, "bootstrap.servers"), "k1:9092,k2:9092");
    assert_string_equal(ew_config_kafka_get(&cfg, "group.id"), "edgewatch-blue");
    assert_string_equal(cfg.valkey_host, "cache.internal");
    assert_int_equal(cfg.valkey_port, 6390);
    assert_string_equal(cfg.valkey_password, "pw");
    /* --set wins over the environment. */
    assert_true(ew_config_set(&cfg, "kafka.bootstrap.servers=set:9092", &errs));
    assert_string_equal(ew_config_kafka_get(&cfg, "bootstrap.servers"), "set:9092");
    ew_config_free(&cfg);

    /* Empty values are ignored. */
    setenv("EDGEWATCH_BROKERS", "", 1);
    unsetenv("EDGEWATCH_VALKEY_ADDR");
    errs.n = 0;
    assert_int_equal(ew_config_load(&cfg, NULL, &errs), 0);
    assert_string_equal(ew_config_kafka_get(&cfg, "bootstrap.servers"), "127.0.0.1:9092");
    assert_string_equal(cfg.valkey_host, "127.0.0.1");
    ew_config_free(&cfg);
    clear_env(NULL);
}

static void test_env_bad_valkey_addr(void **state)
{
    (void)state;
    static const char *const bad[] = {"cache.internal", ":6379", "cache:0", "cache:65536", "cache:12ab", "cache:",
                                      "cache:-1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        setenv("EDGEWATCH_VALKEY_ADDR", bad[i], 1);
        ew_config cfg;
        ew_config_errors errs = {.n = 0};
        size_t n = ew_config_load(&cfg, NULL, &errs);
        if (n != 1)
            fail_msg("EDGEWATCH_VALKEY_ADDR=%s: %zu errors, want 1", bad[i], n);
        assert_non_null(strstr(errs.lines[0], "EDGEWATCH_VALKEY_ADDR"));
        assert_non_null(strstr(errs.lines[0], bad[i]));
        assert_string_equal(cfg.valkey_host, "127.0.0.1");
        assert_int_equal(cfg.valkey_port, 6379);
        ew_config_free(&cfg);
    }
    setenv("EDGEWATCH_VALKEY_ADDR", "10.0.0.5:65535", 1);
    ew_config cfg;
    ew_config_errors errs = {.n = 0};
    assert_int_equal(ew_config_load(&cfg, NULL, &errs), 0);
    assert_string_equal(cfg.valkey_host, "10.0.0.5");
    assert_int_equal(cfg.valkey_port, 65535);
    ew_config_free(&cfg);
    clear_env(NULL);
}

/* ---- validation ---- */

static void test_validate(void **state)
{
    (void)state;
    ew_config cfg;
    ew_config_errors errs = {.n = 0};

    ew_config_defaults(&cfg);
    cfg.rules[EW_RULE_REQUEST_SPIKE].z_critical = 3.0; /* below z_warning 4 */
    assert_int_equal(ew_config_validate(&cfg, &errs), 1);
    assert_non_null(strstr(errs.lines[0], "z_critical"));
    ew_config_free(&cfg);

    errs.n = 0;
    ew_config_defaults(&cfg);
    assert_true(ew_config_set(&cfg, "cloudfront.fields=timestamp,x-host-header,bogus-field", &errs));
    assert_int_equal(ew_config_validate(&cfg, &errs), 1);
    assert_non_null(strstr(errs.lines[0], "cloudfront.fields"));
    assert_non_null(strstr(errs.lines[0], "bogus-field"));
    ew_config_free(&cfg);

    errs.n = 0;
    ew_config_defaults(&cfg);
    assert_true(ew_config_set(&cfg, "cloudfront.fields=sc-status,x-host-header", &errs));
    assert_int_equal(ew_config_validate(&cfg, &errs), 1);
    assert_non_null(strstr(errs.lines[0], "timestamp"));
    ew_config_free(&cfg);

    /* Window widths: whole seconds dividing an hour. */
    static const struct {
        const char *set;
        size_t problems;
    } widths[] = {
        {"window.width=60s", 0}, {"window.width=45s", 0}, {"window.width=1h", 0}, {"window.width=7s", 1},
        {"window.width=1500ms", 1}, {"window.width=500ms", 1}, {"window.width=2h", 1},
    };
    for (size_t i = 0; i < sizeof widths / sizeof widths[0]; i++) {
        errs.n = 0;
        ew_config_defaults(&cfg);
        assert_true(ew_config_set(&cfg, widths[i].set, &errs));
        size_t n = ew_config_validate(&cfg, &errs);
        if (n != widths[i].problems)
            fail_msg("%s: %zu problems, want %zu", widths[i].set, n, widths[i].problems);
        if (n)
            assert_non_null(strstr(errs.lines[0], "window.width"));
        ew_config_free(&cfg);
    }

    /* Several problems are all reported. */
    errs.n = 0;
    ew_config_defaults(&cfg);
    cfg.rules[EW_RULE_REQUEST_SPIKE].z_warning = 0;
    cfg.rules[EW_RULE_REQUEST_SPIKE].z_critical = -1;
    cfg.valkey_port = 70000;
    assert_true(ew_config_set(&cfg, "kafka.no.such.property=1", &errs));
    assert_int_equal(ew_config_validate(&cfg, &errs), 4);
    assert_true(any_error_contains(&errs, "z_critical"));
    assert_true(any_error_contains(&errs, "z_warning must be > 0"));
    assert_true(any_error_contains(&errs, "valkey.port"));
    assert_true(any_error_contains(&errs, "kafka: "));
    ew_config_free(&cfg);
}

static void test_kafka_conf(void **state)
{
    (void)state;
    ew_config cfg;
    ew_config_defaults(&cfg);
    char err[256] = "";
    const char *extra[] = {"client.id", "ew-unit", "group.id", "override", NULL};
    rd_kafka_conf_t *conf = ew_config_kafka(&cfg, extra, err, sizeof err);
    assert_non_null(conf);
    char value[256];
    size_t size = sizeof value;
    assert_int_equal(rd_kafka_conf_get(conf, "bootstrap.servers", value, &size), RD_KAFKA_CONF_OK);
    assert_string_equal(value, "127.0.0.1:9092");
    size = sizeof value;
    assert_int_equal(rd_kafka_conf_get(conf, "client.id", value, &size), RD_KAFKA_CONF_OK);
    assert_string_equal(value, "ew-unit");
    size = sizeof value;
    assert_int_equal(rd_kafka_conf_get(conf, "group.id", value, &size), RD_KAFKA_CONF_OK);
    assert_string_equal(value, "override"); /* extra applies last */
    rd_kafka_conf_destroy(conf);
    ew_config_errors errs = {.n = 0};
    assert_true(ew_config_set(&cfg, "kafka.no.such.property=1", &errs));
    assert_null(ew_config_kafka(&cfg, NULL, err, sizeof err));
    assert_non_null(strstr(err, "no.such.property"));
    ew_config_free(&cfg);
}

/* ---- times ---- */

static void test_parse_time(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        int64_t ms;
    } good[] = {
        {"2026-11-01T12:00:00Z", 1793534400000LL},
        {"2026-11-01T13:00:00+01:00", 1793534400000LL},
        {"2026-11-01T06:30:00-05:30", 1793534400000LL},
        {"2026-11-01T12:00:00+00:00", 1793534400000LL},
        {"2026-11-01T12:00:00.5Z", 1793534400500LL},
        {"2026-11-01T12:00:00.042Z", 1793534400042LL},
        {"2026-11-01T12:00:00.123456Z", 1793534400123LL},
        {"2026-11-01T13:00:00.250+01:00", 1793534400250LL},
        {"2026-11-01t12:00:00z", 1793534400000LL},
        {"2026-11-01 12:00:00Z", 1793534400000LL},
        {"2024-02-29T00:00:00Z", 1709164800000LL},
        {"1970-01-01T00:00:00Z", 0},
        {"1969-12-31T23:59:59Z", -1000},
        {"1793534400", 1793534400000LL},
        {"1607374321.541", 1607374321541LL},
        {"0", 0},
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        int64_t ms = -7;
        if (!ew_parse_time_ms(good[i].text, &ms))
            fail_msg("\"%s\" rejected", good[i].text);
        if (ms != good[i].ms)
            fail_msg("\"%s\" -> %lld, want %lld", good[i].text, (long long)ms, (long long)good[i].ms);
    }
    static const char *const bad[] = {
        "2026-13-01T00:00:00Z", "2026-11-01T24:00:00Z", "2026-11-01T12:00:00", "2026-11-01", "2026-02-30T00:00:00Z",
        "2025-02-29T00:00:00Z",
        "2026-11-01T12:00:00+0100", "2026-11-01T12:00:00Z junk", "2026-11-01T12:00:00.Z", "yesterday",
        "", "-5", "12:00:00", "1793534400.", "1e9",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t ms = -7;
        if (ew_parse_time_ms(bad[i], &ms))
            fail_msg("\"%s\" accepted as %lld", bad[i], (long long)ms);
    }
    int64_t ms;
    assert_false(ew_parse_time_ms(NULL, &ms));
}

static void test_format_time(void **state)
{
    (void)state;
    char buf[32];
    assert_string_equal(ew_format_time(1793534400000LL, buf, sizeof buf), "2026-11-01T12:00:00Z");
    assert_string_equal(ew_format_time(1793534400999LL, buf, sizeof buf), "2026-11-01T12:00:00Z");
    assert_string_equal(ew_format_time(0, buf, sizeof buf), "1970-01-01T00:00:00Z");
    int64_t back;
    assert_true(ew_parse_time_ms(ew_format_time(1607374321000LL, buf, sizeof buf), &back));
    assert_int_equal(back, 1607374321000LL);
}

static void test_avro_schemas(void **state)
{
    (void)state;
    ew_config cfg;
    ew_config_errors errs;
    assert_int_equal(load_text("{\"cloudfront\": {\"avro\": {\"schemas\": {\"1\": \"builtin\", \"7\": \"builtin\"},"
                               " \"bare_schema\": \"none\"}}}",
                               &cfg, &errs),
                     0);
    assert_int_equal(cfg.n_avro, 2);
    assert_int_equal(cfg.avro_ids[1], 7);
    assert_string_equal(cfg.avro_paths[0], "builtin");
    assert_string_equal(cfg.avro_bare, "none");
    assert_int_equal(ew_config_validate(&cfg, &errs), 0);
    /* --set replaces the whole table. */
    assert_true(ew_config_set(&cfg, "cloudfront.avro.schemas=3:builtin,4:/nonexistent/x.avsc", &errs));
    assert_int_equal(cfg.n_avro, 2);
    assert_int_equal(cfg.avro_ids[0], 3);
    memset(&errs, 0, sizeof errs);
    assert_int_equal(ew_config_validate(&cfg, &errs), 1);
    assert_true(any_error_contains(&errs, "/nonexistent/x.avsc"));
    assert_false(ew_config_set(&cfg, "cloudfront.avro.schemas=x:builtin", &errs));
    assert_false(ew_config_set(&cfg, "cloudfront.avro.schemas=5", &errs));
    ew_config_free(&cfg);
    static const char *const bad[] = {
        "{\"cloudfront\": {\"avro\": {\"schemas\": {\"-1\": \"builtin\"}}}}",
        "{\"cloudfront\": {\"avro\": {\"schemas\": {\"1\": 5}}}}",
        "{\"cloudfront\": {\"avro\": {\"schemas\": \"builtin\"}}}",
        "{\"cloudfront\": {\"avro\": {\"schemas\": {\"1\": \"\"}}}}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (load_text(bad[i], &cfg, &errs) != 1) {
            print_errors(&errs);
            fail_msg("accepted: %s", bad[i]);
        }
        assert_true(any_error_contains(&errs, "cloudfront.avro.schemas"));
        ew_config_free(&cfg);
    }
}

/* An empty object under an unknown name is a typo all the same. */
static void test_empty_unknown_section(void **state)
{
    (void)state;
    ew_config cfg;
    ew_config_errors errs;
    assert_int_equal(load_text("{\"windw\": {}}", &cfg, &errs), 1);
    assert_true(any_error_contains(&errs, "windw"));
    ew_config_free(&cfg);
    assert_int_equal(load_text("{\"window\": {}, \"cloudfront\": {\"avro\": {}}}", &cfg, &errs), 0);
    ew_config_free(&cfg);
}

/* Per-window keys live as long as the short baseline needs, at least a day,
 * never longer than the hourly data. */
static void test_window_retention(void **state)
{
    (void)state;
    ew_config cfg;
    ew_config_defaults(&cfg);
    assert_int_equal(ew_config_window_ttl_ms(&cfg), 86400LL * 1000);
    ew_config_errors errs = {.n = 0};
    assert_true(ew_config_set(&cfg, "rules.request_spike.short_window=30h", &errs));
    assert_int_equal(ew_config_window_ttl_ms(&cfg), 30LL * 3600 * 1000);
    assert_true(ew_config_set(&cfg, "state.retention=20h", &errs));
    assert_int_equal(ew_config_window_ttl_ms(&cfg), 20LL * 3600 * 1000);
    assert_true(ew_config_set(&cfg, "state.retention=14d", &errs));
    assert_true(ew_config_set(&cfg, "state.window_retention=2d", &errs));
    assert_int_equal(ew_config_window_ttl_ms(&cfg), 2LL * 86400 * 1000);
    assert_int_equal(ew_config_validate(&cfg, &errs), 0);
    assert_true(ew_config_set(&cfg, "state.window_retention=1h", &errs));
    assert_int_equal(ew_config_validate(&cfg, &errs), 1);
    assert_true(any_error_contains(&errs, "state.window_retention must be at least rules.request_spike.short_window"));
    errs.n = 0;
    assert_true(ew_config_set(&cfg, "state.window_retention=15d", &errs));
    assert_int_equal(ew_config_validate(&cfg, &errs), 1);
    assert_true(any_error_contains(&errs, "must not exceed state.retention"));
    ew_config_free(&cfg);
}

static void test_namespace_prefix(void **state)
{
    (void)state;
    ew_config cfg;
    ew_config_defaults(&cfg);
    char err[256];
    assert_true(ew_config_set_namespace(&cfg, "tune-3h_v1.2", err, sizeof err));
    assert_string_equal(cfg.prefix, "ew:ns:tune-3h_v1.2:");
    assert_false(ew_config_set_namespace(&cfg, "a b", err, sizeof err));
    assert_non_null(strstr(err, "\"a b\""));
    assert_false(ew_config_set_namespace(&cfg, "", err, sizeof err));
    assert_false(ew_config_set_namespace(&cfg, "x:y", err, sizeof err));
    assert_string_equal(cfg.prefix, "ew:ns:tune-3h_v1.2:");
    ew_config_free(&cfg);
}

static void test_billing_and_cost_rules(void **state)
{
    (void)state;
    ew_config cfg;
    ew_config_errors errs = {.n = 0};
    ew_config_defaults(&cfg);
    assert_true(cfg.billing_enabled);
    assert_string_equal(cfg.billing_project_tag, "user:project");
    assert_string_equal(cfg.billing_currencies, "USD");
    const ew_rule_config *spike = &cfg.rules[EW_RULE_COST_SPIKE], *drop = &cfg.rules[EW_RULE_COST_DROP];
    assert_true(spike->min_impact == 1000 && spike->min_impact_percent == 20 && spike->run_rate_hours == 3);
    assert_int_equal(spike->warmup_windows, 7);
    assert_int_equal(drop->warmup_windows, 14);
    assert_string_equal(ew_rule_name(EW_RULE_COST_DROP), "cost_drop");
    assert_true(ew_config_set(&cfg, "rules.cost_spike.min_impact=500", &errs));
    assert_true(ew_config_set(&cfg, "billing.currencies=USD,EUR", &errs));
    assert_true(spike->min_impact == 500);
    assert_int_equal(ew_config_validate(&cfg, &errs), 0);
    assert_true(ew_config_set(&cfg, "rules.cost_spike.run_rate_hours=0", &errs));
    assert_true(ew_config_set(&cfg, "rules.cost_drop.long_window=36h", &errs));
    assert_int_equal(ew_config_validate(&cfg, &errs), 2);
    assert_non_null(strstr(errs.lines[0], "rules.cost_spike.run_rate_hours must be 1-24"));
    assert_non_null(strstr(errs.lines[1], "rules.cost_drop.long_window must be whole days"));
    /* traffic rules keep any long window */
    errs.n = 0;
    assert_true(ew_config_set(&cfg, "rules.cost_spike.run_rate_hours=3", &errs));
    assert_true(ew_config_set(&cfg, "rules.cost_drop.long_window=14d", &errs));
    assert_true(ew_config_set(&cfg, "rules.request_spike.long_window=36h", &errs));
    assert_int_equal(ew_config_validate(&cfg, &errs), 0);
    ew_config_free(&cfg);
}

/* alerts.format picks the alert topic's encoding; alerts.schema_id may be
 * -1 (bare Avro) but nothing lower. */
static void test_alerts_format(void **state)
{
    (void)state;
    ew_config cfg;
    ew_config_errors errs = {.n = 0};
    ew_config_defaults(&cfg);
    assert_string_equal(cfg.alerts_format, "json");
    assert_int_equal(cfg.alerts_schema_id, -1);
    ew_config_free(&cfg);

    assert_int_equal(load_text("{\"alerts\": {\"format\": \"avro\", \"schema_id\": 42}}", &cfg, &errs), 0);
    assert_string_equal(cfg.alerts_format, "avro");
    assert_int_equal(cfg.alerts_schema_id, 42);
    assert_int_equal(ew_config_validate(&cfg, &errs), 0);
    assert_true(ew_config_set(&cfg, "alerts.schema_id=-1", &errs));
    assert_int_equal(cfg.alerts_schema_id, -1);
    assert_false(ew_config_set(&cfg, "alerts.schema_id=-2", &errs));
    assert_true(any_error_contains(&errs, "alerts.schema_id must be between -1 and 2147483647, got -2"));
    errs.n = 0;
    assert_true(ew_config_set(&cfg, "alerts.format=xml", &errs));
    assert_int_equal(ew_config_validate(&cfg, &errs), 1);
    assert_string_equal(errs.lines[0], "alerts.format must be \"json\" or \"avro\", got \"xml\"");
    ew_config_free(&cfg);

    assert_int_equal(load_text("{\"alerts\": {\"formt\": \"avro\"}}", &cfg, &errs), 1);
    assert_true(any_error_contains(&errs, "unknown setting \"alerts.formt\""));
    ew_config_free(&cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_defaults, clear_env),
        cmocka_unit_test_setup(test_load_null_path_is_defaults, clear_env),
        cmocka_unit_test_setup(test_load_nested_file, clear_env),
        cmocka_unit_test_setup(test_example_config_loads, clear_env),
        cmocka_unit_test_setup(test_unknown_key_is_an_error, clear_env),
        cmocka_unit_test_setup(test_wrong_type_is_an_error, clear_env),
        cmocka_unit_test_setup(test_missing_file_is_an_error, clear_env),
        cmocka_unit_test_setup(test_durations, clear_env),
        cmocka_unit_test_setup(test_config_set, clear_env),
        cmocka_unit_test_setup_teardown(test_env_overrides, clear_env, clear_env),
        cmocka_unit_test_setup_teardown(test_env_bad_valkey_addr, clear_env, clear_env),
        cmocka_unit_test_setup(test_validate, clear_env),
        cmocka_unit_test_setup(test_kafka_conf, clear_env),
        cmocka_unit_test_setup(test_parse_time, clear_env),
        cmocka_unit_test_setup(test_format_time, clear_env),
        cmocka_unit_test_setup(test_avro_schemas, clear_env),
        cmocka_unit_test_setup(test_empty_unknown_section, clear_env),
        cmocka_unit_test_setup(test_window_retention, clear_env),
        cmocka_unit_test_setup(test_namespace_prefix, clear_env),
        cmocka_unit_test_setup(test_billing_and_cost_rules, clear_env),
        cmocka_unit_test_setup(test_alerts_format, clear_env),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
