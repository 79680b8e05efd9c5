/* config.c -- load, override and validate the JSON configuration.
 *
 * The file is read with jansson. Unknown keys are errors, not warnings:
 * a typo such as "z_warnign" would otherwise silently keep a default and
 * page people at the wrong threshold. Durations are strings like "60s".
 */
#include "edgewatch/config.h"
#include "edgewatch/common.h"
#include "edgewatch/decode.h"

#include <ctype.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const default_fields[] = {
    "timestamp", "c-ip", "time-to-first-byte", "sc-status", "sc-bytes", "cs-method",
    "cs-protocol", "cs-host", "cs-uri-stem", "cs-bytes", "x-edge-location",
    "x-edge-request-id", "x-host-header", "time-taken", "cs-protocol-version",
    "c-ip-version", "cs-user-agent", "cs-referer", "cs-cookie", "cs-uri-query",
    "x-edge-response-result-type", "x-forwarded-for", "ssl-protocol", "ssl-cipher",
    "x-edge-result-type", "fle-encrypted-fields", "fle-status", "sc-content-type",
    "sc-content-len", "sc-range-start", "sc-range-end", "c-port",
    "x-edge-detailed-result-type", "c-country", "cs-accept-encoding", "cs-accept",
    "cache-behavior-path-pattern", "cs-headers", "cs-header-names", "cs-headers-count",
    "origin-fbl", "origin-lbl", "asn",
};

void ew_config_add_error(ew_config_errors *errs, const char *fmt, ...)
{
    if (!errs || errs->n >= sizeof errs->lines / sizeof errs->lines[0])
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errs->lines[errs->n++], sizeof errs->lines[0], fmt, ap);
    va_end(ap);
}

static void set_string(char **slot, const char *value)
{
    free(*slot);
    *slot = strdup(value);
}

static void set_fields(ew_config *cfg, const char *const *names, size_t n)
{
    for (size_t i = 0; i < cfg->n_fields; i++)
        free(cfg->fields[i]);
    cfg->n_fields = 0;
    for (size_t i = 0; i < n && i < EW_MAX_FIELDS; i++)
        cfg->fields[cfg->n_fields++] = strdup(names[i]);
}

static void clear_schemas(ew_config *cfg)
{
    for (size_t i = 0; i < cfg->n_avro; i++)
        free(cfg->avro_paths[i]);
    cfg->n_avro = 0;
}

/* Adds or replaces the writer schema of one Confluent schema id. */
static bool put_schema(ew_config *cfg, const char *id_text, const char *path, const char *where,
                       ew_config_errors *errs)
{
    char *end = NULL;
    long long id = strtoll(id_text, &end, 10);
    if (!*id_text || *end || id < 0 || id > 2147483647) {
        ew_config_add_error(errs, "%s: cloudfront.avro.schemas: schema id must be an integer 0..2147483647, got \"%s\"",
                  where, id_text);
        return false;
    }
    if (!*path) {
        ew_config_add_error(errs, "%s: cloudfront.avro.schemas: schema id %lld needs a .avsc path or \"builtin\"", where, id);
        return false;
    }
    for (size_t i = 0; i < cfg->n_avro; i++)
        if (cfg->avro_ids[i] == (int32_t)id) {
            set_string(&cfg->avro_paths[i], path);
            return true;
        }
    if (cfg->n_avro >= EW_MAX_AVRO_SCHEMAS) {
        ew_config_add_error(errs, "%s: cloudfront.avro.schemas: at most %d schema ids", where, EW_MAX_AVRO_SCHEMAS);
        return false;
    }
    cfg->avro_ids[cfg->n_avro] = (int32_t)id;
    cfg->avro_paths[cfg->n_avro++] = strdup(path);
    return true;
}

static void kafka_put(ew_config *cfg, const char *key, const char *value)
{
    for (size_t i = 0; i < cfg->kafka_n; i++)
        if (strcmp(cfg->kafka[i].key, key) == 0) {
            set_string(&cfg->kafka[i].value, value);
            return;
        }
    cfg->kafka = realloc(cfg->kafka, (cfg->kafka_n + 1) * sizeof *cfg->kafka);
    cfg->kafka[cfg->kafka_n].key = strdup(key);
    cfg->kafka[cfg->kafka_n].value = strdup(value);
    cfg->kafka_n++;
}

const char *ew_config_kafka_get(const ew_config *cfg, const char *key)
{
    for (size_t i = 0; i < cfg->kafka_n; i++)
        if (strcmp(cfg->kafka[i].key, key) == 0)
            return cfg->kafka[i].value;
    return "";
}

