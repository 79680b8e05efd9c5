/* line_feed.c -- read, split and decode one input's lines on a second
 * thread, handing the records over in batches, and share the decoding with
 * the caller when it would otherwise wait.
 *
 * A ring of N_BATCHES batches is filled and read in the same order: batch
 * k sits in slot k % N_BATCHES, the reading thread fills slot `produced`
 * and the caller reads slot `released`. A batch owns the input bytes its
 * lines lie in: when the reader needs more input it moves to the next
 * slot, copying the unfinished line there, instead of sliding the bytes of
 * a buffer whose lines are still to be folded. Reads of at least twice
 * gzbuffer's size go straight into the batch, without a copy through
 * zlib's buffer.
 *
 * Decoding is most of the work and folding must stay in order on the
 * caller's thread, so a published batch (FILLED: lines split, nothing
 * decoded) is decoded by whichever thread claims it first, under the
 * mutex. The reader decodes what it reads, except the batch the caller
 * takes next; the caller, reaching a batch nobody has claimed, decodes
 * its lines itself as it folds them. When folding is quicker than decoding,
 * the caller thus takes over part of the decoding instead of waiting, and
 * both cores decode. Either way a record decodes to the same thing, and
 * the caller gets them in input order: results do not depend on timing.
 */
#include "edgewatch/line_feed.h"
#include "edgewatch/topk.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* Enough batches to keep reading and decoding while the caller flushes
 * and scores, which over thousands of distributions takes 10-30 ms every
 * 65,536 records: 24 MiB of input ahead at most, about 20 ms of decoding.
 * With 32 batches the reading thread slept through most of each flush
 * and the caller then waited for it (perf sched: 0.3 s of a 2.1 s
 * replay); each batch is about 475 KB of memory. */
#define N_BATCHES 96
#define BATCH_BYTES (256u << 10)
#define BATCH_RECORDS 512
#define BATCH_SCRATCH (16 * EW_CF_SCRATCH)
/* Records ahead whose strings are fetched (see ew_line_feed_next). */
#define PREFETCH_AHEAD 4

typedef enum { FILLED, DECODING, DECODED, TAKEN } batch_state;

typedef struct {
    size_t at, len;
} line_span;

typedef struct {
    char *bytes;            /* input bytes; the lines and records point here */
    line_span *lines;       /* n non-empty lines, as the decoder gets them */
    unsigned char *heads;   /* records decoded by the reader, EW_CF_RECORD_HEAD bytes each */
    ew_decode_error *errors;
    uint32_t *dists;        /* with prepare: each head's distribution + 1, 0 for none */
    char *scratch;          /* the records' scratch bytes, detached, and cleaned values */
    size_t n, n_decoded;    /* lines; the first n_decoded have heads */
    size_t scratch_used;
    batch_state state;      /* under the mutex once published */
    uint64_t position;      /* gzoffset after the last read into bytes */
} batch;

struct ew_line_feed {
    ew_message_decoder decoder; /* the reader's */
    ew_message_decoder own;     /* the caller's, for the lines it decodes */
    ew_cf_record *record;       /* decoded into by the reader */
    const ew_metadata *meta;    /* ew_line_feed_prepare's; NULL: records as decoded */
    size_t max_len, cap;        /* max_line_bytes; bytes of a batch */
    batch batches[N_BATCHES];
    void *region;               /* every batch's memory, one mapping */
    size_t region_len;
    pthread_t thread;
    bool running;
    /* The reader's, from start to stop. */
    gzFile gz;
    batch *cur;
    size_t start, end;
    bool eof, skipping, quit;
    /* Shared, under mu. */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    uint64_t produced, released;
    bool done, cancel;
    bool reader_waits, caller_waits; /* wake only a thread that sleeps */
    /* The caller's. */
    size_t next_record;
    bool reading;               /* slot `released` is being read */
    size_t dist;                /* of the record last returned */
    char clean[EW_TOPK_CLEAN_MAX]; /* cleaned values of a record decoded here */
};

/* ---- set-up ---- */

static size_t round64(size_t n) { return (n + 63) & ~(size_t)63; }

/* Memory of one batch in the region: bytes, lines, heads, reasons,
 * distributions, scratch. */
static size_t batch_size(size_t cap)
{
    return round64(cap) + round64(BATCH_RECORDS * sizeof(line_span)) +
           round64((size_t)BATCH_RECORDS * EW_CF_RECORD_HEAD) + round64(BATCH_RECORDS * sizeof(ew_decode_error)) +
           round64(BATCH_RECORDS * sizeof(uint32_t)) + BATCH_SCRATCH;
}

