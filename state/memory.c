/* memory.c -- the in-memory backend of the state interface.
 *
 * `edgewatch replay --in-memory` runs one process with no network: this
 * backend keeps, in the process, everything the Valkey backend keeps on the
 * server, and answers every call as state/valkey.c with state/flush.lua,
 * close.lua and assign.lua would for a single member. The data model is the
 * key layout of state/README.md, kept as sorted tables instead of keys:
 *
 *   agg:<entity>:<ws>   -> a row in the entity's `windows` table
 *   hagg:<entity>:<hs>  -> a row in the entity's `hours` table
 *   win:<ws>, claim:<ws> done -> the global `windows` table (members, done)
 *   pending             -> the `pending` table
 *   off:/wm:<topic>     -> the topic's `parts` table
 *   det:<entity>        -> the entity's `history` (every hour and weekday
 *                          bucket, where Valkey keeps one field each)
 *   known               -> the entity's `last_traffic_ms`
 *
 * Cost (billing) state and incidents are in memory_cost.c, which shares
 * the offsets kept here (memory_internal.h).
 *
 * Window and hour starts are stored in seconds, computed exactly as
 * valkey.c computes the key names, so every rounding matches.
 *
 * Where it intentionally differs from Valkey (nothing else should):
 *   - No idle timeout in claim_closed: every registered or flushed
 *     partition holds windows open until its watermark passes them. A
 *     replay is driven by event time alone, and a partition going "idle"
 *     by the wall clock would make its results depend on machine speed.
 *   - No scoring lease: a claimed window that was not committed is
 *     returned again by the next claim_closed (Valkey: after 10 s), since
 *     the only member that could have claimed it is the caller.
 *   - No retention: nothing expires, `done` claims included; everything is
 *     freed at close. A replay is bounded by its input.
 *   - load_window lists a window's entities sorted by name (SMEMBERS has
 *     no defined order), so a replay's alert order is reproducible.
 *   - Counters are exact 64-bit integers; Lua sums them as doubles, exact
 *     only below 2^53 (never reached in practice).
 *   - stats() counts nothing (there are no round trips); the calls never
 *     return EW_STATE_DOWN, and running out of memory aborts the process,
 *     because a half-applied flush must never be observed.
 *
 * Work here follows flushes, pairs and windows, never records.
 */
#include "edgewatch/window.h"
#include "memory_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* ---- sorted tables ---- */

/* Every table holds structs whose first member is their int64_t key, kept
 * in ascending key order: lookups are binary searches, and iterating gives
 * time order, which is what read_range and claim_closed return. */
typedef struct {
    char *items;
    size_t n, cap, size;
} table;

void *mem_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q) {
        ew_error("memory state: out of memory");
        abort();
    }
    return q;
}

char *mem_xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    return memcpy(mem_xrealloc(NULL, n), s, n);
}

static void table_init(table *t, size_t size) { *t = (table){.size = size}; }
static void *table_at(const table *t, size_t i) { return t->items + i * t->size; }

static int64_t table_key(const table *t, size_t i)
{
    int64_t k;
    memcpy(&k, table_at(t, i), sizeof k);
    return k;
}

static size_t table_lower(const table *t, int64_t key)
{
    size_t lo = 0, hi = t->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (table_key(t, mid) < key)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static void *table_find(const table *t, int64_t key)
{
    size_t i = table_lower(t, key);
    return i < t->n && table_key(t, i) == key ? table_at(t, i) : NULL;
}

/* The entry of key, inserted zeroed (but for its key) if absent. Pointers
 * into the table are valid until the next insertion. */
static void *table_get(table *t, int64_t key, bool *created)
{
    size_t i = table_lower(t, key);
    *created = !(i < t->n && table_key(t, i) == key);
    if (!*created)
        return table_at(t, i);
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 16;
        t->items = mem_xrealloc(t->items, t->cap * t->size);
    }
    memmove(table_at(t, i + 1), table_at(t, i), (t->n - i) * t->size);
    memset(table_at(t, i), 0, t->size);
    memcpy(table_at(t, i), &key, sizeof key);
    t->n++;
    return table_at(t, i);
}

static void table_remove(table *t, int64_t key)
{
    size_t i = table_lower(t, key);
    if (i < t->n && table_key(t, i) == key) {
        memmove(table_at(t, i), table_at(t, i + 1), (t->n - i - 1) * t->size);
        t->n--;
    }
}

