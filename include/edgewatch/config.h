/* config.h -- the one JSON configuration file, its defaults and overrides.
 *
 * Load order: built-in defaults, then the file, then EDGEWATCH_* environment
 * variables, then --set key=value overrides. Every problem is collected so
 * that `edgewatch check` can print all of them at once; the other commands
 * print the first and exit 2. Every field and default is documented in
 * docs/configuration.md.
 */
#ifndef EDGEWATCH_CONFIG_H
#define EDGEWATCH_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#define EW_MAX_FIELDS 80
#define EW_MAX_AVRO_SCHEMAS 32

typedef struct {
    char *key;
    char *value;
} ew_kv;

/* The detection rules (docs/detection.md). The traffic rules score every
 * distribution's closed windows; generic is the same two-baseline detector
 * for any metric, used by `edgewatch score`. */
typedef enum {
    EW_RULE_REQUEST_SPIKE,
    EW_RULE_REQUEST_DROP,
    EW_RULE_ERROR_403_RATE,
    EW_RULE_ERROR_5XX_RATE,
    EW_RULE_CACHE_HIT_DROP,
    EW_RULE_ORIGIN_LATENCY,
    EW_TRAFFIC_RULES,
    EW_RULE_GENERIC = EW_TRAFFIC_RULES,
    EW_RULE_COST_SPIKE, /* a project's spend up (docs/billing.md) */
    EW_RULE_COST_DROP,  /* a project's completed day down: information */
    EW_RULES
} ew_rule_id;

/* "request_spike", ...; NULL past the end. */
const char *ew_rule_name(ew_rule_id r);
/* false when name is no rule. */
bool ew_rule_parse(const char *name, ew_rule_id *out);

typedef struct {
    bool enabled;
    int64_t short_window_ms;  /* EWMA span of the short-term baseline */
    int64_t long_window_ms;   /* memory of the seasonal long-term baseline */
    double z_warning;         /* z at or above which a window breaches */
    double z_critical;        /* z at or above which the alert is critical */
    int warmup_windows;       /* windows a baseline needs before it may alert */
    uint64_t min_requests;    /* windows with fewer requests are not scored */
    double min_change;        /* smallest change that counts, in the rule's unit (docs/detection.md) */
    uint64_t min_count;       /* rate rules: fewest matching requests (403s, 5xxs, hits+misses, origin fetches) */
    int fire_after;           /* debounce: fire after this many breaching windows ... */
    int fire_window;          /* ... among the last fire_window scored windows */
    int resolve_after;        /* hysteresis: resolve after this many normal windows in a row */
    int64_t repeat_interval_ms; /* re-send a firing incident this often (0: only on severity change) */
    /* Cost rules only (long_window is the baseline, warmup_windows counts days): */
    double min_impact;        /* smallest change that alerts, in currency per day */
    double min_impact_percent;/* ... and in percent of the expected spend */
    int run_rate_hours;       /* hours of the latest costs projected to a day */
} ew_rule_config;

