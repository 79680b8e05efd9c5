/* suppress.c -- silences and expected events: format, storage, matching.
 *
 * An entry is one small JSON object. The same object is the value in the
 * Valkey hash and a line of a suppression file, so there is exactly one
 * parser and one set of rules (ew_suppression_check) for both, and for the
 * CLI that writes them.
 *
 * Valkey is touched only by the CLI and by ew_suppressions_load_valkey,
 * which the scorer calls once per scoring pass, not per record. Each call
 * opens its own short-lived connection: these are rare operations, and
 * keeping them off the state backend's connection means a slow HGETALL
 * can never delay a flush.
 */
#include "edgewatch/suppress.h"
#include "edgewatch/valkey_conn.h"

#include "edgewatch/common.h"

#include <ctype.h>
#include <errno.h>
#include <hiredis/hiredis.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const known_rules[] = {
    "request_spike", "request_drop", "error_403_rate", "error_5xx_rate", "cache_hit_drop", "origin_latency",
    "cost_spike",
};

/* ---- the list ---- */

void ew_suppressions_init(ew_suppressions *s) { memset(s, 0, sizeof *s); }

void ew_suppressions_free(ew_suppressions *s)
{
    free(s->items);
    ew_suppressions_init(s);
}

void ew_suppressions_add(ew_suppressions *s, const ew_suppression *item)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        ew_suppression *items = realloc(s->items, cap * sizeof *items);
        if (!items) {
            ew_error("out of memory loading suppressions");
            abort();
        }
        s->items = items;
        s->cap = cap;
    }
    s->items[s->n++] = *item;
}

/* from_ms, then id: both the listing order and the matcher's preference. */
static int order(const ew_suppression *a, const ew_suppression *b)
{
    if (a->from_ms != b->from_ms)
        return a->from_ms < b->from_ms ? -1 : 1;
    return strcmp(a->id, b->id);
}

static int order_qsort(const void *a, const void *b) { return order(a, b); }

void ew_suppressions_sort(ew_suppressions *s)
{
    if (s->n > 1)
        qsort(s->items, s->n, sizeof *s->items, order_qsort);
}

/* ---- the rules of an entry ---- */

const char *ew_suppress_kind_name(ew_suppress_kind kind) { return kind == EW_SUPPRESS_EVENT ? "event" : "silence"; }

static const char *id_prefix(ew_suppress_kind kind) { return kind == EW_SUPPRESS_EVENT ? "evt-" : "sil-"; }

bool ew_suppress_rule_known(const char *rule)
{
    for (size_t i = 0; i < sizeof known_rules / sizeof *known_rules; i++)
        if (strcmp(rule, known_rules[i]) == 0)
            return true;
    return false;
}

static bool id_well_formed(const char *id, ew_suppress_kind kind)
{
    if (strncmp(id, id_prefix(kind), 4) != 0 || strlen(id) != 16)
        return false;
    for (const char *p = id + 4; *p; p++)
        if (!isxdigit((unsigned char)*p) || isupper((unsigned char)*p))
            return false;
    return true;
}

/* jansson refuses invalid UTF-8 in strings, so asking it is the cheapest
 * way to be sure every entry can be written back out. */
static bool valid_utf8(const char *s)
{
    json_t *j = json_string(s);
    json_decref(j);
    return j != NULL;
}

static bool fail(char *err, size_t errcap, const char *fmt, const char *arg)
{
    snprintf(err, errcap, fmt, arg);
    return false;
}

static bool check_target(const ew_suppression *s, char *err, size_t errcap)
{
    if (!s->project[0] == !s->distribution[0])
        return fail(err, errcap, "give exactly one of project and distribution%s", "");
    if (!valid_utf8(s->project) || !valid_utf8(s->distribution))
        return fail(err, errcap, "%s is not valid UTF-8", s->project[0] ? "project" : "distribution");
    if (s->rule[0] && !ew_suppress_rule_known(s->rule))
        return fail(err, errcap,
                    "unknown rule \"%s\" (known: request_spike request_drop error_403_rate error_5xx_rate "
                    "cache_hit_drop origin_latency cost_spike)",
                    s->rule);
    return true;
}

static bool check_multiplier(const ew_suppression *s, char *err, size_t errcap)
{
    if (s->kind == EW_SUPPRESS_SILENCE && s->multiplier != 0)
        return fail(err, errcap, "multiplier must be null for a silence%s", "");
    if (s->kind == EW_SUPPRESS_EVENT && !(isfinite(s->multiplier) && s->multiplier > 0))
        return fail(err, errcap, "multiplier must be a finite number > 0 for an event%s", "");
    return true;
}

