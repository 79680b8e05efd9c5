/* billing_core.h -- the billing stages every way of running shares:
 *
 *   decode → batch → state (upsert by line, offsets) → score on refresh end → alert
 *
 * `run` feeds it the billing topic (billing_pipeline.c); `replay` feeds it
 * billing files. Billing lines are few next to log records and are values
 * to upsert, not events to count, so there is no in-memory aggregate: a
 * batch of decoded lines goes to the state store as it is, with the
 * offsets that produced it, in one atomic step. A refresh end in the batch
 * queues that refresh; after the flush, the core claims queued refreshes
 * and scores every project they changed (cost.h).
 */
#ifndef EDGEWATCH_BILLING_CORE_H
#define EDGEWATCH_BILLING_CORE_H

#include "edgewatch/billing.h"
#include "edgewatch/core.h"
#include "edgewatch/state.h"
#include "edgewatch/suppress.h"

typedef struct {
    uint64_t records, lines, refresh_ends, decode_errors[EW_DECODE_REASONS];
    uint64_t flushes, refused, refreshes_scored, projects_scored;
    uint64_t alerts, alerts_firing, alerts_resolved;
    uint64_t by_rule[2][2]; /* [cost_spike, cost_drop][fired, resolved] */
} ew_billing_counters;

typedef struct ew_billing_core ew_billing_core;

/* topic is what offsets are recorded under (the billing topic, or a
 * file's name in replay). NULL with err set when metadata cannot load. */
ew_billing_core *ew_billing_core_new(const ew_config *cfg, ew_state *state, const char *topic, ew_core_output out,
                                     bool replay, char *err, size_t errcap);
void ew_billing_core_free(ew_billing_core *c);

/* Decodes one message into the batch. EW_FOLD_FULL: flush, then fold it
 * again. A refresh end makes ew_billing_core_flush_due true. */
ew_fold_status ew_billing_core_fold(ew_billing_core *c, int32_t partition, int64_t offset, const void *buf,
                                    size_t len, ew_decode_error *reason);
bool ew_billing_core_flush_due(const ew_billing_core *c);

/* Ships the batch and its offsets (see ew_core_flush for parts/refusal). */
ew_state_status ew_billing_core_flush(ew_billing_core *c, ew_flush_partition *parts, size_t cap, size_t *n_parts,
                                      int32_t *refused_partition, int64_t *refused_offset);
/* Drops the batch (refused, partitions lost). */
void ew_billing_core_forget(ew_billing_core *c);
/* Claims queued refreshes and scores their projects. */
void ew_billing_core_score(ew_billing_core *c);

void ew_billing_core_set_suppressions(ew_billing_core *c, const ew_suppressions *s);
bool ew_billing_core_reload_metadata(ew_billing_core *c, char *err, size_t errcap);
const ew_billing_counters *ew_billing_core_counters_of(const ew_billing_core *c);
void ew_billing_core_log_summary(const ew_billing_core *c);

#endif
