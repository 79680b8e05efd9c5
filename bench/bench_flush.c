/* bench_flush.c -- Valkey traffic of the flush path alone (ew_state_flush,
 * i.e. one EVALSHA of state/flush.lua per flush), with no scoring and no
 * polling mixed in.
 *
 *   bench_flush [--host H] [--port N] [--entities D] [--minutes M]
 *               [--records-per-pair K]        (defaults: 127.0.0.1 6379 1000 3 20)
 *
 * Needs a real Valkey/Redis 7 server that nothing else is using while it
 * runs (bench/state.sh calls it against its test stack's server once the
 * member has stopped). It simulates one live member with the configuration
 * defaults (ew_config_defaults: 60 s windows, 60 s allowed lateness):
 *
 *   - D entities, one partition, one flush per second of event time for M
 *     minutes (M x 60 flushes) from 2024-01-01T00:00:00Z;
 *   - flush f holds one delta per entity for the current window, folded
 *     from K records with event times in second f: each record is a real
 *     default 43-field TSV line -> ew_decode_message -> ew_delta_add, with
 *     skewed client IPs, URIs, ASNs and edge locations so the top lists
 *     carry heavy hitters;
 *   - on the first flush after a window boundary, ~10% of entities also
 *     carry a delta of the previous window (K/4 stragglers from its last
 *     second: on time, as they are within the allowed lateness);
 *   - the batch names partition 0 with contiguous offsets (from = the
 *     previous flush's next), so flush.lua accepts every batch; the
 *     aggregate is cleared after each flush, as the pipeline does.
 *
 * Keys go under a prefix of their own ("ewbench:<pid>:") and are deleted
 * at the end. INFO commandstats is read after ew_state_open (so its SCRIPT
 * LOADs are not counted) and after the last flush. Prints the flushes,
 * records, window and hour pairs flushed, client round trips and commands
 * (ew_state_stats_of), server commands (the cmdstat call deltas, which
 * include every redis.call inside flush.lua; INFO itself excluded), the
 * ratios against issue 4's targets, the top server commands, and wall time
 * per flush and per pair (a figure only). Exits 1 only when the measurement
 * itself fails (server unreachable, a flush refused, counts disagree).
 */
#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "edgewatch/aggregate.h"
#include "edgewatch/config.h"
#include "edgewatch/decode.h"
#include "edgewatch/state.h"
#include "edgewatch/window.h"

#define START_MS 1704067200000LL /* 2024-01-01T00:00:00Z, as the other benches */
#define HOUR_MS 3600000LL
#define STRAGGLER_PCT 10
#define LINE_CAP 4096
#define MAX_CMDSTATS 512
#define TOP_SHOWN 8
#define TOPIC "bench-flush"

typedef struct {
    const char *host;
    int port;
    size_t entities, minutes, records_per_pair;
} options;

/* What a column of the configured field list gets in a generated line. */
typedef enum {
    COL_DASH, COL_TS, COL_IP, COL_TTFB, COL_OFBL, COL_STATUS, COL_BYTES, COL_HOST, COL_CSHOST,
    COL_URI, COL_RESULT, COL_EDGE, COL_COUNTRY, COL_ASN, COL_METHOD
} col_kind;

typedef struct {
    options opt;
    ew_config cfg;
    ew_message_decoder md;
    ew_cf_record *rec;
    char *line;
    col_kind cols[EW_MAX_FIELDS];
    ew_aggregate *agg;
    uint32_t *ids;          /* interned entity ids */
    uint64_t *hour_keys;    /* scratch for counting (entity, hour) pairs */
    ew_state *state;
    int64_t next_offset;
    /* totals */
    uint64_t flushes, records, window_pairs, hour_pairs;
    double flush_us;
} sim;

typedef struct {
    char name[64];
    long long calls;
} cmdstat;

typedef struct {
    cmdstat v[MAX_CMDSTATS];
    size_t n;
} cmdstats;

