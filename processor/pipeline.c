/* pipeline.c -- the processor's main loop and the glue between stages.
 *
 * The loop polls one record at a time (librdkafka batches fetches under
 * the hood), folds it into the in-memory aggregate, and every flush
 * interval ships the deltas and the offsets that produced them to Valkey
 * in one atomic script call. Only then are Kafka offsets stored. After a
 * flush it asks Valkey which windows have closed across the whole group,
 * scores those it wins the claim for, and publishes alerts.
 *
 * When Valkey is unreachable the member pauses its partitions, keeps its
 * deltas, and retries with capped exponential backoff: memory stays bounded
 * (nothing new is read) and nothing is lost.
 */
#include "edgewatch/pipeline.h"
#include "edgewatch/aggregate.h"
#include "edgewatch/alert.h"
#include "edgewatch/decode.h"
#include "edgewatch/metadata.h"
#include "edgewatch/score.h"
#include "edgewatch/sink.h"
#include "edgewatch/source.h"
#include "edgewatch/state.h"
#include "edgewatch/window.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_BACKOFF_MS 30000
/* Claims are few and short so a crashed scorer delays little: scoring a
 * window takes milliseconds, and its lease expires after 10 s. */
#define MAX_CLAIMS 8

typedef struct {
    uint64_t records, decode_errors[EW_DECODE_REASONS], late, unmapped;
    uint64_t flushes, refused, pairs_flushed, windows_scored, alerts;
} counters;

typedef struct {
    const ew_config *cfg;
    ew_metadata *meta;
    ew_message_decoder decoder;
    ew_cf_record record; /* reused: decoding allocates nothing per record */
    ew_windows windows;
    ew_aggregate *agg;
    ew_state *state;
    ew_sink *sink;
    ew_source *source;
    bool dead_letters_pending;
    bool paused;
    int64_t backoff_ms, retry_at, last_flush;
    counters n;
} pipeline;

/* ---- flush ---- */

static size_t batch_partitions(pipeline *p, ew_flush_partition *out, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < p->windows.n_parts && n < cap; i++) {
        const ew_partition_clock *pc = &p->windows.parts[i];
        if (pc->assigned && pc->from_offset >= 0)
            out[n++] = (ew_flush_partition){(int32_t)i, pc->from_offset, pc->next_offset,
                                            ew_watermark(&p->windows, pc)};
    }
    return n;
}

static void forget_batch(pipeline *p)
{
    ew_aggregate_clear(p->agg);
    for (size_t i = 0; i < p->windows.n_parts; i++)
        p->windows.parts[i].from_offset = -1;
}

/* Someone else applied these offsets: drop ours and resume where Valkey is. */
static void rewind_refused(pipeline *p, const ew_flush_partition *parts, size_t n)
{
    const char *topic = p->cfg->topic_cloudfront;
    for (size_t i = 0; i < n; i++) {
        int64_t next = -1, wm;
        if (ew_state_partition(p->state, topic, parts[i].partition, &next, &wm) != EW_STATE_OK || next < 0)
            next = parts[i].from_offset;
        ew_source_seek(p->source, parts[i].partition, next);
    }
    forget_batch(p);
}

/* The newest window start whose sketches ship: windows that are over for
 * this member, i.e. that ended at or before the newest event it has read.
 * Records of such a window that still arrive start a new sketch. */
static int64_t ship_through(const pipeline *p)
{
    int64_t newest = INT64_MIN;
    for (size_t i = 0; i < p->windows.n_parts; i++) {
        const ew_partition_clock *pc = &p->windows.parts[i];
        if (pc->assigned && pc->max_event_ms > newest)
            newest = pc->max_event_ms;
    }
    return newest == INT64_MIN ? INT64_MIN : newest - p->cfg->window_ms;
}

static void batch_applied(pipeline *p, const ew_flush_partition *parts, size_t n, int64_t ship)
{
    for (size_t i = 0; i < n; i++)
        ew_source_store_offset(p->source, parts[i].partition, parts[i].next_offset);
    ew_aggregate_flushed(p->agg, ship);
    for (size_t i = 0; i < p->windows.n_parts; i++)
        p->windows.parts[i].from_offset = -1;
}

/* ship_all: also ship every sketch (the table is full, or the member gives
 * its partitions up or stops), even with no new records to flush. */