static bool check_reason(const char *reason, char *err, size_t errcap)
{
    if (!reason[0])
        return fail(err, errcap, "reason must not be empty%s", "");
    if (strlen(reason) > EW_SUPPRESS_REASON_MAX)
        return fail(err, errcap, "reason is longer than 200 bytes%s", "");
    if (!valid_utf8(reason))
        return fail(err, errcap, "reason is not valid UTF-8%s", "");
    return true;
}

bool ew_suppression_check(const ew_suppression *s, char *err, size_t errcap)
{
    if (!id_well_formed(s->id, s->kind))
        return fail(err, errcap, "id must be \"%s\" followed by 12 lower-case hex digits", id_prefix(s->kind));
    if (!check_target(s, err, errcap) || !check_multiplier(s, err, errcap))
        return false;
    if (s->to_ms <= s->from_ms)
        return fail(err, errcap, "to_ms must be after from_ms%s", "");
    return check_reason(s->reason, err, errcap);
}

void ew_suppression_make_id(ew_suppression *s, int64_t created_ns)
{
    /* Strings are hashed with their NUL so ("ab","c") and ("a","bc") differ. */
    uint64_t h = ew_hash64(id_prefix(s->kind), 5, EW_HASH_SEED);
    h = ew_hash64(s->project, strlen(s->project) + 1, h);
    h = ew_hash64(s->distribution, strlen(s->distribution) + 1, h);
    h = ew_hash64(s->rule, strlen(s->rule) + 1, h);
    h = ew_hash64(&s->from_ms, sizeof s->from_ms, h);
    h = ew_hash64(&s->to_ms, sizeof s->to_ms, h);
    h = ew_hash64(&s->multiplier, sizeof s->multiplier, h);
    h = ew_hash64(s->reason, strlen(s->reason) + 1, h);
    h = ew_hash64(&created_ns, sizeof created_ns, h);
    /* The top bits of FNV-1a depend on every input byte; the low ones less. */
    snprintf(s->id, sizeof s->id, "%s%012llx", id_prefix(s->kind), (unsigned long long)(h >> 16));
}

/* ---- JSON ---- */

static const char *const json_keys[] = {
    "id", "kind", "project", "distribution", "rule", "from_ms", "to_ms", "multiplier", "reason", "created_ms",
};

static bool known_keys(json_t *o, char *err, size_t errcap)
{
    const char *key;
    json_t *v;
    json_object_foreach(o, key, v) {
        size_t i = 0;
        while (i < sizeof json_keys / sizeof *json_keys && strcmp(key, json_keys[i]) != 0)
            i++;
        if (i == sizeof json_keys / sizeof *json_keys)
            return fail(err, errcap, "unknown key \"%s\"", key);
    }
    return true;
}

/* A string member into dst; absent or null gives "" when optional. */
static bool get_string(json_t *o, const char *key, bool optional, char *dst, size_t cap, char *err, size_t errcap)
{
    json_t *v = json_object_get(o, key);
    dst[0] = '\0';
    if (!v || json_is_null(v)) {
        if (optional)
            return true;
        return fail(err, errcap, "%s is missing", key);
    }
    if (!json_is_string(v))
        return fail(err, errcap, "%s must be a string", key);
    if (json_string_length(v) >= cap) {
        snprintf(err, errcap, "%s is longer than %zu bytes", key, cap - 1);
        return false;
    }
    if (strlen(json_string_value(v)) != json_string_length(v))
        return fail(err, errcap, "%s contains a NUL character", key);
    memcpy(dst, json_string_value(v), json_string_length(v) + 1);
    return true;
}

static bool get_int(json_t *o, const char *key, bool optional, int64_t *dst, char *err, size_t errcap)
{
    json_t *v = json_object_get(o, key);
    *dst = 0;
    if (!v && optional)
        return true;
    if (!v)
        return fail(err, errcap, "%s is missing", key);
    if (!json_is_integer(v))
        return fail(err, errcap, "%s must be an integer (epoch milliseconds)", key);
    *dst = json_integer_value(v);
    return true;
}

static bool get_kind(json_t *o, ew_suppress_kind *kind, char *err, size_t errcap)
{
    char name[16];
    if (!get_string(o, "kind", false, name, sizeof name, err, errcap))
        return fail(err, errcap, "kind must be \"silence\" or \"event\"%s", "");
    if (strcmp(name, "silence") == 0)
        *kind = EW_SUPPRESS_SILENCE;
    else if (strcmp(name, "event") == 0)
        *kind = EW_SUPPRESS_EVENT;
    else
        return fail(err, errcap, "kind must be \"silence\" or \"event\", got \"%s\"", name);
    return true;
}