static void batch_place(batch *b, char *at, size_t cap)
{
    b->bytes = at;
    at += round64(cap);
    b->lines = (line_span *)(void *)at;
    at += round64(BATCH_RECORDS * sizeof(line_span));
    b->heads = (unsigned char *)at;
    at += round64((size_t)BATCH_RECORDS * EW_CF_RECORD_HEAD);
    b->errors = (ew_decode_error *)(void *)at;
    at += round64(BATCH_RECORDS * sizeof(ew_decode_error));
    b->dists = (uint32_t *)(void *)at;
    at += round64(BATCH_RECORDS * sizeof(uint32_t));
    b->scratch = at;
}

/* One mapping for every batch, touched page by page as input streams
 * through it. Where transparent huge pages are enabled on request, the
 * kernel backs it with 2 MiB pages: a page fault costs about as much as
 * reading a 4 KiB page of input (far more on some virtual machines), and
 * this turns thousands of them into a few. No huge pages is fine too. */
static void *map_region(size_t n)
{
    void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    madvise(p, n, MADV_HUGEPAGE);
    return p;
}

static bool decoder_init(ew_message_decoder *md, const ew_config *cfg, char *err, size_t errcap)
{
    return ew_message_decoder_init(md, (const char *const *)cfg->fields, cfg->n_fields, cfg->max_line_bytes,
                                   cfg->avro_ids, (const char *const *)cfg->avro_paths, cfg->n_avro, cfg->avro_bare,
                                   err, errcap);
}

ew_line_feed *ew_line_feed_new(const ew_config *cfg, char *err, size_t errcap)
{
    ew_line_feed *f = calloc(1, sizeof *f);
    if (!f || !decoder_init(&f->decoder, cfg, err, errcap)) {
        free(f);
        return NULL;
    }
    if (!decoder_init(&f->own, cfg, err, errcap)) {
        ew_message_decoder_free(&f->decoder);
        free(f);
        return NULL;
    }
    f->max_len = cfg->max_line_bytes;
    /* Room for an unfinished line (at most max_len bytes) and a whole
     * cut one after it, as the single-buffer reader had. */
    f->cap = BATCH_BYTES + 2 * f->max_len;
    f->region_len = N_BATCHES * batch_size(f->cap);
    f->region = map_region(f->region_len);
    bool ok = (f->record = malloc(sizeof *f->record)) != NULL && f->region;
    for (size_t i = 0; ok && i < N_BATCHES; i++)
        batch_place(&f->batches[i], (char *)f->region + i * batch_size(f->cap), f->cap);
    pthread_mutex_init(&f->mu, NULL);
    pthread_cond_init(&f->cv, NULL);
    if (!ok) {
        snprintf(err, errcap, "out of memory for the line feed");
        ew_line_feed_free(f);
        return NULL;
    }
    return f;
}

void ew_line_feed_free(ew_line_feed *f)
{
    if (!f)
        return;
    ew_line_feed_stop(f);
    if (f->region)
        munmap(f->region, f->region_len);
    free(f->record);
    ew_message_decoder_free(&f->decoder);
    ew_message_decoder_free(&f->own);
    pthread_mutex_destroy(&f->mu);
    pthread_cond_destroy(&f->cv);
    free(f);
}

void ew_line_feed_prepare(ew_line_feed *f, const ew_metadata *m) { f->meta = m; }

/* ---- reader: decoding a claimed batch ---- */

static uint32_t dist_of(const ew_line_feed *f, const ew_distribution *d)
{
    return d ? (uint32_t)ew_metadata_index_of(f->meta, d) + 1 : 0;
}

/* ew_core_fold_prepared's work ahead of the fold, for a record the caller
 * decoded: the identity looked up, the top-list values cleaned into buf.
 * Returns the distribution + 1 (0: none). */
static uint32_t prepare(const ew_line_feed *f, ew_cf_record *r, char *buf)
{
    ew_topk_clean_record(r, buf);
    return dist_of(f, ew_metadata_by_domain(f->meta, ew_cf_identity(r)));
}

/* The batch's identities looked up, each index line fetched
 * LOOKUP_AHEAD records before its lookup: the index is hundreds of
 * kilobytes, and the batches streaming through this core evict it. */
