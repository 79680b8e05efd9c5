/* state.h -- the state store: aggregates, offsets, watermarks, baselines.
 *
 * One interface for the pipeline, two backends (state_backend.h): Valkey
 * (state/valkey.c), what `run` uses, and memory (state/memory.c). Every call reports EW_STATE_DOWN instead of failing hard
 * when the server is unreachable, so the caller can pause, back off and
 * retry without losing its in-memory deltas. Key layout: state/README.md.
 */
#ifndef EDGEWATCH_STATE_H
#define EDGEWATCH_STATE_H

#include "edgewatch/aggregate.h"
#include "edgewatch/billing.h"
#include "edgewatch/config.h"
#include "edgewatch/score.h"

typedef enum { EW_STATE_OK, EW_STATE_REFUSED, EW_STATE_DOWN } ew_state_status;

typedef struct {
    int32_t partition;
    int64_t from_offset;  /* first offset of the batch */
    int64_t next_offset;  /* offset after the batch's last record */
    int64_t watermark_ms; /* partition watermark after the batch */
} ew_flush_partition;

/* One entity of a window to score: the window's stored counters (all 0
 * for a known entity that sent nothing) and its detector state slice. */
typedef struct {
    char entity[256];
    uint64_t counters[EW_COUNTERS];
    ew_detector_state det;
} ew_score_item;

typedef struct ew_state ew_state;

/* Client-side traffic: one round trip is one write of commands followed by
 * reading all their replies (a pipeline or a script call counts once). */
typedef struct {
    uint64_t round_trips;
    uint64_t commands;
} ew_state_stats;
const ew_state_stats *ew_state_stats_of(const ew_state *s);

/* Connects lazily: a server that is down at start is retried on use.
 * ew_state_open is the Valkey backend. */
ew_state *ew_state_open(const ew_config *cfg);
ew_state *ew_state_open_valkey(const ew_config *cfg);
/* One process's private state, same semantics, no network; lost at close. */
ew_state *ew_state_open_memory(const ew_config *cfg);
void ew_state_close(ew_state *s);
const char *ew_state_last_error(const ew_state *s);

/* Applies the batch's deltas and records its offsets in one atomic step.
 * Pairs with records since the last flush send their counters; pairs whose
 * window starts at or before ship_through_ms also send their sketch's top
 * lists (see ew_aggregate_flushed). n_parts may be 0 to ship sketches only.
 * REFUSED: Valkey holds other offsets for a partition (see *refused_*). */
ew_state_status ew_state_flush(ew_state *s, const char *topic, const ew_flush_partition *parts, size_t n_parts,
                               const ew_aggregate *agg, int64_t ship_through_ms, int32_t *refused_partition,
                               int64_t *refused_offset);
/* Next offset and watermark recorded for a partition; -1 / EW_WM_NONE-like
 * INT64_MIN when nothing was ever applied. */
ew_state_status ew_state_partition(ew_state *s, const char *topic, int32_t partition, int64_t *next_offset,
                                   int64_t *watermark_ms);
/* The same for n partitions in one round trip (on assignment). */
ew_state_status ew_state_partitions(ew_state *s, const char *topic, const int32_t *partitions, size_t n,
                                    int64_t *next_offsets, int64_t *watermarks_ms);
/* Makes newly assigned partitions hold windows open until they deliver
 * or go idle (state/assign.lua). */
ew_state_status ew_state_register_partitions(ew_state *s, const char *topic, const int32_t *partitions, size_t n);
/* Claims up to cap closed windows (start, ms) for this member to score. */
ew_state_status ew_state_claim_closed(ew_state *s, const char *topic, int64_t *window_starts, size_t cap,
                                      size_t *n_claimed, int64_t *low_watermark_ms);
/* Entities of a window with its counters and their detector state: those
 * with records in it, and every entity known to have had traffic within
 * state.retention (so a distribution that fell silent is scored at 0).
 * *items is allocated, sorted by entity; caller frees. */
ew_state_status ew_state_load_window(ew_state *s, int64_t window_start_ms, ew_score_item **items, size_t *n);
/* Saves the scored items' detector state (det.last_ws = the window), then
 * marks the window scored for good and drops it from the pending set, all
 * in one atomic step and one round trip. */
ew_state_status ew_state_commit_window(ew_state *s, const ew_score_item *items, size_t n, int64_t window_start_ms);

/* One stored window (or hour) of an entity as read back; top lists are the
 * stored "COUNT\tVALUE\n" text under their field names ("top:ip", ...).
 * Pointers are valid during the callback only. */
