/* suppress_cli.c -- `edgewatch silence` and `edgewatch event`: add, list, rm.
 *
 * The two commands differ only in the hash they write and in the event's
 * expected multiplier, so one parser serves both, with a table of which
 * options each verb takes. All the rules of an entry live in
 * processor/suppress.c; this file checks arguments first only to name
 * the offending option (--to, not to_ms) in its one-line usage errors.
 */
#include "edgewatch/common.h"
#include "edgewatch/config.h"
#include "edgewatch/metadata.h"
#include "edgewatch/suppress.h"
#include "edgewatch/tools.h"

#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_SETS 64

typedef struct {
    ew_suppress_kind kind;
    const char *cmd;   /* "silence add", for messages */
    const char *config, *project, *distribution, *rule, *from, *to, *reason, *multiplier, *ns, *id;
    bool all;
    const char *sets[MAX_SETS];
    size_t n_sets;
} cli_args;

typedef struct {
    const char *name;
    const char *allowed;                       /* option letters the verb takes */
    const char *usage[2];                      /* silence, event */
    int (*run)(const cli_args *a, const ew_config *cfg);
} verb;

static const char silence_usage[] =
    "usage: edgewatch silence add|list|rm -c FILE [options]\n"
    "\n"
    "Silences mark the alerts of a project or distribution during a time range:\n"
    "they are still published, with suppressed_by set to the silence's id\n"
    "(docs/suppression.md). Stored in Valkey, in the hash <prefix>silences.\n"
    "\n"
    "  add    register a silence; prints its id (sil-…)\n"
    "  list   print the silences as JSON lines, by start time\n"
    "  rm     remove a silence by id\n"
    "\n"
    "Run 'edgewatch silence VERB --help' for a verb's options.\n"
    "Exit codes: 0 ok, 1 runtime failure (Valkey unreachable, unknown id),\n"
    "2 usage or configuration error.\n";

static const char event_usage[] =
    "usage: edgewatch event add|list|rm -c FILE [options]\n"
    "\n"
    "Expected events (promotions, app pushes, load tests) tell the detectors how\n"
    "much traffic to expect: up to MULTIPLIER x the baseline, an alert is published\n"
    "with suppressed_by set to the event's id (docs/suppression.md). Stored in\n"
    "Valkey, in the hash <prefix>events.\n"
    "\n"
    "  add    register an expected event; prints its id (evt-…)\n"
    "  list   print the events as JSON lines, by start time\n"
    "  rm     remove an event by id\n"
    "\n"
    "Run 'edgewatch event VERB --help' for a verb's options.\n"
    "Exit codes: 0 ok, 1 runtime failure (Valkey unreachable, unknown id),\n"
    "2 usage or configuration error.\n";

#define COMMON_OPTIONS                                                                                             \
    "      --namespace NS       use a replay's or experiment's namespace instead of live state\n"                 \
    "      --set KEY=VALUE      override one setting\n"                                                          \
    "  -h, --help               this help\n"

#define TARGET_OPTIONS                                                                                             \
    "  -c, --config FILE        configuration file (Valkey address, prefix, metadata)\n"                          \
    "      --project P          every distribution of project P\n"                                               \
    "      --distribution D     one distribution: its id, or a domain or alias that the\n"                       \
    "                           metadata file resolves to an id (else stored as given)\n"                         \
    "      --rule R             only alerts of rule R: request_spike request_drop\n"                             \
    "                           error_403_rate error_5xx_rate cache_hit_drop\n"                                   \
    "                           origin_latency cost_spike (default: every rule)\n"                                \
    "      --from T, --to T     the range [from, to): RFC 3339 or epoch seconds\n"                               \
    "      --reason TEXT        why, 1-200 bytes; shown with the alerts it marks\n"

static const char silence_add_usage[] =
    "usage: edgewatch silence add -c FILE (--project P | --distribution D) [--rule R]\n"
    "                             --from T --to T --reason TEXT [--namespace NS]\n"
    "\n"
    "Registers a silence and prints its id. Also removes silences that ended\n"
    "more than state.retention ago.\n"
    "\n" TARGET_OPTIONS COMMON_OPTIONS;

static const char event_add_usage[] =
    "usage: edgewatch event add -c FILE (--project P | --distribution D) [--rule R]\n"
    "                           --from T --to T --expect-multiplier X --reason TEXT\n"
    "                           [--namespace NS]\n"
    "\n"
    "Registers an expected event and prints its id. Also removes events that ended\n"
    "more than state.retention ago.\n"
    "\n" TARGET_OPTIONS
    "      --expect-multiplier X  traffic up to X times the baseline is expected\n"
    "                           (a finite number > 0)\n" COMMON_OPTIONS;

