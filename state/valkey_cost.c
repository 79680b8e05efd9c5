/* valkey_cost.c -- cost (billing) state and incidents by project in Valkey.
 *
 * A batch of billing records is one EVALSHA of state/cost.lua, which
 * upserts the lines, queues the refresh ends and records the offsets
 * atomically, under the same refusal rule as the traffic flush. Claiming a
 * refresh is one script call too (a lease taken in order, which a pipeline
 * could not do without claiming several). Reads are one pipelined round
 * trip; the commit is one MULTI/EXEC. Key layout: state/README.md, "Cost
 * keys". The stored forms shared with the memory backend are in
 * cost_common.c.
 */
#include "cost_common.h"
#include "valkey_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CLAIM_CHECKED 16 /* queued refreshes tried per claim */

static int64_t day_ttl_s(const ew_config *cfg)
{
    int64_t ms = cfg->retention_ms > EW_COST_DAY_TTL_MIN_MS ? cfg->retention_ms : EW_COST_DAY_TTL_MIN_MS;
    return ms / 1000;
}

/* ---- apply ---- */

static void push_record(valkey_state *s, const ew_billing_record *r)
{
    if (r->kind == EW_BILL_LINE) {
        char text[EW_COST_LINE_MAX];
        size_t len = ew_cost_line_format(r, text);
        vk_args_str(s, "L");
        vk_args_str(s, r->billing_period);
        vk_args_str(s, r->line_key);
        vk_args_push(s, text, len);
    } else {
        char version[sizeof r->report_version];
        ew_cost_clean(r->report_version, version, sizeof version);
        vk_args_str(s, "E");
        vk_args_str(s, r->billing_period);
        vk_args_str(s, version);
        vk_args_str(s, r->full ? "1" : "0");
    }
}

/* {1} applied, {0, partition, offset} refused, anything else an error. */
static ew_state_status applied_or_refused(const redisReply *r, int32_t *refused_partition, int64_t *refused_offset)
{
    if (r->type != REDIS_REPLY_ARRAY || r->elements < 1 || r->element[0]->type != REDIS_REPLY_INTEGER)
        return EW_STATE_DOWN;
    if (r->element[0]->integer == 1)
        return EW_STATE_OK;
    if (r->elements != 3)
        return EW_STATE_DOWN;
    *refused_partition = (int32_t)r->element[1]->integer;
    *refused_offset = r->element[2]->integer;
    return EW_STATE_REFUSED;
}

ew_state_status vk_cost_apply(ew_state *state, const char *topic, const ew_flush_partition *parts, size_t n_parts,
                              const ew_billing_record *recs, size_t n, int32_t *refused_partition,
                              int64_t *refused_offset)
{
    valkey_state *s = (valkey_state *)state;
    if (!vk_ensure_connected(s))
        return EW_STATE_DOWN;
    vk_args_reset(s);
    vk_args_str(s, "apply");
    vk_args_str(s, s->cfg->prefix);
    vk_args_str(s, topic);
    vk_args_i64(s, s->cfg->retention_ms / 1000);
    vk_args_i64(s, day_ttl_s(s->cfg));
    vk_args_i64(s, EW_COST_LINE_TTL_MS / 1000);
    vk_args_i64(s, (int64_t)n_parts);
    for (size_t i = 0; i < n_parts; i++) {
        vk_args_i64(s, parts[i].partition);
        vk_args_i64(s, parts[i].from_offset);
        vk_args_i64(s, parts[i].next_offset);
    }
    vk_args_i64(s, (int64_t)n);
    for (size_t i = 0; i < n; i++)
        push_record(s, &recs[i]);
    redisReply *r = vk_eval_args(s, s->sha_cost, ew_lua_cost);
    if (!r)
        return EW_STATE_DOWN;
    ew_state_status st = applied_or_refused(r, refused_partition, refused_offset);
    freeReplyObject(r);
    return st;
}

