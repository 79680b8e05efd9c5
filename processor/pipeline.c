/* pipeline.c -- `edgewatch run`: one consumer-group member around the core.
 *
 * The loop polls one record at a time (librdkafka batches fetches under
 * the hood) and hands it to the core (core.c), which folds it into the
 * in-memory aggregate. Every flush interval the core ships the deltas and
 * the offsets that produced them to Valkey in one atomic script call; only
 * then are Kafka offsets stored. After a flush the core scores the windows
 * that closed across the group, and its alerts go to Kafka through the
 * sink. Undecodable records go to the dead-letter topic.
 *
 * When Valkey is unreachable the member pauses its partitions, keeps its
 * deltas, and retries with capped exponential backoff: memory stays bounded
 * (nothing new is read) and nothing is lost.
 *
 * The billing topic has its own loop on a second thread
 * (billing_pipeline.c), started and stopped with this one.
 *
 * SIGHUP reloads the metadata file (a bad file keeps the old one); silences
 * and expected events are re-read from Valkey every 30 s, so an
 * `edgewatch silence add` takes effect within that time on every member.
 */
#include "edgewatch/pipeline.h"
#include "edgewatch/billing_pipeline.h"
#include "edgewatch/core.h"
#include "edgewatch/sink.h"
#include "edgewatch/source.h"
#include "edgewatch/state.h"
#include "edgewatch/suppress.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ASSIGNED 1024
#define SUPPRESSIONS_REFRESH_MS 30000

/* The billing half, on its own thread: told to stop, and to reload the
 * metadata when SIGHUP reloads it here. */
typedef struct {
    const ew_config *cfg;
    atomic_bool stop, reload;
    pthread_t thread;
    bool started;
    int rc;
} billing_thread;

typedef struct {
    const ew_config *cfg;
    ew_core *core;
    ew_state *state;
    ew_sink *sink;
    ew_source *source;
    ew_suppressions suppressions;
    int64_t suppressions_at; /* monotonic time of the last refresh attempt */
    volatile sig_atomic_t *reload;
    billing_thread *billing;
    bool dead_letters_pending;
    bool config_error;
    ew_source_outage outage;
    int64_t last_flush;
} pipeline;

/* ---- flush ---- */

static ew_state_status flush(pipeline *p, bool ship_all)
{
    p->last_flush = ew_mono_ms();
    /* A dead letter must be in Kafka before its offset is recorded as done. */
    if (p->dead_letters_pending && !ew_sink_flush(p->sink, 10000))
        return EW_STATE_DOWN;
    p->dead_letters_pending = false;
    ew_flush_partition parts[MAX_ASSIGNED];
    size_t n;
    int32_t refused_p = -1;
    int64_t refused_off = -1;
    ew_state_status st = ew_core_flush(p->core, ship_all, parts, MAX_ASSIGNED, &n, &refused_p, &refused_off);
    ew_source_settle(p->source, p->state, st, parts, n, refused_p, refused_off);
    return st;
}

static void enter_outage(pipeline *p) { ew_source_outage_enter(p->source, &p->outage, ew_state_last_error(p->state)); }
static void leave_outage(pipeline *p) { ew_source_outage_leave(p->source, &p->outage); }

/* ---- records ---- */

static void handle_record(pipeline *p, const rd_kafka_message_t *m)
{
    ew_decode_error reason;
    ew_fold_status st = ew_core_fold(p->core, m->partition, m->offset, m->payload, m->len, &reason);
    if (st == EW_FOLD_FULL && flush(p, true) == EW_STATE_OK)
        st = ew_core_fold(p->core, m->partition, m->offset, m->payload, m->len, &reason);
    if (st == EW_FOLD_DEAD_LETTER) {
        ew_sink_dead_letter(p->sink, m, ew_decode_error_name(reason));
        p->dead_letters_pending = true;
    } else if (st == EW_FOLD_FULL) {
        /* Table full and the flush failed or was refused: read this record
         * again later rather than drop it. */
        ew_source_seek(p->source, m->partition, m->offset);
        enter_outage(p);
    }
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

/* ---- alerts to Kafka ---- */

static bool alert_to_kafka(void *ctx, const char *alert_id, const char *json)
{
    return ew_sink_alert(ctx, alert_id, json);
}

static bool alerts_in_kafka(void *ctx) { return ew_sink_flush(ctx, 10000); }

/* ---- rebalance hooks ---- */

static void on_revoking(void *opaque, const rd_kafka_topic_partition_list_t *parts, bool lost)
{
    pipeline *p = opaque;
    (void)parts;
    if (!lost && flush(p, true) != EW_STATE_OK)
        ew_warn("could not flush before giving up partitions; the next owner replays them");
    ew_core_unassign_all(p->core);
}

static void on_assigning(void *opaque, rd_kafka_topic_partition_list_t *parts)
{
    pipeline *p = opaque;
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
        ew_core_assign(p->core, tp->partition, known ? wm[i] : INT64_MIN);
        if (known && next[i] >= 0)
            tp->offset = next[i];
    }
}