static ew_state_status flush(pipeline *p, bool ship_all)
{
    ew_flush_partition parts[1024];
    size_t n = batch_partitions(p, parts, sizeof parts / sizeof parts[0]);
    p->last_flush = ew_mono_ms();
    if (n == 0 && (!ship_all || ew_aggregate_pairs(p->agg) == 0))
        return EW_STATE_OK;
    /* A dead letter must be in Kafka before its offset is recorded as done. */
    if (p->dead_letters_pending && !ew_sink_flush(p->sink, 10000))
        return EW_STATE_DOWN;
    p->dead_letters_pending = false;
    int32_t refused_p = -1;
    int64_t refused_off = -1;
    int64_t ship = ship_all ? INT64_MAX : ship_through(p);
    size_t pending = ew_aggregate_pending(p->agg);
    ew_state_status st =
        ew_state_flush(p->state, p->cfg->topic_cloudfront, parts, n, p->agg, ship, &refused_p, &refused_off);
    if (st == EW_STATE_DOWN)
        return st;
    p->n.flushes++;
    if (st == EW_STATE_REFUSED) {
        p->n.refused++;
        ew_warn("flush refused: partition %d already applied up to offset %lld; rewinding", refused_p,
                (long long)refused_off);
        rewind_refused(p, parts, n);
        return st;
    }
    p->n.pairs_flushed += pending;
    batch_applied(p, parts, n, ship);
    return EW_STATE_OK;
}

static void enter_outage(pipeline *p)
{
    if (!p->paused) {
        ew_warn("state store unavailable (%s); pausing consumption", ew_state_last_error(p->state));
        ew_source_pause_all(p->source, true);
        p->paused = true;
        p->backoff_ms = 250;
    } else {
        p->backoff_ms = p->backoff_ms * 2 > MAX_BACKOFF_MS ? MAX_BACKOFF_MS : p->backoff_ms * 2;
    }
    p->retry_at = ew_mono_ms() + p->backoff_ms;
}

static void leave_outage(pipeline *p)
{
    if (p->paused) {
        ew_info("state store reachable again; resuming consumption");
        ew_source_pause_all(p->source, false);
        p->paused = false;
    }
}

/* ---- scoring ---- */

static void fill_owner(const pipeline *p, const char *entity, ew_alert *a)
{
    const ew_distribution *d = ew_metadata_by_id(p->meta, entity);
    if (d) {
        a->project = d->project;
        a->owner = d->owner;
        a->route = d->route;
    }
}

static bool emit(pipeline *p, const ew_score_item *it, const ew_score *s, ew_event_kind kind, int64_t ws)
{
    ew_alert a = {
        .alert_id = it->incident.alert_id,
        .kind = kind,
        .severity = kind == EW_EVENT_FIRING ? s->severity : it->incident.severity,
        .rule = "request_spike",
        .entity_type = "distribution",
        .entity_id = it->entity,
        .window_start_ms = ws,
        .window_end_ms = ws + p->cfg->window_ms,
        .observed = s->observed,
        .expected = s->expected,
        .threshold = s->threshold,
        .z_short = s->z,
        .z_long = NAN,
        .emitted_at_ms = ew_now_ms(),
    };
    fill_owner(p, it->entity, &a);
    char *json = ew_alert_json(&a);
    bool ok = ew_sink_alert(p->sink, a.alert_id, json);
    ew_info("alert %s %s %s window %lld: observed %.0f expected %.1f z %.1f", kind == EW_EVENT_FIRING ? "firing" : "resolved",
            a.rule, a.entity_id, (long long)ws, s->observed, s->expected, s->z);
    free(json);
    p->n.alerts++;
    return ok;
}

static bool score_window(pipeline *p, int64_t ws)
{
    ew_score_item *items;
    size_t n;
    if (ew_state_load_window(p->state, ws, &items, &n) != EW_STATE_OK)
        return false;
    bool ok = true;
    uint64_t alerts_before = p->n.alerts;
    const ew_spike_rule *rule = &p->cfg->request_spike;
    for (size_t i = 0; i < n; i++) {
        ew_score_item *it = &items[i];
        ew_score s = ew_score_requests(rule, p->cfg->window_ms, &it->baseline, ws, (double)it->requests);
        ew_baseline_update(&it->baseline, rule, p->cfg->window_ms, ws, &s);
        ew_event_kind ev = ew_incident_step(&it->incident, &s, ws, "request_spike", it->entity);
        if (ev != EW_EVENT_NONE)
            ok = emit(p, it, &s, ev, ws) && ok;
    }
    /* State is saved and the claim released only once alerts are in Kafka;
     * if not, the lease expires and the window is scored again from the
     * same baselines, repeating the same event ids. */
    ok = ok && ew_sink_flush(p->sink, 10000) && ew_state_commit_window(p->state, items, n, ws) == EW_STATE_OK;
    free(items);
    p->n.windows_scored += ok;
    if (ok)
        ew_info("scored window %lld: %zu entities, %llu alert events", (long long)ws, n,
                (unsigned long long)(p->n.alerts - alerts_before));
    return ok;
}

