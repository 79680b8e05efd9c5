/* main.c -- edgewatch-notify: delivers alert events from Kafka to receivers.
 *
 * Pipeline per message: consume -> decode + render (render.c) -> deliver
 * (stdout receiver for now; routing, Slack, webhooks and dedup come later
 * and slot in at deliver_line) -> commit.
 *
 * Delivery is at-least-once: a message's offset is committed synchronously
 * only after its line was written and flushed, so a crash re-delivers rather
 * than loses. A message that cannot be decoded is logged and committed (it
 * would fail the same way forever; a later issue routes it to the DLQ). If
 * the receiver itself fails, the notifier exits 1 *without* committing, so
 * the alert is delivered again after restart.
 */
#include "edgewatch/common.h"
#include "edgewatch/config.h"
#include "edgewatch/notify.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#define PROGRAM "edgewatch-notify"
#define DEFAULT_GROUP "edgewatch-notify"
#define DEFAULT_ALERTS_TOPIC "edgewatch-alerts"
#define POLL_TIMEOUT_MS 100

/* Set from the signal handler; the only mutable file-level state. */
static volatile sig_atomic_t stop_requested = 0;

typedef struct {
    const char *config_path;
    bool from_beginning;
} cli_options;

typedef enum { CLI_RUN, CLI_HELP, CLI_USAGE_ERROR } cli_result;

/* Partitions already rewound by --from-beginning. Only the first assignment
 * of each partition in this process is rewound: a later rebalance must resume
 * from the committed offsets, or every rebalance would replay the topic. */
typedef struct {
    bool enabled;
    int32_t *partitions;
    size_t n, cap;
} rewind_state;

typedef struct {
    rd_kafka_t *rk;
    char *line;       /* reusable render buffer, grown to EW_RENDER_CAP */
    size_t line_cap;
} notifier;

/* ---- command line ------------------------------------------------------------ */

static void print_usage(FILE *out)
{
    fprintf(out,
            "usage: " PROGRAM " -c FILE [--from-beginning] [--help]\n"
            "\n"
            "Consumes alert events from the alerts topic and writes one line per\n"
            "alert to stdout, committing each only after it was written.\n"
            "\n"
            "  -c FILE             configuration file (JSON)\n"
            "  --from-beginning    start each partition at its earliest offset,\n"
            "                      ignoring offsets committed by the group\n"
            "  -h, --help          show this help and exit\n"
            "\n"
            "Exit codes: 0 ok, 1 runtime failure, 2 usage or config error.\n");
}

static cli_result usage_error(const char *problem, const char *arg)
{
    fprintf(stderr, PROGRAM ": %s '%s' (see --help)\n", problem, arg);
    return CLI_USAGE_ERROR;
}

/* Names the option getopt just rejected: the whole word for long options,
 * the single letter for short ones (which may sit inside a bundle "-xc"). */
static cli_result reject_option(const char *problem, char **argv)
{
    const char *word = argv[optind - 1];
    if (strncmp(word, "--", 2) == 0 && strchr(word, '=') && optopt != 0)
        return usage_error("option takes no value", word); /* e.g. --help=yes */
    if (strncmp(word, "--", 2) == 0 || optopt == 0)
        return usage_error(problem, word);
    char letter[3] = {'-', (char)optopt, '\0'};
    return usage_error(problem, letter);
}

