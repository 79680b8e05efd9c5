/* gen_kafka.h -- the generators' Kafka producer (tools/gen_kafka.c).
 *
 * `edgewatch gen --to-kafka` streams millions of records: produce never
 * blocks for long (a full local queue is drained by serving delivery
 * reports), delivery reports are counted rather than logged one by one,
 * and closing waits for every message and says how many were lost.
 */
#ifndef EDGEWATCH_GEN_KAFKA_H
#define EDGEWATCH_GEN_KAFKA_H

#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct {
    rd_kafka_t *rk; /* NULL when not open */
    const char *topic;
    const char *bootstrap;
    uint64_t sent, delivered, failed;
    rd_kafka_resp_err_t first_error;
} ew_gen_producer;

/* extra: NULL-terminated key, value pairs applied after the defaults
 * (linger.ms 50, message.timeout.ms 30000). One error line on failure. */
bool ew_gen_producer_open(ew_gen_producer *p, const char *bootstrap, const char *topic, const char *const *extra);
/* Copies the message; false once any delivery has failed. */
bool ew_gen_produce(ew_gen_producer *p, const void *key, size_t key_len, const void *value, size_t len);
/* Waits up to 30 s for every delivery, reports what was lost, and frees. */
bool ew_gen_producer_close(ew_gen_producer *p);

#endif
