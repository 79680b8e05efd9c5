/* pipeline.h -- `edgewatch run`: source → decode → window → aggregate →
 * state → score → alert → sink, in one consumer-group member.
 */
#ifndef EDGEWATCH_PIPELINE_H
#define EDGEWATCH_PIPELINE_H

#include "edgewatch/config.h"

#include <signal.h>

/* Runs until *stop becomes non-zero; returns an exit code. When *reload
 * becomes non-zero (SIGHUP) it reloads the metadata file and clears it. */
int ew_pipeline_run(const ew_config *cfg, volatile sig_atomic_t *stop, volatile sig_atomic_t *reload);

#endif