const char *const *ew_default_fields(size_t *n)
{
    *n = sizeof default_fields / sizeof default_fields[0];
    return default_fields;
}

static const char *const rule_names[EW_RULES] = {
    "request_spike", "request_drop", "error_403_rate", "error_5xx_rate", "cache_hit_drop", "origin_latency", "generic",
    "cost_spike", "cost_drop",
};

const char *ew_rule_name(ew_rule_id r) { return (unsigned)r < EW_RULES ? rule_names[r] : NULL; }

bool ew_rule_parse(const char *name, ew_rule_id *out)
{
    for (int r = 0; r < EW_RULES; r++)
        if (strcmp(rule_names[r], name) == 0) {
            *out = (ew_rule_id)r;
            return true;
        }
    return false;
}

/* Cost comes in a few refreshes a day, already summed over hours, and
 * alerts only past both impact thresholds, so one breaching refresh fires
 * and a lower z suffices (docs/billing.md). */
static void set_cost_rule_defaults(ew_rule_config *r)
{
    r->z_warning = 3.0;
    r->z_critical = 6.0;
    r->warmup_windows = 7;
    r->repeat_interval_ms = 24LL * 3600 * 1000;
}

/* min_change is relative for counts and latency (0.5 = 50 % above or below
 * expected) and absolute for ratios (0.05 = 5 percentage points): see
 * docs/detection.md for why each default is what it is. */
static void set_rule_defaults(ew_config *cfg)
{
    /* origin_latency waits for three windows in a row: a p95 of a few dozen
     * fetches jumps whenever two slow errors share a window, and only
     * persistence tells a slow origin from that. */
    static const struct {
        double min_change;
        uint64_t min_count;
        int fire_after, fire_window;
    } per_rule[EW_RULES] = {
        [EW_RULE_REQUEST_SPIKE] = {0.5, 0, 2, 3},   [EW_RULE_REQUEST_DROP] = {0.5, 0, 2, 3},
        [EW_RULE_ERROR_403_RATE] = {0.05, 10, 2, 3}, [EW_RULE_ERROR_5XX_RATE] = {0.03, 10, 2, 3},
        [EW_RULE_CACHE_HIT_DROP] = {0.15, 20, 2, 3}, [EW_RULE_ORIGIN_LATENCY] = {0.5, 20, 3, 3},
        [EW_RULE_GENERIC] = {0, 0, 2, 3},           [EW_RULE_COST_SPIKE] = {0, 0, 1, 1},
        [EW_RULE_COST_DROP] = {0, 0, 1, 1},
    };
    for (int r = 0; r < EW_RULES; r++)
        cfg->rules[r] = (ew_rule_config){
            .enabled = true,
            .short_window_ms = 3LL * 3600 * 1000,
            .long_window_ms = 14LL * 86400 * 1000,
            .z_warning = 4.0,
            .z_critical = 8.0,
            .warmup_windows = 10,
            .min_requests = 0,
            .min_change = per_rule[r].min_change,
            .min_count = per_rule[r].min_count,
            .fire_after = per_rule[r].fire_after,
            .fire_window = per_rule[r].fire_window,
            .resolve_after = 3,
            .repeat_interval_ms = 3600LL * 1000,
            .min_impact = 1000,
            .min_impact_percent = 20,
            .run_rate_hours = 3,
        };
    set_cost_rule_defaults(&cfg->rules[EW_RULE_COST_SPIKE]);
    set_cost_rule_defaults(&cfg->rules[EW_RULE_COST_DROP]);
    /* Weekends are the most common drop: judge drops only once two weeks
     * have taught the weekday pattern. */
    cfg->rules[EW_RULE_COST_DROP].warmup_windows = 14;
    cfg->traffic_floor_per_min = 10;
}

void ew_config_defaults(ew_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    kafka_put(cfg, "bootstrap.servers", "127.0.0.1:9092");
    kafka_put(cfg, "group.id", "edgewatch");
    set_string(&cfg->topic_cloudfront, "cloudfront-realtime-logs");
    set_string(&cfg->topic_billing, "billing-events");
    set_string(&cfg->topic_alerts, "edgewatch-alerts");
    set_string(&cfg->topic_dlq, "edgewatch-dlq");
    set_string(&cfg->alerts_format, "json");
    cfg->alerts_schema_id = -1;
    set_string(&cfg->valkey_host, "127.0.0.1");
    cfg->valkey_port = 6379;
    set_string(&cfg->prefix, "ew:");
    cfg->valkey_timeout_ms = 2000;
    set_fields(cfg, default_fields, sizeof default_fields / sizeof default_fields[0]);
    cfg->max_line_bytes = 16384;
    set_string(&cfg->avro_bare, "builtin");
    cfg->window_ms = 60000;
    cfg->lateness_ms = 60000;
    cfg->idle_timeout_ms = 30000;
    cfg->flush_interval_ms = 1000;
    cfg->flush_max_pairs = 20000;
    cfg->retention_ms = 14LL * 86400 * 1000;
    set_rule_defaults(cfg);
    set_string(&cfg->notify_group, "edgewatch-notify");
    cfg->billing_enabled = true;
    set_string(&cfg->billing_group, "");
    set_string(&cfg->billing_project_tag, "user:project");
    set_string(&cfg->billing_currencies, "USD");
}

