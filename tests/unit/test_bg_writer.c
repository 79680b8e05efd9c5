/* test_bg_writer.c -- unit tests for the background file writer that
 * `edgewatch gen` writes its lines through (tools/bg_writer.c).
 *
 * The writer swaps two 4 MiB buffers between the caller and its thread, so
 * the interesting cases are writes that cross buffer boundaries in odd
 * sizes (bytes must come out whole and in order) and a failing device
 * (the error must reach the caller, not be lost in the thread).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "edgewatch/tools.h"

/* Byte i of the test stream: not periodic at any buffer size. */
static char stream_byte(size_t i)
{
    return (char)((i * 2654435761u) >> 13);
}

static int temp_file(char *path, size_t cap)
{
    snprintf(path, cap, "/tmp/ew_bg_writer_XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    return fd;
}

/* Writes total bytes in chunks of 1..max_chunk (varying) and reads them back. */
static void round_trip(size_t total, size_t max_chunk)
{
    char path[64];
    int fd = temp_file(path, sizeof path);
    ew_bg_writer *w = ew_bg_writer_open(fd);
    assert_non_null(w);
    char *chunk = malloc(max_chunk);
    assert_non_null(chunk);
    size_t off = 0;
    for (size_t k = 1; off < total; k = k * 7 % 1000003 + 1) {
        size_t n = k % max_chunk + 1;
        if (n > total - off)
            n = total - off;
        for (size_t i = 0; i < n; i++)
            chunk[i] = stream_byte(off + i);
        assert_true(ew_bg_writer_add(w, chunk, n));
        off += n;
    }
    assert_true(ew_bg_writer_close(w));
    free(chunk);

    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    size_t got = 0;
    int c;
    while ((c = fgetc(f)) != EOF) {
        assert_true(got < total);
        assert_int_equal((char)c, stream_byte(got));
        got++;
    }
    fclose(f);
    unlink(path);
    assert_int_equal(got, total);
}

static void test_empty(void **state)
{
    (void)state;
    round_trip(0, 1);
}

static void test_small_lines(void **state)
{
    (void)state;
    round_trip(100000, 900); /* like gen's lines, inside one buffer */
}

static void test_crosses_buffers(void **state)
{
    (void)state;
    round_trip(21u << 20, 5000); /* five hand-offs, both buffers reused */
}

static void test_chunk_larger_than_a_buffer(void **state)
{
    (void)state;
    round_trip(9u << 20, 9u << 20);
}

static void test_write_error_is_reported(void **state)
{
    (void)state;
    int fd = open("/dev/full", O_WRONLY);
    if (fd < 0)
        skip();
    ew_bg_writer *w = ew_bg_writer_open(fd);
    assert_non_null(w);
    char block[65536];
    memset(block, 'x', sizeof block);
    bool ok = true;
    for (int i = 0; ok && i < 1000; i++) /* 64 MiB: the failure shows at a hand-off */
        ok = ew_bg_writer_add(w, block, sizeof block);
    assert_false(ok);
    assert_int_equal(errno, ENOSPC);
    assert_false(ew_bg_writer_close(w));
    assert_int_equal(errno, ENOSPC);
}

static void test_error_at_close(void **state)
{
    (void)state;
    int fd = open("/dev/full", O_WRONLY);
    if (fd < 0)
        skip();
    ew_bg_writer *w = ew_bg_writer_open(fd);
    assert_non_null(w);
    assert_true(ew_bg_writer_add(w, "one line\n", 9)); /* buffered: no write yet */
    assert_false(ew_bg_writer_close(w));
    assert_int_equal(errno, ENOSPC);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_small_lines),
        cmocka_unit_test(test_crosses_buffers),
        cmocka_unit_test(test_chunk_larger_than_a_buffer),
        cmocka_unit_test(test_write_error_is_reported),
        cmocka_unit_test(test_error_at_close),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
