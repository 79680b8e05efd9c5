/* billing_pipeline.h -- `edgewatch run`'s billing consumer: billing topic →
 * billing core (decode, upsert, score on refresh end) → alerts, run on its
 * own thread next to the traffic pipeline (pipeline.h).
 */
#ifndef EDGEWATCH_BILLING_PIPELINE_H
#define EDGEWATCH_BILLING_PIPELINE_H

#include "edgewatch/config.h"

#include <stdatomic.h>

/* Runs until *stop is set, then flushes and leaves the group; returns an
 * exit code. Reloads the metadata file when *reload is set (and clears it). */
int ew_billing_pipeline_run(const ew_config *cfg, const atomic_bool *stop, atomic_bool *reload);

#endif