/* ---- the arena ---- */

/* Rows, their top-list texts and detector histories live as long as the
 * backend (nothing expires), so they are carved from large zeroed mappings
 * and freed all at once at close: no malloc per row or per text, and, with
 * transparent huge pages, one page fault per 2 MiB instead of one per
 * 4 KiB. Fresh memory is zero, so rows need no clearing. A replaced top
 * text stays behind until close; texts are replaced only when a pair's
 * sketch ships again (late records, a full pair table), so what is left
 * behind stays within what the input shipped. */
#define ARENA_CHUNK_MIN (2u << 20)
#define ARENA_CHUNK_MAX (64u << 20)

typedef struct arena_chunk {
    struct arena_chunk *next;
    size_t len; /* of the mapping, this header included */
} arena_chunk;

typedef struct {
    arena_chunk *chunks;
    char *at;
    size_t left, next_len;
} arena;

/* n bytes at a multiple of align (a power of two up to 16). */
static void *arena_alloc_aligned(arena *a, size_t n, size_t align)
{
    size_t pad = (size_t)-(uintptr_t)a->at & (align - 1);
    if (pad + n <= a->left) {
        a->at += pad;
        a->left -= pad;
    } else {
        size_t len = a->next_len ? a->next_len : ARENA_CHUNK_MIN;
        while (len < n + sizeof(arena_chunk) + 16)
            len *= 2;
        void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) {
            ew_error("memory state: out of memory");
            abort();
        }
        madvise(p, len, MADV_HUGEPAGE);
        arena_chunk *c = p;
        *c = (arena_chunk){a->chunks, len};
        a->chunks = c;
        a->at = (char *)p + 16;
        a->left = len - 16;
        a->next_len = len < ARENA_CHUNK_MAX ? 2 * len : len;
    }
    void *p = a->at;
    a->at += n;
    a->left -= n;
    return p;
}

static void *arena_alloc(arena *a, size_t n) { return arena_alloc_aligned(a, n, 16); }

static void arena_free(arena *a)
{
    for (arena_chunk *c = a->chunks, *next; c; c = next) {
        next = c->next;
        munmap(c, c->len);
    }
    *a = (arena){NULL, NULL, 0, 0};
}

/* ---- the stored state ---- */

/* One agg (or hagg) hash, in the arena. Top fields are listed in the
 * order they were first written, as HGETALL lists a hash this small. */
typedef struct {
    int64_t start_s;
    uint64_t counters[EW_COUNTERS];
    const char *tops[EW_DIMS]; /* merged "COUNT\tVALUE\n" text in the arena; NULL: never written */
    uint16_t top_len[EW_DIMS];
    uint8_t top_order[EW_DIMS];
    uint8_t n_tops;
} mem_row;

/* A row table's entry: the rows stay put in the arena while the table
 * grows, so growing copies 16 bytes per row, not the row. */
typedef struct {
    int64_t start_s;
    mem_row *row;
} row_ref;

typedef struct {
    char *name;
    table windows, hours; /* of row_ref */
    ew_rule_history *history; /* EW_TRAFFIC_RULES of them; NULL until first scored */
    int64_t last_scored_ws;
    int64_t last_traffic_ms;  /* newest scored window with requests; -1: not known */
} mem_entity;

/* A window as win:<ws> and claim:<ws> see it. */
typedef struct {
    int64_t start_s;
    bool done;
    uint32_t *members; /* entity indices, each once */
    size_t n_members, cap_members;
} mem_window;

typedef struct {
    int64_t start_s;
} mem_pending;

typedef struct {
    int64_t partition;
    bool has_offset;
    int64_t next_offset;
    int64_t watermark_ms; /* set by flush and register; INT64_MIN when only
                             cost_apply wrote (the billing topic has none) */
} mem_partition;

typedef struct {
    char *name;
    table parts; /* of mem_partition */
} mem_topic;

