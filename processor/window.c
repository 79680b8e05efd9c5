/* window.c -- per-partition event-time clocks.
 *
 * The partition table is indexed by partition number; it only grows on
 * assignment, so observing a record is two comparisons and no allocation.
 */
#include "edgewatch/window.h"

#include <stdlib.h>
#include <string.h>

void ew_windows_init(ew_windows *w, int64_t width_ms, int64_t lateness_ms)
{
    memset(w, 0, sizeof *w);
    w->width_ms = width_ms;
    w->lateness_ms = lateness_ms;
}

void ew_windows_free(ew_windows *w)
{
    free(w->parts);
    w->parts = NULL;
    w->n_parts = 0;
}

ew_partition_clock *ew_windows_partition(ew_windows *w, int32_t p)
{
    if (p < 0)
        return NULL;
    if ((size_t)p >= w->n_parts) {
        size_t n = (size_t)p + 1;
        w->parts = realloc(w->parts, n * sizeof *w->parts);
        for (size_t i = w->n_parts; i < n; i++)
            w->parts[i] = (ew_partition_clock){EW_WM_NONE, -1, -1, false};
        w->n_parts = n;
    }
    return &w->parts[p];
}

int64_t ew_watermark(const ew_windows *w, const ew_partition_clock *pc)
{
    return pc->max_event_ms == EW_WM_NONE ? EW_WM_NONE : pc->max_event_ms - w->lateness_ms;
}

bool ew_windows_observe(ew_windows *w, ew_partition_clock *pc, int64_t ts_ms, int64_t offset)
{
    int64_t wm = ew_watermark(w, pc);
    bool late = wm != EW_WM_NONE && ew_window_start(ts_ms, w->width_ms) + w->width_ms <= wm;
    if (pc->max_event_ms == EW_WM_NONE || ts_ms > pc->max_event_ms)
        pc->max_event_ms = ts_ms;
    if (pc->from_offset < 0)
        pc->from_offset = offset;
    pc->next_offset = offset + 1;
    return late;
}