/* ---- claim and commit ---- */

/* "a\nb\nc" into malloc'd strings (already sorted by cost.lua). */
static void split_projects(const char *text, size_t len, ew_cost_refresh *out)
{
    if (!len)
        return;
    size_t n = 1;
    for (size_t i = 0; i < len; i++)
        n += text[i] == '\n';
    out->projects = calloc(n, sizeof *out->projects);
    for (const char *p = text, *end = text + len; p <= end && out->n_projects < n;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t m = (size_t)((nl ? nl : end) - p);
        out->projects[out->n_projects++] = strndup(p, m);
        p += m + 1;
    }
}

static bool all_strings(const redisReply *r, size_t n)
{
    if (r->type != REDIS_REPLY_ARRAY || r->elements != n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (r->element[i]->type != REDIS_REPLY_STRING)
            return false;
    return true;
}

ew_state_status vk_cost_claim_refresh(ew_state *state, ew_cost_refresh *out, bool *found)
{
    valkey_state *s = (valkey_state *)state;
    memset(out, 0, sizeof *out);
    *found = false;
    if (!vk_ensure_connected(s))
        return EW_STATE_DOWN;
    vk_args_reset(s);
    vk_args_str(s, "claim");
    vk_args_str(s, s->cfg->prefix);
    vk_args_i64(s, EW_COST_LEASE_S);
    vk_args_i64(s, CLAIM_CHECKED);
    redisReply *r = vk_eval_args(s, s->sha_cost, ew_lua_cost);
    if (!r)
        return EW_STATE_DOWN;
    ew_state_status st = EW_STATE_OK;
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 0) {
        /* nothing free */
    } else if (all_strings(r, 4)) {
        out->seq = strtoull(r->element[0]->str, NULL, 10);
        snprintf(out->billing_period, sizeof out->billing_period, "%s", r->element[1]->str);
        snprintf(out->report_version, sizeof out->report_version, "%s", r->element[2]->str);
        split_projects(r->element[3]->str, r->element[3]->len, out);
        *found = true;
    } else {
        st = EW_STATE_DOWN;
    }
    freeReplyObject(r);
    return st;
}

/* MULTI/EXEC: the detector states and the refresh's leaving the queue are
 * stored together or not at all, so a re-score starts from the same state. */
ew_state_status vk_cost_commit(ew_state *state, uint64_t seq, const char *const *projects, const char *const *dets,
                               size_t n)
{
    valkey_state *s = (valkey_state *)state;
    if (!vk_ensure_connected(s))
        return EW_STATE_DOWN;
    const char *P = s->cfg->prefix;
    long long ttl = (long long)(s->cfg->retention_ms / 1000);
    unsigned long long q = (unsigned long long)seq;
    redisAppendCommand(s->ctx, "MULTI");
    for (size_t i = 0; i < n; i++) {
        redisAppendCommand(s->ctx, "HSET %scp:%s det %s", P, projects[i], dets[i]);
        redisAppendCommand(s->ctx, "EXPIRE %scp:%s %lld", P, projects[i], ttl);
    }
    redisAppendCommand(s->ctx, "ZREM %sbq %llu", P, q);
    redisAppendCommand(s->ctx, "DEL %sbq:%llu %sbq:claim:%llu", P, q, P, q);
    redisAppendCommand(s->ctx, "EXEC");
    return vk_drain_replies(s, 2 * n + 4);
}

/* ---- read ---- */

static void parse_project(const redisReply *r, ew_cost_project *proj)
{
    ew_cost_project_init(proj);
    for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i + 1 < r->elements; i += 2)
        ew_cost_project_field(proj, r->element[i]->str, r->element[i + 1]->str, r->element[i + 1]->len);
}