typedef struct {
    ew_state base; /* first member: what the interface sees */
    const ew_config *cfg;
    mem_entity *entities;
    size_t n_entities, cap_entities;
    uint32_t *index; /* open addressing on the name: entity index + 1, 0 = free */
    size_t index_cap;
    table windows; /* of mem_window */
    table pending; /* of mem_pending */
    mem_topic *topics;
    size_t n_topics;
    arena arena;
    /* A flush's aggregate names its pairs' entities by its own ids: the
     * entity each id was last found as (+ 1, 0 = not yet), checked by name
     * before use, saves hashing the name per pair. */
    uint32_t *of_agg_id;
    size_t n_of_agg_id;
    /* Entity indices by name, for load_window's order; sorted_n entities
     * are in it, re-sorted when more exist. */
    uint32_t *by_name;
    size_t sorted_n;
    /* The entities of the items load_window handed out last, in order, so
     * that committing them needs no lookup by name (checked by name). */
    uint32_t *loaded;
    size_t n_loaded;
    ew_state_stats stats;
    mem_cost *cost; /* memory_cost.c; NULL until first used */
} memory_state;

/* ---- entities ---- */

static size_t name_slot(const memory_state *s, const char *name)
{
    size_t mask = s->index_cap - 1;
    size_t i = (size_t)ew_hash64(name, strlen(name), EW_HASH_SEED) & mask;
    while (s->index[i] && strcmp(s->entities[s->index[i] - 1].name, name) != 0)
        i = (i + 1) & mask;
    return i;
}

static void grow_index(memory_state *s)
{
    free(s->index);
    s->index_cap = s->index_cap ? s->index_cap * 2 : 256;
    s->index = mem_xrealloc(NULL, s->index_cap * sizeof *s->index);
    memset(s->index, 0, s->index_cap * sizeof *s->index);
    for (size_t e = 0; e < s->n_entities; e++)
        s->index[name_slot(s, s->entities[e].name)] = (uint32_t)e + 1;
}

static mem_entity *find_entity(const memory_state *s, const char *name)
{
    if (!s->index_cap)
        return NULL;
    uint32_t at = s->index[name_slot(s, name)];
    return at ? &s->entities[at - 1] : NULL;
}

/* Index of the entity, created on first sight. */
static uint32_t intern_entity(memory_state *s, const char *name)
{
    mem_entity *found = find_entity(s, name);
    if (found)
        return (uint32_t)(found - s->entities);
    if (2 * (s->n_entities + 1) > s->index_cap)
        grow_index(s);
    if (s->n_entities == s->cap_entities) {
        s->cap_entities = s->cap_entities ? s->cap_entities * 2 : 64;
        s->entities = mem_xrealloc(s->entities, s->cap_entities * sizeof *s->entities);
    }
    mem_entity *e = &s->entities[s->n_entities];
    memset(e, 0, sizeof *e);
    e->name = mem_xstrdup(name);
    e->last_scored_ws = -1;
    e->last_traffic_ms = -1;
    table_init(&e->windows, sizeof(row_ref));
    table_init(&e->hours, sizeof(row_ref));
    s->index[name_slot(s, name)] = (uint32_t)s->n_entities + 1;
    return (uint32_t)s->n_entities++;
}

/* The row of key in t, created zeroed in the arena if absent. */
static mem_row *row_get(memory_state *s, table *t, int64_t key)
{
    bool created;
    row_ref *ref = table_get(t, key, &created);
    if (created) {
        ref->row = arena_alloc(&s->arena, sizeof *ref->row);
        ref->row->start_s = key;
    }
    return ref->row;
}

static const mem_row *row_find(const table *t, int64_t key)
{
    const row_ref *ref = table_find(t, key);
    return ref ? ref->row : NULL;
}

/* ---- topics and partitions ---- */

static mem_topic *find_topic(const memory_state *s, const char *name)
{
    for (size_t i = 0; i < s->n_topics; i++)
        if (strcmp(s->topics[i].name, name) == 0)
            return &s->topics[i];
    return NULL;
}

static mem_topic *get_topic(memory_state *s, const char *name)
{
    mem_topic *t = find_topic(s, name);
    if (t)
        return t;
    s->topics = mem_xrealloc(s->topics, (s->n_topics + 1) * sizeof *s->topics);
    t = &s->topics[s->n_topics++];
    t->name = mem_xstrdup(name);
    table_init(&t->parts, sizeof(mem_partition));
    return t;
}