static bool fail(const char *what, const char *detail)
{
    fprintf(stderr, "bench_flush: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
    return false;
}

static uint64_t mix64(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ULL;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/* ---- generated records ---- */

static col_kind classify(const char *f)
{
    static const struct {
        const char *name;
        col_kind kind;
    } known[] = {
        {"timestamp", COL_TS}, {"c-ip", COL_IP}, {"time-to-first-byte", COL_TTFB}, {"origin-fbl", COL_OFBL},
        {"sc-status", COL_STATUS}, {"sc-bytes", COL_BYTES}, {"x-host-header", COL_HOST}, {"cs-host", COL_CSHOST},
        {"cs-uri-stem", COL_URI}, {"x-edge-result-type", COL_RESULT}, {"x-edge-response-result-type", COL_RESULT},
        {"x-edge-location", COL_EDGE}, {"c-country", COL_COUNTRY}, {"asn", COL_ASN}, {"cs-method", COL_METHOD},
    };
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (strcmp(f, known[i].name) == 0)
            return known[i].kind;
    return COL_DASH;
}

/* One column of record k of entity e; h is the record's hash. Every
 * dimension of the top lists has a heavy hitter and a long tail. */
static int format_column(char *out, size_t cap, col_kind kind, size_t e, size_t k, uint64_t h, int64_t ts_ms)
{
    static const char *const statuses[] = {"200", "200", "200", "200", "304", "206", "404", "403", "503", "200"};
    static const char *const results[] = {"Hit", "Hit", "Miss", "RefreshHit", "Error", "Hit", "Miss", "Hit"};
    static const char *const countries[] = {"US", "US", "US", "DE", "FR", "JP", "BR", "IN"};
    bool hot = k % 4 == 0;
    switch (kind) {
    case COL_TS: return snprintf(out, cap, "%lld.%03lld", (long long)(ts_ms / 1000), (long long)(ts_ms % 1000));
    case COL_IP:
        return hot ? snprintf(out, cap, "198.51.100.%zu", e % 250)
                   : snprintf(out, cap, "10.%u.%u.%u", (unsigned)(h >> 8 & 255), (unsigned)(h >> 16 & 255),
                              (unsigned)(h >> 56));
    case COL_TTFB: return snprintf(out, cap, "0.%03u", (unsigned)((h >> 24) % 1000));
    case COL_OFBL: return snprintf(out, cap, "%u.%03u", (unsigned)(h >> 34 & 1), (unsigned)(h >> 36) % 1000);
    case COL_STATUS: return snprintf(out, cap, "%s", statuses[h % 10]);
    case COL_BYTES: return snprintf(out, cap, "%u", (unsigned)(h >> 40 & 0xfffff));
    case COL_HOST: return snprintf(out, cap, "d%013zu.cloudfront.net", e);
    case COL_CSHOST: return snprintf(out, cap, "www.project-%zu.example", e + 1);
    case COL_URI:
        return hot ? snprintf(out, cap, "/index.html")
                   : snprintf(out, cap, "/assets/%zu/%" PRIu64 ".js", k % 97, h % 100000);
    case COL_RESULT: return snprintf(out, cap, "%s", results[h >> 4 & 7]);
    case COL_EDGE: return snprintf(out, cap, "EDG%02u-C%u", hot ? 0u : (unsigned)(h % 53), (unsigned)(h >> 50 & 3));
    case COL_COUNTRY: return snprintf(out, cap, "%s", countries[h >> 12 & 7]);
    case COL_ASN: return snprintf(out, cap, "%u", hot ? 64512u : 64512u + (unsigned)(h % 40));
    case COL_METHOD: return snprintf(out, cap, "GET");
    case COL_DASH: break;
    }
    return snprintf(out, cap, "-");
}

/* A default-fields TSV line for record k of entity e at ts_ms; 0 if it does not fit. */
static size_t format_line(const sim *s, size_t e, size_t k, int64_t ts_ms)
{
    uint64_t h = mix64(((uint64_t)e << 40) ^ ((uint64_t)ts_ms << 8) ^ k);
    size_t n = 0;
    for (size_t c = 0; c < s->cfg.n_fields; c++) {
        if (c && n < LINE_CAP)
            s->line[n++] = '\t';
        int m = n < LINE_CAP ? format_column(s->line + n, LINE_CAP - n, s->cols[c], e, k, h, ts_ms) : -1;
        if (m < 0 || (size_t)m >= LINE_CAP - n)
            return 0;
        n += (size_t)m;
    }
    return n;
}

/* Decodes record k of entity e at ts_ms and folds it into its delta. */
static bool fold(sim *s, size_t e, size_t k, int64_t ts_ms)
{
    size_t len = format_line(s, e, k, ts_ms);
    ew_decode_error err = len ? ew_decode_message(&s->md, s->line, len, s->rec) : EW_DECODE_TOO_LONG;
    if (err != EW_DECODE_OK)
        return fail("a generated line does not decode", ew_decode_error_name(err));
    ew_delta *d = ew_aggregate_slot(s->agg, s->ids[e], ew_window_start(s->rec->ts_ms, s->cfg.window_ms));
    if (!d)
        return fail("the aggregate is full", "raise flush.max_pairs or lower --entities");
    ew_delta_add(d, s->rec, false);
    s->records++;
    return true;
}

/* The deltas of flush f: second f of the current window for every entity,
 * plus stragglers from the previous window's last second right after a
 * boundary. */
static bool fill_batch(sim *s, size_t f)
{
    int64_t second_ms = START_MS + (int64_t)f * 1000;
    bool boundary = f > 0 && second_ms % s->cfg.window_ms == 0;
    size_t K = s->opt.records_per_pair, late_k = K / 4 ? K / 4 : 1;
    for (size_t e = 0; e < s->opt.entities; e++) {
        if (boundary && mix64(e ^ (uint64_t)f << 32) % 100 < STRAGGLER_PCT)
            for (size_t k = 0; k < late_k; k++)
                if (!fold(s, e, k, second_ms - 1 - (int64_t)(mix64(e + k) % 1000)))
                    return false;
        for (size_t k = 0; k < K; k++)
            if (!fold(s, e, k, second_ms + (int64_t)(mix64(e ^ k << 20) % 1000)))
                return false;
    }
    return true;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Distinct (entity, hour) pairs of the batch: the hourly rollup hashes
 * flush.lua writes. */
static size_t hour_pairs(sim *s)
{
    size_t n = ew_aggregate_pairs(s->agg), distinct = 0;
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        const ew_delta *d = ew_aggregate_pair(s->agg, i);
        if (d->requests)
            s->hour_keys[m++] = (uint64_t)d->entity << 32 | (uint32_t)(d->window_start_ms / HOUR_MS);
    }
    n = m;
    qsort(s->hour_keys, n, sizeof *s->hour_keys, cmp_u64);
    for (size_t i = 0; i < n; i++)
        distinct += i == 0 || s->hour_keys[i] != s->hour_keys[i - 1];
    return distinct;
}

/* One flush of partition 0 with contiguous offsets; only ew_state_flush is timed. */
static bool flush_batch(sim *s, size_t f, uint64_t batch_records)
{
    int64_t event_end_ms = START_MS + (int64_t)(f + 1) * 1000;
    ew_flush_partition part = {0, s->next_offset, s->next_offset + (int64_t)batch_records,
                               event_end_ms - s->cfg.lateness_ms};
    int32_t refused_p = -1;
    int64_t refused_off = -1;
    size_t pairs = ew_aggregate_pending(s->agg), hours = hour_pairs(s);
    /* As the processor does: sketches ship once their window is over. */
    int64_t ship = event_end_ms - 1 - s->cfg.window_ms;
    double t0 = now_us();
    ew_state_status st = ew_state_flush(s->state, TOPIC, &part, 1, s->agg, ship, &refused_p, &refused_off);
    s->flush_us += now_us() - t0;
    if (st == EW_STATE_REFUSED)
        return fail("flush.lua refused a batch", "is another process using this prefix?");
    if (st != EW_STATE_OK)
        return fail("flush failed", ew_state_last_error(s->state));
    s->next_offset = part.next_offset;
    s->flushes++;
    s->window_pairs += pairs;
    s->hour_pairs += hours;
    ew_aggregate_flushed(s->agg, ship);
    return true;
}

/* ---- server side ---- */

static bool read_cmdstats(redisContext *c, cmdstats *out)
{
    redisReply *r = redisCommand(c, "INFO commandstats");
    if (!r || r->type != REDIS_REPLY_STRING) {
        freeReplyObject(r);
        return fail("INFO commandstats failed", c->err ? c->errstr : NULL);
    }
    out->n = 0;
    for (const char *p = r->str; p && *p && out->n < MAX_CMDSTATS; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        cmdstat *cs = &out->v[out->n];
        if (sscanf(p, "cmdstat_%63[^:]:calls=%lld", cs->name, &cs->calls) == 2)
            out->n++;
    }
    freeReplyObject(r);
    return true;
}

static long long calls_of(const cmdstats *s, const char *name)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->v[i].name, name) == 0)
            return s->v[i].calls;
    return 0;
}

