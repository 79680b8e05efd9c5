/* window.h -- event time to windows, and per-partition watermarks.
 *
 * A record belongs to window floor(ts / width). Each partition's watermark
 * is the largest event time it has delivered minus the allowed lateness; a
 * record whose window ended at or before its partition's watermark is late:
 * it still counts toward the stored totals but does not reopen scoring.
 * Everything is driven by event time so a replay behaves like live traffic.
 */
#ifndef EDGEWATCH_WINDOW_H
#define EDGEWATCH_WINDOW_H

#include "edgewatch/common.h"

#define EW_WM_NONE INT64_MIN

typedef struct {
    int64_t max_event_ms; /* EW_WM_NONE until the first record */
    int64_t from_offset;  /* first offset not yet flushed, -1 if none pending */
    int64_t next_offset;  /* offset after the last record consumed */
    bool assigned;
} ew_partition_clock;

typedef struct {
    int64_t width_ms;
    int64_t lateness_ms;
    ew_partition_clock *parts; /* indexed by partition number */
    size_t n_parts;
} ew_windows;

void ew_windows_init(ew_windows *w, int64_t width_ms, int64_t lateness_ms);
void ew_windows_free(ew_windows *w);
/* Grows the table to hold partition p; called on assignment, not per record. */
ew_partition_clock *ew_windows_partition(ew_windows *w, int32_t p);

static inline int64_t ew_window_start(int64_t ts_ms, int64_t width_ms)
{
    int64_t q = ts_ms / width_ms;
    if (ts_ms < 0 && q * width_ms != ts_ms)
        q--;
    return q * width_ms;
}

int64_t ew_watermark(const ew_windows *w, const ew_partition_clock *pc);
/* Records one event of partition pc at offset; returns true if it is late. */
bool ew_windows_observe(ew_windows *w, ew_partition_clock *pc, int64_t ts_ms, int64_t offset);

#endif
