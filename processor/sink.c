/* sink.c -- the producer for alert events and dead letters.
 *
 * Idempotence is on so a retried produce never duplicates inside Kafka;
 * alert ids are deterministic so a re-scored window repeats its events
 * rather than inventing new ones (consumers dedupe on event_id). Alerts go
 * out as JSON text, or as Avro when alerts.format says so (docs/alerts.md).
 */
#include "edgewatch/sink.h"
#include "edgewatch/alert_avro.h"
#include "edgewatch/common.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ew_sink {
    rd_kafka_t *rk;
    const ew_config *cfg;
    ew_alert_codec *avro; /* alerts.format avro; NULL: JSON */
    uint64_t failed;      /* deliveries that failed since the last flush */
    uint64_t produced;
    uint64_t alerts_acked; /* alert events the broker acknowledged */
    uint64_t kill_after;   /* test hook EDGEWATCH_FAILPOINT=alerts_flushed:N; 0 = off */
};

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    ew_sink *s = opaque;
    if (m->err) {
        s->failed++;
        ew_warn("delivery to %s failed: %s", rd_kafka_topic_name(m->rkt), rd_kafka_err2str(m->err));
    } else if (strcmp(rd_kafka_topic_name(m->rkt), s->cfg->topic_alerts) == 0) {
        s->alerts_acked++;
    }
}

/* The crash tests' hook (docs/alerts.md, "Testing"): with
 * EDGEWATCH_FAILPOINT=alerts_flushed:N the process SIGKILLs itself in the
 * first ew_sink_flush that finds N alert events acknowledged. The events
 * are then durable, but the caller has not yet committed the scoring state
 * and claim that the flush guards: the worst moment to die. */
static uint64_t failpoint_from_env(void)
{
    const char *v = getenv("EDGEWATCH_FAILPOINT");
    if (!v || !*v)
        return 0;
    char *end = NULL;
    unsigned long long n = strncmp(v, "alerts_flushed:", 15) == 0 ? strtoull(v + 15, &end, 10) : 0;
    if (n == 0 || !end || *end) {
        ew_warn("EDGEWATCH_FAILPOINT=%s is not alerts_flushed:N with N >= 1; ignored", v);
        return 0;
    }
    ew_warn("failpoint armed: SIGKILL once %llu alert events are acknowledged (EDGEWATCH_FAILPOINT)", n);
    return n;
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
    /* Compiled once: each alert is then one conversion through the schema. */
    if (strcmp(cfg->alerts_format, "avro") == 0 && !(s->avro = ew_alert_codec_new(err, errcap))) {
        rd_kafka_conf_destroy(conf);
        free(s);
        return NULL;
    }
    rd_kafka_conf_set_opaque(conf, s);
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    s->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, errcap);
    if (!s->rk) {
        ew_alert_codec_free(s->avro);
        free(s);
        return NULL;
    }
    s->kill_after = failpoint_from_env();
    return s;
}

void ew_sink_free(ew_sink *s)
{
    if (!s)
        return;
    rd_kafka_flush(s->rk, 10000);
    rd_kafka_destroy(s->rk);
    ew_alert_codec_free(s->avro);
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
    if (!s->avro)
        return produce(s, NULL, s->cfg->topic_alerts, alert_id, strlen(alert_id), json, strlen(json));
    unsigned char *avro = NULL;
    char err[256];
    long n = ew_alert_to_avro(s->avro, json, s->cfg->alerts_schema_id, &avro, err, sizeof err);
    if (n < 0) {
        /* The event and schemas/alert_event.avsc disagree: a bug, not bad
         * input. Failing the flush keeps the window unscored for a retry. */
        ew_error("alert %s does not fit the Avro schema: %s", alert_id, err);
        s->failed++;
        return false;
    }
    bool ok = produce(s, NULL, s->cfg->topic_alerts, alert_id, strlen(alert_id), avro, (size_t)n);
    free(avro);
    return ok;
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
    if (s->kill_after && s->alerts_acked >= s->kill_after) {
        ew_warn("failpoint: %llu alert events acknowledged, SIGKILL before the caller commits",
                (unsigned long long)s->alerts_acked);
        raise(SIGKILL);
    }
    bool ok = e == RD_KAFKA_RESP_ERR_NO_ERROR && s->failed == 0;
    s->failed = 0;
    return ok;
}

void ew_sink_poll(ew_sink *s) { rd_kafka_poll(s->rk, 0); }