static const mem_partition *find_partition(const memory_state *s, const char *topic, int32_t partition)
{
    const mem_topic *t = find_topic(s, topic);
    return t ? table_find(&t->parts, partition) : NULL;
}

/* ---- flush ---- */

static void add_counters(mem_row *r, const uint64_t add[EW_COUNTERS])
{
    for (int c = 0; c < EW_COUNTERS; c++)
        r->counters[c] += add[c];
}

/* The top lists a pair ships (push_tops): the non-empty formatted ones. */
typedef struct {
    char text[EW_DIMS][EW_TOPK_TEXT_MAX];
    size_t len[EW_DIMS];
    size_t n;
} shipped_tops;

static void format_tops(const ew_delta *d, int64_t ship_through_ms, shipped_tops *t)
{
    t->n = 0;
    for (int dim = 0; dim < EW_DIMS; dim++) {
        t->len[dim] = ew_delta_ships(d, ship_through_ms)
                          ? ew_topk_format(&d->top, (ew_dim)dim, t->text[dim], sizeof t->text[dim])
                          : 0;
        t->n += t->len[dim] > 0;
    }
}

/* flush.lua's merge_top: the shipped list summed into the stored one.
 * Into a field never written it is the shipped text itself: merging a
 * formatted list with nothing gives back the same bytes (at most
 * EW_TOPK_SLOTS_MAX distinct entries, already in merge order, each one
 * ew_topk_parse reads; see test_merge_of_format_is_identity). */
static void merge_top(memory_state *s, mem_row *r, ew_dim dim, const char *text, size_t len)
{
    char merged[EW_TOPK_MERGED_MAX];
    if (r->tops[dim]) {
        len = ew_topk_merge_text(r->tops[dim], r->top_len[dim], text, len, EW_TOPK_KEEP, merged, sizeof merged);
        text = merged;
    } else {
        r->top_order[r->n_tops++] = (uint8_t)dim;
    }
    char *copy = arena_alloc_aligned(&s->arena, len + 1, 1); /* text: packed */
    memcpy(copy, text, len);
    copy[len] = '\0';
    r->tops[dim] = copy;
    r->top_len[dim] = (uint16_t)len;
}

static void merge_tops(memory_state *s, mem_row *r, const shipped_tops *t)
{
    for (int d = 0; d < EW_DIMS; d++)
        if (t->len[d])
            merge_top(s, r, (ew_dim)d, t->text[d], t->len[d]);
}

static mem_window *get_window(memory_state *s, int64_t start_s)
{
    bool created;
    return table_get(&s->windows, start_s, &created);
}

static void add_member(mem_window *w, uint32_t entity)
{
    if (w->n_members == w->cap_members) {
        w->cap_members = w->cap_members ? w->cap_members * 2 : 16;
        w->members = mem_xrealloc(w->members, w->cap_members * sizeof *w->members);
    }
    w->members[w->n_members++] = entity;
}

/* Counters of a pair: window row, hour rollup, win set and scoring queue.
 * `req` is in every such delta, so a row whose `req` was 0 is new to the
 * window's member set (SADD). */
static void apply_counters(memory_state *s, uint32_t entity, mem_row *row, const ew_delta *d)
{
    /* By index: the fields flush.lua gets (ew_delta_fields), by name. */
    uint64_t add[EW_COUNTERS];
    ew_delta_counters(d, add);
    bool member = row->counters[EW_C_REQ] > 0;
    add_counters(row, add);
    int64_t ws = row->start_s, hs = ws / 3600 * 3600;
    if (hs > ws) /* floor, like Lua's %, for times before 1970 */
        hs -= 3600;
    bool created;
    add_counters(row_get(s, &s->entities[entity].hours, hs), add);
    mem_window *w = get_window(s, ws);
    if (!member)
        add_member(w, entity);
    if (d->on_time && !w->done)
        table_get(&s->pending, ws, &created);
}

