/* billing_pipeline.c -- `edgewatch run`'s billing half: a consumer of the
 * billing topic around the billing core (billing_core.c), on its own thread.
 *
 * It is its own consumer group (billing.group_id, by default group.id +
 * "-billing"), with its own producer and state connection, so a slow
 * refresh scoring never delays the traffic loop and a rebalance of one
 * never stops the other. Offsets follow the traffic rule: they are stored
 * in Kafka only after the state store applied the batch that holds them,
 * and on assignment consumption resumes where the store says.
 *
 * A batch is flushed when it holds a refresh end (so a refresh is scored
 * as soon as its last line is in), when it is full, and every flush
 * interval. When Valkey is unreachable, consumption pauses and retries
 * with capped exponential backoff, keeping the batch.
 */
#include "edgewatch/billing_pipeline.h"
#include "edgewatch/billing_core.h"
#include "edgewatch/sink.h"
#include "edgewatch/source.h"
#include "edgewatch/state.h"
#include "edgewatch/suppress.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PARTS 256
#define SUPPRESSIONS_REFRESH_MS 30000

typedef struct {
    const ew_config *cfg;
    ew_state *state;
    ew_sink *sink;
    ew_source *source;
    ew_billing_core *core;
    ew_suppressions suppressions;
    int64_t suppressions_at;
    bool dead_letters_pending;
    ew_source_outage outage;
    int64_t last_flush;
} billing_pipeline;

static ew_state_status flush(billing_pipeline *p)
{
    p->last_flush = ew_mono_ms();
    if (p->dead_letters_pending && !ew_sink_flush(p->sink, 10000))
        return EW_STATE_DOWN;
    p->dead_letters_pending = false;
    ew_flush_partition parts[MAX_PARTS];
    size_t n = 0;
    int32_t refused_p = -1;
    int64_t refused_off = -1;
    ew_state_status st = ew_billing_core_flush(p->core, parts, MAX_PARTS, &n, &refused_p, &refused_off);
    ew_source_settle(p->source, p->state, st, parts, n, refused_p, refused_off);
    return st;
}

/* Silences cover cost alerts too; re-read as often as the traffic loop does. */
static void refresh_suppressions(billing_pipeline *p)
{
    if (ew_suppressions_refresh(p->cfg, &p->suppressions, &p->suppressions_at, SUPPRESSIONS_REFRESH_MS))
        ew_billing_core_set_suppressions(p->core, &p->suppressions);
}

static bool flush_and_score(billing_pipeline *p)
{
    if (flush(p) == EW_STATE_DOWN) {
        ew_source_outage_enter(p->source, &p->outage, ew_state_last_error(p->state));
        return false;
    }
    ew_source_outage_leave(p->source, &p->outage);
    refresh_suppressions(p);
    ew_billing_core_score(p->core);
    return true;
}

static void handle_record(billing_pipeline *p, const rd_kafka_message_t *m)
{
    ew_decode_error reason = EW_DECODE_OK;
    ew_fold_status st = ew_billing_core_fold(p->core, m->partition, m->offset, m->payload, m->len, &reason);
    if (st == EW_FOLD_FULL && flush_and_score(p))
        st = ew_billing_core_fold(p->core, m->partition, m->offset, m->payload, m->len, &reason);
    if (st == EW_FOLD_DEAD_LETTER) {
        ew_sink_dead_letter(p->sink, m, ew_decode_error_name(reason));
        p->dead_letters_pending = true;
    } else if (st == EW_FOLD_FULL) {
        ew_source_seek(p->source, m->partition, m->offset); /* read again once the store is back */
    }
}

static bool alert_to_kafka(void *ctx, const char *alert_id, const char *json)
{
    return ew_sink_alert(ctx, alert_id, json);
}

static bool alerts_in_kafka(void *ctx) { return ew_sink_flush(ctx, 10000); }

