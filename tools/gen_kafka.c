/* gen_kafka.c -- the generators' Kafka producer (gen_kafka.h). */
#include "edgewatch/gen_kafka.h"
#include "edgewatch/common.h"

#include <inttypes.h>
#include <string.h>

#define FLUSH_TIMEOUT_MS 30000

/* Counts delivery reports; the producer struct is the opaque, not a global. */
static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque)
{
    (void)rk;
    ew_gen_producer *p = opaque;
    if (msg->err) {
        if (p->failed++ == 0)
            p->first_error = msg->err;
    } else {
        p->delivered++;
    }
}

static bool set_conf(rd_kafka_conf_t *conf, const char *key, const char *value)
{
    char err[256];
    if (rd_kafka_conf_set(conf, key, value, err, sizeof err) != RD_KAFKA_CONF_OK) {
        ew_error("gen: kafka config %s=%s: %s", key, value, err);
        return false;
    }
    return true;
}

bool ew_gen_producer_open(ew_gen_producer *p, const char *bootstrap, const char *topic, const char *const *extra)
{
    /* Small linger batches well without delaying a short run; the flush
     * window bounds message.timeout.ms so a dead broker fails the run. */
    static const char *const defaults[] = {"linger.ms", "50", "message.timeout.ms", "30000", NULL};
    memset(p, 0, sizeof *p);
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    bool ok = set_conf(conf, "bootstrap.servers", bootstrap);
    for (size_t i = 0; ok && defaults[i]; i += 2)
        ok = set_conf(conf, defaults[i], defaults[i + 1]);
    for (size_t i = 0; ok && extra && extra[i]; i += 2)
        ok = set_conf(conf, extra[i], extra[i + 1]);
    if (!ok) {
        rd_kafka_conf_destroy(conf);
        return false;
    }
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_opaque(conf, p);
    char err[512];
    p->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (!p->rk) {
        rd_kafka_conf_destroy(conf);
        ew_error("gen: cannot create kafka producer: %s", err);
        return false;
    }
    p->topic = topic;
    p->bootstrap = bootstrap;
    return true;
}

bool ew_gen_produce(ew_gen_producer *p, const void *key, size_t key_len, const void *value, size_t len)
{
    p->sent++;
    for (;;) {
        rd_kafka_resp_err_t err = rd_kafka_producev(
            p->rk, RD_KAFKA_V_TOPIC(p->topic), RD_KAFKA_V_KEY((void *)key, key_len),
            RD_KAFKA_V_VALUE((void *)value, len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
        if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
            rd_kafka_poll(p->rk, 0);
            return p->failed == 0;
        }
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            ew_error("gen: produce to %s failed: %s", p->topic, rd_kafka_err2str(err));
            return false;
        }
        /* The local queue is full: serve delivery reports to drain it. */
        rd_kafka_poll(p->rk, 100);
        if (p->failed)
            return false;
    }
}

bool ew_gen_producer_close(ew_gen_producer *p)
{
    if (!p->rk)
        return true;
    rd_kafka_flush(p->rk, FLUSH_TIMEOUT_MS);
    uint64_t pending = (uint64_t)rd_kafka_outq_len(p->rk);
    bool ok = pending == 0 && p->failed == 0;
    if (!ok)
        ew_error("gen: %" PRIu64 " of %" PRIu64 " messages not delivered to topic %s at %s (%" PRIu64
                 " failed: %s; %" PRIu64 " still queued after %d s)",
                 p->sent - p->delivered, p->sent, p->topic, p->bootstrap, p->failed,
                 p->failed ? rd_kafka_err2str(p->first_error) : "-", pending, FLUSH_TIMEOUT_MS / 1000);
    rd_kafka_destroy(p->rk);
    p->rk = NULL;
    return ok;
}
