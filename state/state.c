/* state.c -- the state interface, forwarded to the backend in use.
 *
 * Kept apart from the backends so that each of them is only its storage
 * logic; see include/edgewatch/state_backend.h.
 */
#include "edgewatch/state.h"
#include "edgewatch/state_backend.h"

#include <stdlib.h>

ew_state *ew_state_open(const ew_config *cfg) { return ew_state_open_valkey(cfg); }

void ew_state_close(ew_state *s)
{
    if (s)
        s->ops->close(s);
}

const char *ew_state_last_error(const ew_state *s) { return s->ops->last_error(s); }
const ew_state_stats *ew_state_stats_of(const ew_state *s) { return s->ops->stats(s); }

ew_state_status ew_state_flush(ew_state *s, const char *topic, const ew_flush_partition *parts, size_t n_parts,
                               const ew_aggregate *agg, int64_t ship_through_ms, int32_t *refused_partition,
                               int64_t *refused_offset)
{
    return s->ops->flush(s, topic, parts, n_parts, agg, ship_through_ms, refused_partition, refused_offset);
}

ew_state_status ew_state_partitions(ew_state *s, const char *topic, const int32_t *partitions, size_t n,
                                    int64_t *next_offsets, int64_t *watermarks_ms)
{
    return s->ops->partitions(s, topic, partitions, n, next_offsets, watermarks_ms);
}

ew_state_status ew_state_partition(ew_state *s, const char *topic, int32_t partition, int64_t *next_offset,
                                   int64_t *watermark_ms)
{
    return s->ops->partitions(s, topic, &partition, 1, next_offset, watermark_ms);
}

ew_state_status ew_state_register_partitions(ew_state *s, const char *topic, const int32_t *partitions, size_t n)
{
    return s->ops->register_partitions(s, topic, partitions, n);
}

ew_state_status ew_state_claim_closed(ew_state *s, const char *topic, int64_t *window_starts, size_t cap,
                                      size_t *n_claimed, int64_t *low_watermark_ms)
{
    return s->ops->claim_closed(s, topic, window_starts, cap, n_claimed, low_watermark_ms);
}

ew_state_status ew_state_load_window(ew_state *s, int64_t window_start_ms, ew_score_item **items, size_t *n)
{
    return s->ops->load_window(s, window_start_ms, items, n);
}

ew_state_status ew_state_commit_window(ew_state *s, const ew_score_item *items, size_t n, int64_t window_start_ms)
{
    return s->ops->commit_window(s, items, n, window_start_ms);
}

ew_state_status ew_state_read_range(ew_state *s, const char *entity, bool hourly, int64_t from_ms, int64_t to_ms,
                                    ew_stored_window_fn fn, void *ctx)
{
    return s->ops->read_range(s, entity, hourly, from_ms, to_ms, fn, ctx);
}

ew_state_status ew_state_drop_namespace(ew_state *s, uint64_t *deleted)
{
    *deleted = 0;
    return s->ops->drop_namespace ? s->ops->drop_namespace(s, deleted) : EW_STATE_OK;
}

/* ---- cost (billing) state and incidents ---- */

ew_state_status ew_state_cost_apply(ew_state *s, const char *topic, const ew_flush_partition *parts, size_t n_parts,
                                    const ew_billing_record *recs, size_t n, int32_t *refused_partition,
                                    int64_t *refused_offset)
{
    return s->ops->cost_apply(s, topic, parts, n_parts, recs, n, refused_partition, refused_offset);
}

ew_state_status ew_state_cost_claim_refresh(ew_state *s, ew_cost_refresh *out, bool *found)
{
    return s->ops->cost_claim_refresh(s, out, found);
}

void ew_cost_refresh_free(ew_cost_refresh *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n_projects; i++)
        free(r->projects[i]);
    free(r->projects);
    r->projects = NULL;
    r->n_projects = 0;
}

ew_state_status ew_state_cost_read(ew_state *s, const char *project, int64_t first_day_ms, size_t n_days,
                                   bool with_entries,
                                   ew_cost_project *proj, ew_cost_day *days)
{
    return s->ops->cost_read(s, project, first_day_ms, n_days, with_entries, proj, days);
}

void ew_cost_days_free(ew_cost_day *days, size_t n)
{
    for (size_t i = 0; days && i < n; i++) {
        free(days[i].entries);
        free(days[i].text);
        days[i].entries = NULL;
        days[i].text = NULL;
        days[i].n_entries = 0;
    }
}

ew_state_status ew_state_cost_commit(ew_state *s, uint64_t seq, const char *const *projects, const char *const *dets,
                                     size_t n)
{
    return s->ops->cost_commit(s, seq, projects, dets, n);
}

ew_state_status ew_state_incident_note(ew_state *s, const char *project, const char *alert_id,
                                       const char *entity_type, int64_t start_ms, int64_t end_ms)
{
    return s->ops->incident_note(s, project, alert_id, entity_type, start_ms, end_ms);
}

ew_state_status ew_state_incidents_overlapping(ew_state *s, const char *project, const char *entity_type,
                                               int64_t from_ms, int64_t to_ms, char (*ids)[64], size_t cap,
                                               size_t *n)
{
    return s->ops->incidents_overlapping(s, project, entity_type, from_ms, to_ms, ids, cap, n);
}
