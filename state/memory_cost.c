/* memory_cost.c -- cost (billing) state and incidents by project, in
 * process memory, with the semantics of state/cost.lua and valkey_cost.c.
 *
 * The data model is the Valkey one (state/README.md, "Cost keys") kept in
 * string hash maps, so every rule reads as the script's does:
 *
 *   bl:<period>          -> periods[period].lines: line_key -> stored text
 *   bdirty:<period>      -> periods[period].dirty: set of projects
 *   cd:<project>:<day_s> -> days[that name]: field -> micros (0 = absent)
 *   cp:<project>         -> projects[project]: first, horizon, det
 *   inc:<project>        -> projects[project].incidents: alert id -> entry
 *   bq, bq:<seq>, bseq   -> the `queue` array in seq order, `seq`
 *
 * Lines are stored as the same text (cost_common.c), so a re-delivery is
 * recognised exactly as Valkey recognises it, and spread with the same
 * ew_billing_hour_part. Work per line is its hours, never the whole state,
 * but for a full refresh end, which visits its period's lines once.
 *
 * Where it differs from Valkey: nothing expires (a replay is bounded by its
 * input), and the 30-second claim lease runs on the process's monotonic
 * clock rather than the server's.
 */
#include "cost_common.h"
#include "memory_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CLAIM_CHECKED 16 /* as valkey_cost.c */

/* ---- string hash map: linear probing, backward-shift deletion ---- */

typedef struct {
    char *key; /* NULL: free slot */
    int64_t num;
    void *ptr;
} slot;

typedef struct {
    slot *slots;
    size_t cap, n; /* cap a power of two, or 0 */
} smap;

static size_t home(const smap *m, const char *key)
{
    return (size_t)ew_hash64(key, strlen(key), EW_HASH_SEED) & (m->cap - 1);
}

static slot *smap_find(const smap *m, const char *key)
{
    if (!m->cap)
        return NULL;
    for (size_t i = home(m, key);; i = (i + 1) & (m->cap - 1)) {
        if (!m->slots[i].key)
            return NULL;
        if (strcmp(m->slots[i].key, key) == 0)
            return &m->slots[i];
    }
}

static void smap_grow(smap *m)
{
    smap bigger = {mem_xrealloc(NULL, (m->cap ? m->cap * 2 : 16) * sizeof(slot)), m->cap ? m->cap * 2 : 16, m->n};
    memset(bigger.slots, 0, bigger.cap * sizeof(slot));
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->slots[i].key)
            continue;
        size_t j = home(&bigger, m->slots[i].key);
        while (bigger.slots[j].key)
            j = (j + 1) & (bigger.cap - 1);
        bigger.slots[j] = m->slots[i];
    }
    free(m->slots);
    *m = bigger;
}

/* The key's slot, inserted zeroed if absent. Valid until the next insert
 * or delete in this map. */
static slot *smap_get(smap *m, const char *key, bool *created)
{
    slot *found = smap_find(m, key);
    *created = !found;
    if (found)
        return found;
    if (2 * (m->n + 1) > m->cap)
        smap_grow(m);
    size_t i = home(m, key);
    while (m->slots[i].key)
        i = (i + 1) & (m->cap - 1);
    m->slots[i] = (slot){mem_xstrdup(key), 0, NULL};
    m->n++;
    return &m->slots[i];
}

/* Removes the slot (its ptr is the caller's to free first). */
static void smap_del(smap *m, slot *gone)
{
    size_t mask = m->cap - 1, i = (size_t)(gone - m->slots);
    free(gone->key);
    m->slots[i].key = NULL;
    m->n--;
    for (size_t j = (i + 1) & mask; m->slots[j].key; j = (j + 1) & mask) {
        size_t k = home(m, m->slots[j].key);
        bool stays = i <= j ? (i < k && k <= j) : (i < k || k <= j);
        if (stays)
            continue;
        m->slots[i] = m->slots[j];
        m->slots[j].key = NULL;
        i = j;
    }
}