/* The entity of the aggregate's id, through of_agg_id. */
static uint32_t entity_of_agg(memory_state *s, const ew_aggregate *agg, uint32_t id)
{
    const char *name = ew_entity_name(agg, id);
    if (id < s->n_of_agg_id && s->of_agg_id[id] && strcmp(s->entities[s->of_agg_id[id] - 1].name, name) == 0)
        return s->of_agg_id[id] - 1;
    if (id >= s->n_of_agg_id) {
        size_t n = s->n_of_agg_id ? s->n_of_agg_id : 256;
        while (n <= id)
            n *= 2;
        s->of_agg_id = mem_xrealloc(s->of_agg_id, n * sizeof *s->of_agg_id);
        memset(s->of_agg_id + s->n_of_agg_id, 0, (n - s->n_of_agg_id) * sizeof *s->of_agg_id);
        s->n_of_agg_id = n;
    }
    uint32_t e = intern_entity(s, name);
    s->of_agg_id[id] = e + 1;
    return e;
}

/* One pair as push_pair sends it and flush.lua applies it. */
static void apply_pair(memory_state *s, const ew_aggregate *agg, const ew_delta *d, int64_t ship_through_ms)
{
    shipped_tops tops;
    format_tops(d, ship_through_ms, &tops);
    bool counters = d->requests > 0;
    if (!counters && !tops.n)
        return; /* nothing to write: Valkey creates no key either */
    uint32_t entity = entity_of_agg(s, agg, d->entity);
    mem_row *row = row_get(s, &s->entities[entity].windows, d->window_start_ms / 1000);
    merge_tops(s, row, &tops);
    if (counters)
        apply_counters(s, entity, row, d);
}

/* flush.lua's refused_by: checked before anything is written. */
bool mem_offsets_refused(const ew_state *state, const char *topic, const ew_flush_partition *parts, size_t n,
                         int32_t *refused_partition, int64_t *refused_offset)
{
    const memory_state *s = (const memory_state *)state;
    for (size_t i = 0; i < n; i++) {
        const mem_partition *p = find_partition(s, topic, parts[i].partition);
        if (p && p->has_offset && p->next_offset != parts[i].from_offset) {
            *refused_partition = parts[i].partition;
            *refused_offset = p->next_offset;
            return true;
        }
    }
    return false;
}

/* flush.lua's record_offsets. Each watermark is compared with the value
 * stored before the batch, as the script's single HMGET does, so even a
 * partition named twice in a batch ends as it would in Valkey. Without
 * watermarks (cost.lua), only the offsets are written. */
void mem_offsets_record(ew_state *state, const char *topic, const ew_flush_partition *parts, size_t n,
                        bool watermarks)
{
    memory_state *s = (memory_state *)state;
    if (!n)
        return;
    mem_topic *t = get_topic(s, topic);
    typedef struct {
        bool known;
        int64_t watermark_ms;
    } stored_wm;
    stored_wm *before = mem_xrealloc(NULL, n * sizeof *before);
    for (size_t i = 0; i < n; i++) {
        const mem_partition *p = table_find(&t->parts, parts[i].partition);
        before[i] = (stored_wm){p != NULL, p ? p->watermark_ms : 0};
    }
    for (size_t i = 0; i < n; i++) {
        bool created;
        mem_partition *p = table_get(&t->parts, parts[i].partition, &created);
        p->has_offset = true;
        p->next_offset = parts[i].next_offset;
        if (!watermarks) {
            if (created)
                p->watermark_ms = INT64_MIN;
        } else if (!before[i].known || before[i].watermark_ms < parts[i].watermark_ms)
            p->watermark_ms = parts[i].watermark_ms;
    }
    free(before);
}

static ew_state_status mem_flush(ew_state *state, const char *topic, const ew_flush_partition *parts, size_t n_parts,
                                 const ew_aggregate *agg, int64_t ship_through_ms, int32_t *refused_partition,
                                 int64_t *refused_offset)
{
    memory_state *s = (memory_state *)state;
    if (mem_offsets_refused(state, topic, parts, n_parts, refused_partition, refused_offset))
        return EW_STATE_REFUSED;
    mem_offsets_record(state, topic, parts, n_parts, true);
    size_t pairs = ew_aggregate_pairs(agg);
    for (size_t i = 0; i < pairs; i++)
        apply_pair(s, agg, ew_aggregate_pair(agg, i), ship_through_ms);
    return EW_STATE_OK;
}

/* ---- partitions ---- */

