/* replay.h -- `edgewatch replay`: history through the same stages as live
 * traffic (core.h), into isolated state, with alerts to a file.
 */
#ifndef EDGEWATCH_REPLAY_H
#define EDGEWATCH_REPLAY_H

#include "edgewatch/config.h"

#include <signal.h>

/* argv[0] is "replay". Returns an exit code. */
int ew_cmd_replay(int argc, char **argv, volatile sig_atomic_t *stop);

#endif
