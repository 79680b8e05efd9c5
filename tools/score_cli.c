/* score_cli.c -- `edgewatch score`: one detector over a CSV series.
 *
 * How users try the detector on metrics exported from elsewhere, before
 * trusting it with their pages: each row is scored against the baselines
 * built from the rows before it, then folded in, exactly as a window is
 * scored and learned by `run` (processor/score.c), so what this prints is
 * what the rule would have thought at each step. It streams: one row in,
 * one row out, constant memory.
 *
 * The step between rows is the window width (taken from the first two
 * rows). The CSV has no request counts, so the traffic floor and the
 * minimum counts, which are about sample size, do not apply here.
 */
#include "edgewatch/common.h"
#include "edgewatch/config.h"
#include "edgewatch/score.h"
#include "edgewatch/tools.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char score_usage[] =
    "usage: edgewatch score --rule NAME --input SERIES.csv [-c FILE] [--set key=value]...\n"
    "\n"
    "Runs one detector over a `timestamp,value` CSV (a header line, then one row per\n"
    "step; timestamps `YYYY-MM-DD HH:MM:SS` (UTC), RFC 3339 or epoch seconds; any\n"
    "regular step) and prints `timestamp,value,anomaly_score` for every row. Each\n"
    "score, in [0, 1], uses only the rows before it: 0.5 at z_warning, 0 while the\n"
    "baseline warms up. See docs/detection.md.\n"
    "\n"
    "      --rule NAME       request_spike, request_drop, error_403_rate, error_5xx_rate,\n"
    "                        cache_hit_drop, origin_latency, or generic (both directions)\n"
    "      --input FILE      the series; '-' reads stdin\n"
    "  -c, --config FILE     take the rule's settings from a configuration file\n"
    "      --set KEY=VALUE   override one setting, e.g. --set rules.generic.short_window=8h\n"
    "  -h, --help            this help\n"
    "\n"
    "Exit codes: 0 ok, 1 runtime failure, 2 usage error or a malformed row (named).\n";

typedef struct {
    const char *rule, *input, *config;
    const char *sets[64];
    size_t n_sets;
} score_args;

static int usage_error(const char *what, const char *arg)
{
    fprintf(stderr, "edgewatch score: %s%s%s\n", what, arg ? " " : "", arg ? arg : "");
    return EW_EXIT_USAGE;
}

static int parse_args(int argc, char **argv, score_args *a)
{
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i];
        if (strcmp(f, "-h") == 0 || strcmp(f, "--help") == 0) {
            fputs(score_usage, stdout);
            return -1;
        }
        if (i + 1 >= argc)
            return usage_error(f[0] == '-' ? "this option needs a value (see --help):" : "unexpected argument:", f);
        const char *v = argv[++i];
        if (strcmp(f, "--rule") == 0)
            a->rule = v;
        else if (strcmp(f, "--input") == 0)
            a->input = v;
        else if (strcmp(f, "-c") == 0 || strcmp(f, "--config") == 0)
            a->config = v;
        else if (strcmp(f, "--set") == 0 && a->n_sets < 64)
            a->sets[a->n_sets++] = v;
        else
            return usage_error("unknown option (see --help):", f);
    }
    if (!a->rule)
        return usage_error("--rule NAME is required", NULL);
    if (!a->input)
        return usage_error("--input SERIES.csv is required", NULL);
    return 0;
}

/* The rule's settings: defaults, the file if given, then --set; only the
 * rules are validated, since nothing here talks to Kafka or Valkey. */
static int load_rules(const score_args *a, ew_rule_config rules[EW_RULES])
{
    ew_config cfg;
    ew_config_errors errs = {0};
    ew_config_load(&cfg, a->config, &errs);
    for (size_t i = 0; i < a->n_sets; i++)
        ew_config_set(&cfg, a->sets[i], &errs);
    char err[256];
    bool ok = errs.n == 0 && ew_config_override_rules(&cfg, NULL, 0, rules, err, sizeof err);
    if (errs.n)
        fprintf(stderr, "edgewatch score: %s\n", errs.lines[0]);
    else if (!ok)
        fprintf(stderr, "edgewatch score: %s\n", err);
    ew_config_free(&cfg);
    return ok ? 0 : EW_EXIT_USAGE;
}

