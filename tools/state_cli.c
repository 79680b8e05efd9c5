/* state_cli.c -- `edgewatch state show`: stored aggregates as JSON.
 *
 * Operators and tests need to see what the processor stored without
 * decoding hashes by hand. This reads the per-window hashes (or the hourly
 * rollups) of one distribution, or of every distribution of a project,
 * through the state interface and prints them in the shape of
 * ../shared/design/architecture.md §4. A project's windows are the sums
 * of its distributions' windows; top-contributor lists are merged the way
 * the flush script merges them.
 */
#include "edgewatch/aggregate.h"
#include "edgewatch/common.h"
#include "edgewatch/config.h"
#include "edgewatch/metadata.h"
#include "edgewatch/state.h"
#include "edgewatch/tools.h"
#include "edgewatch/topk.h"
#include "edgewatch/window.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Bounds the memory of one call: 100,000 minutes is 69 days. */
#define MAX_STEPS 100000

static const char show_usage[] =
    "usage: edgewatch state show -c FILE (--distribution ID | --project NAME)\n"
    "                            [--from T] [--to T] [--resolution minute|hour]\n"
    "                            [--namespace NS] [--set key=value]...\n"
    "\n"
    "Prints the aggregates stored in Valkey as JSON: per window (or per hour),\n"
    "requests, bytes, status classes, cache results, latency percentiles, late\n"
    "records and top contributors. Windows with no stored data are left out.\n"
    "\n"
    "  -c, --config FILE        configuration file (Valkey address, prefix, metadata)\n"
    "      --distribution ID    a distribution id, domain or alias (resolved through\n"
    "                           the metadata file; an unknown domain is used as is)\n"
    "      --project NAME       every distribution of the project, summed per window,\n"
    "                           and its cost per UTC day (\"cost\", in micros)\n"
    "                           (those marked excluded in the metadata are left out)\n"
    "      --from T, --to T     RFC 3339 or epoch seconds; default: the last hour\n"
    "                           (minute) or the last day (hour), ending now\n"
    "      --resolution R       minute (the window width, default) or hour (rollups)\n"
    "      --namespace NS       read a replay's namespace instead of live state\n"
    "      --set KEY=VALUE      override one setting\n"
    "  -h, --help               this help\n"
    "\n"
    "Exit codes: 0 ok, 1 Valkey unreachable, 2 usage or configuration error.\n";

typedef struct {
    const char *config, *distribution, *project, *from, *to, *resolution, *ns;
    const char *sets[64];
    size_t n_sets;
} show_args;

typedef struct {
    bool present;
    uint64_t counters[EW_COUNTERS];
    char *tops[EW_DIMS];
} step_totals;

typedef struct {
    int64_t first_ms, step_ms;
    size_t n_steps;
    step_totals *steps;
} show_acc;

static int usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "edgewatch state show: ");
    fprintf(stderr, fmt, arg);
    fputc('\n', stderr);
    return EW_EXIT_USAGE;
}

