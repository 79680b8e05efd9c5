/* sink.c -- the producer for alert events and dead letters.
 *
 * Idempotence is on so a retried produce never duplicates inside Kafka;
 * alert ids are deterministic so a re-scored window repeats its events
 * rather than inventing new ones (consumers dedupe on event_id).
 */
#include "edgewatch/sink.h"
#include "edgewatch/common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ew_sink {
    rd_kafka_t *rk;
    const ew_config *cfg;
    uint64_t failed;   /* deliveries that failed since the last flush */
    uint64_t produced;
};

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    ew_sink *s = opaque;
    if (m->err) {
        s->failed++;
        ew_warn("delivery to %s failed: %s", rd_kafka_topic_name(m->rkt), rd_kafka_err2str(m->err));
    }
}

ew_sink *ew_sink_new(const ew_config *cfg, char *err, size_t errcap)
{
    static const char *const extra[] = {"enable.idempotence", "true", "linger.ms", "5", NULL, NULL};
    rd_kafka_conf_t *conf = ew_config_kafka(cfg, extra, err, errcap);
    if (!conf)
        return NULL;
    /* group.id and consumer-only keys in the shared "kafka" block are
     * harmless to a producer except for warnings; silence them. */
    rd_kafka_conf_set(conf, "log_level", "3", NULL, 0);
    ew_sink *s = calloc(1, sizeof *s);
    s->cfg = cfg;
    rd_kafka_conf_set_opaque(conf, s);
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    s->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, errcap);
    if (!s->rk) {
        free(s);
        return NULL;
    }
    return s;
}

void ew_sink_free(ew_sink *s)
{
    if (!s)
        return;
    rd_kafka_flush(s->rk, 10000);
    rd_kafka_destroy(s->rk);
    free(s);
}

static bool produce(ew_sink *s, rd_kafka_headers_t *hdrs, const char *topic, const void *key, size_t key_len,
                    const void *value, size_t len)
{
    for (int attempt = 0; attempt < 100; attempt++) {
        rd_kafka_resp_err_t e = rd_kafka_producev(
            s->rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, key_len),
            RD_KAFKA_V_VALUE((void *)value, len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_END);
        if (e == RD_KAFKA_RESP_ERR_NO_ERROR) {
            s->produced++;
            return true;
        }
        if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            ew_warn("produce to %s: %s", topic, rd_kafka_err2str(e));
            break;
        }
        rd_kafka_poll(s->rk, 100);
    }
    if (hdrs)
        rd_kafka_headers_destroy(hdrs);
    s->failed++;
    return false;
}

bool ew_sink_alert(ew_sink *s, const char *alert_id, const char *json)
{
    return produce(s, NULL, s->cfg->topic_alerts, alert_id, strlen(alert_id), json, strlen(json));
}

bool ew_sink_dead_letter_copy(ew_sink *s, const char *dlq_topic, const char *source_topic, int32_t partition,
                              int64_t offset, const void *key, size_t key_len, const void *value, size_t len,
                              const char *reason)
{
    char partition_text[16], offset_text[24];
    snprintf(partition_text, sizeof partition_text, "%d", (int)partition);
    snprintf(offset_text, sizeof offset_text, "%lld", (long long)offset);
    rd_kafka_headers_t *h = rd_kafka_headers_new(4);
    rd_kafka_header_add(h, "edgewatch.source.topic", -1, source_topic, -1);
    rd_kafka_header_add(h, "edgewatch.source.partition", -1, partition_text, -1);
    rd_kafka_header_add(h, "edgewatch.source.offset", -1, offset_text, -1);
    rd_kafka_header_add(h, "edgewatch.reason", -1, reason, -1);
    return produce(s, h, dlq_topic, key, key_len, value, len);
}

bool ew_sink_dead_letter(ew_sink *s, const rd_kafka_message_t *m, const char *reason)
{
    return ew_sink_dead_letter_copy(s, s->cfg->topic_dlq, rd_kafka_topic_name(m->rkt), m->partition, m->offset,
                                    m->key, m->key_len, m->payload, m->len, reason);
}

bool ew_sink_flush(ew_sink *s, int timeout_ms)
{
    rd_kafka_resp_err_t e = rd_kafka_flush(s->rk, timeout_ms);
    bool ok = e == RD_KAFKA_RESP_ERR_NO_ERROR && s->failed == 0;
    s->failed = 0;
    return ok;
}

void ew_sink_poll(ew_sink *s) { rd_kafka_poll(s->rk, 0); }