void ew_config_free(ew_config *cfg)
{
    for (size_t i = 0; i < cfg->kafka_n; i++) {
        free(cfg->kafka[i].key);
        free(cfg->kafka[i].value);
    }
    free(cfg->kafka);
    free(cfg->topic_cloudfront);
    free(cfg->topic_billing);
    free(cfg->topic_alerts);
    free(cfg->topic_dlq);
    free(cfg->alerts_format);
    free(cfg->valkey_host);
    free(cfg->valkey_password);
    free(cfg->prefix);
    for (size_t i = 0; i < cfg->n_fields; i++)
        free(cfg->fields[i]);
    clear_schemas(cfg);
    free(cfg->avro_bare);
    free(cfg->metadata_path);
    free(cfg->notify_group);
    free(cfg->notify_json);
    free(cfg->billing_group);
    free(cfg->billing_project_tag);
    free(cfg->billing_currencies);
    memset(cfg, 0, sizeof *cfg);
}

/* ---- typed setters shared by the file loader and --set ---- */

/* T_INT is an int member, T_SIZE a size_t, T_U64 a uint64_t; T_SCHEMA_ID an
 * int32_t that may also be -1 (no schema id). */
typedef enum {
    T_STRING, T_INT, T_SIZE, T_U64, T_SCHEMA_ID, T_DOUBLE, T_BOOL, T_DURATION, T_FIELDS, T_SCHEMAS
} value_type;

typedef struct {
    const char *path;
    value_type type;
    size_t offset;
} option;

#define OPT(path, type, member) {path, type, offsetof(ew_config, member)}
#define RULE_OPT(name, r, key, type, member) OPT("rules." name "." key, type, rules[r].member)
#define RULE_OPTS(name, r)                                                                                      \
    RULE_OPT(name, r, "enabled", T_BOOL, enabled), RULE_OPT(name, r, "short_window", T_DURATION, short_window_ms), \
        RULE_OPT(name, r, "long_window", T_DURATION, long_window_ms),                                          \
        RULE_OPT(name, r, "z_warning", T_DOUBLE, z_warning), RULE_OPT(name, r, "z_critical", T_DOUBLE, z_critical), \
        RULE_OPT(name, r, "warmup_windows", T_INT, warmup_windows),                                             \
        RULE_OPT(name, r, "min_requests", T_U64, min_requests),                                                 \
        RULE_OPT(name, r, "min_change", T_DOUBLE, min_change), RULE_OPT(name, r, "min_count", T_U64, min_count), \
        RULE_OPT(name, r, "fire_after", T_INT, fire_after), RULE_OPT(name, r, "fire_window", T_INT, fire_window), \
        RULE_OPT(name, r, "resolve_after", T_INT, resolve_after),                                               \
        RULE_OPT(name, r, "repeat_interval", T_DURATION, repeat_interval_ms)
#define COST_RULE_OPTS(name, r)                                                                                 \
    RULE_OPTS(name, r), RULE_OPT(name, r, "min_impact", T_DOUBLE, min_impact),                                  \
        RULE_OPT(name, r, "min_impact_percent", T_DOUBLE, min_impact_percent),                                  \
        RULE_OPT(name, r, "run_rate_hours", T_INT, run_rate_hours)