static int cmp_calls_desc(const void *a, const void *b)
{
    long long x = ((const cmdstat *)a)->calls, y = ((const cmdstat *)b)->calls;
    return (x < y) - (x > y);
}

/* after - before per command, INFO left out, heaviest first; returns the sum. */
static long long server_delta(const cmdstats *before, const cmdstats *after, cmdstats *delta)
{
    long long total = 0;
    delta->n = 0;
    for (size_t i = 0; i < after->n; i++) {
        long long d = after->v[i].calls - calls_of(before, after->v[i].name);
        if (d == 0 || strcmp(after->v[i].name, "info") == 0)
            continue;
        delta->v[delta->n] = after->v[i];
        delta->v[delta->n++].calls = d;
        total += d;
    }
    qsort(delta->v, delta->n, sizeof delta->v[0], cmp_calls_desc);
    return total;
}

/* Counts the window (agg:) and hour (hagg:) hashes under the prefix, then
 * deletes every key under it. */
static bool count_and_delete_keys(redisContext *c, const char *prefix, size_t *agg, size_t *hagg)
{
    char agg_p[128], hagg_p[128];
    size_t agg_n = (size_t)snprintf(agg_p, sizeof agg_p, "%sagg:", prefix);
    size_t hagg_n = (size_t)snprintf(hagg_p, sizeof hagg_p, "%shagg:", prefix);
    char cursor[32] = "0";
    *agg = *hagg = 0;
    do {
        redisReply *r = redisCommand(c, "SCAN %s MATCH %s* COUNT 1000", cursor, prefix);
        if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
            freeReplyObject(r);
            return fail("SCAN failed", c->err ? c->errstr : NULL);
        }
        snprintf(cursor, sizeof cursor, "%s", r->element[0]->str);
        for (size_t i = 0; i < r->element[1]->elements; i++) {
            const char *key = r->element[1]->element[i]->str;
            *agg += strncmp(key, agg_p, agg_n) == 0;
            *hagg += strncmp(key, hagg_p, hagg_n) == 0;
            freeReplyObject(redisCommand(c, "UNLINK %s", key));
        }
        freeReplyObject(r);
    } while (strcmp(cursor, "0") != 0);
    return true;
}