/* ---- metadata and suppressions ---- */

static void refresh_suppressions(pipeline *p)
{
    if (ew_suppressions_refresh(p->cfg, &p->suppressions, &p->suppressions_at, SUPPRESSIONS_REFRESH_MS))
        ew_core_set_suppressions(p->core, &p->suppressions);
}

static void reload_metadata(pipeline *p)
{
    char err[512];
    *p->reload = 0;
    atomic_store(&p->billing->reload, true);
    if (ew_core_reload_metadata(p->core, err, sizeof err))
        ew_info("metadata reloaded from %s", p->cfg->metadata_path ? p->cfg->metadata_path : "(none)");
    else
        ew_error("metadata reload failed, keeping the previous one: %s", err);
}

static void score_closed(pipeline *p)
{
    refresh_suppressions(p);
    ew_core_score_closed(p->core);
}

/* ---- main loop ---- */

static void step(pipeline *p)
{
    if (*p->reload)
        reload_metadata(p);
    rd_kafka_message_t *m = ew_source_poll(p->source, 100);
    if (m)
        handle_message(p, m);
    ew_sink_poll(p->sink);
    int64_t now = ew_mono_ms();
    if (p->outage.paused) {
        if (now < p->outage.retry_at)
            return;
        if (flush(p, false) == EW_STATE_DOWN) {
            enter_outage(p);
            return;
        }
        leave_outage(p);
    }
    bool full = ew_core_full(p->core);
    if (now - p->last_flush >= p->cfg->flush_interval_ms || full) {
        if (flush(p, full) == EW_STATE_DOWN) {
            enter_outage(p);
            return;
        }
        score_closed(p);
    }
}

static bool open_stages(pipeline *p, const ew_config *cfg)
{
    char err[512];
    p->cfg = cfg;
    p->state = ew_state_open(cfg);
    if (!(p->sink = ew_sink_new(cfg, err, sizeof err))) {
        ew_error("kafka producer: %s", err);
        return false;
    }
    ew_core_output out = {p->sink, alert_to_kafka, alerts_in_kafka};
    if (!(p->core = ew_core_new(cfg, p->state, cfg->topic_cloudfront, out, false, err, sizeof err))) {
        ew_error("%s", err);
        p->config_error = true; /* metadata or schemas: exit 2, like any bad configuration */
        return false;
    }
    ew_source_hooks hooks = {p, on_revoking, on_assigning};
    if (!(p->source = ew_source_new(cfg, cfg->topic_cloudfront, NULL, &hooks, err, sizeof err))) {
        ew_error("kafka consumer: %s", err);
        return false;
    }
    return true;
}

static void close_stages(pipeline *p)
{
    if (p->source)
        ew_source_close(p->source);
    ew_sink_free(p->sink);
    ew_core_free(p->core);
    ew_state_close(p->state);
    ew_suppressions_free(&p->suppressions);
}

/* ---- the billing half, on its own thread ---- */

static void *run_billing(void *arg)
{
    billing_thread *b = arg;
    b->rc = ew_billing_pipeline_run(b->cfg, &b->stop, &b->reload);
    return NULL;
}

static void start_billing(billing_thread *b, const ew_config *cfg)
{
    b->cfg = cfg;
    atomic_init(&b->stop, false);
    atomic_init(&b->reload, false);
    b->started = cfg->billing_enabled && pthread_create(&b->thread, NULL, run_billing, b) == 0;
    if (cfg->billing_enabled && !b->started)
        ew_error("could not start the billing consumer thread");
}

static int stop_billing(billing_thread *b)
{
    if (!b->started)
        return EW_EXIT_OK;
    atomic_store(&b->stop, true);
    pthread_join(b->thread, NULL);
    return b->rc;
}

int ew_pipeline_run(const ew_config *cfg, volatile sig_atomic_t *stop, volatile sig_atomic_t *reload)
{
    pipeline p;
    billing_thread billing = {0};
    memset(&p, 0, sizeof p);
    p.reload = reload;
    p.billing = &billing;
    ew_suppressions_init(&p.suppressions);
    if (!open_stages(&p, cfg)) {
        close_stages(&p);
        return p.config_error ? EW_EXIT_USAGE : EW_EXIT_RUNTIME;
    }
    ew_info("consuming %s as group %s; state at %s:%d prefix %s", cfg->topic_cloudfront,
            ew_config_kafka_get(cfg, "group.id"), cfg->valkey_host, cfg->valkey_port, cfg->prefix);
    p.last_flush = ew_mono_ms();
    start_billing(&billing, cfg);
    while (!*stop)
        step(&p);
    if (!p.outage.paused && flush(&p, true) == EW_STATE_OK)
        score_closed(&p);
    ew_core_log_summary(p.core);
    close_stages(&p);
    return stop_billing(&billing);
}