static void score_closed_windows(pipeline *p)
{
    int64_t claimed[MAX_CLAIMS], low;
    size_t n;
    if (ew_state_claim_closed(p->state, p->cfg->topic_cloudfront, claimed, MAX_CLAIMS, &n, &low) != EW_STATE_OK)
        return;
    for (size_t i = 0; i < n; i++)
        if (!score_window(p, claimed[i]))
            ew_warn("scoring window %lld failed; it will be retried when its claim expires", (long long)claimed[i]);
}

/* ---- records ---- */

static uint32_t entity_of(pipeline *p, const ew_cf_record *r)
{
    ew_str key = ew_cf_identity(r);
    const ew_distribution *d = ew_metadata_by_domain(p->meta, key);
    if (d)
        return ew_entity_intern(p->agg, ew_str_make(d->id, strlen(d->id)));
    p->n.unmapped++;
    return ew_entity_intern(p->agg, key);
}

static void dead_letter(pipeline *p, const rd_kafka_message_t *m, ew_partition_clock *pc, ew_decode_error e)
{
    p->n.decode_errors[e]++;
    ew_sink_dead_letter(p->sink, m, ew_decode_error_name(e));
    p->dead_letters_pending = true;
    if (pc->from_offset < 0)
        pc->from_offset = m->offset;
    pc->next_offset = m->offset + 1;
}

static void handle_record(pipeline *p, const rd_kafka_message_t *m)
{
    ew_partition_clock *pc = ew_windows_partition(&p->windows, m->partition);
    if (!pc->assigned)
        return;
    ew_cf_record *r = &p->record;
    ew_decode_error e = ew_decode_message(&p->decoder, m->payload, m->len, r);
    if (e != EW_DECODE_OK) {
        dead_letter(p, m, pc, e);
        return;
    }
    uint32_t entity = entity_of(p, r);
    int64_t ws = ew_window_start(r->ts_ms, p->cfg->window_ms);
    ew_delta *d = ew_aggregate_slot(p->agg, entity, ws);
    if (!d && flush(p, true) == EW_STATE_OK)
        d = ew_aggregate_slot(p->agg, entity, ws);
    if (!d) {
        /* Table full and the flush failed or was refused: read this record
         * again later rather than drop it. */
        ew_source_seek(p->source, m->partition, m->offset);
        enter_outage(p);
        return;
    }
    bool late = ew_windows_observe(&p->windows, pc, r->ts_ms, m->offset);
    ew_delta_add(d, r, late);
    p->n.records++;
    p->n.late += late;
}

static void handle_message(pipeline *p, rd_kafka_message_t *m)
{
    if (m->err) {
        if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
            ew_warn("consumer: %s", rd_kafka_message_errstr(m));
    } else {
        handle_record(p, m);
    }
    rd_kafka_message_destroy(m);
}

/* ---- rebalance hooks ---- */

static void on_revoking(void *opaque, const rd_kafka_topic_partition_list_t *parts, bool lost)
{
    pipeline *p = opaque;
    (void)parts;
    if (!lost && flush(p, true) != EW_STATE_OK)
        ew_warn("could not flush before giving up partitions; the next owner replays them");
    forget_batch(p);
    for (size_t i = 0; i < p->windows.n_parts; i++)
        p->windows.parts[i].assigned = false;
}

static void on_assigning(void *opaque, rd_kafka_topic_partition_list_t *parts)
{
    pipeline *p = opaque;
    enum { MAX_ASSIGNED = 1024 };
    int32_t ids[MAX_ASSIGNED] = {0};
    int64_t next[MAX_ASSIGNED], wm[MAX_ASSIGNED];
    size_t n = 0;
    for (int i = 0; i < parts->cnt && n < MAX_ASSIGNED; i++)
        ids[n++] = parts->elems[i].partition;
    const char *topic = p->cfg->topic_cloudfront;
    if (ew_state_register_partitions(p->state, topic, ids, n) != EW_STATE_OK)
        ew_warn("could not register partitions in the state store: %s", ew_state_last_error(p->state));
    /* If Valkey is down, Kafka's committed offset is a safe start: it is
     * never ahead of Valkey's, and a flush from behind is refused and
     * rewound to Valkey's offset. */
    bool known = ew_state_partitions(p->state, topic, ids, n, next, wm) == EW_STATE_OK;
    for (size_t i = 0; i < n; i++) {
        rd_kafka_topic_partition_t *tp = &parts->elems[i];
        ew_partition_clock *pc = ew_windows_partition(&p->windows, tp->partition);
        *pc = (ew_partition_clock){EW_WM_NONE, -1, -1, true};
        if (known && next[i] >= 0)
            tp->offset = next[i];
        if (known && wm[i] != INT64_MIN)
            pc->max_event_ms = wm[i] + p->cfg->lateness_ms;
    }
}

/* ---- main loop ---- */

