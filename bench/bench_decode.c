/* bench_decode.c -- how fast one core decodes CloudFront real-time lines.
 *
 *   bench_decode [--fields all|default] FILE...
 *
 * Streams each FILE in turn with read() in 4 MiB chunks, splits lines with
 * memchr and decodes each line with ew_decode_message (the per-message,
 * encoding-sniffing entry point the processor uses; the decoder selects
 * all 69 fields, or with --fields default the 43 a configuration selects by
 * default, max_bytes 65536). bench/run.sh times the whole process, as it
 * times `wc -l FILE`; the loop's own time is printed too.
 *
 *   bench_decode --decode-only FILE
 *
 * times ew_decode_message alone over lines already split in memory (the
 * first 256 MiB of the file), best of 3 passes, for ns/record.
 *
 * Heap allocations are counted by defining malloc and friends here: the
 * executable's definitions interpose on every shared library too, and
 * forward to glibc's __libc_* entry points. The counter is the one piece
 * of global mutable state, which interposition needs.
 *
 * Each mode prints one line of key=value figures for bench/run.sh; the first few
 * failing lines go to stderr. Asserts nothing about time.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "edgewatch/config.h"
#include "edgewatch/decode.h"

#define CHUNK (4u << 20)
#define MAX_BYTES 65536
#define DECODE_ONLY_MAX ((size_t)256 << 20)

/* ---- allocation counting ---- */

extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t n);
extern void __libc_free(void *p);
extern void *__libc_memalign(size_t align, size_t n);

static uint64_t n_allocs;

static void counted(void) { __atomic_fetch_add(&n_allocs, 1, __ATOMIC_RELAXED); }

static uint64_t allocs_now(void) { return __atomic_load_n(&n_allocs, __ATOMIC_RELAXED); }

void *malloc(size_t n)
{
    counted();
    return __libc_malloc(n);
}

void *calloc(size_t n, size_t size)
{
    counted();
    return __libc_calloc(n, size);
}

void *realloc(void *p, size_t n)
{
    counted();
    return __libc_realloc(p, n);
}

void free(void *p) { __libc_free(p); }

void *memalign(size_t align, size_t n)
{
    counted();
    return __libc_memalign(align, n);
}

void *aligned_alloc(size_t align, size_t n)
{
    counted();
    return __libc_memalign(align, n);
}

int posix_memalign(void **out, size_t align, size_t n)
{
    if (align < sizeof(void *) || (align & (align - 1)) != 0)
        return EINVAL;
    counted();
    void *p = __libc_memalign(align, n);
    if (!p)
        return ENOMEM;
    *out = p;
    return 0;
}

void *valloc(size_t n)
{
    counted();
    return __libc_memalign((size_t)sysconf(_SC_PAGESIZE), n);
}

void *pvalloc(size_t n)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    counted();
    return __libc_memalign(page, (n + page - 1) / page * page);
}

/* ---- decoding ---- */

/* Lines seen, and why the failing ones failed. */

typedef struct {
    uint64_t lines, bytes, ok, errors, checksum;
    uint64_t by_reason[EW_DECODE_REASONS];
} tally;

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void decode_line(ew_message_decoder *md, const char *p, size_t len, ew_cf_record *r, tally *t)
{
    ew_decode_error e = ew_decode_message(md, p, len, r);
    t->lines++;
    if (e == EW_DECODE_OK) {
        t->ok++;
        t->checksum += r->status + r->bytes + (uint64_t)r->ts_ms + r->uri_path.len;
        return;
    }
    t->errors++;
    t->by_reason[(unsigned)e < EW_DECODE_REASONS ? e : 0]++;
    if (t->errors <= 5)
        fprintf(stderr, "bench_decode: line %" PRIu64 ": %s: %.*s\n", t->lines, ew_decode_error_name(e),
                (int)(len < 120 ? len : 120), p);
}

