/* test_window.c -- unit tests for event-time windows and per-partition
 * watermarks (processor/window.c, include/edgewatch/window.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "edgewatch/window.h"

#define MIN 60000LL

static void test_window_start_positive(void **state)
{
    (void)state;
    assert_int_equal(ew_window_start(125000, MIN), 120000);
    assert_int_equal(ew_window_start(1607374321541LL, MIN), 1607374320000LL);
    assert_int_equal(ew_window_start(59999, MIN), 0);
    assert_int_equal(ew_window_start(1, MIN), 0);
    assert_int_equal(ew_window_start(1607374321541LL, 1000), 1607374321000LL);
    assert_int_equal(ew_window_start(1607374321541LL, 3600000), 1607371200000LL);
}

static void test_window_start_boundaries(void **state)
{
    (void)state;
    assert_int_equal(ew_window_start(0, MIN), 0);
    assert_int_equal(ew_window_start(60000, MIN), 60000);
    assert_int_equal(ew_window_start(119999, MIN), 60000);
    assert_int_equal(ew_window_start(120000, MIN), 120000);
    assert_int_equal(ew_window_start(1607374320000LL, MIN), 1607374320000LL);
    assert_int_equal(ew_window_start(1607374319999LL, MIN), 1607374260000LL);
}

static void test_window_start_negative(void **state)
{
    (void)state;
    /* floor, not truncation toward zero. */
    assert_int_equal(ew_window_start(-1, MIN), -60000);
    assert_int_equal(ew_window_start(-59999, MIN), -60000);
    assert_int_equal(ew_window_start(-60000, MIN), -60000);
    assert_int_equal(ew_window_start(-60001, MIN), -120000);
    assert_int_equal(ew_window_start(-120000, MIN), -120000);
}

static void test_partition_table(void **state)
{
    (void)state;
    ew_windows w;
    ew_windows_init(&w, MIN, MIN);
    assert_int_equal(w.width_ms, MIN);
    assert_int_equal(w.lateness_ms, MIN);
    assert_int_equal(w.n_parts, 0);
    assert_null(ew_windows_partition(&w, -1));
    ew_partition_clock *pc = ew_windows_partition(&w, 3);
    assert_non_null(pc);
    assert_int_equal(w.n_parts, 4);
    for (int32_t p = 0; p < 4; p++) {
        ew_partition_clock *c = ew_windows_partition(&w, p);
        assert_ptr_equal(c, &w.parts[p]);
        assert_true(c->max_event_ms == EW_WM_NONE);
        assert_int_equal(c->from_offset, -1);
        assert_int_equal(c->next_offset, -1);
        assert_false(c->assigned);
        assert_true(ew_watermark(&w, c) == EW_WM_NONE);
    }
    /* Asking for an existing partition does not shrink or reset the table. */
    ew_windows_partition(&w, 3)->max_event_ms = 5;
    assert_non_null(ew_windows_partition(&w, 1));
    assert_int_equal(w.n_parts, 4);
    assert_int_equal(ew_windows_partition(&w, 3)->max_event_ms, 5);
    /* Growing keeps what was there. */
    ew_windows_partition(&w, 9);
    assert_int_equal(w.n_parts, 10);
    assert_int_equal(ew_windows_partition(&w, 3)->max_event_ms, 5);
    assert_true(ew_windows_partition(&w, 9)->max_event_ms == EW_WM_NONE);
    ew_windows_free(&w);
    assert_int_equal(w.n_parts, 0);
    assert_null(w.parts);
}

static void test_watermark_is_max_event_minus_lateness(void **state)
{
    (void)state;
    ew_windows w;
    ew_windows_init(&w, MIN, 45000);
    ew_partition_clock *pc = ew_windows_partition(&w, 0);
    assert_true(ew_watermark(&w, pc) == EW_WM_NONE);
    assert_false(ew_windows_observe(&w, pc, 1000000, 0));
    assert_int_equal(pc->max_event_ms, 1000000);
    assert_int_equal(ew_watermark(&w, pc), 1000000 - 45000);
    /* An older record does not move the watermark back. */
    assert_false(ew_windows_observe(&w, pc, 990000, 1));
    assert_int_equal(ew_watermark(&w, pc), 955000);
    /* A newer one moves it forward. */
    assert_false(ew_windows_observe(&w, pc, 1010001, 2));
    assert_int_equal(ew_watermark(&w, pc), 965001);
    /* Events before the epoch work too. */
    ew_partition_clock *p1 = ew_windows_partition(&w, 1);
    pc = ew_windows_partition(&w, 0);
    assert_false(ew_windows_observe(&w, p1, -5000, 0));
    assert_int_equal(ew_watermark(&w, p1), -50000);
    assert_int_equal(ew_watermark(&w, pc), 965001);
    ew_windows_free(&w);
}

