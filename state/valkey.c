/* valkey.c -- the Valkey (or Redis 7) backend of the state interface.
 *
 * Writes from the hot path arrive here once per flush and leave as one
 * EVALSHA of state/flush.lua. The scripts are embedded in the binary and
 * loaded with SCRIPT LOAD on connect; NOSCRIPT (after a server restart or
 * failover empties the script cache) reloads them and retries once.
 *
 * Any I/O error drops the connection and returns EW_STATE_DOWN; the next
 * call reconnects. hiredis 0.14 has no TLS, so neither does this backend.
 * The cost (billing) and incident operations are in valkey_cost.c; what
 * both files share is declared in valkey_internal.h.
 */
#include "edgewatch/window.h"
#include "valkey_internal.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const char ew_lua_flush[];
extern const char ew_lua_close[];
extern const char ew_lua_assign[];

/* Every exchange with the server goes through here, so `make bench` and
 * the shutdown line can show that Valkey work follows flushes, not records. */
void vk_count_trip(valkey_state *s, size_t commands)
{
    s->stats.round_trips++;
    s->stats.commands += commands;
}

static const ew_state_stats *vk_stats(const ew_state *state) { return &((const valkey_state *)state)->stats; }

static const char *vk_last_error(const ew_state *state) { return ((const valkey_state *)state)->error; }

void vk_set_error(valkey_state *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->error, sizeof s->error, fmt, ap);
    va_end(ap);
}

void vk_drop_connection(valkey_state *s)
{
    if (s->ctx) {
        if (s->ctx->err)
            vk_set_error(s, "valkey %s:%d: %s", s->cfg->valkey_host, s->cfg->valkey_port, s->ctx->errstr);
        redisFree(s->ctx);
        s->ctx = NULL;
    }
}

static bool load_script(valkey_state *s, const char *text, char sha[41])
{
    vk_count_trip(s, 1);
    redisReply *r = redisCommand(s->ctx, "SCRIPT LOAD %s", text);
    if (!r || r->type != REDIS_REPLY_STRING) {
        if (r)
            vk_set_error(s, "valkey SCRIPT LOAD: %s", r->str ? r->str : "unexpected reply");
        freeReplyObject(r);
        return false;
    }
    snprintf(sha, 41, "%s", r->str);
    freeReplyObject(r);
    return true;
}

static bool authenticate(valkey_state *s)
{
    if (!s->cfg->valkey_password || !*s->cfg->valkey_password)
        return true;
    vk_count_trip(s, 1);
    redisReply *r = redisCommand(s->ctx, "AUTH %s", s->cfg->valkey_password);
    bool ok = r && r->type == REDIS_REPLY_STATUS;
    if (r && !ok)
        vk_set_error(s, "valkey AUTH: %s", r->str ? r->str : "failed");
    freeReplyObject(r);
    return ok;
}

bool vk_ensure_connected(valkey_state *s)
{
    if (s->ctx)
        return true;
    struct timeval tv = {s->cfg->valkey_timeout_ms / 1000, (s->cfg->valkey_timeout_ms % 1000) * 1000};
    s->ctx = redisConnectWithTimeout(s->cfg->valkey_host, s->cfg->valkey_port, tv);
    if (!s->ctx || s->ctx->err) {
        if (!s->ctx)
            vk_set_error(s, "valkey %s:%d: cannot allocate context", s->cfg->valkey_host, s->cfg->valkey_port);
        vk_drop_connection(s);
        return false;
    }
    redisSetTimeout(s->ctx, tv);
    redisEnableKeepAlive(s->ctx);
    if (!authenticate(s) || !load_script(s, ew_lua_flush, s->sha_flush) || !load_script(s, ew_lua_close, s->sha_close) ||
        !load_script(s, ew_lua_assign, s->sha_assign) || !load_script(s, ew_lua_cost, s->sha_cost)) {
        redisFree(s->ctx);
        s->ctx = NULL;
        return false;
    }
    return true;
}

static void vk_close(ew_state *state)
{
    valkey_state *s = (valkey_state *)state;
    if (s->ctx)
        redisFree(s->ctx);
    free(s->buf);
    free(s->arg_off);
    free(s->arg_len);
    free(s);
}