#define LOOKUP_AHEAD 8
static void look_up_batch(const ew_line_feed *f, batch *b, const ew_str *ident, const uint64_t *hash)
{
    for (size_t i = 0; i < b->n_decoded && i < LOOKUP_AHEAD; i++)
        ew_metadata_prefetch(f->meta, hash[i]);
    for (size_t i = 0; i < b->n_decoded; i++) {
        if (i + LOOKUP_AHEAD < b->n_decoded)
            ew_metadata_prefetch(f->meta, hash[i + LOOKUP_AHEAD]);
        if (b->errors[i] == EW_DECODE_OK)
            b->dists[i] = dist_of(f, ew_metadata_by_domain_hashed(f->meta, ident[i], hash[i]));
    }
}

/* Decodes the batch's lines into heads until its scratch space could run
 * out; the caller decodes any lines left. A bad record is only its reason:
 * the core reads nothing else of it. With prepare, values are cleaned as
 * records are decoded and identities looked up after. */
static void decode_batch(ew_line_feed *f, batch *b)
{
    ew_cf_record *r = f->record;
    ew_str ident[BATCH_RECORDS];
    uint64_t hash[BATCH_RECORDS];
    size_t i = 0;
    for (; i < b->n && b->scratch_used + EW_CF_SCRATCH + EW_TOPK_CLEAN_MAX <= BATCH_SCRATCH; i++) {
        ew_decode_error e = ew_decode_message(&f->decoder, b->bytes + b->lines[i].at, b->lines[i].len, r);
        b->errors[i] = e;
        hash[i] = 0;
        if (e != EW_DECODE_OK)
            continue;
        ew_cf_record_detach(r, b->scratch + b->scratch_used);
        b->scratch_used += r->scratch_used;
        if (f->meta) {
            b->scratch_used += ew_topk_clean_record(r, b->scratch + b->scratch_used);
            ident[i] = ew_cf_identity(r);
            hash[i] = ew_metadata_hash(ident[i]);
        }
        memcpy(b->heads + i * EW_CF_RECORD_HEAD, r, EW_CF_RECORD_HEAD);
    }
    b->n_decoded = i;
    if (f->meta)
        look_up_batch(f, b, ident, hash);
}

/* The newest published batch nobody has claimed, leaving the one the
 * caller takes next to the caller unless `all`: the reader works ahead of
 * the caller, not on the batch it is about to wait for. NULL if none.
 * Under mu. */
static batch *claimable(ew_line_feed *f, bool all)
{
    uint64_t next = f->released + f->reading;
    for (uint64_t k = f->produced; k-- > f->released;) {
        batch *b = &f->batches[k % N_BATCHES];
        if (b->state == FILLED && (all || k != next))
            return b;
    }
    return NULL;
}

/* Decodes a claimable batch outside the mutex; false if there was none.
 * Called and returns with mu held. */
static bool decode_one(ew_line_feed *f, bool all)
{
    batch *b = claimable(f, all);
    if (!b)
        return false;
    b->state = DECODING;
    pthread_mutex_unlock(&f->mu);
    decode_batch(f, b);
    pthread_mutex_lock(&f->mu);
    b->state = DECODED;
    if (f->caller_waits)
        pthread_cond_broadcast(&f->cv);
    return true;
}

/* ---- reader: the ring ---- */

static void publish(ew_line_feed *f)
{
    f->cur->state = FILLED;
    f->produced++;
    if (f->caller_waits)
        pthread_cond_broadcast(&f->cv);
}

/* Publishes the batch being filled and decodes older ones until a slot is
 * free for the next; NULL when the caller has given up. */
static batch *next_slot(ew_line_feed *f)
{
    pthread_mutex_lock(&f->mu);
    publish(f);
    for (;;) {
        if (f->cancel)
            break;
        bool room = f->produced - f->released < N_BATCHES;
        if (decode_one(f, !room))
            continue;
        if (room)
            break;
        f->reader_waits = true;
        pthread_cond_wait(&f->cv, &f->mu);
        f->reader_waits = false;
    }
    bool cancel = f->cancel;
    pthread_mutex_unlock(&f->mu);
    if (cancel)
        return NULL;
    batch *b = &f->batches[f->produced % N_BATCHES];
    b->n = b->n_decoded = b->scratch_used = 0;
    return b;
}

/* Continues in a fresh slot with the unread bytes, so the lines of the
 * current one keep their bytes. False when the caller has given up. */
static bool move_on(ew_line_feed *f)
{
    batch *old = f->cur, *b = next_slot(f);
    if (!b) {
        f->quit = f->eof = true;
        return false;
    }
    memcpy(b->bytes, old->bytes + f->start, f->end - f->start);
    b->position = old->position;
    f->end -= f->start;
    f->start = 0;
    f->cur = b;
    return true;
}

