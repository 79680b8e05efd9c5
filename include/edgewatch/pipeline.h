/* pipeline.h -- `edgewatch run`: source → decode → window → aggregate →
 * state → score → alert → sink, in one consumer-group member.
 */
#ifndef EDGEWATCH_PIPELINE_H
#define EDGEWATCH_PIPELINE_H

#include "edgewatch/config.h"

#include <signal.h>

/* Runs until *stop becomes non-zero; returns an exit code. */
int ew_pipeline_run(const ew_config *cfg, volatile sig_atomic_t *stop);

#endif