static const option options[] = {
    OPT("topics.cloudfront", T_STRING, topic_cloudfront),
    OPT("topics.billing", T_STRING, topic_billing),
    OPT("topics.alerts", T_STRING, topic_alerts),
    OPT("topics.dlq", T_STRING, topic_dlq),
    OPT("alerts.format", T_STRING, alerts_format),
    OPT("alerts.schema_id", T_SCHEMA_ID, alerts_schema_id),
    OPT("valkey.host", T_STRING, valkey_host),
    OPT("valkey.port", T_INT, valkey_port),
    OPT("valkey.password", T_STRING, valkey_password),
    OPT("valkey.prefix", T_STRING, prefix),
    OPT("valkey.timeout", T_DURATION, valkey_timeout_ms),
    OPT("cloudfront.fields", T_FIELDS, fields),
    OPT("cloudfront.max_line_bytes", T_SIZE, max_line_bytes),
    OPT("cloudfront.avro.schemas", T_SCHEMAS, avro_ids),
    OPT("cloudfront.avro.bare_schema", T_STRING, avro_bare),
    OPT("window.width", T_DURATION, window_ms),
    OPT("window.allowed_lateness", T_DURATION, lateness_ms),
    OPT("window.idle_timeout", T_DURATION, idle_timeout_ms),
    OPT("flush.interval", T_DURATION, flush_interval_ms),
    OPT("flush.max_pairs", T_SIZE, flush_max_pairs),
    OPT("state.retention", T_DURATION, retention_ms),
    OPT("state.window_retention", T_DURATION, window_retention_ms),
    OPT("detection.traffic_floor", T_DOUBLE, traffic_floor_per_min),
    RULE_OPTS("request_spike", EW_RULE_REQUEST_SPIKE),
    RULE_OPTS("request_drop", EW_RULE_REQUEST_DROP),
    RULE_OPTS("error_403_rate", EW_RULE_ERROR_403_RATE),
    RULE_OPTS("error_5xx_rate", EW_RULE_ERROR_5XX_RATE),
    RULE_OPTS("cache_hit_drop", EW_RULE_CACHE_HIT_DROP),
    RULE_OPTS("origin_latency", EW_RULE_ORIGIN_LATENCY),
    RULE_OPTS("generic", EW_RULE_GENERIC),
    COST_RULE_OPTS("cost_spike", EW_RULE_COST_SPIKE),
    COST_RULE_OPTS("cost_drop", EW_RULE_COST_DROP),
    OPT("billing.enabled", T_BOOL, billing_enabled),
    OPT("billing.group_id", T_STRING, billing_group),
    OPT("billing.project_tag", T_STRING, billing_project_tag),
    OPT("billing.currencies", T_STRING, billing_currencies),
    OPT("metadata", T_STRING, metadata_path),
    OPT("notify.group_id", T_STRING, notify_group),
};

static const option *find_option(const char *path)
{
    for (size_t i = 0; i < sizeof options / sizeof options[0]; i++)
        if (strcmp(options[i].path, path) == 0)
            return &options[i];
    return NULL;
}

/* True when some setting lives under "prefix.": an object key that is not
 * one is a typo, even when the object is empty. */
static bool is_section(const char *prefix)
{
    size_t n = strlen(prefix);
    for (size_t i = 0; i < sizeof options / sizeof options[0]; i++)
        if (strncmp(options[i].path, prefix, n) == 0 && options[i].path[n] == '.')
            return true;
    return false;
}

static bool store_int(ew_config *cfg, const option *o, long long v, const char *where, ew_config_errors *errs)
{
    char *base = (char *)cfg + o->offset;
    long long least = o->type == T_SCHEMA_ID ? -1 : 0;
    if (v < least || v > 2147483647) {
        ew_config_add_error(errs, "%s: %s must be between %lld and 2147483647, got %lld", where, o->path, least, v);
        return false;
    }
    if (o->type == T_SCHEMA_ID)
        *(int32_t *)base = (int32_t)v;
    else if (o->type == T_SIZE)
        *(size_t *)base = (size_t)v;
    else if (o->type == T_U64)
        *(uint64_t *)base = (uint64_t)v;
    else
        *(int *)base = (int)v;
    return true;
}

