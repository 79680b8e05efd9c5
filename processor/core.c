/* core.c -- decode → window → aggregate → state → score → alert, for any
 * source and any state backend.
 *
 * Records are folded into the in-memory aggregate; a flush ships the
 * deltas and the offsets that produced them to the state store in one
 * atomic step; after a flush the store says which windows have closed
 * across the group, and this member scores those it wins the claim for.
 * Nothing here knows about Kafka: pipeline.c (run) and replay.c supply the
 * records and take the alerts.
 */
#include "edgewatch/core.h"
#include "edgewatch/aggregate.h"
#include "edgewatch/alert.h"
#include "edgewatch/metadata.h"
#include "edgewatch/score.h"
#include "edgewatch/suppress.h"
#include "edgewatch/window.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Claims are few and short so a crashed scorer delays little: scoring a
 * window takes milliseconds, and its lease expires after 10 s. */
#define MAX_CLAIMS 8
/* End of input: far past any event time, with room for the arithmetic. */
#define END_OF_TIME_MS (INT64_MAX / 4)
/* Top contributors per dimension on an alert: enough to see a DDoS's
 * addresses (5 client IPs) or a hot object (3 of the rest), few enough to
 * read at a glance. */
#define TOP_CLIENT_IPS 5
#define TOP_PER_DIMENSION 3
#define MAX_CONTRIBUTORS (TOP_CLIENT_IPS + 4 * TOP_PER_DIMENSION)
#define MAX_RELATED 16

struct ew_core {
    const ew_config *cfg;
    const char *topic;
    ew_metadata *meta;
    uint32_t *entity_of_dist; /* per metadata distribution: interned entity + 1, 0 = not yet */
    ew_message_decoder decoder;
    ew_cf_record record; /* reused: decoding allocates nothing per record */
    ew_windows windows;
    ew_aggregate *agg;
    ew_state *state;
    ew_core_output out;
    const ew_suppressions *suppressions; /* may be NULL */
    bool replay;
    int64_t range_from_ms, range_to_ms;
    ew_core_counters n;
};

/* Entities are interned for the aggregate's lifetime, so the cache only
 * has to follow the metadata's distribution list. */
static void use_metadata(ew_core *c, ew_metadata *m)
{
    ew_metadata_free(c->meta);
    c->meta = m;
    free(c->entity_of_dist);
    c->entity_of_dist = calloc(ew_metadata_count(m) + 1, sizeof *c->entity_of_dist);
}

bool ew_core_reload_metadata(ew_core *c, char *err, size_t errcap)
{
    ew_metadata *m = ew_metadata_load_for(c->cfg, err, errcap);
    if (!m)
        return false;
    use_metadata(c, m);
    return true;
}

void ew_core_set_suppressions(ew_core *c, const ew_suppressions *s) { c->suppressions = s; }

ew_core *ew_core_new(const ew_config *cfg, ew_state *state, const char *topic, ew_core_output out, bool replay,
                     char *err, size_t errcap)
{
    ew_core *c = calloc(1, sizeof *c);
    c->cfg = cfg;
    c->topic = topic;
    c->state = state;
    c->out = out;
    c->replay = replay;
    ew_metadata *m = ew_metadata_load_for(cfg, err, errcap);
    if (!m) {
        free(c);
        return NULL;
    }
    use_metadata(c, m);
    if (!ew_message_decoder_init(&c->decoder, (const char *const *)cfg->fields, cfg->n_fields, cfg->max_line_bytes,
                                 cfg->avro_ids, (const char *const *)cfg->avro_paths, cfg->n_avro, cfg->avro_bare, err,
                                 errcap)) {
        ew_metadata_free(c->meta);
        free(c->entity_of_dist);
        free(c);
        return NULL;
    }
    ew_windows_init(&c->windows, cfg->window_ms, cfg->lateness_ms);
    c->agg = ew_aggregate_new(cfg->flush_max_pairs);
    c->range_from_ms = INT64_MIN;
    c->range_to_ms = INT64_MAX;
    return c;
}

void ew_core_free(ew_core *c)
{
    if (!c)
        return;
    ew_aggregate_free(c->agg);
    ew_windows_free(&c->windows);
    ew_metadata_free(c->meta);
    free(c->entity_of_dist);
    ew_message_decoder_free(&c->decoder);
    free(c);
}