/* ---- argument vector building ---- */

void vk_args_reset(valkey_state *s)
{
    s->buf_len = 0;
    s->n_args = 0;
}

void vk_args_push(valkey_state *s, const char *data, size_t len)
{
    if (s->buf_len + len > s->buf_cap) {
        s->buf_cap = (s->buf_len + len) * 2 + 4096;
        s->buf = realloc(s->buf, s->buf_cap);
    }
    if (s->n_args == s->cap_args) {
        s->cap_args = s->cap_args * 2 + 256;
        s->arg_off = realloc(s->arg_off, s->cap_args * sizeof *s->arg_off);
        s->arg_len = realloc(s->arg_len, s->cap_args * sizeof *s->arg_len);
    }
    memcpy(s->buf + s->buf_len, data, len);
    s->arg_off[s->n_args] = s->buf_len;
    s->arg_len[s->n_args] = len;
    s->buf_len += len;
    s->n_args++;
}

void vk_args_str(valkey_state *s, const char *str) { vk_args_push(s, str, strlen(str)); }

void vk_args_i64(valkey_state *s, int64_t v)
{
    char tmp[24];
    int n = snprintf(tmp, sizeof tmp, "%" PRId64, v);
    vk_args_push(s, tmp, (size_t)n);
}

/* Runs EVALSHA over the collected arguments (which start at ARGV[1]). */
redisReply *vk_eval_args(valkey_state *s, char sha[41], const char *script_text)
{
    size_t n = s->n_args + 3;
    const char **argv = malloc(n * sizeof *argv);
    size_t *lens = malloc(n * sizeof *lens);
    argv[0] = "EVALSHA";
    lens[0] = 7;
    argv[1] = sha;
    lens[1] = 40;
    argv[2] = "0";
    lens[2] = 1;
    for (size_t i = 0; i < s->n_args; i++) {
        argv[i + 3] = s->buf + s->arg_off[i];
        lens[i + 3] = s->arg_len[i];
    }
    vk_count_trip(s, 1);
    redisReply *r = redisCommandArgv(s->ctx, (int)n, argv, lens);
    if (r && r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOSCRIPT", 8) == 0) {
        freeReplyObject(r);
        r = NULL;
        if (load_script(s, script_text, sha)) {
            vk_count_trip(s, 1);
            r = redisCommandArgv(s->ctx, (int)n, argv, lens);
        }
    }
    free(argv);
    free(lens);
    if (!r)
        vk_drop_connection(s);
    else if (r->type == REDIS_REPLY_ERROR)
        vk_set_error(s, "valkey script error: %s", r->str);
    return r;
}

/* ---- flush ---- */

/* Top lists as (field, "COUNT\tVALUE\n"...) pairs, preceded by their number. */
static void push_tops(valkey_state *s, const ew_topk *top)
{
    char text[EW_DIMS][EW_TOPK_TEXT_MAX];
    size_t len[EW_DIMS], n = 0;
    for (int d = 0; d < EW_DIMS; d++)
        n += (len[d] = ew_topk_format(top, (ew_dim)d, text[d], sizeof text[d])) > 0;
    vk_args_i64(s, (int64_t)n);
    for (int d = 0; d < EW_DIMS; d++)
        if (len[d]) {
            vk_args_str(s, ew_dim_field((ew_dim)d));
            vk_args_push(s, text[d], len[d]);
        }
}

/* A pair goes out when it has records since the last flush, or when its
 * window is over for this member and its sketch has something to ship. */
static bool pair_goes_out(const ew_delta *d, int64_t ship_through_ms)
{
    if (d->requests)
        return true;
    if (!ew_delta_ships(d, ship_through_ms))
        return false;
    for (int dim = 0; dim < EW_DIMS; dim++)
        if (ew_topk_used(&d->top, (ew_dim)dim))
            return true;
    return false;
}