static cli_result parse_cli(int argc, char **argv, cli_options *opts)
{
    static const struct option long_opts[] = {
        {"from-beginning", no_argument, NULL, 'b'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    memset(opts, 0, sizeof *opts);
    opterr = 0; /* we print one clear line ourselves */
    int opt;
    while ((opt = getopt_long(argc, argv, ":c:h", long_opts, NULL)) != -1) {
        switch (opt) {
        case 'c': opts->config_path = optarg; break;
        case 'b': opts->from_beginning = true; break;
        case 'h': return CLI_HELP;
        case ':': return reject_option("missing value for option", argv);
        default: return reject_option("unknown option", argv);
        }
    }
    if (optind < argc)
        return usage_error("unexpected argument", argv[optind]);
    if (!opts->config_path) {
        fprintf(stderr, PROGRAM ": missing required option -c FILE (see --help)\n");
        return CLI_USAGE_ERROR;
    }
    return CLI_RUN;
}

/* ---- configuration ---------------------------------------------------------------- */

static bool load_config(const char *path, ew_config *cfg)
{
    ew_config_errors errs;
    memset(&errs, 0, sizeof errs);
    size_t problems = ew_config_load(cfg, path, &errs);
    if (problems == 0)
        return true;
    size_t shown = errs.n < 32 ? errs.n : 32;
    for (size_t i = 0; i < shown; i++)
        fprintf(stderr, PROGRAM ": %s\n", errs.lines[i]);
    if (problems > shown)
        fprintf(stderr, PROGRAM ": %s: %zu more problem(s) not shown\n", path, problems - shown);
    return false;
}

static const char *alerts_topic(const ew_config *cfg)
{
    return cfg->topic_alerts && *cfg->topic_alerts ? cfg->topic_alerts : DEFAULT_ALERTS_TOPIC;
}

static const char *notify_group(const ew_config *cfg)
{
    return cfg->notify_group && *cfg->notify_group ? cfg->notify_group : DEFAULT_GROUP;
}

/* ---- --from-beginning: rewind on first assignment ------------------------------------- */

static bool rewind_take(rewind_state *rw, int32_t partition)
{
    for (size_t i = 0; i < rw->n; i++)
        if (rw->partitions[i] == partition)
            return false;
    if (rw->n == rw->cap) {
        size_t cap = rw->cap ? rw->cap * 2 : 16;
        int32_t *grown = realloc(rw->partitions, cap * sizeof *grown);
        if (!grown)
            return true; /* not remembered: at worst it is rewound again (duplicates, never a miss) */
        rw->partitions = grown;
        rw->cap = cap;
    }
    rw->partitions[rw->n++] = partition;
    return true;
}

static void rewind_new_partitions(rewind_state *rw, rd_kafka_topic_partition_list_t *parts)
{
    for (int i = 0; i < parts->cnt; i++)
        if (rewind_take(rw, parts->elems[i].partition))
            parts->elems[i].offset = RD_KAFKA_OFFSET_BEGINNING;
}

/* Applies the assignment change with the call the active protocol requires:
 * the "kafka" passthrough may select cooperative-sticky. */
static void apply_assignment(rd_kafka_t *rk, rd_kafka_resp_err_t event, rd_kafka_topic_partition_list_t *parts)
{
    bool assign = event == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS;
    if (strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0) {
        rd_kafka_error_t *error = assign ? rd_kafka_incremental_assign(rk, parts) : rd_kafka_incremental_unassign(rk, parts);
        if (error) {
            ew_error("%s partitions: %s", assign ? "assigning" : "revoking", rd_kafka_error_string(error));
            rd_kafka_error_destroy(error);
        }
        return;
    }
    rd_kafka_resp_err_t err = rd_kafka_assign(rk, assign ? parts : NULL);
    if (err)
        ew_error("%s partitions: %s", assign ? "assigning" : "revoking", rd_kafka_err2str(err));
}

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t event, rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    rewind_state *rw = opaque;
    if (event == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        rewind_new_partitions(rw, parts);
        apply_assignment(rk, event, parts);
    } else if (event == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
        apply_assignment(rk, event, parts);
    } else {
        ew_error("rebalance failed: %s", rd_kafka_err2str(event));
        rd_kafka_assign(rk, NULL);
    }
}

/* ---- consumer ------------------------------------------------------------------------- */

static rd_kafka_t *create_consumer(const ew_config *cfg, rewind_state *rw)
{
    /* auto.offset.reset=earliest: alerts produced before this group first
     * joined must still be delivered. Auto-commit is off because offsets are
     * committed only after delivery. */
    const char *const extra[] = {
        "group.id", notify_group(cfg),
        "enable.auto.commit", "false",
        "auto.offset.reset", "earliest",
        NULL,
    };
    char err[512];
    rd_kafka_conf_t *conf = ew_config_kafka(cfg, extra, err, sizeof err);
    if (!conf) {
        ew_error("kafka configuration: %s", err);
        return NULL;
    }
    if (rw->enabled) {
        rd_kafka_conf_set_opaque(conf, rw);
        rd_kafka_conf_set_rebalance_cb(conf, rebalance_cb);
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    if (!rk) {
        rd_kafka_conf_destroy(conf); /* still ours when rd_kafka_new fails */
        ew_error("creating kafka consumer: %s", err);
        return NULL;
    }
    rd_kafka_poll_set_consumer(rk); /* client events arrive through consumer_poll */
    return rk;
}

static bool subscribe(rd_kafka_t *rk, const char *topic)
{
    rd_kafka_topic_partition_list_t *topics = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(topics, topic, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t err = rd_kafka_subscribe(rk, topics);
    rd_kafka_topic_partition_list_destroy(topics);
    if (err)
        ew_error("subscribing to %s: %s", topic, rd_kafka_err2str(err));
    return !err;
}

/* ---- per message: render -> deliver -> commit ------------------------------------------- */

static bool ensure_line_capacity(notifier *n, size_t json_len)
{
    size_t need = EW_RENDER_CAP(json_len);
    if (need <= n->line_cap)
        return true;
    char *grown = realloc(n->line, need);
    if (!grown)
        return false;
    n->line = grown;
    n->line_cap = need;
    return true;
}

/* The stdout receiver. Flushed per line so a downstream reader (and a crash
 * right after the commit) sees exactly what was acknowledged. */
static bool deliver_line(const char *line, size_t len)
{
    if (fwrite(line, 1, len, stdout) != len || fputc('\n', stdout) == EOF || fflush(stdout) != 0) {
        ew_error("writing to stdout: %s", strerror(errno));
        return false;
    }
    return true;
}

static void commit_message(rd_kafka_t *rk, const rd_kafka_message_t *msg)
{
    /* A failed commit is not fatal: the message is re-delivered after a
     * restart or rebalance (a duplicate, never a miss), and the next
     * successful commit on the partition supersedes this one. */
    rd_kafka_resp_err_t err = rd_kafka_commit_message(rk, msg, 0);
    if (err)
        ew_warn("commit of %s [%d] offset %lld failed: %s", rd_kafka_topic_name(msg->rkt), (int)msg->partition,
                (long long)msg->offset, rd_kafka_err2str(err));
}

static void warn_skipped(const rd_kafka_message_t *msg, const char *reason)
{
    ew_warn("skipping message topic=%s partition=%d offset=%lld: %s", rd_kafka_topic_name(msg->rkt),
            (int)msg->partition, (long long)msg->offset, reason);
}

/* Returns false only when delivery failed; the message is then left
 * uncommitted and the caller stops. */
static bool handle_alert(notifier *n, const rd_kafka_message_t *msg)
{
    if (!ensure_line_capacity(n, msg->len)) {
        ew_error("out of memory rendering message at offset %lld", (long long)msg->offset);
        return false;
    }
    char reason[256];
    int len = ew_render_alert_line(msg->payload, msg->len, n->line, n->line_cap, reason, sizeof reason);
    if (len < 0) {
        warn_skipped(msg, reason);
    } else if (!deliver_line(n->line, (size_t)len)) {
        return false;
    }
    commit_message(n->rk, msg);
    return true;
}

/* Returns false when the client hit a fatal error and must stop. */
static bool handle_consumer_error(rd_kafka_t *rk, const rd_kafka_message_t *msg)
{
    if (msg->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
        return true;
    if (msg->err == RD_KAFKA_RESP_ERR__FATAL) {
        char reason[512];
        rd_kafka_fatal_error(rk, reason, sizeof reason);
        ew_error("kafka fatal error: %s", reason);
        return false;
    }
    /* Transient (broker down, topic not created yet): librdkafka retries. */
    ew_warn("kafka: %s", rd_kafka_message_errstr(msg));
    return true;
}

static int run_loop(notifier *n)
{
    while (!stop_requested) {
        rd_kafka_message_t *msg = rd_kafka_consumer_poll(n->rk, POLL_TIMEOUT_MS);
        if (!msg)
            continue;
        bool ok = msg->err ? handle_consumer_error(n->rk, msg) : handle_alert(n, msg);
        rd_kafka_message_destroy(msg);
        if (!ok)
            return EW_EXIT_RUNTIME;
    }
    return EW_EXIT_OK;
}

/* ---- process -------------------------------------------------------------------------- */

static void on_stop_signal(int signo)
{
    (void)signo;
    stop_requested = 1;
}

static void install_signal_handlers(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    /* A closed stdout pipe must surface as a write error (exit 1, message
     * not committed), not kill the process before it can log why. */
    signal(SIGPIPE, SIG_IGN);
}

static int consume(const ew_config *cfg, bool from_beginning)
{
    rewind_state rw = {.enabled = from_beginning};
    notifier n = {0};
    n.rk = create_consumer(cfg, &rw);
    if (!n.rk) {
        free(rw.partitions);
        return EW_EXIT_RUNTIME;
    }
    int rc = EW_EXIT_RUNTIME;
    if (subscribe(n.rk, alerts_topic(cfg))) {
        ew_info("consuming %s as group %s%s", alerts_topic(cfg), notify_group(cfg),
                from_beginning ? " from the beginning" : "");
        rc = run_loop(&n);
    }
    rd_kafka_consumer_close(n.rk); /* leaves the group; may invoke rebalance_cb */
    rd_kafka_destroy(n.rk);
    free(n.line);
    free(rw.partitions);
    return rc;
}

int main(int argc, char **argv)
{
    cli_options opts;
    switch (parse_cli(argc, argv, &opts)) {
    case CLI_HELP: print_usage(stdout); return EW_EXIT_OK;
    case CLI_USAGE_ERROR: return EW_EXIT_USAGE;
    case CLI_RUN: break;
    }
    ew_config cfg;
    memset(&cfg, 0, sizeof cfg);
    if (!load_config(opts.config_path, &cfg)) {
        ew_config_free(&cfg);
        return EW_EXIT_USAGE;
    }
    install_signal_handlers();
    int rc = consume(&cfg, opts.from_beginning);
    ew_config_free(&cfg);
    if (rc == EW_EXIT_OK)
        ew_info("stopped");
    return rc;
}
