/* notify_store.c -- dedup claims and per-alert notification state.
 *
 * Two facts make "never lost, never twice" hold across restarts, rebalances
 * and several instances, and both live in Valkey because that is what every
 * instance shares:
 *
 *   nt:ev:<receiver>:<event_id>  "claim:<instance>" while one instance sends
 *                                it (expires after the lease, so a dead
 *                                sender is replaced), then "sent" or "dead"
 *   nt:al:<receiver>:<alert_id>  status, severity, sent_at of the last
 *                                notification: repeat and resolved decisions
 *
 * A claim is one `SET key claim:me NX PX lease GET`: it either takes the
 * event or returns who holds it, in one atomic step (Redis 7.0+). The memory
 * variant keeps the same facts in a small hash table for --dry-run.
 */
#include "edgewatch/notify.h"

#include "edgewatch/common.h"
#include "edgewatch/valkey_conn.h"

#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Releases a claim only if it is still ours: a claim that expired and was
 * taken by another instance must survive our late release. */
static const char RELEASE_SCRIPT[] =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0";

typedef struct {
    char *key; /* NULL: empty slot */
    char value[160];
    ew_alert_note note;
    int64_t expires_at;
} memory_entry;

struct ew_notify_store {
    const ew_config *cfg; /* NULL for memory */
    redisContext *ctx;
    char claim_value[160]; /* "claim:<instance>" */
    int64_t ttl_ms;
    char error[256];
    memory_entry *table;   /* memory variant: open addressing, power of two */
    size_t table_cap, table_used;
};

static ew_notify_store *store_new(const char *instance, int64_t ttl_ms)
{
    ew_notify_store *s = calloc(1, sizeof *s);
    snprintf(s->claim_value, sizeof s->claim_value, "claim:%s", instance);
    s->ttl_ms = ttl_ms;
    return s;
}

ew_notify_store *ew_notify_store_valkey(const ew_config *cfg, const char *instance, int64_t ttl_ms)
{
    ew_notify_store *s = store_new(instance, ttl_ms);
    s->cfg = cfg;
    return s;
}

ew_notify_store *ew_notify_store_memory(const char *instance, int64_t ttl_ms)
{
    ew_notify_store *s = store_new(instance, ttl_ms);
    s->table_cap = 1024;
    s->table = calloc(s->table_cap, sizeof *s->table);
    return s;
}

void ew_notify_store_free(ew_notify_store *s)
{
    if (!s)
        return;
    if (s->ctx)
        redisFree(s->ctx);
    for (size_t i = 0; i < s->table_cap; i++)
        free(s->table[i].key);
    free(s->table);
    free(s);
}

const char *ew_notify_store_error(const ew_notify_store *s) { return s->error; }

static void key_of(const ew_notify_store *s, char *out, size_t cap, const char *kind, const char *receiver,
                   const char *id)
{
    snprintf(out, cap, "%snt:%s:%s:%s", s->cfg ? s->cfg->prefix : "", kind, receiver, id);
}

/* ---- memory --------------------------------------------------------------------- */

static uint64_t hash_text(const char *t) { return ew_hash64(t, strlen(t), EW_HASH_SEED); }

static void memory_grow(ew_notify_store *s)
{
    memory_entry *old = s->table;
    size_t old_cap = s->table_cap;
    s->table_cap *= 2;
    s->table = calloc(s->table_cap, sizeof *s->table);
    s->table_used = 0;
    for (size_t i = 0; i < old_cap; i++) {
        if (!old[i].key)
            continue;
        size_t j = hash_text(old[i].key) & (s->table_cap - 1);
        while (s->table[j].key)
            j = (j + 1) & (s->table_cap - 1);
        s->table[j] = old[i];
        s->table_used++;
    }
    free(old);
}

/* The live entry of key, or a fresh empty one when create; expired entries
 * read as absent, as Valkey's would. */
static memory_entry *memory_get(ew_notify_store *s, const char *key, bool create, int64_t now_ms)
{
    if (create && (s->table_used + 1) * 2 > s->table_cap)
        memory_grow(s);
    size_t j = hash_text(key) & (s->table_cap - 1);
    while (s->table[j].key && strcmp(s->table[j].key, key) != 0)
        j = (j + 1) & (s->table_cap - 1);
    memory_entry *e = &s->table[j];
    if (e->key && e->expires_at <= now_ms) {
        e->value[0] = '\0';
        e->note = (ew_alert_note){0};
    }
    if (!e->key) {
        if (!create)
            return NULL;
        e->key = strdup(key);
        s->table_used++;
    }
    return e->value[0] || e->note.known || create ? e : NULL;
}

static bool memory_notes(ew_notify_store *s, const char *receiver, const ew_notify_alert *const *alerts, size_t n,
                         ew_alert_note *out, int64_t now_ms)
{
    for (size_t i = 0; i < n; i++) {
        char key[512];
        key_of(s, key, sizeof key, "al", receiver, alerts[i]->alert_id);
        memory_entry *e = memory_get(s, key, false, now_ms);
        out[i] = e ? e->note : (ew_alert_note){0};
    }
    return true;
}