static void on_revoking(void *opaque, const rd_kafka_topic_partition_list_t *parts, bool lost)
{
    billing_pipeline *p = opaque;
    (void)parts;
    if (!lost && flush(p) != EW_STATE_OK)
        ew_warn("could not flush billing before giving up partitions; the next owner replays them");
    ew_billing_core_forget(p->core);
}

static void on_assigning(void *opaque, rd_kafka_topic_partition_list_t *parts)
{
    billing_pipeline *p = opaque;
    int32_t ids[MAX_PARTS] = {0};
    int64_t next[MAX_PARTS], wm[MAX_PARTS];
    size_t n = 0;
    for (int i = 0; i < parts->cnt && n < MAX_PARTS; i++)
        ids[n++] = parts->elems[i].partition;
    if (ew_state_partitions(p->state, p->cfg->topic_billing, ids, n, next, wm) != EW_STATE_OK)
        return; /* Kafka's committed offsets are never ahead of the store's */
    for (size_t i = 0; i < n; i++)
        if (next[i] >= 0)
            parts->elems[i].offset = next[i];
}

static void step(billing_pipeline *p)
{
    rd_kafka_message_t *m = ew_source_poll(p->source, 100);
    if (m) {
        if (!m->err)
            handle_record(p, m);
        else if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
            ew_warn("billing consumer: %s", rd_kafka_message_errstr(m));
        rd_kafka_message_destroy(m);
    }
    ew_sink_poll(p->sink);
    int64_t now = ew_mono_ms();
    if (p->outage.paused && now < p->outage.retry_at)
        return;
    if (p->outage.paused || ew_billing_core_flush_due(p->core) || now - p->last_flush >= p->cfg->flush_interval_ms)
        flush_and_score(p);
}

static void reload_metadata(billing_pipeline *p)
{
    char err[512];
    if (ew_billing_core_reload_metadata(p->core, err, sizeof err))
        ew_info("billing: metadata reloaded");
    else
        ew_error("billing: metadata reload failed, keeping the previous one: %s", err);
}

static bool open_stages(billing_pipeline *p, char *err, size_t errcap)
{
    char group[256];
    const char *configured = ew_config_kafka_get(p->cfg, "group.id");
    if (*p->cfg->billing_group)
        snprintf(group, sizeof group, "%s", p->cfg->billing_group);
    else
        snprintf(group, sizeof group, "%s-billing", configured);
    p->state = ew_state_open(p->cfg);
    if (!(p->sink = ew_sink_new(p->cfg, err, errcap)))
        return false;
    ew_core_output out = {p->sink, alert_to_kafka, alerts_in_kafka};
    if (!(p->core = ew_billing_core_new(p->cfg, p->state, p->cfg->topic_billing, out, false, err, errcap)))
        return false;
    ew_source_hooks hooks = {p, on_revoking, on_assigning};
    if (!(p->source = ew_source_new(p->cfg, p->cfg->topic_billing, group, &hooks, err, errcap)))
        return false;
    ew_info("consuming %s as group %s", p->cfg->topic_billing, group);
    return true;
}

static void close_stages(billing_pipeline *p)
{
    if (p->source)
        ew_source_close(p->source);
    ew_sink_free(p->sink);
    if (p->core)
        ew_billing_core_log_summary(p->core);
    ew_billing_core_free(p->core);
    ew_state_close(p->state);
    ew_suppressions_free(&p->suppressions);
}

int ew_billing_pipeline_run(const ew_config *cfg, const atomic_bool *stop, atomic_bool *reload)
{
    billing_pipeline p;
    char err[512];
    memset(&p, 0, sizeof p);
    p.cfg = cfg;
    ew_suppressions_init(&p.suppressions);
    if (!open_stages(&p, err, sizeof err)) {
        ew_error("billing: %s", err);
        close_stages(&p);
        return EW_EXIT_RUNTIME;
    }
    p.last_flush = ew_mono_ms();
    while (!atomic_load(stop)) {
        if (atomic_exchange(reload, false))
            reload_metadata(&p);
        step(&p);
    }
    if (!p.outage.paused)
        flush_and_score(&p);
    close_stages(&p);
    return EW_EXIT_OK;
}