static int parse_args(int argc, char **argv, show_args *a)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},       {"distribution", required_argument, NULL, 'd'},
        {"project", required_argument, NULL, 'p'},      {"from", required_argument, NULL, 'f'},
        {"to", required_argument, NULL, 't'},           {"resolution", required_argument, NULL, 'r'},
        {"namespace", required_argument, NULL, 'n'},    {"set", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},               {NULL, 0, NULL, 0},
    };
    int c;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":c:h", opts, NULL)) != -1) {
        switch (c) {
        case 'c': a->config = optarg; break;
        case 'd': a->distribution = optarg; break;
        case 'p': a->project = optarg; break;
        case 'f': a->from = optarg; break;
        case 't': a->to = optarg; break;
        case 'r': a->resolution = optarg; break;
        case 'n': a->ns = optarg; break;
        case 's':
            if (a->n_sets == 64)
                return usage_error("more than 64 --set options%s", "");
            a->sets[a->n_sets++] = optarg;
            break;
        case 'h': fputs(show_usage, stdout); return -1;
        case ':': return usage_error("option %s needs a value", argv[optind - 1]);
        default: return usage_error("unknown option %s (see --help)", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return usage_error("unexpected argument \"%s\" (see --help)", argv[optind]);
    if (!a->config)
        return usage_error("-c FILE is required%s", "");
    if (!a->distribution == !a->project)
        return usage_error("give exactly one of --distribution ID or --project NAME%s", "");
    if (a->resolution && strcmp(a->resolution, "minute") != 0 && strcmp(a->resolution, "hour") != 0)
        return usage_error("--resolution must be minute or hour, got \"%s\"", a->resolution);
    return 0;
}

static int parse_range(const show_args *a, bool hourly, int64_t *from, int64_t *to)
{
    if (a->to && !ew_parse_time_ms(a->to, to))
        return usage_error("--to \"%s\" is not RFC 3339 or epoch seconds", a->to);
    if (!a->to)
        *to = ew_now_ms();
    if (a->from && !ew_parse_time_ms(a->from, from))
        return usage_error("--from \"%s\" is not RFC 3339 or epoch seconds", a->from);
    if (!a->from)
        *from = *to - (hourly ? 86400000LL : 3600000LL);
    if (*from >= *to)
        return usage_error("--from must be before --to%s", "");
    return 0;
}

/* The entities to read: one distribution (resolved through metadata when
 * it is known there), or every distribution of a project. */
static int resolve_entities(const show_args *a, const ew_metadata *m, const char ***ids, size_t *n)
{
    *ids = calloc(ew_metadata_count(m) + 1, sizeof **ids);
    *n = 0;
    if (a->distribution) {
        const ew_distribution *d = ew_metadata_by_domain(m, ew_str_make(a->distribution, strlen(a->distribution)));
        (*ids)[(*n)++] = d ? d->id : a->distribution;
        return 0;
    }
    /* Excluded distributions (legacy, internal, experiments) must not count
     * in their project's totals; ask for one by --distribution to see it. */
    for (size_t i = 0; i < ew_metadata_count(m); i++) {
        const ew_distribution *d = ew_metadata_at(m, i);
        if (d->project && strcmp(d->project, a->project) == 0 && !d->excluded)
            (*ids)[(*n)++] = d->id;
    }
    /* A project may have only costs: its distributions list is then empty. */
    return 0;
}

static void on_window(void *ctx, const ew_stored_window *w)
{
    show_acc *acc = ctx;
    int64_t i = (w->start_ms - acc->first_ms) / acc->step_ms;
    if (i < 0 || (size_t)i >= acc->n_steps)
        return;
    step_totals *t = &acc->steps[i];
    t->present = true;
    for (int c = 0; c < EW_COUNTERS; c++)
        t->counters[c] += w->counters[c];
    for (size_t k = 0; k < w->n_tops; k++)
        for (int d = 0; d < EW_DIMS; d++) {
            if (strcmp(w->top_fields[k], ew_dim_field((ew_dim)d)) != 0)
                continue;
            const char *old = t->tops[d] ? t->tops[d] : "";
            char merged[EW_TOPK_KEEP * 96];
            ew_topk_merge_text(old, strlen(old), w->top_texts[k], strlen(w->top_texts[k]), EW_TOPK_KEEP, merged,
                               sizeof merged);
            free(t->tops[d]);
            t->tops[d] = strdup(merged);
        }
}

static json_t *quantiles(const uint64_t *hist)
{
    json_t *o = json_object();
    static const struct { const char *name; double q; } qs[] = {{"p50", 0.50}, {"p95", 0.95}, {"p99", 0.99}};
    for (size_t i = 0; i < 3; i++) {
        int32_t v = ew_latency_quantile(hist, qs[i].q);
        json_object_set_new(o, qs[i].name, v < 0 ? json_null() : json_integer(v));
    }
    return o;
}

static json_t *top_contributors(const step_totals *t)
{
    json_t *list = json_array();
    uint64_t req = t->counters[EW_C_REQ];
    for (int d = 0; d < EW_DIMS; d++) {
        if (!t->tops[d])
            continue;
        ew_top_entry e[EW_TOPK_KEEP];
        size_t n = ew_topk_parse(t->tops[d], strlen(t->tops[d]), e, EW_TOPK_KEEP);
        for (size_t i = 0; i < n; i++)
            json_array_append_new(list, json_pack("{s:s, s:s, s:I, s:f}", "dimension", ew_dim_name((ew_dim)d),
                                                  "value", e[i].value, "requests", (json_int_t)e[i].count, "share",
                                                  req ? (double)e[i].count / (double)req : 0.0));
    }
    return list;
}

#define C(i) ((json_int_t)t->counters[i])

static json_t *window_json(const step_totals *t, int64_t start, int64_t step)
{
    const int S = EW_C_STATUS, R = EW_C_RESULT;
    json_t *w = json_pack("{s:I, s:I, s:I, s:I}", "start", (json_int_t)start, "end", (json_int_t)(start + step),
                          "requests", C(EW_C_REQ), "bytes", C(EW_C_BYTES));
    json_object_set_new(w, "status",
                        json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}", "2xx", C(S + EW_S2XX), "3xx", C(S + EW_S3XX),
                                  "4xx", C(S + EW_S4XX), "403", C(S + EW_S403), "5xx", C(S + EW_S5XX), "other",
                                  C(S + EW_SOTHER)));
    json_object_set_new(w, "cache",
                        json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}", "hit", C(R + EW_RESULT_HIT), "miss",
                                  C(R + EW_RESULT_MISS), "error", C(R + EW_RESULT_ERROR), "limit_exceeded",
                                  C(R + EW_RESULT_LIMIT), "capacity_exceeded", C(R + EW_RESULT_CAPACITY), "other",
                                  C(R + EW_RESULT_OTHER)));
    json_object_set_new(w, "origin_latency_ms", quantiles(&t->counters[EW_C_ORIGIN]));
    json_object_set_new(w, "ttfb_ms", quantiles(&t->counters[EW_C_TTFB]));
    json_object_set_new(w, "late", json_integer(C(EW_C_LATE)));
    json_object_set_new(w, "top_contributors", top_contributors(t));
    return w;
}