static bool memory_claim(ew_notify_store *s, const char *receiver, const ew_notify_alert *const *alerts, size_t n,
                         int64_t lease_ms, ew_claim *out, int64_t now_ms)
{
    for (size_t i = 0; i < n; i++) {
        char key[512];
        key_of(s, key, sizeof key, "ev", receiver, alerts[i]->event_id);
        memory_entry *e = memory_get(s, key, true, now_ms);
        if (!e->value[0] || strcmp(e->value, s->claim_value) == 0) {
            snprintf(e->value, sizeof e->value, "%s", s->claim_value);
            e->expires_at = now_ms + lease_ms;
            out[i] = EW_CLAIM_TAKEN;
        } else
            out[i] = strncmp(e->value, "claim:", 6) == 0 ? EW_CLAIM_BUSY : EW_CLAIM_DONE;
    }
    return true;
}

static bool memory_release(ew_notify_store *s, const char *receiver, const ew_notify_alert *const *alerts, size_t n,
                           int64_t now_ms)
{
    for (size_t i = 0; i < n; i++) {
        char key[512];
        key_of(s, key, sizeof key, "ev", receiver, alerts[i]->event_id);
        memory_entry *e = memory_get(s, key, false, now_ms);
        if (e && strcmp(e->value, s->claim_value) == 0)
            e->value[0] = '\0';
    }
    return true;
}

static bool memory_finish(ew_notify_store *s, const char *receiver, const ew_notify_alert *const *alerts, size_t n,
                          bool sent, int64_t now_ms)
{
    for (size_t i = 0; i < n; i++) {
        char key[512];
        key_of(s, key, sizeof key, "ev", receiver, alerts[i]->event_id);
        memory_entry *e = memory_get(s, key, true, now_ms);
        snprintf(e->value, sizeof e->value, "%s", sent ? "sent" : "dead");
        e->expires_at = now_ms + s->ttl_ms;
        if (!sent)
            continue;
        key_of(s, key, sizeof key, "al", receiver, alerts[i]->alert_id);
        e = memory_get(s, key, true, now_ms);
        e->note = (ew_alert_note){.known = true, .firing = alerts[i]->firing, .sent_at = now_ms};
        snprintf(e->note.severity, sizeof e->note.severity, "%s", alerts[i]->severity);
        e->expires_at = now_ms + s->ttl_ms;
    }
    return true;
}

/* ---- Valkey ---------------------------------------------------------------------- */

static bool connected(ew_notify_store *s)
{
    if (s->ctx && !s->ctx->err)
        return true;
    if (s->ctx)
        redisFree(s->ctx);
    s->ctx = ew_valkey_connect(s->cfg, s->error, sizeof s->error);
    return s->ctx != NULL;
}

/* Reads n pipelined replies into replies[]; false (all freed) on an I/O
 * error or an error reply, which leaves the outcome unknown. */
static bool read_replies(ew_notify_store *s, redisReply **replies, size_t n)
{
    bool ok = true;
    for (size_t i = 0; i < n; i++) {
        replies[i] = NULL;
        if (s->ctx->err || redisGetReply(s->ctx, (void **)&replies[i]) != REDIS_OK) {
            snprintf(s->error, sizeof s->error, "valkey %s:%d: %s", s->cfg->valkey_host, s->cfg->valkey_port,
                     s->ctx->errstr[0] ? s->ctx->errstr : "no reply");
            ok = false;
            break;
        }
        if (replies[i]->type == REDIS_REPLY_ERROR) {
            snprintf(s->error, sizeof s->error, "valkey: %s", replies[i]->str);
            ok = false;
        }
    }
    if (!ok)
        for (size_t i = 0; i < n; i++)
            freeReplyObject(replies[i]), replies[i] = NULL;
    return ok;
}

static void free_replies(redisReply **replies, size_t n)
{
    for (size_t i = 0; i < n; i++)
        freeReplyObject(replies[i]);
    free(replies);
}

static bool valkey_notes(ew_notify_store *s, const char *receiver, const ew_notify_alert *const *alerts, size_t n,
                         ew_alert_note *out)
{
    for (size_t i = 0; i < n; i++) {
        char key[512];
        key_of(s, key, sizeof key, "al", receiver, alerts[i]->alert_id);
        redisAppendCommand(s->ctx, "HMGET %s status severity sent_at", key);
    }
    redisReply **r = calloc(n ? n : 1, sizeof *r);
    bool ok = read_replies(s, r, n);
    for (size_t i = 0; ok && i < n; i++) {
        out[i] = (ew_alert_note){0};
        if (r[i]->type != REDIS_REPLY_ARRAY || r[i]->elements != 3 || r[i]->element[0]->type != REDIS_REPLY_STRING)
            continue;
        out[i].known = true;
        out[i].firing = strcmp(r[i]->element[0]->str, "firing") == 0;
        if (r[i]->element[1]->type == REDIS_REPLY_STRING)
            snprintf(out[i].severity, sizeof out[i].severity, "%s", r[i]->element[1]->str);
        if (r[i]->element[2]->type == REDIS_REPLY_STRING)
            out[i].sent_at = strtoll(r[i]->element[2]->str, NULL, 10);
    }
    free_replies(r, n);
    return ok;
}