static ew_state_status mem_partitions(ew_state *state, const char *topic, const int32_t *partitions, size_t n,
                                      int64_t *next_offsets, int64_t *watermarks_ms)
{
    const memory_state *s = (const memory_state *)state;
    for (size_t i = 0; i < n; i++) {
        const mem_partition *p = find_partition(s, topic, partitions[i]);
        next_offsets[i] = p && p->has_offset ? p->next_offset : -1;
        watermarks_ms[i] = p ? p->watermark_ms : INT64_MIN;
    }
    return EW_STATE_OK;
}

/* assign.lua: HSETNX wm -1. Every known partition is live (no idle timeout). */
static ew_state_status mem_register_partitions(ew_state *state, const char *topic, const int32_t *partitions, size_t n)
{
    memory_state *s = (memory_state *)state;
    if (!n)
        return EW_STATE_OK;
    mem_topic *t = get_topic(s, topic);
    for (size_t i = 0; i < n; i++) {
        bool created;
        mem_partition *p = table_get(&t->parts, partitions[i], &created);
        if (created)
            p->watermark_ms = -1;
    }
    return EW_STATE_OK;
}

/* ---- closing and scoring ---- */

/* close.lua's floor((low - window_ms) / 1000), kept from overflowing when
 * a partition's watermark is still EW_WM_NONE. */
static int64_t closed_through_s(int64_t low, int64_t window_ms)
{
    if (low < INT64_MIN + window_ms)
        return INT64_MIN;
    int64_t x = low - window_ms, q = x / 1000;
    return q * 1000 > x ? q - 1 : q;
}

static bool low_watermark(const memory_state *s, const char *topic, int64_t *low)
{
    const mem_topic *t = find_topic(s, topic);
    if (!t || !t->parts.n)
        return false;
    *low = INT64_MAX;
    for (size_t i = 0; i < t->parts.n; i++) {
        const mem_partition *p = table_at(&t->parts, i);
        if (p->watermark_ms < *low)
            *low = p->watermark_ms;
    }
    return true;
}

/* close.lua without the lease: the first `cap` closed pending windows are
 * the candidates; done ones leave the queue, the others are returned, and
 * stay pending until committed. (Flush and commit already keep done windows
 * out of the queue here; the check stays so the rule reads as close.lua's.) */
static ew_state_status mem_claim_closed(ew_state *state, const char *topic, int64_t *window_starts, size_t cap,
                                        size_t *n_claimed, int64_t *low_watermark_ms)
{
    memory_state *s = (memory_state *)state;
    *n_claimed = 0;
    if (!low_watermark(s, topic, low_watermark_ms)) {
        *low_watermark_ms = -1;
        return EW_STATE_OK;
    }
    int64_t last_s = closed_through_s(*low_watermark_ms, s->cfg->window_ms);
    size_t i = 0;
    for (size_t seen = 0; seen < cap && i < s->pending.n && table_key(&s->pending, i) <= last_s; seen++) {
        int64_t ws = table_key(&s->pending, i);
        const mem_window *w = table_find(&s->windows, ws);
        if (w && w->done) {
            table_remove(&s->pending, ws);
            continue;
        }
        window_starts[(*n_claimed)++] = ws * 1000;
        i++;
    }
    return EW_STATE_OK;
}

static int by_name(const void *a, const void *b, void *ctx)
{
    const mem_entity *entities = ctx;
    return strcmp(entities[*(const uint32_t *)a].name, entities[*(const uint32_t *)b].name);
}

/* Keeps by_name listing every entity in name order; sorts again only when
 * entities were added since (names are unique, so the order is total). */
static void sort_by_name(memory_state *s)
{
    if (s->sorted_n == s->n_entities)
        return;
    s->by_name = mem_xrealloc(s->by_name, (s->n_entities + 1) * sizeof *s->by_name);
    for (size_t e = s->sorted_n; e < s->n_entities; e++)
        s->by_name[e] = (uint32_t)e;
    s->sorted_n = s->n_entities;
    qsort_r(s->by_name, s->n_entities, sizeof *s->by_name, by_name, s->entities);
}

/* Every field of it is written (the entity cut as snprintf would cut it),
 * so the items need no clearing first. */