const ew_core_counters *ew_core_counters_of(const ew_core *c) { return &c->n; }

void ew_core_set_range(ew_core *c, int64_t from_ms, int64_t to_ms)
{
    c->range_from_ms = from_ms;
    c->range_to_ms = to_ms;
}
bool ew_core_full(const ew_core *c) { return ew_aggregate_full(c->agg); }

/* ---- partitions ---- */

void ew_core_assign(ew_core *c, int32_t partition, int64_t resume_watermark_ms)
{
    ew_partition_clock *pc = ew_windows_partition(&c->windows, partition);
    *pc = (ew_partition_clock){EW_WM_NONE, -1, -1, true};
    if (resume_watermark_ms != INT64_MIN)
        pc->max_event_ms = resume_watermark_ms + c->cfg->lateness_ms;
}

void ew_core_forget(ew_core *c)
{
    ew_aggregate_clear(c->agg);
    for (size_t i = 0; i < c->windows.n_parts; i++)
        c->windows.parts[i].from_offset = -1;
}

void ew_core_unassign_all(ew_core *c)
{
    ew_core_forget(c);
    for (size_t i = 0; i < c->windows.n_parts; i++)
        c->windows.parts[i].assigned = false;
}

void ew_core_end_of_input(ew_core *c)
{
    for (size_t i = 0; i < c->windows.n_parts; i++) {
        ew_partition_clock *pc = &c->windows.parts[i];
        if (!pc->assigned)
            continue;
        pc->max_event_ms = END_OF_TIME_MS;
        if (pc->next_offset < 0)
            pc->next_offset = 0;
        /* An empty batch of this partition still carries its watermark. */
        if (pc->from_offset < 0)
            pc->from_offset = pc->next_offset;
    }
}

/* ---- records ---- */

/* dist: the record's distribution's position in c->meta + 1, 0 when its
 * domain names none. */
static uint32_t entity_of_dist(ew_core *c, const ew_cf_record *r, size_t dist)
{
    if (dist) {
        /* Interned once per distribution, not hashed again per record. */
        uint32_t *cached = &c->entity_of_dist[dist - 1];
        if (!*cached) {
            const ew_distribution *d = ew_metadata_at(c->meta, dist - 1);
            *cached = ew_entity_intern(c->agg, ew_str_make(d->id, strlen(d->id))) + 1;
        }
        return *cached - 1;
    }
    c->n.unmapped++;
    return ew_entity_intern(c->agg, ew_cf_identity(r));
}

static size_t dist_of(const ew_core *c, const ew_cf_record *r)
{
    const ew_distribution *d = ew_metadata_by_domain(c->meta, ew_cf_identity(r));
    return d ? ew_metadata_index_of(c->meta, d) + 1 : 0;
}

static void consumed(ew_partition_clock *pc, int64_t offset)
{
    if (pc->from_offset < 0)
        pc->from_offset = offset;
    pc->next_offset = offset + 1;
}

/* Folds a decoded record (or counts why it is bad) into partition pc.
 * prepared: the reading thread already looked up the distribution (dist,
 * as entity_of_dist takes it) and cleaned the top-list values; inlined
 * with a constant, so each caller gets its own straight path. */
static inline __attribute__((always_inline)) ew_fold_status fold_as(ew_core *c, ew_partition_clock *pc,
                                                                      int64_t offset, const ew_cf_record *r,
                                                                      ew_decode_error e, bool prepared, size_t dist)
{
    if (e != EW_DECODE_OK) {
        c->n.decode_errors[e]++;
        consumed(pc, offset);
        return EW_FOLD_DEAD_LETTER;
    }
    if (r->ts_ms < c->range_from_ms || r->ts_ms >= c->range_to_ms) {
        c->n.outside_range++;
        consumed(pc, offset);
        return EW_FOLD_SKIPPED;
    }
    uint32_t entity = entity_of_dist(c, r, prepared ? dist : dist_of(c, r));
    ew_delta *d = ew_aggregate_slot(c->agg, entity, ew_window_start(r->ts_ms, c->cfg->window_ms));
    if (!d)
        return EW_FOLD_FULL;
    bool late = ew_windows_observe(&c->windows, pc, r->ts_ms, offset);
    if (prepared)
        ew_delta_add_clean(d, r, late);
    else
        ew_delta_add(d, r, late);
    if (r->ts_ms > c->n.newest_event_ms)
        c->n.newest_event_ms = r->ts_ms;
    c->n.records++;
    c->n.late += late;
    return EW_FOLD_OK;
}

