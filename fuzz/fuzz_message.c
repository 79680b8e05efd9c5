/* fuzz_message.c -- libFuzzer target for one Kafka message of any encoding
 * (ew_decode_message, the entry point the processor uses).
 *
 * The decoder selects all 69 real-time fields, maps Confluent schema id 1
 * to the builtin schema and reads bare Avro with the builtin schema too.
 * max_bytes is 2048 so the "too long" path is reachable with libFuzzer's
 * default input sizes. Each input is decoded twice (the results must
 * agree); the per-encoding counter must move by exactly one, for the
 * encoding ew_sniff_encoding names, unless the message is empty or too
 * long; and OK records pass the checks of fuzz_check.h.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"

#define MAX_BYTES 2048

/* Built once in LLVMFuzzerInitialize. Decoding only bumps its
 * by_encoding counters; static state of this kind is acceptable in a fuzz
 * harness (the schemas are compiled once, as the processor does). */
static ew_message_decoder md;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *all[EW_CF_CANONICAL_FIELDS];
    size_t n_all = fuzz_all_fields(all);
    const int32_t ids[] = {1};
    const char *const paths[] = {"builtin"};
    char err[256] = "";
    if (!ew_message_decoder_init(&md, all, n_all, MAX_BYTES, ids, paths, 1, "builtin", err, sizeof err))
        abort();
    return 0;
}

static uint64_t total_seen(void)
{
    uint64_t n = 0;
    for (int i = 0; i < EW_ENC_COUNT; i++)
        n += md.by_encoding[i];
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ew_encoding enc = ew_sniff_encoding(data, size);
    FUZZ_CHECK((unsigned)enc < EW_ENC_COUNT);
    FUZZ_CHECK(strcmp(ew_encoding_name(enc), "unknown") != 0);

    uint64_t before = md.by_encoding[enc], total = total_seen();
    ew_cf_record r1, r2;
    ew_decode_error e1 = ew_decode_message(&md, data, size, &r1);
    fuzz_check_outcome(e1, &r1, (fuzz_span){data, size}, size);
    uint64_t moved = total_seen() - total;
    if (size == 0) {
        FUZZ_CHECK(e1 == EW_DECODE_EMPTY && moved == 0);
    } else if (e1 == EW_DECODE_TOO_LONG && moved == 0) {
        FUZZ_CHECK(size > MAX_BYTES);
    } else {
        FUZZ_CHECK(moved == 1 && md.by_encoding[enc] == before + 1);
    }
    if (size > MAX_BYTES + 2)
        FUZZ_CHECK(e1 == EW_DECODE_TOO_LONG);
    else if (enc == EW_ENC_UNSUPPORTED)
        FUZZ_CHECK(e1 == EW_DECODE_ENCODING);

    ew_decode_error e2 = ew_decode_message(&md, data, size, &r2);
    fuzz_check_same(e1, &r1, e2, &r2);
    return 0;
}