static bool store_text(ew_config *cfg, const option *o, const char *text, const char *where,
                       ew_config_errors *errs)
{
    char *base = (char *)cfg + o->offset;
    char *end = NULL;
    switch (o->type) {
    case T_STRING:
        set_string((char **)base, text);
        return true;
    case T_INT:
    case T_SIZE:
    case T_U64:
    case T_SCHEMA_ID: {
        long long v = strtoll(text, &end, 10);
        if (!*text || *end) {
            ew_config_add_error(errs, "%s: %s must be an integer, got \"%s\"", where, o->path, text);
            return false;
        }
        return store_int(cfg, o, v, where, errs);
    }
    case T_DOUBLE: {
        double v = strtod(text, &end);
        if (!*text || *end) {
            ew_config_add_error(errs, "%s: %s must be a number, got \"%s\"", where, o->path, text);
            return false;
        }
        *(double *)base = v;
        return true;
    }
    case T_BOOL:
        if (strcmp(text, "true") != 0 && strcmp(text, "false") != 0) {
            ew_config_add_error(errs, "%s: %s must be true or false, got \"%s\"", where, o->path, text);
            return false;
        }
        *(bool *)base = text[0] == 't';
        return true;
    case T_DURATION:
        if (!ew_parse_duration_ms(text, (int64_t *)base)) {
            ew_config_add_error(errs, "%s: %s must be a duration like 60s, 3h or 14d, got \"%s\"", where, o->path, text);
            return false;
        }
        return true;
    case T_FIELDS: {
        /* Comma or space separated list, as AWS consoles print it. */
        const char *names[EW_MAX_FIELDS];
        char *copy = strdup(text), *save = NULL;
        size_t n = 0;
        for (char *tok = strtok_r(copy, ", \t", &save); tok && n < EW_MAX_FIELDS; tok = strtok_r(NULL, ", \t", &save))
            names[n++] = tok;
        set_fields(cfg, names, n);
        free(copy);
        return true;
    }
    case T_SCHEMAS: {
        /* "ID:PATH,ID:PATH" on the command line; "" clears the table. */
        char *copy = strdup(text), *save = NULL;
        bool ok = true;
        clear_schemas(cfg);
        for (char *tok = strtok_r(copy, ",", &save); tok && ok; tok = strtok_r(NULL, ",", &save)) {
            char *colon = strchr(tok, ':');
            if (!colon) {
                ew_config_add_error(errs, "%s: cloudfront.avro.schemas entries are ID:PATH, got \"%s\"", where, tok);
                ok = false;
                break;
            }
            *colon = '\0';
            ok = put_schema(cfg, tok, colon + 1, where, errs);
        }
        free(copy);
        return ok;
    }
    }
    return false;
}

static bool store_json(ew_config *cfg, const option *o, json_t *v, const char *where, ew_config_errors *errs)
{
    char buf[64];
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        if (o->type != T_SCHEMAS)
            break;
        const char *id;
        json_t *path;
        clear_schemas(cfg);
        json_object_foreach(v, id, path) {
            if (!json_is_string(path)) {
                ew_config_add_error(errs, "%s: cloudfront.avro.schemas.%s must be a .avsc path or \"builtin\"", where, id);
                return false;
            }
            if (!put_schema(cfg, id, json_string_value(path), where, errs))
                return false;
        }
        return true;
    }
    case JSON_STRING:
        if (o->type == T_SCHEMAS) {
            ew_config_add_error(errs, "%s: %s must be an object of schema id -> .avsc path", where, o->path);
            return false;
        }
        if (o->type == T_FIELDS) {
            ew_config_add_error(errs, "%s: %s must be an array of field names", where, o->path);
            return false;
        }
        return store_text(cfg, o, json_string_value(v), where, errs);
    case JSON_INTEGER:
        snprintf(buf, sizeof buf, "%lld", (long long)json_integer_value(v));
        return store_text(cfg, o, buf, where, errs);
    case JSON_REAL:
        snprintf(buf, sizeof buf, "%.17g", json_real_value(v));
        return store_text(cfg, o, buf, where, errs);
    case JSON_TRUE:
    case JSON_FALSE:
        if (o->type != T_BOOL)
            break;
        return store_text(cfg, o, json_is_true(v) ? "true" : "false", where, errs);
    case JSON_ARRAY: {
        if (o->type != T_FIELDS)
            break;
        const char *names[EW_MAX_FIELDS];
        size_t i, n = 0;
        json_t *item;
        json_array_foreach(v, i, item) {
            if (!json_is_string(item) || n >= EW_MAX_FIELDS) {
                ew_config_add_error(errs, "%s: %s[%zu] must be a field name string", where, o->path, i);
                return false;
            }
            names[n++] = json_string_value(item);
        }
        set_fields(cfg, names, n);
        return true;
    }
    default:
        break;
    }
    ew_config_add_error(errs, "%s: %s has the wrong type", where, o->path);
    return false;
}

static void load_kafka_object(ew_config *cfg, json_t *obj, const char *where, ew_config_errors *errs)
{
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v) {
        char buf[64];
        if (json_is_string(v))
            kafka_put(cfg, key, json_string_value(v));
        else if (json_is_integer(v)) {
            snprintf(buf, sizeof buf, "%lld", (long long)json_integer_value(v));
            kafka_put(cfg, key, buf);
        } else if (json_is_boolean(v))
            kafka_put(cfg, key, json_is_true(v) ? "true" : "false");
        else
            ew_config_add_error(errs, "%s: kafka.%s must be a string, number or boolean", where, key);
    }
}

/* The notifier's routes and receivers are a tree that the flat option table
 * cannot describe: the object is kept as text for notify/notify_config.c,
 * which validates it (for `check` too, through ew_config_validate). */