static void step(pipeline *p)
{
    rd_kafka_message_t *m = ew_source_poll(p->source, 100);
    if (m)
        handle_message(p, m);
    ew_sink_poll(p->sink);
    int64_t now = ew_mono_ms();
    if (p->paused) {
        if (now < p->retry_at)
            return;
        if (flush(p, false) == EW_STATE_DOWN) {
            enter_outage(p);
            return;
        }
        leave_outage(p);
    }
    if (now - p->last_flush >= p->cfg->flush_interval_ms || ew_aggregate_full(p->agg)) {
        if (flush(p, ew_aggregate_full(p->agg)) == EW_STATE_DOWN) {
            enter_outage(p);
            return;
        }
        score_closed_windows(p);
    }
}

/* "bad_status=3 column_count=1", or "none". */
static void format_reasons(const uint64_t *counts, char *buf, size_t cap)
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

static void log_summary(const pipeline *p)
{
    uint64_t errors = 0;
    char reasons[512];
    for (int i = 1; i < EW_DECODE_REASONS; i++)
        errors += p->n.decode_errors[i];
    format_reasons(p->n.decode_errors, reasons, sizeof reasons);
    ew_info("decoded by encoding: tsv=%llu json=%llu avro_confluent=%llu avro_bare=%llu unsupported=%llu; "
            "dead letters by reason: %s",
            (unsigned long long)p->decoder.by_encoding[EW_ENC_TSV], (unsigned long long)p->decoder.by_encoding[EW_ENC_JSON],
            (unsigned long long)p->decoder.by_encoding[EW_ENC_AVRO_CONFLUENT],
            (unsigned long long)p->decoder.by_encoding[EW_ENC_AVRO_BARE],
            (unsigned long long)p->decoder.by_encoding[EW_ENC_UNSUPPORTED], reasons);
    ew_info("stopped: %llu records, %llu dead-lettered, %llu late, %llu unmapped, %llu flushes (%llu refused), "
            "%llu windows scored, %llu alert events",
            (unsigned long long)p->n.records, (unsigned long long)errors, (unsigned long long)p->n.late,
            (unsigned long long)p->n.unmapped, (unsigned long long)p->n.flushes, (unsigned long long)p->n.refused,
            (unsigned long long)p->n.windows_scored, (unsigned long long)p->n.alerts);
    const ew_state_stats *st = ew_state_stats_of(p->state);
    ew_info("valkey: %llu round trips, %llu commands sent, %llu (entity, window) pairs flushed",
            (unsigned long long)st->round_trips, (unsigned long long)st->commands,
            (unsigned long long)p->n.pairs_flushed);
}

static bool open_stages(pipeline *p, const ew_config *cfg)
{
    char err[512];
    p->cfg = cfg;
    if (!(p->meta = ew_metadata_load(cfg->metadata_path, err, sizeof err)) ||
        !ew_message_decoder_init(&p->decoder, (const char *const *)cfg->fields, cfg->n_fields, cfg->max_line_bytes,
                                 cfg->avro_ids, (const char *const *)cfg->avro_paths, cfg->n_avro, cfg->avro_bare,
                                 err, sizeof err)) {
        ew_error("%s", err);
        return false;
    }
    ew_windows_init(&p->windows, cfg->window_ms, cfg->lateness_ms);
    p->agg = ew_aggregate_new(cfg->flush_max_pairs);
    p->state = ew_state_open(cfg);
    if (!(p->sink = ew_sink_new(cfg, err, sizeof err))) {
        ew_error("kafka producer: %s", err);
        return false;
    }
    ew_source_hooks hooks = {p, on_revoking, on_assigning};
    if (!(p->source = ew_source_new(cfg, cfg->topic_cloudfront, &hooks, err, sizeof err))) {
        ew_error("kafka consumer: %s", err);
        return false;
    }
    return true;
}

static void close_stages(pipeline *p)
{
    ew_source_close(p->source);
    ew_sink_free(p->sink);
    ew_state_close(p->state);
    ew_aggregate_free(p->agg);
    ew_windows_free(&p->windows);
    ew_metadata_free(p->meta);
    ew_message_decoder_free(&p->decoder);
}

int ew_pipeline_run(const ew_config *cfg, volatile sig_atomic_t *stop)
{
    pipeline p;
    memset(&p, 0, sizeof p);
    if (!open_stages(&p, cfg)) {
        close_stages(&p);
        return EW_EXIT_RUNTIME;
    }
    ew_info("consuming %s as group %s; state at %s:%d prefix %s", cfg->topic_cloudfront,
            ew_config_kafka_get(cfg, "group.id"), cfg->valkey_host, cfg->valkey_port, cfg->prefix);
    p.last_flush = ew_mono_ms();
    while (!*stop)
        step(&p);
    if (!p.paused && flush(&p, true) == EW_STATE_OK)
        score_closed_windows(&p);
    log_summary(&p);
    close_stages(&p);
    return EW_EXIT_OK;
}