static const char silence_list_usage[] =
    "usage: edgewatch silence list -c FILE [--all] [--namespace NS]\n"
    "\n"
    "Prints one JSON object per silence, sorted by from_ms then id. Without --all,\n"
    "only silences that have not ended yet.\n"
    "\n"
    "  -c, --config FILE        configuration file\n"
    "      --all                also the silences that have ended\n" COMMON_OPTIONS;

static const char event_list_usage[] =
    "usage: edgewatch event list -c FILE [--all] [--namespace NS]\n"
    "\n"
    "Prints one JSON object per expected event, sorted by from_ms then id.\n"
    "Without --all, only events that have not ended yet.\n"
    "\n"
    "  -c, --config FILE        configuration file\n"
    "      --all                also the events that have ended\n" COMMON_OPTIONS;

static const char silence_rm_usage[] =
    "usage: edgewatch silence rm -c FILE ID [--namespace NS]\n"
    "\n"
    "Removes the silence ID (sil-…). Exit 1 when there is no such silence.\n"
    "\n"
    "  -c, --config FILE        configuration file\n" COMMON_OPTIONS;

static const char event_rm_usage[] =
    "usage: edgewatch event rm -c FILE ID [--namespace NS]\n"
    "\n"
    "Removes the expected event ID (evt-…). Exit 1 when there is no such event.\n"
    "\n"
    "  -c, --config FILE        configuration file\n" COMMON_OPTIONS;

static int usage_error(const cli_args *a, const char *fmt, const char *arg)
{
    fprintf(stderr, "edgewatch %s: ", a->cmd);
    fprintf(stderr, fmt, arg);
    fputc('\n', stderr);
    return EW_EXIT_USAGE;
}

static int runtime_error(const cli_args *a, const char *msg)
{
    fprintf(stderr, "edgewatch %s: %s\n", a->cmd, msg);
    return EW_EXIT_RUNTIME;
}

/* ---- argument parsing ---- */

static int store_option(cli_args *a, int c, const char *value)
{
    switch (c) {
    case 'c': a->config = value; break;
    case 'p': a->project = value; break;
    case 'd': a->distribution = value; break;
    case 'r': a->rule = value; break;
    case 'f': a->from = value; break;
    case 't': a->to = value; break;
    case 'R': a->reason = value; break;
    case 'm': a->multiplier = value; break;
    case 'n': a->ns = value; break;
    case 'a': a->all = true; break;
    case 's':
        if (a->n_sets == MAX_SETS)
            return usage_error(a, "more than 64 --set options%s", "");
        a->sets[a->n_sets++] = value;
        break;
    }
    return 0;
}

/* Returns 0, -1 after --help, or an exit code. */
static int parse_args(int argc, char **argv, const verb *v, cli_args *a)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},   {"project", required_argument, NULL, 'p'},
        {"distribution", required_argument, NULL, 'd'}, {"rule", required_argument, NULL, 'r'},
        {"from", required_argument, NULL, 'f'},     {"to", required_argument, NULL, 't'},
        {"reason", required_argument, NULL, 'R'},   {"expect-multiplier", required_argument, NULL, 'm'},
        {"namespace", required_argument, NULL, 'n'}, {"all", no_argument, NULL, 'a'},
        {"set", required_argument, NULL, 's'},      {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c, rc, idx = -1;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":c:h", opts, &idx)) != -1) {
        if (c == 'h') {
            fputs(v->usage[a->kind], stdout);
            return -1;
        }
        if (c == ':')
            return usage_error(a, "option %s needs a value", argv[optind - 1]);
        if (c == '?')
            return usage_error(a, "unknown option %s (see --help)", argv[optind - 1]);
        /* Known to the parser but not to this verb: argv[optind - 1] may be
         * the option's value by now, so name the option from the table. */
        if (!strchr(v->allowed, c))
            return usage_error(a, "option --%s is not used by this command (see --help)", opts[idx].name);
        if ((rc = store_option(a, c, optarg)) != 0)
            return rc;
    }
    bool wants_id = strcmp(v->name, "rm") == 0;
    if (wants_id && optind < argc)
        a->id = argv[optind++];
    if (optind < argc)
        return usage_error(a, "unexpected argument \"%s\" (see --help)", argv[optind]);
    if (!a->config)
        return usage_error(a, "-c FILE is required%s", "");
    if (wants_id && !a->id)
        return usage_error(a, "the id to remove is required%s", "");
    return 0;
}