static bool refill(ew_line_feed *f)
{
    if (f->cur->n > 0) {
        if (!move_on(f))
            return false;
    } else if (f->start > 0) {
        memmove(f->cur->bytes, f->cur->bytes + f->start, f->end - f->start);
        f->end -= f->start;
        f->start = 0;
    }
    int got = gzread(f->gz, f->cur->bytes + f->end, (unsigned)(f->cap - f->end));
    if (got <= 0) {
        f->eof = true;
        return false;
    }
    f->end += (size_t)got;
    f->cur->position = (uint64_t)gzoffset(f->gz);
    return true;
}

/* At the end of the input: the last batch goes out, and the reader
 * decodes whatever the caller has not claimed yet. */
static void finish_input(ew_line_feed *f)
{
    pthread_mutex_lock(&f->mu);
    if (!f->quit && f->cur->n > 0)
        publish(f);
    f->done = true;
    pthread_cond_broadcast(&f->cv);
    while (!f->cancel && decode_one(f, true))
        ;
    pthread_mutex_unlock(&f->mu);
}

/* ---- reader: lines ---- */

/* Next line (without its newline or CR); false at end of input. */
static bool next_line(ew_line_feed *f, const char **line, size_t *len)
{
    for (;;) {
        char *buf = f->cur->bytes;
        char *nl = memchr(buf + f->start, '\n', f->end - f->start);
        size_t avail = (nl ? (size_t)(nl - buf) : f->end) - f->start;
        if (!nl && avail <= f->max_len && !f->eof) {
            refill(f); /* then look again: the bytes may have moved */
            continue;
        }
        if (f->quit || (!nl && avail == 0))
            return false;
        *line = buf + f->start;
        *len = avail > f->max_len ? f->max_len + 1 : avail;
        bool whole = nl != NULL;
        f->start = whole ? (size_t)(nl - buf) + 1 : f->end;
        if (!whole && avail > f->max_len)
            f->skipping = true; /* the rest of this long line is dropped below */
        if (*len > 0 && (*line)[*len - 1] == '\r' && *len <= f->max_len)
            (*len)--;
        return true;
    }
}

/* After a cut line: drop bytes up to and including its newline. */
static void skip_rest(ew_line_feed *f)
{
    while (f->skipping) {
        char *buf = f->cur->bytes;
        char *nl = memchr(buf + f->start, '\n', f->end - f->start);
        if (nl) {
            f->start = (size_t)(nl - buf) + 1;
            f->skipping = false;
        } else {
            f->start = f->end;
            if (!refill(f))
                f->skipping = false;
        }
    }
}

static void *produce(void *arg)
{
    ew_line_feed *f = arg;
    const char *line;
    size_t len;
    while (next_line(f, &line, &len)) {
        /* Before skip_rest, which may move on from the line's bytes. */
        if (len > 0)
            f->cur->lines[f->cur->n++] = (line_span){(size_t)(line - f->cur->bytes), len};
        skip_rest(f);
        if (!f->quit && f->cur->n == BATCH_RECORDS && !move_on(f))
            break;
    }
    finish_input(f);
    return NULL;
}

/* ---- caller ---- */