static bool get_multiplier(json_t *o, double *dst, char *err, size_t errcap)
{
    json_t *v = json_object_get(o, "multiplier");
    *dst = 0;
    if (!v || json_is_null(v))
        return true;
    if (!json_is_number(v))
        return fail(err, errcap, "multiplier must be a number or null%s", "");
    *dst = json_number_value(v);
    /* 0 stands for "none" in the struct, so an explicit 0 must not pass as
     * a silence's null: ew_suppression_check rejects NaN either way. */
    if (*dst == 0)
        *dst = NAN;
    return true;
}

static bool from_object(json_t *o, ew_suppression *out, char *err, size_t errcap)
{
    if (!json_is_object(o))
        return fail(err, errcap, "not a JSON object%s", "");
    return known_keys(o, err, errcap) && get_kind(o, &out->kind, err, errcap) &&
           get_string(o, "id", false, out->id, sizeof out->id, err, errcap) &&
           get_string(o, "project", true, out->project, sizeof out->project, err, errcap) &&
           get_string(o, "distribution", true, out->distribution, sizeof out->distribution, err, errcap) &&
           get_string(o, "rule", true, out->rule, sizeof out->rule, err, errcap) &&
           get_int(o, "from_ms", false, &out->from_ms, err, errcap) &&
           get_int(o, "to_ms", false, &out->to_ms, err, errcap) && get_multiplier(o, &out->multiplier, err, errcap) &&
           get_string(o, "reason", false, out->reason, sizeof out->reason, err, errcap) &&
           get_int(o, "created_ms", true, &out->created_ms, err, errcap) && ew_suppression_check(out, err, errcap);
}

bool ew_suppression_from_json(const char *text, size_t len, ew_suppression *out, char *err, size_t errcap)
{
    json_error_t jerr;
    json_t *o = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    memset(out, 0, sizeof *out);
    if (!o)
        return fail(err, errcap, "invalid JSON: %s", jerr.text);
    bool ok = from_object(o, out, err, errcap);
    json_decref(o);
    return ok;
}

/* Digits enough to read the same double back, but 3 rather than
 * 3.0000000000000004-style noise for the values people type. */
static int real_precision(double v)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%.15g", v);
    return strtod(buf, NULL) == v ? 15 : 17;
}

char *ew_suppression_to_json(const ew_suppression *s)
{
    bool event = s->kind == EW_SUPPRESS_EVENT;
    json_t *o = json_pack("{s:s, s:s, s:s?, s:s?, s:s?, s:I, s:I, s:o, s:s, s:I}", "id", s->id, "kind",
                          ew_suppress_kind_name(s->kind), "project", s->project[0] ? s->project : NULL,
                          "distribution", s->distribution[0] ? s->distribution : NULL, "rule",
                          s->rule[0] ? s->rule : NULL, "from_ms", (json_int_t)s->from_ms, "to_ms",
                          (json_int_t)s->to_ms, "multiplier", event ? json_real(s->multiplier) : json_null(),
                          "reason", s->reason, "created_ms", (json_int_t)s->created_ms);
    if (!o)
        return NULL;
    size_t flags = JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(real_precision(s->multiplier));
    char *text = json_dumps(o, flags);
    json_decref(o);
    return text;
}

/* ---- files ---- */

static bool skippable(const char *line)
{
    while (isspace((unsigned char)*line))
        line++;
    return *line == '\0' || *line == '#';
}

bool ew_suppressions_load_file(const char *path, ew_suppressions *out, char *err, size_t errcap)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errcap, "%s: %s", path, strerror(errno));
        return false;
    }
    size_t before = out->n, lineno = 0, cap = 0;
    char *line = NULL;
    ssize_t len;
    bool ok = true;
    while (ok && (len = getline(&line, &cap, f)) >= 0) {
        lineno++;
        if (skippable(line))
            continue;
        ew_suppression s;
        char why[256];
        ok = ew_suppression_from_json(line, (size_t)len, &s, why, sizeof why);
        if (ok)
            ew_suppressions_add(out, &s);
        else
            snprintf(err, errcap, "%s:%zu: %s", path, lineno, why);
    }
    if (ok && ferror(f)) {
        snprintf(err, errcap, "%s: %s", path, strerror(errno));
        ok = false;
    }
    free(line);
    fclose(f);
    if (!ok)
        out->n = before;
    return ok;
}