/* ---- add ---- */

static int need(const cli_args *a, const char *value, const char *option)
{
    return value ? 0 : usage_error(a, "%s is required", option);
}

static int parse_time(const cli_args *a, const char *option, const char *text, int64_t *ms)
{
    if (ew_parse_time_ms(text, ms))
        return 0;
    fprintf(stderr, "edgewatch %s: %s \"%s\" is not RFC 3339 or epoch seconds\n", a->cmd, option, text);
    return EW_EXIT_USAGE;
}

static int parse_multiplier(const cli_args *a, double *out)
{
    char *end;
    *out = strtod(a->multiplier, &end);
    if (end == a->multiplier || *end || !isfinite(*out) || *out <= 0)
        return usage_error(a, "--expect-multiplier must be a finite number > 0, got \"%s\"", a->multiplier);
    return 0;
}

static int check_target(const cli_args *a)
{
    if (!a->project == !a->distribution)
        return usage_error(a, "give exactly one of --project P or --distribution D%s", "");
    const char *name = a->project ? a->project : a->distribution;
    if (!*name || strlen(name) > 127)
        return usage_error(a, "%s must be 1-127 bytes", a->project ? "--project" : "--distribution");
    if (a->rule && !ew_suppress_rule_known(a->rule))
        return usage_error(a,
                           "unknown --rule \"%s\" (known: request_spike request_drop error_403_rate error_5xx_rate "
                           "cache_hit_drop origin_latency cost_spike)",
                           a->rule);
    return 0;
}

static int check_reason(const cli_args *a)
{
    if (!*a->reason)
        return usage_error(a, "--reason must not be empty%s", "");
    if (strlen(a->reason) > EW_SUPPRESS_REASON_MAX)
        return usage_error(a, "--reason is longer than 200 bytes%s", "");
    return 0;
}

/* Fills everything but the target from the arguments. */
static int entry_from_args(const cli_args *a, ew_suppression *s)
{
    int rc;
    memset(s, 0, sizeof *s);
    s->kind = a->kind;
    if ((rc = need(a, a->from, "--from")) || (rc = need(a, a->to, "--to")) || (rc = need(a, a->reason, "--reason")) ||
        (a->kind == EW_SUPPRESS_EVENT && (rc = need(a, a->multiplier, "--expect-multiplier"))))
        return rc;
    if ((rc = check_target(a)) || (rc = check_reason(a)) || (rc = parse_time(a, "--from", a->from, &s->from_ms)) ||
        (rc = parse_time(a, "--to", a->to, &s->to_ms)))
        return rc;
    if (s->to_ms <= s->from_ms)
        return usage_error(a, "--to must be after --from%s", "");
    if (a->kind == EW_SUPPRESS_EVENT && (rc = parse_multiplier(a, &s->multiplier)))
        return rc;
    snprintf(s->rule, sizeof s->rule, "%s", a->rule ? a->rule : "");
    snprintf(s->reason, sizeof s->reason, "%s", a->reason);
    return 0;
}

/* Alerts name distributions by id, so a domain or alias given here is
 * stored as the id the metadata maps it to; unknown names stay as given,
 * as with `state show`. */
static int set_target(const cli_args *a, const ew_config *cfg, ew_suppression *s)
{
    if (a->project) {
        snprintf(s->project, sizeof s->project, "%s", a->project);
        return 0;
    }
    char err[512];
    ew_metadata *m = ew_metadata_load(cfg->metadata_path, err, sizeof err);
    if (!m)
        return usage_error(a, "%s", err);
    const ew_distribution *d = ew_metadata_by_domain(m, ew_str_make(a->distribution, strlen(a->distribution)));
    snprintf(s->distribution, sizeof s->distribution, "%s", d ? d->id : a->distribution);
    ew_metadata_free(m);
    return 0;
}

static int64_t wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int run_add(const cli_args *a, const ew_config *cfg)
{
    ew_suppression s;
    int rc = entry_from_args(a, &s);
    if (rc == 0)
        rc = set_target(a, cfg, &s);
    if (rc)
        return rc;
    int64_t now_ns = wall_ns();
    s.created_ms = now_ns / 1000000;
    ew_suppression_make_id(&s, now_ns);
    char err[512];
    if (!ew_suppression_check(&s, err, sizeof err))
        return usage_error(a, "%s", err);
    size_t pruned;
    if (!ew_suppression_store(cfg, &s, s.created_ms, &pruned, err, sizeof err))
        return runtime_error(a, err);
    if (pruned)
        ew_info("removed %zu %ss that ended more than state.retention ago", pruned, ew_suppress_kind_name(a->kind));
    printf("%s\n", s.id);
    return EW_EXIT_OK;
}