bool ew_line_feed_start(ew_line_feed *f, gzFile gz, char *err, size_t errcap)
{
    ew_line_feed_stop(f);
    f->gz = gz;
    f->cur = &f->batches[0];
    f->cur->n = f->cur->n_decoded = f->cur->scratch_used = 0;
    f->cur->position = 0;
    f->start = f->end = 0;
    f->eof = f->skipping = f->quit = false;
    f->produced = f->released = 0;
    f->done = f->cancel = false;
    f->next_record = 0;
    f->reading = false;
    /* Signals are for the caller's thread, where the stop flag is read. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&f->thread, NULL, produce, f);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        snprintf(err, errcap, "cannot start the reading thread: %s", strerror(rc));
        return false;
    }
    f->running = true;
    return true;
}

/* Waits for the next batch to be published, then takes it: as it is if
 * the reader decoded it, or claimed to decode here if nobody has started;
 * a batch the reader is decoding is waited for. False at the end. */
static bool take_batch(ew_line_feed *f)
{
    pthread_mutex_lock(&f->mu);
    if (f->reading) {
        f->released++;
        f->reading = false;
        if (f->reader_waits)
            pthread_cond_broadcast(&f->cv);
    }
    batch *b = &f->batches[f->released % N_BATCHES];
    f->caller_waits = true;
    while ((f->produced == f->released && !f->done) || (f->produced > f->released && b->state == DECODING))
        pthread_cond_wait(&f->cv, &f->mu);
    f->caller_waits = false;
    f->reading = f->produced > f->released;
    if (f->reading && b->state == FILLED)
        b->state = TAKEN; /* n_decoded stays 0: every line is decoded here */
    pthread_mutex_unlock(&f->mu);
    f->next_record = 0;
    return f->reading;
}

/* Where a head keeps the strings the core reads of every record: the
 * identity and the top-list dimensions. */
static const size_t read_first[] = {
    offsetof(ew_cf_record, host_header), offsetof(ew_cf_record, client_ip), offsetof(ew_cf_record, asn),
    offsetof(ew_cf_record, country),     offsetof(ew_cf_record, uri_path),  offsetof(ew_cf_record, edge_location),
};

/* A record the reader decoded. Its strings were written by the other
 * core: asking for those of a record a few ahead hides most of that
 * wait. Written out here because GCC 12 drops a helper that only
 * prefetches as having no effect. */
static ew_decode_error copy_decoded(const batch *b, size_t i, ew_cf_record *rec)
{
    /* Twice as far ahead, the head itself (and its reason and
     * distribution), so that reading it below, and ew_line_feed_peek, find
     * it here already. */
    size_t far = i + 2 * PREFETCH_AHEAD;
    if (far < b->n_decoded) {
        const unsigned char *head = b->heads + far * EW_CF_RECORD_HEAD;
        for (size_t off = 0; off < EW_CF_RECORD_HEAD; off += 64)
            __builtin_prefetch(head + off);
        __builtin_prefetch(head + EW_CF_RECORD_HEAD - 1);
        __builtin_prefetch(&b->errors[far]);
        __builtin_prefetch(&b->dists[far]);
    }
    size_t ahead = i + PREFETCH_AHEAD;
    if (ahead < b->n_decoded && b->errors[ahead] == EW_DECODE_OK)
        for (size_t k = 0; k < sizeof read_first / sizeof read_first[0]; k++) {
            ew_str v;
            memcpy(&v, b->heads + ahead * EW_CF_RECORD_HEAD + read_first[k], sizeof v);
            __builtin_prefetch(v.ptr);
        }
    if (b->errors[i] == EW_DECODE_OK)
        memcpy(rec, b->heads + i * EW_CF_RECORD_HEAD, EW_CF_RECORD_HEAD);
    return b->errors[i];
}

bool ew_line_feed_next(ew_line_feed *f, ew_cf_record *rec, ew_decode_error *e)
{
    if (!f->running)
        return false;
    const batch *b = &f->batches[f->released % N_BATCHES];
    while (!f->reading || f->next_record == b->n) {
        if (!take_batch(f))
            return false;
        b = &f->batches[f->released % N_BATCHES];
    }
    size_t i = f->next_record++;
    if (i < b->n_decoded) {
        *e = copy_decoded(b, i, rec);
        f->dist = b->dists[i];
    } else {
        *e = ew_decode_message(&f->own, b->bytes + b->lines[i].at, b->lines[i].len, rec);
        if (*e == EW_DECODE_OK && f->meta)
            f->dist = prepare(f, rec, f->clean);
    }
    return true;
}

size_t ew_line_feed_dist(const ew_line_feed *f) { return f->dist; }

bool ew_line_feed_peek(const ew_line_feed *f, size_t ahead, int64_t *ts_ms, size_t *dist)
{
    if (!f->reading || !f->meta)
        return false;
    const batch *b = &f->batches[f->released % N_BATCHES];
    size_t i = f->next_record - 1 + ahead;
    if (i >= b->n_decoded || b->errors[i] != EW_DECODE_OK)
        return false;
    memcpy(ts_ms, b->heads + i * EW_CF_RECORD_HEAD + offsetof(ew_cf_record, ts_ms), sizeof *ts_ms);
    *dist = b->dists[i];
    return true;
}

uint64_t ew_line_feed_position(const ew_line_feed *f)
{
    return f->reading ? f->batches[f->released % N_BATCHES].position : 0;
}

void ew_line_feed_stop(ew_line_feed *f)
{
    if (!f->running)
        return;
    pthread_mutex_lock(&f->mu);
    f->cancel = true;
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
    pthread_join(f->thread, NULL);
    f->running = false;
}