static ew_fold_status fold(ew_core *c, ew_partition_clock *pc, int64_t offset, const ew_cf_record *r,
                           ew_decode_error e)
{
    return fold_as(c, pc, offset, r, e, false, 0);
}

ew_fold_status ew_core_fold_decoded(ew_core *c, int32_t partition, int64_t offset, const ew_cf_record *r,
                                    ew_decode_error e)
{
    ew_partition_clock *pc = ew_windows_partition(&c->windows, partition);
    return pc->assigned ? fold(c, pc, offset, r, e) : EW_FOLD_UNASSIGNED;
}

ew_fold_status ew_core_fold_prepared(ew_core *c, int32_t partition, int64_t offset, const ew_cf_record *r,
                                     ew_decode_error e, size_t dist)
{
    ew_partition_clock *pc = ew_windows_partition(&c->windows, partition);
    return pc->assigned ? fold_as(c, pc, offset, r, e, true, dist) : EW_FOLD_UNASSIGNED;
}

void ew_core_prefetch(const ew_core *c, int64_t ts_ms, size_t dist, bool index_only)
{
    uint32_t entity = dist ? c->entity_of_dist[dist - 1] : 0;
    if (entity)
        ew_aggregate_prefetch(c->agg, entity - 1, ew_window_start(ts_ms, c->cfg->window_ms), index_only);
}

const ew_metadata *ew_core_metadata(const ew_core *c) { return c->meta; }

ew_fold_status ew_core_fold(ew_core *c, int32_t partition, int64_t offset, const void *buf, size_t len,
                            ew_decode_error *reason)
{
    ew_partition_clock *pc = ew_windows_partition(&c->windows, partition);
    if (!pc->assigned)
        return EW_FOLD_UNASSIGNED;
    *reason = ew_decode_message(&c->decoder, buf, len, &c->record);
    return fold(c, pc, offset, &c->record, *reason);
}

/* ---- flush ---- */

static size_t batch_partitions(const ew_core *c, ew_flush_partition *out, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < c->windows.n_parts && n < cap; i++) {
        const ew_partition_clock *pc = &c->windows.parts[i];
        if (pc->assigned && pc->from_offset >= 0)
            out[n++] = (ew_flush_partition){(int32_t)i, pc->from_offset, pc->next_offset,
                                            ew_watermark(&c->windows, pc)};
    }
    return n;
}

/* The newest window start whose sketches ship: windows that are over for
 * this member, i.e. that ended at or before the newest event it has read.
 * Records of such a window that still arrive start a new sketch. */
static int64_t ship_through(const ew_core *c)
{
    int64_t newest = INT64_MIN;
    for (size_t i = 0; i < c->windows.n_parts; i++) {
        const ew_partition_clock *pc = &c->windows.parts[i];
        if (pc->assigned && pc->max_event_ms > newest)
            newest = pc->max_event_ms;
    }
    return newest == INT64_MIN ? INT64_MIN : newest - c->cfg->window_ms;
}

ew_state_status ew_core_flush(ew_core *c, bool ship_all, ew_flush_partition *parts, size_t cap, size_t *n_parts,
                              int32_t *refused_partition, int64_t *refused_offset)
{
    size_t n = *n_parts = batch_partitions(c, parts, cap);
    if (n == 0 && (!ship_all || ew_aggregate_pairs(c->agg) == 0))
        return EW_STATE_OK;
    int64_t ship = ship_all ? INT64_MAX : ship_through(c);
    size_t pending = ew_aggregate_pending(c->agg);
    ew_state_status st = ew_state_flush(c->state, c->topic, parts, n, c->agg, ship, refused_partition, refused_offset);
    if (st == EW_STATE_DOWN)
        return st;
    c->n.flushes++;
    if (st == EW_STATE_REFUSED) {
        c->n.refused++;
        ew_core_forget(c);
        return st;
    }
    c->n.pairs_flushed += pending;
    ew_aggregate_flushed(c->agg, ship);
    for (size_t i = 0; i < c->windows.n_parts; i++)
        c->windows.parts[i].from_offset = -1;
    return EW_STATE_OK;
}

/* ---- scoring ---- */