static void fill_item(const memory_state *s, uint32_t entity, int64_t ws, ew_score_item *it)
{
    const mem_entity *e = &s->entities[entity];
    const mem_row *row = row_find(&e->windows, ws);
    size_t len = strlen(e->name);
    if (len >= sizeof it->entity)
        len = sizeof it->entity - 1;
    memcpy(it->entity, e->name, len);
    it->entity[len] = '\0';
    if (row)
        memcpy(it->counters, row->counters, sizeof it->counters);
    else
        memset(it->counters, 0, sizeof it->counters);
    if (!e->history) {
        ew_detector_init(&it->det);
        return;
    }
    /* Every member comes from the history, so the state is not cleared
     * first (1 KB per entity and window). */
    _Static_assert(sizeof(ew_detector_state) == sizeof(int64_t) + EW_TRAFFIC_RULES * sizeof(ew_rule_state),
                   "a detector state is last_ws and the rules' states");
    it->det.last_ws = e->last_scored_ws;
    for (int r = 0; r < EW_TRAFFIC_RULES; r++)
        ew_history_slice(&e->history[r], ws * 1000, &it->det.rule[r]);
}

/* The window's members and every entity with traffic within retention
 * (as SUNION of win:<ws> and the known range does), sorted by name into
 * s->loaded. */
static size_t window_entities(memory_state *s, int64_t ws)
{
    const mem_window *w = table_find(&s->windows, ws);
    uint8_t *in = mem_xrealloc(NULL, s->n_entities + 1);
    memset(in, 0, s->n_entities + 1);
    for (size_t i = 0; w && i < w->n_members; i++)
        in[w->members[i]] = 1;
    int64_t since_ms = ws * 1000 - s->cfg->retention_ms;
    for (size_t e = 0; e < s->n_entities; e++)
        if (s->entities[e].last_traffic_ms >= 0 && s->entities[e].last_traffic_ms >= since_ms)
            in[e] = 1;
    sort_by_name(s);
    s->loaded = mem_xrealloc(s->loaded, (s->n_entities + 1) * sizeof *s->loaded);
    size_t n = 0;
    for (size_t k = 0; k < s->n_entities; k++)
        if (in[s->by_name[k]])
            s->loaded[n++] = s->by_name[k];
    free(in);
    return n;
}

/* SMEMBERS has no order; a replay's output must not depend on one: items
 * come sorted by entity name, which the entities' order by name gives
 * without sorting the (large) items. */
static ew_state_status mem_load_window(ew_state *state, int64_t window_start_ms, ew_score_item **items, size_t *n)
{
    memory_state *s = (memory_state *)state;
    int64_t ws = window_start_ms / 1000;
    *n = s->n_loaded = window_entities(s, ws);
    *items = mem_xrealloc(NULL, (*n + 1) * sizeof **items);
    for (size_t i = 0; i < *n; i++)
        fill_item(s, s->loaded[i], ws, &(*items)[i]);
    return EW_STATE_OK;
}

/* The entity of items[i], which is usually the i-th load_window listed. */
static uint32_t item_entity(memory_state *s, const ew_score_item *items, size_t n, size_t i)
{
    if (n == s->n_loaded && strcmp(s->entities[s->loaded[i]].name, items[i].entity) == 0)
        return s->loaded[i];
    return intern_entity(s, items[i].entity);
}

static void store_item(memory_state *s, uint32_t at, const ew_score_item *it, int64_t window_start_ms)
{
    mem_entity *e = &s->entities[at];
    if (!e->history) {
        e->history = arena_alloc(&s->arena, EW_TRAFFIC_RULES * sizeof *e->history);
        for (int r = 0; r < EW_TRAFFIC_RULES; r++)
            ew_rule_history_init(&e->history[r]);
    }
    e->last_scored_ws = it->det.last_ws;
    for (int r = 0; r < EW_TRAFFIC_RULES; r++)
        ew_history_store(&e->history[r], window_start_ms, &it->det.rule[r]);
    if (it->counters[EW_C_REQ] > 0 && window_start_ms > e->last_traffic_ms)
        e->last_traffic_ms = window_start_ms;
}

static ew_state_status mem_commit_window(ew_state *state, const ew_score_item *items, size_t n,
                                         int64_t window_start_ms)
{
    memory_state *s = (memory_state *)state;
    for (size_t i = 0; i < n; i++)
        store_item(s, item_entity(s, items, n, i), &items[i], window_start_ms);
    s->n_loaded = 0;
    int64_t ws = window_start_ms / 1000;
    get_window(s, ws)->done = true;
    table_remove(&s->pending, ws);
    return EW_STATE_OK;
}

