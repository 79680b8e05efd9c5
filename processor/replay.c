/* replay.c -- `edgewatch replay --input FILE…`: re-run history exactly like
 * live traffic, where it cannot disturb live state.
 *
 * Each input file is one partition of a pseudo-topic, its records numbered
 * from 0, and goes through the core (core.c): the same decode, windows,
 * aggregation, flush, scoring and alert code as `run`. What differs:
 *   - the state backend: in memory (--in-memory, the default) or a Valkey
 *     namespace (--namespace NS) that live keys never share;
 *   - alerts go to a file (JSON lines, `replay: true`), never to the live
 *     alert topic; dead letters are counted, not produced;
 *   - flushes happen every FLUSH_RECORDS records and when the pair table
 *     is full, never on a timer, and idle partitions never release windows:
 *     event time alone decides, so two runs give the same alerts;
 *   - at the end every partition's watermark passes all event time, so
 *     every window closes and is scored, in window order.
 * Archived standard logs (a "#Version"/"#Fields" header, or the
 * <DistributionID>.YYYY-MM-DD-HH.<unique>.gz name) are read with the
 * standard-log reader; anything else as real-time lines (TSV or JSON),
 * gzip or plain, "-" being stdin.
 */
#include "edgewatch/replay.h"
#include "edgewatch/suppress.h"
#include "edgewatch/common.h"
#include "edgewatch/billing_core.h"
#include "edgewatch/core.h"
#include "edgewatch/decode.h"
#include "edgewatch/line_feed.h"
#include "edgewatch/range_source.h"
#include "edgewatch/sink.h"
#include "edgewatch/state.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define FLUSH_RECORDS 65536
/* Records between a delta's prefetch and its fold (ew_core_prefetch). */
#define FOLD_PREFETCH_AHEAD 4
#define MAX_INPUTS 4096
#define PROGRESS_EVERY_MS 1000
#define LOG_EVERY_MS 10000
#define TOPIC "replay"
#define BILLING_TOPIC "replay-billing"

static const char replay_usage[] =
    "usage: edgewatch replay -c FILE (--input FILE... [--billing FILE...] | --from T --to T)\n"
    "                        [--in-memory | --namespace NS [--cleanup]] [--alerts-out FILE]\n"
    "                        [--alerts-topic TOPIC] [--suppressions FILE|valkey]\n"
    "                        [--set key=value]...\n"
    "\n"
    "Runs history through the same stages as `edgewatch run` and writes the alerts\n"
    "it would have raised, each marked \"replay\": true. Live state and the live alert\n"
    "topic are never touched. Event time drives everything, so the same input and\n"
    "settings give the same alerts (only emitted_at differs).\n"
    "\n"
    "  -c, --config FILE     configuration file (docs/configuration.md)\n"
    "      --from T, --to T  the CloudFront topic's records with event time in [T, T),\n"
    "                        RFC 3339 or epoch seconds; read outside the consumer group,\n"
    "                        nothing committed\n"
    "      --input FILE...   real-time log lines (TSV or JSON, gzip or plain) or archived\n"
    "                        standard logs (.gz or plain); '-' reads stdin. Every argument\n"
    "                        after --input up to the next option is an input. A file of\n"
    "                        billing events found among them is read as if under --billing\n"
    "      --billing FILE... billing events (JSON lines, gzip or plain; '-' reads stdin),\n"
    "                        read after the traffic inputs, as billing lags traffic\n"
    "      --in-memory       keep state in this process (default): fastest, nothing kept\n"
    "      --namespace NS    keep state in Valkey under <prefix>ns:NS: (with TTLs), e.g. to\n"
    "                        inspect it with `edgewatch state show --namespace NS`\n"
    "      --cleanup         with --namespace: delete the namespace's keys at the end\n"
    "      --alerts-out FILE write alert events as JSON lines to FILE (default: stdout)\n"
    "      --alerts-topic T  also produce them to Kafka topic T (never topics.alerts)\n"
    "      --suppressions SRC silences and expected events to apply: a JSON-lines FILE\n"
    "                        (as `edgewatch silence list --all` prints), or `valkey` for\n"
    "                        the live ones; default none, so a replay depends on its input only\n"
    "      --set KEY=VALUE   override one setting, e.g. --set rules.request_spike.short_window=8h\n"
    "  -h, --help            this help\n"
    "\n"
    "Progress goes to stderr (one updating line on a terminal, else a line every 10 s),\n"
    "then a summary. Exit codes: 0 ok, 1 runtime failure, 2 usage or configuration error.\n";

