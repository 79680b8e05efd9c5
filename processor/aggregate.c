/* aggregate.c -- fold decoded records into per-(entity, window) deltas.
 *
 * Deltas live in a dense array in insertion order, found through an
 * open-addressing index of 32-bit positions sized for max_pairs at a load
 * factor of one half. Memory touched therefore follows the pairs actually
 * held (the array is allocated once, and the OS backs only the pages used),
 * and clearing after a flush is one memset of the used prefix plus the
 * index slots those pairs took.
 */
#include "edgewatch/aggregate.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

const int32_t ew_latency_bounds_ms[EW_LAT_BUCKETS - 1] = {1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000};

static const char *const status_names[EW_STATUS_CLASSES] = {"s2xx", "s3xx", "s4xx", "s403", "s5xx", "sother"};
static const char *const result_names[EW_RESULT_COUNT] = {"hit", "miss", "err", "limit", "cap", "oth"};
static const char *const ttfb_names[EW_LAT_BUCKETS] = {"t0", "t1", "t2", "t3", "t4", "t5", "t6",
                                                       "t7", "t8", "t9", "t10", "t11", "t12", "t13"};
static const char *const origin_names[EW_LAT_BUCKETS] = {"o0", "o1", "o2", "o3", "o4", "o5", "o6",
                                                         "o7", "o8", "o9", "o10", "o11", "o12", "o13"};

typedef struct {
    char *name;
    size_t len;
    uint64_t hash;
} entity_entry;

struct ew_aggregate {
    ew_delta *deltas;      /* dense, insertion order, max_pairs capacity */
    uint32_t *slot_of;     /* index slot taken by deltas[i] */
    size_t n_used;
    uint32_t *index;       /* position in deltas + 1; 0 = empty */
    size_t n_slots;        /* power of two, >= 2 * max_pairs */
    unsigned slot_shift;   /* 64 - log2(n_slots) */
    size_t max_pairs;
    entity_entry *entities;
    size_t n_entities, cap_entities;
    uint32_t *entity_index; /* open addressing: entity id + 1, 0 = empty */
    size_t n_entity_index;
};

static size_t pow2_at_least(size_t n)
{
    size_t p = 16;
    while (p < n)
        p *= 2;
    return p;
}

ew_aggregate *ew_aggregate_new(size_t max_pairs)
{
    ew_aggregate *a = calloc(1, sizeof *a);
    a->max_pairs = max_pairs;
    a->n_slots = pow2_at_least(2 * max_pairs);
    a->slot_shift = 64;
    for (size_t n = a->n_slots; n > 1; n >>= 1)
        a->slot_shift--;
    a->index = calloc(a->n_slots, sizeof *a->index);
    a->deltas = calloc(max_pairs, sizeof *a->deltas);
    a->slot_of = calloc(max_pairs, sizeof *a->slot_of);
    a->n_entity_index = 1024;
    a->entity_index = calloc(a->n_entity_index, sizeof *a->entity_index);
    return a;
}

void ew_aggregate_free(ew_aggregate *a)
{
    if (!a)
        return;
    for (size_t i = 0; i < a->n_entities; i++)
        free(a->entities[i].name);
    free(a->entities);
    free(a->entity_index);
    free(a->index);
    free(a->deltas);
    free(a->slot_of);
    free(a);
}

static void entity_index_put(uint32_t *index, size_t n, uint64_t hash, uint32_t id)
{
    size_t i = hash & (n - 1);
    while (index[i])
        i = (i + 1) & (n - 1);
    index[i] = id + 1;
}

static void entity_index_grow(ew_aggregate *a)
{
    size_t n = a->n_entity_index * 2;
    uint32_t *index = calloc(n, sizeof *index);
    for (size_t id = 0; id < a->n_entities; id++)
        entity_index_put(index, n, a->entities[id].hash, (uint32_t)id);
    free(a->entity_index);
    a->entity_index = index;
    a->n_entity_index = n;
}

static uint64_t load64(const char *p)
{
    uint64_t w;
    memcpy(&w, p, sizeof w);
    return w;
}

/* Every record's entity is interned, so its name is hashed a word at a
 * time (the last word overlapping the one before), not byte by byte; the
 * final mix spreads every bit into the low bits the index uses. Only this
 * index sees the value. */
static uint64_t name_hash(ew_str s)
{
    const uint64_t k = 0xff51afd7ed558ccdULL;
    uint64_t h = (s.len + 1) * 0x9E3779B97F4A7C15ULL;
    if (s.len >= 8) {
        for (size_t i = 0; i + 8 < s.len; i += 8)
            h = (h ^ load64(s.ptr + i)) * k;
        h = (h ^ load64(s.ptr + s.len - 8)) * k;
    } else {
        for (size_t i = 0; i < s.len; i++)
            h = (h ^ (unsigned char)s.ptr[i]) * k;
    }
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    return h ^ (h >> 33);
}

