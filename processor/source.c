/* source.c -- librdkafka consumer with an externally-owned offset store.
 *
 * The rebalance callback is where effectively-once starts: on revoke the
 * pipeline flushes (or discards, when the assignment was lost) before the
 * partitions go, and on assign it rewrites the start offsets with those
 * recorded in Valkey before calling rd_kafka_assign().
 */
#include "edgewatch/source.h"
#include "edgewatch/common.h"

#include <stdlib.h>
#include <string.h>

struct ew_source {
    rd_kafka_t *rk;
    char *topic;
    ew_source_hooks hooks;
};

static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    ew_source *s = opaque;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        s->hooks.assigning(s->hooks.opaque, parts);
        ew_info("assigned %d partition(s) of %s", parts->cnt, s->topic);
        rd_kafka_assign(rk, parts);
    } else {
        s->hooks.revoking(s->hooks.opaque, parts, rd_kafka_assignment_lost(rk) != 0);
        ew_info("revoked %d partition(s) of %s", parts->cnt, s->topic);
        rd_kafka_assign(rk, NULL);
    }
}

ew_source *ew_source_new(const ew_config *cfg, const char *topic, const char *group_id, const ew_source_hooks *hooks,
                         char *err, size_t errcap)
{
    const char *extra[] = {
        "enable.auto.offset.store", "false",
        "enable.auto.commit", "true",
        "auto.offset.reset", "earliest",
        "partition.assignment.strategy", "range,roundrobin",
        group_id ? "group.id" : NULL, group_id,
        NULL, NULL,
    };
    rd_kafka_conf_t *conf = ew_config_kafka(cfg, extra, err, errcap);
    if (!conf)
        return NULL;
    ew_source *s = calloc(1, sizeof *s);
    s->hooks = *hooks;
    s->topic = strdup(topic);
    rd_kafka_conf_set_opaque(conf, s);
    rd_kafka_conf_set_rebalance_cb(conf, on_rebalance);
    s->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, errcap);
    if (!s->rk) {
        free(s->topic);
        free(s);
        return NULL;
    }
    rd_kafka_poll_set_consumer(s->rk);
    rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(sub, topic, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t e = rd_kafka_subscribe(s->rk, sub);
    rd_kafka_topic_partition_list_destroy(sub);
    if (e) {
        snprintf(err, errcap, "subscribe to %s: %s", topic, rd_kafka_err2str(e));
        rd_kafka_destroy(s->rk);
        free(s->topic);
        free(s);
        return NULL;
    }
    return s;
}

void ew_source_close(ew_source *s)
{
    if (!s)
        return;
    rd_kafka_consumer_close(s->rk);
    rd_kafka_destroy(s->rk);
    free(s->topic);
    free(s);
}

rd_kafka_message_t *ew_source_poll(ew_source *s, int timeout_ms) { return rd_kafka_consumer_poll(s->rk, timeout_ms); }

const char *ew_source_topic(const ew_source *s) { return s->topic; }

bool ew_source_store_offset(ew_source *s, int32_t partition, int64_t next_offset)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, s->topic, partition)->offset = next_offset;
    rd_kafka_resp_err_t e = rd_kafka_offsets_store(s->rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    return e == RD_KAFKA_RESP_ERR_NO_ERROR;
}

void ew_source_pause_all(ew_source *s, bool pause)
{
    rd_kafka_topic_partition_list_t *assigned = NULL;
    if (rd_kafka_assignment(s->rk, &assigned) || !assigned)
        return;
    if (pause)
        rd_kafka_pause_partitions(s->rk, assigned);
    else
        rd_kafka_resume_partitions(s->rk, assigned);
    rd_kafka_topic_partition_list_destroy(assigned);
}

bool ew_source_seek(ew_source *s, int32_t partition, int64_t offset)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, s->topic, partition)->offset = offset;
    rd_kafka_error_t *e = rd_kafka_seek_partitions(s->rk, l, 5000);
    bool ok = !e && !l->elems[0].err;
    if (e) {
        ew_warn("seek %s[%d] to %lld: %s", s->topic, partition, (long long)offset, rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
    }
    rd_kafka_topic_partition_list_destroy(l);
    return ok;
}

void ew_source_settle(ew_source *s, ew_state *state, ew_state_status st, const ew_flush_partition *parts, size_t n,
                      int32_t refused_partition, int64_t refused_offset)
{
    if (st == EW_STATE_OK) {
        for (size_t i = 0; i < n; i++)
            ew_source_store_offset(s, parts[i].partition, parts[i].next_offset);
        return;
    }
    if (st != EW_STATE_REFUSED)
        return;
    ew_warn("flush of %s refused: partition %d already applied up to offset %lld; rewinding", s->topic,
            refused_partition, (long long)refused_offset);
    for (size_t i = 0; i < n; i++) {
        int64_t next = -1, wm;
        if (ew_state_partition(state, s->topic, parts[i].partition, &next, &wm) != EW_STATE_OK || next < 0)
            next = parts[i].from_offset;
        ew_source_seek(s, parts[i].partition, next);
    }
}

#define OUTAGE_FIRST_DELAY_MS 250
#define OUTAGE_MAX_DELAY_MS 30000

void ew_source_outage_enter(ew_source *s, ew_source_outage *o, const char *why)
{
    if (!o->paused) {
        ew_warn("state store unavailable (%s); pausing consumption of %s", why, s->topic);
        ew_source_pause_all(s, true);
        o->paused = true;
        o->delay_ms = OUTAGE_FIRST_DELAY_MS;
    } else {
        o->delay_ms = o->delay_ms * 2 > OUTAGE_MAX_DELAY_MS ? OUTAGE_MAX_DELAY_MS : o->delay_ms * 2;
    }
    o->retry_at = ew_mono_ms() + o->delay_ms;
}

void ew_source_outage_leave(ew_source *s, ew_source_outage *o)
{
    if (o->paused) {
        ew_info("state store reachable again; resuming consumption of %s", s->topic);
        ew_source_pause_all(s, false);
        o->paused = false;
    }
}