typedef struct {
    ew_contributor items[MAX_CONTRIBUTORS];
    size_t n;
    double requests;
} contributors;

/* Stored top lists are read as ew_topk_parse reads them, heaviest first;
 * dimensions come in ew_dim order (a hash's fields come back in no fixed
 * order). */
static void add_top_list(contributors *out, ew_dim dim, const char *text)
{
    ew_top_entry entries[TOP_CLIENT_IPS];
    size_t most = dim == EW_DIM_CLIENT_IP ? TOP_CLIENT_IPS : TOP_PER_DIMENSION;
    size_t n = ew_topk_parse(text, strlen(text), entries, most);
    for (size_t k = 0; k < n && out->n < MAX_CONTRIBUTORS; k++) {
        ew_contributor *c = &out->items[out->n++];
        c->dimension = ew_dim_name(dim);
        snprintf(c->value, sizeof c->value, "%.*s", (int)sizeof c->value - 1, entries[k].value);
        c->share = out->requests > 0 ? (double)entries[k].count / out->requests : 0;
        c->impact = NAN;
    }
}

static void collect_tops(void *ctx, const ew_stored_window *w)
{
    contributors *out = ctx;
    out->requests = (double)w->counters[EW_C_REQ];
    for (int d = 0; d < EW_DIMS; d++)
        for (size_t i = 0; i < w->n_tops; i++)
            if (strcmp(w->top_fields[i], ew_dim_field((ew_dim)d)) == 0)
                add_top_list(out, (ew_dim)d, w->top_texts[i]);
}

/* Read only when an alert fires: alerts are rare, windows are not. A read
 * failure leaves the list empty rather than holding the alert back. */
static void top_contributors(ew_core *c, const char *entity, int64_t ws, contributors *out)
{
    out->n = 0;
    out->requests = 0;
    if (ew_state_read_range(c->state, entity, false, ws, ws + c->cfg->window_ms, collect_tops, out) != EW_STATE_OK)
        out->n = 0;
}

/* Everything scoring one entity needs besides its state. */
typedef struct {
    const char *entity;
    const ew_distribution *dist; /* NULL: unmapped */
    const ew_rule_config *rules;
    double floor_per_window;
    int64_t ws;
} entity_context;

/* Notes the incident under its project for related_alerts and lists the
 * project's cost incidents it overlaps. Only alerts pay these round trips;
 * a failure leaves the list short rather than holding the alert back. */
static size_t related_cost(ew_core *c, const entity_context *e, const ew_incident *inc,
                           char (*ids)[EW_ALERT_ID_LEN])
{
    size_t n = 0;
    const char *project = e->dist->project;
    int64_t end = e->ws + c->cfg->window_ms;
    if (!*project ||
        ew_state_incident_note(c->state, project, inc->alert_id, "distribution", inc->start_ws,
                               inc->open ? INT64_MAX : end) != EW_STATE_OK ||
        ew_state_incidents_overlapping(c->state, project, "project", inc->start_ws, end, ids, MAX_RELATED, &n) !=
            EW_STATE_OK)
        return 0;
    return n;
}

static bool emit(ew_core *c, const entity_context *e, ew_rule_id rule, const ew_incident *inc, const ew_detection *d,
                 ew_event_kind kind)
{
    const char *name = ew_rule_name(rule);
    const ew_suppression *silence =
        c->suppressions ? ew_suppression_match(c->suppressions, EW_SUPPRESS_SILENCE, name, e->entity,
                                               e->dist ? e->dist->project : NULL, e->ws, e->ws + c->cfg->window_ms)
                        : NULL;
    contributors tops = {.n = 0};
    if (kind != EW_EVENT_RESOLVED)
        top_contributors(c, e->entity, e->ws, &tops);
    ew_alert a = {
        .alert_id = inc->alert_id,
        .kind = kind,
        .severity = inc->severity,
        .rule = name,
        .entity_type = "distribution",
        .entity_id = e->entity,
        .window_start_ms = e->ws,
        .window_end_ms = e->ws + c->cfg->window_ms,
        .observed = d->observed,
        .expected = d->expected,
        .threshold = d->threshold,
        .z_short = d->z_short,
        .z_long = d->z_long,
        .top = tops.items,
        .n_top = tops.n,
        .suppressed_by = silence ? silence->id : (inc->suppressed_by[0] ? inc->suppressed_by : NULL),
        .emitted_at_ms = ew_now_ms(),
        .replay = c->replay,
    };
    char related[MAX_RELATED][EW_ALERT_ID_LEN];
    if (e->dist) {
        a.project = e->dist->project;
        a.owner = e->dist->owner;
        a.route = e->dist->route;
        a.related = related;
        a.n_related = related_cost(c, e, inc, related);
    }
    char *json = ew_alert_json(&a);
    bool ok = c->out.alert(c->out.ctx, a.alert_id, json);
    ew_info("alert %s %s %s window %lld: observed %.4g expected %.4g z %.1f/%.1f%s%s",
            kind == EW_EVENT_RESOLVED ? "resolved" : kind == EW_EVENT_UPDATE ? "update" : "firing", name, e->entity,
            (long long)e->ws, d->observed, d->expected, d->z_short, d->z_long, a.suppressed_by ? " suppressed by " : "",
            a.suppressed_by ? a.suppressed_by : "");
    free(json);
    c->n.alerts++;
    c->n.alerts_firing += kind == EW_EVENT_FIRING;
    c->n.alerts_resolved += kind == EW_EVENT_RESOLVED;
    c->n.by_rule[rule][kind == EW_EVENT_RESOLVED ? 1 : 0] += kind != EW_EVENT_UPDATE;
    return ok;
}