static void smap_free(smap *m, void (*free_ptr)(void *))
{
    for (size_t i = 0; i < m->cap; i++)
        if (m->slots[i].key) {
            free(m->slots[i].key);
            if (free_ptr)
                free_ptr(m->slots[i].ptr);
        }
    free(m->slots);
    *m = (smap){0};
}

/* ---- the stored state ---- */

typedef struct {
    smap lines; /* line_key -> ptr: stored text */
    smap dirty; /* projects changed since the last refresh end */
} mem_period;

typedef struct {
    int64_t first_ms, horizon_ms; /* INT64_MIN: none */
    char *det;                    /* NULL: none */
    smap incidents;               /* alert id -> ptr: "type start end" */
} mem_project;

typedef struct {
    uint64_t seq;
    char period[8];
    char version[64];
    char **projects;
    size_t n_projects;
    int64_t lease_until_ms; /* monotonic; 0: never claimed */
} mem_refresh;

struct mem_cost {
    smap periods;  /* period -> ptr: mem_period */
    smap days;     /* "cd:<project>:<day_s>" -> ptr: smap of field -> num */
    smap projects; /* project -> ptr: mem_project */
    mem_refresh *queue;
    size_t n_queue, cap_queue;
    uint64_t seq;
};

static void free_period(void *p)
{
    mem_period *pd = p;
    smap_free(&pd->lines, free);
    smap_free(&pd->dirty, NULL);
    free(pd);
}

static void free_day(void *p)
{
    smap_free(p, NULL);
    free(p);
}

static void free_project(void *p)
{
    mem_project *pr = p;
    free(pr->det);
    smap_free(&pr->incidents, free);
    free(pr);
}

static void free_refresh(mem_refresh *r)
{
    for (size_t i = 0; i < r->n_projects; i++)
        free(r->projects[i]);
    free(r->projects);
}

void mem_cost_free(mem_cost *c)
{
    if (!c)
        return;
    smap_free(&c->periods, free_period);
    smap_free(&c->days, free_day);
    smap_free(&c->projects, free_project);
    for (size_t i = 0; i < c->n_queue; i++)
        free_refresh(&c->queue[i]);
    free(c->queue);
    free(c);
}

static mem_cost *cost_of(ew_state *state)
{
    mem_cost **c = mem_cost_of(state);
    if (!*c) {
        *c = mem_xrealloc(NULL, sizeof **c);
        memset(*c, 0, sizeof **c);
    }
    return *c;
}

static mem_period *get_period(mem_cost *c, const char *name)
{
    bool created;
    slot *sl = smap_get(&c->periods, name, &created);
    if (created) {
        sl->ptr = mem_xrealloc(NULL, sizeof(mem_period));
        memset(sl->ptr, 0, sizeof(mem_period));
    }
    return sl->ptr;
}

static mem_project *get_project(mem_cost *c, const char *name)
{
    bool created;
    slot *sl = smap_get(&c->projects, name, &created);
    if (created) {
        mem_project *p = mem_xrealloc(NULL, sizeof *p);
        *p = (mem_project){INT64_MIN, INT64_MIN, NULL, {0}};
        sl->ptr = p;
    }
    return sl->ptr;
}

/* ---- applying lines ---- */

static int64_t floor_div(int64_t a, int64_t b) { return a / b - (a % b != 0 && (a < 0) != (b < 0)); }

/* HINCRBY, then HDEL at 0, as cost.lua leaves it: absent means 0. */
static void field_add(smap *fields, const char *name, int64_t v)
{
    bool created;
    slot *sl = smap_get(fields, name, &created);
    sl->num += v;
    if (sl->num == 0)
        smap_del(fields, sl);
}

static smap *get_day(mem_cost *c, const char *project, int64_t day_ms)
{
    char key[512];
    snprintf(key, sizeof key, "cd:%s:%" PRId64, project, day_ms / 1000);
    bool created;
    slot *sl = smap_get(&c->days, key, &created);
    if (created) {
        sl->ptr = mem_xrealloc(NULL, sizeof(smap));
        memset(sl->ptr, 0, sizeof(smap));
    }
    return sl->ptr;
}

