/* source.h -- the consumer-group member that reads the input topic.
 *
 * Offsets are owned by the state store, not by Kafka: on assignment the
 * pipeline supplies each partition's start offset (read from Valkey) and
 * Kafka offsets are stored only after Valkey acknowledged a flush. The
 * eager assignors are used because librdkafka 2.0.2 has known defects with
 * cooperative rebalancing and manual offset storage (platform.md).
 */
#ifndef EDGEWATCH_SOURCE_H
#define EDGEWATCH_SOURCE_H

#include "edgewatch/config.h"
#include "edgewatch/state.h"

#include <librdkafka/rdkafka.h>

typedef struct {
    void *opaque;
    /* Called before partitions are given up; lost is true when the group
     * already took them (nothing unflushed may be written then). */
    void (*revoking)(void *opaque, const rd_kafka_topic_partition_list_t *parts, bool lost);
    /* Sets .offset of each partition to where consumption must resume. */
    void (*assigning)(void *opaque, rd_kafka_topic_partition_list_t *parts);
} ew_source_hooks;

typedef struct ew_source ew_source;

/* group_id NULL: the configured group.id. */
ew_source *ew_source_new(const ew_config *cfg, const char *topic, const char *group_id, const ew_source_hooks *hooks,
                         char *err, size_t errcap);
/* Leaves the group cleanly (revoking hook runs), then frees. */
void ew_source_close(ew_source *s);
rd_kafka_message_t *ew_source_poll(ew_source *s, int timeout_ms);
bool ew_source_store_offset(ew_source *s, int32_t partition, int64_t next_offset);
void ew_source_pause_all(ew_source *s, bool pause);
bool ew_source_seek(ew_source *s, int32_t partition, int64_t offset);
const char *ew_source_topic(const ew_source *s);

/* After a flush of records read by s (st, and the batch's partitions as
 * the flush returned them): OK stores their offsets for Kafka to commit;
 * REFUSED means the state store holds other offsets, so each partition is
 * sought back to where the store says it was applied up to (the batch's
 * start when it cannot tell). */
void ew_source_settle(ew_source *s, ew_state *state, ew_state_status st, const ew_flush_partition *parts, size_t n,
                      int32_t refused_partition, int64_t refused_offset);

/* The state store is down: consumption pauses (memory stays bounded, the
 * unflushed batch is kept) and the flush is retried with capped
 * exponential backoff from 250 ms to 30 s. */
typedef struct {
    bool paused;
    int64_t delay_ms;
    int64_t retry_at; /* monotonic ms */
} ew_source_outage;

void ew_source_outage_enter(ew_source *s, ew_source_outage *o, const char *why);
void ew_source_outage_leave(ew_source *s, ew_source_outage *o);

#endif
