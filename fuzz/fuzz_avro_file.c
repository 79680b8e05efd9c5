/* fuzz_avro_file.c -- libFuzzer target for Avro object container files
 * (ew_avro_file_open / ew_avro_file_next / ew_avro_file_close).
 *
 * The input is the whole file. It is written to a memfd that the reader
 * opens by its /proc/self/fd path, as it would open an archive. Checks:
 * the invariants of fuzz_check.h on every record (strings point into the
 * reader's block buffer or the record's scratch, so they are only read
 * byte by byte and ASan catches any stray one), a valid reason for every
 * bad one, and an end (0 or -1) that stays the end. A header's schema and
 * codec, block counts and sizes, sync markers and deflate data all come
 * from the fuzzer. The seed corpus is tests/fuzz-corpus/avro_file.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz_check.h"

/* Set once in LLVMFuzzerInitialize and only read afterwards: the memfd
 * and its path. Static state of this kind is acceptable in a fuzz harness. */
static int memfd = -1;
static char path[64];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    memfd = memfd_create("edgewatch-fuzz-avro-file", 0);
    if (memfd < 0)
        abort();
    snprintf(path, sizeof path, "/proc/self/fd/%d", memfd);
    return 0;
}

static void load(const uint8_t *data, size_t size)
{
    if (ftruncate(memfd, 0) != 0 || pwrite(memfd, data, size, 0) != (ssize_t)size)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    load(data, size);
    char err[256];
    ew_avro_file *f = ew_avro_file_open(path, err, sizeof err);
    if (!f) {
        FUZZ_CHECK(err[0] != '\0');
        return 0;
    }
    static ew_cf_record rec;
    ew_decode_error e;
    int got;
    fuzz_span unknown = {NULL, 0};
    for (int i = 0; i < 100000 && (got = ew_avro_file_next(f, &rec, &e, err, sizeof err)) == 1; i++)
        fuzz_check_outcome(e, &rec, unknown, 64u << 20);
    if (got <= 0)
        FUZZ_CHECK(ew_avro_file_next(f, &rec, &e, err, sizeof err) <= 0);
    ew_avro_file_close(f);
    return 0;
}