static void hour_add(smap *day, const ew_cost_line *l, int hh, int64_t part)
{
    char field[320];
    snprintf(field, sizeof field, "t:%02d", hh);
    field_add(day, field, part);
    snprintf(field, sizeof field, "s:%02d:%s", hh, l->service);
    field_add(day, field, part);
    snprintf(field, sizeof field, "u:%02d:%s", hh, l->usage_type);
    field_add(day, field, part);
    if (*l->resource) {
        snprintf(field, sizeof field, "r:%02d:%s", hh, l->resource);
        field_add(day, field, part);
    }
}

/* Adds sign x the line's hour parts to its project's days. A day emptied
 * to nothing goes, as a hash whose last field is deleted does. */
static void spread(mem_cost *c, const ew_cost_line *l, int sign)
{
    int64_t n = ew_billing_hours(l->start_ms, l->end_ms), first = ew_billing_first_hour_ms(l->start_ms);
    for (int64_t i = 0; i < n;) {
        int64_t day_ms = floor_div(first + i * EW_BILL_HOUR_MS, EW_BILL_DAY_MS) * EW_BILL_DAY_MS;
        smap *day = get_day(c, l->project, day_ms);
        for (; i < n && first + i * EW_BILL_HOUR_MS < day_ms + EW_BILL_DAY_MS; i++) {
            int64_t part = sign * ew_billing_hour_part(l->cost_micros, n, i);
            if (part)
                hour_add(day, l, (int)((first + i * EW_BILL_HOUR_MS - day_ms) / EW_BILL_HOUR_MS), part);
        }
        if (!day->n) {
            char key[512];
            snprintf(key, sizeof key, "cd:%s:%" PRId64, l->project, day_ms / 1000);
            free_day(day);
            smap_del(&c->days, smap_find(&c->days, key));
        }
    }
}

static void mark_dirty(mem_period *pd, const char *project)
{
    bool created;
    smap_get(&pd->dirty, project, &created);
}

/* cost.lua's note_project: both bounds only move outward. */
static void note_project(mem_cost *c, const ew_cost_line *l)
{
    mem_project *p = get_project(c, l->project);
    int64_t first = ew_billing_first_hour_ms(l->start_ms);
    if (l->cost_micros != 0 && (p->first_ms == INT64_MIN || first < p->first_ms))
        p->first_ms = first;
    if (l->end_ms - l->start_ms <= EW_BILL_DAY_MS && (p->horizon_ms == INT64_MIN || l->end_ms > p->horizon_ms))
        p->horizon_ms = l->end_ms;
}

/* Subtracts (sign -1) or adds a stored line; marks its project. */
static void apply_text(mem_cost *c, mem_period *pd, const char *text, int sign)
{
    char buf[EW_COST_LINE_MAX];
    ew_cost_line l;
    snprintf(buf, sizeof buf, "%s", text);
    if (!ew_cost_line_parse(buf, &l))
        return; /* never: we wrote it */
    spread(c, &l, sign);
    mark_dirty(pd, l.project);
    if (sign > 0)
        note_project(c, &l);
}

static void apply_line(mem_cost *c, const ew_billing_record *r)
{
    char text[EW_COST_LINE_MAX];
    ew_cost_line_format(r, text);
    mem_period *pd = get_period(c, r->billing_period);
    bool created;
    slot *sl = smap_get(&pd->lines, r->line_key, &created);
    if (!created && strcmp(sl->ptr, text) == 0)
        return; /* re-delivered: nothing changes */
    char *old = sl->ptr;
    sl->ptr = mem_xstrdup(text);
    if (old)
        apply_text(c, pd, old, -1);
    apply_text(c, pd, text, 1);
    free(old);
}

/* ---- refresh ends ---- */