static void push_pair(valkey_state *s, const ew_aggregate *agg, const ew_delta *d, int64_t ship_through_ms)
{
    ew_field_value fields[EW_DELTA_MAX_FIELDS];
    size_t nf = d->requests ? ew_delta_fields(d, fields) : 0;
    vk_args_str(s, ew_entity_name(agg, d->entity));
    vk_args_i64(s, d->window_start_ms / 1000);
    vk_args_str(s, d->on_time ? "1" : "0");
    vk_args_i64(s, (int64_t)nf);
    for (size_t f = 0; f < nf; f++) {
        vk_args_str(s, fields[f].name);
        vk_args_i64(s, (int64_t)fields[f].value);
    }
    if (ew_delta_ships(d, ship_through_ms))
        push_tops(s, &d->top);
    else
        vk_args_i64(s, 0);
}

static void push_pairs(valkey_state *s, const ew_aggregate *agg, int64_t ship_through_ms)
{
    size_t pairs = ew_aggregate_pairs(agg), out = 0;
    for (size_t i = 0; i < pairs; i++)
        out += pair_goes_out(ew_aggregate_pair(agg, i), ship_through_ms);
    vk_args_i64(s, (int64_t)out);
    for (size_t i = 0; i < pairs; i++) {
        const ew_delta *d = ew_aggregate_pair(agg, i);
        if (pair_goes_out(d, ship_through_ms))
            push_pair(s, agg, d, ship_through_ms);
    }
}

static ew_state_status vk_flush(ew_state *state, const char *topic, const ew_flush_partition *parts, size_t n_parts,
                               const ew_aggregate *agg, int64_t ship_through_ms, int32_t *refused_partition,
                               int64_t *refused_offset)
{
    valkey_state *s = (valkey_state *)state;
    if (!vk_ensure_connected(s))
        return EW_STATE_DOWN;
    vk_args_reset(s);
    vk_args_str(s, s->cfg->prefix);
    vk_args_str(s, topic);
    vk_args_i64(s, s->cfg->retention_ms / 1000);
    vk_args_i64(s, ew_config_window_ttl_ms(s->cfg) / 1000);
    vk_args_i64(s, (int64_t)n_parts);
    for (size_t i = 0; i < n_parts; i++) {
        vk_args_i64(s, parts[i].partition);
        vk_args_i64(s, parts[i].from_offset);
        vk_args_i64(s, parts[i].next_offset);
        vk_args_i64(s, parts[i].watermark_ms);
    }
    push_pairs(s, agg, ship_through_ms);
    redisReply *r = vk_eval_args(s, s->sha_flush, ew_lua_flush);
    if (!r)
        return EW_STATE_DOWN;
    ew_state_status st = EW_STATE_DOWN;
    if (r->type == REDIS_REPLY_ARRAY && r->elements >= 1 && r->element[0]->integer == 1) {
        st = EW_STATE_OK;
    } else if (r->type == REDIS_REPLY_ARRAY && r->elements == 3) {
        *refused_partition = (int32_t)r->element[1]->integer;
        *refused_offset = r->element[2]->integer;
        st = EW_STATE_REFUSED;
    }
    freeReplyObject(r);
    return st;
}

/* ---- reads and scoring state ---- */

int64_t vk_reply_i64(const redisReply *r, int64_t fallback)
{
    if (r && r->type == REDIS_REPLY_STRING)
        return strtoll(r->str, NULL, 10);
    if (r && r->type == REDIS_REPLY_INTEGER)
        return r->integer;
    return fallback;
}

static ew_state_status vk_partitions(ew_state *state, const char *topic, const int32_t *partitions, size_t n,
                                    int64_t *next_offsets, int64_t *watermarks_ms)
{
    valkey_state *s = (valkey_state *)state;
    if (!vk_ensure_connected(s))
        return EW_STATE_DOWN;
    for (size_t i = 0; i < n; i++) {
        redisAppendCommand(s->ctx, "HGET %soff:%s %d", s->cfg->prefix, topic, partitions[i]);
        redisAppendCommand(s->ctx, "HGET %swm:%s %d", s->cfg->prefix, topic, partitions[i]);
    }
    vk_count_trip(s, 2 * n);
    for (size_t i = 0; i < n; i++) {
        redisReply *off = NULL, *wm = NULL;
        if (redisGetReply(s->ctx, (void **)&off) != REDIS_OK || redisGetReply(s->ctx, (void **)&wm) != REDIS_OK) {
            freeReplyObject(off);
            vk_drop_connection(s);
            return EW_STATE_DOWN;
        }
        next_offsets[i] = vk_reply_i64(off, -1);
        watermarks_ms[i] = vk_reply_i64(wm, INT64_MIN);
        freeReplyObject(off);
        freeReplyObject(wm);
    }
    return EW_STATE_OK;
}