/* ---- set-up ---- */

static bool parse_size(const char *text, size_t *out)
{
    char *end = NULL;
    unsigned long long v = strtoull(text, &end, 10);
    if (!*text || *end || v == 0)
        return false;
    *out = (size_t)v;
    return true;
}

static bool parse_args(int argc, char **argv, options *o)
{
    *o = (options){"127.0.0.1", 6379, 1000, 3, 20};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        size_t port = 0;
        bool ok = v != NULL;
        if (ok && strcmp(a, "--host") == 0)
            o->host = v;
        else if (ok && strcmp(a, "--port") == 0) {
            ok = parse_size(v, &port) && port <= 65535;
            o->port = (int)port;
        }
        else if (ok && strcmp(a, "--entities") == 0)
            ok = parse_size(v, &o->entities);
        else if (ok && strcmp(a, "--minutes") == 0)
            ok = parse_size(v, &o->minutes);
        else if (ok && strcmp(a, "--records-per-pair") == 0)
            ok = parse_size(v, &o->records_per_pair);
        else
            ok = false;
        if (!ok) {
            fprintf(stderr, "usage: bench_flush [--host H] [--port N] [--entities D] [--minutes M] "
                            "[--records-per-pair K]\n");
            return false;
        }
        i++;
    }
    return true;
}

