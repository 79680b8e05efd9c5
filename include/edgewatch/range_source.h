/* range_source.h -- every partition of a topic between two times, read
 * once, outside any consumer group.
 *
 * For `edgewatch replay --from T --to T`. Partitions are assigned by hand
 * (no group join, no offset commit), so a replay never moves the live
 * group's offsets. Each partition starts at the offset the broker gives for
 * --from (rd_kafka_offsets_for_times) and stops at the one it gives for
 * --to, or at the partition's end as of the start. Where the broker has no
 * answer for a time (offset -1: no record at or after it, or a broker that
 * does not look offsets up by time, like the embedded one), the partition
 * starts at its log start and stops at its end; the caller drops records
 * outside the range by their event time. Partitions are read one after
 * the other in partition order, so the sequence of records, and with it
 * every top-contributors sketch, is the same on every run.
 */
#ifndef EDGEWATCH_RANGE_SOURCE_H
#define EDGEWATCH_RANGE_SOURCE_H

#include "edgewatch/config.h"

#include <librdkafka/rdkafka.h>

typedef struct ew_range_source ew_range_source;

ew_range_source *ew_range_open(const ew_config *cfg, const char *topic, int64_t from_ms, int64_t to_ms, char *err,
                               size_t errcap);
void ew_range_close(ew_range_source *s);
/* The partitions to read, known after open. */
size_t ew_range_partitions(const ew_range_source *s, int32_t *out, size_t cap);
/* The next record, NULL when none came within timeout_ms. *done becomes
 * true once every partition reached its stop offset. */
rd_kafka_message_t *ew_range_next(ew_range_source *s, int timeout_ms, bool *done);
/* How many partitions fell back to log start/end (no offset for a time). */
size_t ew_range_fallbacks(const ew_range_source *s);
/* Records still to read, for progress (as of the start). */
uint64_t ew_range_total(const ew_range_source *s);

#endif