static bool valkey_claim(ew_notify_store *s, const char *receiver, const ew_notify_alert *const *alerts, size_t n,
                         int64_t lease_ms, ew_claim *out)
{
    for (size_t i = 0; i < n; i++) {
        char key[512];
        key_of(s, key, sizeof key, "ev", receiver, alerts[i]->event_id);
        redisAppendCommand(s->ctx, "SET %s %s NX PX %lld GET", key, s->claim_value, (long long)lease_ms);
    }
    redisReply **r = calloc(n ? n : 1, sizeof *r);
    bool ok = read_replies(s, r, n);
    for (size_t i = 0; ok && i < n; i++) {
        if (r[i]->type != REDIS_REPLY_STRING || strcmp(r[i]->str, s->claim_value) == 0)
            out[i] = EW_CLAIM_TAKEN; /* nil: it was free and is now ours */
        else
            out[i] = strncmp(r[i]->str, "claim:", 6) == 0 ? EW_CLAIM_BUSY : EW_CLAIM_DONE;
    }
    free_replies(r, n);
    return ok;
}

static bool valkey_release(ew_notify_store *s, const char *receiver, const ew_notify_alert *const *alerts, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char key[512];
        key_of(s, key, sizeof key, "ev", receiver, alerts[i]->event_id);
        redisAppendCommand(s->ctx, "EVAL %s 1 %s %s", RELEASE_SCRIPT, key, s->claim_value);
    }
    redisReply **r = calloc(n ? n : 1, sizeof *r);
    bool ok = read_replies(s, r, n);
    free_replies(r, n);
    return ok;
}

static bool valkey_finish(ew_notify_store *s, const char *receiver, const ew_notify_alert *const *alerts, size_t n,
                          bool sent, int64_t now_ms)
{
    size_t commands = 0;
    for (size_t i = 0; i < n; i++) {
        char key[512];
        key_of(s, key, sizeof key, "ev", receiver, alerts[i]->event_id);
        redisAppendCommand(s->ctx, "SET %s %s PX %lld", key, sent ? "sent" : "dead", (long long)s->ttl_ms);
        commands++;
        if (!sent)
            continue;
        key_of(s, key, sizeof key, "al", receiver, alerts[i]->alert_id);
        redisAppendCommand(s->ctx, "HSET %s status %s severity %s sent_at %lld", key, alerts[i]->status,
                           alerts[i]->severity, (long long)now_ms);
        redisAppendCommand(s->ctx, "PEXPIRE %s %lld", key, (long long)s->ttl_ms);
        commands += 2;
    }
    redisReply **r = calloc(commands ? commands : 1, sizeof *r);
    bool ok = read_replies(s, r, commands);
    free_replies(r, commands);
    return ok;
}

/* ---- the interface ---------------------------------------------------------------- */

bool ew_notify_store_notes(ew_notify_store *s, const char *receiver, const ew_notify_alert *const *alerts, size_t n,
                           ew_alert_note *out, int64_t now_ms)
{
    if (!s->cfg)
        return memory_notes(s, receiver, alerts, n, out, now_ms);
    return connected(s) && valkey_notes(s, receiver, alerts, n, out);
}

bool ew_notify_store_claim(ew_notify_store *s, const char *receiver, const ew_notify_alert *const *alerts, size_t n,
                           int64_t lease_ms, ew_claim *out, int64_t now_ms)
{
    if (!s->cfg)
        return memory_claim(s, receiver, alerts, n, lease_ms, out, now_ms);
    return connected(s) && valkey_claim(s, receiver, alerts, n, lease_ms, out);
}

bool ew_notify_store_release(ew_notify_store *s, const char *receiver, const ew_notify_alert *const *alerts,
                             size_t n, int64_t now_ms)
{
    if (!s->cfg)
        return memory_release(s, receiver, alerts, n, now_ms);
    return connected(s) && valkey_release(s, receiver, alerts, n);
}

bool ew_notify_store_finish(ew_notify_store *s, const char *receiver, const ew_notify_alert *const *alerts, size_t n,
                            bool sent, int64_t now_ms)
{
    if (!s->cfg)
        return memory_finish(s, receiver, alerts, n, sent, now_ms);
    return connected(s) && valkey_finish(s, receiver, alerts, n, sent, now_ms);
}