uint32_t ew_entity_intern(ew_aggregate *a, ew_str name)
{
    uint64_t h = name_hash(name);
    size_t i = h & (a->n_entity_index - 1);
    for (uint32_t v; (v = a->entity_index[i]); i = (i + 1) & (a->n_entity_index - 1)) {
        entity_entry *e = &a->entities[v - 1];
        if (e->hash == h && e->len == name.len && memcmp(e->name, name.ptr, name.len) == 0)
            return v - 1;
    }
    if (a->n_entities == a->cap_entities) {
        a->cap_entities = a->cap_entities ? 2 * a->cap_entities : 256;
        a->entities = realloc(a->entities, a->cap_entities * sizeof *a->entities);
    }
    uint32_t id = (uint32_t)a->n_entities++;
    a->entities[id] = (entity_entry){strndup(name.ptr, name.len), name.len, h};
    if (2 * a->n_entities > a->n_entity_index)
        entity_index_grow(a);
    else
        a->entity_index[i] = id + 1;
    return id;
}

const char *ew_entity_name(const ew_aggregate *a, uint32_t id) { return a->entities[id].name; }
size_t ew_entity_count(const ew_aggregate *a) { return a->n_entities; }

/* Fibonacci hashing: the top bits of the product depend on every bit of
 * the key (low bits would ignore the entity, which sits high). */
static size_t pair_slot(const ew_aggregate *a, uint32_t entity, int64_t window_start_ms)
{
    uint64_t key = ((uint64_t)entity << 40) ^ (uint64_t)window_start_ms;
    return (size_t)((key * 0x9E3779B97F4A7C15ULL) >> a->slot_shift);
}

/* The pair's first index slot is read (asked for a few records earlier);
 * whatever delta it names is fetched, usually the pair's own. */
void ew_aggregate_prefetch(const ew_aggregate *a, uint32_t entity, int64_t window_start_ms, bool index_only)
{
    const uint32_t *slot = &a->index[pair_slot(a, entity, window_start_ms)];
    if (index_only) {
        __builtin_prefetch(slot);
        return;
    }
    uint32_t v = *slot;
    if (!v)
        return;
    const char *d = (const char *)&a->deltas[v - 1];
    for (size_t off = 0; off < sizeof(ew_delta); off += 64)
        __builtin_prefetch(d + off, 1);
}

ew_delta *ew_aggregate_slot(ew_aggregate *a, uint32_t entity, int64_t window_start_ms)
{
    size_t i = pair_slot(a, entity, window_start_ms);
    for (uint32_t v; (v = a->index[i]); i = (i + 1) & (a->n_slots - 1)) {
        ew_delta *d = &a->deltas[v - 1];
        if (d->entity == entity && d->window_start_ms == window_start_ms)
            return d;
    }
    if (a->n_used >= a->max_pairs)
        return NULL;
    ew_delta *d = &a->deltas[a->n_used];
    d->entity = entity;
    d->window_start_ms = window_start_ms;
    a->slot_of[a->n_used] = (uint32_t)i;
    a->index[i] = (uint32_t)++a->n_used;
    return d;
}

/* The number of bounds below ms, counted without branches: latencies are
 * spread over the buckets, so a search would mispredict on most records. */
int ew_latency_bucket(int32_t ms)
{
    int b = 0;
    for (int i = 0; i < EW_LAT_BUCKETS - 1; i++)
        b += ms > ew_latency_bounds_ms[i];
    return b;
}

static ew_status_class status_class(uint32_t status)
{
    static const uint8_t by_hundreds[10] = {EW_SOTHER, EW_SOTHER, EW_S2XX,   EW_S3XX,   EW_S4XX,
                                            EW_S5XX,   EW_SOTHER, EW_SOTHER, EW_SOTHER, EW_SOTHER};
    return status < 1000 ? (ew_status_class)by_hundreds[status / 100] : EW_SOTHER;
}

static inline __attribute__((always_inline)) void add_counters(ew_delta *d, const ew_cf_record *r, bool late)
{
    d->requests++;
    d->bytes += r->bytes;
    d->status[status_class(r->status)]++;
    if (r->status == 403)
        d->status[EW_S403]++;
    d->result[r->result]++;
    if (r->ttfb_ms >= 0)
        d->ttfb[ew_latency_bucket(r->ttfb_ms)]++;
    if (r->origin_fbl_ms >= 0)
        d->origin_fbl[ew_latency_bucket(r->origin_fbl_ms)]++;
    if (late)
        d->late++;
    else
        d->on_time = true;
}

void ew_delta_add(ew_delta *d, const ew_cf_record *r, bool late)
{
    add_counters(d, r, late);
    ew_topk_add_record(&d->top, r);
}

void ew_delta_add_clean(ew_delta *d, const ew_cf_record *r, bool late)
{
    add_counters(d, r, late);
    ew_topk_add_clean_record(&d->top, r);
}

size_t ew_aggregate_pairs(const ew_aggregate *a) { return a->n_used; }

