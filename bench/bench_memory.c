/* bench_memory.c -- resident memory of the processor's in-memory state per
 * active distribution.
 *
 *   bench_memory [--records-per-pair K] [D ...]      (default: 1000 5000 10000)
 *
 * For each D, in a fresh child process (so that memory one measurement
 * freed cannot hide the next one's growth), with the configuration
 * defaults (ew_config_defaults: the 43 default fields, the window width,
 * flush.max_pairs):
 *
 *   1. writes a metadata file with D distributions, in the JSON shape
 *      `edgewatch gen --metadata-out` writes (id, domain, one alias,
 *      project, owner, route), under $TMPDIR;
 *   2. reads VmRSS from /proc/self/status (before);
 *   3. loads it with ew_metadata_load and creates the aggregator with
 *      ew_aggregate_new(flush.max_pairs), reading VmRSS after each;
 *   4. folds K records (default 64) into each of 2 windows of each
 *      distribution, as the pipeline does per record: a real-time TSV line
 *      in the default 43 fields -> ew_decode_message -> the x-host-header
 *      domain through ew_metadata_by_domain -> ew_entity_intern of the
 *      distribution id -> ew_aggregate_slot(entity, window) ->
 *      ew_delta_add. Every record of a pair has its own client IP, URI,
 *      edge location and ASN, and statuses, results and latencies vary, so
 *      a per-delta sketch of top contributors fills up. Two windows per
 *      distribution is the worst case the processor holds: the flush at a
 *      window boundary carries the closing and the opening window;
 *   5. reads VmRSS again (after).
 *
 * Prints, per D: (after - before) / D in bytes, the verdict figure; its two
 * parts (metadata load; aggregator creation + folding); the same after
 * malloc_trim(0), i.e. without freed pages malloc still holds; and
 * malloc's view (mallinfo2: bytes in use by the loaded metadata, and the
 * aggregator's allocation, mostly an mmapped table that is resident only
 * where touched). Then sizeof(ew_delta), the marginal cost between
 * successive D, and the verdict per D against 2048 bytes per distribution.
 * Figures only: exits 1 only when the measurement itself fails.
 *
 * Not counted: the Kafka client, the decoder and other per-process state
 * whose size does not depend on D.
 */
#include <errno.h>
#include <inttypes.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "edgewatch/aggregate.h"
#include "edgewatch/config.h"
#include "edgewatch/decode.h"
#include "edgewatch/metadata.h"
#include "edgewatch/window.h"

#define TARGET_BYTES 2048
#define MAX_D 64
#define LINE_MAX_BYTES 4096
#define WINDOWS 2
/* 2024-01-01T00:00:00Z, as bench/run.sh and bench/state.sh use. */
#define START_S 1704067200LL

typedef struct {
    long long rss_before, rss_meta, rss_agg, rss_after, rss_trimmed; /* kB */
    long long heap_before, heap_meta, heap_agg, heap_after; /* bytes */
    size_t pairs, entities, records;
} measurement;

static long long vm_rss_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return -1;
    char line[256];
    long long kb = -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %lld kB", &kb) == 1)
            break;
    fclose(f);
    return kb;
}

static long long heap_bytes(void)
{
    struct mallinfo2 mi = mallinfo2();
    return (long long)(mi.uordblks + mi.hblkhd);
}

static uint64_t mix64(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ULL;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}

/* n characters from alphabet, the last 6 encoding i (unique for i < 36^6). */
static void name_chars(char *out, size_t n, uint64_t i, uint64_t salt, const char *alphabet)
{
    uint64_t h = mix64(i ^ salt), v = i;
    for (size_t k = 0; k < n; k++) {
        if (k + 6 < n) {
            out[k] = alphabet[h % 36];
            h /= 36;
        } else {
            out[k] = alphabet[v % 36];
            v /= 36;
        }
    }
    out[n] = '\0';
}

