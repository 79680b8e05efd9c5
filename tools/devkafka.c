/* devkafka.c -- `edgewatch dev-kafka`: an embedded Kafka for development and tests.
 *
 * librdkafka ships a mock cluster that speaks the Kafka wire protocol on real
 * loopback ports. This subcommand owns one in its own process so that the
 * processor, the generator and kcat can all connect to it like to any Kafka
 * cluster, without a JVM or Docker. It creates the edgewatch topics up front
 * (auto-created topics would get the mock's default partition count, not
 * ours), prints the bootstrap list as the first and only line of stdout
 * outside of control answers, and runs until SIGTERM or SIGINT.
 *
 * The mock's fault-injection calls only work inside the process that owns
 * the cluster, so with --control the process also reads one command per line
 * on stdin and answers each with exactly one line on stdout, "ok" or
 * "error: ...". That lets test scripts take brokers down or slow them from
 * the outside. EOF on stdin then means quit, so a test harness that dies
 * cannot leave the broker running.
 *
 *   broker-down ID            disconnect broker ID (-1: all), refuse connects
 *   broker-up ID              accept connections again
 *   rtt ID MS                 add MS milliseconds round-trip delay
 *   topic-create NAME PARTS   create a topic
 *   leader TOPIC PART ID      move a partition's leadership (-1: leaderless)
 *   quit                      answer ok, then shut down
 *
 * Every control call is a synchronous request to the mock's own thread; in
 * librdkafka 2.0.2 that thread sometimes misses its wakeup and answers only
 * at its next 1 s poll tick, so clients should allow a few seconds per
 * command (and for startup, which creates each topic the same way).
 *
 * The mock keeps its log in memory and, per partition, drops the oldest
 * record batches once they exceed 5 MiB (or 100,000 batches, a limit the
 * 61-byte batch header makes unreachable first). Measured: 200,000 100-byte
 * records into one partition leave the last ~40,000. It is a development
 * broker, not a place to keep data.
 *
 * Signals: SIGINT/SIGTERM are blocked in every thread (librdkafka's threads
 * inherit the mask) and only let through inside ppoll(), so a signal can
 * never be lost between checking the stop flag and going to sleep.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* ppoll; the Makefile also passes -D_GNU_SOURCE */
#endif
#include "edgewatch/tools.h"
#include "edgewatch/common.h"

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#define DEFAULT_TOPICS "cloudfront-realtime-logs,billing-events,edgewatch-alerts,edgewatch-dlq"
#define DEFAULT_BROKERS 1
#define DEFAULT_PARTITIONS 4
#define MAX_BROKERS 64
#define MAX_PARTITIONS 10000
#define MAX_TOPIC_NAME 249 /* Kafka's own limit */
#define CONTROL_LINE_MAX 512
#define CONTROL_MAX_ARGS 4

/* The one piece of mutable process state: set by the signal handler. */
static volatile sig_atomic_t stop_requested;

typedef struct {
    int brokers;
    int partitions;
    const char *topics; /* comma-separated */
    bool control;
} devkafka_opts;

typedef struct {
    rd_kafka_t *rk;
    rd_kafka_mock_cluster_t *mcluster;
    int brokers;
} devkafka_cluster;

/* Accumulates stdin bytes into lines; a line longer than the buffer is
 * discarded as a whole and answered with one error. */
typedef struct {
    char buf[CONTROL_LINE_MAX];
    size_t len;
    bool overflowed;
} line_reader;

/* ------------------------------------------------------------------------ */
/* Argument parsing                                                          */
/* ------------------------------------------------------------------------ */

static void print_usage(FILE *out)
{
    fprintf(out,
            "usage: edgewatch dev-kafka [--brokers N] [--partitions P] [--topics a,b,...] [--control]\n"
            "\n"
            "Runs librdkafka's mock Kafka cluster on loopback ports, prints its\n"
            "bootstrap list on stdout and serves until SIGTERM/SIGINT.\n"
            "\n"
            "  --brokers N      number of brokers, 1..%d (default %d)\n"
            "  --partitions P   partitions per created topic, 1..%d (default %d)\n"
            "  --topics LIST    topics to create (default %s)\n"
            "  --control        read control commands from stdin, answer on stdout;\n"
            "                   EOF on stdin stops the cluster. Commands:\n"
            "                     broker-down ID | broker-up ID | rtt ID MS |\n"
            "                     topic-create NAME PARTITIONS | leader TOPIC PARTITION ID | quit\n"
            "  --help           this text\n",
            MAX_BROKERS, DEFAULT_BROKERS, MAX_PARTITIONS, DEFAULT_PARTITIONS, DEFAULT_TOPICS);
}