static ew_state_status vk_claim_closed(ew_state *state, const char *topic, int64_t *window_starts, size_t cap,
                                      size_t *n_claimed, int64_t *low_watermark_ms)
{
    valkey_state *s = (valkey_state *)state;
    *n_claimed = 0;
    if (!vk_ensure_connected(s))
        return EW_STATE_DOWN;
    vk_args_reset(s);
    vk_args_str(s, s->cfg->prefix);
    vk_args_str(s, topic);
    vk_args_i64(s, s->cfg->idle_timeout_ms);
    vk_args_i64(s, s->cfg->window_ms);
    vk_args_i64(s, 10); /* lease: a scorer that dies is replaced within 10 s */
    vk_args_i64(s, (int64_t)cap);
    redisReply *r = vk_eval_args(s, s->sha_close, ew_lua_close);
    if (!r)
        return EW_STATE_DOWN;
    if (r->type != REDIS_REPLY_ARRAY || r->elements < 1) {
        freeReplyObject(r);
        return EW_STATE_DOWN;
    }
    *low_watermark_ms = r->element[0]->integer;
    for (size_t i = 1; i < r->elements && *n_claimed < cap; i++)
        window_starts[(*n_claimed)++] = r->element[i]->integer * 1000;
    freeReplyObject(r);
    return EW_STATE_OK;
}

/* ---- scoring: load a window, commit its detector state ---- */

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The window's members and the known entities, sorted, each once: the
 * union of SMEMBERS win:<ws> and the known range, in one round trip. */
static ew_state_status window_entities(valkey_state *s, int64_t window_start_ms, char ***names, size_t *n)
{
    const char *P = s->cfg->prefix;
    redisAppendCommand(s->ctx, "SMEMBERS %swin:%lld", P, (long long)(window_start_ms / 1000));
    redisAppendCommand(s->ctx, "ZRANGEBYSCORE %sknown %lld +inf", P,
                       (long long)(window_start_ms - s->cfg->retention_ms));
    vk_count_trip(s, 2);
    redisReply *r[2] = {NULL, NULL};
    if (redisGetReply(s->ctx, (void **)&r[0]) != REDIS_OK || redisGetReply(s->ctx, (void **)&r[1]) != REDIS_OK) {
        freeReplyObject(r[0]);
        vk_drop_connection(s);
        return EW_STATE_DOWN;
    }
    ew_state_status st = EW_STATE_OK;
    size_t cap = 0, m = 0;
    for (int k = 0; k < 2; k++)
        if (r[k]->type == REDIS_REPLY_ARRAY)
            cap += r[k]->elements;
        else
            st = EW_STATE_DOWN;
    char **out = calloc(cap + 1, sizeof *out);
    for (int k = 0; k < 2 && st == EW_STATE_OK; k++)
        for (size_t i = 0; i < r[k]->elements; i++)
            out[m++] = strdup(r[k]->element[i]->str);
    qsort(out, m, sizeof *out, by_name);
    size_t u = 0;
    for (size_t i = 0; i < m; i++) {
        if (u && strcmp(out[u - 1], out[i]) == 0)
            free(out[i]);
        else
            out[u++] = out[i];
    }
    freeReplyObject(r[0]);
    freeReplyObject(r[1]);
    *names = out;
    *n = u;
    return st;
}

static void append_item_reads(valkey_state *s, const char *entity, int64_t window_start_ms,
                              char fields[EW_DETECTOR_FIELDS][EW_DETECTOR_FIELD_LEN])
{
    const char *P = s->cfg->prefix;
    redisAppendCommand(s->ctx, "HGETALL %sagg:%s:%lld", P, entity, (long long)(window_start_ms / 1000));
    char key[512];
    snprintf(key, sizeof key, "%sdet:%s", P, entity);
    const char *argv[2 + EW_DETECTOR_FIELDS];
    argv[0] = "HMGET";
    argv[1] = key;
    for (size_t f = 0; f < EW_DETECTOR_FIELDS; f++)
        argv[2 + f] = fields[f];
    redisAppendCommandArgv(s->ctx, 2 + EW_DETECTOR_FIELDS, argv, NULL);
}