static void remove_stale(mem_cost *c, mem_period *pd, const char *version)
{
    size_t n = 0;
    char **gone = mem_xrealloc(NULL, (pd->lines.n + 1) * sizeof *gone);
    for (size_t i = 0; i < pd->lines.cap; i++) {
        const slot *sl = &pd->lines.slots[i];
        if (!sl->key)
            continue;
        char buf[EW_COST_LINE_MAX];
        ew_cost_line l;
        snprintf(buf, sizeof buf, "%s", (const char *)sl->ptr);
        if (ew_cost_line_parse(buf, &l) && strcmp(l.version, version) != 0) {
            apply_text(c, pd, sl->ptr, -1);
            gone[n++] = sl->key;
        }
    }
    /* Deleting moves slots: free by key, after the scan. */
    for (size_t i = 0; i < n; i++) {
        slot *sl = smap_find(&pd->lines, gone[i]);
        free(sl->ptr);
        smap_del(&pd->lines, sl);
    }
    free(gone);
}

static void queue_push(mem_cost *c, const char *period, const char *version, mem_period *pd)
{
    if (c->n_queue == c->cap_queue) {
        c->cap_queue = c->cap_queue ? c->cap_queue * 2 : 8;
        c->queue = mem_xrealloc(c->queue, c->cap_queue * sizeof *c->queue);
    }
    mem_refresh *q = &c->queue[c->n_queue++];
    memset(q, 0, sizeof *q);
    q->seq = ++c->seq;
    snprintf(q->period, sizeof q->period, "%s", period);
    snprintf(q->version, sizeof q->version, "%s", version);
    q->projects = mem_xrealloc(NULL, (pd->dirty.n + 1) * sizeof *q->projects);
    for (size_t i = 0; i < pd->dirty.cap; i++)
        if (pd->dirty.slots[i].key)
            q->projects[q->n_projects++] = mem_xstrdup(pd->dirty.slots[i].key);
    qsort(q->projects, q->n_projects, sizeof *q->projects, ew_cost_strcmp_ptr);
    smap_free(&pd->dirty, NULL);
}

static void refresh_end(mem_cost *c, const ew_billing_record *r)
{
    mem_period *pd = get_period(c, r->billing_period);
    char version[sizeof r->report_version];
    ew_cost_clean(r->report_version, version, sizeof version);
    if (r->full)
        remove_stale(c, pd, version);
    queue_push(c, r->billing_period, version, pd);
}

ew_state_status mem_cost_apply(ew_state *state, const char *topic, const ew_flush_partition *parts, size_t n_parts,
                               const ew_billing_record *recs, size_t n, int32_t *refused_partition,
                               int64_t *refused_offset)
{
    if (mem_offsets_refused(state, topic, parts, n_parts, refused_partition, refused_offset))
        return EW_STATE_REFUSED;
    mem_offsets_record(state, topic, parts, n_parts, false);
    mem_cost *c = cost_of(state);
    for (size_t i = 0; i < n; i++) {
        if (recs[i].kind == EW_BILL_LINE)
            apply_line(c, &recs[i]);
        else
            refresh_end(c, &recs[i]);
    }
    return EW_STATE_OK;
}

/* ---- claim and commit ---- */

static int64_t monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

ew_state_status mem_cost_claim_refresh(ew_state *state, ew_cost_refresh *out, bool *found)
{
    mem_cost *c = cost_of(state);
    memset(out, 0, sizeof *out);
    *found = false;
    int64_t now = monotonic_ms();
    for (size_t i = 0; i < c->n_queue && i < CLAIM_CHECKED; i++) {
        mem_refresh *q = &c->queue[i];
        if (q->lease_until_ms && q->lease_until_ms > now)
            break; /* strictly in order, as cost.lua: a later refresh waits for this one */
        q->lease_until_ms = now + EW_COST_LEASE_S * 1000;
        out->seq = q->seq;
        memcpy(out->billing_period, q->period, sizeof out->billing_period);
        memcpy(out->report_version, q->version, sizeof out->report_version);
        out->projects = mem_xrealloc(NULL, (q->n_projects + 1) * sizeof *out->projects);
        for (size_t p = 0; p < q->n_projects; p++)
            out->projects[p] = mem_xstrdup(q->projects[p]);
        out->n_projects = q->n_projects;
        *found = true;
        break;
    }
    return EW_STATE_OK;
}