typedef struct {
    const char *config, *ns, *alerts_out, *alerts_topic, *from, *to, *suppressions;
    const char *inputs[MAX_INPUTS];
    size_t n_inputs;
    const char *billing[MAX_INPUTS]; /* --billing, then --input files that hold billing events */
    size_t n_billing;
    const char *sets[64];
    size_t n_sets;
    bool in_memory, cleanup;
} replay_args;

typedef struct {
    FILE *out;
    ew_sink *sink;         /* --alerts-topic, or NULL */
    ew_config sink_cfg;    /* the configuration with topics.alerts replaced */
    bool failed;
} alert_file;

typedef struct {
    const ew_config *cfg;
    ew_core *core;
    ew_billing_core *billing;
    ew_state *state;
    alert_file alerts;
    const char *topic;     /* the configured topic, or "replay" for files */
    volatile sig_atomic_t *stop;
    ew_line_feed *feed;    /* real-time lines, read and decoded ahead (line_feed.h) */
    ew_cf_record *record;  /* the feed's records, one at a time */
    uint64_t bytes_total, bytes_done, bytes_done_before, since_flush;
    int64_t started_ms, last_progress_ms;
    int64_t from_ms, to_ms; /* --from/--to as parsed by run_topic */
    bool tty;
} replay;

/* ---- arguments ---- */

static int usage_error(const char *what, const char *arg)
{
    fprintf(stderr, "edgewatch replay: %s%s%s\n", what, arg ? " " : "", arg ? arg : "");
    return EW_EXIT_USAGE;
}

static int take_option(replay_args *a, int c, const char *arg)
{
    switch (c) {
    case 'c': a->config = arg; return 0;
    case 'n': a->ns = arg; return 0;
    case 'o': a->alerts_out = arg; return 0;
    case 'm': a->in_memory = true; return 0;
    case 'f': a->from = arg; return 0;
    case 'a': a->alerts_topic = arg; return 0;
    case 't': a->to = arg; return 0;
    case 'k': a->cleanup = true; return 0;
    case 'S': a->suppressions = arg; return 0;
    case 's':
        if (a->n_sets == 64)
            return usage_error("more than 64 --set options", NULL);
        a->sets[a->n_sets++] = arg;
        return 0;
    }
    return usage_error("unknown option (see --help)", NULL);
}

/* --input and --billing take every following argument up to the next option. */
static int take_inputs(const char **list, size_t *n, int argc, char **argv, int *i)
{
    while (*i + 1 < argc && (argv[*i + 1][0] != '-' || strcmp(argv[*i + 1], "-") == 0)) {
        if (*n == MAX_INPUTS)
            return usage_error("more than 4096 inputs", NULL);
        list[(*n)++] = argv[++*i];
    }
    return 0;
}

static int parse_args(int argc, char **argv, replay_args *a)
{
    static const struct { const char *name; int code; bool value; } opts[] = {
        {"--config", 'c', true}, {"-c", 'c', true},          {"--namespace", 'n', true},
        {"--alerts-out", 'o', true}, {"--set", 's', true},   {"--in-memory", 'm', false},
        {"--cleanup", 'k', false},  {"--from", 'f', true},          {"--to", 't', true},
        {"--alerts-topic", 'a', true}, {"--suppressions", 'S', true},
    };
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(replay_usage, stdout);
            return -1;
        }
        bool billing = strcmp(argv[i], "--billing") == 0;
        if (billing || strcmp(argv[i], "--input") == 0) {
            if (billing ? take_inputs(a->billing, &a->n_billing, argc, argv, &i)
                        : take_inputs(a->inputs, &a->n_inputs, argc, argv, &i))
                return EW_EXIT_USAGE;
            continue;
        }
        size_t k = 0;
        while (k < sizeof opts / sizeof opts[0] && strcmp(argv[i], opts[k].name) != 0)
            k++;
        if (k == sizeof opts / sizeof opts[0])
            return usage_error(argv[i][0] == '-' ? "unknown option (see --help):" : "unexpected argument:", argv[i]);
        if (opts[k].value && i + 1 >= argc)
            return usage_error("this option needs a value:", argv[i]);
        if (take_option(a, opts[k].code, opts[k].value ? argv[++i] : NULL))
            return EW_EXIT_USAGE;
    }
    if (!a->config)
        return usage_error("-c FILE is required", NULL);
    if (!a->from != !a->to)
        return usage_error("--from and --to go together", NULL);
    if (!(a->n_inputs || a->n_billing) == !a->from)
        return usage_error("give either --input/--billing FILE... or --from T --to T", NULL);
    if (a->ns && a->in_memory)
        return usage_error("give --in-memory or --namespace NS, not both", NULL);
    if (a->cleanup && !a->ns)
        return usage_error("--cleanup needs --namespace NS", NULL);
    return 0;
}