#undef C

static json_t *render(const show_args *a, const char **ids, size_t n_ids, const show_acc *acc, bool hourly,
                      int64_t from, int64_t to)
{
    json_t *out = json_pack("{s:s, s:s, s:s, s:I, s:I}", "entity_type", a->project ? "project" : "distribution",
                            "entity_id", a->project ? a->project : ids[0], "resolution", hourly ? "hour" : "minute",
                            "from", (json_int_t)from, "to", (json_int_t)to);
    if (a->project) {
        json_t *list = json_array();
        for (size_t i = 0; i < n_ids; i++)
            json_array_append_new(list, json_string(ids[i]));
        json_object_set_new(out, "distributions", list);
    }
    json_t *windows = json_array();
    for (size_t i = 0; i < acc->n_steps; i++)
        if (acc->steps[i].present)
            json_array_append_new(windows, window_json(&acc->steps[i], acc->first_ms + (int64_t)i * acc->step_ms,
                                                       acc->step_ms));
    json_object_set_new(out, "windows", windows);
    return out;
}

/* ---- cost of a project: "cost" per UTC day ---- */

#define MAX_COST_DAYS 400

static json_t *dimension_json(const ew_cost_day *d, char dim)
{
    json_t *o = json_object();
    for (size_t i = 0; i < d->n_entries; i++) {
        if (d->entries[i].dim != dim)
            continue;
        json_t *old = json_object_get(o, d->entries[i].value);
        json_int_t sum = (old ? json_integer_value(old) : 0) + d->entries[i].micros;
        json_object_set_new(o, d->entries[i].value, json_integer(sum));
    }
    return o;
}

static json_t *cost_day_json(const ew_cost_day *d)
{
    json_t *hours = json_array();
    int64_t total = 0;
    for (int h = 0; h < 24; h++) {
        total += d->hour_micros[h];
        json_array_append_new(hours, json_integer(d->hour_micros[h]));
    }
    return json_pack("{s:I, s:I, s:I, s:f, s:o, s:o, s:o, s:o}", "start", (json_int_t)d->day_ms, "end",
                     (json_int_t)(d->day_ms + EW_BILL_DAY_MS), "total_micros", (json_int_t)total, "total",
                     (double)total / 1e6, "hours_micros", hours, "by_service_micros", dimension_json(d, 's'),
                     "by_usage_type_micros", dimension_json(d, 'u'), "by_resource_micros", dimension_json(d, 'r'));
}

/* Days with cost in [from, to); NULL (and a message) when the store fails. */
static json_t *read_cost(ew_state *st, const char *project, int64_t from, int64_t to, bool *known)
{
    int64_t first = from / EW_BILL_DAY_MS * EW_BILL_DAY_MS;
    size_t n = (size_t)((to - first + EW_BILL_DAY_MS - 1) / EW_BILL_DAY_MS);
    n = n > MAX_COST_DAYS ? MAX_COST_DAYS : n;
    ew_cost_project proj;
    ew_cost_day *days = calloc(n + 1, sizeof *days);
    if (ew_state_cost_read(st, project, first, n, true, &proj, days) != EW_STATE_OK) {
        fprintf(stderr, "edgewatch state show: %s\n", ew_state_last_error(st));
        free(days);
        return NULL;
    }
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++) {
        bool any = days[i].n_entries > 0;
        for (int h = 0; h < 24 && !any; h++)
            any = days[i].hour_micros[h] != 0;
        if (any)
            json_array_append_new(list, cost_day_json(&days[i]));
    }
    ew_cost_days_free(days, n);
    free(days);
    *known = proj.horizon_ms != INT64_MIN;
    return json_pack("{s:o, s:o}", "horizon", proj.horizon_ms == INT64_MIN ? json_null() : json_integer(proj.horizon_ms),
                     "days", list);
}