static void parse_item(const redisReply *agg, const redisReply *det, ew_score_item *it)
{
    for (size_t i = 0; agg->type == REDIS_REPLY_ARRAY && i + 1 < agg->elements; i += 2) {
        int c = ew_counter_index(agg->element[i]->str);
        if (c >= 0)
            it->counters[c] = strtoull(agg->element[i + 1]->str, NULL, 10);
    }
    ew_detector_init(&it->det);
    for (size_t f = 0; det->type == REDIS_REPLY_ARRAY && f < det->elements && f < EW_DETECTOR_FIELDS; f++) {
        const redisReply *v = det->element[f];
        if (v->type == REDIS_REPLY_STRING && !ew_detector_parse(&it->det, f, v->str))
            ew_warn("valkey: det:%s field %zu unreadable (\"%s\"); that part starts afresh", it->entity, f, v->str);
    }
}

static ew_state_status read_items(valkey_state *s, int64_t window_start_ms, char **names, ew_score_item *out, size_t n)
{
    char fields[EW_DETECTOR_FIELDS][EW_DETECTOR_FIELD_LEN];
    ew_detector_field_names(window_start_ms, fields);
    for (size_t i = 0; i < n; i++)
        append_item_reads(s, names[i], window_start_ms, fields);
    vk_count_trip(s, 2 * n);
    for (size_t i = 0; i < n; i++) {
        redisReply *agg = NULL, *det = NULL;
        if (redisGetReply(s->ctx, (void **)&agg) != REDIS_OK || redisGetReply(s->ctx, (void **)&det) != REDIS_OK) {
            freeReplyObject(agg);
            vk_drop_connection(s);
            return EW_STATE_DOWN;
        }
        snprintf(out[i].entity, sizeof out[i].entity, "%s", names[i]);
        parse_item(agg, det, &out[i]);
        freeReplyObject(agg);
        freeReplyObject(det);
    }
    return EW_STATE_OK;
}

static ew_state_status vk_load_window(ew_state *state, int64_t window_start_ms, ew_score_item **items, size_t *n)
{
    valkey_state *s = (valkey_state *)state;
    *items = NULL;
    *n = 0;
    if (!vk_ensure_connected(s))
        return EW_STATE_DOWN;
    char **names = NULL;
    size_t count = 0;
    ew_state_status st = window_entities(s, window_start_ms, &names, &count);
    ew_score_item *out = calloc(count + 1, sizeof *out);
    if (st == EW_STATE_OK)
        st = read_items(s, window_start_ms, names, out, count);
    for (size_t i = 0; i < count; i++)
        free(names[i]);
    free(names);
    if (st != EW_STATE_OK) {
        free(out);
        return st;
    }
    *items = out;
    *n = count;
    return EW_STATE_OK;
}

static size_t append_item_writes(valkey_state *s, const ew_score_item *it, int64_t window_start_ms,
                                 char fields[EW_DETECTOR_FIELDS][EW_DETECTOR_FIELD_LEN])
{
    const char *P = s->cfg->prefix;
    char key[512], values[EW_DETECTOR_FIELDS][160];
    snprintf(key, sizeof key, "%sdet:%s", P, it->entity);
    const char *argv[2 + 2 * EW_DETECTOR_FIELDS];
    argv[0] = "HSET";
    argv[1] = key;
    for (size_t f = 0; f < EW_DETECTOR_FIELDS; f++) {
        ew_detector_format(&it->det, f, values[f], sizeof values[f]);
        argv[2 + 2 * f] = fields[f];
        argv[3 + 2 * f] = values[f];
    }
    redisAppendCommandArgv(s->ctx, 2 + 2 * EW_DETECTOR_FIELDS, argv, NULL);
    redisAppendCommand(s->ctx, "PEXPIRE %s %lld", key, (long long)s->cfg->retention_ms);
    if (it->counters[EW_C_REQ] == 0)
        return 2;
    redisAppendCommand(s->ctx, "ZADD %sknown GT %lld %s", P, (long long)window_start_ms, it->entity);
    return 3;
}