/* ---- list, rm ---- */

static int run_list(const cli_args *a, const ew_config *cfg)
{
    ew_suppressions all;
    ew_suppressions_init(&all);
    char err[512];
    if (!ew_suppressions_load_valkey(cfg, &all, err, sizeof err)) {
        ew_suppressions_free(&all);
        return runtime_error(a, err);
    }
    ew_suppressions_sort(&all);
    int64_t now = ew_now_ms();
    for (size_t i = 0; i < all.n; i++) {
        const ew_suppression *s = &all.items[i];
        if (s->kind != a->kind || (!a->all && s->to_ms <= now))
            continue;
        char *json = ew_suppression_to_json(s);
        printf("%s\n", json);
        free(json);
    }
    ew_suppressions_free(&all);
    return EW_EXIT_OK;
}

static int run_rm(const cli_args *a, const ew_config *cfg)
{
    /* An event id given to `silence rm` (or the reverse) is a slip worth
     * naming, not a missing entry. */
    if (strncmp(a->id, a->kind == EW_SUPPRESS_EVENT ? "evt-" : "sil-", 4) != 0)
        return usage_error(a, "\"%s\" is not an id of this kind (see the list command)", a->id);
    char err[512];
    int rc = ew_suppression_remove(cfg, a->kind, a->id, err, sizeof err);
    if (rc < 0)
        return runtime_error(a, err);
    if (rc == 0) {
        snprintf(err, sizeof err, "no %s \"%s\" (see the list command)", ew_suppress_kind_name(a->kind), a->id);
        return runtime_error(a, err);
    }
    return EW_EXIT_OK;
}

/* ---- dispatch ---- */

static const verb verbs[] = {
    {"add", "cpdrftRnsh", {silence_add_usage, event_add_usage}, run_add},
    {"list", "cansh", {silence_list_usage, event_list_usage}, run_list},
    {"rm", "cnsh", {silence_rm_usage, event_rm_usage}, run_rm},
};

static int run_verb(const verb *v, cli_args *a, int argc, char **argv)
{
    int rc = parse_args(argc, argv, v, a);
    if (rc)
        return rc < 0 ? EW_EXIT_OK : rc;
    ew_config cfg = {0};
    rc = ew_config_load_cli(&cfg, a->cmd, a->config, a->sets, a->n_sets);
    char err[256];
    if (rc == 0 && a->ns && !ew_config_set_namespace(&cfg, a->ns, err, sizeof err))
        rc = usage_error(a, "%s", err);
    if (rc == 0)
        rc = v->run(a, &cfg);
    ew_config_free(&cfg);
    return rc;
}

static int run_kind(ew_suppress_kind kind, int argc, char **argv)
{
    const char *name = ew_suppress_kind_name(kind);
    const char *overview = kind == EW_SUPPRESS_EVENT ? event_usage : silence_usage;
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        fputs(overview, stdout);
        return EW_EXIT_OK;
    }
    if (argc < 2) {
        fprintf(stderr, "edgewatch %s: a verb is required: add, list or rm (see --help)\n", name);
        return EW_EXIT_USAGE;
    }
    for (size_t i = 0; i < sizeof verbs / sizeof *verbs; i++) {
        if (strcmp(argv[1], verbs[i].name) != 0)
            continue;
        char cmd[32];
        snprintf(cmd, sizeof cmd, "%s %s", name, verbs[i].name);
        cli_args a = {.kind = kind, .cmd = cmd};
        /* The event verb of add also takes --expect-multiplier. */
        verb v = verbs[i];
        if (kind == EW_SUPPRESS_EVENT && v.run == run_add)
            v.allowed = "cpdrftRmnsh";
        return run_verb(&v, &a, argc - 1, argv + 1);
    }
    fprintf(stderr, "edgewatch %s: unknown verb \"%s\" (known: add, list, rm)\n", name, argv[1]);
    return EW_EXIT_USAGE;
}

int ew_cmd_silence(int argc, char **argv) { return run_kind(EW_SUPPRESS_SILENCE, argc, argv); }

int ew_cmd_event(int argc, char **argv) { return run_kind(EW_SUPPRESS_EVENT, argc, argv); }