size_t ew_aggregate_pending(const ew_aggregate *a)
{
    size_t n = 0;
    for (size_t i = 0; i < a->n_used; i++)
        n += a->deltas[i].requests > 0;
    return n;
}
bool ew_aggregate_full(const ew_aggregate *a) { return a->n_used >= a->max_pairs; }
const ew_delta *ew_aggregate_pair(const ew_aggregate *a, size_t i) { return &a->deltas[i]; }

static void zero_counters(ew_delta *d)
{
    ew_delta keep = {.entity = d->entity, .window_start_ms = d->window_start_ms, .top = d->top};
    *d = keep;
}

/* Survivors move to the front in order and are indexed again; the index
 * slots of every old position are cleared first so no stale entry remains. */
void ew_aggregate_flushed(ew_aggregate *a, int64_t ship_through_ms)
{
    for (size_t i = 0; i < a->n_used; i++)
        a->index[a->slot_of[i]] = 0;
    size_t kept = 0;
    for (size_t i = 0; i < a->n_used; i++) {
        if (ew_delta_ships(&a->deltas[i], ship_through_ms))
            continue;
        if (kept != i)
            a->deltas[kept] = a->deltas[i];
        zero_counters(&a->deltas[kept]);
        kept++;
    }
    memset(a->deltas + kept, 0, (a->n_used - kept) * sizeof *a->deltas);
    a->n_used = 0;
    for (size_t i = 0; i < kept; i++) {
        ew_delta d = a->deltas[i];
        memset(&a->deltas[i], 0, sizeof d);
        ew_delta *slot = ew_aggregate_slot(a, d.entity, d.window_start_ms);
        *slot = d;
    }
}

void ew_aggregate_clear(ew_aggregate *a)
{
    for (size_t i = 0; i < a->n_used; i++)
        a->index[a->slot_of[i]] = 0;
    memset(a->deltas, 0, a->n_used * sizeof *a->deltas);
    a->n_used = 0;
}

static size_t put(ew_field_value *out, size_t n, const char *name, uint64_t v)
{
    if (v)
        out[n++] = (ew_field_value){name, v};
    return n;
}

size_t ew_delta_fields(const ew_delta *d, ew_field_value *out)
{
    size_t n = 0;
    n = put(out, n, "req", d->requests);
    n = put(out, n, "bytes", d->bytes);
    n = put(out, n, "late", d->late);
    for (int i = 0; i < EW_STATUS_CLASSES; i++)
        n = put(out, n, status_names[i], d->status[i]);
    for (int i = 0; i < EW_RESULT_COUNT; i++)
        n = put(out, n, result_names[i], d->result[i]);
    for (int i = 0; i < EW_LAT_BUCKETS; i++)
        n = put(out, n, ttfb_names[i], d->ttfb[i]);
    for (int i = 0; i < EW_LAT_BUCKETS; i++)
        n = put(out, n, origin_names[i], d->origin_fbl[i]);
    return n;
}

void ew_delta_counters(const ew_delta *d, uint64_t out[EW_COUNTERS])
{
    out[EW_C_REQ] = d->requests;
    out[EW_C_BYTES] = d->bytes;
    out[EW_C_LATE] = d->late;
    for (int i = 0; i < EW_STATUS_CLASSES; i++)
        out[EW_C_STATUS + i] = d->status[i];
    for (int i = 0; i < EW_RESULT_COUNT; i++)
        out[EW_C_RESULT + i] = d->result[i];
    for (int i = 0; i < EW_LAT_BUCKETS; i++) {
        out[EW_C_TTFB + i] = d->ttfb[i];
        out[EW_C_ORIGIN + i] = d->origin_fbl[i];
    }
}

const char *ew_counter_name(int index)
{
    static const char *const fixed[EW_C_STATUS] = {"req", "bytes", "late"};
    if (index < 0 || index >= EW_COUNTERS)
        return NULL;
    if (index < EW_C_STATUS)
        return fixed[index];
    if (index < EW_C_RESULT)
        return status_names[index - EW_C_STATUS];
    if (index < EW_C_TTFB)
        return result_names[index - EW_C_RESULT];
    if (index < EW_C_ORIGIN)
        return ttfb_names[index - EW_C_TTFB];
    return origin_names[index - EW_C_ORIGIN];
}

int ew_counter_index(const char *name)
{
    for (int i = 0; i < EW_COUNTERS; i++)
        if (strcmp(ew_counter_name(i), name) == 0)
            return i;
    return -1;
}

int32_t ew_latency_quantile(const uint64_t hist[EW_LAT_BUCKETS], double q)
{
    uint64_t total = 0;
    for (int b = 0; b < EW_LAT_BUCKETS; b++)
        total += hist[b];
    if (!total)
        return -1;
    /* The smallest rank r with r >= q * total, counted from 1. */
    double want = q * (double)total;
    uint64_t rank = want <= 1 ? 1 : (uint64_t)ceil(want);
    uint64_t seen = 0;
    for (int b = 0; b < EW_LAT_BUCKETS - 1; b++) {
        seen += hist[b];
        if (seen >= rank)
            return ew_latency_bounds_ms[b];
    }
    return ew_latency_bounds_ms[EW_LAT_BUCKETS - 2];
}
