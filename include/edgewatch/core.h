/* core.h -- the stages every way of running shares:
 *
 *   decode → window → aggregate → state → score → alert
 *
 * `run` (pipeline.c) feeds the core Kafka messages and sends its alerts to
 * Kafka; `replay` feeds it files or a topic range and writes alerts to a
 * file. Only the source, the alert output and the state backend differ, so
 * a replay computes what live traffic would have computed.
 *
 * Input is addressed by (partition, offset): the offsets a flush records in
 * the state store are what make it effectively-once.
 */
#ifndef EDGEWATCH_CORE_H
#define EDGEWATCH_CORE_H

#include "edgewatch/config.h"
#include "edgewatch/decode.h"
#include "edgewatch/metadata.h"
#include "edgewatch/state.h"
#include "edgewatch/suppress.h"

typedef struct {
    uint64_t records, decode_errors[EW_DECODE_REASONS], late, unmapped;
    uint64_t flushes, refused, pairs_flushed, windows_scored, alerts;
    uint64_t alerts_firing, alerts_resolved;
    int64_t newest_event_ms; /* newest event time folded, 0 before any */
    uint64_t outside_range;  /* records skipped by ew_core_set_range */
    uint64_t by_rule[EW_RULES][2]; /* incidents fired [0] and resolved [1] per rule */
} ew_core_counters;

/* Where alert events go. durable() returns once every alert handed over so
 * far is stored for good (false if one failed): scoring state is committed
 * only after that, so a failure repeats the same events later. */
typedef struct {
    void *ctx;
    bool (*alert)(void *ctx, const char *alert_id, const char *json);
    bool (*durable)(void *ctx);
} ew_core_output;

typedef enum {
    EW_FOLD_OK,
    EW_FOLD_DEAD_LETTER, /* undecodable: the caller dead-letters it; its offset counts as consumed */
    EW_FOLD_FULL,        /* no room for a new pair: flush (shipping all) and fold it again */
    EW_FOLD_UNASSIGNED,  /* partition not assigned to this member: ignored */
    EW_FOLD_SKIPPED,     /* outside the time range (replay): consumed, not counted */
} ew_fold_status;

typedef struct ew_core ew_core;

/* replay marks every alert `replay: true`. NULL with err set on failure. */
ew_core *ew_core_new(const ew_config *cfg, ew_state *state, const char *topic, ew_core_output out, bool replay,
                     char *err, size_t errcap);
void ew_core_free(ew_core *c);

ew_fold_status ew_core_fold(ew_core *c, int32_t partition, int64_t offset, const void *buf, size_t len,
                            ew_decode_error *reason);
/* The same for a record some other reader decoded (standard-log archives),
 * with e the reason it is bad, or EW_DECODE_OK. */
ew_fold_status ew_core_fold_decoded(ew_core *c, int32_t partition, int64_t offset, const ew_cf_record *r,
                                    ew_decode_error e);
/* The same for a record whose per-record work that needs no state was
 * done ahead, on the thread that decoded it (line_feed.h): its top-list
 * values cleaned (ew_topk_clean_record) and its identity looked up in
 * ew_core_metadata(c), dist being the distribution's position there + 1,
 * or 0 when no distribution has that name. Folds exactly as
 * ew_core_fold_decoded folds the original record. */
ew_fold_status ew_core_fold_prepared(ew_core *c, int32_t partition, int64_t offset, const ew_cf_record *r,
                                     ew_decode_error e, size_t dist);
/* A hint before ew_core_fold_prepared of a record a few ahead (its event
 * time and dist): fetches the delta it will be folded into, if it has one
 * already, or, further ahead (index_only), where to find it. Changes
 * nothing. */
void ew_core_prefetch(const ew_core *c, int64_t ts_ms, size_t dist, bool index_only);
/* The metadata records are mapped with; it changes only on
 * ew_core_reload_metadata, which must not run while another thread looks
 * names up in it. */
const ew_metadata *ew_core_metadata(const ew_core *c);

/* Partitions this member reads; resume_watermark_ms is what the state store
 * recorded (INT64_MIN when none), so late records are judged as before. */
void ew_core_assign(ew_core *c, int32_t partition, int64_t resume_watermark_ms);
void ew_core_unassign_all(ew_core *c);
/* Drops unflushed deltas and sketches (refused batch, lost partitions). */
void ew_core_forget(ew_core *c);

/* Flushes the batch to the state store. *parts gets the batch's partitions
 * (at most cap): on OK their offsets may be stored in Kafka; on REFUSED
 * the batch was dropped and the caller rewinds them. ship_all also ships
 * every top-contributors sketch (table full, revocation, shutdown). */
ew_state_status ew_core_flush(ew_core *c, bool ship_all, ew_flush_partition *parts, size_t cap, size_t *n_parts,
                              int32_t *refused_partition, int64_t *refused_offset);
bool ew_core_full(const ew_core *c);
/* Claims the windows that closed across the group and scores them. */
void ew_core_score_closed(ew_core *c);
/* End of a finite input: every assigned partition's watermark jumps past
 * all event time, so the next flush lets every window close. */
void ew_core_end_of_input(ew_core *c);

/* Replay of a topic range: records whose event time is outside
 * [from_ms, to_ms) are consumed but not folded. */
void ew_core_set_range(ew_core *c, int64_t from_ms, int64_t to_ms);

const ew_core_counters *ew_core_counters_of(const ew_core *c);
/* Reloads the metadata file (SIGHUP); on failure keeps the old one. */
bool ew_core_reload_metadata(ew_core *c, char *err, size_t errcap);
/* Silences and expected events to apply when scoring; NULL for none. The
 * caller owns them and may swap them between calls. */
void ew_core_set_suppressions(ew_core *c, const ew_suppressions *s);
/* "bad_status=3 column_count=1" for the non-zero counts, or "none". */
void ew_core_format_reasons(const uint64_t *counts, char *buf, size_t cap);
/* The shutdown lines: counts by encoding, dead letters by reason, totals. */
void ew_core_log_summary(const ew_core *c);

#endif