/* Parses a whole-string decimal int in [lo, hi]; "-1" is allowed when lo is -1
 * because broker id -1 means "all brokers" to the mock. */
static bool parse_int_in(const char *text, int lo, int hi, int *out)
{
    bool negative = text[0] == '-';
    uint64_t v;
    if (!ew_parse_u64(ew_str_make(text + negative, strlen(text + negative)), &v))
        return false;
    if (v > (uint64_t)hi + (negative ? 1 : 0))
        return false;
    int value = negative ? -(int)v : (int)v;
    if (value < lo || value > hi)
        return false;
    *out = value;
    return true;
}

static bool topic_name_valid(const char *name, size_t len)
{
    if (len == 0 || len > MAX_TOPIC_NAME)
        return false;
    for (size_t i = 0; i < len; i++) {
        char ch = name[i];
        bool legal = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                     (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-';
        if (!legal)
            return false;
    }
    return true;
}

/* Checks every comma-separated name so that a typo fails before any broker
 * starts, not halfway through topic creation. */
static bool topic_list_valid(const char *list)
{
    const char *p = list;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (!topic_name_valid(p, len)) {
            ew_error("dev-kafka: --topics: invalid topic name '%.*s' "
                     "(1..%d of [a-zA-Z0-9._-])", (int)len, p, MAX_TOPIC_NAME);
            return false;
        }
        if (!comma)
            return true;
        p = comma + 1;
    }
}

/* The flag as the user typed it, for error messages. */
static const char *offending_flag(char **argv, char *shortbuf)
{
    if (optopt) {
        shortbuf[0] = '-';
        shortbuf[1] = (char)optopt;
        shortbuf[2] = '\0';
        return shortbuf;
    }
    return argv[optind - 1];
}

static bool apply_option(devkafka_opts *opts, int opt, const char *value)
{
    switch (opt) {
    case 'b':
        if (parse_int_in(value, 1, MAX_BROKERS, &opts->brokers))
            return true;
        ew_error("dev-kafka: --brokers: '%s' is not a number in 1..%d", value, MAX_BROKERS);
        return false;
    case 'p':
        if (parse_int_in(value, 1, MAX_PARTITIONS, &opts->partitions))
            return true;
        ew_error("dev-kafka: --partitions: '%s' is not a number in 1..%d", value, MAX_PARTITIONS);
        return false;
    case 't':
        opts->topics = value;
        return topic_list_valid(value);
    case 'c':
        opts->control = true;
        return true;
    }
    return false;
}