static void load_notify_object(ew_config *cfg, json_t *obj, const char *where, ew_config_errors *errs)
{
    json_t *group = json_object_get(obj, "group_id");
    if (group)
        store_json(cfg, find_option("notify.group_id"), group, where, errs);
    free(cfg->notify_json);
    cfg->notify_json = json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS);
}

static void load_object(ew_config *cfg, json_t *obj, const char *prefix, const char *where, ew_config_errors *errs)
{
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v) {
        char path[256];
        snprintf(path, sizeof path, "%s%s%s", prefix, *prefix ? "." : "", key);
        if (strcmp(path, "kafka") == 0 && json_is_object(v)) {
            load_kafka_object(cfg, v, where, errs);
            continue;
        }
        if (strcmp(path, "notify") == 0 && json_is_object(v)) {
            load_notify_object(cfg, v, where, errs);
            continue;
        }
        const option *o = find_option(path);
        if (o)
            store_json(cfg, o, v, where, errs);
        else if (json_is_object(v) && is_section(path))
            load_object(cfg, v, path, where, errs);
        else
            ew_config_add_error(errs, "%s: unknown setting \"%s\"", where, path);
    }
}

static void apply_environment(ew_config *cfg, ew_config_errors *errs)
{
    const char *v;
    if ((v = getenv("EDGEWATCH_BROKERS")) && *v)
        kafka_put(cfg, "bootstrap.servers", v);
    if ((v = getenv("EDGEWATCH_GROUP_ID")) && *v)
        kafka_put(cfg, "group.id", v);
    if ((v = getenv("EDGEWATCH_VALKEY_PASSWORD")) && *v)
        set_string(&cfg->valkey_password, v);
    if ((v = getenv("EDGEWATCH_VALKEY_ADDR")) && *v) {
        const char *colon = strrchr(v, ':');
        char *end = NULL;
        long port = colon ? strtol(colon + 1, &end, 10) : 0;
        if (!colon || colon == v || !end || *end || port <= 0 || port > 65535) {
            ew_config_add_error(errs, "EDGEWATCH_VALKEY_ADDR: expected HOST:PORT, got \"%s\"", v);
            return;
        }
        free(cfg->valkey_host);
        cfg->valkey_host = strndup(v, (size_t)(colon - v));
        cfg->valkey_port = (int)port;
    }
}

size_t ew_config_load(ew_config *cfg, const char *path, ew_config_errors *errs)
{
    ew_config_defaults(cfg);
    size_t before = errs->n;
    if (path) {
        json_error_t jerr;
        json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
        if (!root) {
            ew_config_add_error(errs, "%s:%d:%d: %s", path, jerr.line, jerr.column, jerr.text);
            return errs->n - before;
        }
        if (!json_is_object(root))
            ew_config_add_error(errs, "%s: the top level must be a JSON object", path);
        else
            load_object(cfg, root, "", path, errs);
        json_decref(root);
    }
    apply_environment(cfg, errs);
    return errs->n - before;
}

bool ew_config_set(ew_config *cfg, const char *assignment, ew_config_errors *errs)
{
    const char *eq = strchr(assignment, '=');
    if (!eq || eq == assignment) {
        ew_config_add_error(errs, "--set %s: expected key=value", assignment);
        return false;
    }
    char key[256];
    snprintf(key, sizeof key, "%.*s", (int)(eq - assignment), assignment);
    if (strncmp(key, "kafka.", 6) == 0) {
        kafka_put(cfg, key + 6, eq + 1);
        return true;
    }
    const option *o = find_option(key);
    if (!o) {
        ew_config_add_error(errs, "--set %s: unknown setting \"%s\"", assignment, key);
        return false;
    }
    return store_text(cfg, o, eq + 1, "--set", errs);
}

/* Compiles every configured writer schema, so a bad path or .avsc is
 * reported by `check` and at startup, not by the first Avro message. */
static void check_avro_schemas(const ew_config *cfg, ew_config_errors *errs)
{
    ew_message_decoder md;
    char err[256];
    if (!ew_message_decoder_init(&md, (const char *const *)cfg->fields, cfg->n_fields, cfg->max_line_bytes,
                                 cfg->avro_ids, (const char *const *)cfg->avro_paths, cfg->n_avro, cfg->avro_bare,
                                 err, sizeof err)) {
        ew_config_add_error(errs, "cloudfront.avro: %s", err);
        return;
    }
    ew_message_decoder_free(&md);
}

