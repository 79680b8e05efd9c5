/* state_backend.h -- what a state backend implements.
 *
 * The pipeline talks to ew_state only through state.h; state/state.c
 * forwards each call to the backend's ops. A backend's own struct starts
 * with an ew_state, so a pointer to one is a pointer to the other. Two
 * backends exist: Valkey (state/valkey.c), what `run` uses and what makes
 * the group's state shared; and memory (state/memory.c), one process's
 * private state for replays and parameter sweeps, with the same semantics
 * and no network.
 */
#ifndef EDGEWATCH_STATE_BACKEND_H
#define EDGEWATCH_STATE_BACKEND_H

#include "edgewatch/state.h"

typedef struct {
    void (*close)(ew_state *s);
    const char *(*last_error)(const ew_state *s);
    const ew_state_stats *(*stats)(const ew_state *s);
    ew_state_status (*flush)(ew_state *s, const char *topic, const ew_flush_partition *parts, size_t n_parts,
                             const ew_aggregate *agg, int64_t ship_through_ms, int32_t *refused_partition,
                             int64_t *refused_offset);
    ew_state_status (*partitions)(ew_state *s, const char *topic, const int32_t *partitions, size_t n,
                                  int64_t *next_offsets, int64_t *watermarks_ms);
    ew_state_status (*register_partitions)(ew_state *s, const char *topic, const int32_t *partitions, size_t n);
    ew_state_status (*claim_closed)(ew_state *s, const char *topic, int64_t *window_starts, size_t cap,
                                    size_t *n_claimed, int64_t *low_watermark_ms);
    ew_state_status (*load_window)(ew_state *s, int64_t window_start_ms, ew_score_item **items, size_t *n);
    ew_state_status (*commit_window)(ew_state *s, const ew_score_item *items, size_t n, int64_t window_start_ms);
    ew_state_status (*read_range)(ew_state *s, const char *entity, bool hourly, int64_t from_ms, int64_t to_ms,
                                  ew_stored_window_fn fn, void *ctx);
    /* Deletes every key of a namespace; NULL when there is nothing to do. */
    ew_state_status (*drop_namespace)(ew_state *s, uint64_t *deleted);
    /* Cost and incidents: see state.h. */
    ew_state_status (*cost_apply)(ew_state *s, const char *topic, const ew_flush_partition *parts, size_t n_parts,
                                  const ew_billing_record *recs, size_t n, int32_t *refused_partition,
                                  int64_t *refused_offset);
    ew_state_status (*cost_claim_refresh)(ew_state *s, ew_cost_refresh *out, bool *found);
    ew_state_status (*cost_read)(ew_state *s, const char *project, int64_t first_day_ms, size_t n_days,
                                 bool with_entries,
                                 ew_cost_project *proj, ew_cost_day *days);
    ew_state_status (*cost_commit)(ew_state *s, uint64_t seq, const char *const *projects, const char *const *dets,
                                   size_t n);
    ew_state_status (*incident_note)(ew_state *s, const char *project, const char *alert_id,
                                     const char *entity_type, int64_t start_ms, int64_t end_ms);
    ew_state_status (*incidents_overlapping)(ew_state *s, const char *project, const char *entity_type,
                                             int64_t from_ms, int64_t to_ms, char (*ids)[64], size_t cap,
                                             size_t *n);
} ew_state_ops;

struct ew_state {
    const ew_state_ops *ops;
};

#endif