/* Returns -1 to proceed, otherwise the exit code (0 for --help). */
static int parse_args(int argc, char **argv, devkafka_opts *opts)
{
    static const struct option long_opts[] = {
        {"brokers", required_argument, NULL, 'b'},
        {"partitions", required_argument, NULL, 'p'},
        {"topics", required_argument, NULL, 't'},
        {"control", no_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    *opts = (devkafka_opts){DEFAULT_BROKERS, DEFAULT_PARTITIONS, DEFAULT_TOPICS, false};
    /* main() may have run getopt already; glibc resets fully on optind = 0.
     * opterr = 0 because we print our own one-line messages. */
    optind = 0;
    opterr = 0;
    char shortbuf[3];
    int opt;
    while ((opt = getopt_long(argc, argv, ":b:p:t:ch", long_opts, NULL)) != -1) {
        if (opt == 'h') {
            print_usage(stdout);
            return EW_EXIT_OK;
        }
        if (opt == '?') {
            ew_error("dev-kafka: unknown option '%s' (see --help)", offending_flag(argv, shortbuf));
            return EW_EXIT_USAGE;
        }
        if (opt == ':') {
            /* optopt holds the short alias even for --long here; argv has what was typed. */
            ew_error("dev-kafka: option '%s' needs a value", argv[optind - 1]);
            return EW_EXIT_USAGE;
        }
        if (!apply_option(opts, opt, optarg))
            return EW_EXIT_USAGE;
    }
    if (optind < argc) {
        ew_error("dev-kafka: unexpected argument '%s' (see --help)", argv[optind]);
        return EW_EXIT_USAGE;
    }
    return -1;
}

/* ------------------------------------------------------------------------ */
/* Cluster lifecycle                                                         */
/* ------------------------------------------------------------------------ */

/* Routes librdkafka's own logging through ew_log so stderr has one format. */
static void rdkafka_log(const rd_kafka_t *rk, int syslog_level, const char *fac, const char *buf)
{
    (void)rk;
    ew_log_level level = syslog_level <= 3 ? EW_LOG_ERROR
                       : syslog_level == 4 ? EW_LOG_WARN
                       : syslog_level <= 6 ? EW_LOG_INFO
                                           : EW_LOG_DEBUG;
    ew_log(level, "dev-kafka: rdkafka %s: %s", fac, buf);
}

/* Real clusters replicate; a 1-broker mock cannot, and more than 3 replicas
 * only slows the mock down without testing anything new. */
static int replication_factor(int brokers)
{
    return brokers > 3 ? 3 : brokers;
}

static bool create_topic(const devkafka_cluster *c, const char *name, int partitions)
{
    rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(c->mcluster, name, partitions,
                                                         replication_factor(c->brokers));
    if (err) {
        ew_error("dev-kafka: cannot create topic %s: %s", name, rd_kafka_err2str(err));
        return false;
    }
    return true;
}

static bool create_topics(const devkafka_cluster *c, const char *list, int partitions)
{
    char *copy = strdup(list);
    if (!copy)
        return false;
    bool ok = true;
    char *save = NULL;
    for (char *name = strtok_r(copy, ",", &save); name && ok; name = strtok_r(NULL, ",", &save))
        ok = create_topic(c, name, partitions);
    free(copy);
    return ok;
}

/* The producer handle is only the mock's host: it gets no bootstrap.servers
 * of its own, so it never connects and stays silent when brokers go down. */
static bool cluster_start(devkafka_cluster *c, int brokers)
{
    char err[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set_log_cb(conf, rdkafka_log);
    /* Without this the idle host handle warns about missing bootstrap.servers. */
    if (rd_kafka_conf_set(conf, "log_level", "3", err, sizeof err) != RD_KAFKA_CONF_OK)
        ew_warn("dev-kafka: %s", err);
    c->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (!c->rk) {
        ew_error("dev-kafka: cannot create librdkafka handle: %s", err);
        return false;
    }
    c->brokers = brokers;
    c->mcluster = rd_kafka_mock_cluster_new(c->rk, brokers);
    if (!c->mcluster) {
        ew_error("dev-kafka: cannot create mock cluster with %d broker(s)", brokers);
        rd_kafka_destroy(c->rk);
        c->rk = NULL;
        return false;
    }
    return true;
}

static void cluster_stop(devkafka_cluster *c)
{
    if (c->mcluster)
        rd_kafka_mock_cluster_destroy(c->mcluster);
    if (c->rk)
        rd_kafka_destroy(c->rk);
    c->mcluster = NULL;
    c->rk = NULL;
}

/* ------------------------------------------------------------------------ */
/* Control channel                                                           */
/* ------------------------------------------------------------------------ */

static void reply(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void reply(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    fflush(stdout);
}

static void reply_result(rd_kafka_resp_err_t err)
{
    if (err)
        reply("error: %s", rd_kafka_err2str(err));
    else
        reply("ok");
}

/* Broker ids start at 1; -1 addresses every broker. Checked here because the
 * mock silently accepts unknown ids for some calls. */
static bool parse_broker_id(const devkafka_cluster *c, const char *text, int *id)
{
    if (parse_int_in(text, -1, c->brokers, id) && *id != 0)
        return true;
    reply("error: broker id '%s' is not -1 or 1..%d", text, c->brokers);
    return false;
}

static void cmd_broker_down(devkafka_cluster *c, char **args)
{
    int id;
    if (parse_broker_id(c, args[1], &id))
        reply_result(rd_kafka_mock_broker_set_down(c->mcluster, id));
}

static void cmd_broker_up(devkafka_cluster *c, char **args)
{
    int id;
    if (parse_broker_id(c, args[1], &id))
        reply_result(rd_kafka_mock_broker_set_up(c->mcluster, id));
}

static void cmd_rtt(devkafka_cluster *c, char **args)
{
    int id, ms;
    if (!parse_broker_id(c, args[1], &id))
        return;
    if (!parse_int_in(args[2], 0, 3600 * 1000, &ms)) {
        reply("error: rtt '%s' is not a number of milliseconds", args[2]);
        return;
    }
    reply_result(rd_kafka_mock_broker_set_rtt(c->mcluster, id, ms));
}

static void cmd_topic_create(devkafka_cluster *c, char **args)
{
    int partitions;
    if (!topic_name_valid(args[1], strlen(args[1]))) {
        reply("error: invalid topic name '%s'", args[1]);
        return;
    }
    if (!parse_int_in(args[2], 1, MAX_PARTITIONS, &partitions)) {
        reply("error: partitions '%s' is not a number in 1..%d", args[2], MAX_PARTITIONS);
        return;
    }
    reply_result(rd_kafka_mock_topic_create(c->mcluster, args[1], partitions,
                                         replication_factor(c->brokers)));
}

static void cmd_leader(devkafka_cluster *c, char **args)
{
    int partition, id;
    if (!parse_int_in(args[2], 0, MAX_PARTITIONS - 1, &partition)) {
        reply("error: partition '%s' is not a number", args[2]);
        return;
    }
    if (!parse_broker_id(c, args[3], &id))
        return;
    reply_result(rd_kafka_mock_partition_set_leader(c->mcluster, args[1], partition, id));
}

static void cmd_quit(devkafka_cluster *c, char **args)
{
    (void)c;
    (void)args;
    stop_requested = 1;
    reply("ok");
}

typedef struct {
    const char *name;
    int nargs; /* including the command name */
    const char *usage;
    void (*run)(devkafka_cluster *c, char **args);
} control_command;

static const control_command control_commands[] = {
    {"broker-down", 2, "broker-down ID", cmd_broker_down},
    {"broker-up", 2, "broker-up ID", cmd_broker_up},
    {"rtt", 3, "rtt ID MS", cmd_rtt},
    {"topic-create", 3, "topic-create NAME PARTITIONS", cmd_topic_create},
    {"leader", 4, "leader TOPIC PARTITION ID", cmd_leader},
    {"quit", 1, "quit", cmd_quit},
};

/* Every line gets exactly one answer line, even blank or unknown ones, so a
 * client that writes a line and reads a line never gets out of step. */
static void run_control_line(devkafka_cluster *c, char *line)
{
    ew_info("dev-kafka: control: %s", line);
    char *args[CONTROL_MAX_ARGS + 1];
    int n = 0;
    char *save = NULL;
    for (char *tok = strtok_r(line, " \t\r", &save); tok; tok = strtok_r(NULL, " \t\r", &save)) {
        if (n == CONTROL_MAX_ARGS + 1) {
            reply("error: too many arguments");
            return;
        }
        args[n++] = tok;
    }
    if (n == 0) {
        reply("error: empty command");
        return;
    }
    for (size_t i = 0; i < sizeof control_commands / sizeof control_commands[0]; i++) {
        const control_command *cmd = &control_commands[i];
        if (strcmp(args[0], cmd->name) != 0)
            continue;
        if (n != cmd->nargs) {
            reply("error: usage: %s", cmd->usage);
            return;
        }
        cmd->run(c, args);
        return;
    }
    reply("error: unknown command '%s'", args[0]);
}

static void feed_control_bytes(devkafka_cluster *c, line_reader *lr, const char *data, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (data[i] != '\n') {
            if (lr->len + 1 < sizeof lr->buf)
                lr->buf[lr->len++] = data[i];
            else
                lr->overflowed = true;
            continue;
        }
        lr->buf[lr->len] = '\0';
        if (lr->overflowed)
            reply("error: line longer than %d bytes", CONTROL_LINE_MAX - 1);
        else
            run_control_line(c, lr->buf);
        lr->len = 0;
        lr->overflowed = false;
    }
}

/* Reads what stdin has; returns false on EOF or a read error, which both
 * mean the controlling test is gone and the cluster should stop. */
static bool read_control(devkafka_cluster *c, line_reader *lr)
{
    char chunk[4096];
    ssize_t n = read(STDIN_FILENO, chunk, sizeof chunk);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return true;
    if (n <= 0) {
        if (n < 0)
            ew_error("dev-kafka: reading control commands: %s", strerror(errno));
        if (lr->len > 0)
            feed_control_bytes(c, lr, "\n", 1); /* a last line without newline */
        return false;
    }
    feed_control_bytes(c, lr, chunk, (size_t)n);
    return true;
}

/* ------------------------------------------------------------------------ */
/* Main loop and signals                                                     */
/* ------------------------------------------------------------------------ */

static void on_stop_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

typedef struct {
    sigset_t old_mask;
    sigset_t wait_mask; /* old mask minus SIGINT/SIGTERM: used inside ppoll */
    struct sigaction old_int, old_term;
} signal_state;

static void signals_install(signal_state *s)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &s->old_int);
    sigaction(SIGTERM, &sa, &s->old_term);

    sigset_t stop_set;
    sigemptyset(&stop_set);
    sigaddset(&stop_set, SIGINT);
    sigaddset(&stop_set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_set, &s->old_mask);
    s->wait_mask = s->old_mask;
    sigdelset(&s->wait_mask, SIGINT);
    sigdelset(&s->wait_mask, SIGTERM);
}

/* Unblocks first so a signal that arrived during shutdown reaches our
 * harmless handler instead of the default one. */
static void signals_restore(const signal_state *s)
{
    pthread_sigmask(SIG_SETMASK, &s->old_mask, NULL);
    sigaction(SIGINT, &s->old_int, NULL);
    sigaction(SIGTERM, &s->old_term, NULL);
}

static int serve(devkafka_cluster *c, bool control, const sigset_t *wait_mask)
{
    line_reader lr = {.len = 0, .overflowed = false};
    while (!stop_requested) {
        struct pollfd pfd = {.fd = STDIN_FILENO, .events = POLLIN};
        int n = ppoll(&pfd, control ? 1 : 0, NULL, wait_mask);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            ew_error("dev-kafka: ppoll: %s", strerror(errno));
            return EW_EXIT_RUNTIME;
        }
        if (n > 0 && !read_control(c, &lr))
            break;
    }
    return EW_EXIT_OK;
}