static bool sim_open(sim *s, const options *o)
{
    char err[512] = "", prefix[64];
    memset(s, 0, sizeof *s);
    s->opt = *o;
    ew_config_defaults(&s->cfg);
    free(s->cfg.valkey_host);
    s->cfg.valkey_host = strdup(o->host);
    s->cfg.valkey_port = o->port;
    snprintf(prefix, sizeof prefix, "ewbench:%d:", (int)getpid());
    free(s->cfg.prefix);
    s->cfg.prefix = strdup(prefix);
    if (!ew_message_decoder_init(&s->md, (const char *const *)s->cfg.fields, s->cfg.n_fields, s->cfg.max_line_bytes,
                                 s->cfg.avro_ids, (const char *const *)s->cfg.avro_paths, s->cfg.n_avro,
                                 s->cfg.avro_bare, err, sizeof err))
        return fail("decoder", err);
    for (size_t c = 0; c < s->cfg.n_fields; c++)
        s->cols[c] = classify(s->cfg.fields[c]);
    s->rec = calloc(1, sizeof *s->rec);
    s->line = malloc(LINE_CAP);
    s->ids = calloc(o->entities, sizeof *s->ids);
    s->hour_keys = calloc(s->cfg.flush_max_pairs, sizeof *s->hour_keys);
    s->agg = ew_aggregate_new(s->cfg.flush_max_pairs);
    if (!s->rec || !s->line || !s->ids || !s->hour_keys || !s->agg)
        return fail("out of memory", NULL);
    for (size_t e = 0; e < o->entities; e++) {
        char name[32];
        int n = snprintf(name, sizeof name, "EBENCH%08zu", e);
        s->ids[e] = ew_entity_intern(s->agg, ew_str_make(name, (size_t)n));
    }
    s->state = ew_state_open(&s->cfg);
    if (!s->state || ew_state_stats_of(s->state)->round_trips == 0)
        return fail("cannot reach the server", s->state ? ew_state_last_error(s->state) : NULL);
    return true;
}

static void sim_close(sim *s)
{
    ew_state_close(s->state);
    ew_aggregate_free(s->agg);
    free(s->hour_keys);
    free(s->ids);
    free(s->line);
    free(s->rec);
    ew_message_decoder_free(&s->md);
    ew_config_free(&s->cfg);
}

/* ---- report ---- */

static double ratio(double x, double y) { return y ? x / y : 0; }

static void row(const char *name, double total, const sim *s)
{
    printf("%-48s %12.0f %12.2f %16.0f\n", name, total, ratio(total, (double)s->flushes),
           ratio(total * 1e6, (double)s->records));
}

static void verdict(const char *name, double figure, int target)
{
    printf("  %-50s %7.3f  target <= %d  %s\n", name, figure, target, figure <= target ? "MET" : "MISSED");
}

static void report(const sim *s, const ew_state_stats *client, long long server, const cmdstats *top)
{
    const options *o = &s->opt;
    double wp = (double)s->window_pairs, hp = (double)s->hour_pairs;
    printf("\nedgewatch flush-path benchmark: ew_state_flush alone (one EVALSHA of flush.lua per flush)\n");
    printf("server %s:%d, prefix ewbench:<pid>: (deleted afterwards); no scoring, no close polls\n", o->host, o->port);
    printf("member: %zu entities, 1 partition, 1 flush per second of event time over %zu min (%llds windows);\n",
           o->entities, o->minutes, (long long)(s->cfg.window_ms / 1000));
    printf("        %zu decoded records per entity per flush; right after a window boundary ~%d%% of entities\n"
           "        also flush %zu on-time stragglers of the previous window\n\n",
           o->records_per_pair, STRAGGLER_PCT, o->records_per_pair / 4 ? o->records_per_pair / 4 : 1);
    printf("%-48s %12s %12s %16s\n", "", "total", "per flush", "per 1M records");
    row("flushes", (double)s->flushes, s);
    row("records", (double)s->records, s);
    row("(entity, window) pairs flushed", wp, s);
    row("(entity, hour) pairs flushed", hp, s);
    row("client round trips", (double)client->round_trips, s);
    row("client commands", (double)client->commands, s);
    row("server commands (incl. inside Lua; INFO excluded)", (double)server, s);
    printf("top server commands:");
    for (size_t i = 0; i < top->n && i < TOP_SHOWN; i++)
        printf(" %s %lld (%.0f%%)", top->v[i].name, top->v[i].calls, 100 * ratio((double)top->v[i].calls, (double)server));
    printf("\ntime (wall, figure only): %.0f us per flush, %.2f us per window pair\n\n", ratio(s->flush_us, (double)s->flushes),
           ratio(s->flush_us, wp));
    printf("target 1: round trips <= flushes\n");
    verdict("client round trips / flushes", ratio((double)client->round_trips, (double)s->flushes), 1);
    printf("target 2: commands <= 2 x pairs touched\n");
    printf(" pairs touched = (entity, window) pairs only:\n");
    verdict("client commands / window pairs", ratio((double)client->commands, wp), 2);
    verdict("server commands / window pairs", ratio((double)server, wp), 2);
    printf(" pairs touched = (entity, window) + (entity, hour) pairs (hashes written):\n");
    verdict("server commands / (window + hour pairs)", ratio((double)server, wp + hp), 2);
}

