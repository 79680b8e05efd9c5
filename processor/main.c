/* main.c -- the `edgewatch` command line: dispatch to subcommands.
 *
 * The only mutable global of the program lives here: the stop flag set by
 * SIGTERM/SIGINT, which the processor loop polls.
 */
#include "edgewatch/common.h"
#include "edgewatch/config.h"
#include "edgewatch/metadata.h"
#include "edgewatch/notify.h"
#include "edgewatch/pipeline.h"
#include "edgewatch/replay.h"
#include "edgewatch/tools.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

static volatile sig_atomic_t stop_requested;
static volatile sig_atomic_t reload_requested;

static void on_hangup(int sig)
{
    (void)sig;
    reload_requested = 1;
}

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static const char usage[] =
    "usage: edgewatch COMMAND [options]\n"
    "\n"
    "Stream processor for CloudFront real-time logs: event-time windows in Valkey,\n"
    "anomaly scoring per distribution, alert events on Kafka.\n"
    "\n"
    "commands:\n"
    "  run -c FILE        join the consumer group and process until SIGTERM/SIGINT\n"
    "  replay -c FILE     run history (files or a topic time range) through the pipeline,\n"
    "                     into isolated state; alerts as JSON lines\n"
    "  check -c FILE      validate a configuration; print every problem\n"
    "  state show -c FILE print stored aggregates of a distribution or project as JSON\n"
    "  score --rule R     run one detector over a timestamp,value CSV; print anomaly scores\n"
    "  silence add|list|rm\n"
    "                     silences: mark a project's or distribution's alerts in a time range\n"
    "  event add|list|rm  expected traffic events (promotions, pushes, load tests)\n"
    "  dev-kafka          run the embedded Kafka broker (librdkafka mock cluster)\n"
    "  gen                write synthetic CloudFront logs with labelled anomalies\n"
    "  version            print the version\n"
    "\n"
    "Run 'edgewatch COMMAND --help' for a command's options.\n"
    "Exit codes: 0 ok, 1 runtime failure, 2 usage or configuration error.\n";

static const char run_usage[] =
    "usage: edgewatch run -c FILE [--set key=value]...\n"
    "\n"
    "Joins the consumer group (kafka.group.id) on the CloudFront topic, keeps\n"
    "windowed aggregates in Valkey and publishes alert events. Runs until\n"
    "SIGTERM or SIGINT, then flushes, stores offsets and leaves the group.\n"
    "\n"
    "  -c, --config FILE     configuration file (docs/configuration.md)\n"
    "      --set KEY=VALUE   override one setting, e.g. --set window.width=30s\n"
    "  -h, --help            this help\n"
    "\n"
    "Environment: EDGEWATCH_BROKERS, EDGEWATCH_GROUP_ID, EDGEWATCH_VALKEY_ADDR,\n"
    "EDGEWATCH_VALKEY_PASSWORD override the file; EDGEWATCH_LOG_LEVEL=debug|info|warn|error.\n";

static const char check_usage[] =
    "usage: edgewatch check -c FILE [--set key=value]...\n"
    "\n"
    "Validates the configuration, and the metadata file it names (with its rule\n"
    "overrides), and prints every problem, one per line. Exit 0 when valid, 2 otherwise.\n";

/* Parses -c/--set shared by run and check; returns 0, or an exit code. */
static int load_config(int argc, char **argv, const char *help, ew_config *cfg)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"set", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *path = NULL;
    const char *sets[64];
    size_t n_sets = 0;
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":c:h", opts, NULL)) != -1) {
        if (c == 'c')
            path = optarg;
        else if (c == 's' && n_sets < 64)
            sets[n_sets++] = optarg;
        else if (c == 'h') {
            fputs(help, stdout);
            return -1;
        } else if (c == ':') {
            fprintf(stderr, "edgewatch %s: option %s needs a value\n", argv[0], argv[optind - 1]);
            return EW_EXIT_USAGE;
        } else {
            fprintf(stderr, "edgewatch %s: unknown option %s (see --help)\n", argv[0], argv[optind - 1]);
            return EW_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "edgewatch %s: unexpected argument \"%s\" (see --help)\n", argv[0], argv[optind]);
        return EW_EXIT_USAGE;
    }
    if (!path) {
        fprintf(stderr, "edgewatch %s: -c FILE is required\n", argv[0]);
        return EW_EXIT_USAGE;
    }
    return ew_config_load_cli(cfg, argv[0], path, sets, n_sets);
}