/* ---- Valkey ---- */

static void hash_key(const ew_config *cfg, ew_suppress_kind kind, char *key, size_t cap)
{
    snprintf(key, cap, "%s%s", cfg->prefix, kind == EW_SUPPRESS_EVENT ? "events" : "silences");
}

static void set_valkey_error(const ew_config *cfg, const char *what, char *err, size_t errcap)
{
    snprintf(err, errcap, "valkey %s:%d: %s", cfg->valkey_host, cfg->valkey_port, what);
}

/* Reads one pipelined reply; false with err on I/O failure or an error
 * reply (WRONGTYPE, NOAUTH, ...), which the caller cannot act on either. */
static bool next_reply(redisContext *c, const ew_config *cfg, int type, redisReply **r, char *err, size_t errcap)
{
    *r = NULL;
    if (redisGetReply(c, (void **)r) != REDIS_OK) {
        set_valkey_error(cfg, c->errstr, err, errcap);
        return false;
    }
    if ((*r)->type != type) {
        set_valkey_error(cfg, (*r)->type == REDIS_REPLY_ERROR ? (*r)->str : "unexpected reply", err, errcap);
        freeReplyObject(*r);
        *r = NULL;
        return false;
    }
    return true;
}

/* Parses one hash value; false (with a warning) when it is unusable. */
static bool parse_stored(const char *key, const redisReply *field, const redisReply *value, ew_suppress_kind kind,
                         ew_suppression *s)
{
    char why[256];
    if (!ew_suppression_from_json(value->str, value->len, s, why, sizeof why)) {
        ew_warn("%s %s: %s; skipped", key, field->str, why);
        return false;
    }
    if (s->kind != kind || strcmp(s->id, field->str) != 0) {
        ew_warn("%s %s: holds %s %s; skipped", key, field->str, ew_suppress_kind_name(s->kind), s->id);
        return false;
    }
    return true;
}

static void add_hash(const char *key, const redisReply *h, ew_suppress_kind kind, ew_suppressions *out)
{
    for (size_t i = 0; i + 1 < h->elements; i += 2) {
        ew_suppression s;
        if (parse_stored(key, h->element[i], h->element[i + 1], kind, &s))
            ew_suppressions_add(out, &s);
    }
}

bool ew_suppressions_load_valkey(const ew_config *cfg, ew_suppressions *out, char *err, size_t errcap)
{
    redisContext *c = ew_valkey_connect(cfg, err, errcap);
    if (!c)
        return false;
    static const ew_suppress_kind kinds[] = {EW_SUPPRESS_SILENCE, EW_SUPPRESS_EVENT};
    char keys[2][512];
    for (size_t k = 0; k < 2; k++) {
        hash_key(cfg, kinds[k], keys[k], sizeof keys[k]);
        redisAppendCommand(c, "HGETALL %s", keys[k]);
    }
    size_t before = out->n;
    bool ok = true;
    for (size_t k = 0; k < 2 && ok; k++) {
        redisReply *r;
        ok = next_reply(c, cfg, REDIS_REPLY_ARRAY, &r, err, errcap);
        if (ok)
            add_hash(keys[k], r, kinds[k], out);
        freeReplyObject(r);
    }
    redisFree(c);
    if (!ok)
        out->n = before;
    return ok;
}

/* The fields of h whose entry ended before cutoff_ms, except keep_id;
 * entries that do not parse are left for an operator to look at. */
static size_t expired_fields(const redisReply *h, int64_t cutoff_ms, const char *keep_id, const char **argv,
                             size_t *lens)
{
    size_t n = 0;
    for (size_t i = 0; i + 1 < h->elements; i += 2) {
        ew_suppression s;
        char why[256];
        const redisReply *f = h->element[i], *v = h->element[i + 1];
        if (strcmp(f->str, keep_id) != 0 && ew_suppression_from_json(v->str, v->len, &s, why, sizeof why) &&
            s.to_ms < cutoff_ms) {
            argv[n] = f->str;
            lens[n++] = f->len;
        }
    }
    return n;
}