static void validate_rule(const char *name, const ew_rule_config *r, ew_config_errors *errs)
{
    if (!(r->z_warning > 0))
        ew_config_add_error(errs, "rules.%s.z_warning must be > 0", name);
    if (!(r->z_critical >= r->z_warning))
        ew_config_add_error(errs, "rules.%s.z_critical must be >= z_warning", name);
    if (r->short_window_ms <= 0 || r->long_window_ms <= 0)
        ew_config_add_error(errs, "rules.%s.short_window and long_window must be > 0", name);
    if (!(r->min_change >= 0))
        ew_config_add_error(errs, "rules.%s.min_change must be >= 0", name);
    /* The debounce history is a 32-bit mask of the last windows. */
    if (r->fire_window < 1 || r->fire_window > 32 || r->fire_after < 1 || r->fire_after > r->fire_window)
        ew_config_add_error(errs, "rules.%s: need 1 <= fire_after <= fire_window <= 32, got %d of %d", name, r->fire_after,
                  r->fire_window);
    if (r->resolve_after < 1)
        ew_config_add_error(errs, "rules.%s.resolve_after must be >= 1", name);
}

static void validate_cost_rule(const char *name, const ew_rule_config *r, ew_config_errors *errs)
{
    if (!(r->min_impact >= 0) || !(r->min_impact_percent >= 0))
        ew_config_add_error(errs, "rules.%s.min_impact and min_impact_percent must be >= 0", name);
    if (r->run_rate_hours < 1 || r->run_rate_hours > 24)
        ew_config_add_error(errs, "rules.%s.run_rate_hours must be 1-24", name);
    /* The cost baseline is whole days, and at most EW_COST_MAX_DAYS of them
     * are read per project and refresh. */
    if (r->long_window_ms % 86400000 != 0 || r->long_window_ms > 56LL * 86400000)
        ew_config_add_error(errs, "rules.%s.long_window must be whole days, at most 56d", name);
}

static void validate_rules(const ew_rule_config *rules, ew_config_errors *errs)
{
    for (int r = 0; r < EW_RULES; r++)
        validate_rule(ew_rule_name((ew_rule_id)r), &rules[r], errs);
    validate_cost_rule("cost_spike", &rules[EW_RULE_COST_SPIKE], errs);
    validate_cost_rule("cost_drop", &rules[EW_RULE_COST_DROP], errs);
}

bool ew_config_override_rules(const ew_config *base, const ew_kv *overrides, size_t n, ew_rule_config out[EW_RULES],
                              char *err, size_t errcap)
{
    /* A shallow copy is safe: rule settings own no memory, and only keys
     * under "rules." are accepted, so no string member is ever replaced. */
    ew_config tmp = *base;
    ew_config_errors errs = {0};
    for (size_t i = 0; i < n && errs.n == 0; i++) {
        char path[256];
        snprintf(path, sizeof path, "rules.%s", overrides[i].key);
        const option *o = find_option(path);
        if (!o)
            ew_config_add_error(&errs, "unknown rule setting \"%s\"", overrides[i].key);
        else
            store_text(&tmp, o, overrides[i].value, "override", &errs);
    }
    if (errs.n == 0)
        validate_rules(tmp.rules, &errs);
    if (errs.n) {
        snprintf(err, errcap, "%s", errs.lines[0]);
        return false;
    }
    memcpy(out, tmp.rules, sizeof tmp.rules);
    return true;
}