typedef struct {
    /* Kafka: every key of the "kafka" object passes to librdkafka unchanged. */
    ew_kv *kafka;
    size_t kafka_n;
    char *topic_cloudfront;
    char *topic_billing;
    char *topic_alerts;
    char *topic_dlq;
    /* The alert topic's value format (docs/alerts.md): "json" or "avro";
     * for Avro, the Confluent schema id, or -1 for bare datums. */
    char *alerts_format;
    int32_t alerts_schema_id;

    char *valkey_host;
    int valkey_port;
    char *valkey_password;
    char *prefix;             /* key prefix, default "ew:" */
    int64_t valkey_timeout_ms;

    /* CloudFront real-time log fields selected in the AWS config. */
    char *fields[EW_MAX_FIELDS];
    size_t n_fields;
    size_t max_line_bytes;
    /* Confluent schema id -> writer schema (.avsc path or "builtin"). */
    int32_t avro_ids[EW_MAX_AVRO_SCHEMAS];
    char *avro_paths[EW_MAX_AVRO_SCHEMAS];
    size_t n_avro;
    char *avro_bare;          /* writer schema of bare Avro datums, or "none" */

    int64_t window_ms;
    int64_t lateness_ms;
    int64_t idle_timeout_ms;
    int64_t flush_interval_ms;
    size_t flush_max_pairs;
    int64_t retention_ms;        /* hourly rollups, baselines, offsets */
    int64_t window_retention_ms; /* per-window keys; 0 = derived (ew_config_window_ttl_ms) */

    ew_rule_config rules[EW_RULES];
    double traffic_floor_per_min; /* distributions whose usual traffic is below it are not scored */

    bool billing_enabled;      /* run also consumes the billing topic */
    char *billing_group;       /* its consumer group; "" = group.id + "-billing" */
    char *billing_project_tag; /* cost-allocation tag that names the project */
    char *billing_currencies;  /* accepted ISO codes, comma-separated */

    char *metadata_path;      /* NULL: no metadata, entities keyed by domain */
    char *notify_group;
    char *notify_json;        /* the "notify" object as JSON text (NULL: none); notify_config.h parses it */
} ew_config;

/* Problems found while loading; each is one line naming input and problem. */
typedef struct {
    char lines[32][256];
    size_t n;
} ew_config_errors;

/* Adds one problem line (ignored past the 32nd): the loaders of other
 * config sections (notify/notify_config.c) report the same way. */
void ew_config_add_error(ew_config_errors *errs, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

void ew_config_defaults(ew_config *cfg);
/* The 43 fields a real-time log config selects by default, canonical order. */
const char *const *ew_default_fields(size_t *n);
/* Loads path (may be NULL: defaults + environment). Returns number of
 * problems (0 = ok). The config is usable only when 0 is returned. */
size_t ew_config_load(ew_config *cfg, const char *path, ew_config_errors *errs);
/* Applies one "dotted.key=value" override, e.g. rules.request_spike.z_warning=5. */
bool ew_config_set(ew_config *cfg, const char *assignment, ew_config_errors *errs);
/* Cross-field checks after all overrides. Returns number of problems. */
size_t ew_config_validate(const ew_config *cfg, ew_config_errors *errs);
void ew_config_free(ew_config *cfg);
/* For subcommands: loads path, applies the --set overrides and validates,
 * printing every problem as "edgewatch CMD: problem" on stderr. Returns 0,
 * or EW_EXIT_USAGE when there was a problem. */
int ew_config_load_cli(ew_config *cfg, const char *cmd, const char *path, const char *const *sets, size_t n_sets);
/* Moves every key under "<prefix>ns:<ns>:" so a replay or an experiment never
 * touches live state. ns is 1-64 of [A-Za-z0-9_.-]; false (err set) if not. */
bool ew_config_set_namespace(ew_config *cfg, const char *ns, char *err, size_t errcap);
/* TTL of per-window keys: state.window_retention, or when unset the longest
 * span that still reads single windows (the short baseline), at least 1 day,
 * at most state.retention. */
int64_t ew_config_window_ttl_ms(const ew_config *cfg);
/* out = base's rules with "rule.key" = value overrides applied (metadata
 * per project and distribution). false with err naming the first bad one. */
bool ew_config_override_rules(const ew_config *base, const ew_kv *overrides, size_t n, ew_rule_config out[EW_RULES],
                              char *err, size_t errcap);

/* Builds a librdkafka configuration from the "kafka" passthrough. extra is a
 * NULL-terminated key,value,... list applied afterwards (may be NULL). */
rd_kafka_conf_t *ew_config_kafka(const ew_config *cfg, const char *const *extra, char *err, size_t errcap);
/* The effective bootstrap.servers value ("" when unset). */
const char *ew_config_kafka_get(const ew_config *cfg, const char *key);

#endif