/* ---- reading stored totals back ---- */

static void report_row(const mem_row *r, ew_stored_window_fn fn, void *ctx)
{
    ew_stored_window w;
    memset(&w, 0, sizeof w);
    w.start_ms = r->start_s * 1000;
    memcpy(w.counters, r->counters, sizeof w.counters);
    for (size_t k = 0; k < r->n_tops && k < EW_MAX_STORED_TOPS; k++) {
        w.top_fields[k] = ew_dim_field((ew_dim)r->top_order[k]);
        w.top_texts[k] = r->tops[r->top_order[k]];
    }
    w.n_tops = r->n_tops < EW_MAX_STORED_TOPS ? r->n_tops : EW_MAX_STORED_TOPS;
    fn(ctx, &w);
}

/* vk_read_range reads the keys of the step grid from the window holding
 * from_ms up to to_ms; only rows on that grid are visible to it. */
static ew_state_status mem_read_range(ew_state *state, const char *entity, bool hourly, int64_t from_ms, int64_t to_ms,
                                      ew_stored_window_fn fn, void *ctx)
{
    const memory_state *s = (const memory_state *)state;
    const mem_entity *e = find_entity(s, entity);
    if (!e)
        return EW_STATE_OK;
    int64_t step = hourly ? 3600000 : s->cfg->window_ms;
    int64_t first = ew_window_start(from_ms, step);
    const table *rows = hourly ? &e->hours : &e->windows;
    for (size_t i = table_lower(rows, first / 1000); i < rows->n; i++) {
        const mem_row *r = ((const row_ref *)table_at(rows, i))->row;
        int64_t ms = r->start_s * 1000;
        if (ms >= to_ms)
            break;
        if (ms >= first && (ms - first) % step == 0)
            report_row(r, fn, ctx);
    }
    return EW_STATE_OK;
}

/* ---- the rest of the interface ---- */

static const char *mem_last_error(const ew_state *state)
{
    (void)state;
    return "";
}

static const ew_state_stats *mem_stats(const ew_state *state) { return &((const memory_state *)state)->stats; }

static void mem_close(ew_state *state)
{
    memory_state *s = (memory_state *)state;
    for (size_t i = 0; i < s->n_entities; i++) {
        free(s->entities[i].name);
        free(s->entities[i].windows.items);
        free(s->entities[i].hours.items);
    }
    for (size_t i = 0; i < s->windows.n; i++)
        free(((mem_window *)table_at(&s->windows, i))->members);
    for (size_t i = 0; i < s->n_topics; i++) {
        free(s->topics[i].name);
        free(s->topics[i].parts.items);
    }
    free(s->entities);
    free(s->index);
    free(s->windows.items);
    free(s->pending.items);
    free(s->topics);
    free(s->of_agg_id);
    free(s->by_name);
    free(s->loaded);
    arena_free(&s->arena);
    mem_cost_free(s->cost);
    free(s);
}

mem_cost **mem_cost_of(ew_state *state) { return &((memory_state *)state)->cost; }

/* No drop_namespace: a process's private state has no namespace to drop
 * and ends at close, so ew_state_drop_namespace has nothing to do. */
static const ew_state_ops memory_ops = {
    .close = mem_close,
    .last_error = mem_last_error,
    .stats = mem_stats,
    .flush = mem_flush,
    .partitions = mem_partitions,
    .register_partitions = mem_register_partitions,
    .claim_closed = mem_claim_closed,
    .load_window = mem_load_window,
    .commit_window = mem_commit_window,
    .read_range = mem_read_range,
    .cost_apply = mem_cost_apply,
    .cost_claim_refresh = mem_cost_claim_refresh,
    .cost_read = mem_cost_read,
    .cost_commit = mem_cost_commit,
    .incident_note = mem_incident_note,
    .incidents_overlapping = mem_incidents_overlapping,
};

ew_state *ew_state_open_memory(const ew_config *cfg)
{
    memory_state *s = mem_xrealloc(NULL, sizeof *s);
    memset(s, 0, sizeof *s);
    s->base.ops = &memory_ops;
    s->cfg = cfg;
    table_init(&s->windows, sizeof(mem_window));
    table_init(&s->pending, sizeof(mem_pending));
    return &s->base;
}