static void parse_day(const redisReply *r, int64_t day_ms, bool with_entries, ew_cost_day *day)
{
    size_t n = r->type == REDIS_REPLY_ARRAY ? r->elements / 2 : 0;
    ew_cost_field *fields = calloc(n + 1, sizeof *fields);
    for (size_t i = 0; i < n; i++)
        fields[i] = (ew_cost_field){r->element[2 * i]->str, strtoll(r->element[2 * i + 1]->str, NULL, 10)};
    ew_cost_day_build(day, day_ms, fields, n, with_entries);
    free(fields);
}

ew_state_status vk_cost_read(ew_state *state, const char *project, int64_t first_day_ms, size_t n_days,
                             bool with_entries, ew_cost_project *proj, ew_cost_day *days)
{
    valkey_state *s = (valkey_state *)state;
    ew_cost_project_init(proj);
    for (size_t i = 0; i < n_days; i++)
        memset(&days[i], 0, sizeof days[i]);
    if (!vk_ensure_connected(s))
        return EW_STATE_DOWN;
    const char *P = s->cfg->prefix;
    redisAppendCommand(s->ctx, "HGETALL %scp:%s", P, project);
    for (size_t i = 0; i < n_days; i++)
        redisAppendCommand(s->ctx, "HGETALL %scd:%s:%lld", P, project,
                           (long long)((first_day_ms + (int64_t)i * EW_BILL_DAY_MS) / 1000));
    vk_count_trip(s, n_days + 1);
    for (size_t i = 0; i <= n_days; i++) {
        redisReply *r = NULL;
        if (redisGetReply(s->ctx, (void **)&r) != REDIS_OK) {
            ew_cost_days_free(days, n_days);
            vk_drop_connection(s);
            return EW_STATE_DOWN;
        }
        if (i == 0)
            parse_project(r, proj);
        else
            parse_day(r, first_day_ms + (int64_t)(i - 1) * EW_BILL_DAY_MS, with_entries, &days[i - 1]);
        freeReplyObject(r);
    }
    return EW_STATE_OK;
}

/* ---- incidents ---- */

ew_state_status vk_incident_note(ew_state *state, const char *project, const char *alert_id, const char *entity_type,
                                 int64_t start_ms, int64_t end_ms)
{
    valkey_state *s = (valkey_state *)state;
    if (!vk_ensure_connected(s))
        return EW_STATE_DOWN;
    char entry[160];
    ew_cost_incident_format(entry, sizeof entry, entity_type, start_ms, end_ms);
    redisAppendCommand(s->ctx, "HSET %sinc:%s %s %s", s->cfg->prefix, project, alert_id, entry);
    redisAppendCommand(s->ctx, "PEXPIRE %sinc:%s %lld", s->cfg->prefix, project, (long long)s->cfg->retention_ms);
    return vk_drain_replies(s, 2);
}

ew_state_status vk_incidents_overlapping(ew_state *state, const char *project, const char *entity_type,
                                         int64_t from_ms, int64_t to_ms, char (*ids)[64], size_t cap, size_t *n)
{
    valkey_state *s = (valkey_state *)state;
    *n = 0;
    if (!vk_ensure_connected(s))
        return EW_STATE_DOWN;
    vk_count_trip(s, 1);
    redisReply *r = redisCommand(s->ctx, "HGETALL %sinc:%s", s->cfg->prefix, project);
    if (!r) {
        vk_drop_connection(s);
        return EW_STATE_DOWN;
    }
    if (r->type != REDIS_REPLY_ARRAY) {
        freeReplyObject(r);
        return EW_STATE_DOWN;
    }
    const char **match = calloc(r->elements / 2 + 1, sizeof *match);
    size_t m = 0;
    for (size_t i = 0; i + 1 < r->elements; i += 2)
        if (ew_cost_incident_overlaps(r->element[i + 1]->str, entity_type, from_ms, to_ms))
            match[m++] = r->element[i]->str;
    *n = ew_cost_ids_pick(match, m, ids, cap);
    free(match);
    freeReplyObject(r);
    return EW_STATE_OK;
}
