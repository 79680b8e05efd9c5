/* valkey_conn.h -- one way to open a Valkey connection from the config.
 *
 * Commands that talk to Valkey outside the state backends (silence, event,
 * the notifier's dedup store) connect the same way: the configured timeout
 * on connect and on every command, then AUTH when a password is set.
 */
#ifndef EDGEWATCH_VALKEY_CONN_H
#define EDGEWATCH_VALKEY_CONN_H

#include "edgewatch/config.h"

#include <hiredis/hiredis.h>

/* NULL with err "valkey HOST:PORT: reason" when it cannot connect or AUTH. */
redisContext *ew_valkey_connect(const ew_config *cfg, char *err, size_t errcap);

#endif