static bool prune(redisContext *c, const ew_config *cfg, const char *key, const redisReply *h, int64_t cutoff_ms,
                  const char *keep_id, size_t *pruned, char *err, size_t errcap)
{
    size_t cap = h->elements / 2 + 2;
    const char **argv = calloc(cap, sizeof *argv);
    size_t *lens = calloc(cap, sizeof *lens);
    argv[0] = "HDEL";
    lens[0] = 4;
    argv[1] = key;
    lens[1] = strlen(key);
    size_t n = expired_fields(h, cutoff_ms, keep_id, argv + 2, lens + 2);
    bool ok = true;
    if (n > 0) {
        redisAppendCommandArgv(c, (int)(n + 2), argv, lens);
        redisReply *r;
        ok = next_reply(c, cfg, REDIS_REPLY_INTEGER, &r, err, errcap);
        if (ok && pruned)
            *pruned = (size_t)r->integer;
        freeReplyObject(r);
    }
    free(argv);
    free(lens);
    return ok;
}

bool ew_suppression_store(const ew_config *cfg, const ew_suppression *s, int64_t now_ms, size_t *pruned, char *err,
                          size_t errcap)
{
    if (pruned)
        *pruned = 0;
    if (!ew_suppression_check(s, err, errcap))
        return false;
    char *json = ew_suppression_to_json(s);
    if (!json) {
        snprintf(err, errcap, "%s cannot be written as JSON", s->id);
        return false;
    }
    redisContext *c = ew_valkey_connect(cfg, err, errcap);
    if (!c) {
        free(json);
        return false;
    }
    char key[512];
    hash_key(cfg, s->kind, key, sizeof key);
    /* One round trip for the write and the read the pruning needs. */
    redisAppendCommand(c, "HSETNX %s %s %s", key, s->id, json);
    redisAppendCommand(c, "HGETALL %s", key);
    free(json);
    redisReply *set = NULL, *all = NULL;
    bool ok = next_reply(c, cfg, REDIS_REPLY_INTEGER, &set, err, errcap) &&
              next_reply(c, cfg, REDIS_REPLY_ARRAY, &all, err, errcap);
    if (ok && set->integer == 0) {
        snprintf(err, errcap, "%s %s exists already; add it again for a new id", key, s->id);
        ok = false;
    }
    if (ok)
        ok = prune(c, cfg, key, all, now_ms - cfg->retention_ms, s->id, pruned, err, errcap);
    freeReplyObject(set);
    freeReplyObject(all);
    redisFree(c);
    return ok;
}

int ew_suppression_remove(const ew_config *cfg, ew_suppress_kind kind, const char *id, char *err, size_t errcap)
{
    redisContext *c = ew_valkey_connect(cfg, err, errcap);
    if (!c)
        return -1;
    char key[512];
    hash_key(cfg, kind, key, sizeof key);
    redisAppendCommand(c, "HDEL %s %s", key, id);
    redisReply *r;
    int rc = next_reply(c, cfg, REDIS_REPLY_INTEGER, &r, err, errcap) ? r->integer > 0 : -1;
    freeReplyObject(r);
    redisFree(c);
    return rc;
}

/* ---- matching ---- */

static bool target_matches(const ew_suppression *e, const char *entity_id, const char *project)
{
    if (e->distribution[0])
        return entity_id && strcasecmp(e->distribution, entity_id) == 0;
    return project && strcmp(e->project, project) == 0;
}

const ew_suppression *ew_suppression_match(const ew_suppressions *s, ew_suppress_kind kind, const char *rule,
                                           const char *entity_id, const char *project, int64_t window_start_ms,
                                           int64_t window_end_ms)
{
    const ew_suppression *best = NULL;
    for (size_t i = 0; i < s->n; i++) {
        const ew_suppression *e = &s->items[i];
        if (e->kind != kind || !target_matches(e, entity_id, project))
            continue;
        if (e->rule[0] && (!rule || strcmp(e->rule, rule) != 0))
            continue;
        if (e->from_ms >= window_end_ms || e->to_ms <= window_start_ms)
            continue;
        if (!best || order(e, best) < 0)
            best = e;
    }
    return best;
}

bool ew_suppressions_refresh(const ew_config *cfg, ew_suppressions *current, int64_t *read_at, int64_t every_ms)
{
    int64_t now = ew_mono_ms();
    if (*read_at && now - *read_at < every_ms)
        return false;
    *read_at = now;
    ew_suppressions fresh;
    char err[256];
    ew_suppressions_init(&fresh);
    if (!ew_suppressions_load_valkey(cfg, &fresh, err, sizeof err)) {
        ew_warn("silences and events not refreshed (keeping %zu): %s", current->n, err);
        ew_suppressions_free(&fresh);
        return false;
    }
    ew_suppressions_free(current);
    *current = fresh;
    return true;
}