static void test_late_detection(void **state)
{
    (void)state;
    ew_windows w;
    ew_windows_init(&w, MIN, MIN);
    ew_partition_clock *pc = ew_windows_partition(&w, 0);
    /* The first record of a partition is never late. */
    assert_false(ew_windows_observe(&w, pc, 1000000, 0));
    assert_int_equal(ew_watermark(&w, pc), 940000);
    /* Window [840000, 900000) ended before the watermark: late. */
    assert_true(ew_windows_observe(&w, pc, 899999, 1));
    assert_true(ew_windows_observe(&w, pc, 840000, 2));
    assert_true(ew_windows_observe(&w, pc, 0, 3));
    /* Window [900000, 960000) is still open at watermark 940000, even for
     * a record older than the watermark itself. */
    assert_false(ew_windows_observe(&w, pc, 900000, 4));
    assert_false(ew_windows_observe(&w, pc, 930000, 5));
    assert_false(ew_windows_observe(&w, pc, 940001, 6)); /* inside lateness */
    assert_int_equal(pc->max_event_ms, 1000000);

    /* Window end exactly at the watermark is late ("at or before"). */
    assert_false(ew_windows_observe(&w, pc, 1020000, 7));
    assert_int_equal(ew_watermark(&w, pc), 960000);
    assert_true(ew_windows_observe(&w, pc, 900000, 8));  /* [900000, 960000) */
    assert_true(ew_windows_observe(&w, pc, 959999, 9));
    assert_false(ew_windows_observe(&w, pc, 960000, 10)); /* [960000, 1020000) */
    ew_windows_free(&w);
}

static void test_late_detection_zero_lateness(void **state)
{
    (void)state;
    ew_windows w;
    ew_windows_init(&w, MIN, 0);
    ew_partition_clock *pc = ew_windows_partition(&w, 0);
    assert_false(ew_windows_observe(&w, pc, 120000, 0));
    assert_true(ew_windows_observe(&w, pc, 119999, 1)); /* [60000, 120000) ended */
    assert_false(ew_windows_observe(&w, pc, 120000, 2));
    assert_false(ew_windows_observe(&w, pc, 179999, 3));
    ew_windows_free(&w);
}

static void test_watermarks_are_per_partition(void **state)
{
    (void)state;
    ew_windows w;
    ew_windows_init(&w, MIN, MIN);
    ew_windows_partition(&w, 1);
    ew_partition_clock *p0 = ew_windows_partition(&w, 0);
    ew_partition_clock *p1 = ew_windows_partition(&w, 1);
    assert_false(ew_windows_observe(&w, p0, 10000000, 0));
    /* Partition 1 has seen nothing: an old record there is on time. */
    assert_false(ew_windows_observe(&w, p1, 60000, 0));
    assert_int_equal(ew_watermark(&w, p1), 0);
    assert_int_equal(ew_watermark(&w, p0), 9940000);
    /* ...and the same record on partition 0 is late. */
    assert_true(ew_windows_observe(&w, p0, 60000, 1));
    ew_windows_free(&w);
}

static void test_offsets_tracked(void **state)
{
    (void)state;
    ew_windows w;
    ew_windows_init(&w, MIN, MIN);
    ew_partition_clock *pc = ew_windows_partition(&w, 2);
    assert_int_equal(pc->from_offset, -1);
    assert_int_equal(pc->next_offset, -1);
    ew_windows_observe(&w, pc, 1000000, 10);
    assert_int_equal(pc->from_offset, 10);
    assert_int_equal(pc->next_offset, 11);
    ew_windows_observe(&w, pc, 1000001, 11);
    ew_windows_observe(&w, pc, 1000002, 15);
    assert_int_equal(pc->from_offset, 10); /* first pending stays */
    assert_int_equal(pc->next_offset, 16);
    /* Late records still advance the offsets. */
    assert_true(ew_windows_observe(&w, pc, 1, 16));
    assert_int_equal(pc->from_offset, 10);
    assert_int_equal(pc->next_offset, 17);
    /* After a flush the caller resets from_offset; the next record sets it. */
    pc->from_offset = -1;
    ew_windows_observe(&w, pc, 1000003, 17);
    assert_int_equal(pc->from_offset, 17);
    assert_int_equal(pc->next_offset, 18);
    /* Other partitions are untouched. */
    assert_int_equal(ew_windows_partition(&w, 0)->from_offset, -1);
    assert_int_equal(ew_windows_partition(&w, 0)->next_offset, -1);
    ew_windows_free(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_window_start_positive),
        cmocka_unit_test(test_window_start_boundaries),
        cmocka_unit_test(test_window_start_negative),
        cmocka_unit_test(test_partition_table),
        cmocka_unit_test(test_watermark_is_max_event_minus_lateness),
        cmocka_unit_test(test_late_detection),
        cmocka_unit_test(test_late_detection_zero_lateness),
        cmocka_unit_test(test_watermarks_are_per_partition),
        cmocka_unit_test(test_offsets_tracked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