/* "2026-11-22 14:05:00" (UTC), RFC 3339 or epoch seconds. */
static bool parse_timestamp(const char *text, int64_t *ms)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *end = strptime(text, "%Y-%m-%d %H:%M:%S", &tm);
    if (end && *end == '\0') {
        *ms = (int64_t)timegm(&tm) * 1000;
        return true;
    }
    return ew_parse_time_ms(text, ms);
}

typedef struct {
    ew_rule_params p;
    ew_rule_history history;
    int64_t first_ms, step_ms;
    size_t rows;
} series;

static double score_row(series *s, int64_t ts_ms, double value)
{
    if (s->rows == 1)
        s->step_ms = ts_ms - s->first_ms > 0 ? ts_ms - s->first_ms : 60000;
    s->p.window_ms = s->step_ms ? s->step_ms : 60000;
    ew_rule_state st;
    ew_history_slice(&s->history, ts_ms, &st);
    /* No request counts here: volume and counts never gate a CSV row. */
    ew_observation o = {value, INFINITY, INFINITY, true};
    ew_detection d = ew_detect(&s->p, &st, o);
    double score = ew_anomaly_score(&s->p, &d);
    ew_learn(&s->p, &st, o, &d);
    ew_lifecycle(&s->p, &st.inc, &d, ts_ms, "series");
    ew_history_store(&s->history, ts_ms, &st);
    return score;
}

/* Splits "timestamp,value" in place; false if the row has no comma. */
static bool split_row(char *line, char **ts, char **value)
{
    line[strcspn(line, "\r\n")] = '\0';
    char *comma = strchr(line, ',');
    if (!comma)
        return false;
    *comma = '\0';
    *ts = line;
    *value = comma + 1;
    return true;
}

static int score_rows(FILE *in, const char *name, series *s)
{
    char line[1024];
    size_t lineno = 0;
    printf("timestamp,value,anomaly_score\n");
    while (fgets(line, sizeof line, in)) {
        lineno++;
        char *ts, *text, *end;
        int64_t ms;
        if (lineno == 1 || line[strspn(line, " \t\r\n")] == '\0')
            continue; /* the header line, blank lines */
        if (!split_row(line, &ts, &text) || !parse_timestamp(ts, &ms)) {
            fprintf(stderr, "edgewatch score: %s:%zu: expected TIMESTAMP,VALUE with a timestamp like "
                            "2026-11-22 14:05:00 or epoch seconds\n", name, lineno);
            return EW_EXIT_USAGE;
        }
        double value = strtod(text, &end);
        if (end == text || *end != '\0' || !isfinite(value)) {
            fprintf(stderr, "edgewatch score: %s:%zu: value \"%s\" is not a finite number\n", name, lineno, text);
            return EW_EXIT_USAGE;
        }
        if (s->rows == 0)
            s->first_ms = ms;
        printf("%s,%s,%.4f\n", ts, text, score_row(s, ms, value));
        s->rows++;
    }
    return ferror(in) ? EW_EXIT_RUNTIME : EW_EXIT_OK;
}

int ew_cmd_score(int argc, char **argv)
{
    score_args a;
    memset(&a, 0, sizeof a);
    int rc = parse_args(argc, argv, &a);
    if (rc)
        return rc < 0 ? EW_EXIT_OK : rc;
    ew_rule_id id;
    if (!ew_rule_parse(a.rule, &id))
        return usage_error("unknown rule (see --help):", a.rule);
    ew_rule_config rules[EW_RULES];
    if ((rc = load_rules(&a, rules)))
        return rc;
    FILE *in = strcmp(a.input, "-") == 0 ? stdin : fopen(a.input, "r");
    if (!in) {
        fprintf(stderr, "edgewatch score: cannot read %s: %s\n", a.input, strerror(errno));
        return EW_EXIT_RUNTIME;
    }
    series s = {.p = {id, &rules[id], 60000, 0, 1.0}};
    ew_rule_history_init(&s.history);
    rc = score_rows(in, a.input, &s);
    if (in != stdin)
        fclose(in);
    if (fflush(stdout) != 0 && rc == EW_EXIT_OK)
        rc = EW_EXIT_RUNTIME;
    return rc;
}
