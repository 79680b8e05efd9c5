/* memory_internal.h -- what the memory backend's files share (private to
 * state/): memory.c keeps the offsets and the allocation helpers,
 * memory_cost.c the cost (billing) state and incidents, which it hangs
 * off the backend's struct through mem_cost_of.
 */
#ifndef EDGEWATCH_STATE_MEMORY_INTERNAL_H
#define EDGEWATCH_STATE_MEMORY_INTERNAL_H

#include "edgewatch/state.h"
#include "edgewatch/state_backend.h"

/* Abort on out of memory: a half-applied batch must never be observed. */
void *mem_xrealloc(void *p, size_t n);
char *mem_xstrdup(const char *s);

/* flush.lua's (and cost.lua's) refusal rule, and the offsets' write;
 * without watermarks for the billing topic. */
bool mem_offsets_refused(const ew_state *state, const char *topic, const ew_flush_partition *parts, size_t n,
                         int32_t *refused_partition, int64_t *refused_offset);
void mem_offsets_record(ew_state *state, const char *topic, const ew_flush_partition *parts, size_t n,
                        bool watermarks);

typedef struct mem_cost mem_cost;
/* The backend's cost state slot (NULL until memory_cost.c creates it). */
mem_cost **mem_cost_of(ew_state *state);
void mem_cost_free(mem_cost *c);

ew_state_status mem_cost_apply(ew_state *state, const char *topic, const ew_flush_partition *parts, size_t n_parts,
                               const ew_billing_record *recs, size_t n, int32_t *refused_partition,
                               int64_t *refused_offset);
ew_state_status mem_cost_claim_refresh(ew_state *state, ew_cost_refresh *out, bool *found);
ew_state_status mem_cost_read(ew_state *state, const char *project, int64_t first_day_ms, size_t n_days,
                              bool with_entries, ew_cost_project *proj, ew_cost_day *days);
ew_state_status mem_cost_commit(ew_state *state, uint64_t seq, const char *const *projects, const char *const *dets,
                                size_t n);
ew_state_status mem_incident_note(ew_state *state, const char *project, const char *alert_id,
                                  const char *entity_type, int64_t start_ms, int64_t end_ms);
ew_state_status mem_incidents_overlapping(ew_state *state, const char *project, const char *entity_type,
                                          int64_t from_ms, int64_t to_ms, char (*ids)[64], size_t cap, size_t *n);

#endif