#define EW_MAX_STORED_TOPS 8
typedef struct {
    int64_t start_ms;
    uint64_t counters[EW_COUNTERS];
    const char *top_fields[EW_MAX_STORED_TOPS];
    const char *top_texts[EW_MAX_STORED_TOPS];
    size_t n_tops;
} ew_stored_window;
typedef void (*ew_stored_window_fn)(void *ctx, const ew_stored_window *w);
/* Calls fn, in time order, for each stored window of entity whose start is
 * in [from_ms, to_ms): per-window hashes, or the hourly rollups when hourly. */
/* Deletes every key under the configured prefix, which must be a namespace
 * ("…ns:NAME:", see ew_config_set_namespace): live state is never dropped.
 * *deleted gets the number of keys. */
ew_state_status ew_state_drop_namespace(ew_state *s, uint64_t *deleted);
ew_state_status ew_state_read_range(ew_state *s, const char *entity, bool hourly, int64_t from_ms, int64_t to_ms,
                                    ew_stored_window_fn fn, void *ctx);

/* ---- cost (billing) state; key layout in state/README.md "Cost keys" ---- */

/* Applies billing records in order and records the batch's offsets on
 * topic (the billing topic), in one atomic step with the refusal rule of
 * ew_state_flush.
 * - A line is an upsert by (billing_period, line_key): the hours of what
 *   the key held before are subtracted and the new line's hours added
 *   (ew_billing_hour_part), so a re-delivered line changes nothing, a
 *   restated one applies the difference, and a line whose project or
 *   service changed moves. The project is marked changed in its period.
 * - A refresh end queues (period, version, the projects changed in the
 *   period since its previous refresh end) for scoring. When `full`, it
 *   first removes every line of the period whose report_version differs
 *   (those projects count as changed too).
 * A project's horizon is the latest usage end of its lines that span at
 * most one day: how far its costs are known. */
ew_state_status ew_state_cost_apply(ew_state *s, const char *topic, const ew_flush_partition *parts, size_t n_parts,
                                    const ew_billing_record *recs, size_t n, int32_t *refused_partition,
                                    int64_t *refused_offset);

typedef struct {
    uint64_t seq;             /* queue position, increasing */
    char billing_period[8];
    char report_version[64];
    char **projects;          /* sorted, owned */
    size_t n_projects;
} ew_cost_refresh;

/* Claims the oldest queued refresh end not claimed by another member in
 * the last 30 s; *found false when there is none. */
ew_state_status ew_state_cost_claim_refresh(ew_state *s, ew_cost_refresh *out, bool *found);
void ew_cost_refresh_free(ew_cost_refresh *r);

typedef struct {
    char dim;                 /* 's' service, 'u' usage type, 'r' resource id */
    uint8_t hour;             /* 0-23, UTC */
    int64_t micros;
    const char *value;        /* points into the day's text */
} ew_cost_entry;

typedef struct {
    int64_t day_ms;           /* UTC midnight */
    int64_t hour_micros[24];  /* the project's total per hour */
    ew_cost_entry *entries;   /* non-zero (hour, dimension, value) amounts */
    size_t n_entries;
    char *text;               /* owns the entries' values */
} ew_cost_day;

#define EW_COST_DET_MAX 2048
typedef struct {
    int64_t first_ms;         /* start of the earliest hour with cost, INT64_MIN when none */
    int64_t horizon_ms;       /* see ew_state_cost_apply, INT64_MIN when none */
    char det[EW_COST_DET_MAX];/* the cost detector's state text, "" when none */
} ew_cost_project;

/* A project's summary and n_days days from first_day_ms (UTC midnight) in
 * one round trip; days without data come back zeroed (n_entries 0). Only
 * with_entries fills the per-dimension entries: scoring needs the hour
 * totals, and only an alert's explanation needs the rest. */
ew_state_status ew_state_cost_read(ew_state *s, const char *project, int64_t first_day_ms, size_t n_days,
                                   bool with_entries, ew_cost_project *proj, ew_cost_day *days);
void ew_cost_days_free(ew_cost_day *days, size_t n);

/* Saves the scored projects' detector state and drops refresh seq from
 * the queue, atomically. */
ew_state_status ew_state_cost_commit(ew_state *s, uint64_t seq, const char *const *projects, const char *const *dets,
                                     size_t n);

/* ---- incidents by project, for related_alerts ---- */

/* Notes that alert_id, an incident of an entity of type entity_type
 * ("distribution" or "project") belonging to project, covers
 * [start_ms, end_ms) (end_ms INT64_MAX while open). Kept state.retention. */
ew_state_status ew_state_incident_note(ew_state *s, const char *project, const char *alert_id,
                                       const char *entity_type, int64_t start_ms, int64_t end_ms);
/* Up to cap ids, sorted, of the project's incidents of entity_type that
 * overlap [from_ms, to_ms). */
ew_state_status ew_state_incidents_overlapping(ew_state *s, const char *project, const char *entity_type,
                                               int64_t from_ms, int64_t to_ms, char (*ids)[64], size_t cap,
                                               size_t *n);

#endif
