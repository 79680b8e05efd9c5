/* valkey_internal.h -- what the Valkey backend's files share (private to
 * state/): the backend's struct and its connection, argument and reply
 * helpers, defined in valkey.c. valkey_cost.c holds the cost and incident
 * operations, which use them the same way the traffic operations do.
 */
#ifndef EDGEWATCH_STATE_VALKEY_INTERNAL_H
#define EDGEWATCH_STATE_VALKEY_INTERNAL_H

#include "edgewatch/state.h"
#include "edgewatch/state_backend.h"

#include <hiredis/hiredis.h>

typedef struct {
    ew_state base; /* first member: what the interface sees */
    const ew_config *cfg;
    redisContext *ctx;
    char sha_flush[41];
    char sha_close[41];
    char sha_assign[41];
    char sha_cost[41];
    char error[256];
    /* Reused argument vectors for EVALSHA: no per-flush churn once warm. */
    char *buf;
    size_t buf_len, buf_cap;
    size_t *arg_off, *arg_len;
    size_t n_args, cap_args;
    ew_state_stats stats;
} valkey_state;

extern const char ew_lua_cost[];

/* Counts one exchange with the server of `commands` commands. */
void vk_count_trip(valkey_state *s, size_t commands);
void vk_set_error(valkey_state *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* After an I/O error: the next call reconnects (and reloads the scripts). */
void vk_drop_connection(valkey_state *s);
bool vk_ensure_connected(valkey_state *s);

/* EVALSHA arguments, collected from ARGV[1] on. */
void vk_args_reset(valkey_state *s);
void vk_args_push(valkey_state *s, const char *data, size_t len);
void vk_args_str(valkey_state *s, const char *str);
void vk_args_i64(valkey_state *s, int64_t v);
/* Runs the script (reloading it on NOSCRIPT); NULL after an I/O error. */
redisReply *vk_eval_args(valkey_state *s, char sha[41], const char *script_text);

/* Reads n pipelined replies; DOWN on I/O error or an error reply. */
ew_state_status vk_drain_replies(valkey_state *s, size_t n);
int64_t vk_reply_i64(const redisReply *r, int64_t fallback);

/* Cost and incident operations (valkey_cost.c). */
ew_state_status vk_cost_apply(ew_state *state, const char *topic, const ew_flush_partition *parts, size_t n_parts,
                              const ew_billing_record *recs, size_t n, int32_t *refused_partition,
                              int64_t *refused_offset);
ew_state_status vk_cost_claim_refresh(ew_state *state, ew_cost_refresh *out, bool *found);
ew_state_status vk_cost_read(ew_state *state, const char *project, int64_t first_day_ms, size_t n_days,
                             bool with_entries, ew_cost_project *proj, ew_cost_day *days);
ew_state_status vk_cost_commit(ew_state *state, uint64_t seq, const char *const *projects, const char *const *dets,
                               size_t n);
ew_state_status vk_incident_note(ew_state *state, const char *project, const char *alert_id, const char *entity_type,
                                 int64_t start_ms, int64_t end_ms);
ew_state_status vk_incidents_overlapping(ew_state *state, const char *project, const char *entity_type,
                                         int64_t from_ms, int64_t to_ms, char (*ids)[64], size_t cap, size_t *n);

#endif