/* ---- alerts to a file ---- */

static bool alert_to_file(void *ctx, const char *alert_id, const char *json)
{
    alert_file *f = ctx;
    if (fprintf(f->out, "%s\n", json) < 0)
        f->failed = true;
    if (f->sink && !ew_sink_alert(f->sink, alert_id, json))
        f->failed = true;
    return !f->failed;
}

static bool alerts_flushed(void *ctx)
{
    alert_file *f = ctx;
    if (fflush(f->out) != 0)
        f->failed = true;
    if (f->sink && !ew_sink_flush(f->sink, 10000))
        f->failed = true;
    return !f->failed;
}

/* ---- progress ---- */

static void progress(replay *r, bool final)
{
    int64_t now = ew_mono_ms();
    int64_t every = r->tty ? PROGRESS_EVERY_MS : LOG_EVERY_MS;
    if (!final && now - r->last_progress_ms < every)
        return;
    r->last_progress_ms = now;
    const ew_core_counters *n = ew_core_counters_of(r->core);
    double secs = (double)(now - r->started_ms) / 1000.0;
    double rate = secs > 0 ? (double)n->records / secs : 0;
    char when[32] = "-", pct[48] = "";
    if (n->newest_event_ms > 0)
        ew_format_time(n->newest_event_ms, when, sizeof when);
    if (r->bytes_total > 0) {
        double f = (double)r->bytes_done / (double)r->bytes_total;
        double eta = f > 0 ? secs * (1 - f) / f : 0;
        snprintf(pct, sizeof pct, ", %.1f%% of input, ETA %.0f s", 100 * f, eta);
    }
    if (r->tty)
        fprintf(stderr, "\rreplay: %llu records, %.0f/s, at %s%s   %s", (unsigned long long)n->records, rate, when,
                pct, final ? "\n" : "");
    else
        ew_info("replay: %llu records, %.0f/s, at %s%s", (unsigned long long)n->records, rate, when, pct);
}

/* ---- core driving ---- */

static bool flush_and_score(replay *r, bool ship_all)
{
    ew_flush_partition parts[MAX_INPUTS];
    size_t n;
    int32_t rp;
    int64_t ro;
    ew_state_status st = ew_core_flush(r->core, ship_all, parts, MAX_INPUTS, &n, &rp, &ro);
    if (st != EW_STATE_OK) {
        ew_error("replay: state store %s: %s", st == EW_STATE_REFUSED ? "refused a batch (is another replay using "
                                                                         "this namespace?)" : "unavailable",
                 ew_state_last_error(r->state));
        return false;
    }
    r->since_flush = 0;
    ew_core_score_closed(r->core);
    return true;
}

/* fold's dist for a record decoded as it is, not prepared by the feed. */
#define NOT_PREPARED SIZE_MAX

/* A raw line (decoded by the core), a record another reader decoded, or
 * one the line feed prepared (dist, as ew_core_fold_prepared takes it). */
static ew_fold_status fold_one(replay *r, int32_t partition, int64_t offset, const ew_cf_record *rec,
                               ew_decode_error *e, const char *line, size_t len, size_t dist)
{
    if (line)
        return ew_core_fold(r->core, partition, offset, line, len, e);
    if (dist == NOT_PREPARED)
        return ew_core_fold_decoded(r->core, partition, offset, rec, *e);
    return ew_core_fold_prepared(r->core, partition, offset, rec, *e, dist);
}

static bool fold(replay *r, int32_t partition, int64_t offset, const ew_cf_record *rec, ew_decode_error e,
                 const char *line, size_t len, size_t dist)
{
    ew_fold_status st = fold_one(r, partition, offset, rec, &e, line, len, dist);
    if (st == EW_FOLD_FULL) {
        if (!flush_and_score(r, true))
            return false;
        st = fold_one(r, partition, offset, rec, &e, line, len, dist);
    }
    if (st == EW_FOLD_DEAD_LETTER)
        ew_debug("replay: input %d record %lld: %s", partition, (long long)offset, ew_decode_error_name(e));
    if (++r->since_flush >= FLUSH_RECORDS && !flush_and_score(r, false))
        return false;
    /* Clocks and file positions cost system calls: look every 4,096 records. */
    if ((r->since_flush & 4095) == 0)
        progress(r, false);
    return st != EW_FOLD_FULL;
}

/* ---- billing inputs ---- */