ew_state_status mem_cost_commit(ew_state *state, uint64_t seq, const char *const *projects, const char *const *dets,
                                size_t n)
{
    mem_cost *c = cost_of(state);
    for (size_t i = 0; i < n; i++) {
        mem_project *p = get_project(c, projects[i]);
        free(p->det);
        p->det = mem_xstrdup(dets[i]);
    }
    for (size_t i = 0; i < c->n_queue; i++)
        if (c->queue[i].seq == seq) {
            free_refresh(&c->queue[i]);
            memmove(&c->queue[i], &c->queue[i + 1], (c->n_queue - i - 1) * sizeof *c->queue);
            c->n_queue--;
            break;
        }
    return EW_STATE_OK;
}

/* ---- read ---- */

static void read_day(mem_cost *c, const char *project, int64_t day_ms, bool with_entries, ew_cost_day *day)
{
    char key[512];
    snprintf(key, sizeof key, "cd:%s:%" PRId64, project, day_ms / 1000);
    const slot *sl = smap_find(&c->days, key);
    const smap *m = sl ? sl->ptr : NULL;
    size_t n = 0;
    ew_cost_field *fields = mem_xrealloc(NULL, ((m ? m->n : 0) + 1) * sizeof *fields);
    for (size_t i = 0; m && i < m->cap; i++)
        if (m->slots[i].key)
            fields[n++] = (ew_cost_field){m->slots[i].key, m->slots[i].num};
    ew_cost_day_build(day, day_ms, fields, n, with_entries);
    free(fields);
}

ew_state_status mem_cost_read(ew_state *state, const char *project, int64_t first_day_ms, size_t n_days,
                              bool with_entries, ew_cost_project *proj, ew_cost_day *days)
{
    mem_cost *c = cost_of(state);
    ew_cost_project_init(proj);
    const slot *sl = smap_find(&c->projects, project);
    if (sl) {
        const mem_project *p = sl->ptr;
        proj->first_ms = p->first_ms;
        proj->horizon_ms = p->horizon_ms;
        if (p->det)
            ew_cost_project_field(proj, "det", p->det, strlen(p->det));
    }
    for (size_t i = 0; i < n_days; i++)
        read_day(c, project, first_day_ms + (int64_t)i * EW_BILL_DAY_MS, with_entries, &days[i]);
    return EW_STATE_OK;
}

/* ---- incidents ---- */

ew_state_status mem_incident_note(ew_state *state, const char *project, const char *alert_id,
                                  const char *entity_type, int64_t start_ms, int64_t end_ms)
{
    mem_project *p = get_project(cost_of(state), project);
    char entry[160];
    ew_cost_incident_format(entry, sizeof entry, entity_type, start_ms, end_ms);
    bool created;
    slot *sl = smap_get(&p->incidents, alert_id, &created);
    free(sl->ptr);
    sl->ptr = mem_xstrdup(entry);
    return EW_STATE_OK;
}

ew_state_status mem_incidents_overlapping(ew_state *state, const char *project, const char *entity_type,
                                          int64_t from_ms, int64_t to_ms, char (*ids)[64], size_t cap, size_t *n)
{
    *n = 0;
    const slot *sl = smap_find(&cost_of(state)->projects, project);
    if (!sl)
        return EW_STATE_OK;
    const smap *inc = &((const mem_project *)sl->ptr)->incidents;
    const char **match = mem_xrealloc(NULL, (inc->n + 1) * sizeof *match);
    size_t m = 0;
    for (size_t i = 0; i < inc->cap; i++)
        if (inc->slots[i].key && ew_cost_incident_overlaps(inc->slots[i].ptr, entity_type, from_ms, to_ms))
            match[m++] = inc->slots[i].key;
    *n = ew_cost_ids_pick(match, m, ids, cap);
    free(match);
    return EW_STATE_OK;
}
