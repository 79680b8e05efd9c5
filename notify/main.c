/* main.c -- edgewatch-notify: the command line, the consumer and the loop.
 *
 * consume (own group) -> ew_dispatch_add (decode, route, group) ->
 * ew_dispatch_run (flush groups, send, retry, dead-letter) -> commit the
 * positions ew_dispatch_commits reports. Offsets are committed only for
 * messages that are done, so a crash or a receiver outage re-reads pending
 * alerts instead of losing them; docs/notify.md has the whole story.
 *
 * --dry-run reads the topic without joining the group (assign, not
 * subscribe), keeps time by the messages' timestamps, prints instead of
 * sending, and commits nothing.
 */
#include "edgewatch/common.h"
#include "edgewatch/config.h"
#include "edgewatch/notify.h"
#include "edgewatch/alert_avro.h"
#include "edgewatch/sink.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <librdkafka/rdkafka.h>

#define PROGRAM "edgewatch-notify"
#define DEFAULT_ALERTS_TOPIC "edgewatch-alerts"
#define POLL_TIMEOUT_MS 100
#define MAX_PENDING 10000

/* Set from the signal handler; the only mutable file-level state. */
static volatile sig_atomic_t stop_requested = 0;

typedef struct {
    const char *config_path;
    bool from_beginning;
    bool dry_run;
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

/* What the rebalance callback needs: rewinds for --from-beginning, and the
 * dispatcher, whose done positions are committed and whose pending messages
 * are dropped when a partition is revoked. */
typedef struct {
    rewind_state rewind;
    ew_dispatch *dispatch;
} consumer_state;

typedef struct {
    ew_sink *sink;
    const char *dlq_topic;
    const char *source_topic;
} dead_letter_ctx;

/* ---- command line ------------------------------------------------------------ */

static void print_usage(FILE *out)
{
    fprintf(out,
            "usage: " PROGRAM " -c FILE [--from-beginning] [--dry-run] [--help]\n"
            "\n"
            "Delivers alert events from the alerts topic to the receivers of the\n"
            "route tree (notify.* in the config; docs/notify.md), committing each\n"
            "only after it was delivered, decided or dead-lettered.\n"
            "\n"
            "  -c FILE             configuration file (JSON)\n"
            "  --from-beginning    start each partition at its earliest offset,\n"
            "                      ignoring offsets committed by the group\n"
            "  --dry-run           print what would be sent up to the end of the\n"
            "                      topic, then exit; sends and commits nothing\n"
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
        {"dry-run", no_argument, NULL, 'n'},
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
        case 'n': opts->dry_run = true; break;
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

static void print_problems(const ew_config_errors *errs)
{
    for (size_t i = 0; i < errs->n; i++)
        fprintf(stderr, PROGRAM ": %s\n", errs->lines[i]);
}

static bool load_config(const char *path, ew_config *cfg, ew_notify_config *nc)
{
    ew_config_errors errs;
    memset(&errs, 0, sizeof errs);
    if (ew_config_load(cfg, path, &errs) == 0)
        ew_notify_config_load(nc, cfg, &errs);
    print_problems(&errs);
    return errs.n == 0;
}

static const char *alerts_topic(const ew_config *cfg)
{
    return cfg->topic_alerts && *cfg->topic_alerts ? cfg->topic_alerts : DEFAULT_ALERTS_TOPIC;
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
    if (!rw->enabled)
        return;
    for (int i = 0; i < parts->cnt; i++)
        if (rewind_take(rw, parts->elems[i].partition))
            parts->elems[i].offset = RD_KAFKA_OFFSET_BEGINNING;
}

/* ---- commits ---------------------------------------------------------------------------- */

/* Commits the positions the dispatcher reports as done. A failed commit is
 * not fatal: the messages are read again after a restart or rebalance, and
 * their claims make them duplicates that are dropped, never misses. */
static void commit_done(rd_kafka_t *rk, ew_dispatch *d, const char *topic)
{
    int32_t partitions[256];
    int64_t offsets[256];
    size_t n = ew_dispatch_commits(d, partitions, offsets, 256);
    if (n == 0)
        return;
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new((int)n);
    for (size_t i = 0; i < n; i++)
        rd_kafka_topic_partition_list_add(list, topic, partitions[i])->offset = offsets[i];
    rd_kafka_resp_err_t err = rd_kafka_commit(rk, list, 0);
    if (err)
        ew_warn("commit on %s failed: %s", topic, rd_kafka_err2str(err));
    rd_kafka_topic_partition_list_destroy(list);
}

/* ---- rebalances --------------------------------------------------------------------------- */

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

/* On revoke: commit what is done, then drop what is pending; the next owner
 * reads it again from the committed offset and the claims prevent doubles. */
static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t event, rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    consumer_state *st = opaque;
    if (event == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        rewind_new_partitions(&st->rewind, parts);
        apply_assignment(rk, event, parts);
        return;
    }
    if (event == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS && parts->cnt > 0) {
        if (!rd_kafka_assignment_lost(rk))
            commit_done(rk, st->dispatch, parts->elems[0].topic);
        for (int i = 0; i < parts->cnt; i++)
            ew_dispatch_forget_partition(st->dispatch, parts->elems[i].partition);
    }
    if (event != RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS)
        ew_error("rebalance failed: %s", rd_kafka_err2str(event));
    apply_assignment(rk, RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS, parts);
}

/* ---- consumer ------------------------------------------------------------------------- */

static rd_kafka_t *create_consumer(const ew_config *cfg, const ew_notify_config *nc, consumer_state *st,
                                   bool dry_run)
{
    /* auto.offset.reset=earliest: alerts produced before this group first
     * joined must still be delivered. Auto-commit is off because offsets are
     * committed only after delivery. */
    const char *const extra[] = {
        "group.id", nc->group_id,
        "enable.auto.commit", "false",
        "enable.auto.offset.store", "false",
        "auto.offset.reset", "earliest",
        "enable.partition.eof", dry_run ? "true" : "false",
        NULL,
    };
    char err[512];
    rd_kafka_conf_t *conf = ew_config_kafka(cfg, extra, err, sizeof err);
    if (!conf) {
        ew_error("kafka configuration: %s", err);
        return NULL;
    }
    rd_kafka_conf_set_opaque(conf, st);
    if (!dry_run)
        rd_kafka_conf_set_rebalance_cb(conf, rebalance_cb);
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

/* --dry-run: every partition of the topic, from the group's committed
 * offsets (or the beginning), without joining the group. Returns the
 * number of partitions, or -1. */
static int assign_all(rd_kafka_t *rk, const char *topic, bool from_beginning)
{
    const rd_kafka_metadata_t *md = NULL;
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, rkt, &md, 10000);
    rd_kafka_topic_destroy(rkt);
    if (err || md->topic_cnt != 1 || md->topics[0].err) {
        ew_error("reading the partitions of %s: %s", topic,
                 rd_kafka_err2str(err ? err : md->topic_cnt ? md->topics[0].err : RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC));
        if (md)
            rd_kafka_metadata_destroy(md);
        return -1;
    }
    int n = md->topics[0].partition_cnt;
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(n);
    for (int i = 0; i < n; i++)
        rd_kafka_topic_partition_list_add(parts, topic, md->topics[0].partitions[i].id);
    rd_kafka_metadata_destroy(md);
    if (!from_beginning && rd_kafka_committed(rk, parts, 10000) != RD_KAFKA_RESP_ERR_NO_ERROR)
        ew_warn("reading committed offsets of %s failed; starting at the beginning", topic);
    for (int i = 0; i < n; i++)
        if (from_beginning || parts->elems[i].offset < 0)
            parts->elems[i].offset = RD_KAFKA_OFFSET_BEGINNING;
    err = rd_kafka_assign(rk, parts);
    rd_kafka_topic_partition_list_destroy(parts);
    if (err) {
        ew_error("assigning %s: %s", topic, rd_kafka_err2str(err));
        return -1;
    }
    return n;
}

/* ---- dead letters ----------------------------------------------------------------------- */

static bool dead_letter(void *ctx, const ew_dispatch_msg *m, const char *reason)
{
    dead_letter_ctx *dl = ctx;
    return ew_sink_dead_letter_copy(dl->sink, dl->dlq_topic, dl->source_topic, m->partition, m->offset, m->key,
                                    m->key_len, m->value, m->len, reason) &&
           ew_sink_flush(dl->sink, 10000);
}

static int64_t wall_clock(void *ctx)
{
    (void)ctx;
    return ew_now_ms();
}

/* ---- the loops -------------------------------------------------------------------------- */

/* Returns false when the client hit a fatal error and must stop. */
static bool handle_consumer_error(rd_kafka_t *rk, const rd_kafka_message_t *msg)
{
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

static ew_dispatch_msg wire_of(const rd_kafka_message_t *m)
{
    return (ew_dispatch_msg){.partition = m->partition, .offset = m->offset, .key = m->key,
                             .key_len = m->key_len, .value = m->payload, .len = m->len};
}

/* Bounds memory while receivers are down: past MAX_PENDING undelivered
 * alerts the assigned partitions are paused (they stay assigned, and
 * heartbeats go on), and resumed below half of it. */
static void apply_backpressure(rd_kafka_t *rk, const ew_dispatch *d, bool *paused)
{
    size_t pending = ew_dispatch_pending(d);
    bool want = *paused ? pending > MAX_PENDING / 2 : pending > MAX_PENDING;
    if (want == *paused)
        return;
    rd_kafka_topic_partition_list_t *parts = NULL;
    if (rd_kafka_assignment(rk, &parts) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return;
    if (want)
        rd_kafka_pause_partitions(rk, parts);
    else
        rd_kafka_resume_partitions(rk, parts);
    rd_kafka_topic_partition_list_destroy(parts);
    *paused = want;
    ew_warn("%s consuming: %zu alerts waiting for delivery", want ? "paused" : "resumed", pending);
}

static int run_live(rd_kafka_t *rk, ew_dispatch *d, const char *topic)
{
    bool paused = false;
    while (!stop_requested) {
        int64_t wait = ew_dispatch_run(d, ew_now_ms());
        commit_done(rk, d, topic);
        apply_backpressure(rk, d, &paused);
        rd_kafka_message_t *msg = rd_kafka_consumer_poll(rk, (int)(wait < POLL_TIMEOUT_MS ? wait : POLL_TIMEOUT_MS));
        if (!msg)
            continue;
        bool ok = true;
        if (msg->err)
            ok = msg->err == RD_KAFKA_RESP_ERR__PARTITION_EOF || handle_consumer_error(rk, msg);
        else {
            ew_dispatch_msg m = wire_of(msg);
            ew_dispatch_add(d, &m, ew_now_ms());
        }
        rd_kafka_message_destroy(msg);
        if (!ok)
            return EW_EXIT_RUNTIME;
    }
    ew_dispatch_run(d, ew_now_ms());
    commit_done(rk, d, topic);
    return EW_EXIT_OK;
}

/* Moves the --dry-run clock to ts, stopping at every moment something falls
 * due on the way, as the live loop would have (a group flushed at
 * group_wait, not when the next message happens to arrive). */
static void advance_clock(ew_dispatch *d, int64_t *clock, int64_t ts)
{
    if (*clock == 0 || ts <= *clock) {
        *clock = ts > *clock ? ts : *clock;
        return;
    }
    for (;;) {
        int64_t wait = ew_dispatch_run(d, *clock);
        int64_t step = wait > 0 ? wait : 1;
        if (*clock + step >= ts)
            break;
        *clock += step;
    }
    *clock = ts;
}

/* The clock of --dry-run: the messages' own timestamps, so the waits and
 * intervals apply as they would have when the alerts arrived. */
static int run_dry(rd_kafka_t *rk, ew_dispatch *d, int partitions)
{
    int64_t clock = 0;
    int at_end = 0;
    while (!stop_requested && at_end < partitions) {
        rd_kafka_message_t *msg = rd_kafka_consumer_poll(rk, POLL_TIMEOUT_MS);
        if (!msg)
            continue;
        bool ok = true;
        if (msg->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
            at_end++;
        else if (msg->err)
            ok = handle_consumer_error(rk, msg);
        else {
            advance_clock(d, &clock, rd_kafka_message_timestamp(msg, NULL));
            ew_dispatch_run(d, clock);
            ew_dispatch_msg m = wire_of(msg);
            ew_dispatch_add(d, &m, clock);
        }
        rd_kafka_message_destroy(msg);
        if (!ok)
            return EW_EXIT_RUNTIME;
    }
    ew_dispatch_flush_all(d, clock);
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
    /* A closed stdout pipe must surface as a write error (a retried
     * delivery), not kill the process before it can log why. */
    signal(SIGPIPE, SIG_IGN);
}

static void log_summary(const ew_dispatch *d, const ew_notify_config *nc)
{
    ew_dispatch_counts c = ew_dispatch_counters(d);
    char by_receiver[512] = "";
    size_t used = 0;
    for (size_t i = 0; i < nc->n_receivers && used < sizeof by_receiver; i++)
        used += (size_t)snprintf(by_receiver + used, sizeof by_receiver - used, "%s%s=%llu", i ? " " : "",
                                 nc->receivers[i].name, (unsigned long long)ew_dispatch_alerts_sent_to(d, i));
    ew_info("stopped: %llu alerts read (%llu not alert events), %llu notifications with %llu alerts sent (%s), "
            "%llu duplicates skipped, %llu not notified, %llu failed attempts, %llu dead-lettered, "
            "%zu pending (read again on restart)",
            (unsigned long long)c.read, (unsigned long long)c.bad, (unsigned long long)c.notifications,
            (unsigned long long)c.alerts_sent, by_receiver, (unsigned long long)c.duplicates,
            (unsigned long long)c.not_notified, (unsigned long long)c.retries,
            (unsigned long long)c.dead_letters, ew_dispatch_pending(d));
}

typedef struct {
    ew_receiver **receivers;
    size_t n;
    ew_alert_codec *codec;
    ew_notify_store *store;
    ew_sink *sink;
} notifier_parts;

static bool make_parts(const ew_config *cfg, const ew_notify_config *nc, bool dry_run, notifier_parts *p)
{
    char err[512];
    p->receivers = calloc(nc->n_receivers, sizeof *p->receivers);
    for (p->n = 0; p->n < nc->n_receivers; p->n++)
        p->receivers[p->n] = ew_receiver_new(&nc->receivers[p->n], nc->link_template);
    p->codec = ew_alert_codec_new(err, sizeof err);
    if (!p->codec) {
        ew_error("alert schema: %s", err);
        return false;
    }
    p->store = dry_run ? ew_notify_store_memory(nc->instance, nc->dedup_ttl_ms)
                       : ew_notify_store_valkey(cfg, nc->instance, nc->dedup_ttl_ms);
    if (dry_run)
        return true;
    p->sink = ew_sink_new(cfg, err, sizeof err);
    if (!p->sink)
        ew_error("kafka producer for dead letters: %s", err);
    return p->sink != NULL;
}

static void free_parts(notifier_parts *p)
{
    for (size_t i = 0; i < p->n; i++)
        ew_receiver_free(p->receivers[i]);
    free(p->receivers);
    ew_alert_codec_free(p->codec);
    ew_notify_store_free(p->store);
    ew_sink_free(p->sink);
}

static int consume(const ew_config *cfg, const ew_notify_config *nc, const cli_options *opts)
{
    notifier_parts parts = {0};
    consumer_state st = {.rewind = {.enabled = opts->from_beginning}};
    const char *topic = alerts_topic(cfg);
    dead_letter_ctx dl = {.dlq_topic = nc->dead_letter_topic, .source_topic = topic};
    int rc = EW_EXIT_RUNTIME;
    rd_kafka_t *rk = NULL;
    if (make_parts(cfg, nc, opts->dry_run, &parts)) {
        dl.sink = parts.sink;
        ew_dispatch_hooks hooks = {.ctx = &dl, .dead_letter = dead_letter, .dry_run = opts->dry_run,
                                   .clock = opts->dry_run ? NULL : wall_clock};
        st.dispatch = ew_dispatch_new(nc, parts.receivers, parts.store, parts.codec, topic, hooks);
        rk = create_consumer(cfg, nc, &st, opts->dry_run);
    }
    if (rk && opts->dry_run) {
        int n = assign_all(rk, topic, opts->from_beginning);
        rc = n < 0 ? EW_EXIT_RUNTIME : run_dry(rk, st.dispatch, n);
    } else if (rk && subscribe(rk, topic)) {
        ew_info("consuming %s as group %s (instance %s)%s", topic, nc->group_id, nc->instance,
                opts->from_beginning ? " from the beginning" : "");
        rc = run_live(rk, st.dispatch, topic);
    }
    if (st.dispatch)
        log_summary(st.dispatch, nc);
    if (rk) {
        rd_kafka_consumer_close(rk); /* leaves the group; the revoke commits what is done */
        rd_kafka_destroy(rk);
    }
    ew_dispatch_free(st.dispatch);
    free_parts(&parts);
    free(st.rewind.partitions);
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
    ew_notify_config nc;
    memset(&cfg, 0, sizeof cfg);
    memset(&nc, 0, sizeof nc);
    if (!load_config(opts.config_path, &cfg, &nc)) {
        ew_notify_config_free(&nc);
        ew_config_free(&cfg);
        return EW_EXIT_USAGE;
    }
    install_signal_handlers();
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int rc = consume(&cfg, &nc, &opts);
    curl_global_cleanup();
    ew_notify_config_free(&nc);
    ew_config_free(&cfg);
    return rc;
}