ew_state_status vk_drain_replies(valkey_state *s, size_t n)
{
    ew_state_status st = EW_STATE_OK;
    if (n)
        vk_count_trip(s, n);
    for (size_t i = 0; i < n; i++) {
        redisReply *r = NULL;
        if (redisGetReply(s->ctx, (void **)&r) != REDIS_OK) {
            vk_drop_connection(s);
            return EW_STATE_DOWN;
        }
        if (r->type == REDIS_REPLY_ERROR) {
            vk_set_error(s, "valkey: %s", r->str);
            st = EW_STATE_DOWN;
        }
        freeReplyObject(r);
    }
    return st;
}

static ew_state_status vk_commit_window(ew_state *state, const ew_score_item *items, size_t n, int64_t window_start_ms)
{
    valkey_state *s = (valkey_state *)state;
    if (!vk_ensure_connected(s))
        return EW_STATE_DOWN;
    char fields[EW_DETECTOR_FIELDS][EW_DETECTOR_FIELD_LEN];
    ew_detector_field_names(window_start_ms, fields);
    /* MULTI/EXEC: a member that dies half way leaves either the window's
     * whole result or none of it, and "done" never without the state it
     * stands for; a re-score then starts from the same state. */
    const char *P = s->cfg->prefix;
    redisAppendCommand(s->ctx, "MULTI");
    size_t pending = 1;
    for (size_t i = 0; i < n; i++)
        pending += append_item_writes(s, &items[i], window_start_ms, fields);
    long long retention = (long long)s->cfg->retention_ms, ws = (long long)(window_start_ms / 1000);
    redisAppendCommand(s->ctx, "ZREMRANGEBYSCORE %sknown -inf (%lld", P, (long long)window_start_ms - retention);
    redisAppendCommand(s->ctx, "PEXPIRE %sknown %lld", P, retention);
    redisAppendCommand(s->ctx, "SET %sclaim:%lld done EX %lld", P, ws,
                       (long long)(ew_config_window_ttl_ms(s->cfg) / 1000));
    redisAppendCommand(s->ctx, "ZREM %spending %lld", P, ws);
    redisAppendCommand(s->ctx, "EXEC");
    return vk_drain_replies(s, pending + 5);
}

static ew_state_status vk_register_partitions(ew_state *state, const char *topic, const int32_t *partitions, size_t n)
{
    valkey_state *s = (valkey_state *)state;
    if (!vk_ensure_connected(s))
        return EW_STATE_DOWN;
    vk_args_reset(s);
    vk_args_str(s, s->cfg->prefix);
    vk_args_str(s, topic);
    vk_args_i64(s, s->cfg->retention_ms / 1000);
    for (size_t i = 0; i < n; i++)
        vk_args_i64(s, partitions[i]);
    redisReply *r = vk_eval_args(s, s->sha_assign, ew_lua_assign);
    if (!r)
        return EW_STATE_DOWN;
    ew_state_status st = r->type == REDIS_REPLY_INTEGER ? EW_STATE_OK : EW_STATE_DOWN;
    freeReplyObject(r);
    return st;
}

/* ---- reading stored totals back ---- */

static void parse_stored(const redisReply *h, int64_t start_ms, ew_stored_window *w)
{
    memset(w, 0, sizeof *w);
    w->start_ms = start_ms;
    for (size_t i = 0; i + 1 < h->elements; i += 2) {
        const char *name = h->element[i]->str, *value = h->element[i + 1]->str;
        int c = ew_counter_index(name);
        if (c >= 0)
            w->counters[c] = strtoull(value, NULL, 10);
        else if (strncmp(name, "top:", 4) == 0 && w->n_tops < EW_MAX_STORED_TOPS) {
            w->top_fields[w->n_tops] = name;
            w->top_texts[w->n_tops++] = value;
        }
    }
}