/* An expected event covers a spike when the spike is within the event's
 * multiplier: it still opens an incident (history stays complete), marked
 * suppressed_by the event. */
static const ew_suppression *covering_event(ew_core *c, const entity_context *e, const ew_rule_params *p,
                                            const ew_rule_state *st, ew_observation o, const ew_detection *d)
{
    if (p->id != EW_RULE_REQUEST_SPIKE || !d->breach || !c->suppressions)
        return NULL;
    const ew_suppression *ev =
        ew_suppression_match(c->suppressions, EW_SUPPRESS_EVENT, ew_rule_name(p->id), e->entity,
                             e->dist ? e->dist->project : NULL, e->ws, e->ws + c->cfg->window_ms);
    if (!ev)
        return NULL;
    ew_rule_params expected = *p;
    expected.expect_multiplier = ev->multiplier;
    return ew_detect(&expected, st, o).breach ? NULL : ev;
}

static bool score_rule(ew_core *c, const entity_context *e, ew_rule_id rule, ew_score_item *it)
{
    ew_rule_params p = {rule, &e->rules[rule], c->cfg->window_ms, e->floor_per_window, 1.0};
    ew_rule_state *st = &it->det.rule[rule];
    ew_observation o = ew_observe(rule, it->counters);
    ew_detection d = ew_detect(&p, st, o);
    const ew_suppression *event = covering_event(c, e, &p, st, o, &d);
    ew_learn(&p, st, o, &d);
    ew_event_kind kind = ew_lifecycle(&p, &st->inc, &d, e->ws, e->entity);
    if (kind == EW_EVENT_FIRING && event)
        snprintf(st->inc.suppressed_by, sizeof st->inc.suppressed_by, "%s", event->id);
    else if (st->inc.open && st->inc.suppressed_by[0] && d.breach && !event) {
        /* Beyond what the event announced, or past its end: an incident now. */
        st->inc.suppressed_by[0] = '\0';
        st->inc.last_emit_ws = e->ws;
        if (kind == EW_EVENT_NONE)
            kind = EW_EVENT_UPDATE;
    }
    return kind == EW_EVENT_NONE || emit(c, e, rule, &st->inc, &d, kind);
}

/* false when the entity is not scored at all (excluded). */
static bool entity_of_item(const ew_core *c, const ew_score_item *it, int64_t ws, entity_context *e)
{
    const ew_distribution *d = ew_metadata_by_id(c->meta, it->entity);
    if (d && d->excluded)
        return false;
    double floor = d && !isnan(d->floor_per_min) ? d->floor_per_min : c->cfg->traffic_floor_per_min;
    *e = (entity_context){it->entity, d, d && d->rules ? d->rules : c->cfg->rules,
                          floor * (double)c->cfg->window_ms / 60000.0, ws};
    return true;
}

static bool score_item(ew_core *c, ew_score_item *it, int64_t ws)
{
    entity_context e;
    /* Already scored (a commit landed before a crash): its events went out
     * then; its state already holds this window. */
    if (it->det.last_ws >= ws)
        return true;
    it->det.last_ws = ws;
    if (!entity_of_item(c, it, ws, &e))
        return true;
    bool ok = true;
    for (int r = 0; r < EW_TRAFFIC_RULES; r++)
        ok = score_rule(c, &e, (ew_rule_id)r, it) && ok;
    return ok;
}