static bool billing_flush_and_score(replay *r)
{
    ew_flush_partition parts[MAX_INPUTS];
    size_t n;
    int32_t rp;
    int64_t ro;
    ew_state_status st = ew_billing_core_flush(r->billing, parts, MAX_INPUTS, &n, &rp, &ro);
    if (st != EW_STATE_OK) {
        ew_error("replay: state store %s billing lines: %s", st == EW_STATE_REFUSED ? "refused" : "unavailable for",
                 ew_state_last_error(r->state));
        return false;
    }
    ew_billing_core_score(r->billing);
    return true;
}

static bool fold_billing(replay *r, int32_t partition, int64_t offset, const char *line, size_t len)
{
    ew_decode_error e = EW_DECODE_OK;
    ew_fold_status st = ew_billing_core_fold(r->billing, partition, offset, line, len, &e);
    if (st == EW_FOLD_FULL) {
        if (!billing_flush_and_score(r))
            return false;
        st = ew_billing_core_fold(r->billing, partition, offset, line, len, &e);
    }
    if (st == EW_FOLD_DEAD_LETTER)
        ew_debug("replay: input %d line %lld: %s", partition, (long long)offset + 1, ew_decode_error_name(e));
    return !ew_billing_core_flush_due(r->billing) || billing_flush_and_score(r);
}

/* A line longer than the buffer is read to its end and handed over at
 * max_line_bytes + 1, which the decoder rejects as too long. */
static size_t next_line(gzFile gz, char *buf, size_t cap, bool *got)
{
    *got = gzgets(gz, buf, (int)cap) != NULL;
    if (!*got)
        return 0;
    size_t len = strlen(buf);
    if (len > 0 && buf[len - 1] == '\n') {
        buf[--len] = '\0';
        if (len > 0 && buf[len - 1] == '\r')
            buf[--len] = '\0';
        return len;
    }
    char rest[4096];
    bool cut = false;
    while (!gzeof(gz) && gzgets(gz, rest, sizeof rest)) {
        cut = true;
        if (rest[strlen(rest) - 1] == '\n')
            break;
    }
    return cut ? cap : len;
}

/* Billing events, one JSON object per line: lines are numbered from 0 as
 * the offsets of partition `partition` of the billing pseudo-topic. */
static bool replay_billing(replay *r, int32_t partition, gzFile gz)
{
    size_t cap = r->cfg->max_line_bytes + 1;
    char *line = malloc(cap + 1);
    bool ok = line != NULL, got = true;
    for (int64_t offset = 0; ok && !*r->stop; offset++) {
        size_t len = next_line(gz, line, cap, &got);
        if (!got)
            break;
        if (len > 0)
            ok = fold_billing(r, partition, offset, line, len);
    }
    free(line);
    return ok && billing_flush_and_score(r);
}

/* A billing file starts with a JSON object naming a billing period or a
 * refresh end; CloudFront JSON lines never do. */
static bool is_billing(gzFile gz)
{
    char head[8192];
    bool billing = false;
    if (gzgets(gz, head, sizeof head))
        billing = head[0] == '{' && (strstr(head, "\"billing_period\"") || strstr(head, "\"refresh_end\"") ||
                                     strstr(head, "\"bill_billing_period_start_date\""));
    gzrewind(gz);
    return billing;
}

static bool is_billing_file(const char *path)
{
    struct stat st;
    /* Only a regular file can be looked into and read again from the start. */
    if (strcmp(path, "-") == 0 || stat(path, &st) != 0 || !S_ISREG(st.st_mode))
        return false;
    gzFile gz = gzopen(path, "rb");
    bool billing = gz && is_billing(gz);
    if (gz)
        gzclose(gz);
    return billing;
}

static bool replay_billing_inputs(replay *r, const replay_args *a)
{
    bool ok = true;
    for (size_t i = 0; ok && !*r->stop && i < a->n_billing; i++) {
        const char *path = a->billing[i];
        bool is_stdin = strcmp(path, "-") == 0;
        gzFile gz = is_stdin ? gzdopen(dup(STDIN_FILENO), "rb") : gzopen(path, "rb");
        if (!gz) {
            ew_error("replay: cannot open %s: %s", path, strerror(errno));
            return false;
        }
        ok = replay_billing(r, (int32_t)i, gz);
        r->bytes_done_before += (uint64_t)gzoffset(gz);
        gzclose(gz);
    }
    return ok;
}

/* ---- inputs ---- */

static bool is_standard_log(const char *path, const char *first_line)
{
    return strncmp(first_line, "#Version", 8) == 0 || strncmp(first_line, "#Fields", 7) == 0 ||
           ew_stdlog_distribution_from_name(path).len > 0;
}