static int cmd_run(int argc, char **argv)
{
    ew_config cfg = {0};
    int rc = load_config(argc, argv, run_usage, &cfg);
    if (rc == 0) {
        struct sigaction sa = {.sa_handler = on_signal};
        sigemptyset(&sa.sa_mask);
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGINT, &sa, NULL);
        struct sigaction hup = {.sa_handler = on_hangup};
        sigemptyset(&hup.sa_mask);
        sigaction(SIGHUP, &hup, NULL);
        rc = ew_pipeline_run(&cfg, &stop_requested, &reload_requested);
    }
    ew_config_free(&cfg);
    return rc < 0 ? 0 : rc;
}

static int cmd_replay(int argc, char **argv)
{
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    return ew_cmd_replay(argc, argv, &stop_requested);
}

/* What `run` would refuse at start: a metadata file that does not load, or
 * whose rule overrides are invalid. */
static int check_metadata(const ew_config *cfg)
{
    char err[512];
    ew_metadata *m = ew_metadata_load_for(cfg, err, sizeof err);
    bool ok = m != NULL;
    ew_metadata_free(m);
    if (ok)
        return 0;
    fprintf(stderr, "edgewatch check: %s\n", err);
    return EW_EXIT_USAGE;
}

/* What edgewatch-notify would refuse at start: its routes and receivers. */
static int check_notify(const ew_config *cfg)
{
    ew_config_errors errs = {0};
    ew_notify_config nc;
    ew_notify_config_load(&nc, cfg, &errs);
    ew_notify_config_free(&nc);
    for (size_t i = 0; i < errs.n; i++)
        fprintf(stderr, "edgewatch check: %s\n", errs.lines[i]);
    return errs.n ? EW_EXIT_USAGE : 0;
}

static int cmd_check(int argc, char **argv)
{
    ew_config cfg = {0};
    int rc = load_config(argc, argv, check_usage, &cfg);
    if (rc == 0)
        rc = check_metadata(&cfg);
    if (rc == 0)
        rc = check_notify(&cfg);
    if (rc == 0)
        printf("configuration ok\n");
    ew_config_free(&cfg);
    return rc < 0 ? 0 : rc;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage, stderr);
        return EW_EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        fputs(usage, stdout);
        return EW_EXIT_OK;
    }
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        printf("edgewatch %s\n", EW_VERSION);
        return EW_EXIT_OK;
    }
    if (strcmp(cmd, "run") == 0)
        return cmd_run(argc - 1, argv + 1);
    if (strcmp(cmd, "check") == 0)
        return cmd_check(argc - 1, argv + 1);
    if (strcmp(cmd, "dev-kafka") == 0)
        return ew_cmd_dev_kafka(argc - 1, argv + 1);
    if (strcmp(cmd, "gen") == 0)
        return ew_cmd_gen(argc - 1, argv + 1);
    if (strcmp(cmd, "replay") == 0)
        return cmd_replay(argc - 1, argv + 1);
    if (strcmp(cmd, "state") == 0)
        return ew_cmd_state(argc - 1, argv + 1);
    if (strcmp(cmd, "score") == 0)
        return ew_cmd_score(argc - 1, argv + 1);
    if (strcmp(cmd, "silence") == 0)
        return ew_cmd_silence(argc - 1, argv + 1);
    if (strcmp(cmd, "event") == 0)
        return ew_cmd_event(argc - 1, argv + 1);
    fprintf(stderr, "edgewatch: unknown command \"%s\" (see edgewatch --help)\n", cmd);
    return EW_EXIT_USAGE;
}