/* HGETALL of up to `batch` consecutive windows in one round trip. */
static ew_state_status read_batch(valkey_state *s, const char *kind, const char *entity, int64_t first_ms, int64_t step_ms,
                                  size_t batch, ew_stored_window_fn fn, void *ctx)
{
    for (size_t i = 0; i < batch; i++)
        redisAppendCommand(s->ctx, "HGETALL %s%s:%s:%lld", s->cfg->prefix, kind, entity,
                           (long long)((first_ms + (int64_t)i * step_ms) / 1000));
    vk_count_trip(s, batch);
    ew_stored_window w;
    for (size_t i = 0; i < batch; i++) {
        redisReply *r = NULL;
        if (redisGetReply(s->ctx, (void **)&r) != REDIS_OK) {
            vk_drop_connection(s);
            return EW_STATE_DOWN;
        }
        if (r->type == REDIS_REPLY_ARRAY && r->elements > 0) {
            parse_stored(r, first_ms + (int64_t)i * step_ms, &w);
            fn(ctx, &w);
        }
        freeReplyObject(r);
    }
    return EW_STATE_OK;
}

static ew_state_status vk_read_range(ew_state *state, const char *entity, bool hourly, int64_t from_ms, int64_t to_ms,
                                    ew_stored_window_fn fn, void *ctx)
{
    valkey_state *s = (valkey_state *)state;
    if (!vk_ensure_connected(s))
        return EW_STATE_DOWN;
    int64_t step = hourly ? 3600000 : s->cfg->window_ms;
    int64_t first = ew_window_start(from_ms, step);
    const size_t per_trip = 1000;
    for (int64_t ws = first; ws < to_ms;) {
        size_t batch = 0;
        while (batch < per_trip && ws + (int64_t)batch * step < to_ms)
            batch++;
        ew_state_status st = read_batch(s, hourly ? "hagg" : "agg", entity, ws, step, batch, fn, ctx);
        if (st != EW_STATE_OK)
            return st;
        ws += (int64_t)batch * step;
    }
    return EW_STATE_OK;
}

/* SCAN + UNLINK in pages of 1,000 keys; the prefix must name a namespace. */
static ew_state_status vk_drop_namespace(ew_state *state, uint64_t *deleted)
{
    valkey_state *s = (valkey_state *)state;
    if (!strstr(s->cfg->prefix, "ns:")) {
        vk_set_error(s, "refusing to delete keys under \"%s\": not a namespace", s->cfg->prefix);
        return EW_STATE_DOWN;
    }
    if (!vk_ensure_connected(s))
        return EW_STATE_DOWN;
    char cursor[32] = "0";
    do {
        vk_count_trip(s, 1);
        redisReply *r = redisCommand(s->ctx, "SCAN %s MATCH %s* COUNT 1000", cursor, s->cfg->prefix);
        if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
            freeReplyObject(r);
            vk_drop_connection(s);
            return EW_STATE_DOWN;
        }
        snprintf(cursor, sizeof cursor, "%s", r->element[0]->str);
        const redisReply *keys = r->element[1];
        for (size_t i = 0; i < keys->elements; i++)
            redisAppendCommand(s->ctx, "UNLINK %s", keys->element[i]->str);
        size_t n = keys->elements;
        freeReplyObject(r);
        if (vk_drain_replies(s, n) != EW_STATE_OK)
            return EW_STATE_DOWN;
        *deleted += n;
    } while (strcmp(cursor, "0") != 0);
    return EW_STATE_OK;
}

static const ew_state_ops valkey_ops = {
    .close = vk_close,
    .last_error = vk_last_error,
    .stats = vk_stats,
    .flush = vk_flush,
    .partitions = vk_partitions,
    .register_partitions = vk_register_partitions,
    .claim_closed = vk_claim_closed,
    .load_window = vk_load_window,
    .commit_window = vk_commit_window,
    .read_range = vk_read_range,
    .drop_namespace = vk_drop_namespace,
    .cost_apply = vk_cost_apply,
    .cost_claim_refresh = vk_cost_claim_refresh,
    .cost_read = vk_cost_read,
    .cost_commit = vk_cost_commit,
    .incident_note = vk_incident_note,
    .incidents_overlapping = vk_incidents_overlapping,
};

ew_state *ew_state_open_valkey(const ew_config *cfg)
{
    valkey_state *s = calloc(1, sizeof *s);
    s->base.ops = &valkey_ops;
    s->cfg = cfg;
    vk_ensure_connected(s);
    return &s->base;
}