/* Splits buf[0..n) into lines; returns the bytes of an unfinished last line. */
static size_t decode_lines(ew_message_decoder *md, const char *buf, size_t n, ew_cf_record *r, tally *t)
{
    const char *p = buf, *end = buf + n;
    const char *nl;
    while ((nl = memchr(p, '\n', (size_t)(end - p))) != NULL) {
        decode_line(md, p, (size_t)(nl - p), r, t);
        p = nl + 1;
    }
    return (size_t)(end - p);
}

static bool stream_file(const char *path, ew_message_decoder *md, char *buf, ew_cf_record *r, tally *t)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        fprintf(stderr, "bench_decode: %s: %s\n", path, strerror(errno));
        return false;
    }
    size_t have = 0;
    for (;;) {
        ssize_t got = read(fd, buf + have, CHUNK);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            fprintf(stderr, "bench_decode: read %s: %s\n", path, strerror(errno));
            close(fd);
            return false;
        }
        if (got == 0)
            break;
        t->bytes += (uint64_t)got;
        size_t n = have + (size_t)got;
        size_t rest = decode_lines(md, buf, n, r, t);
        if (rest >= CHUNK) { /* a line longer than a chunk: decode what we have (it is too long) */
            decode_line(md, buf + n - rest, rest, r, t);
            rest = 0;
        }
        memmove(buf, buf + n - rest, rest);
        have = rest;
    }
    if (have)
        decode_line(md, buf, have, r, t);
    close(fd);
    return true;
}

/* Reads up to cap bytes of path, ending at a whole line. */
static char *load_prefix(const char *path, size_t cap, size_t *len)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return NULL;
    char *buf = malloc(cap);
    size_t n = 0;
    while (buf && n < cap) {
        ssize_t got = read(fd, buf + n, cap - n);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            break;
        n += (size_t)got;
    }
    close(fd);
    while (n && buf[n - 1] != '\n')
        n--;
    *len = n;
    return buf;
}

/* Times ew_decode_message alone over lines already in memory (the first
 * DECODE_ONLY_MAX bytes of path); best of 3 passes. */
static bool decode_only(const char *path, ew_message_decoder *md, ew_cf_record *r)
{
    size_t len = 0;
    char *mem = load_prefix(path, DECODE_ONLY_MAX, &len);
    if (!mem) {
        fprintf(stderr, "bench_decode: %s: %s\n", path, strerror(errno));
        return false;
    }
    size_t n_lines = 0;
    for (const char *p = mem; (p = memchr(p, '\n', (size_t)(mem + len - p))) != NULL; p++)
        n_lines++;
    size_t *starts = malloc((n_lines + 1) * sizeof *starts);
    if (!starts) {
        fprintf(stderr, "bench_decode: out of memory\n");
        free(mem);
        return false;
    }
    size_t k = 0;
    starts[0] = 0;
    for (const char *p = mem; (p = memchr(p, '\n', (size_t)(mem + len - p))) != NULL; p++)
        starts[++k] = (size_t)(p - mem) + 1;
    int64_t best = INT64_MAX;
    uint64_t allocs = 0, errors = 0, checksum = 0;
    for (int round = 0; round < 3; round++) {
        tally t = {0};
        uint64_t a0 = allocs_now();
        int64_t t0 = now_ns();
        for (size_t i = 0; i < n_lines; i++)
            decode_line(md, mem + starts[i], starts[i + 1] - starts[i] - 1, r, &t);
        int64_t t1 = now_ns();
        allocs += allocs_now() - a0;
        errors += t.errors;
        checksum += t.checksum;
        if (t1 - t0 < best)
            best = t1 - t0;
    }
    printf("decode_only_records=%zu decode_only_bytes=%zu decode_only_ns=%" PRId64 " decode_only_allocs=%" PRIu64
           " decode_only_errors=%" PRIu64 " checksum=%" PRIu64 "\n",
           n_lines, len, best, allocs, errors, checksum);
    free(starts);
    free(mem);
    return true;
}

/* The field list bench/run.sh gives `edgewatch replay` for the same file. */
static int print_fields(void)
{
    for (int i = 0; i < EW_CF_CANONICAL_FIELDS; i++)
        printf("%s%s", i ? "," : "", ew_field_name(i + 1));
    printf("\n");
    return 0;
}