static bool score_window(ew_core *c, int64_t ws)
{
    ew_score_item *items;
    size_t n;
    if (ew_state_load_window(c->state, ws, &items, &n) != EW_STATE_OK)
        return false;
    /* Backends list a window's entities sorted by name (state.h), so its
     * events come out in the same order every time, whatever the backend. */
    bool ok = true;
    uint64_t alerts_before = c->n.alerts;
    for (size_t i = 0; i < n; i++)
        ok = score_item(c, &items[i], ws) && ok;
    /* State is saved and the claim released only once alerts are durable;
     * if not, the lease expires and the window is scored again from the
     * same state, repeating the same event ids. */
    ok = ok && c->out.durable(c->out.ctx) && ew_state_commit_window(c->state, items, n, ws) == EW_STATE_OK;
    free(items);
    c->n.windows_scored += ok;
    if (ok)
        ew_info("scored window %lld: %zu entities, %llu alert events", (long long)ws, n,
                (unsigned long long)(c->n.alerts - alerts_before));
    return ok;
}

void ew_core_score_closed(ew_core *c)
{
    int64_t claimed[MAX_CLAIMS], low;
    size_t n;
    if (ew_state_claim_closed(c->state, c->topic, claimed, MAX_CLAIMS, &n, &low) != EW_STATE_OK)
        return;
    /* In window order, and no further after a failure: a window scored
     * before an earlier one would start from state that lacks it (see
     * state/close.lua). The rest wait for their claims to expire. */
    for (size_t i = 0; i < n; i++)
        if (!score_window(c, claimed[i])) {
            ew_warn("scoring window %lld failed; it and the %zu claimed after it are scored again when their "
                    "claims expire",
                    (long long)claimed[i], n - i - 1);
            return;
        }
}

/* ---- summary ---- */

/* "bad_status=3 column_count=1", or "none". */
void ew_core_format_reasons(const uint64_t *counts, char *buf, size_t cap)
{
    size_t n = 0;
    buf[0] = '\0';
    for (int i = 1; i < EW_DECODE_REASONS && n < cap; i++)
        if (counts[i])
            n += (size_t)snprintf(buf + n, cap - n, "%s%s=%llu", n ? " " : "", ew_decode_error_name((ew_decode_error)i),
                                  (unsigned long long)counts[i]);
    if (!n)
        snprintf(buf, cap, "none");
}

void ew_core_log_summary(const ew_core *c)
{
    uint64_t errors = 0;
    char reasons[512];
    for (int i = 1; i < EW_DECODE_REASONS; i++)
        errors += c->n.decode_errors[i];
    ew_core_format_reasons(c->n.decode_errors, reasons, sizeof reasons);
    const uint64_t *enc = c->decoder.by_encoding;
    ew_info("decoded by encoding: tsv=%llu json=%llu avro_confluent=%llu avro_bare=%llu unsupported=%llu; "
            "dead letters by reason: %s",
            (unsigned long long)enc[EW_ENC_TSV], (unsigned long long)enc[EW_ENC_JSON],
            (unsigned long long)enc[EW_ENC_AVRO_CONFLUENT], (unsigned long long)enc[EW_ENC_AVRO_BARE],
            (unsigned long long)enc[EW_ENC_UNSUPPORTED], reasons);
    ew_info("stopped: %llu records, %llu dead-lettered, %llu late, %llu unmapped, %llu flushes (%llu refused), "
            "%llu windows scored, %llu alert events",
            (unsigned long long)c->n.records, (unsigned long long)errors, (unsigned long long)c->n.late,
            (unsigned long long)c->n.unmapped, (unsigned long long)c->n.flushes, (unsigned long long)c->n.refused,
            (unsigned long long)c->n.windows_scored, (unsigned long long)c->n.alerts);
    const ew_state_stats *st = ew_state_stats_of(c->state);
    ew_info("valkey: %llu round trips, %llu commands sent, %llu (entity, window) pairs flushed",
            (unsigned long long)st->round_trips, (unsigned long long)st->commands,
            (unsigned long long)c->n.pairs_flushed);
}