static int read_entities(const ew_config *cfg, const char **ids, size_t n_ids, bool hourly, int64_t from, int64_t to,
                         show_acc *acc)
{
    ew_state *st = ew_state_open(cfg);
    int rc = EW_EXIT_OK;
    for (size_t i = 0; i < n_ids && rc == EW_EXIT_OK; i++)
        if (ew_state_read_range(st, ids[i], hourly, from, to, on_window, acc) != EW_STATE_OK) {
            fprintf(stderr, "edgewatch state show: %s\n", ew_state_last_error(st));
            rc = EW_EXIT_RUNTIME;
        }
    ew_state_close(st);
    return rc;
}

static void free_acc(show_acc *acc)
{
    for (size_t i = 0; acc->steps && i < acc->n_steps; i++)
        for (int d = 0; d < EW_DIMS; d++)
            free(acc->steps[i].tops[d]);
    free(acc->steps);
}

static int show(const show_args *a, const ew_config *cfg)
{
    bool hourly = a->resolution && strcmp(a->resolution, "hour") == 0;
    int64_t from, to;
    int rc = parse_range(a, hourly, &from, &to);
    if (rc)
        return rc;
    show_acc acc = {.step_ms = hourly ? 3600000 : cfg->window_ms};
    acc.first_ms = ew_window_start(from, acc.step_ms);
    acc.n_steps = (size_t)((to - acc.first_ms + acc.step_ms - 1) / acc.step_ms);
    if (acc.n_steps > MAX_STEPS)
        return usage_error("the range holds more than 100000 windows; narrow it or use --resolution hour%s", "");
    char err[512];
    ew_metadata *m = ew_metadata_load(cfg->metadata_path, err, sizeof err);
    if (!m)
        return usage_error("%s", err);
    const char **ids = NULL;
    size_t n_ids = 0;
    rc = resolve_entities(a, m, &ids, &n_ids);
    if (rc == 0) {
        acc.steps = calloc(acc.n_steps, sizeof *acc.steps);
        rc = read_entities(cfg, ids, n_ids, hourly, from, to, &acc);
    }
    json_t *cost = NULL;
    bool has_cost = false;
    if (rc == 0 && a->project) {
        ew_state *st = ew_state_open(cfg);
        if (!(cost = read_cost(st, a->project, from, to, &has_cost)))
            rc = EW_EXIT_RUNTIME;
        ew_state_close(st);
    }
    /* A project is known by its distributions, the metadata's projects, or its costs. */
    if (rc == 0 && a->project && n_ids == 0 && !has_cost && !ew_metadata_project(m, a->project)) {
        rc = usage_error("no distribution or cost of project \"%s\" is known", a->project);
        json_decref(cost);
        cost = NULL;
    }
    if (rc == 0) {
        json_t *out = render(a, ids, n_ids, &acc, hourly, from, to);
        if (cost)
            json_object_set_new(out, "cost", cost);
        json_dumpf(out, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        fputc('\n', stdout);
        json_decref(out);
    }
    free_acc(&acc);
    free(ids);
    ew_metadata_free(m);
    return rc;
}

int ew_cmd_state(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(show_usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? EW_EXIT_USAGE : EW_EXIT_OK;
    }
    if (strcmp(argv[1], "show") != 0) {
        fprintf(stderr, "edgewatch state: unknown subcommand \"%s\" (known: show)\n", argv[1]);
        return EW_EXIT_USAGE;
    }
    show_args a = {0};
    int rc = parse_args(argc - 1, argv + 1, &a);
    if (rc)
        return rc < 0 ? EW_EXIT_OK : rc;
    ew_config cfg = {0};
    rc = ew_config_load_cli(&cfg, "state show", a.config, a.sets, a.n_sets);
    char err[256];
    if (rc == 0 && a.ns && !ew_config_set_namespace(&cfg, a.ns, err, sizeof err))
        rc = usage_error("%s", err);
    if (rc == 0)
        rc = show(&a, &cfg);
    ew_config_free(&cfg);
    return rc;
}