static bool replay_stdlog(replay *r, int32_t partition, const char *path)
{
    char err[256];
    ew_stdlog_reader *rd = ew_stdlog_open(path, r->cfg->max_line_bytes, err, sizeof err);
    if (!rd) {
        ew_error("replay: %s", err);
        return false;
    }
    ew_cf_record *rec = malloc(sizeof *rec);
    ew_decode_error e;
    int64_t offset = 0;
    int got;
    bool ok = true;
    while (ok && !*r->stop && (got = ew_stdlog_next(rd, rec, &e, err, sizeof err)) == 1) {
        ok = fold(r, partition, offset++, rec, e, NULL, 0, NOT_PREPARED);
    }
    if (ok && !*r->stop && got < 0) {
        ew_error("replay: %s line %llu: %s", path, (unsigned long long)ew_stdlog_line(rd), err);
        ok = false;
    }
    free(rec);
    ew_stdlog_close(rd);
    return ok;
}

static bool replay_avro_file(replay *r, int32_t partition, const char *path)
{
    char err[256];
    ew_avro_file *f = ew_avro_file_open(path, err, sizeof err);
    if (!f) {
        ew_error("replay: %s: %s", path, err);
        return false;
    }
    ew_cf_record *rec = malloc(sizeof *rec);
    ew_decode_error e;
    int64_t offset = 0;
    int got;
    bool ok = true;
    while (ok && !*r->stop && (got = ew_avro_file_next(f, rec, &e, err, sizeof err)) == 1)
        ok = fold(r, partition, offset++, rec, e, NULL, 0, NOT_PREPARED);
    if (ok && !*r->stop && got < 0) {
        ew_error("replay: %s after %lld records: %s", path, (long long)offset, err);
        ok = false;
    }
    free(rec);
    ew_avro_file_close(f);
    return ok;
}

/* Lines are read, split and decoded ahead by the feed's thread (see
 * line_feed.h); folding stays here, in input order. */
static bool replay_lines(replay *r, int32_t partition, gzFile gz)
{
    char err[256];
    if (!ew_line_feed_start(r->feed, gz, err, sizeof err)) {
        ew_error("replay: %s", err);
        return false;
    }
    int64_t offset = 0;
    ew_decode_error e;
    bool ok = true;
    while (ok && !*r->stop && ew_line_feed_next(r->feed, r->record, &e)) {
        if ((offset & 4095) == 0)
            r->bytes_done = r->bytes_done_before + ew_line_feed_position(r->feed);
        /* The delta a record a few ahead goes into, fetched while this one
         * folds (deltas are spread over megabytes), and its index line
         * twice as far ahead. */
        int64_t ahead_ts;
        size_t ahead_dist;
        if (ew_line_feed_peek(r->feed, 2 * FOLD_PREFETCH_AHEAD, &ahead_ts, &ahead_dist))
            ew_core_prefetch(r->core, ahead_ts, ahead_dist, true);
        if (ew_line_feed_peek(r->feed, FOLD_PREFETCH_AHEAD, &ahead_ts, &ahead_dist))
            ew_core_prefetch(r->core, ahead_ts, ahead_dist, false);
        ok = fold(r, partition, offset++, r->record, e, NULL, 0, ew_line_feed_dist(r->feed));
    }
    ew_line_feed_stop(r->feed);
    return ok;
}

/* Real-time lines or a standard-log archive, told apart by the first line
 * and the file name; stdin can only be real-time lines. */
static bool replay_input(replay *r, int32_t partition, const char *path)
{
    bool is_stdin = strcmp(path, "-") == 0;
    gzFile gz = is_stdin ? gzdopen(dup(STDIN_FILENO), "rb") : gzopen(path, "rb");
    if (!gz) {
        ew_error("replay: cannot open %s: %s", path, strerror(errno));
        return false;
    }
    /* Must precede the first read. The feed's reads are larger than twice
     * this, so zlib reads (or inflates) them straight into its buffers. */
    gzbuffer(gz, 64 << 10);
    char first[17] = "";
    if (!is_stdin) {
        int got = gzread(gz, first, 16);
        first[got > 0 ? got : 0] = '\0';
        if (got >= 4 && ew_avro_file_magic(first, (size_t)got)) {
            gzclose(gz);
            bool ok = replay_avro_file(r, partition, path);
            struct stat st;
            r->bytes_done_before += stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
            return ok;
        }
        if (is_standard_log(path, first)) {
            gzclose(gz);
            bool ok = replay_stdlog(r, partition, path);
            struct stat st;
            r->bytes_done_before += stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
            return ok;
        }
        gzrewind(gz);
    }
    bool ok = replay_lines(r, partition, gz);
    r->bytes_done_before += (uint64_t)gzoffset(gz);
    gzclose(gz);
    return ok;
}