static const char UPPER[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
static const char LOWER[] = "abcdefghijklmnopqrstuvwxyz0123456789";

static void dist_id(char out[16], size_t i)
{
    out[0] = 'E';
    name_chars(out + 1, 13, i, 0x1d, UPPER);
}

static void dist_domain(char out[40], size_t i)
{
    char body[16];
    name_chars(body, 13, i, 0x2e, LOWER);
    snprintf(out, 40, "d%s.cloudfront.net", body);
}

/* The shape `edgewatch gen --metadata-out` writes. */
static bool write_metadata(const char *path, size_t n)
{
    static const char *const teams[] = {"team-payments", "team-search", "team-media", "team-imaging", "team-docs",
                                        "team-mobile"};
    FILE *f = fopen(path, "w");
    if (!f)
        return false;
    fprintf(f, "{\n  \"distributions\": [\n");
    for (size_t i = 0; i < n; i++) {
        char id[16], domain[40];
        dist_id(id, i);
        dist_domain(domain, i);
        fprintf(f,
                "    {\n      \"id\": \"%s\",\n      \"domain\": \"%s\",\n      \"aliases\": [\n"
                "        \"www.project-%zu.example\"\n      ],\n      \"project\": \"project-%zu\",\n"
                "      \"owner\": \"%s\",\n      \"route\": \"slack:#project-%zu-oncall\"\n    }%s\n",
                id, domain, i + 1, i + 1, teams[i % (sizeof teams / sizeof teams[0])], i + 1, i + 1 < n ? "," : "");
    }
    fprintf(f, "  ]\n}\n");
    return fclose(f) == 0;
}

/* One real-time line in the configured fields: record k of distribution
 * dist in window w. Fields the pipeline does not read get plausible text
 * or "-". */
static size_t format_line(char *buf, size_t cap, const ew_config *cfg, size_t dist, int w, size_t k,
                          const char *domain)
{
    static const char *const statuses[] = {"200", "200", "200", "200", "304", "206", "404", "403", "503", "200"};
    static const char *const results[] = {"Hit", "Hit", "Miss", "RefreshHit", "Error", "Hit", "Miss", "Hit"};
    static const char *const countries[] = {"US", "DE", "FR", "JP", "BR", "IN", "GB", "CA"};
    uint64_t h = mix64(((uint64_t)dist << 24) ^ ((uint64_t)w << 20) ^ k);
    long long ts_ms = (START_S + (long long)w * (cfg->window_ms / 1000)) * 1000 + (long long)(h % (uint64_t)cfg->window_ms);
    size_t n = 0;
    for (size_t c = 0; c < cfg->n_fields && n < cap; c++) {
        const char *f = cfg->fields[c];
        int m;
        if (c)
            buf[n++] = '\t';
        if (strcmp(f, "timestamp") == 0)
            m = snprintf(buf + n, cap - n, "%lld.%03lld", ts_ms / 1000, ts_ms % 1000);
        else if (strcmp(f, "c-ip") == 0)
            m = snprintf(buf + n, cap - n, "10.%u.%u.%u", (unsigned)(h >> 8 & 255), (unsigned)(h >> 16 & 255),
                         (unsigned)(k & 255));
        else if (strcmp(f, "time-to-first-byte") == 0)
            m = snprintf(buf + n, cap - n, "0.%03u", (unsigned)((h >> 24) % 1000));
        else if (strcmp(f, "origin-fbl") == 0)
            m = snprintf(buf + n, cap - n, "%u.%03u", (unsigned)(h >> 34 & 1), (unsigned)(h >> 36) % 1000);
        else if (strcmp(f, "sc-status") == 0)
            m = snprintf(buf + n, cap - n, "%s", statuses[h % 10]);
        else if (strcmp(f, "sc-bytes") == 0)
            m = snprintf(buf + n, cap - n, "%u", (unsigned)(h >> 40 & 0xfffff));
        else if (strcmp(f, "x-host-header") == 0)
            m = snprintf(buf + n, cap - n, "%s", domain);
        else if (strcmp(f, "cs-host") == 0)
            m = snprintf(buf + n, cap - n, "www.project-%zu.example", dist + 1);
        else if (strcmp(f, "cs-uri-stem") == 0)
            m = snprintf(buf + n, cap - n, "/assets/%zu/%" PRIu64 ".js", k % 97, h % 100000);
        else if (strcmp(f, "x-edge-result-type") == 0 || strcmp(f, "x-edge-response-result-type") == 0)
            m = snprintf(buf + n, cap - n, "%s", results[h >> 4 & 7]);
        else if (strcmp(f, "x-edge-location") == 0)
            m = snprintf(buf + n, cap - n, "EDG%02u-C%u", (unsigned)(k % 53), (unsigned)(h >> 50 & 3));
        else if (strcmp(f, "c-country") == 0)
            m = snprintf(buf + n, cap - n, "%s", countries[h >> 12 & 7]);
        else if (strcmp(f, "asn") == 0)
            m = snprintf(buf + n, cap - n, "%u", 64512 + (unsigned)(k * 7 + (h & 15)));
        else if (strcmp(f, "cs-method") == 0)
            m = snprintf(buf + n, cap - n, "GET");
        else
            m = snprintf(buf + n, cap - n, "-");
        if (m < 0 || (size_t)m >= cap - n)
            return 0;
        n += (size_t)m;
    }
    return n < cap ? n : 0;
}

static bool fail(const char *what)
{
    fprintf(stderr, "bench_memory: %s\n", what);
    return false;
}

static bool measure(size_t D, size_t K, measurement *out)
{
    ew_config cfg;
    ew_config_defaults(&cfg);
    char err[512] = "";
    ew_message_decoder md;
    if (!ew_message_decoder_init(&md, (const char *const *)cfg.fields, cfg.n_fields, cfg.max_line_bytes, cfg.avro_ids,
                                 (const char *const *)cfg.avro_paths, cfg.n_avro, cfg.avro_bare, err, sizeof err))
        return fail(err);
    ew_cf_record *r = malloc(sizeof *r);
    char *line = malloc(LINE_MAX_BYTES);
    char (*domains)[40] = malloc(D * sizeof *domains); /* input, not processor state */
    const char *tmp = getenv("TMPDIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/edgewatch-bench-meta.%d.json", tmp && *tmp ? tmp : "/tmp", (int)getpid());
    if (!r || !line || !domains)
        return fail("out of memory");
    for (size_t i = 0; i < D; i++)
        dist_domain(domains[i], i);
    if (!write_metadata(path, D)) {
        unlink(path);
        return fail("cannot write the metadata file");
    }
    /* Warm up the decode path (and fault in the record and line buffers). */
    memset(r, 0, sizeof *r);
    memset(line, 0, LINE_MAX_BYTES);
    size_t len = format_line(line, LINE_MAX_BYTES, &cfg, 0, 0, 0, domains[0]);
    if (!len || ew_decode_message(&md, line, len, r) != EW_DECODE_OK) {
        unlink(path);
        return fail("a generated line does not decode");
    }

    out->rss_before = vm_rss_kb();
    out->heap_before = heap_bytes();
    ew_metadata *meta = ew_metadata_load(path, err, sizeof err);
    unlink(path);
    if (!meta)
        return fail(err);
    out->rss_meta = vm_rss_kb();
    out->heap_meta = heap_bytes();
    ew_aggregate *agg = ew_aggregate_new(cfg.flush_max_pairs);
    out->rss_agg = vm_rss_kb();
    out->heap_agg = heap_bytes();

    size_t records = 0;
    for (int w = 0; w < WINDOWS; w++)
        for (size_t dist = 0; dist < D; dist++)
            for (size_t k = 0; k < K; k++) {
                len = format_line(line, LINE_MAX_BYTES, &cfg, dist, w, k, domains[dist]);
                ew_decode_error e = len ? ew_decode_message(&md, line, len, r) : EW_DECODE_TOO_LONG;
                if (e != EW_DECODE_OK) {
                    fprintf(stderr, "bench_memory: %s: %.*s\n", ew_decode_error_name(e), (int)len, line);
                    return false;
                }
                const ew_distribution *d = ew_metadata_by_domain(meta, ew_cf_identity(r));
                if (!d)
                    return fail("a domain is missing from the metadata");
                uint32_t entity = ew_entity_intern(agg, ew_str_make(d->id, strlen(d->id)));
                ew_delta *delta = ew_aggregate_slot(agg, entity, ew_window_start(r->ts_ms, cfg.window_ms));
                if (!delta)
                    return fail("the aggregate is full: D x 2 exceeds flush.max_pairs");
                ew_delta_add(delta, r, false);
                records++;
            }
    out->rss_after = vm_rss_kb();
    out->heap_after = heap_bytes();
    /* What stays resident once malloc gives free pages back (the metadata
     * loader's parse tree is freed, but its pages stay with the process). */
    malloc_trim(0);
    out->rss_trimmed = vm_rss_kb();
    out->pairs = ew_aggregate_pairs(agg);
    out->entities = ew_entity_count(agg);
    out->records = records;
    if (out->pairs != WINDOWS * D || out->entities != D)
        return fail("unexpected pair or entity count");
    ew_aggregate_free(agg);
    ew_metadata_free(meta);
    free(domains);
    free(line);
    free(r);
    ew_message_decoder_free(&md);
    ew_config_free(&cfg);
    return true;
}

/* Runs measure() in a child and reads its result through a pipe. */
static bool measure_in_child(size_t D, size_t K, measurement *m)
{
    int fds[2];
    if (pipe(fds) != 0)
        return fail(strerror(errno));
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0)
        return fail(strerror(errno));
    if (pid == 0) {
        close(fds[0]);
        measurement mm = {0};
        bool ok = measure(D, K, &mm);
        ssize_t n = ok ? write(fds[1], &mm, sizeof mm) : 0;
        _exit(ok && n == (ssize_t)sizeof mm ? 0 : 1);
    }
    close(fds[1]);
    ssize_t got = 0, n;
    while (got < (ssize_t)sizeof *m && (n = read(fds[0], (char *)m + got, sizeof *m - (size_t)got)) > 0)
        got += n;
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    return got == (ssize_t)sizeof *m && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static double per(long long kb_after, long long kb_before, size_t d)
{
    return (double)(kb_after - kb_before) * 1024.0 / (double)d;
}

int main(int argc, char **argv)
{
    size_t K = 64, ds[MAX_D], n_ds = 0;
    for (int i = 1; i < argc; i++) {
        char *end = NULL;
        if (strcmp(argv[i], "--records-per-pair") == 0 && i + 1 < argc) {
            K = strtoul(argv[++i], &end, 10);
            if (*end || K == 0) {
                fprintf(stderr, "bench_memory: --records-per-pair needs a positive number\n");
                return 2;
            }
        } else {
            unsigned long v = strtoul(argv[i], &end, 10);
            if (*end || v == 0 || n_ds == MAX_D) {
                fprintf(stderr, "usage: bench_memory [--records-per-pair K] [DISTRIBUTIONS ...]\n");
                return 2;
            }
            ds[n_ds++] = v;
        }
    }
    if (!n_ds) {
        ds[0] = 1000, ds[1] = 5000, ds[2] = 10000;
        n_ds = 3;
    }
    ew_config cfg;
    ew_config_defaults(&cfg);
    size_t max_pairs = cfg.flush_max_pairs;
    long long window_s = cfg.window_ms / 1000;
    ew_config_free(&cfg);

    printf("\nedgewatch memory benchmark: processor state per active distribution (VmRSS, one process per D)\n");
    printf("aggregator: flush.max_pairs %zu (default); %d windows x D distributions; %zu records per pair, %llds "
           "windows\n",
           max_pairs, WINDOWS, K, window_s);
    printf("sizeof(ew_delta) %zu bytes; sizeof(ew_cf_record) %zu bytes (one, reused)\n\n", sizeof(ew_delta),
           sizeof(ew_cf_record));
    printf("%7s %7s %8s | %9s %8s %9s %9s %9s | %9s %9s\n", "", "", "", "", "", "", "", "after", "heap in", "agg");
    printf("%7s %7s %8s | %9s %8s %9s %9s %9s | %9s %9s\n", "", "", "", "RSS", "RSS", "metadata", "agg+fold",
           "malloc_", "use: meta", "reserved");
    printf("%7s %7s %8s | %9s %8s %9s %9s %9s | %9s %9s\n", "D", "pairs", "records", "delta kB", "bytes/D", "bytes/D",
           "bytes/D", "trim B/D", "bytes/D", "MB");
    measurement ms[MAX_D];
    for (size_t i = 0; i < n_ds; i++) {
        if (WINDOWS * ds[i] > max_pairs) {
            fprintf(stderr, "bench_memory: %zu distributions x %d windows exceed flush.max_pairs %zu\n", ds[i],
                    WINDOWS, max_pairs);
            return 1;
        }
        if (!measure_in_child(ds[i], K, &ms[i])) {
            fprintf(stderr, "bench_memory: the measurement for %zu distributions failed\n", ds[i]);
            return 1;
        }
        const measurement *m = &ms[i];
        printf("%7zu %7zu %8zu | %9lld %8.0f %9.0f %9.0f %9.0f | %9.0f %9.1f\n", ds[i], m->pairs, m->records,
               m->rss_after - m->rss_before, per(m->rss_after, m->rss_before, ds[i]),
               per(m->rss_meta, m->rss_before, ds[i]), per(m->rss_after, m->rss_meta, ds[i]),
               per(m->rss_trimmed, m->rss_before, ds[i]), (double)(m->heap_meta - m->heap_before) / (double)ds[i],
               (double)(m->heap_agg - m->heap_meta) / 1e6);
    }
    printf("\n");
    for (size_t i = 1; i < n_ds; i++)
        if (ds[i] > ds[i - 1])
            printf("marginal, %zu -> %zu distributions: %.0f bytes per added distribution\n", ds[i - 1], ds[i],
                   (double)((ms[i].rss_after - ms[i].rss_before) - (ms[i - 1].rss_after - ms[i - 1].rss_before)) *
                       1024.0 / (double)(ds[i] - ds[i - 1]));
    for (size_t i = 0; i < n_ds; i++) {
        double b = per(ms[i].rss_after, ms[i].rss_before, ds[i]);
        printf("target: resident memory per active distribution, D=%-6zu %7.0f bytes  target <= %d  %s\n", ds[i], b,
               TARGET_BYTES, b <= TARGET_BYTES ? "MET" : "MISSED");
    }
    return 0;
}