size_t ew_config_validate(const ew_config *cfg, ew_config_errors *errs)
{
    size_t before = errs->n;
    if (cfg->window_ms < 1000 || cfg->window_ms % 1000)
        ew_config_add_error(errs, "window.width must be a whole number of seconds, at least 1s");
    else if (3600000 % cfg->window_ms)
        ew_config_add_error(errs, "window.width must divide one hour evenly (hourly rollups), got %llds",
                  (long long)(cfg->window_ms / 1000));
    if (cfg->flush_interval_ms < 10)
        ew_config_add_error(errs, "flush.interval must be at least 10ms");
    if (cfg->flush_max_pairs < 1)
        ew_config_add_error(errs, "flush.max_pairs must be at least 1");
    if (cfg->valkey_port <= 0 || cfg->valkey_port > 65535)
        ew_config_add_error(errs, "valkey.port must be between 1 and 65535");
    if (cfg->max_line_bytes < 64)
        ew_config_add_error(errs, "cloudfront.max_line_bytes must be at least 64");
    if (strcmp(cfg->alerts_format, "json") != 0 && strcmp(cfg->alerts_format, "avro") != 0)
        ew_config_add_error(errs, "alerts.format must be \"json\" or \"avro\", got \"%s\"", cfg->alerts_format);
    int longest = 0; /* the traffic rule with the longest short window */
    for (int r = 1; r < EW_TRAFFIC_RULES; r++)
        if (cfg->rules[r].short_window_ms > cfg->rules[longest].short_window_ms)
            longest = r;
    const char *name = ew_rule_name((ew_rule_id)longest);
    if (cfg->retention_ms < cfg->rules[longest].short_window_ms)
        ew_config_add_error(errs, "state.retention must be at least rules.%s.short_window", name);
    if (cfg->window_retention_ms && cfg->window_retention_ms < cfg->rules[longest].short_window_ms)
        ew_config_add_error(errs, "state.window_retention must be at least rules.%s.short_window", name);
    if (cfg->window_retention_ms && cfg->window_retention_ms < 2 * cfg->window_ms + cfg->lateness_ms)
        ew_config_add_error(errs, "state.window_retention must be at least 2 x window.width + window.allowed_lateness");
    if (cfg->window_retention_ms > cfg->retention_ms)
        ew_config_add_error(errs, "state.window_retention (%llds) must not exceed state.retention (%llds)",
                  (long long)(ew_config_window_ttl_ms(cfg) / 1000), (long long)(cfg->retention_ms / 1000));
    validate_rules(cfg->rules, errs);
    if (!(cfg->traffic_floor_per_min >= 0))
        ew_config_add_error(errs, "detection.traffic_floor must be >= 0");
    char err[256];
    if (!ew_fieldset_check((const char *const *)cfg->fields, cfg->n_fields, err, sizeof err))
        ew_config_add_error(errs, "cloudfront.fields: %s", err);
    else
        check_avro_schemas(cfg, errs);
    if (!*ew_config_kafka_get(cfg, "bootstrap.servers"))
        ew_config_add_error(errs, "kafka.bootstrap.servers is empty (set it or EDGEWATCH_BROKERS)");
    rd_kafka_conf_t *conf = ew_config_kafka(cfg, NULL, err, sizeof err);
    if (conf)
        rd_kafka_conf_destroy(conf);
    else
        ew_config_add_error(errs, "kafka: %s", err);
    return errs->n - before;
}

int ew_config_load_cli(ew_config *cfg, const char *cmd, const char *path, const char *const *sets, size_t n_sets)
{
    ew_config_errors errs = {.n = 0};
    ew_config_load(cfg, path, &errs);
    for (size_t i = 0; i < n_sets; i++)
        ew_config_set(cfg, sets[i], &errs);
    if (errs.n == 0)
        ew_config_validate(cfg, &errs);
    for (size_t i = 0; i < errs.n; i++)
        fprintf(stderr, "edgewatch %s: %s\n", cmd, errs.lines[i]);
    return errs.n ? EW_EXIT_USAGE : 0;
}

bool ew_config_set_namespace(ew_config *cfg, const char *ns, char *err, size_t errcap)
{
    size_t n = strlen(ns);
    bool ok = n >= 1 && n <= 64;
    for (size_t i = 0; ok && i < n; i++)
        ok = isalnum((unsigned char)ns[i]) || ns[i] == '_' || ns[i] == '.' || ns[i] == '-';
    if (!ok) {
        snprintf(err, errcap, "namespace \"%s\" must be 1-64 characters of A-Z a-z 0-9 _ . -", ns);
        return false;
    }
    char *prefix;
    if (asprintf(&prefix, "%sns:%s:", cfg->prefix, ns) < 0) {
        snprintf(err, errcap, "out of memory");
        return false;
    }
    free(cfg->prefix);
    cfg->prefix = prefix;
    return true;
}

int64_t ew_config_window_ttl_ms(const ew_config *cfg)
{
    if (cfg->window_retention_ms)
        return cfg->window_retention_ms;
    int64_t day = 86400LL * 1000;
    int64_t ttl = day;
    for (int r = 0; r < EW_TRAFFIC_RULES; r++)
        if (cfg->rules[r].short_window_ms > ttl)
            ttl = cfg->rules[r].short_window_ms;
    return ttl < cfg->retention_ms ? ttl : cfg->retention_ms;
}

rd_kafka_conf_t *ew_config_kafka(const ew_config *cfg, const char *const *extra, char *err, size_t errcap)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    for (size_t i = 0; i < cfg->kafka_n; i++)
        if (rd_kafka_conf_set(conf, cfg->kafka[i].key, cfg->kafka[i].value, err, errcap) != RD_KAFKA_CONF_OK) {
            rd_kafka_conf_destroy(conf);
            return NULL;
        }
    for (size_t i = 0; extra && extra[i] && extra[i + 1]; i += 2)
        if (rd_kafka_conf_set(conf, extra[i], extra[i + 1], err, errcap) != RD_KAFKA_CONF_OK) {
            rd_kafka_conf_destroy(conf);
            return NULL;
        }
    return conf;
}