static uint64_t input_bytes(const replay_args *a)
{
    uint64_t total = 0;
    for (size_t i = 0; i < a->n_inputs; i++) {
        struct stat st;
        if (strcmp(a->inputs[i], "-") == 0 || stat(a->inputs[i], &st) != 0)
            return 0; /* unknown size: no percentage */
        total += (uint64_t)st.st_size;
    }
    return total;
}

static bool register_partitions(replay *r, const int32_t *ids, size_t n)
{
    bool ok = ew_state_register_partitions(r->state, r->topic, ids, n) == EW_STATE_OK;
    for (size_t i = 0; ok && i < n; i++)
        ew_core_assign(r->core, ids[i], INT64_MIN);
    if (!ok)
        ew_error("replay: state store: %s", ew_state_last_error(r->state));
    return ok;
}

/* Every input is a partition; registering them all first makes each window
 * wait for every input, as a group member waits for every partition. */
static bool register_inputs(replay *r, size_t n)
{
    int32_t *ids = calloc(n, sizeof *ids);
    for (size_t i = 0; i < n; i++)
        ids[i] = (int32_t)i;
    bool ok = register_partitions(r, ids, n);
    free(ids);
    return ok;
}

/* ---- a topic range ---- */

static bool replay_topic(replay *r, ew_range_source *src)
{
    bool done = false;
    while (!done && !*r->stop) {
        rd_kafka_message_t *m = ew_range_next(src, 500, &done);
        if (!m) {
            progress(r, false);
            continue;
        }
        bool ok = fold(r, m->partition, m->offset, NULL, EW_DECODE_OK, m->payload, m->len, NOT_PREPARED);
        rd_kafka_message_destroy(m);
        if (!ok)
            return false;
        r->bytes_done++;
    }
    return true;
}

static bool run_topic(replay *r, const replay_args *a)
{
    int64_t from, to;
    if (!ew_parse_time_ms(a->from, &from) || !ew_parse_time_ms(a->to, &to) || from >= to) {
        ew_error("replay: --from/--to must be RFC 3339 or epoch seconds, --from before --to");
        return false;
    }
    r->from_ms = from;
    r->to_ms = to;
    char err[512];
    ew_range_source *src = ew_range_open(r->cfg, r->cfg->topic_cloudfront, from, to, err, sizeof err);
    if (!src) {
        ew_error("replay: %s", err);
        return false;
    }
    int32_t ids[MAX_INPUTS];
    size_t n = ew_range_partitions(src, ids, MAX_INPUTS);
    if (ew_range_fallbacks(src))
        ew_info("replay: the broker gave no offset for a time on %zu of %zu partitions; reading them from their "
                "log start and skipping records outside the range",
                ew_range_fallbacks(src), n);
    r->bytes_total = ew_range_total(src); /* records, for the percentage */
    ew_core_set_range(r->core, from, to);
    bool ok = register_partitions(r, ids, n) && replay_topic(r, src);
    ew_range_close(src);
    return ok;
}

/* The billing topic over the same range, after the traffic (billing lags
 * traffic, as with files). Billing lines carry usage times, not arrival
 * times, and a restatement may rewrite any day of the period, so the range
 * selects refreshes by when they arrived: the message timestamp, also where
 * the broker could not look an offset up by time. */
static bool replay_billing_topic(replay *r, const replay_args *a)
{
    if (!a->from || !r->cfg->billing_enabled)
        return true;
    int64_t from = r->from_ms, to = r->to_ms;
    char err[512];
    ew_range_source *src = ew_range_open(r->cfg, r->cfg->topic_billing, from, to, err, sizeof err);
    if (!src) {
        ew_info("replay: billing topic %s not read: %s", r->cfg->topic_billing, err);
        return true;
    }
    bool done = false, ok = true;
    uint64_t outside = 0;
    while (ok && !done && !*r->stop) {
        rd_kafka_message_t *m = ew_range_next(src, 500, &done);
        if (!m)
            continue;
        int64_t ts = rd_kafka_message_timestamp(m, NULL);
        if (ts >= 0 && (ts < from || ts >= to))
            outside++;
        else if (m->len > 0)
            ok = fold_billing(r, m->partition, m->offset, m->payload, m->len);
        rd_kafka_message_destroy(m);
    }
    ew_range_close(src);
    if (outside)
        ew_info("replay: %llu billing records of %s arrived outside the range and were skipped",
                (unsigned long long)outside, r->cfg->topic_billing);
    return ok && billing_flush_and_score(r);
}

