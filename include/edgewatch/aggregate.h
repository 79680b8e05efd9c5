/* aggregate.h -- in-memory deltas per (entity, window) between flushes.
 *
 * Records are folded into a fixed-capacity open-addressing table; a flush
 * ships one delta per (entity, window) pair touched, so Valkey work grows
 * with pairs, not records. A pair's counters restart at zero after each
 * flush, but the pair itself (and its top-contributors sketch) lives on
 * until its window is over for this member: the sketch then summarises the
 * whole window and is shipped once, instead of being merged in Valkey
 * every second. Entities (distribution ids, or the raw domain
 * when metadata does not know it) are interned once and referred to by a
 * 32-bit id; interning allocates only the first time a name is seen.
 */
#ifndef EDGEWATCH_AGGREGATE_H
#define EDGEWATCH_AGGREGATE_H

#include "edgewatch/common.h"
#include "edgewatch/decode.h"
#include "edgewatch/topk.h"

/* Upper bounds in ms of the latency histogram buckets; the last is open. */
#define EW_LAT_BUCKETS 14
extern const int32_t ew_latency_bounds_ms[EW_LAT_BUCKETS - 1];

typedef enum { EW_S2XX, EW_S3XX, EW_S4XX, EW_S403, EW_S5XX, EW_SOTHER, EW_STATUS_CLASSES } ew_status_class;

typedef struct {
    uint32_t entity;
    int64_t window_start_ms;
    uint64_t requests;
    uint64_t bytes;
    uint32_t status[EW_STATUS_CLASSES]; /* 403 also counts in 4xx */
    uint32_t result[EW_RESULT_COUNT];
    uint32_t ttfb[EW_LAT_BUCKETS];
    uint32_t origin_fbl[EW_LAT_BUCKETS];
    uint32_t late;
    bool on_time;                       /* some record arrived before the watermark */
    ew_topk top;                        /* heaviest values since the pair was created */
} ew_delta;

typedef struct {
    const char *name;
    uint64_t value;
} ew_field_value;
#define EW_DELTA_MAX_FIELDS (4 + EW_STATUS_CLASSES + EW_RESULT_COUNT + 2 * EW_LAT_BUCKETS)

typedef struct ew_aggregate ew_aggregate;

ew_aggregate *ew_aggregate_new(size_t max_pairs);
void ew_aggregate_free(ew_aggregate *a);
/* Interned id of an entity name (copied on first sight). */
uint32_t ew_entity_intern(ew_aggregate *a, ew_str name);
const char *ew_entity_name(const ew_aggregate *a, uint32_t id);
size_t ew_entity_count(const ew_aggregate *a);

/* The delta of (entity, window), created if new. NULL when the table holds
 * max_pairs pairs already: the caller must flush first. */
ew_delta *ew_aggregate_slot(ew_aggregate *a, uint32_t entity, int64_t window_start_ms);
/* Asks the cache for the delta of (entity, window) a few records before it
 * is folded into (a hint: nothing changes). Live deltas are megabytes
 * apart and a record touches about sixteen of its delta's cache lines.
 * The delta is found through the index, so its index line is asked for
 * earlier still (index_only). */
void ew_aggregate_prefetch(const ew_aggregate *a, uint32_t entity, int64_t window_start_ms, bool index_only);
void ew_delta_add(ew_delta *d, const ew_cf_record *r, bool late);
/* The same for a record whose top-list values were cleaned ahead
 * (ew_topk_clean_record). */
void ew_delta_add_clean(ew_delta *d, const ew_cf_record *r, bool late);
/* Live pairs, including those with no records since the last flush. */
size_t ew_aggregate_pairs(const ew_aggregate *a);
/* Pairs with records since the last flush. */
size_t ew_aggregate_pending(const ew_aggregate *a);
bool ew_aggregate_full(const ew_aggregate *a);
/* i-th live pair in insertion order, 0 <= i < pairs. */
const ew_delta *ew_aggregate_pair(const ew_aggregate *a, size_t i);
/* Whether a flush ships the pair's sketch: its window starts at or before
 * ship_through_ms (INT64_MAX ships every pair). */
static inline bool ew_delta_ships(const ew_delta *d, int64_t ship_through_ms)
{
    return d->window_start_ms <= ship_through_ms;
}
/* After an applied flush: drops the pairs whose sketch shipped and zeroes
 * the counters of the others, keeping their sketches. */
void ew_aggregate_flushed(ew_aggregate *a, int64_t ship_through_ms);
/* Drops every pair, sketches included (a refused batch, lost partitions). */
void ew_aggregate_clear(ew_aggregate *a);

/* The non-zero counters of a delta under their stored hash field names. */
size_t ew_delta_fields(const ew_delta *d, ew_field_value *out);
int ew_latency_bucket(int32_t ms);

/* Stored totals read back (state show, scoring), 64-bit because hourly and
 * per-project sums outgrow a delta's 32-bit counters. Index order matches
 * the stored field names: req bytes late, status classes, cache results,
 * then the two latency histograms. */
enum {
    EW_C_REQ,
    EW_C_BYTES,
    EW_C_LATE,
    EW_C_STATUS,
    EW_C_RESULT = EW_C_STATUS + EW_STATUS_CLASSES,
    EW_C_TTFB = EW_C_RESULT + EW_RESULT_COUNT,
    EW_C_ORIGIN = EW_C_TTFB + EW_LAT_BUCKETS,
    EW_COUNTERS = EW_C_ORIGIN + EW_LAT_BUCKETS
};
/* Index of a stored field name, or -1 for anything else. */
int ew_counter_index(const char *name);
/* What ew_delta_fields lists, by counter index instead of field name (0
 * where it lists nothing): for a store that keeps counters by index. */
void ew_delta_counters(const ew_delta *d, uint64_t out[EW_COUNTERS]);
const char *ew_counter_name(int index);
/* Latency in ms at quantile q (0..1) of a histogram: the upper bound of the
 * bucket holding that rank (the open last bucket reports its lower bound,
 * 10000). -1 when the histogram is empty. */
int32_t ew_latency_quantile(const uint64_t hist[EW_LAT_BUCKETS], double q);

#endif
