/* sink.h -- everything edgewatch writes to Kafka: alerts and dead letters.
 *
 * One idempotent producer serves both topics. Delivery failures are counted
 * rather than dropped on the floor: callers flush and check before they let
 * an input offset or a scoring claim move past what was written.
 */
#ifndef EDGEWATCH_SINK_H
#define EDGEWATCH_SINK_H

#include "edgewatch/config.h"

#include <librdkafka/rdkafka.h>

typedef struct ew_sink ew_sink;

ew_sink *ew_sink_new(const ew_config *cfg, char *err, size_t errcap);
void ew_sink_free(ew_sink *s);
/* Produces one alert event keyed by its alert_id. json is the text of
 * ew_alert_json; it goes out as is, or as Avro (schemas/alert_event.avsc,
 * framed with alerts.schema_id when >= 0) when alerts.format is "avro". */
bool ew_sink_alert(ew_sink *s, const char *alert_id, const char *json);
/* Copies the original record to the DLQ with headers naming its source
 * topic, partition, offset and the reason. */
bool ew_sink_dead_letter(ew_sink *s, const rd_kafka_message_t *m, const char *reason);
/* The same for a record held by value (the notifier keeps copies): headers
 * name source_topic, partition and offset, and the reason. */
bool ew_sink_dead_letter_copy(ew_sink *s, const char *dlq_topic, const char *source_topic, int32_t partition,
                              int64_t offset, const void *key, size_t key_len, const void *value, size_t len,
                              const char *reason);
/* Waits for outstanding deliveries; true if all since the last call succeeded.
 * Test hook: with EDGEWATCH_FAILPOINT=alerts_flushed:N in the environment
 * when the sink was made, the process SIGKILLs itself here once N alert
 * events have been acknowledged (docs/alerts.md, "Testing"). */
bool ew_sink_flush(ew_sink *s, int timeout_ms);
void ew_sink_poll(ew_sink *s);

#endif