/* After the last record every window closes; claims come 8 at a time. */
static bool finish(replay *r)
{
    ew_core_end_of_input(r->core);
    if (!flush_and_score(r, true))
        return false;
    uint64_t before;
    do {
        before = ew_core_counters_of(r->core)->windows_scored;
        ew_core_score_closed(r->core);
    } while (ew_core_counters_of(r->core)->windows_scored > before);
    return true;
}

/* "request_spike firing=3 resolved=2 error_403_rate firing=1 resolved=1":
 * request_spike always, the other rules when they fired. */
static void format_alerts(const ew_core_counters *n, char *out, size_t cap)
{
    size_t len = 0;
    out[0] = '\0';
    for (int r = 0; r < EW_TRAFFIC_RULES && len < cap; r++)
        if (r == EW_RULE_REQUEST_SPIKE || n->by_rule[r][0] || n->by_rule[r][1])
            len += (size_t)snprintf(out + len, cap - len, "%s%s firing=%llu resolved=%llu", len ? " " : "",
                                    ew_rule_name((ew_rule_id)r), (unsigned long long)n->by_rule[r][0],
                                    (unsigned long long)n->by_rule[r][1]);
}

static void summary(const replay *r)
{
    if (ew_billing_core_counters_of(r->billing)->records)
        ew_billing_core_log_summary(r->billing);
    const ew_core_counters *n = ew_core_counters_of(r->core);
    uint64_t bad = 0;
    char reasons[512] = "";
    size_t len = 0;
    for (int i = 1; i < EW_DECODE_REASONS; i++)
        if (n->decode_errors[i]) {
            bad += n->decode_errors[i];
            len += (size_t)snprintf(reasons + len, sizeof reasons - len, " %s=%llu",
                                    ew_decode_error_name((ew_decode_error)i), (unsigned long long)n->decode_errors[i]);
        }
    char alerts[1024];
    format_alerts(n, alerts, sizeof alerts);
    ew_info("replay summary: %llu records (%llu outside the range), %llu decode errors%s%s, %llu late, "
            "%llu windows scored, alerts %s, %.1f s",
            (unsigned long long)n->records, (unsigned long long)n->outside_range, (unsigned long long)bad,
            bad ? ":" : "", reasons, (unsigned long long)n->late, (unsigned long long)n->windows_scored, alerts,
            (double)(ew_mono_ms() - r->started_ms) / 1000.0);
}

static int run_replay(const replay_args *a, ew_config *cfg, const ew_suppressions *supp, volatile sig_atomic_t *stop)
{
    replay r = {.cfg = cfg, .stop = stop, .tty = isatty(STDERR_FILENO)};
    r.alerts.out = a->alerts_out && strcmp(a->alerts_out, "-") != 0 ? fopen(a->alerts_out, "w") : stdout;
    if (!r.alerts.out) {
        fprintf(stderr, "edgewatch replay: cannot write %s: %s\n", a->alerts_out, strerror(errno));
        return EW_EXIT_USAGE;
    }
    char err[512];
    if (a->alerts_topic) {
        /* A copy that differs only in the alert topic; the sink keeps it. */
        r.alerts.sink_cfg = *cfg;
        r.alerts.sink_cfg.topic_alerts = (char *)a->alerts_topic;
        if (!(r.alerts.sink = ew_sink_new(&r.alerts.sink_cfg, err, sizeof err))) {
            fprintf(stderr, "edgewatch replay: kafka producer: %s\n", err);
            if (r.alerts.out != stdout)
                fclose(r.alerts.out);
            return EW_EXIT_RUNTIME;
        }
    }
    r.state = a->ns ? ew_state_open_valkey(cfg) : ew_state_open_memory(cfg);
    ew_core_output out = {&r.alerts, alert_to_file, alerts_flushed};
    r.topic = a->from ? cfg->topic_cloudfront : TOPIC;
    r.core = ew_core_new(cfg, r.state, r.topic, out, true, err, sizeof err);
    if (r.core && !(r.billing = ew_billing_core_new(cfg, r.state, BILLING_TOPIC, out, true, err, sizeof err))) {
        ew_core_free(r.core);
        r.core = NULL;
    }
    if (r.core) {
        ew_core_set_suppressions(r.core, supp);
        ew_billing_core_set_suppressions(r.billing, supp);
    }
    int rc = EW_EXIT_OK;
    if (!r.core) {
        fprintf(stderr, "edgewatch replay: %s\n", err);
        rc = EW_EXIT_USAGE;
    } else {
        r.started_ms = r.last_progress_ms = ew_mono_ms();
        bool ok = true;
        if (a->from) {
            ok = run_topic(&r, a);
        } else {
            r.bytes_total = input_bytes(a);
            r.record = malloc(sizeof *r.record);
            if (!r.record || !(r.feed = ew_line_feed_new(cfg, err, sizeof err))) {
                ew_error("replay: %s", r.record ? err : "out of memory");
                ok = false;
            } else {
                /* Lookups and top-value cleaning on the reading thread:
                 * replay never reloads the metadata. */
                ew_line_feed_prepare(r.feed, ew_core_metadata(r.core));
            }
            ok = ok && register_inputs(&r, a->n_inputs);
            for (size_t i = 0; ok && !*stop && i < a->n_inputs; i++)
                ok = replay_input(&r, (int32_t)i, a->inputs[i]);
        }
        ok = ok && !*stop && finish(&r) && replay_billing_inputs(&r, a) && replay_billing_topic(&r, a);
        progress(&r, true);
        summary(&r);
        rc = ok ? EW_EXIT_OK : EW_EXIT_RUNTIME;
    }
    uint64_t deleted = 0;
    if (a->cleanup && ew_state_drop_namespace(r.state, &deleted) != EW_STATE_OK) {
        ew_error("replay: --cleanup: %s", ew_state_last_error(r.state));
        rc = EW_EXIT_RUNTIME;
    } else if (a->cleanup) {
        ew_info("replay: --cleanup deleted %llu keys of namespace %s", (unsigned long long)deleted, a->ns);
    }
    if (r.alerts.out != stdout)
        fclose(r.alerts.out);
    else
        fflush(stdout);
    ew_line_feed_free(r.feed);
    free(r.record);
    ew_core_free(r.core);
    ew_billing_core_free(r.billing);
    ew_state_close(r.state);
    ew_sink_free(r.alerts.sink);
    return rc;
}