static bool simulate(sim *s)
{
    for (size_t f = 0; f < s->opt.minutes * 60; f++) {
        uint64_t first = s->records;
        if (!fill_batch(s, f) || !flush_batch(s, f, s->records - first))
            return false;
    }
    return true;
}

/* Deletes the keys under the prefix; true when the offset flush.lua
 * recorded and the window (agg:) and hour (hagg:) hashes it created match
 * what was flushed. */
static bool stored_matches(const sim *s, redisContext *c, size_t *agg_keys, size_t *hagg_keys)
{
    redisReply *off = redisCommand(c, "HGET %soff:%s 0", s->cfg.prefix, TOPIC);
    bool off_ok = off && off->type == REDIS_REPLY_STRING && strtoll(off->str, NULL, 10) == (long long)s->records;
    freeReplyObject(off);
    size_t span_ms = s->opt.minutes * 60000;
    size_t windows = (span_ms + (size_t)s->cfg.window_ms - 1) / (size_t)s->cfg.window_ms;
    size_t hours = (span_ms + HOUR_MS - 1) / HOUR_MS;
    return count_and_delete_keys(c, s->cfg.prefix, agg_keys, hagg_keys) && off_ok &&
           *agg_keys == s->opt.entities * windows && *hagg_keys == s->opt.entities * hours;
}

/* Everything after the set-up: snapshot, flushes, snapshot, cross-checks. */
static bool run(sim *s, redisContext *c)
{
    cmdstats *before = malloc(sizeof *before), *after = malloc(sizeof *after), *delta = malloc(sizeof *delta);
    ew_state_stats start = *ew_state_stats_of(s->state);
    bool ok = before && after && delta && read_cmdstats(c, before) && simulate(s) && read_cmdstats(c, after);
    size_t agg_keys = 0, hagg_keys = 0;
    bool stored_ok = stored_matches(s, c, &agg_keys, &hagg_keys);
    if (ok && !stored_ok)
        ok = fail("stored state disagrees with what was flushed", "the offset, agg: or hagg: key counts");
    if (ok) {
        ew_state_stats client = *ew_state_stats_of(s->state);
        client.round_trips -= start.round_trips;
        client.commands -= start.commands;
        long long server = server_delta(before, after, delta);
        report(s, &client, server, delta);
        printf("cross-check: off:%s 0 = %" PRIu64 " (every record); %zu agg: keys; %zu hagg: keys\n", TOPIC,
               s->records, agg_keys, hagg_keys);
    }
    free(before);
    free(after);
    free(delta);
    return ok;
}

int main(int argc, char **argv)
{
    options o;
    if (!parse_args(argc, argv, &o))
        return 2;
    sim *s = malloc(sizeof *s);
    if (!s)
        return 1;
    redisContext *c = redisConnect(o.host, o.port);
    bool ok = c && !c->err ? sim_open(s, &o) : fail("cannot connect", c ? c->errstr : NULL);
    ok = ok && run(s, c);
    if (c && !c->err)
        sim_close(s);
    redisFree(c);
    free(s);
    return ok ? 0 : 1;
}