static int usage(void)
{
    fprintf(stderr, "usage: bench_decode [--fields all|default] [--decode-only] FILE... | --print-fields\n");
    return 2;
}

/* Options first; *first gets the index of the first FILE. */
static bool parse_args(int argc, char **argv, bool *only, bool *defaults, int *first)
{
    int i = 1;
    for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
        if (strcmp(argv[i], "--decode-only") == 0)
            *only = true;
        else if (strcmp(argv[i], "--fields") == 0 && i + 1 < argc && strcmp(argv[i + 1], "all") == 0)
            i++;
        else if (strcmp(argv[i], "--fields") == 0 && i + 1 < argc && strcmp(argv[i + 1], "default") == 0)
            *defaults = (++i, true);
        else
            return false;
    }
    *first = i;
    /* --decode-only times one file's lines in memory. */
    return i < argc && (!*only || i + 1 == argc);
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--print-fields") == 0)
        return print_fields();
    bool only = false, defaults = false;
    int first;
    if (!parse_args(argc, argv, &only, &defaults, &first))
        return usage();
    const char *fields[EW_CF_CANONICAL_FIELDS];
    size_t n_fields = EW_CF_CANONICAL_FIELDS;
    if (defaults) {
        const char *const *names = ew_default_fields(&n_fields);
        memcpy(fields, names, n_fields * sizeof *names);
    } else
        for (int i = 0; i < EW_CF_CANONICAL_FIELDS; i++)
            fields[i] = ew_field_name(i + 1);
    /* As the processor would be configured for a topic that may also carry
     * Confluent-framed or bare Avro. */
    const int32_t ids[] = {1};
    const char *const schemas[] = {"builtin"};
    ew_message_decoder md;
    char err[256] = "";
    if (!ew_message_decoder_init(&md, fields, n_fields, MAX_BYTES, ids, schemas, 1, "builtin", err, sizeof err)) {
        fprintf(stderr, "bench_decode: decoder: %s\n", err);
        return 1;
    }
    ew_cf_record *r = malloc(sizeof *r);
    if (!r) {
        fprintf(stderr, "bench_decode: out of memory\n");
        return 1;
    }
    int rc = 0;
    if (only) {
        rc = decode_only(argv[first], &md, r) ? 0 : 1;
    } else {
        /* read + split + decode, end to end: the figure set against wc -l. */
        char *buf = malloc(2 * (size_t)CHUNK);
        tally *t = calloc(1, sizeof *t);
        if (!buf || !t) {
            fprintf(stderr, "bench_decode: out of memory\n");
            return 1;
        }
        uint64_t a0 = allocs_now();
        int64_t t0 = now_ns();
        bool ok = true;
        for (int i = first; ok && i < argc; i++)
            ok = stream_file(argv[i], &md, buf, r, t);
        int64_t t1 = now_ns();
        uint64_t allocs = allocs_now() - a0;
        if (ok) {
            printf("records=%" PRIu64 " bytes=%" PRIu64 " ok=%" PRIu64 " errors=%" PRIu64 " loop_ns=%" PRId64
                   " allocs=%" PRIu64 " checksum=%" PRIu64,
                   t->lines, t->bytes, t->ok, t->errors, t1 - t0, allocs, t->checksum);
            for (int e = 1; e < EW_DECODE_REASONS; e++)
                if (t->by_reason[e])
                    printf(" %s=%" PRIu64, ew_decode_error_name((ew_decode_error)e), t->by_reason[e]);
            for (int e = 0; e < EW_ENC_COUNT; e++)
                if (md.by_encoding[e])
                    printf(" enc_%s=%" PRIu64, ew_encoding_name((ew_encoding)e), md.by_encoding[e]);
            printf("\n");
        } else {
            rc = 1;
        }
        free(t);
        free(buf);
    }
    free(r);
    ew_message_decoder_free(&md);
    return rc;
}