static int load_suppressions(const ew_config *cfg, const char *src, ew_suppressions *out)
{
    char err[512];
    bool live = strcmp(src, "valkey") == 0;
    if (live ? ew_suppressions_load_valkey(cfg, out, err, sizeof err)
             : ew_suppressions_load_file(src, out, err, sizeof err)) {
        ew_info("replay: %zu silences and expected events from %s", out->n, src);
        return 0;
    }
    fprintf(stderr, "edgewatch replay: --suppressions %s: %s\n", src, err);
    return live ? EW_EXIT_RUNTIME : EW_EXIT_USAGE;
}

/* --input files that hold billing events join the billing inputs. */
static void sort_inputs(replay_args *a)
{
    size_t kept = 0;
    for (size_t i = 0; i < a->n_inputs; i++) {
        if (a->n_billing < MAX_INPUTS && is_billing_file(a->inputs[i]))
            a->billing[a->n_billing++] = a->inputs[i];
        else
            a->inputs[kept++] = a->inputs[i];
    }
    a->n_inputs = kept;
}

/* Replays are judged by event time only: a partition must never go idle
 * by the wall clock and release windows early. */
static void replay_settings(ew_config *cfg) { cfg->idle_timeout_ms = INT64_MAX / 4; }

int ew_cmd_replay(int argc, char **argv, volatile sig_atomic_t *stop)
{
    replay_args a;
    memset(&a, 0, sizeof a);
    int rc = parse_args(argc, argv, &a);
    if (rc)
        return rc < 0 ? EW_EXIT_OK : rc;
    ew_config cfg = {0};
    ew_suppressions supp;
    ew_suppressions_init(&supp);
    rc = ew_config_load_cli(&cfg, "replay", a.config, a.sets, a.n_sets);
    char err[256];
    /* Before the namespace: silences and events are live, shared keys. */
    if (rc == 0 && a.suppressions)
        rc = load_suppressions(&cfg, a.suppressions, &supp);
    if (rc == 0 && a.ns && !ew_config_set_namespace(&cfg, a.ns, err, sizeof err))
        rc = usage_error(err, NULL);
    if (rc == 0 && a.alerts_topic && strcmp(a.alerts_topic, cfg.topic_alerts) == 0)
        rc = usage_error("--alerts-topic must not be the live alert topic (topics.alerts):", a.alerts_topic);
    if (rc == 0) {
        replay_settings(&cfg);
        sort_inputs(&a);
        rc = run_replay(&a, &cfg, &supp, stop);
    }
    ew_suppressions_free(&supp);
    ew_config_free(&cfg);
    return rc;
}