static bool announce_bootstrap(const devkafka_cluster *c, const devkafka_opts *opts)
{
    const char *bootstraps = rd_kafka_mock_cluster_bootstraps(c->mcluster);
    ew_info("dev-kafka: %d broker(s) at %s; topics %s with %d partitions%s", opts->brokers,
            bootstraps, opts->topics, opts->partitions,
            opts->control ? "; control commands on stdin" : "");
    printf("%s\n", bootstraps);
    if (fflush(stdout) == 0)
        return true;
    ew_error("dev-kafka: cannot write the bootstrap list to stdout: %s", strerror(errno));
    return false;
}

int ew_cmd_dev_kafka(int argc, char **argv)
{
    devkafka_opts opts;
    int rc = parse_args(argc, argv, &opts);
    if (rc >= 0)
        return rc;

    /* Before the cluster exists, so its threads inherit the blocked mask. */
    signal_state sigs;
    stop_requested = 0;
    signals_install(&sigs);

    devkafka_cluster cluster = {NULL, NULL, 0};
    rc = EW_EXIT_RUNTIME;
    if (cluster_start(&cluster, opts.brokers) &&
        create_topics(&cluster, opts.topics, opts.partitions) &&
        announce_bootstrap(&cluster, &opts))
        rc = serve(&cluster, opts.control, &sigs.wait_mask);

    cluster_stop(&cluster);
    signals_restore(&sigs);
    if (rc == EW_EXIT_OK)
        ew_info("dev-kafka: stopped");
    return rc;
}
